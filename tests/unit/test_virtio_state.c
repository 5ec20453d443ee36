/* Save and restore of virtio-scsi, virtio-console and virtio-rng over virtio-mmio, each
 * into a fresh device on the same guest memory: a pending unit attention survives, the
 * client's input the guest had not received survives, requests queued at the save are
 * served once; states that do not fit the device are refused (the device core's refusals,
 * for every kind: test_device_state.c). Quiesce/resume nesting. */
#include "check.h"
#include "vdrv.h"
#include "testdisk.h"
#include "devices/virtio/console.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/scsi.h"

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#define BASE 0xd0000000ULL
#define REQ (VDRV_DATA)
#define RESP (VDRV_DATA + 0x200)
#define BUF (VDRV_DATA + 0x1000)

static struct guest_mem *mem;
static struct bus bus;
static struct virtio_host host;
static struct virtio_mmio *mm;
static struct vdrv v;

static void mem_up(void)
{
	CHECK_EQ(guest_mem_create(16 << 20, &mem), 0);
	bus_init(&bus);
	host = (struct virtio_host){ .mem = mem, .mmio = &bus };
	v = (struct vdrv){ .bus = &bus, .mem = mem, .base = BASE };
}

static void mem_down(void)
{
	bus_destroy(&bus);
	guest_mem_destroy(mem);
}

static uint16_t used_idx(unsigned q)
{
	return __atomic_load_n((uint16_t *)(mem->host + vdrv_ring(q, 2) + 2), __ATOMIC_ACQUIRE);
}

/* --- virtio-scsi --- */

static struct virtio_scsi *sc;
static struct disk *dk;
static char dpath[64];

static void scsi_up(void)
{
	CHECK_EQ(virtio_scsi_create(&host, "virtio-scsi", &sc), 0);
	CHECK_EQ(virtio_scsi_attach(sc, 2, 0, dk, "d0"), 0);
	CHECK_EQ(virtio_scsi_start(sc), 0);
	CHECK_EQ(virtio_mmio_create(virtio_scsi_dev(sc), BASE, 5, &mm), 0);
}

static void scsi_down(void)
{
	virtio_mmio_destroy(mm);
	virtio_scsi_destroy(sc);
}

/* Offer a command to target 2 LUN 0 on the request queue; waits when wait is set. Returns
 * the used length (or 0 when not waiting); the response is at RESP + 0x100 * slot. */
static long scsi_cmd(unsigned slot, const uint8_t *cdb, unsigned cdb_len, uint32_t in_len,
		     bool wait)
{
	uint8_t *r = mem->host + REQ + 64 * slot;
	struct vdrv_buf b[3];
	unsigned n = 0;

	memset(r, 0, 51);
	r[0] = 1;
	r[1] = 2;
	r[2] = 0x40;
	memcpy(r + 19, cdb, cdb_len);
	memset(mem->host + RESP + 0x100 * slot, 0xcc, 108);
	b[n++] = (struct vdrv_buf){ REQ + 64 * slot, 51, false };
	b[n++] = (struct vdrv_buf){ RESP + 0x100 * slot, 108, true };
	if (in_len)
		b[n++] = (struct vdrv_buf){ BUF + 0x1000 * slot, in_len, true };
	vdrv_submit(&v, 2, b, n);
	return wait ? vdrv_wait(&v, 2, NULL) : 0;
}

static void lun_reset(void)
{
	uint8_t *r = mem->host + REQ + 0x800;
	struct vdrv_buf b[2] = { { REQ + 0x800, 24, false }, { RESP + 0x800, 1, true } };

	memset(r, 0, 24);
	r[4] = 5; /* LOGICAL UNIT RESET */
	r[8] = 1;
	r[9] = 2;
	r[10] = 0x40;
	mem->host[RESP + 0x800] = 0xcc;
	vdrv_submit(&v, 0, b, 2);
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 1);
	CHECK_EQ(mem->host[RESP + 0x800], 0);
}

