/* evil: a hostile guest. Drives one virtio device (the victim: blk, net, scsi, rng or
 * console, chosen by `victim=`) with malformed rings and registers, one case at a time, on
 * the queue that carries its requests (blk and rng 0, net and console transmit 1, scsi
 * request 2), and after each case checks that
 *   - the victim either set DEVICE_NEEDS_RESET or failed the request with an error status
 *     (or, for cases that need no answer, simply still works),
 *   - another device (the witness: virtio-rng, or virtio-blk when rng is the victim) still
 *     serves a request,
 *   - the victim works again after a reset and a fresh set-up.
 * With `ring=packed` the victim's queue is a packed ring (VIRTIO_F_RING_PACKED) and the ring
 * cases are the packed ring's: buffer ids beyond the queue, chains past the queue size or
 * into descriptors not made available, stale wrap-counter bits, indirect tables nested, in
 * chains, with NEXT, too long or outside memory, buffers outside memory.
 * Prints `evil: CASE: OUTCOME` per case and `evil: N cases ok`. For net, then garbage on the
 * control queue (short headers, unknown classes and commands, wrong lengths, MAC tables larger
 * than the command, bad addresses, no byte for the answer, a flood of bad commands): each must
 * be answered VIRTIO_NET_ERR (or completed empty when it has no byte for the answer) without
 * breaking the device, and a good command must work after it: `evil: N control-queue cases ok`.
 * The host side (no crash, no hang, one log line per case, ASan clean) is checked by
 * tests/t-virtio-evil.sh.
 * Parameters: transport=mmio|pci (both devices), victim=blk|net|scsi|rng|console,
 * ring=split|packed (the victim's ring layout). */
#include "rt/rt.h"
#include "virtio/vio.h"

#define QSZ 8
#define FAR 0x10000000000ull /* 1 TiB: far outside guest memory */

struct scsi_req {
	uint8_t lun[8];
	uint64_t tag;
	uint8_t task_attr, prio, crn;
	uint8_t cdb[32];
} __attribute__((packed));

struct scsi_resp {
	uint32_t sense_len, residual;
	uint16_t status_qualifier;
	uint8_t status, response;
	uint8_t sense[96];
} __attribute__((packed));

static struct vdev blk, wit;     /* blk: the victim (whatever its type), wit: the witness */
static struct vq bq, wq;
static unsigned vkind, vqi;       /* victim device ID and the queue attacked */
static struct vblk_req req, wreq;
static struct scsi_req *sreq;
static struct scsi_resp *sresp;
static uint8_t *buf, *rbuf;
static volatile struct vq_desc *table; /* a big indirect table */
static int packed;                     /* ring=packed: the victim's queue is a packed ring */
static struct vio_sg gsg[3];           /* the good request of good_req() */
static unsigned gout;                  /* its device-readable buffers */
static uint16_t phead_flags;           /* packed: the first descriptor's flags, written last */

static void victim_setup(void)
{
	uint64_t want = 1ull << VIO_F_INDIRECT | (packed ? 1ull << VIO_F_RING_PACKED : 0);
	if (vio_negotiate(&blk, want) < 0 || vq_setup(&blk, &bq, (uint16_t)vqi, QSZ, 0) < 0)
		rt_fail("%s: set-up failed", blk.name);
	if (packed && !bq.packed)
		rt_fail("%s: ring=packed, but the device does not offer VIRTIO_F_RING_PACKED", blk.name);
	if (vkind == VIO_ID_SCSI)
		vio_cfg_write(&blk, 24, 4, 32); /* cdb_size */
	vio_driver_ok(&blk);
}

static void witness_ok(const char *c)
{
	uint32_t len;
	if (wit.device_id == VIO_ID_BLK) {
		if (vblk_sync(&wq, &wreq, VBLK_T_IN, 0, rbuf, 512) != VBLK_S_OK)
			rt_fail("evil: %s: the other device (%s) stopped working", c, wit.name);
		return;
	}
	struct vio_sg sg = { (uint64_t)rbuf, 64 };
	if (vq_add(&wq, &sg, 0, 1, rbuf) < 0)
		rt_fail("evil: %s: witness ring full", c);
	vq_kick(&wq);
	if (!vq_wait(&wq, &len, 3000) || !len)
		rt_fail("evil: %s: the other device (%s) stopped working", c, wit.name);
}

