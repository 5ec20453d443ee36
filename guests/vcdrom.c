/* vcdrom: the CD/DVD drive on virtio-scsi (target 0, an ISO made by tests/t-virtio-cdrom.sh)
 * used as firmware and drivers use it: TEST UNIT READY (a first UNIT ATTENTION allowed),
 * INQUIRY (peripheral type 5, removable), READ CAPACITY (2048-byte blocks), GET
 * CONFIGURATION (current profile CD-ROM), READ TOC (the lead-out at the capacity), READ(10) of
 * the primary volume descriptor at LBA 16 ("CD001"; prints "vcdrom: volume ID"), a WRITE(10)
 * refused with DATA PROTECT, every opcode with every other CDB byte 0xff (each answered; the
 * drive works on). Then it polls GET EVENT STATUS NOTIFICATION while the test ejects
 * the disc through the control socket (a media-removal event, then NOT READY, MEDIUM NOT
 * PRESENT, TRAY OPEN) and inserts another (a new-media event, one UNIT ATTENTION 06/28/00,
 * then the new disc's volume descriptor), then resets the machine: the next boot finds the
 * second disc in the drive (a reset keeps the medium) and ends with "vcdrom: ok".
 * Parameters: transport=mmio|pci; lock: the guest locks the tray (PREVENT MEDIUM REMOVAL)
 * before it waits for the eject, which the test then has to force (t-server-cdroms). */
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
static uint8_t *data;
static uint64_t wait_ticks;

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

/* One command with `in` bytes of data-in (or `out` of data-out); the SCSI status, or 0x100 +
 * the virtio response code. */
static int scsi(const uint8_t *cdb, unsigned cdb_len, uint32_t out, uint32_t in)
{
	struct vio_sg sg[4];
	unsigned n = 0, n_out;

	memset(rq, 0, sizeof(*rq));
	memset(rs, 0, sizeof(*rs));
	rq->lun[0] = 1;
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
		rt_fail("vcdrom: ring full");
	vq_kick(&reqq);
	if (!vq_wait(&reqq, NULL, 10000))
		rt_fail("vcdrom: command %#x timed out", cdb[0]);
	if (rs->response)
		return 0x100 + rs->response;
	return rs->status;
}

static void good(const char *what, int st)
{
	if (st != 0)
		rt_fail("vcdrom: %s: status %#x sense %#x/%#x/%#x", what, st, rs->sense[2] & 0xf,
			rs->sense[12], rs->sense[13]);
}

static void expect_sense(const char *what, int st, uint8_t key, uint8_t asc, uint8_t ascq)
{
	if (st != 2 || (rs->sense[2] & 0xf) != key || rs->sense[12] != asc || rs->sense[13] != ascq)
		rt_fail("vcdrom: %s: status %#x sense %#x/%#x/%#x, want %#x/%#x/%#x", what, st,
			rs->sense[2] & 0xf, rs->sense[12], rs->sense[13], key, asc, ascq);
	rt_printf("vcdrom: %s: sense %02x/%02x/%02x\n", what, key, asc, ascq);
}

static char id[33];

/* READ(10) of the primary volume descriptor: prints its volume id (in id). */
static void read_pvd(void)
{
	uint8_t c[10] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 1, 0 };
	int n;

	good("READ(10) LBA 16", scsi(c, 10, 0, 2048));
	if (data[0] != 1 || memcmp(data + 1, "CD001", 5))
		rt_fail("vcdrom: LBA 16 is not a primary volume descriptor (%#x %c%c%c%c%c)", data[0],
			data[1], data[2], data[3], data[4], data[5]);
	memcpy(id, data + 40, 32);
	for (n = 32; n > 0 && id[n - 1] == ' '; n--)
		;
	id[n] = 0;
	rt_printf("vcdrom: volume %s\n", id);
}

/* Poll GET EVENT STATUS NOTIFICATION (media class) until media event `want`. */
static void wait_event(unsigned want, const char *what)
{
	uint8_t c[10] = { 0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0 };
	uint64_t end = rt_rdtsc() + wait_ticks;

	rt_printf("vcdrom: waiting for %s\n", what);
	for (;;) {
		good("GET EVENT STATUS NOTIFICATION", scsi(c, 10, 0, 8));
		if (data[2] != 4 || !(data[3] & 0x10))
			rt_fail("vcdrom: GESN: class %#x supported %#x, want the media class", data[2],
				data[3]);
		if ((data[4] & 0xf) == want)
			break;
		if (rt_rdtsc() > end)
			rt_fail("vcdrom: no %s event in 60 s", what);
		for (uint64_t t = rt_rdtsc() + wait_ticks / 6000; rt_rdtsc() < t;)
			; /* ~10 ms */
	}
	rt_printf("vcdrom: media event %u (%s), media status %#x\n", want, what, data[5]);
}

