/* Save and restore of virtio-blk over virtio-mmio (tests/unit/vdrv.h plays the guest) on a
 * real file opened with O_DIRECT through the disk layer, so requests go through io_uring:
 * a save while requests are in flight completes them first; requests queued but not
 * served at the save are served exactly once by a fresh device restored on the same guest
 * memory; states of another disk are refused and leave the device usable (the core's
 * refusals, for every kind: test_device_state.c). */
#include "check.h"
#include "vdrv.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/mmio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#define BASE 0xd0000000ULL
#define GSI 5
#define DISK_SIZE (8 << 20)
#define NREQ 16                     /* at once: 3 descriptors each in a 64-entry ring */
#define HDR(i) (VDRV_DATA + 32 * (i))
#define STATUS(i) (VDRV_DATA + 0x1000 + (i))
#define BUF(i) (VDRV_DATA + 0x10000 + 0x20000ULL * (i))
#define CHUNK 0x20000               /* 128 KiB per request */

static struct guest_mem *mem;
static struct bus bus;
static struct virtio_host host;
static struct virtio_blk *blk;
static struct virtio_mmio *mm;
static struct disk *disk;
static struct vdrv v;
static char path[64];

static void dev_up(void)
{
	struct virtio_blk_opts o = { .serial = "STATE1" };

	CHECK_EQ(disk_open(path, "raw", DISK_NOCACHE, &disk), 0);
	CHECK_EQ(virtio_blk_create(&host, disk, "virtio-blk0", &o, &blk), 0);
	CHECK_EQ(virtio_mmio_create(virtio_blk_dev(blk), BASE, GSI, &mm), 0);
}

static void dev_down(void)
{
	virtio_mmio_destroy(mm);
	virtio_blk_destroy(blk);
	disk_close(disk);
	mm = NULL;
	blk = NULL;
	disk = NULL;
}

static void up(void)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/vsrv-blkstate-test.%d", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, DISK_SIZE) == 0);
	close(fd);
	CHECK_EQ(guest_mem_create(16 << 20, &mem), 0);
	bus_init(&bus);
	host.mem = mem;
	host.mmio = &bus;
	dev_up();
	v = (struct vdrv){ .bus = &bus, .mem = mem, .base = BASE };
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 1), 15);
}

static void down(void)
{
	dev_down();
	bus_destroy(&bus);
	guest_mem_destroy(mem);
	unlink(path);
}

/* Offer request slot i (type 0 read / 1 write of CHUNK bytes at sector) without waiting. */
static void submit(unsigned i, uint32_t type, uint64_t sector)
{
	uint32_t *h = (uint32_t *)(mem->host + HDR(i));
	struct vdrv_buf b[3] = {
		{ HDR(i), 16, false }, { BUF(i), CHUNK, type == 0 }, { STATUS(i), 1, true },
	};

	h[0] = type;
	h[1] = 0;
	*(uint64_t *)(h + 2) = sector;
	mem->host[STATUS(i)] = 0xee;
	vdrv_submit(&v, 0, b, 3);
}

static uint16_t used_idx(void)
{
	return __atomic_load_n((uint16_t *)(mem->host + vdrv_ring(0, 2) + 2), __ATOMIC_ACQUIRE);
}

static void fill(unsigned i, uint8_t seed)
{
	unsigned k;

	for (k = 0; k < CHUNK; k++)
		mem->host[BUF(i) + k] = (uint8_t)(k * 13 + seed);
}

static bool holds(unsigned i, uint8_t seed)
{
	unsigned k;

	for (k = 0; k < CHUNK; k++)
		if (mem->host[BUF(i) + k] != (uint8_t)(k * 13 + seed))
			return false;
	return true;
}

/* Wait for n completions; each head must come back once. */
static void wait_n(unsigned n)
{
	unsigned k;

	for (k = 0; k < n; k++)
		CHECK(vdrv_wait(&v, 0, NULL) >= 0);
}

static void test_save_inflight(void)
{
	struct virtio_blk_state st;
	unsigned i, outstanding;
	uint16_t base;

	up();
	CHECK(virtio_blk_uses_uring(blk));
	base = used_idx();
	for (i = 0; i < NREQ; i++)
		fill(i, i);
	for (i = 0; i < NREQ; i++)
		submit(i, 1, (uint64_t)i * CHUNK / 512);
	outstanding = (uint16_t)(base + NREQ - used_idx());
	CHECK_EQ(virtio_blk_save(blk, &st), 0);
	/* every request taken before the save is complete and in the used ring */
	CHECK_EQ(used_idx(), (uint16_t)(base + NREQ));
	CHECK_EQ(st.dev.vq[0].used_idx, (uint16_t)(base + NREQ));
	CHECK_EQ(st.dev.vq[0].last_avail, (uint16_t)(base + NREQ));
	for (i = 0; i < NREQ; i++)
		CHECK_EQ(mem->host[STATUS(i)], 0);
	printf("# %u of %u requests were not complete when the save began\n", outstanding, NREQ);
	wait_n(NREQ);
	/* the device goes on after the save: read back */
	for (i = 0; i < NREQ; i++) {
		memset(mem->host + BUF(i), 0, CHUNK);
		submit(i, 0, (uint64_t)i * CHUNK / 512);
	}
	wait_n(NREQ);
	for (i = 0; i < NREQ; i++)
		CHECK(holds(i, i) && mem->host[STATUS(i)] == 0);
	down();
}

