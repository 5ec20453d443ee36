/* evil: a hostile guest. Drives a virtio-blk device (the victim) with malformed rings and
 * registers, one case at a time, and after each case checks that
 *   - the victim either set DEVICE_NEEDS_RESET or failed the request with an I/O error
 *     (or, for cases that need no answer, simply still works),
 *   - the other device (virtio-rng, the witness) still serves a request,
 *   - the victim works again after a reset and a fresh set-up.
 * Prints `evil: CASE: OUTCOME` per case and `evil: N cases ok`. The host side (no crash, no
 * hang, one log line per case, ASan clean) is checked by tests/t-virtio-evil.sh.
 * Parameters: transport=mmio|pci (both devices). */
#include "rt/rt.h"
#include "virtio/vio.h"

#define QSZ 8
#define FAR 0x10000000000ull /* 1 TiB: far outside guest memory */

static struct vdev blk, rng;
static struct vq bq, rq;
static struct vblk_req req;
static uint8_t *buf, *rbuf;
static volatile struct vq_desc *table; /* a big indirect table */

static void victim_setup(void)
{
	if (vio_negotiate(&blk, 1ull << VIO_F_INDIRECT) < 0 || vq_setup(&blk, &bq, 0, QSZ, 0) < 0)
		rt_fail("%s: set-up failed", blk.name);
	vio_driver_ok(&blk);
}

static void witness_ok(const char *c)
{
	struct vio_sg sg = { (uint64_t)rbuf, 64 };
	uint32_t len;
	if (vq_add(&rq, &sg, 0, 1, rbuf) < 0)
		rt_fail("evil: %s: witness ring full", c);
	vq_kick(&rq);
	if (!vq_wait(&rq, &len, 3000) || !len)
		rt_fail("evil: %s: the other device (%s) stopped working", c, rng.name);
}

static void victim_recovers(const char *c)
{
	victim_setup();
	if (vblk_sync(&bq, &req, VBLK_T_IN, 0, buf, 4096) != VBLK_S_OK)
		rt_fail("evil: %s: %s does not work after a reset", c, blk.name);
}

/* Put descriptor chain `head` (already written into bq.desc) on the ring and notify. */
static void submit_raw(uint16_t head)
{
	bq.avail[2 + (bq.avail_idx & (QSZ - 1))] = head;
	bq.avail_idx++;
	vq_kick(&bq);
	vq_notify(&bq); /* and once more, whatever EVENT_IDX says */
}

/* Wait for the device's verdict: 1 needs-reset, 2 I/O error (or unsupported) status, 3 OK,
 * 0 nothing within the time. */
static int verdict(unsigned ms)
{
	uint64_t end = rt_rdtsc() + ms * vio_tsc_per_ms;
	while (rt_rdtsc() < end) {
		if ((uint16_t)(bq.used[0] >> 16) != bq.last_used)
			return req.status == VBLK_S_OK ? 3 : 2;
		if (vio_status(&blk) & VIO_S_NEEDS_RESET)
			return 1;
		uint64_t t = rt_rdtsc() + vio_tsc_per_ms;
		while (rt_rdtsc() < t)
			rt_pause();
	}
	return 0;
}

static const char *names[] = { "no answer", "needs-reset", "io-error", "completed" };

static int ncases;

static void expect_fault(const char *c, int ok_mask)
{
	int v = verdict(ok_mask == 1 << 0 ? 200 : 1500);
	rt_printf("evil: %s: %s\n", c, names[v]);
	if (!((ok_mask >> v) & 1))
		rt_fail("evil: %s: the device answered %s", c, names[v]);
	witness_ok(c);
	victim_recovers(c);
	ncases++;
}
#define FAULT (1 << 1 | 1 << 2)          /* needs-reset or an I/O error */

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	bq.desc[i].addr = addr;
	bq.desc[i].len = len;
	bq.desc[i].flags = flags;
	bq.desc[i].next = next;
}

