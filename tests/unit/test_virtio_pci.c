/* The PCI host bridge (mechanism #1 and ECAM) and the virtio-pci modern transport with
 * virtio-rng: enumeration, capabilities, BAR sizing and moves, MSI-X, requests. */
#include "check.h"
#include "pcicfg.h"
#include "vdrv.h"
#include "devices/pci.h"
#include "devices/virtio/pci_transport.h"
#include "devices/virtio/rng.h"

#include <errno.h>

#define ECAM 0xe0000000ULL
#define BARS 0xe1000000ULL

static struct guest_mem *mem;
static struct bus pio, mmio;
static struct virtio_host host;
static struct pci_host *ph;
static struct virtio_rng *rng;
static struct virtio_pci *vp;

static uint32_t ecam_read(unsigned slot, unsigned off, unsigned len)
{
	uint32_t v = 0;

	bus_dispatch(&mmio, ECAM + (slot << 15) + off, (uint8_t *)&v, len, false);
	return v;
}

static void up(void)
{
	CHECK_EQ(guest_mem_create(16 << 20, &mem), 0);
	bus_init(&pio);
	bus_init(&mmio);
	host.mem = mem;
	host.mmio = &mmio;
	host.pio = &pio;
	CHECK_EQ(pci_host_create(&pio, &mmio, ECAM, BARS, 0xfe000000ULL, &ph), 0);
	CHECK_EQ(virtio_rng_create(&host, &rng), 0);
	CHECK_EQ(virtio_pci_create(virtio_rng_dev(rng), ph, 0x00ff00, &vp), 0);
}

static void down(void)
{
	virtio_pci_destroy(vp);
	virtio_rng_destroy(rng);
	pci_host_destroy(ph);
	bus_destroy(&pio);
	bus_destroy(&mmio);
	guest_mem_destroy(mem);
}

static void test_enumerate(void)
{
	unsigned cap, types = 0;

	up();
	CHECK_EQ(pcicfg_read(&pio, 0, 0, 4), 0x29c08086);
	CHECK_EQ(pcicfg_read(&pio, 1, 0, 2), 0x1af4);
	CHECK_EQ(pcicfg_read(&pio, 1, 2, 2), 0x1044);
	CHECK_EQ(ecam_read(1, 0, 4), 0x10441af4);
	CHECK_EQ(pcicfg_read(&pio, 2, 0, 4), 0xffffffff); /* empty slot */
	CHECK_EQ(ecam_read(1, 0x100, 4), 0);       /* extended space: zero */
	CHECK_EQ(pcicfg_read(&pio, 1, 8, 1), 1);          /* revision 1: modern */
	CHECK_EQ(pcicfg_read(&pio, 1, 0x2e, 2), 4);       /* subsystem id = virtio id */
	CHECK(pcicfg_read(&pio, 1, 6, 2) & 0x10);
	for (cap = pcicfg_read(&pio, 1, 0x34, 1); cap; cap = pcicfg_read(&pio, 1, cap + 1, 1)) {
		if (pcicfg_read(&pio, 1, cap, 1) == 0x09)
			types |= 1u << pcicfg_read(&pio, 1, cap + 3, 1);
		if (pcicfg_read(&pio, 1, cap, 1) == 0x11)
			CHECK_EQ(pcicfg_read(&pio, 1, cap + 2, 2) & 0x7ff, 1); /* 2 vectors */
	}
	CHECK_EQ(types, 0x3e); /* common, notify, isr, device, pci cfg */
	down();
}

static void test_bar_sizing_and_move(void)
{
	struct vdrv v;
	uint32_t lo;

	up();
	lo = pcicfg_read(&pio, 1, 0x10, 4);
	CHECK_EQ(lo & 0xf, 4);
	CHECK_EQ(lo & ~0xfu, BARS);
	pcicfg_write(&pio, 1, 0x10, 4, 0xffffffff);
	CHECK_EQ(pcicfg_read(&pio, 1, 0x10, 4), (uint32_t)~(VPCI_BAR_SIZE - 1) | 4);
	pcicfg_write(&pio, 1, 0x10, 4, lo);
	/* not decoded until memory space is enabled */
	v = (struct vdrv){ .bus = &mmio, .mem = mem, .base = BARS, .pci = true };
	CHECK_EQ(vdrv_rd(&v, 0x12, 2), 0);
	pcicfg_write(&pio, 1, 4, 2, PCI_CMD_MEM | 4);
	CHECK_EQ(vdrv_rd(&v, 0x12, 2), 1); /* num_queues */
	/* move it */
	pcicfg_write(&pio, 1, 0x10, 4, 0xe2000000 | 4);
	CHECK_EQ(vdrv_rd(&v, 0x12, 2), 0);
	v.base = 0xe2000000;
	CHECK_EQ(vdrv_rd(&v, 0x12, 2), 1);
	down();
}

