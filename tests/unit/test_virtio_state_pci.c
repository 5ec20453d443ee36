/* Save and restore of the PCI host bridge and the virtio-pci transport (with virtio-rng):
 * a moved BAR, MSI-X table, mask and pending bits, vectors, selects; a fresh host bridge,
 * device and transport on the same guest memory get the state back, MSI routes and
 * irqfds are programmed again through the host callbacks, queued requests are served once,
 * and corrupt states are refused without changing anything. */
#include "check.h"
#include "pcicfg.h"
#include "vdrv.h"
#include "devices/pci.h"
#include "devices/virtio/pci_transport.h"
#include "devices/virtio/rng.h"

#include <errno.h>

#define ECAM 0xe0000000ULL
#define BARS 0xe1000000ULL
#define MOVED 0xe2000000ULL

static struct guest_mem *mem;
static struct bus pio, mmio;
static struct virtio_host host;
static struct pci_host *ph;
static struct virtio_rng *rng;
static struct virtio_pci *vp;
static struct vdrv v;

/* The fake KVM: MSI routes by GSI, irqfds and ioeventfds currently assigned. */
static struct { uint64_t addr; uint32_t data; } routes[256];
static uint32_t next_gsi = 40;
static struct { int efd; uint32_t gsi; bool on; } irqfds[64];
static struct { int efd; uint64_t addr; bool on; } ioevs[64];

static int f_msi(void *vm, uint32_t *gsi, uint64_t addr, uint32_t data)
{
	(void)vm;
	if (!*gsi)
		*gsi = next_gsi++;
	if (*gsi >= 256)
		return -ENOSPC;
	routes[*gsi].addr = addr;
	routes[*gsi].data = data;
	return 0;
}

static int f_irqfd(void *vm, int efd, uint32_t gsi, bool assign)
{
	unsigned i;

	(void)vm;
	for (i = 0; i < 64; i++) {
		if (assign && !irqfds[i].on) {
			irqfds[i].efd = efd;
			irqfds[i].gsi = gsi;
			irqfds[i].on = true;
			return 0;
		}
		if (!assign && irqfds[i].on && irqfds[i].efd == efd && irqfds[i].gsi == gsi) {
			irqfds[i].on = false;
			return 0;
		}
	}
	return assign ? -ENOSPC : -ENOENT;
}

static int f_ioev(void *vm, int efd, uint64_t addr, uint32_t len, bool match, uint64_t data,
		  bool assign)
{
	unsigned i;

	(void)vm, (void)len, (void)match, (void)data;
	for (i = 0; i < 64; i++) {
		if (assign && !ioevs[i].on) {
			ioevs[i].efd = efd;
			ioevs[i].addr = addr;
			ioevs[i].on = true;
			return 0;
		}
		if (!assign && ioevs[i].on && ioevs[i].efd == efd && ioevs[i].addr == addr) {
			ioevs[i].on = false;
			return 0;
		}
	}
	return assign ? -ENOSPC : -ENOENT;
}

static bool irqfd_on(int efd, uint32_t gsi)
{
	unsigned i;

	for (i = 0; i < 64; i++)
		if (irqfds[i].on && irqfds[i].efd == efd && irqfds[i].gsi == gsi)
			return true;
	return false;
}

static unsigned ioevs_at(uint64_t addr)
{
	unsigned i, n = 0;

	for (i = 0; i < 64; i++)
		n += ioevs[i].on && ioevs[i].addr == addr;
	return n;
}

static void devs_up(void)
{
	CHECK_EQ(pci_host_create(&pio, &mmio, ECAM, BARS, 0xfe000000ULL, &ph), 0);
	CHECK_EQ(virtio_rng_create(&host, &rng), 0);
	CHECK_EQ(virtio_pci_create(virtio_rng_dev(rng), ph, 0x00ff00, &vp), 0);
}

static void devs_down(void)
{
	virtio_pci_destroy(vp);
	virtio_rng_destroy(rng);
	pci_host_destroy(ph);
}

