/* vblk: virtio-blk over virtio-mmio or virtio-pci. Writes a pattern over the whole disk
 * (64 KiB requests, up to `qd` in flight, one notification per batch), flushes, reads it all
 * back and verifies it, then write-zeroes one range and discards another (each read back),
 * reads the device ID, and checks that a read beyond the end fails with an I/O error.
 *
 * Parameters: transport=mmio|pci, qd=N (default 32), readonly (the disk is read-only: expect
 * writes to fail with IOERR and the RO feature), nth=N (which blk device, default 0).
 *
 * The pattern, which tests/t-virtio-blk.sh checks in the image file: 64-bit word w of sector s
 * is 0x5653000000000000 | s << 16 | w. Sectors [zs, zs + zn) end as zeros (write-zeroes) and
 * [ds, ds + dn) discarded (zs = 1/4 of the disk, ds = 1/2, each 1/8 long), printed as
 * `vblk: zeroes ZS+ZN discard DS+DN (reads zeros|reads data)`. */
#include "rt/rt.h"
#include "virtio/vio.h"

#define CHUNK 65536u
#define MAXQD 64

static struct vdev dev;
static struct vq q;
static struct vblk_req reqs[MAXQD];
static uint8_t *bufs[MAXQD];

static uint64_t pat(uint64_t s, unsigned w) { return 0x5653000000000000ull | s << 16 | w; }

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
			rt_printf("vblk: sector %lu word %u: %#lx, want %#lx\n", (unsigned long)(sector + i / 64),
				  i % 64, (unsigned long)p[i], (unsigned long)pat(sector + i / 64, i % 64));
			return -1;
		}
	return 0;
}

/* Run `type` over sectors [start, end) in CHUNK pieces with up to qd in flight; verify reads. */
static int pass_over(uint32_t type, uint64_t start, uint64_t end, unsigned qd)
{
	uint64_t next = start;
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
		struct vblk_req *r = vq_wait(&q, NULL, 10000);
		if (!r)
			rt_fail("vblk: request timed out (%u in flight)", inflight);
		do {
			inflight--;
			if (r->status != VBLK_S_OK) {
				rt_printf("vblk: type %u sector %lu: status %u\n", r->hdr.type, (unsigned long)r->hdr.sector, r->status);
				bad = 1;
			} else if (type == VBLK_T_IN && check((uint8_t *)r->buf, r->hdr.sector, r->len)) {
				bad = 1;
			}
			free_slot[nfree++] = (unsigned)(r - reqs);
		} while ((r = vq_get(&q, NULL)) != NULL);
	}
	return bad ? -1 : 0;
}

static int all_zero(const uint8_t *b, uint32_t len)
{
	const uint64_t *p = (const uint64_t *)b;
	for (uint32_t i = 0; i < len / 8; i++)
		if (p[i])
			return 0;
	return 1;
}

static int range_reads_zero(uint64_t s, uint64_t n)
{
	for (uint64_t x = s; x < s + n; x += CHUNK / 512) {
		uint32_t len = (s + n - x) * 512 < CHUNK ? (uint32_t)((s + n - x) * 512) : CHUNK;
		if (vblk_sync(&q, &reqs[0], VBLK_T_IN, x, bufs[0], len) != VBLK_S_OK)
			rt_fail("vblk: read of sector %lu failed", (unsigned long)x);
		if (!all_zero(bufs[0], len))
			return 0;
	}
	return 1;
}

static int range_op(uint32_t type, uint64_t s, uint64_t n)
{
	struct vblk_req *r = &reqs[1];
	r->seg[0] = s;
	r->seg[1] = n; /* num_sectors (32 bits), flags 0 */
	return vblk_sync(&q, r, type, 0, r->seg, 16);
}