/* The victim's status for a completed request: 3 OK, 2 an error status. */
static int victim_status(void)
{
	if (vkind == VIO_ID_BLK)
		return req.status == VBLK_S_OK ? 3 : 2;
	if (vkind == VIO_ID_SCSI)
		return sresp->response == 0 && sresp->status == 0 ? 3 : 2;
	return 3; /* rng, net and console transmit have no status */
}

static void good_req(void);

static void victim_recovers(const char *c)
{
	victim_setup();
	good_req();
	if (packed) {
		if (vq_add(&bq, gsg, gout, 3 - gout, &req) < 0)
			rt_fail("evil: %s: cannot queue a request after a reset", c);
		vq_kick(&bq);
		if (!vq_wait(&bq, NULL, 3000) || victim_status() != 3)
			rt_fail("evil: %s: %s does not work after a reset", c, blk.name);
		return;
	}
	bq.cookie[0] = &req;
	bq.chain_len[0] = 3;
	bq.free_head = 3;
	bq.num_free = QSZ - 3;
	bq.avail[2 + (bq.avail_idx & (QSZ - 1))] = 0;
	bq.avail_idx++;
	vq_kick(&bq);
	if (!vq_wait(&bq, NULL, 3000) || victim_status() != 3)
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
		if (packed) {
			uint16_t f = bq.ring[bq.last_used].flags;
			if (!!(f & VQ_DESC_F_USED) == bq.used_wrap && !!(f & VQ_DESC_F_AVAIL) == bq.used_wrap)
				return victim_status();
		} else if ((uint16_t)(bq.used[0] >> 16) != bq.last_used) {
			return victim_status();
		}
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

/* A good request of the victim in descriptors 0, 1, 2 (the cases then change one of
 * them): blk reads (header, data, status), scsi TEST UNIT READY (request, response in two
 * parts), rng three buffers to fill, net and console transmit one frame in three parts. */
static void good_req(void)
{
	static const uint8_t frame[64] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0, 0, 1, 0x88, 0xb5 };
	switch (vkind) {
	case VIO_ID_BLK:
		req.hdr.type = VBLK_T_IN;
		req.hdr.sector = 0;
		req.status = 0xee;
		gsg[0] = (struct vio_sg){ (uint64_t)&req.hdr, 16 };
		gsg[1] = (struct vio_sg){ (uint64_t)buf, 4096 };
		gsg[2] = (struct vio_sg){ (uint64_t)&req.status, 1 };
		gout = 1;
		break;
	case VIO_ID_SCSI:
		memset(sreq, 0, sizeof(*sreq));
		sreq->lun[0] = 1; /* target 0, LUN 0; cdb all zero: TEST UNIT READY */
		memset(sresp, 0xee, sizeof(*sresp));
		gsg[0] = (struct vio_sg){ (uint64_t)sreq, sizeof(*sreq) };
		gsg[1] = (struct vio_sg){ (uint64_t)sresp, 12 };
		gsg[2] = (struct vio_sg){ (uint64_t)sresp + 12, sizeof(*sresp) - 12 };
		gout = 1;
		break;
	case VIO_ID_RNG:
		gsg[0] = (struct vio_sg){ (uint64_t)buf, 16 };
		gsg[1] = (struct vio_sg){ (uint64_t)buf + 16, 4096 };
		gsg[2] = (struct vio_sg){ (uint64_t)buf + 4112, 16 };
		gout = 0;
		break;
	default: /* net (a 12-byte virtio_net_hdr, then the frame) and console transmit */
		memset(buf, 0, 12);
		memcpy(buf + 12, frame, sizeof(frame));
		gsg[0] = (struct vio_sg){ (uint64_t)buf, 12 };
		gsg[1] = (struct vio_sg){ (uint64_t)buf + 12, 32 };
		gsg[2] = (struct vio_sg){ (uint64_t)buf + 44, 32 };
		gout = 3;
		break;
	}
	if (packed)
		return;
	for (unsigned i = 0; i < 3; i++)
		desc(i, gsg[i].addr, gsg[i].len,
		     (uint16_t)((i < 2 ? VQ_DESC_F_NEXT : 0) | (i >= gout ? VQ_DESC_F_WRITE : 0)),
		     (uint16_t)(i < 2 ? i + 1 : 0));
}
#define good_read good_req

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

	/* An indirect table of 4 * QSZ chained descriptors: longer than the queue (the
	 * request itself is good: the first, middle and last look like descriptors 0, 1, 2). */
	good_req();
	for (unsigned i = 0; i < 4 * QSZ; i++) {
		unsigned from = i == 0 ? 0 : i + 1 < 4 * QSZ ? 1 : 2;
		table[i].addr = bq.desc[from].addr;
		table[i].len = from == 1 ? 16 : bq.desc[from].len;
		table[i].flags = (uint16_t)((bq.desc[from].flags & VQ_DESC_F_WRITE) | (i + 1 < 4 * QSZ ? VQ_DESC_F_NEXT : 0));
		table[i].next = (uint16_t)(i + 1);
	}
	desc(0, (uint64_t)table, 16 * 4 * QSZ, VQ_DESC_F_INDIRECT, 0);
	submit_raw(0); expect_fault("indirect table longer than the queue", 1 << 1);

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

