/* virtio-blk over virtio-mmio with the test driver: I/O through io_uring and through the
 * synchronous disk operations, flush, discard, write-zeroes, get-id, read-only, bad
 * requests. */
#include "check.h"
#include "vdrv.h"
#include "testdisk.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/mmio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define BASE 0xd0000000ULL
#define HDR (VDRV_DATA)
#define STATUS (VDRV_DATA + 0x100)
#define BUF (VDRV_DATA + 0x1000)
#define DISK_SIZE (4 << 20)

static struct guest_mem *mem;
static struct bus bus;
static struct virtio_host host;
static struct virtio_blk *blk;
static struct virtio_mmio *mm;
static struct disk *disk;
static struct vdrv v;
static char path[64];

static void up(bool ro, bool no_uring, unsigned queues)
{
	struct virtio_blk_opts o = { .queues = queues, .no_uring = no_uring, .serial = "SER123" };

	snprintf(path, sizeof(path), "/tmp/vsrv-blk-test.%d", getpid());
	unlink(path);
	CHECK_EQ(guest_mem_create(16 << 20, &mem), 0);
	bus_init(&bus);
	host.mem = mem;
	host.mmio = &bus;
	disk = testdisk_open(path, DISK_SIZE, ro);
	CHECK_EQ(virtio_blk_create(&host, disk, "virtio-blk0", &o, &blk), 0);
	CHECK_EQ(virtio_mmio_create(virtio_blk_dev(blk), BASE, 5, &mm), 0);
	v = (struct vdrv){ .bus = &bus, .mem = mem, .base = BASE };
	CHECK_EQ(vdrv_setup(&v, ~0ULL, queues ? queues : 1), 15);
}

static void down(void)
{
	virtio_mmio_destroy(mm);
	virtio_blk_destroy(blk);
	testdisk_close(disk);
	bus_destroy(&bus);
	guest_mem_destroy(mem);
	unlink(path);
}

/* One request: header, optional data (len bytes at BUF, device-writable if dev_writes),
 * status. Returns the status byte, or -1 on timeout; *used gets the used length. */
static int req(unsigned q, uint32_t type, uint64_t sector, uint32_t len, bool dev_writes,
	       long *used)
{
	struct vdrv_buf b[3];
	unsigned n = 0;
	long u;
	uint32_t *h = (uint32_t *)(mem->host + HDR);

	h[0] = type;
	h[1] = 0;
	*(uint64_t *)(h + 2) = sector;
	mem->host[STATUS] = 0xee;
	b[n++] = (struct vdrv_buf){ HDR, 16, false };
	if (len)
		b[n++] = (struct vdrv_buf){ BUF, len, dev_writes };
	b[n++] = (struct vdrv_buf){ STATUS, 1, true };
	vdrv_submit(&v, q, b, n);
	u = vdrv_wait(&v, q, NULL);
	if (used)
		*used = u;
	return u < 0 ? -1 : mem->host[STATUS];
}

