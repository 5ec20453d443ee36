/* vscsi: virtio-scsi over virtio-mmio or virtio-pci, driving the SCSI command set on target 0
 * LUN 0: TEST UNIT READY, INQUIRY (standard and VPD 0x00, 0x80, 0x83, 0xb0, 0xb2), REPORT
 * LUNS, READ CAPACITY 10/16, WRITE/READ 6, 10 and 16, SYNCHRONIZE CACHE, WRITE SAME 10/16,
 * UNMAP, MODE SENSE 6/10, REQUEST SENSE, an unsupported opcode and an LBA beyond the end
 * (CHECK CONDITION with ILLEGAL REQUEST sense), and a target that does not exist.
 *
 * What it leaves on the disk (checked by tests/t-virtio-scsi.sh; 512-byte blocks, the pattern
 * of vblk: word w of block b is 0x5653000000000000 | b << 16 | w):
 *   block 1 (WRITE 6), blocks 100..107 (WRITE 10), 1000..1007 (WRITE 16): the pattern;
 *   blocks 2000..2015 (WRITE SAME 10) and 2100..2107 (WRITE SAME 16): each a copy of the
 *   pattern of block 2000 / 2100; blocks 3000..3007 written then unmapped.
 * Parameters: transport=mmio|pci. */
#include "rt/rt.h"
#include "virtio/vio.h"

struct cmd_req {
	uint8_t lun[8];
	uint64_t tag;
	uint8_t task_attr, prio, crn;
	uint8_t cdb[32];
} __attribute__((packed));

struct cmd_resp {
	uint32_t sense_len, residual;
	uint16_t status_qualifier;
	uint8_t status, response;
	uint8_t sense[96];
} __attribute__((packed));

static struct vdev dev;
static struct vq ctlq, reqq;
static struct cmd_req *rq;
static struct cmd_resp *rs;
static uint8_t *data, *pat;
static int target;

static uint64_t patw(uint64_t b, unsigned w) { return 0x5653000000000000ull | b << 16 | w; }

static void fill(uint8_t *buf, uint64_t lba, unsigned blocks)
{
	uint64_t *p = (uint64_t *)buf;
	for (unsigned i = 0; i < blocks * 64; i++)
		p[i] = patw(lba + i / 64, i % 64);
}

/* Run one command; `out`/`in` lengths of data to or from `data`. Returns the SCSI status
 * (0 GOOD, 2 CHECK CONDITION) or 0x100 + virtio response code when the transport failed. */
static int scsi(const uint8_t *cdb, unsigned cdb_len, uint32_t out, uint32_t in)
{
	struct vio_sg sg[4];
	unsigned n = 0, n_out;

	memset(rq, 0, sizeof(*rq));
	memset(rs, 0, sizeof(*rs));
	rq->lun[0] = 1;
	rq->lun[1] = (uint8_t)target;
	rq->tag++;
	memcpy(rq->cdb, cdb, cdb_len);
	sg[n++] = (struct vio_sg){ (uint64_t)rq, sizeof(*rq) };
	if (out)
		sg[n++] = (struct vio_sg){ (uint64_t)data, out };
	n_out = n;
	sg[n++] = (struct vio_sg){ (uint64_t)rs, sizeof(*rs) };
	if (in)
		sg[n++] = (struct vio_sg){ (uint64_t)data, in };
	if (vq_add(&reqq, sg, n_out, n - n_out, rs) < 0)
		rt_fail("vscsi: ring full");
	vq_kick(&reqq);
	if (!vq_wait(&reqq, NULL, 10000))
		rt_fail("vscsi: command %#x timed out", cdb[0]);
	if (rs->response)
		return 0x100 + rs->response;
	return rs->status;
}

static void be32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }
static void be64(uint8_t *p, uint64_t v) { be32(p, (uint32_t)(v >> 32)); be32(p + 4, (uint32_t)v); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) << 32 | rd32(p + 4); }

static void good(const char *what, int st)
{
	if (st != 0)
		rt_fail("vscsi: %s: status %#x sense key %#x asc %#x", what, st, rs->sense[2] & 0xf, rs->sense[12]);
}

/* READ/WRITE of `blocks` at `lba` in CDB form 6, 10 or 16. */
static int rw(int write, int form, uint64_t lba, unsigned blocks)
{
	uint8_t c[16] = { 0 };
	if (form == 6) {
		c[0] = write ? 0x0a : 0x08;
		c[1] = (uint8_t)(lba >> 16 & 0x1f); c[2] = (uint8_t)(lba >> 8); c[3] = (uint8_t)lba; c[4] = (uint8_t)blocks;
	} else if (form == 10) {
		c[0] = write ? 0x2a : 0x28;
		be32(c + 2, (uint32_t)lba); c[7] = (uint8_t)(blocks >> 8); c[8] = (uint8_t)blocks;
	} else {
		c[0] = write ? 0x8a : 0x88;
		be64(c + 2, lba); be32(c + 10, blocks);
	}
	return scsi(c, (unsigned)form, write ? blocks * 512 : 0, write ? 0 : blocks * 512);
}