#define STATUS(slot) (mem->host[RESP + 0x100 * (slot) + 10])
#define SENSE(slot, i) (mem->host[RESP + 0x100 * (slot) + 12 + (i)])

static void test_scsi(void)
{
	static const uint8_t tur[6] = { 0 }, rsense[6] = { 0x03, 0, 0, 0, 18, 0 };
	static const uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
	struct virtio_scsi_state st, bad;
	struct virtio_mmio_state ms;
	uint16_t before;

	snprintf(dpath, sizeof(dpath), "/tmp/vsrv-scsistate-test.%d", getpid());
	unlink(dpath);
	dk = testdisk_open(dpath, 1 << 20, false);
	mem_up();
	scsi_up();
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 3), 15);
	/* a reset leaves a unit attention; INQUIRY does not consume it, TUR reports it */
	lun_reset();
	CHECK_EQ(scsi_cmd(0, inq, 6, 36, true), 108 + 36);
	CHECK_EQ(STATUS(0), 0);
	CHECK_EQ(scsi_cmd(0, tur, 6, 0, true), 108);
	CHECK_EQ(STATUS(0), 2);
	CHECK_EQ(SENSE(0, 2), 6);
	CHECK_EQ(SENSE(0, 12), 0x29);
	CHECK_EQ(SENSE(0, 13), 0x03);
	CHECK_EQ(scsi_cmd(0, tur, 6, 0, true), 108);
	CHECK_EQ(STATUS(0), 0); /* reported once */
	/* another reset, then the save with a REQUEST SENSE and a TUR queued, not served */
	lun_reset();
	CHECK_EQ(virtio_dev_quiesce(virtio_scsi_dev(sc)), 0);
	scsi_cmd(1, rsense, 6, 18, false);
	scsi_cmd(2, tur, 6, 0, false);
	before = used_idx(2);
	CHECK_EQ(virtio_scsi_save(sc, &st), 0);
	virtio_mmio_save(mm, &ms);
	CHECK_EQ(st.lun[2][0].ua_asc, 0x29);
	CHECK_EQ(st.lun[2][0].present, 1);
	scsi_down();
	CHECK_EQ(used_idx(2), before);
	scsi_up();
	bad = st;
	bad.lun[3][0].present = 1; /* a disk this controller does not have */
	CHECK_EQ(virtio_scsi_restore(sc, &bad), -EINVAL);
	bad = st;
	bad.lun[2][1].ua_asc = 0x29; /* a unit attention on an absent LUN */
	CHECK_EQ(virtio_scsi_restore(sc, &bad), -EINVAL);
	bad = st;
	bad.cdb_size = 16;
	CHECK_EQ(virtio_scsi_restore(sc, &bad), -EINVAL);
	CHECK_EQ(vdrv_status(&v), 0); /* nothing applied */
	CHECK_EQ(virtio_scsi_restore(sc, &st), 0);
	CHECK_EQ(virtio_mmio_restore(mm, &ms), 0);
	CHECK_EQ(vdrv_wait(&v, 2, NULL), 108 + 18);
	CHECK_EQ(vdrv_wait(&v, 2, NULL), 108);
	usleep(10000);
	CHECK_EQ(used_idx(2), (uint16_t)(before + 2));
	/* REQUEST SENSE returned the unit attention from before the save, and cleared it */
	CHECK_EQ(STATUS(1), 0);
	CHECK_EQ(mem->host[BUF + 0x1000 + 2], 6);
	CHECK_EQ(mem->host[BUF + 0x1000 + 12], 0x29);
	CHECK_EQ(mem->host[BUF + 0x1000 + 13], 0x03);
	CHECK_EQ(STATUS(2), 0);
	scsi_down();
	mem_down();
	testdisk_close(dk);
	unlink(dpath);
}

