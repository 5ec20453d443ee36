/* vsaveblk: virtio-blk under load, to be saved and restored mid-run. Round r of R writes a
 * pattern of its own over the whole disk (64 KiB requests, `qd` in flight), flushes, reads
 * it all back and verifies it, and prints `vsaveblk: round r of R ok (N interrupts)`. A save
 * lands in the middle of some round with requests in flight; after the restore the guest
 * must see every one of them completed exactly as before (a lost or repeated completion
 * stalls or corrupts the round), and the final pattern is on the disk for the host to check.
 *
 * With `msix` (virtio-pci only) the queue's MSI-X vector 0 is enabled and pointed at this
 * CPU, EVENT_IDX is not negotiated, and every round must see interrupts (so the restored
 * MSI-X table, routes and irqfds work); completions are still polled.
 *
 * Parameters: transport=mmio|pci, rounds=R (default 20, at most 255), qd=N (default 8),
 * msix. The pattern of the last round: 64-bit word w of sector s is
 * 0x5600000000000000 | r << 48 | s << 8 | w, r = R - 1. */
#include "rt/rt.h"
#include "virtio/vio.h"

#define CHUNK 65536u
#define MAXQD 32
#define VEC_MSIX 0x50

static struct vdev dev;
static struct vq q;
static struct vblk_req reqs[MAXQD];
static uint8_t *bufs[MAXQD];
static volatile uint64_t irqs;
static uint64_t round;

static int on_msix(struct rt_frame *f) { (void)f; irqs++; rt_lapic_eoi(); return 1; }

static uint64_t pat(uint64_t s, unsigned w)
{
	return 0x5600000000000000ull | round << 48 | (s & 0xffffffffffull) << 8 | w;
}

static void fill(uint8_t *buf, uint64_t sector, uint32_t len)
{
	uint64_t *p = (uint64_t *)buf;
	for (uint32_t i = 0; i < len / 8; i++)
		p[i] = pat(sector + i / 64, i % 64);
}

static int check(const uint8_t *buf, uint64_t sector, uint32_t len)
{
	const uint64_t *p = (const uint64_t *)buf;
	for (uint32_t i = 0; i < len / 8; i++)
		if (p[i] != pat(sector + i / 64, i % 64)) {
			rt_printf("vsaveblk: round %lu sector %lu word %u: %#lx, want %#lx\n", round,
				  sector + i / 64, i % 64, p[i], pat(sector + i / 64, i % 64));
			return -1;
		}
	return 0;
}

/* type over the whole disk, up to qd requests in flight; reads are verified. */
static int pass_over(uint32_t type, uint64_t end, unsigned qd)
{
	uint64_t next = 0;
	unsigned inflight = 0, i, free_slot[MAXQD], nfree = qd;
	int bad = 0;

	for (i = 0; i < qd; i++)
		free_slot[i] = i;
	while (next < end || inflight) {
		while (next < end && nfree) {
			unsigned k = free_slot[--nfree];
			uint32_t len = (end - next) * 512 < CHUNK ? (uint32_t)((end - next) * 512) : CHUNK;
			if (type == VBLK_T_OUT)
				fill(bufs[k], next, len);
			if (vblk_queue(&q, &reqs[k], type, next, bufs[k], len) < 0) {
				nfree++;
				break;
			}
			next += len / 512;
			inflight++;
		}
		vq_kick(&q);
		struct vblk_req *r = vq_wait(&q, NULL, 20000);
		if (!r)
			rt_fail("vsaveblk: request timed out (%u in flight)", inflight);
		do {
			if (!inflight)
				rt_fail("vsaveblk: a completion for a request not in flight");
			inflight--;
			if (r->status != VBLK_S_OK) {
				rt_printf("vsaveblk: type %u sector %lu: status %u\n", r->hdr.type,
					  r->hdr.sector, r->status);
				bad = 1;
			} else if (type == VBLK_T_IN && check((uint8_t *)r->buf, r->hdr.sector, r->len)) {
				bad = 1;
			}
			free_slot[nfree++] = (unsigned)(r - reqs);
		} while ((r = vq_get(&q, NULL)) != NULL);
	}
	return bad ? -1 : 0;
}

/* MSI-X: the capability's table (BAR BIR + offset), entry 0 -> this CPU's vector VEC_MSIX,
 * queue 0 -> entry 0, then the enable bit. */