static void up(void)
{
	CHECK_EQ(guest_mem_create(16 << 20, &mem), 0);
	bus_init(&pio);
	bus_init(&mmio);
	host = (struct virtio_host){ .mem = mem, .mmio = &mmio, .pio = &pio, .msi_route = f_msi,
				     .irqfd = f_irqfd, .ioeventfd = f_ioev };
	devs_up();
}

static void down(void)
{
	devs_down();
	bus_destroy(&pio);
	bus_destroy(&mmio);
	guest_mem_destroy(mem);
}

static unsigned msix_cap(void)
{
	unsigned cap;

	for (cap = pcicfg_read(&pio, 1, 0x34, 1); cap && pcicfg_read(&pio, 1, cap, 1) != 0x11;
	     cap = pcicfg_read(&pio, 1, cap + 1, 1))
		;
	return cap;
}

static uint16_t used_idx(void)
{
	return __atomic_load_n((uint16_t *)(mem->host + vdrv_ring(0, 2) + 2), __ATOMIC_ACQUIRE);
}

/* Drive the function to a state worth saving; returns the MSI-X capability offset. */
static unsigned drive(void)
{
	struct vdrv_buf b = { VDRV_DATA, 256, true };
	unsigned cap;
	uint64_t n;

	pcicfg_write(&pio, 1, 0x10, 4, (uint32_t)MOVED | 4); /* the guest moves BAR 0 */
	pcicfg_write(&pio, 1, 4, 2, PCI_CMD_MEM | 4);
	pcicfg_write(&pio, 1, 0x0c, 1, 0x10);                /* cache line size */
	pcicfg_write(&pio, 1, 0x3c, 1, 11);                  /* interrupt line */
	pcicfg_write(&pio, 0, 4, 2, 0x6);                    /* the bridge's command register */
	pcicfg_write(&pio, 0, 0x0d, 1, 0x20);                /* and its latency timer */
	v = (struct vdrv){ .bus = &mmio, .mem = mem, .base = MOVED, .pci = true };
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 1), 15);
	cap = msix_cap();
	pcicfg_write(&pio, 1, cap + 2, 2, 0x8000);           /* MSI-X on */
	vdrv_wr(&v, 0x10, 2, 0);                      /* config vector 0 */
	vdrv_wr(&v, PC_QSEL, 2, 0);
	vdrv_wr(&v, 0x1a, 2, 1);                      /* queue 0: vector 1 */
	vdrv_wr(&v, 0x4000 + 0, 4, 0xfee00000);
	vdrv_wr(&v, 0x4000 + 8, 4, 0x40);
	vdrv_wr(&v, 0x4000 + 12, 4, 0);               /* vector 0 unmasked */
	vdrv_wr(&v, 0x4000 + 16, 4, 0xfee01000);
	vdrv_wr(&v, 0x4000 + 20, 4, 0);
	vdrv_wr(&v, 0x4000 + 24, 4, 0x41);            /* vector 1 stays masked */
	vdrv_wr(&v, PC_DFSEL, 4, 1);
	vdrv_wr(&v, PC_GFSEL, 4, 1);
	vdrv_submit(&v, 0, &b, 1);
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 256);
	usleep(10000);
	CHECK(read(vp->vec[1].efd, &n, 8) < 0);     /* masked: pending */
	CHECK_EQ(vdrv_rd(&v, 0x5000, 4), 2);
	return cap;
}

static void read_cfg(unsigned slot, uint32_t *out)
{
	unsigned o;

	for (o = 0; o < PCI_CFG_SIZE; o += 4)
		out[o / 4] = pcicfg_read(&pio, slot, o, 4);
}