/* --- packed ring cases ---------------------------------------------------------------------- */
/* Write descriptor k of a raw chain at ring slot avail_idx + k with exactly these flags (the
 * first descriptor's flags are kept for psubmit). */
static void pdesc_raw(unsigned k, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	unsigned slot = (bq.avail_idx + k) % QSZ;
	bq.ring[slot].addr = addr;
	bq.ring[slot].len = len;
	bq.ring[slot].id = id;
	if (k == 0)
		phead_flags = flags;
	else
		bq.ring[slot].flags = flags;
}

/* The same with the AVAIL/USED bits that make slot avail_idx + k available in its lap. */
static void pdesc(unsigned k, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	int wrap = bq.avail_wrap ^ (bq.avail_idx + k >= QSZ);
	pdesc_raw(k, addr, len, id, (uint16_t)(flags | (wrap ? VQ_DESC_F_AVAIL : VQ_DESC_F_USED)));
}

/* The good request as a chain of three descriptors with buffer id `id`. */
static void pgood(uint16_t id)
{
	good_req();
	for (unsigned i = 0; i < 3; i++)
		pdesc(i, gsg[i].addr, gsg[i].len, id,
		      (uint16_t)((i < 2 ? VQ_DESC_F_NEXT : 0) | (i >= gout ? VQ_DESC_F_WRITE : 0)));
}

/* Make the chain of n descriptors available (its first descriptor's flags last) and notify. */
static void psubmit(unsigned n)
{
	vio_barrier();
	bq.ring[bq.avail_idx].flags = phead_flags;
	bq.avail_idx = (uint16_t)(bq.avail_idx + n);
	if (bq.avail_idx >= QSZ) {
		bq.avail_idx = (uint16_t)(bq.avail_idx - QSZ);
		bq.avail_wrap ^= 1;
	}
	vio_mb();
	vq_notify(&bq);
}