static void test_scsi_ua_survives_to_tur(void)
{
	static const uint8_t tur[6] = { 0 };
	struct virtio_scsi_state st;

	snprintf(dpath, sizeof(dpath), "/tmp/vsrv-scsistate-test.%d", getpid());
	dk = testdisk_open(dpath, 1 << 20, false);
	mem_up();
	scsi_up();
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 3), 15);
	lun_reset();
	CHECK_EQ(virtio_scsi_save(sc, &st), 0);
	scsi_down();
	scsi_up();
	CHECK_EQ(virtio_scsi_restore(sc, &st), 0);
	CHECK_EQ(scsi_cmd(0, tur, 6, 0, true), 108);
	CHECK_EQ(STATUS(0), 2);
	CHECK_EQ(SENSE(0, 2), 6);
	CHECK_EQ(SENSE(0, 12), 0x29);
	scsi_down();
	mem_down();
	testdisk_close(dk);
	unlink(dpath);
}

/* --- virtio-console --- */

static struct virtio_console *con;
static struct sockaddr_un sa = { .sun_family = AF_UNIX };

static void con_up(void)
{
	CHECK_EQ(virtio_console_create(&host, sa.sun_path, "virtio-console0", &con), 0);
	CHECK_EQ(virtio_mmio_create(virtio_console_dev(con), BASE, 5, &mm), 0);
}

static void con_down(void)
{
	virtio_mmio_destroy(mm);
	virtio_console_destroy(con);
}

static int client(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	usleep(20000);
	return fd;
}

/* Offer a receive buffer and wait for it: returns the used length. */
static long con_recv(uint64_t gpa, uint32_t len)
{
	struct vdrv_buf b = { gpa, len, true };

	vdrv_submit(&v, 0, &b, 1);
	return vdrv_wait(&v, 0, NULL);
}

static void test_console(void)
{
	struct virtio_console_state *st = calloc(1, sizeof(*st)), *bad = calloc(1, sizeof(*bad));
	struct virtio_mmio_state ms;
	struct vdrv_buf b;
	char buf[64];
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/vsrv-constate-test.%d", getpid());
	mem_up();
	con_up();
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 2), 15);
	fd = client();
	/* a save that is resumed on the same device loses and reorders nothing */
	CHECK_EQ(send(fd, "one ", 4, 0), 4);
	usleep(20000);
	CHECK_EQ(virtio_console_save(con, st), 0);
	CHECK_EQ(st->rx_len, 4);
	CHECK_EQ(send(fd, "two ", 4, 0), 4);
	usleep(20000);
	CHECK_EQ(con_recv(BUF, 64), 4);
	CHECK(!memcmp(mem->host + BUF, "one ", 4));
	CHECK_EQ(con_recv(BUF, 64), 4);
	CHECK(!memcmp(mem->host + BUF, "two ", 4));
	/* input the guest has no buffer for, then the save, and a fresh device */
	CHECK_EQ(send(fd, "buffered input", 14, 0), 14);
	usleep(20000);
	CHECK_EQ(virtio_console_save(con, st), 0);
	virtio_mmio_save(mm, &ms);
	CHECK_EQ(st->rx_len, 14);
	close(fd);
	con_down();
	con_up();
	*bad = *st;
	bad->rx_len = VCON_RX_PENDING + 1;
	CHECK_EQ(virtio_console_restore(con, bad), -EINVAL);
	*bad = *st;
	bad->max_nr_ports = 2;
	CHECK_EQ(virtio_console_restore(con, bad), -EINVAL);
	CHECK_EQ(virtio_console_restore(con, st), 0);
	CHECK_EQ(virtio_mmio_restore(mm, &ms), 0);
	CHECK_EQ(vdrv_status(&v), 15);
	/* the buffered input arrives in two small buffers, in order */
	CHECK_EQ(con_recv(BUF, 8), 8);
	CHECK_EQ(con_recv(BUF + 8, 64), 6);
	CHECK(!memcmp(mem->host + BUF, "buffered input", 14));
	/* a new client talks with the restored device both ways */
	fd = client();
	memcpy(mem->host + BUF + 0x100, "after", 5);
	b = (struct vdrv_buf){ BUF + 0x100, 5, false };
	vdrv_submit(&v, 1, &b, 1);
	CHECK_EQ(vdrv_wait(&v, 1, NULL), 0);
	CHECK_EQ(recv(fd, buf, sizeof(buf), 0), 5);
	CHECK(!memcmp(buf, "after", 5));
	CHECK_EQ(send(fd, "more", 4, 0), 4);
	CHECK_EQ(con_recv(BUF + 0x200, 64), 4);
	CHECK(!memcmp(mem->host + BUF + 0x200, "more", 4));
	close(fd);
	con_down();
	mem_down();
	free(st);
	free(bad);
}