/* A read request: header (0), data (1), status (2), then the case's change. */
static void good_read(void)
{
	req.hdr.type = VBLK_T_IN;
	req.hdr.sector = 0;
	req.status = 0xee;
	desc(0, (uint64_t)&req.hdr, 16, VQ_DESC_F_NEXT, 1);
	desc(1, (uint64_t)buf, 4096, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 2);
	desc(2, (uint64_t)&req.status, 1, VQ_DESC_F_WRITE, 0);
}

static void ring_cases(void)
{
	good_read(); bq.desc[1].addr = FAR;
	submit_raw(0); expect_fault("data buffer outside guest memory", FAULT);

	good_read(); bq.desc[0].addr = FAR;
	submit_raw(0); expect_fault("header outside guest memory", FAULT);

	good_read(); bq.desc[1].addr = 0xfffffffffffff000ull; bq.desc[1].len = 0x2000;
	submit_raw(0); expect_fault("buffer wrapping around the address space", FAULT);

	good_read(); bq.desc[1].len = 0xffffffffu;
	submit_raw(0); expect_fault("length 0xffffffff", FAULT);

	good_read(); bq.desc[1].flags = VQ_DESC_F_NEXT; bq.desc[1].next = 0; /* 0 -> 1 -> 0 ... */
	submit_raw(0); expect_fault("descriptor chain loop", FAULT);

	good_read(); bq.desc[2].flags |= VQ_DESC_F_NEXT; bq.desc[2].next = 0;
	submit_raw(0); expect_fault("chain loop through a readable descriptor after writable ones", FAULT);

	good_read(); bq.desc[1].next = 200;
	submit_raw(0); expect_fault("next index beyond the queue", FAULT);

	/* An indirect table of 4 * QSZ chained descriptors: longer than the queue. */
	for (unsigned i = 0; i < 4 * QSZ; i++) {
		table[i].addr = (uint64_t)buf;
		table[i].len = 16;
		table[i].flags = (uint16_t)(i + 1 < 4 * QSZ ? VQ_DESC_F_NEXT : VQ_DESC_F_WRITE);
		table[i].next = (uint16_t)(i + 1);
	}
	table[0].addr = (uint64_t)&req.hdr;
	table[4 * QSZ - 1].addr = (uint64_t)&req.status;
	table[4 * QSZ - 1].len = 1;
	req.hdr.type = VBLK_T_IN;
	req.status = 0xee;
	desc(0, (uint64_t)table, 16 * 4 * QSZ, VQ_DESC_F_INDIRECT, 0);
	submit_raw(0); expect_fault("indirect chain longer than the queue", FAULT | 1 << 3);

	for (unsigned i = 0; i < 3; i++)
		table[i].next = (uint16_t)((i + 1) % 3), table[i].flags = VQ_DESC_F_NEXT;
	desc(0, (uint64_t)table, 48, VQ_DESC_F_INDIRECT, 0);
	submit_raw(0); expect_fault("indirect chain loop", FAULT);

	desc(0, FAR, 48, VQ_DESC_F_INDIRECT, 0);
	submit_raw(0); expect_fault("indirect table outside guest memory", FAULT);

	desc(0, (uint64_t)table, 0xfffffff0u, VQ_DESC_F_INDIRECT, 0);
	submit_raw(0); expect_fault("indirect table length wraps", FAULT);

	table[0].flags = VQ_DESC_F_INDIRECT;
	desc(0, (uint64_t)table, 48, VQ_DESC_F_INDIRECT, 0);
	submit_raw(0); expect_fault("nested indirect table", FAULT);

	good_read();
	submit_raw(QSZ + 3); expect_fault("avail ring head beyond the queue", FAULT);

	good_read();
	bq.avail[2] = 0;
	bq.avail[1] = (uint16_t)(bq.avail_idx + 1000); /* runaway index */
	vq_notify(&bq); expect_fault("avail index 1000 ahead", 1 << 1);
}

