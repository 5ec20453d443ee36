/* virtio-scsi over virtio-mmio with the test driver: addressing, commands through the
 * request queue, sense data, task management, bad requests. */
#include "check.h"
#include "vdrv.h"
#include "testdisk.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/scsi.h"

#include <stdio.h>

#define BASE 0xd0000000ULL
#define REQ (VDRV_DATA)
#define RESP (VDRV_DATA + 0x200)
#define BUF (VDRV_DATA + 0x1000)

static struct guest_mem *mem;
static struct bus bus;
static struct virtio_host host;
static struct virtio_scsi *sc;
static struct virtio_mmio *mm;
static struct disk *dk[2];
static struct vdrv v;
static char path[2][64];

static void up(void)
{
	int i;

	CHECK_EQ(guest_mem_create(16 << 20, &mem), 0);
	bus_init(&bus);
	host.mem = mem;
	host.mmio = &bus;
	CHECK_EQ(virtio_scsi_create(&host, "virtio-scsi", &sc), 0);
	for (i = 0; i < 2; i++) {
		snprintf(path[i], sizeof(path[i]), "/tmp/vsrv-vscsi-test.%d.%d", getpid(), i);
		unlink(path[i]);
		dk[i] = testdisk_open(path[i], 1 << 20, false);
	}
	CHECK_EQ(virtio_scsi_attach(sc, 0, 0, dk[0], "d0"), 0);
	CHECK_EQ(virtio_scsi_attach(sc, 3, 0, dk[1], "d1"), 0);
	CHECK_EQ(virtio_scsi_attach(sc, 3, 0, dk[1], "d1"), -EEXIST);
	CHECK_EQ(virtio_scsi_attach(sc, 16, 0, dk[1], "d1"), -EINVAL);
	CHECK_EQ(virtio_scsi_start(sc), 0);
	CHECK_EQ(virtio_mmio_create(virtio_scsi_dev(sc), BASE, 5, &mm), 0);
	v = (struct vdrv){ .bus = &bus, .mem = mem, .base = BASE };
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 3), 15);
}

static void down(void)
{
	int i;

	virtio_mmio_destroy(mm);
	virtio_scsi_destroy(sc);
	for (i = 0; i < 2; i++) {
		testdisk_close(dk[i]);
		unlink(path[i]);
	}
	bus_destroy(&bus);
	guest_mem_destroy(mem);
}

/* Returns the used length; the response is at RESP. */
static long cmd(unsigned target, unsigned lun, const uint8_t *cdb, unsigned cdb_len,
		uint32_t out_len, uint32_t in_len)
{
	uint8_t *r = mem->host + REQ;
	struct vdrv_buf b[4];
	unsigned n = 0;

	memset(r, 0, 51);
	r[0] = 1;
	r[1] = target;
	r[2] = 0x40 | (lun >> 8);
	r[3] = lun;
	memcpy(r + 19, cdb, cdb_len);
	memset(mem->host + RESP, 0xcc, 108);
	b[n++] = (struct vdrv_buf){ REQ, 51, false };
	if (out_len)
		b[n++] = (struct vdrv_buf){ BUF, out_len, false };
	b[n++] = (struct vdrv_buf){ RESP, 108, true };
	if (in_len)
		b[n++] = (struct vdrv_buf){ BUF, in_len, true };
	vdrv_submit(&v, 2, b, n);
	return vdrv_wait(&v, 2, NULL);
}

#define RESP_STATUS (mem->host[RESP + 10])
#define RESP_RESPONSE (mem->host[RESP + 11])
#define RESP_SENSE_KEY (mem->host[RESP + 12 + 2])

static void test_commands(void)
{
	const uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
	const uint8_t tur[6] = { 0 };
	uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 5, 0, 0, 2, 0 };
	uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 5, 0, 0, 2, 0 };
	const uint8_t bad[6] = { 0xc5 };
	uint32_t cfg_targets;

	up();
	cfg_targets = vdrv_rd(&v, 0x100 + 30, 2);
	CHECK_EQ(cfg_targets, 15);
	CHECK_EQ(cmd(0, 0, inq, 6, 0, 36), 108 + 36);
	CHECK_EQ(RESP_RESPONSE, 0);
	CHECK_EQ(RESP_STATUS, 0);
	CHECK(!memcmp(mem->host + BUF + 8, "VSRV", 4));
	cmd(1, 0, tur, 6, 0, 0); /* no target 1 */
	CHECK_EQ(RESP_RESPONSE, 3);
	cmd(3, 0, tur, 6, 0, 0);
	CHECK_EQ(RESP_RESPONSE, 0);
	CHECK_EQ(RESP_STATUS, 0);
	cmd(3, 2, tur, 6, 0, 0); /* no LUN 2 on target 3 */
	CHECK_EQ(RESP_STATUS, 2);
	CHECK_EQ(RESP_SENSE_KEY, 5);
	memset(mem->host + BUF, 0x3c, 1024);
	cmd(3, 0, w10, 10, 1024, 0);
	CHECK_EQ(RESP_STATUS, 0);
	memset(mem->host + BUF, 0, 1024);
	CHECK_EQ(cmd(3, 0, r10, 10, 0, 1024), 108 + 1024);
	CHECK_EQ(mem->host[BUF + 1023], 0x3c);
	{
		uint8_t fb[4];
		int fd = open(path[1], O_RDONLY);

		CHECK(pread(fd, fb, 4, 5 * 512) == 4 && fb[0] == 0x3c);
		close(fd);
	}
	cmd(0, 0, bad, 6, 0, 0);
	CHECK_EQ(RESP_STATUS, 2);
	CHECK_EQ(mem->host[RESP + 12 + 12], 0x20);
	CHECK_EQ(mem->host[RESP], 18); /* sense_len */
	down();
}