static void write_verify(int form, uint64_t lba, unsigned blocks)
{
	char what[32];
	rt_snprintf(what, sizeof(what), "WRITE(%d)", form);
	fill(data, lba, blocks);
	good(what, rw(1, form, lba, blocks));
	memset(data, 0, blocks * 512);
	rt_snprintf(what, sizeof(what), "READ(%d)", form);
	good(what, rw(0, form, lba, blocks));
	fill(pat, lba, blocks);
	if (memcmp(data, pat, blocks * 512))
		rt_fail("vscsi: READ(%d) of block %lu: not what WRITE(%d) wrote", form, (unsigned long)lba, form);
}

static void inquiry_vpd(uint8_t page, unsigned min_len)
{
	uint8_t c[6] = { 0x12, 1, page, 0, 255, 0 };
	char what[32];
	rt_snprintf(what, sizeof(what), "INQUIRY VPD %#x", page);
	memset(data, 0, 256);
	good(what, scsi(c, 6, 0, 255));
	if (data[1] != page || (unsigned)(data[2] << 8 | data[3]) + 4 < min_len)
		rt_fail("vscsi: %s: page %#x length %u", what, data[1], data[2] << 8 | data[3]);
}

static void expect_check(const char *what, int st, uint8_t key, uint8_t asc)
{
	if (st != 2 || (rs->sense[2] & 0xf) != key || rs->sense[12] != asc)
		rt_fail("vscsi: %s: status %#x key %#x asc %#x, want CHECK CONDITION key %#x asc %#x", what, st,
			rs->sense[2] & 0xf, rs->sense[12], key, asc);
	rt_printf("vscsi: %s: CHECK CONDITION, sense %#x/%#x\n", what, key, asc);
}