static void msix_setup(void)
{
	unsigned slot = dev.pci_slot, cap = vio_pci_cfg(slot, 0x34) & 0xfc, guard = 0;

	while (cap && (vio_pci_cfg(slot, cap) & 0xff) != 0x11 && guard++ < 48)
		cap = (vio_pci_cfg(slot, cap) >> 8) & 0xfc;
	if (!cap || (vio_pci_cfg(slot, cap) & 0xff) != 0x11)
		rt_fail("%s: no MSI-X capability", dev.name);
	uint32_t t = vio_pci_cfg(slot, cap + 4), bir = t & 7;
	uint32_t lo = vio_pci_cfg(slot, 0x10 + 4 * bir);
	uint64_t bar = lo & ~0xfull;
	if ((lo & 6) == 4)
		bar |= (uint64_t)vio_pci_cfg(slot, 0x14 + 4 * bir) << 32;
	uint64_t entry = bar + (t & ~7u);
	vio_wr(entry + 0, 4, 0xfee00000u | rt_this_cpu()->apic_id << 12);
	vio_wr(entry + 4, 4, 0);
	vio_wr(entry + 8, 4, VEC_MSIX);
	vio_wr(entry + 12, 4, 0); /* unmasked */
	vio_wr(dev.base + 0x16, 2, 0);         /* queue_select */
	vio_wr(dev.base + 0x1a, 2, 0);         /* queue_msix_vector */
	if (vio_rd(dev.base + 0x1a, 2) != 0)
		rt_fail("%s: the device refused MSI-X vector 0 for queue 0", dev.name);
	uint32_t w0 = vio_pci_cfg(slot, cap);
	vio_pci_cfg_w(slot, cap, (w0 & 0x3fffffff) | 0x80000000u); /* enable, not masked */
}

static long run(long arg)
{
	unsigned qd = (unsigned)rt_param_u64("qd", 8), i;
	uint64_t rounds = rt_param_u64("rounds", 20), sectors, want;
	int msix = rt_param_flag("msix");
	(void)arg;

	if (qd < 1 || qd > MAXQD || rounds < 1 || rounds > 255)
		rt_fail("vsaveblk: qd=1..%d rounds=1..255", MAXQD);
	if (vio_find(VIO_ID_BLK, 0, vio_param_transport(), &dev) < 0)
		rt_fail("vsaveblk: no virtio-blk device");
	if (msix && dev.transport != VIO_PCI)
		rt_fail("vsaveblk: msix needs transport=pci");
	want = 1ull << VIO_F_INDIRECT | 1ull << VBLK_F_FLUSH;
	if (!msix)
		want |= 1ull << VIO_F_EVENT_IDX;
	if (vio_negotiate(&dev, want) < 0)
		rt_fail("%s: feature negotiation failed", dev.name);
	if (vq_setup(&dev, &q, 0, 128, 4) < 0)
		rt_fail("%s: no queue 0", dev.name);
	if (msix) {
		msix_setup();
		q.avail[0] = 0; /* interrupts wanted (vq_setup asked for none: it polls) */
	}
	vio_driver_ok(&dev);
	sectors = vio_cfg_read64(&dev, 0);
	if (sectors < 64 || sectors > (1ull << 22))
		rt_fail("vsaveblk: disk of %lu sectors: want 32 KiB .. 2 GiB", sectors);
	for (i = 0; i < qd; i++)
		bufs[i] = vio_alloc(CHUNK, 4096);
	rt_printf("vsaveblk: %s, %lu sectors, %lu rounds, qd %u%s\n", dev.name, sectors, rounds, qd,
		  msix ? ", MSI-X" : "");
	for (round = 0; round < rounds; round++) {
		uint64_t before = irqs;

		if (pass_over(VBLK_T_OUT, sectors, qd) < 0)
			rt_fail("vsaveblk: round %lu: write pass failed", round);
		if (vblk_sync(&q, &reqs[0], VBLK_T_FLUSH, 0, NULL, 0) != VBLK_S_OK)
			rt_fail("vsaveblk: round %lu: flush failed", round);
		if (pass_over(VBLK_T_IN, sectors, qd) < 0)
			rt_fail("vsaveblk: round %lu: read-back failed", round);
		if (msix && irqs == before)
			rt_fail("vsaveblk: round %lu: no MSI-X interrupt", round);
		rt_printf("vsaveblk: round %lu of %lu ok (%lu interrupts)\n", round, rounds,
			  irqs - before);
	}
	round = rounds - 1;
	if (vio_status(&dev) & VIO_S_NEEDS_RESET)
		rt_fail("%s: device needs reset", dev.name);
	rt_printf("vsaveblk: ok\n");
	return 0;
}

int main(void)
{
	long ret = -1;

	vio_init();
	rt_irq_init();
	rt_set_handler(VEC_MSIX, on_msix);
	rt_sti();
	if (rt_user_call(run, 0, &ret) < 0)
		rt_fail("vsaveblk: ring-3 call failed");
	rt_cli();
	return (int)ret;
}