static long run(long arg)
{
	uint8_t tur[6] = { 0 }, inq[6] = { 0x12, 0, 0, 0, 96, 0 }, cap[10] = { 0x25 };
	uint8_t gc[10] = { 0x46, 0, 0, 0, 0, 0, 0, 0, 64, 0 };
	uint8_t toc[10] = { 0x43, 0, 0, 0, 0, 0, 0, 0, 20, 0 };
	uint8_t wr[10] = { 0x2a, 0, 0, 0, 0, 16, 0, 0, 1, 0 };
	uint32_t blocks;
	int st;
	(void)arg;

	if (vio_find(VIO_ID_SCSI, 0, vio_param_transport(), &dev) < 0)
		rt_fail("vcdrom: no virtio-scsi device");
	if (vio_negotiate(&dev, 1ull << VIO_F_EVENT_IDX) < 0 || vq_setup(&dev, &ctlq, 0, 8, 0) < 0 ||
	    vq_setup(&dev, &reqq, 2, 16, 0) < 0)
		rt_fail("%s: set-up failed", dev.name);
	vio_driver_ok(&dev);
	rq = vio_alloc(sizeof(*rq), 64);
	rs = vio_alloc(sizeof(*rs), 64);
	data = vio_alloc(8192, 4096);

	st = scsi(tur, 6, 0, 0);
	if (st == 2 && (rs->sense[2] & 0xf) == 6)
		st = scsi(tur, 6, 0, 0);
	good("TEST UNIT READY", st);
	good("INQUIRY", scsi(inq, 6, 0, 96));
	if ((data[0] & 0x1f) != 5 || !(data[1] & 0x80))
		rt_fail("vcdrom: INQUIRY: type %#x rmb %u, want a removable CD/DVD device",
			data[0] & 0x1f, data[1] >> 7);
	good("READ CAPACITY", scsi(cap, 10, 0, 8));
	blocks = rd32(data) + 1;
	if (rd32(data + 4) != 2048)
		rt_fail("vcdrom: READ CAPACITY: blocks of %u bytes", rd32(data + 4));
	rt_printf("vcdrom: %u blocks of 2048\n", blocks);
	good("GET CONFIGURATION", scsi(gc, 10, 0, 64));
	if ((data[6] << 8 | data[7]) != 0x0008)
		rt_fail("vcdrom: current profile %#x, want CD-ROM", data[6] << 8 | data[7]);
	good("READ TOC", scsi(toc, 10, 0, 20));
	if (data[14] != 0xaa || rd32(data + 16) != blocks)
		rt_fail("vcdrom: READ TOC: lead-out %#x at %u", data[14], rd32(data + 16));
	read_pvd();
	expect_sense("WRITE(10)", scsi(wr, 10, 2048, 0), 7, 0x27, 0);
	/* hostile CDBs: all 256 opcodes with every field 0xff (PREVENT locks the tray: ALLOW);
	 * counted by answer: GOOD, CHECK CONDITION, or a virtio response other than OK (QEMU
	 * answers a FORMAT UNIT without data-out with OVERRUN; vsrv has none of those) */
	{
		unsigned n_good = 0, n_check = 0, n_transport = 0;
		uint8_t allow[6] = { 0x1e };

		for (unsigned op = 0; op < 256; op++) {
			uint8_t bad[16];

			memset(bad, 0xff, sizeof(bad));
			bad[0] = (uint8_t)op;
			st = scsi(bad, 16, 0, 512);
			if (st == 0)
				n_good++;
			else if (st == 2)
				n_check++;
			else if (st >= 0x100)
				n_transport++;
			else
				rt_fail("vcdrom: opcode %#x with fields 0xff: status %#x", op, st);
		}
		good("PREVENT ALLOW MEDIUM REMOVAL (allow)", scsi(allow, 6, 0, 0));
		good("TEST UNIT READY after hostile CDBs", scsi(tur, 6, 0, 0));
		rt_printf("vcdrom: hostile CDBs: %u GOOD, %u CHECK CONDITION, %u transport responses\n",
			  n_good, n_check, n_transport);
	}
	if (!strcmp(id, "VSRV_CD_TWO")) { /* the second boot */
		rt_printf("vcdrom: the drive kept the second disc across the reset\n");
		rt_printf("vcdrom: ok\n");
		return 0;
	}

	if (rt_param_flag("lock")) {
		uint8_t prevent[6] = { 0x1e, 0, 0, 0, 1, 0 };

		good("PREVENT ALLOW MEDIUM REMOVAL (prevent)", scsi(prevent, 6, 0, 0));
		rt_printf("vcdrom: the drive is locked\n");
	}
	wait_event(3, "the eject");
	expect_sense("TEST UNIT READY without a disc", scsi(tur, 6, 0, 0), 2, 0x3a, 0x02);
	wait_event(2, "a new disc");
	expect_sense("TEST UNIT READY after the change", scsi(tur, 6, 0, 0), 6, 0x28, 0);
	good("TEST UNIT READY", scsi(tur, 6, 0, 0));
	good("READ CAPACITY", scsi(cap, 10, 0, 8));
	rt_printf("vcdrom: %u blocks of 2048\n", rd32(data) + 1);
	read_pvd();
	if (vio_status(&dev) & VIO_S_NEEDS_RESET)
		rt_fail("%s: device needs reset", dev.name);
	rt_printf("vcdrom: resetting\n");
	return 2;
}

int main(void)
{
	long ret = -1;

	vio_init();
	wait_ticks = rt_tsc_calibrate() * 60; /* 60 s */
	if (rt_user_call(run, 0, &ret) < 0)
		rt_fail("vcdrom: ring-3 call failed");
	if (ret == 2) {
		rt_outb(0x64, 0xfe); /* i8042 reset: the VM is built again */
		rt_fail("vcdrom: the reset did not happen");
	}
	return (int)ret;
}