static void test_pci_restore(void)
{
	struct pci_host_state hs;
	struct virtio_rng_state rs;
	struct virtio_pci_state ps;
	struct vdrv_buf b = { VDRV_DATA + 0x1000, 128, true };
	uint32_t cfg_before[64], cfg_after[64], bcfg_before[64], bcfg_after[64], table[8], x;
	uint16_t before;
	uint64_t n;
	unsigned i;

	up();
	drive();
	read_cfg(1, cfg_before);
	read_cfg(0, bcfg_before);
	for (i = 0; i < 8; i++)
		table[i] = vdrv_rd(&v, 0x4000 + 4 * i, 4);
	/* two requests queued while the device is quiesced */
	CHECK_EQ(virtio_dev_quiesce(virtio_rng_dev(rng)), 0);
	vdrv_submit(&v, 0, &b, 1);
	vdrv_submit(&v, 0, &b, 1);
	before = used_idx();
	pcicfg_read(&pio, 1, 0x2c, 4); /* leaves 0xcf8 latched on slot 1, 0x2c */
	pci_host_save(ph, &hs);
	CHECK_EQ(virtio_rng_save(rng, &rs), 0);
	virtio_pci_save(vp, &ps);
	CHECK_EQ(hs.cf8, 0x80000000u | 1 << 11 | 0x2c);
	CHECK_EQ(ps.vec[1].pending, 1);
	CHECK_EQ(ps.regs.queue_vector[0], 1);
	devs_down();
	CHECK_EQ(used_idx(), before);
	CHECK_EQ(ioevs_at(MOVED + 0x3000), 0);
	devs_up();
	CHECK_EQ(ioevs_at(BARS + 0x3000), 1);
	CHECK_EQ(pci_host_restore(ph, &hs), 0);
	CHECK_EQ(virtio_rng_restore(rng, &rs), 0);
	CHECK_EQ(virtio_pci_restore(vp, &ps), 0);
	/* the latch: a data-port read without writing 0xcf8 reads slot 1, 0x2c */
	x = 0;
	bus_dispatch(&pio, 0xcfc, (uint8_t *)&x, 4, false);
	CHECK_EQ(x, 0x00041af4);
	/* config spaces read back equal, BAR 0 decoded where the guest had moved it */
	read_cfg(1, cfg_after);
	read_cfg(0, bcfg_after);
	CHECK(!memcmp(cfg_before, cfg_after, sizeof(cfg_after)));
	CHECK(!memcmp(bcfg_before, bcfg_after, sizeof(bcfg_after)));
	CHECK_EQ(vp->ioev_base, MOVED);
	CHECK_EQ(ioevs_at(MOVED + 0x3000), 1);
	CHECK_EQ(ioevs_at(BARS + 0x3000), 0);
	CHECK_EQ(vdrv_rd(&v, 0x12, 2), 1);
	for (i = 0; i < 8; i++)
		CHECK_EQ(vdrv_rd(&v, 0x4000 + 4 * i, 4), table[i]);
	CHECK_EQ(vdrv_rd(&v, 0x10, 2), 0);
	CHECK_EQ(vdrv_rd(&v, PC_QSEL, 2), 0);
	CHECK_EQ(vdrv_rd(&v, 0x1a, 2), 1);
	CHECK_EQ(vdrv_rd(&v, PC_DFSEL, 4), 1);
	CHECK_EQ(vdrv_rd(&v, PC_GFSEL, 4), 1);
	CHECK_EQ(vdrv_status(&v), 15);
	/* the routes and irqfds, programmed again as the guest's writes did */
	for (i = 0; i < 2; i++) {
		uint32_t gsi = vp->vec[i].gsi;

		CHECK(gsi != 0 && gsi < 256);
		CHECK_EQ(routes[gsi].addr, 0xfee00000 + 0x1000 * i);
		CHECK_EQ(routes[gsi].data, 0x40 + i);
		CHECK(irqfd_on(vp->vec[i].efd, gsi));
	}
	/* the queued requests are served by the fresh device, once each */
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 128);
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 128);
	usleep(10000);
	CHECK_EQ(used_idx(), (uint16_t)(before + 2));
	/* vector 1 is still masked: pending, delivered on unmask */
	CHECK_EQ(vdrv_rd(&v, 0x5000, 4), 2);
	CHECK(read(vp->vec[1].efd, &n, 8) < 0);
	vdrv_wr(&v, 0x4000 + 28, 4, 0);
	CHECK(read(vp->vec[1].efd, &n, 8) == 8);
	CHECK_EQ(vdrv_rd(&v, 0x5000, 4), 0);
	down();
}