static void test_request_and_msix(void)
{
	struct vdrv v;
	struct vdrv_buf b = { VDRV_DATA, 512, true };
	uint64_t n;
	unsigned cap;

	up();
	pcicfg_write(&pio, 1, 4, 2, PCI_CMD_MEM | 4);
	v = (struct vdrv){ .bus = &mmio, .mem = mem, .base = BARS, .pci = true };
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 1), 15);
	/* MSI-X: enable, vector 1 for queue 0, masked at first */
	for (cap = pcicfg_read(&pio, 1, 0x34, 1); pcicfg_read(&pio, 1, cap, 1) != 0x11; cap = pcicfg_read(&pio, 1, cap + 1, 1))
		;
	pcicfg_write(&pio, 1, cap + 2, 2, 0x8000 | 1);
	vdrv_wr(&v, 0x16, 2, 0);
	vdrv_wr(&v, 0x1a, 2, 1);
	CHECK_EQ(vdrv_rd(&v, 0x1a, 2), 1);
	vdrv_wr(&v, 0x1a, 2, 5); /* out of range vector: NO_VECTOR */
	CHECK_EQ(vdrv_rd(&v, 0x1a, 2), 0xffff);
	vdrv_wr(&v, 0x1a, 2, 1);
	vdrv_wr(&v, 0x4000 + 16, 4, 0xfee00000);
	vdrv_wr(&v, 0x4000 + 24, 4, 0x41);
	vdrv_submit(&v, 0, &b, 1);
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 512);
	usleep(10000);
	CHECK(read(vp->vec[1].efd, &n, 8) < 0); /* masked: nothing delivered */
	CHECK_EQ(vdrv_rd(&v, 0x5000, 4), 2);     /* pending bit of vector 1 */
	vdrv_wr(&v, 0x4000 + 28, 4, 0);          /* unmask: the pending one arrives */
	CHECK(read(vp->vec[1].efd, &n, 8) == 8);
	CHECK_EQ(vdrv_rd(&v, 0x5000, 4), 0);
	vdrv_submit(&v, 0, &b, 1);
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 512);
	usleep(10000);
	CHECK(read(vp->vec[1].efd, &n, 8) == 8);
	CHECK_EQ(vdrv_rd(&v, 0x1000, 1), 1);     /* ISR, read to clear */
	CHECK_EQ(vdrv_rd(&v, 0x1000, 1), 0);
	down();
}

static void test_hostile(void)
{
	struct vdrv v;
	struct vdrv_buf b = { 0x7fffffff000ULL, 512, true };

	up();
	pcicfg_write(&pio, 1, 4, 2, PCI_CMD_MEM | 4);
	v = (struct vdrv){ .bus = &mmio, .mem = mem, .base = BARS, .pci = true };
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 1), 15);
	vdrv_wr(&v, 0x16, 2, 9); /* queue that does not exist */
	CHECK_EQ(vdrv_rd(&v, 0x18, 2), 0);
	vdrv_wr(&v, 0x1c, 2, 1);
	vdrv_wr(&v, 0x3000 + 4 * 9, 2, 9);  /* notify it */
	vdrv_wr(&v, 0x2000 + 0xff0, 4, 1);  /* device config out of range */
	vdrv_wr(&v, 0x7ff0, 8, 1);          /* unknown BAR offset */
	pcicfg_write(&pio, 1, 0x0, 4, 0);          /* read-only id */
	CHECK_EQ(pcicfg_read(&pio, 1, 0, 2), 0x1af4);
	pcicfg_write(&pio, 1, 0xfe, 4, 0x12345678); /* straddles the end of config space */
	vdrv_submit(&v, 0, &b, 1);
	for (int i = 0; i < 2000 && !(vdrv_status(&v) & VIRTIO_STATUS_NEEDS_RESET); i++)
		usleep(1000);
	CHECK(vdrv_status(&v) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 1), 15);
	down();
}

int main(void)
{
	RUN(test_enumerate);
	RUN(test_bar_sizing_and_move);
	RUN(test_request_and_msix);
	RUN(test_hostile);
	return check_done();
}