/* --- virtio-rng, and quiesce nesting --- */

static void test_rng_and_quiesce(void)
{
	struct virtio_rng *rng;
	struct virtio_rng_state st;
	struct virtio_mmio_state ms;
	struct vdrv_buf b = { BUF, 512, true };
	struct virtio_dev *d;
	uint16_t before;

	mem_up();
	CHECK_EQ(virtio_rng_create(&host, &rng), 0);
	CHECK_EQ(virtio_mmio_create(virtio_rng_dev(rng), BASE, 5, &mm), 0);
	d = virtio_rng_dev(rng);
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 1), 15);
	vdrv_wr(&v, 0x14, 4, 1); /* device feature select */
	vdrv_wr(&v, 0x30, 4, 0);
	vdrv_submit(&v, 0, &b, 1);
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 512);
	/* nested quiesce: served only after the last resume */
	CHECK_EQ(virtio_dev_resume(d), -EINVAL);
	CHECK_EQ(virtio_dev_quiesce(d), 0);
	CHECK_EQ(virtio_dev_quiesce(d), 0);
	before = used_idx(0);
	vdrv_submit(&v, 0, &b, 1);
	usleep(20000);
	CHECK_EQ(used_idx(0), before);
	CHECK_EQ(virtio_dev_resume(d), 0);
	usleep(20000);
	CHECK_EQ(used_idx(0), before);
	CHECK(virtio_dev_quiesced(d));
	CHECK_EQ(virtio_dev_resume(d), 0);
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 512);
	CHECK(!virtio_dev_quiesced(d));
	/* one queued at the save, served by a fresh device */
	CHECK_EQ(virtio_dev_quiesce(d), 0);
	vdrv_submit(&v, 0, &b, 1);
	before = used_idx(0);
	CHECK_EQ(virtio_rng_save(rng, &st), 0);
	virtio_mmio_save(mm, &ms);
	CHECK_EQ(ms.regs.dev_feat_sel, 1);
	virtio_mmio_destroy(mm);
	virtio_rng_destroy(rng);
	CHECK_EQ(virtio_rng_create(&host, &rng), 0);
	CHECK_EQ(virtio_mmio_create(virtio_rng_dev(rng), BASE, 5, &mm), 0);
	st.dev.vq[0].ready = 1;
	st.dev.vq[0].size = 512; /* more than the device offers */
	CHECK_EQ(virtio_rng_restore(rng, &st), -EINVAL);
	st.dev.vq[0].size = VDRV_QSZ;
	CHECK_EQ(virtio_rng_restore(rng, &st), 0);
	CHECK_EQ(virtio_mmio_restore(mm, &ms), 0);
	/* feature word 1 (VERSION_1, RING_PACKED): the select survived */
	CHECK_EQ(vdrv_rd(&v, 0x10, 4), 1u | 1u << (VIRTIO_F_RING_PACKED - 32));
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 512);
	usleep(10000);
	CHECK_EQ(used_idx(0), (uint16_t)(before + 1));
	virtio_mmio_destroy(mm);
	virtio_rng_destroy(rng);
	mem_down();
}

int main(void)
{
	RUN(test_scsi);
	RUN(test_scsi_ua_survives_to_tur);
	RUN(test_console);
	RUN(test_rng_and_quiesce);
	return check_done();
}