static void test_pci_refuses_bad(void)
{
	struct pci_host_state hs, hbad;
	struct virtio_rng_state rs;
	struct virtio_pci_state ps, bad;
	unsigned cap;

	up();
	cap = drive();
	pci_host_save(ph, &hs);
	CHECK_EQ(virtio_rng_save(rng, &rs), 0);
	virtio_pci_save(vp, &ps);
	devs_down();
	devs_up();
	bad = ps;
	bad.regs.queue_vector[0] = 2; /* beyond the 2-entry table */
	CHECK_EQ(virtio_pci_restore(vp, &bad), -EINVAL);
	bad = ps;
	bad.regs.config_vector = 7;
	CHECK_EQ(virtio_pci_restore(vp, &bad), -EINVAL);
	bad = ps;
	bad.regs.queue_vector[5] = 0; /* a queue the device does not have */
	CHECK_EQ(virtio_pci_restore(vp, &bad), -EINVAL);
	bad = ps;
	bad.vec[0].ctrl = 2; /* reserved control bits */
	CHECK_EQ(virtio_pci_restore(vp, &bad), -EINVAL);
	bad = ps;
	bad.vec[2].pending = 1; /* beyond the table */
	CHECK_EQ(virtio_pci_restore(vp, &bad), -EINVAL);
	bad = ps;
	bad.nvec = 3;
	CHECK_EQ(virtio_pci_restore(vp, &bad), -EINVAL);
	bad = ps;
	bad.cfg[2] ^= 1; /* device id: another function */
	CHECK_EQ(virtio_pci_restore(vp, &bad), -EINVAL);
	bad = ps;
	bad.cfg[cap + 2] ^= 1; /* MSI-X table size */
	CHECK_EQ(virtio_pci_restore(vp, &bad), -EINVAL);
	bad = ps;
	bad.cfg[0x11] |= 0x10; /* BAR 0 not aligned to its size */
	CHECK_EQ(virtio_pci_restore(vp, &bad), -EINVAL);
	bad = ps;
	bad.cfg[0x10] &= ~4; /* BAR 0 not 64-bit */
	CHECK_EQ(virtio_pci_restore(vp, &bad), -EINVAL);
	bad = ps;
	bad.cfg[0x18] = 1; /* an unused BAR */
	CHECK_EQ(virtio_pci_restore(vp, &bad), -EINVAL);
	hbad = hs;
	hbad.bridge_cfg[0] = 0; /* the bridge's vendor id */
	CHECK_EQ(pci_host_restore(ph, &hbad), -EINVAL);
	/* nothing applied: BAR 0 still where the fresh host put it, not decoded */
	CHECK_EQ(pcicfg_read(&pio, 1, 0x10, 4), (uint32_t)BARS | 4);
	CHECK_EQ(pcicfg_read(&pio, 1, 4, 2), 0);
	CHECK_EQ(pcicfg_read(&pio, 0, 4, 2), 0);
	CHECK_EQ(vp->vec[0].gsi, 0);
	/* and the good state still goes in */
	CHECK_EQ(pci_host_restore(ph, &hs), 0);
	CHECK_EQ(virtio_rng_restore(rng, &rs), 0);
	CHECK_EQ(virtio_pci_restore(vp, &ps), 0);
	CHECK_EQ(vdrv_status(&v), 15);
	CHECK(vp->vec[0].gsi != 0);
	down();
}

int main(void)
{
	RUN(test_pci_restore);
	RUN(test_pci_refuses_bad);
	return check_done();
}
