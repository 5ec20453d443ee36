/* virtio-blk marks the disk's dirty-block bitmap (disk.h) for every write it completes, on
 * both of its paths: io_uring on the image's direct_fd (which goes around the disk layer:
 * the device marks at the completion) and the synchronous disk operations (the disk layer
 * marks); write-zeroes and discard too; reads mark nothing. A migration copying the disk
 * (vmm/migrate_disk.h) relies on it. Over virtio-mmio with the test driver, on a raw image
 * opened by the disk layer. */
#include "check.h"
#include "vdrv.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/mmio.h"
#include "disk/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define BASE 0xd0000000ULL
#define HDR (VDRV_DATA)
#define STATUS (VDRV_DATA + 0x100)
#define BUF (VDRV_DATA + 0x1000)
#define DISK_SIZE (4 << 20)
#define BS (DISK_DIRTY_BLOCK / 512) /* sectors a dirty block */

static struct guest_mem *mem;
static struct bus bus;
static struct virtio_host host;
static struct virtio_blk *blk;
static struct virtio_mmio *mm;
static struct disk *disk;
static struct vdrv v;
static char path[64];

static void up(bool no_uring)
{
	struct virtio_blk_opts o = { .queues = 1, .no_uring = no_uring, .serial = "DIRTY" };
	int fd;

	snprintf(path, sizeof(path), "/tmp/vsrv-blk-dirty.%d", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, DISK_SIZE) == 0);
	close(fd);
	CHECK_EQ(guest_mem_create(16 << 20, &mem), 0);
	bus_init(&bus);
	host.mem = mem;
	host.mmio = &bus;
	CHECK_EQ(disk_open(path, "raw", 0, &disk), 0);
	CHECK_EQ(virtio_blk_create(&host, disk, "virtio-blk0", &o, &blk), 0);
	CHECK_EQ(virtio_mmio_create(virtio_blk_dev(blk), BASE, 5, &mm), 0);
	v = (struct vdrv){ .bus = &bus, .mem = mem, .base = BASE };
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 1), 15);
}

static void down(void)
{
	virtio_mmio_destroy(mm);
	virtio_blk_destroy(blk);
	disk_close(disk);
	bus_destroy(&bus);
	guest_mem_destroy(mem);
	unlink(path);
}

static int req(uint32_t type, uint64_t sector, uint32_t len, bool dev_writes)
{
	struct vdrv_buf b[3];
	unsigned n = 0;
	uint32_t *h = (uint32_t *)(mem->host + HDR);

	h[0] = type;
	h[1] = 0;
	*(uint64_t *)(h + 2) = sector;
	mem->host[STATUS] = 0xee;
	b[n++] = (struct vdrv_buf){ HDR, 16, false };
	if (len)
		b[n++] = (struct vdrv_buf){ BUF, len, dev_writes };
	b[n++] = (struct vdrv_buf){ STATUS, 1, true };
	vdrv_submit(&v, 0, b, n);
	return vdrv_wait(&v, 0, NULL) < 0 ? -1 : mem->host[STATUS];
}

/* The marked blocks, taken: a bit per block of the 4 MiB disk (64 blocks: one word). */
static uint64_t marks(void)
{
	return disk_dirty_take(disk, 0);
}

static void writes_mark(bool no_uring)
{
	struct { uint64_t sector; uint32_t num, flags; } *seg;

	up(no_uring);
	CHECK_EQ(virtio_blk_uses_uring(blk), !no_uring);
	memset(mem->host + BUF, 0x3c, 65536);
	CHECK_EQ(disk_dirty_start(disk, false), 0);
	CHECK_EQ(req(1, 5 * BS + 64, 65536, false), 0);      /* a write over blocks 5 and 6 */
	CHECK_EQ(marks(), 3ULL << 5);
	CHECK_EQ(req(1, 63 * BS + BS - 1, 512, false), 0);  /* the last sector */
	CHECK_EQ(marks(), 1ULL << 63);
	CHECK_EQ(req(0, 5 * BS, 65536, true), 0);           /* reads and flushes: nothing */
	CHECK_EQ(req(4, 0, 0, false), 0);
	CHECK_EQ(marks(), 0);
	seg = (void *)(mem->host + BUF);
	*seg = (typeof(*seg)){ 10 * BS, 8, 1 };
	CHECK_EQ(req(13, 0, 16, false), 0);                  /* write zeroes */
	CHECK_EQ(marks(), 1ULL << 10);
	*seg = (typeof(*seg)){ 20 * BS, 2 * BS, 0 };
	CHECK_EQ(req(11, 0, 16, false), 0);                  /* discard */
	CHECK_EQ(marks(), 3ULL << 20);
	disk_dirty_stop(disk);
	CHECK_EQ(req(1, 0, 512, false), 0);                  /* off: nothing */
	CHECK_EQ(marks(), 0);
	down();
}

static void test_uring_writes_mark(void)
{
	writes_mark(false);
}

static void test_sync_writes_mark(void)
{
	writes_mark(true);
}

int main(void)
{
	RUN(test_uring_writes_mark);
	RUN(test_sync_writes_mark);
	return check_done();
}