static void rw_cycle(bool no_uring)
{
	uint8_t *buf;
	long used;
	int i;

	up(false, no_uring, 1);
	CHECK_EQ(virtio_blk_uses_uring(blk), !no_uring);
	CHECK_EQ(vdrv_rd(&v, 0x100, 4), DISK_SIZE / 512); /* capacity */
	buf = mem->host + BUF;
	for (i = 0; i < 65536; i++)
		buf[i] = i * 7 + 3;
	CHECK_EQ(req(0, 1, 8, 65536, false, &used), 0);
	CHECK_EQ(used, 1);
	memset(buf, 0, 65536);
	CHECK_EQ(req(0, 0, 8, 65536, true, &used), 0);
	CHECK_EQ(used, 65537);
	for (i = 0; i < 65536 && buf[i] == (uint8_t)(i * 7 + 3); i++)
		;
	CHECK_EQ(i, 65536);
	/* the file holds it */
	{
		uint8_t fb[512];
		int fd = open(path, O_RDONLY);

		CHECK(pread(fd, fb, 512, 8 * 512) == 512);
		CHECK_EQ(fb[1], (uint8_t)10);
		close(fd);
	}
	CHECK_EQ(req(0, 4, 0, 0, false, NULL), 0); /* flush */
	CHECK_EQ(req(0, 8, 0, 20, true, &used), 0); /* get id */
	CHECK_EQ(used, 21);
	CHECK(!memcmp(buf, "SER123", 7));
	/* beyond the end, unaligned, unknown type */
	CHECK_EQ(req(0, 0, DISK_SIZE / 512 - 1, 1024, true, NULL), 1);
	CHECK_EQ(req(0, 0, UINT64_MAX - 1, 1024, true, NULL), 1);
	CHECK_EQ(req(0, 1, 0, 100, false, NULL), 1);
	CHECK_EQ(req(0, 77, 0, 0, false, NULL), 2);
	CHECK_EQ(vdrv_status(&v), 15); /* bad requests fail; the device keeps working */
	down();
}

static void test_rw_uring(void)
{
	rw_cycle(false);
}

static void test_rw_sync(void)
{
	rw_cycle(true);
}

static void test_discard_zeroes(void)
{
	struct { uint64_t sector; uint32_t num, flags; } *seg;
	uint8_t *buf;

	up(false, false, 1);
	buf = mem->host + BUF;
	memset(buf, 0xab, 8192);
	CHECK_EQ(req(0, 1, 0, 8192, false, NULL), 0);
	seg = (void *)buf;
	seg->sector = 0;
	seg->num = 8;
	seg->flags = 1;
	CHECK_EQ(req(0, 13, 0, 16, false, NULL), 0); /* write zeroes, may unmap */
	seg->sector = DISK_SIZE / 512 - 4;
	seg->num = 8;
	CHECK_EQ(req(0, 11, 0, 16, false, NULL), 1); /* discard beyond the end */
	seg->sector = 8;
	seg->num = 8;
	seg->flags = 0;
	CHECK_EQ(req(0, 11, 0, 16, false, NULL), 0);
	CHECK_EQ(req(0, 11, 0, 15, false, NULL), 2); /* torn segment table */
	memset(buf, 0x55, 8192);
	CHECK_EQ(req(0, 0, 0, 8192, true, NULL), 0);
	CHECK_EQ(buf[0], 0);
	CHECK_EQ(buf[8191], 0);
	down();
}

static void test_readonly(void)
{
	up(true, false, 1);
	vdrv_wr(&v, 0x14, 4, 0);
	CHECK(vdrv_rd(&v, 0x10, 4) & (1 << 5)); /* VIRTIO_BLK_F_RO */
	CHECK_EQ(req(0, 1, 0, 512, false, NULL), 1);
	CHECK_EQ(req(0, 0, 0, 512, true, NULL), 0);
	down();
}

static void test_multiqueue(void)
{
	up(false, false, 4);
	CHECK_EQ(vdrv_rd(&v, 0x100 + 34, 2), 4);
	memset(mem->host + BUF, 0x11, 4096);
	CHECK_EQ(req(3, 1, 64, 4096, false, NULL), 0);
	memset(mem->host + BUF, 0, 4096);
	CHECK_EQ(req(2, 0, 64, 4096, true, NULL), 0);
	CHECK_EQ(mem->host[BUF + 4095], 0x11);
	down();
}

static void test_no_status(void)
{
	struct vdrv_buf b = { HDR, 16, false };

	up(false, false, 1);
	vdrv_submit(&v, 0, &b, 1); /* no writable status byte at all */
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 0);
	CHECK_EQ(req(0, 4, 0, 0, false, NULL), 0);
	down();
}

int main(void)
{
	RUN(test_rw_uring);
	RUN(test_rw_sync);
	RUN(test_discard_zeroes);
	RUN(test_readonly);
	RUN(test_multiqueue);
	RUN(test_no_status);
	return check_done();
}