static void test_restore_fresh(void)
{
	struct virtio_blk_state st;
	struct virtio_mmio_state ms;
	uint16_t before, avail;
	uint64_t irq;
	unsigned i;

	up();
	/* served before the save: writes of pattern i + 100 to slots 0..7 */
	for (i = 0; i < 8; i++) {
		fill(i, i + 100);
		submit(i, 1, (uint64_t)i * CHUNK / 512);
	}
	wait_n(8);
	/* queued, not served: the device is quiesced (as the VMM does before a save) */
	CHECK_EQ(virtio_dev_quiesce(virtio_blk_dev(blk)), 0);
	for (i = 0; i < 4; i++) { /* reads of what was written */
		memset(mem->host + BUF(i), 0, CHUNK);
		submit(i, 0, (uint64_t)i * CHUNK / 512);
	}
	for (i = 8; i < 12; i++) { /* writes elsewhere */
		fill(i, i + 50);
		submit(i, 1, (uint64_t)i * CHUNK / 512);
	}
	before = used_idx();
	avail = v.avail_idx[0];
	CHECK_EQ(virtio_blk_save(blk, &st), 0);
	virtio_mmio_save(mm, &ms);
	CHECK_EQ(st.dev.vq[0].last_avail, (uint16_t)(avail - 8));
	CHECK_EQ(st.dev.vq[0].used_idx, before);
	CHECK_EQ(st.dev.status, 15);
	CHECK_EQ(st.writeback, 1);
	/* the old device goes away still quiesced: it serves nothing more */
	dev_down();
	CHECK_EQ(used_idx(), before);
	dev_up();
	CHECK_EQ(virtio_blk_restore(blk, &st), 0);
	CHECK_EQ(virtio_mmio_restore(mm, &ms), 0);
	CHECK_EQ(vdrv_status(&v), 15);
	CHECK_EQ(vdrv_rd(&v, 0x100 + 32, 1), 1); /* writeback */
	wait_n(8);
	usleep(20000);
	CHECK_EQ(used_idx(), (uint16_t)(before + 8)); /* exactly once each */
	CHECK(read(mm->irq_fd, &irq, 8) == 8);
	for (i = 0; i < 4; i++)
		CHECK(holds(i, i + 100) && mem->host[STATUS(i)] == 0);
	for (i = 8; i < 12; i++) {
		CHECK_EQ(mem->host[STATUS(i)], 0);
		memset(mem->host + BUF(i), 0, CHUNK);
		submit(i, 0, (uint64_t)i * CHUNK / 512);
	}
	wait_n(4);
	for (i = 8; i < 12; i++)
		CHECK(holds(i, i + 50));
	/* and the restored device takes new work after going idle (notifications re-armed) */
	fill(12, 7);
	submit(12, 1, 12ULL * CHUNK / 512);
	wait_n(1);
	CHECK_EQ(mem->host[STATUS(12)], 0);
	CHECK_EQ(used_idx(), (uint16_t)(before + 13));
	down();
}

static void test_restore_refuses_bad(void)
{
	struct virtio_blk_state st, bad;
	struct virtio_mmio_state ms, mbad;

	up();
	fill(0, 1);
	submit(0, 1, 0);
	wait_n(1);
	CHECK_EQ(virtio_blk_save(blk, &st), 0);
	virtio_mmio_save(mm, &ms);
	dev_down();
	dev_up();
	/* the device core's refusals: tests/unit/test_device_state.c, for every kind */
	bad = st;
	bad.capacity++; /* another disk */
	CHECK_EQ(virtio_blk_restore(blk, &bad), -EINVAL);
	bad = st;
	bad.serial[0] = 'X';
	CHECK_EQ(virtio_blk_restore(blk, &bad), -EINVAL);
	bad = st;
	bad.writeback = 2;
	CHECK_EQ(virtio_blk_restore(blk, &bad), -EINVAL);
	mbad = ms;
	mbad.base += 0x1000; /* the guest was told another address */
	CHECK_EQ(virtio_mmio_restore(mm, &mbad), -EINVAL);
	mbad = ms;
	mbad.device_id = VIRTIO_ID_RNG;
	CHECK_EQ(virtio_mmio_restore(mm, &mbad), -EINVAL);
	/* nothing was applied: the fresh device is still fresh and works */
	CHECK_EQ(vdrv_status(&v), 0);
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 1), 15);
	memset(mem->host + BUF(0), 0, CHUNK);
	submit(0, 0, 0);
	wait_n(1);
	CHECK(holds(0, 1));
	down();
}

int main(void)
{
	RUN(test_save_inflight);
	RUN(test_restore_fresh);
	RUN(test_restore_refuses_bad);
	return check_done();
}