static void packed_ring_cases(void)
{
	volatile struct vq_pdesc *pt = (volatile struct vq_pdesc *)table;

	pgood(QSZ + 3);
	psubmit(3); expect_fault("packed: buffer id beyond the queue", FAULT);

	pgood(0xffff);
	psubmit(3); expect_fault("packed: buffer id 0xffff", FAULT);

	pgood(0); bq.ring[(bq.avail_idx + 1) % QSZ].addr = FAR;
	psubmit(3); expect_fault("packed: data buffer outside guest memory", FAULT);

	pgood(0); pdesc(0, FAR, gsg[0].len, 0, gout ? VQ_DESC_F_NEXT : VQ_DESC_F_NEXT | VQ_DESC_F_WRITE);
	psubmit(3); expect_fault("packed: first buffer outside guest memory", FAULT);

	pgood(0); bq.ring[(bq.avail_idx + 1) % QSZ].len = 0xffffffffu;
	psubmit(3); expect_fault("packed: length 0xffffffff", FAULT);

	/* Every slot of the queue, and on: NEXT on all of them. */
	good_req();
	for (unsigned i = 0; i < QSZ; i++)
		pdesc(i, gsg[1].addr, 16, 0, VQ_DESC_F_NEXT | (gout < 2 ? VQ_DESC_F_WRITE : 0));
	psubmit(QSZ); expect_fault("packed: chain past the queue size", 1 << 1);

	/* The chain goes on into a slot whose wrap-counter bits say "not available". */
	pgood(0);
	pdesc_raw(1, gsg[1].addr, gsg[1].len, 0, VQ_DESC_F_NEXT | VQ_DESC_F_AVAIL | VQ_DESC_F_USED);
	psubmit(3); expect_fault("packed: chain into a descriptor not made available", 1 << 1);

	/* A head with the bits of the previous lap: nothing is available, nothing happens. */
	pgood(0);
	pdesc_raw(0, gsg[0].addr, gsg[0].len, 0,
		  (uint16_t)(VQ_DESC_F_NEXT | (bq.avail_wrap ? VQ_DESC_F_USED : VQ_DESC_F_AVAIL)));
	psubmit(3); expect_fault("packed: head with stale wrap-counter bits", 1 << 0);

	good_req();
	for (unsigned i = 0; i < 3; i++)
		pt[i].addr = gsg[i].addr, pt[i].len = gsg[i].len, pt[i].id = 0,
		pt[i].flags = (uint16_t)(i >= gout ? VQ_DESC_F_WRITE : 0);
	pt[1].flags = VQ_DESC_F_INDIRECT;
	pdesc(0, (uint64_t)pt, 48, 0, VQ_DESC_F_INDIRECT);
	psubmit(1); expect_fault("packed: indirect table in an indirect table", FAULT);

	pdesc(0, gsg[0].addr, gsg[0].len, 0, (uint16_t)(VQ_DESC_F_NEXT | (gout ? 0 : VQ_DESC_F_WRITE)));
	pdesc(1, (uint64_t)pt, 48, 0, VQ_DESC_F_INDIRECT);
	psubmit(2); expect_fault("packed: indirect descriptor inside a chain", 1 << 1);

	pdesc(0, (uint64_t)pt, 48, 0, VQ_DESC_F_INDIRECT | VQ_DESC_F_NEXT);
	pdesc(1, gsg[2].addr, gsg[2].len, 0, gout == 3 ? 0 : VQ_DESC_F_WRITE);
	psubmit(2); expect_fault("packed: indirect descriptor with NEXT", 1 << 1);

	pdesc(0, FAR, 48, 0, VQ_DESC_F_INDIRECT);
	psubmit(1); expect_fault("packed: indirect table outside guest memory", FAULT);

	pdesc(0, (uint64_t)pt, 16 * 4 * QSZ, 0, VQ_DESC_F_INDIRECT);
	psubmit(1); expect_fault("packed: indirect table longer than the queue", 1 << 1);
}

static void register_cases(void)
{
	int pci = blk.transport == VIO_PCI;
	uint32_t cap = vio_cfg_read(&blk, 0, 4);

	/* Queue size 5 (not a power of two) on a fresh queue 0, then ready and a request. */
	vio_negotiate(&blk, 0);
	vio_wr(blk.base + (pci ? 0x16 : 0x30), pci ? 2 : 4, vqi);
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
	vio_wr(blk.base + (pci ? 0x16 : 0x30), pci ? 2 : 4, vqi);
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
	bq.index = (uint16_t)(vqi + 1); vq_notify(&bq);
	bq.index = 300; vq_notify(&bq);
	bq.index = (uint16_t)vqi;
	expect_fault("notify queues never set up", 1 << 0);

	/* Config writes out of range, and to the read-only first field (blk capacity, net MAC,
	 * scsi num_queues). */
	vio_cfg_write(&blk, 0, 4, 0x12345678);
	vio_cfg_write(&blk, 0x800, 4, 0xdeadbeef);
	vio_cfg_write(&blk, pci ? 0xffc : 0xefc, 4, 0xdeadbeef);
	if (vio_cfg_read(&blk, 0, 4) != cap)
		rt_fail("evil: a config write changed read-only configuration");
	expect_fault("config writes out of range", 1 << 0);
}

/* --- the control queue of virtio-net ------------------------------------------------------ */
static struct vq cq;
static uint8_t *cb;   /* header at 0, data from 16, answer at 1024 */
#define ACK 1024