static void register_cases(void)
{
	int pci = blk.transport == VIO_PCI;
	uint32_t cap = vio_cfg_read(&blk, 0, 4);

	/* Queue size 5 (not a power of two) on a fresh queue 0, then ready and a request. */
	vio_negotiate(&blk, 0);
	vio_wr(blk.base + (pci ? 0x16 : 0x30), pci ? 2 : 4, 0);
	vio_wr(blk.base + (pci ? 0x18 : 0x38), pci ? 2 : 4, 5);
	bq.desc[0].addr = 0;
	vio_wr(blk.base + (pci ? 0x20 : 0x80), 4, (uint32_t)(uint64_t)bq.desc);
	vio_wr(blk.base + (pci ? 0x28 : 0x90), 4, (uint32_t)(uint64_t)bq.avail);
	vio_wr(blk.base + (pci ? 0x30 : 0xa0), 4, (uint32_t)(uint64_t)bq.used);
	vio_wr(blk.base + (pci ? 0x1c : 0x44), pci ? 2 : 4, 1);
	vio_driver_ok(&blk);
	bq.last_used = (uint16_t)(bq.used[0] >> 16);
	good_read();
	bq.avail[2] = 0;
	bq.avail[1] = (uint16_t)(bq.avail[1] + 1);
	vq_notify(&bq);
	expect_fault("queue size 5", FAULT | 1 << 0); /* refused at set-up: no answer is fine */

	/* Ring addresses outside guest memory. */
	vio_negotiate(&blk, 0);
	vio_wr(blk.base + (pci ? 0x16 : 0x30), pci ? 2 : 4, 0);
	vio_wr(blk.base + (pci ? 0x18 : 0x38), pci ? 2 : 4, QSZ);
	vio_wr(blk.base + (pci ? 0x20 : 0x80), 4, 0); vio_wr(blk.base + (pci ? 0x24 : 0x84), 4, 0x100);
	vio_wr(blk.base + (pci ? 0x28 : 0x90), 4, (uint32_t)(uint64_t)bq.avail);
	vio_wr(blk.base + (pci ? 0x30 : 0xa0), 4, 0xfffff000u); vio_wr(blk.base + (pci ? 0x34 : 0xa4), 4, 0xffff);
	vio_wr(blk.base + (pci ? 0x1c : 0x44), pci ? 2 : 4, 1);
	vio_driver_ok(&blk);
	bq.avail[1] = (uint16_t)(bq.avail[1] + 1);
	vq_notify(&bq);
	expect_fault("rings outside guest memory", FAULT | 1 << 0);

	/* Notifications for queues never set up: queue 0 before DRIVER_OK, queues 1 and 300. */
	vio_reset(&blk);
	vq_notify(&bq);
	bq.index = 1; vq_notify(&bq);
	bq.index = 300; vq_notify(&bq);
	bq.index = 0;
	expect_fault("notify queues never set up", 1 << 0);

	/* Config writes out of range, and to the read-only capacity. */
	vio_cfg_write(&blk, 0, 4, 0x12345678);
	vio_cfg_write(&blk, 0x800, 4, 0xdeadbeef);
	vio_cfg_write(&blk, pci ? 0xffc : 0xefc, 4, 0xdeadbeef);
	if (vio_cfg_read(&blk, 0, 4) != cap)
		rt_fail("evil: a config write changed the capacity");
	expect_fault("config writes out of range", 1 << 0);
}

static long run(long arg)
{
	int t = vio_param_transport();
	(void)arg;

	if (vio_find(VIO_ID_BLK, 0, t, &blk) < 0 || vio_find(VIO_ID_RNG, 0, t, &rng) < 0)
		rt_fail("evil: wants a virtio-blk and a virtio-rng device");
	buf = vio_alloc(8192, 4096);
	rbuf = vio_alloc(64, 64);
	table = vio_alloc(16 * 4 * QSZ, 16);
	if (vio_negotiate(&rng, 0) < 0 || vq_setup(&rng, &rq, 0, 8, 0) < 0)
		rt_fail("%s: set-up failed", rng.name);
	vio_driver_ok(&rng);
	victim_setup();
	rt_printf("evil: victim %s, witness %s\n", blk.name, rng.name);
	ring_cases();
	register_cases();
	rt_printf("evil: %d cases ok\n", ncases);
	return 0;
}

int main(void)
{
	long ret = -1;
	vio_init();
	if (rt_user_call(run, 0, &ret) < 0)
		rt_fail("evil: ring-3 call failed");
	return (int)ret;
}