static long run(long arg)
{
	uint8_t c[16];
	uint64_t blocks;
	int st;
	(void)arg;

	if (vio_find(VIO_ID_SCSI, 0, vio_param_transport(), &dev) < 0)
		rt_fail("vscsi: no virtio-scsi device");
	if (vio_negotiate(&dev, 1ull << VIO_F_EVENT_IDX | 1ull << VIO_F_INDIRECT) < 0 ||
	    vq_setup(&dev, &ctlq, 0, 8, 0) < 0 || vq_setup(&dev, &reqq, 2, 64, 4) < 0)
		rt_fail("%s: set-up failed", dev.name);
	vio_driver_ok(&dev);
	vio_cfg_write(&dev, 20, 4, 96); /* sense_size */
	vio_cfg_write(&dev, 24, 4, 32); /* cdb_size */
	rt_printf("vscsi: %s, %u request queues, max target %u, max lun %u\n", dev.name, vio_cfg_read(&dev, 0, 4),
		  vio_cfg_read(&dev, 30, 2), vio_cfg_read(&dev, 32, 4));
	rq = vio_alloc(sizeof(*rq), 64);
	rs = vio_alloc(sizeof(*rs), 64);
	data = vio_alloc(65536, 4096);
	pat = vio_alloc(65536, 4096);

	memset(c, 0, sizeof(c));
	st = scsi(c, 6, 0, 0); /* TEST UNIT READY; a first UNIT ATTENTION is allowed */
	if (st == 2 && (rs->sense[2] & 0xf) == 6)
		st = scsi(c, 6, 0, 0);
	good("TEST UNIT READY", st);

	uint8_t inq[6] = { 0x12, 0, 0, 0, 96, 0 };
	good("INQUIRY", scsi(inq, 6, 0, 96));
	if ((data[0] & 0x1f) != 0)
		rt_fail("vscsi: INQUIRY: peripheral type %#x, want 0 (disk)", data[0] & 0x1f);
	char vendor[25];
	memcpy(vendor, data + 8, 24);
	vendor[24] = 0;
	rt_printf("vscsi: INQUIRY: \"%s\" version %#x\n", vendor, data[2]);

	inquiry_vpd(0x00, 5);
	uint8_t pages[64];
	unsigned np = data[3] < 60 ? data[3] : 60;
	memcpy(pages, data + 4, np);
	static const uint8_t want[] = { 0x80, 0x83, 0xb0, 0xb2 };
	for (unsigned i = 0; i < sizeof(want); i++) {
		int found = 0;
		for (unsigned k = 0; k < np; k++)
			found |= pages[k] == want[i];
		if (!found) {
			rt_printf("vscsi: VPD page %#x not listed\n", want[i]);
			continue;
		}
		inquiry_vpd(want[i], want[i] == 0xb0 ? 64 : 8);
		if (want[i] == 0x80)
			rt_printf("vscsi: VPD 0x80 serial \"%s\"\n", (char *)data + 4);
	}

	uint8_t rl[12] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };
	good("REPORT LUNS", scsi(rl, 12, 0, 256));
	if (rd32(data) < 8)
		rt_fail("vscsi: REPORT LUNS: empty list");
	rt_printf("vscsi: REPORT LUNS: %u LUNs\n", rd32(data) / 8);

	uint8_t rc10[10] = { 0x25 };
	good("READ CAPACITY(10)", scsi(rc10, 10, 0, 8));
	uint32_t last10 = rd32(data), bs10 = rd32(data + 4);
	uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0 };
	good("READ CAPACITY(16)", scsi(rc16, 16, 0, 32));
	blocks = rd64(data) + 1;
	if (rd32(data + 8) != 512 || bs10 != 512 || last10 + 1 != blocks)
		rt_fail("vscsi: READ CAPACITY: 10 says %u x %u, 16 says %lu x %u", last10 + 1, bs10,
			(unsigned long)blocks, rd32(data + 8));
	rt_printf("vscsi: READ CAPACITY: %lu blocks of 512, lbpme %u\n", (unsigned long)blocks, data[14] >> 7);
	if (blocks < 4096)
		rt_fail("vscsi: disk too small (%lu blocks, want 4096)", (unsigned long)blocks);

	write_verify(6, 1, 1);
	write_verify(10, 100, 8);
	write_verify(16, 1000, 8);
	uint8_t sync[10] = { 0x35 };
	good("SYNCHRONIZE CACHE(10)", scsi(sync, 10, 0, 0));

	fill(data, 2000, 1);
	uint8_t ws10[10] = { 0x41, 0, 0, 0, 0x07, 0xd0, 0, 0, 16, 0 };
	good("WRITE SAME(10)", scsi(ws10, 10, 512, 0));
	fill(data, 2100, 1);
	uint8_t ws16[16] = { 0x93, 0 };
	be64(ws16 + 2, 2100); be32(ws16 + 10, 8);
	good("WRITE SAME(16)", scsi(ws16, 16, 512, 0));
	good("READ(10) after WRITE SAME", rw(0, 10, 2000, 16));
	fill(pat, 2000, 1);
	for (unsigned i = 0; i < 16; i++)
		if (memcmp(data + i * 512, pat, 512))
			rt_fail("vscsi: WRITE SAME(10): block %u differs", 2000 + i);

	fill(data, 3000, 8);
	good("WRITE(10) before UNMAP", rw(1, 10, 3000, 8));
	memset(data, 0, 24);
	data[1] = 22; data[3] = 16;        /* data length, block descriptor data length */
	be64(data + 8, 3000); be32(data + 16, 8);
	uint8_t unmap[10] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 };
	st = scsi(unmap, 10, 24, 0);
	if (st == 0) {
		good("READ(10) after UNMAP", rw(0, 10, 3000, 8));
		int zero = 1;
		for (unsigned i = 0; i < 4096; i++)
			zero &= data[i] == 0;
		rt_printf("vscsi: UNMAP: ok, blocks %s\n", zero ? "read as zeros" : "keep their data");
	} else {
		rt_printf("vscsi: UNMAP: status %#x sense %#x/%#x\n", st, rs->sense[2] & 0xf, rs->sense[12]);
	}

	uint8_t ms6[6] = { 0x1a, 0, 0x3f, 0, 255, 0 };
	good("MODE SENSE(6)", scsi(ms6, 6, 0, 255));
	unsigned ml6 = data[0] + 1u;
	uint8_t ms10[10] = { 0x5a, 0, 0x3f, 0, 0, 0, 0, 1, 0, 0 };
	good("MODE SENSE(10)", scsi(ms10, 10, 0, 256));
	rt_printf("vscsi: MODE SENSE: 6 gives %u bytes, 10 gives %u bytes, write-protect %u\n", ml6,
		  (data[0] << 8 | data[1]) + 2u, data[3] >> 7);

	uint8_t bad[6] = { 0xd9 };
	expect_check("unsupported opcode 0xd9", scsi(bad, 6, 0, 0), 5, 0x20);
	uint8_t rs6[6] = { 0x03, 0, 0, 0, 96, 0 };
	good("REQUEST SENSE", scsi(rs6, 6, 0, 96));
	rt_printf("vscsi: REQUEST SENSE: response %#x key %#x\n", data[0], data[2] & 0xf);
	expect_check("READ(16) beyond the end", rw(0, 16, blocks, 1), 5, 0x21);

	target = 9;
	st = scsi(c, 6, 0, 0);
	if (st < 0x100)
		rt_fail("vscsi: TEST UNIT READY on a missing target: status %#x, want a bad-target response", st);
	rt_printf("vscsi: missing target: virtio response %u\n", st - 0x100);
	if (vio_status(&dev) & VIO_S_NEEDS_RESET)
		rt_fail("%s: device needs reset", dev.name);
	rt_printf("vscsi: ok\n");
	return 0;
}

int main(void)
{
	long ret = -1;
	vio_init();
	if (rt_user_call(run, 0, &ret) < 0)
		rt_fail("vscsi: ring-3 call failed");
	return (int)ret;
}