static void test_ctrl_and_bad(void)
{
	struct vdrv_buf b[2];
	uint32_t *tmf;

	up();
	tmf = (uint32_t *)(mem->host + REQ);
	memset(tmf, 0, 64);
	b[0] = (struct vdrv_buf){ REQ, 24, false };
	b[1] = (struct vdrv_buf){ RESP, 1, true };
	mem->host[RESP] = 0xcc;
	vdrv_submit(&v, 0, b, 2);
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 1);
	CHECK_EQ(mem->host[RESP], 0);
	/* a request without room for the response header */
	b[0] = (struct vdrv_buf){ REQ, 51, false };
	b[1] = (struct vdrv_buf){ RESP, 20, true };
	vdrv_submit(&v, 2, b, 2);
	CHECK_EQ(vdrv_wait(&v, 2, NULL), 12);
	CHECK_EQ(mem->host[RESP + 11], 9);
	CHECK_EQ(vdrv_status(&v), 15);
	down();
}

/* A CD/DVD drive on the controller (target 5), empty at first: NOT READY through the queue
 * (the target answers: an empty drive is a unit), then a medium goes in with the device
 * quiesced, as the media command does: one UNIT ATTENTION, then its blocks of 2048 bytes. The
 * controller's saved state has the drive as present, its medium being the drive's own. */
static void test_cdrom(void)
{
	static struct virtio_scsi_state st;
	const uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 }, tur[6] = { 0 };
	const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 1, 0 };
	struct scsi_mmc m;
	struct scsi_lun *l;
	struct disk *cd;
	char cdpath[64];
	int fd;

	up();
	snprintf(cdpath, sizeof(cdpath), "/tmp/vsrv-vscsi-test.%d.cd", getpid());
	cd = testdisk_open(cdpath, 40 * 2048, true);
	fd = open(cdpath, O_RDWR);
	CHECK(fd >= 0 && pwrite(fd, "\001CD001\001", 7, 16 * 2048) == 7);
	close(fd);
	CHECK_EQ(virtio_scsi_attach_cd(sc, 5, 0, &m, NULL, "cd0"), 0);
	CHECK_EQ(virtio_scsi_attach_cd(sc, 5, 0, &m, NULL, "cd0"), -EEXIST);
	CHECK_EQ(cmd(5, 0, inq, 6, 0, 36), 108 + 36);
	CHECK(RESP_RESPONSE == 0 && RESP_STATUS == 0 && mem->host[BUF] == 5);
	cmd(5, 0, tur, 6, 0, 0);
	CHECK(RESP_STATUS == 2 && RESP_SENSE_KEY == 2 && mem->host[RESP + 12 + 12] == 0x3a);
	CHECK_EQ(virtio_dev_quiesce(virtio_scsi_dev(sc)), 0);
	l = virtio_scsi_lun(sc, 5, 0);
	CHECK(l && l->mmc == &m);
	scsi_mmc_load(l, cd);
	CHECK_EQ(virtio_dev_resume(virtio_scsi_dev(sc)), 0);
	cmd(5, 0, tur, 6, 0, 0);
	CHECK(RESP_STATUS == 2 && RESP_SENSE_KEY == 6 && mem->host[RESP + 12 + 12] == 0x28);
	CHECK_EQ(virtio_scsi_save(sc, &st), 0); /* nothing pending any more */
	CHECK(st.lun[5][0].present && st.lun[5][0].nblocks == 0 && !st.lun[5][0].ua_asc);
	CHECK_EQ(virtio_scsi_restore(sc, &st), 0);
	CHECK_EQ(cmd(5, 0, r10, 10, 0, 2048), 108 + 2048);
	CHECK(RESP_STATUS == 0 && !memcmp(mem->host + BUF, "\001CD001\001", 7));
	CHECK_EQ(*(uint32_t *)(mem->host + RESP + 4), 0); /* no residual */
	down();
	testdisk_close(cd);
	unlink(cdpath);
}

int main(void)
{
	RUN(test_commands);
	RUN(test_cdrom);
	RUN(test_ctrl_and_bad);
	return check_done();
}