static long run(long arg)
{
	unsigned qd = (unsigned)rt_param_u64("qd", 32), i;
	int ro = rt_param_flag("readonly");
	uint64_t sectors, t0;
	char id[24];
	(void)arg;

	if (qd < 1 || qd > MAXQD)
		qd = 32;
	if (vio_find(VIO_ID_BLK, (int)rt_param_u64("nth", 0), vio_param_transport(), &dev) < 0)
		rt_fail("vblk: no virtio-blk device");
	if (vio_negotiate(&dev, 1ull << VIO_F_EVENT_IDX | 1ull << VIO_F_INDIRECT | 1ull << VBLK_F_RO |
				1ull << VBLK_F_FLUSH | 1ull << VBLK_F_DISCARD | 1ull << VBLK_F_WRITE_ZEROES) < 0)
		rt_fail("%s: feature negotiation failed", dev.name);
	if (vq_setup(&dev, &q, 0, 128, 4) < 0)
		rt_fail("%s: no queue 0", dev.name);
	vio_driver_ok(&dev);
	sectors = vio_cfg_read64(&dev, 0);
	rt_printf("vblk: %s, %lu sectors, queue %u, features%s%s%s%s%s%s\n", dev.name, (unsigned long)sectors, q.size,
		  vio_has(&dev, VIO_F_EVENT_IDX) ? " event_idx" : "", vio_has(&dev, VIO_F_INDIRECT) ? " indirect" : "",
		  vio_has(&dev, VBLK_F_FLUSH) ? " flush" : "", vio_has(&dev, VBLK_F_DISCARD) ? " discard" : "",
		  vio_has(&dev, VBLK_F_WRITE_ZEROES) ? " write_zeroes" : "", vio_has(&dev, VBLK_F_RO) ? " ro" : "");
	for (i = 0; i < qd; i++)
		bufs[i] = vio_alloc(CHUNK, 4096);
	if (sectors < 64 || sectors > (1ull << 24))
		rt_fail("vblk: disk of %lu sectors: want 32 KiB .. 8 GiB", (unsigned long)sectors);

	if (ro) {
		RT_CHECK(vio_has(&dev, VBLK_F_RO));
		int st = vblk_sync(&q, &reqs[0], VBLK_T_OUT, 0, bufs[0], 4096);
		if (st != VBLK_S_IOERR)
			rt_fail("vblk: write to a read-only disk: status %d, want IOERR", st);
		RT_CHECK(vblk_sync(&q, &reqs[0], VBLK_T_IN, 0, bufs[0], 4096) == VBLK_S_OK);
		rt_printf("vblk: read-only ok\n");
		return 0;
	}
	t0 = vio_now_us();
	if (pass_over(VBLK_T_OUT, 0, sectors, qd) < 0)
		rt_fail("vblk: write pass failed");
	if (vio_has(&dev, VBLK_F_FLUSH) && vblk_sync(&q, &reqs[0], VBLK_T_FLUSH, 0, NULL, 0) != VBLK_S_OK)
		rt_fail("vblk: flush failed");
	if (pass_over(VBLK_T_IN, 0, sectors, qd) < 0)
		rt_fail("vblk: read-back failed");
	rt_printf("vblk: wrote, flushed and verified %lu KiB in %lu ms (%lu kicks, %lu suppressed, %lu register accesses)\n",
		  (unsigned long)(sectors / 2), (unsigned long)((vio_now_us() - t0) / 1000), (unsigned long)q.kicks,
		  (unsigned long)q.kicks_skipped, (unsigned long)vio_reg_accesses);

	uint64_t zs = sectors / 4, zn = sectors / 8, ds = sectors / 2, dn = sectors / 8;
	int dz = -1;
	if (vio_has(&dev, VBLK_F_WRITE_ZEROES)) {
		RT_CHECK(range_op(VBLK_T_WZEROES, zs, zn) == VBLK_S_OK);
		if (!range_reads_zero(zs, zn))
			rt_fail("vblk: write-zeroes range does not read as zeros");
		RT_CHECK(pass_over(VBLK_T_IN, zs + zn, ds, qd) == 0); /* its neighbours kept */
	} else {
		zn = 0;
	}
	if (vio_has(&dev, VBLK_F_DISCARD)) {
		RT_CHECK(range_op(VBLK_T_DISCARD, ds, dn) == VBLK_S_OK);
		dz = range_reads_zero(ds, dn);
		RT_CHECK(pass_over(VBLK_T_IN, ds + dn, sectors, qd) == 0);
	} else {
		dn = 0;
	}
	if (vio_has(&dev, VBLK_F_FLUSH))
		RT_CHECK(vblk_sync(&q, &reqs[0], VBLK_T_FLUSH, 0, NULL, 0) == VBLK_S_OK);
	rt_printf("vblk: zeroes %lu+%lu discard %lu+%lu (%s)\n", (unsigned long)zs, (unsigned long)zn,
		  (unsigned long)ds, (unsigned long)dn, dz == 1 ? "reads zeros" : dz == 0 ? "reads data" : "none");

	memset(id, 0, sizeof(id));
	int st = vblk_sync(&q, &reqs[0], VBLK_T_GET_ID, 0, id, 20);
	if (st == VBLK_S_OK)
		rt_printf("vblk: id \"%s\"\n", id);
	else
		rt_printf("vblk: get-id status %d\n", st);
	st = vblk_sync(&q, &reqs[0], VBLK_T_IN, sectors - 1, bufs[0], 4096); /* crosses the end */
	if (st != VBLK_S_IOERR)
		rt_fail("vblk: read across the end: status %d, want IOERR", st);
	st = vblk_sync(&q, &reqs[0], 0x7777, 0, NULL, 0);
	if (st != VBLK_S_UNSUPP)
		rt_fail("vblk: unknown request type: status %d, want UNSUPP", st);
	if (vio_status(&dev) & VIO_S_NEEDS_RESET)
		rt_fail("%s: device needs reset", dev.name);
	rt_printf("vblk: ok\n");
	return 0;
}

int main(void)
{
	long ret = -1;
	vio_init();
	if (rt_user_call(run, 0, &ret) < 0)
		rt_fail("vblk: ring-3 call failed");
	return (int)ret;
}