static void ctrl_setup(void)
{
	uint64_t want = 1ull << 5 | 1ull << 17 | 1ull << 18 | 1ull << 20 | 1ull << 23;
	if (vio_negotiate(&blk, want) < 0 || (blk.features & want) != want ||
	    vq_setup(&blk, &bq, 1, QSZ, 0) < 0 || vq_setup(&blk, &cq, 2, QSZ, 0) < 0)
		rt_fail("%s: control queue set-up failed", blk.name);
	vio_driver_ok(&blk);
}

/* Submit a command of nout readable then nin writable buffers; the answer byte, -2 when
 * completed without one, -1 when nothing came back. */
static int ctrl_raw(const struct vio_sg *sg, unsigned nout, unsigned nin)
{
	uint32_t len;
	cb[ACK] = 0xee;
	if (vq_add(&cq, sg, nout, nin, cb) < 0)
		rt_fail("evil: control queue full");
	vq_kick(&cq);
	if (!vq_wait(&cq, &len, 3000))
		return -1;
	return len ? cb[ACK] : -2;
}

/* A command: header, len data bytes (from dat) in one buffer, the answer byte. */
static int ctrl_cmd(uint8_t cls, uint8_t cmd, const void *dat, unsigned len)
{
	struct vio_sg sg[3];
	unsigned n = 0;
	cb[0] = cls;
	cb[1] = cmd;
	memcpy(cb + 16, dat, len);
	sg[n++] = (struct vio_sg){ (uint64_t)cb, 2 };
	if (len)
		sg[n++] = (struct vio_sg){ (uint64_t)cb + 16, len };
	sg[n++] = (struct vio_sg){ (uint64_t)cb + ACK, 1 };
	return ctrl_raw(sg, n - 1, 1);
}

static int nctrl;

/* After each case: the answer was `want`, the device is not broken, the other device works,
 * and a good command (PROMISC on) is answered OK. */
static void ctrl_check(const char *c, int got, int want)
{
	uint8_t on = 1;
	rt_printf("evil: control: %s: %s\n", c, got == 0 ? "ok" : got == 1 ? "error" :
		  got == -2 ? "completed without an answer" : "no answer");
	if (got != want)
		rt_fail("evil: control: %s: answer %d, expected %d", c, got, want);
	if (vio_status(&blk) & VIO_S_NEEDS_RESET)
		rt_fail("evil: control: %s: the device needs reset", c);
	witness_ok(c);
	if (ctrl_cmd(0, 0, &on, 1) != 0)
		rt_fail("evil: control: %s: a good command fails afterwards", c);
	nctrl++;
}

static void ctrl_cases(void)
{
	uint8_t d[64];
	struct vio_sg sg[6];
	uint32_t x;

	ctrl_setup();
	cb[0] = 0;
	sg[0] = (struct vio_sg){ (uint64_t)cb, 1 };
	sg[1] = (struct vio_sg){ (uint64_t)cb + ACK, 1 };
	ctrl_check("1-byte header", ctrl_raw(sg, 1, 1), 1);
	ctrl_check("unknown class", ctrl_cmd(0x77, 0, d, 1), 1);
	d[0] = 1;
	ctrl_check("unknown receive-mode command", ctrl_cmd(0, 0x42, d, 1), 1);
	ctrl_check("receive mode without its byte", ctrl_cmd(0, 1, d, 0), 1);
	ctrl_check("receive mode with 4 bytes", ctrl_cmd(0, 1, d, 4), 1);
	memset(d, 0, sizeof(d));
	x = 0xffffffffu;
	memcpy(d, &x, 4);
	ctrl_check("MAC table of 0xffffffff entries", ctrl_cmd(1, 0, d, 8), 1);
	x = 1000;
	memcpy(d, "\0\0\0\0", 4);
	memcpy(d + 4, &x, 4);
	ctrl_check("multicast table larger than the command", ctrl_cmd(1, 0, d, 14), 1);
	memset(d, 0, 8);
	ctrl_check("MAC table with bytes after it", ctrl_cmd(1, 0, d, 20), 1);
	ctrl_check("MAC address of 3 bytes", ctrl_cmd(1, 1, "\x52\x54\x00", 3), 1);
	ctrl_check("multicast MAC address", ctrl_cmd(1, 1, "\x01\x00\x5e\x00\x00\x01", 6), 1);
	x = 2;
	ctrl_check("VQ_PAIRS_SET without MQ", ctrl_cmd(4, 0, &x, 2), 1);
	cb[0] = 0; cb[1] = 0; cb[16] = 0;
	sg[0] = (struct vio_sg){ (uint64_t)cb, 2 };
	sg[1] = (struct vio_sg){ (uint64_t)cb + 16, 1 };
	ctrl_check("no byte for the answer", ctrl_raw(sg, 2, 0), -2);
	/* a good command cut into pieces: header in 2 buffers, a MAC table in 3 */
	memset(d, 0, sizeof(d));
	x = 1;
	cb[0] = 1; cb[1] = 0;
	memcpy(cb + 16, &x, 4);
	memcpy(cb + 20, "\x52\x54\x00\x01\x02\x03", 6);
	memset(cb + 26, 0, 4);
	sg[0] = (struct vio_sg){ (uint64_t)cb, 1 };
	sg[1] = (struct vio_sg){ (uint64_t)cb + 1, 1 };
	sg[2] = (struct vio_sg){ (uint64_t)cb + 16, 3 };
	sg[3] = (struct vio_sg){ (uint64_t)cb + 19, 5 };
	sg[4] = (struct vio_sg){ (uint64_t)cb + 24, 6 };
	sg[5] = (struct vio_sg){ (uint64_t)cb + ACK, 1 };
	ctrl_check("good MAC table in 5 pieces", ctrl_raw(sg, 5, 1), 0);
	/* a flood: the log stops after its first lines */
	for (unsigned i = 0; i < 40; i++)
		if (ctrl_cmd((uint8_t)(0x80 + i), (uint8_t)i, d, i % 7) != 1)
			rt_fail("evil: control: flood command %u not refused", i);
	ctrl_check("40 garbage commands", 1, 1);
}

static long run(long arg)
{
	int t = vio_param_transport();
	char v[16] = "blk";
	char r[8] = "split";
	(void)arg;

	rt_param("victim", v, sizeof(v));
	rt_param("ring", r, sizeof(r));
	packed = !strcmp(r, "packed");
	vio_ring_packed = 0; /* the victim's rings are ours to break; the witness stays split */
	if (!strcmp(v, "blk")) vkind = VIO_ID_BLK, vqi = 0;
	else if (!strcmp(v, "net")) vkind = VIO_ID_NET, vqi = 1;
	else if (!strcmp(v, "scsi")) vkind = VIO_ID_SCSI, vqi = 2;
	else if (!strcmp(v, "rng")) vkind = VIO_ID_RNG, vqi = 0;
	else if (!strcmp(v, "console")) vkind = VIO_ID_CONSOLE, vqi = 1;
	else rt_fail("evil: victim=%s: not blk, net, scsi, rng or console", v);
	if (vio_find(vkind, 0, t, &blk) < 0 ||
	    vio_find(vkind == VIO_ID_RNG ? VIO_ID_BLK : VIO_ID_RNG, 0, t, &wit) < 0)
		rt_fail("evil: wants a virtio %s device and a virtio-%s device", v, vkind == VIO_ID_RNG ? "blk" : "rng");
	buf = vio_alloc(8192, 4096);
	rbuf = vio_alloc(4096, 4096);
	table = vio_alloc(16 * 4 * QSZ, 16);
	sreq = vio_alloc(sizeof(*sreq), 64);
	sresp = vio_alloc(sizeof(*sresp), 64);
	if (vio_negotiate(&wit, 0) < 0 || vq_setup(&wit, &wq, 0, 8, 0) < 0)
		rt_fail("%s: set-up failed", wit.name);
	vio_driver_ok(&wit);
	victim_setup();
	rt_printf("evil: victim %s (queue %u, %s ring), witness %s\n", blk.name, vqi,
		  packed ? "packed" : "split", wit.name);
	if (packed) {
		packed_ring_cases();
		packed = 0; /* the register cases set queues up by hand, as split rings */
		victim_setup();
	} else {
		ring_cases();
	}
	register_cases();
	rt_printf("evil: %d cases ok\n", ncases);
	if (vkind == VIO_ID_NET) {
		cb = vio_alloc(2048, 64);
		ctrl_cases();
		rt_printf("evil: %d control-queue cases ok\n", nctrl);
	}
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
