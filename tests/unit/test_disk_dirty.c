/* Unit tests of the block layer's dirty-block bitmap (src/disk/disk_dirty.c): 64 KiB
 * granularity and its edges (a last block shorter than 64 KiB, ranges across bitmap words,
 * ranges past the end), every write path marking (writev, write_zeroes, discard on raw and
 * VHD images; a read-only disk none), start/stop/take rounds, and marks from concurrent
 * writer threads while a copier takes them; disk_block_status's holes (what a copier skips). */
#include "check.h"
#include "scratch.h"
#include "disk/disk.h"
#include "vhd/vhd.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLK_SECT (DISK_DIRTY_BLOCK / DISK_SECTOR) /* 128 sectors a block */

static struct disk *raw_disk(const char *name, uint64_t size)
{
	struct disk *d = NULL;
	int fd = open(P(name), O_CREAT | O_RDWR | O_TRUNC, 0644);

	CHECK(fd >= 0 && ftruncate(fd, (off_t)size) == 0);
	close(fd);
	CHECK_EQ(disk_open(P(name), "raw", 0, &d), 0);
	return d;
}

/* The marked blocks as a list (taking them): n of them into out[]. */
static unsigned take_all(struct disk *d, uint64_t *out, unsigned max)
{
	unsigned n = 0;

	for (uint64_t w = 0; w < disk_dirty_words(d); w++) {
		uint64_t v = disk_dirty_take(d, w);

		while (v) {
			if (n < max)
				out[n] = w * 64 + (uint64_t)__builtin_ctzll(v);
			n++;
			v &= v - 1;
		}
	}
	return n;
}

static void test_granularity(void)
{
	/* 16 whole blocks and a 17th of 1536 bytes */
	struct disk *d = raw_disk("g.raw", (16 << 16) + 1536);
	uint64_t b[32];

	if (!d)
		return;
	CHECK_EQ(DISK_DIRTY_BLOCK, 65536);
	CHECK_EQ(disk_dirty_blocks(d), 17);
	CHECK_EQ(disk_dirty_words(d), 1);
	CHECK_EQ(disk_dirty_take(d, 0), 0);       /* never started */
	disk_dirty_mark(d, 0, 1);                 /* off: nothing */
	CHECK_EQ(disk_dirty_start(d, false), 0);
	CHECK_EQ(disk_dirty_count(d), 0);
	disk_dirty_mark(d, BLK_SECT - 1, 1);      /* the last sector of block 0 */
	CHECK_EQ(take_all(d, b, 32), 1);
	CHECK_EQ(b[0], 0);
	disk_dirty_mark(d, BLK_SECT, 1);          /* the first of block 1 */
	CHECK_EQ(take_all(d, b, 32), 1);
	CHECK_EQ(b[0], 1);
	disk_dirty_mark(d, BLK_SECT - 1, 2);      /* across blocks 0 and 1 */
	CHECK_EQ(take_all(d, b, 32), 2);
	CHECK(b[0] == 0 && b[1] == 1);
	disk_dirty_mark(d, 5 * BLK_SECT, 0);      /* nothing */
	disk_dirty_mark(d, 16 * BLK_SECT + 2, 1); /* the short last block: its last sector */
	CHECK_EQ(take_all(d, b, 32), 1);
	CHECK_EQ(b[0], 16);
	disk_dirty_mark(d, 15 * BLK_SECT + 127, 50); /* past the end: clipped */
	CHECK_EQ(take_all(d, b, 32), 2);
	CHECK(b[0] == 15 && b[1] == 16);
	disk_dirty_mark(d, d->size / 512, 8);     /* wholly past the end */
	disk_dirty_mark(d, 2, UINT64_MAX);        /* a length that wraps */
	CHECK_EQ(disk_dirty_count(d), 17);
	CHECK_EQ(take_all(d, b, 32), 17);
	CHECK_EQ(disk_dirty_count(d), 0);
	CHECK_EQ(disk_dirty_take(d, 1), 0);       /* past the bitmap */
	disk_close(d);
}

static void test_words(void)
{
	/* 150 blocks: three words, the last one partial */
	struct disk *d = raw_disk("w.raw", 150ULL << 16);
	uint64_t b[200];

	if (!d)
		return;
	CHECK_EQ(disk_dirty_words(d), 3);
	CHECK_EQ(disk_dirty_start(d, true), 0);   /* a full pass: every block */
	CHECK_EQ(disk_dirty_count(d), 150);
	CHECK_EQ(disk_dirty_take(d, 2), (1ULL << 22) - 1);
	CHECK_EQ(take_all(d, b, 200), 128);
	disk_dirty_mark(d, 62 * BLK_SECT + 5, 4 * BLK_SECT); /* blocks 62..66 over words 0, 1 */
	CHECK_EQ(take_all(d, b, 200), 5);
	CHECK(b[0] == 62 && b[4] == 66);
	disk_dirty_mark(d, 0, 150 * BLK_SECT);    /* all of it */
	CHECK_EQ(disk_dirty_take(d, 0), ~0ULL);
	CHECK_EQ(disk_dirty_take(d, 1), ~0ULL);
	CHECK_EQ(disk_dirty_take(d, 2), (1ULL << 22) - 1);
	disk_dirty_stop(d);
	disk_dirty_mark(d, 0, 1);                 /* off again: nothing */
	CHECK_EQ(disk_dirty_count(d), 0);
	disk_dirty_mark(d, 70 * BLK_SECT, 1);
	CHECK_EQ(disk_dirty_start(d, false), 0);  /* a new start is clear */
	CHECK_EQ(disk_dirty_count(d), 0);
	disk_close(d);
}

/* Every write path of d marks: writev, write_zeroes, discard; reads and flushes do not. */
static void writes_mark(struct disk *d)
{
	uint8_t buf[4096];
	struct iovec v = { buf, sizeof(buf) };
	uint64_t b[64];

	memset(buf, 0x5a, sizeof(buf));
	CHECK_EQ(disk_dirty_start(d, false), 0);
	CHECK_EQ(disk_writev(d, 3 * BLK_SECT + 124, &v, 1), 0); /* blocks 3 and 4 */
	CHECK_EQ(take_all(d, b, 64), 2);
	CHECK(b[0] == 3 && b[1] == 4);
	CHECK_EQ(d->ops->write_zeroes(d, 7 * BLK_SECT, 1, false), 0);
	CHECK_EQ(take_all(d, b, 64), 1);
	CHECK_EQ(b[0], 7);
	CHECK_EQ(d->ops->discard(d, 9 * BLK_SECT, 2 * BLK_SECT), 0);
	CHECK_EQ(take_all(d, b, 64), 2);
	CHECK(b[0] == 9 && b[1] == 10);
	CHECK_EQ(disk_readv(d, 0, &v, 1), 0);                   /* reads do not mark */
	CHECK_EQ(disk_flush(d), 0);
	CHECK_EQ(disk_dirty_count(d), 0);
	CHECK(disk_writev(d, d->size / 512 - 2, &v, 1) < 0);    /* past the end: refused */
	CHECK(take_all(d, b, 64) <= 1);   /* at most the last block (it may have been written) */
	disk_dirty_stop(d);
	CHECK_EQ(disk_writev(d, 0, &v, 1), 0);
	CHECK_EQ(disk_dirty_count(d), 0);
}

static void test_write_paths(void)
{
	struct vhd_create_opts o = { .type = VHD_TYPE_DYNAMIC, .size = 4 << 20, .force_size = true };
	struct disk *d = raw_disk("p.raw", 4 << 20);

	if (d) {
		writes_mark(d);
		disk_close(d);
	}
	CHECK_EQ(vhd_create(P("p.vhd"), &o, NULL), 0);
	CHECK_EQ(disk_open(P("p.vhd"), NULL, 0, &d), 0);
	if (d) {
		writes_mark(d);
		disk_close(d);
	}
	/* read-only: writes are refused and mark nothing */
	CHECK_EQ(disk_open(P("p.raw"), "raw", DISK_RDONLY, &d), 0);
	if (d) {
		uint8_t x[512] = { 0 };
		struct iovec v = { x, 512 };

		CHECK_EQ(disk_dirty_start(d, false), 0);
		CHECK_EQ(disk_writev(d, 0, &v, 1), -EROFS);
		CHECK_EQ(d->ops->write_zeroes(d, 0, 1, false), -EROFS);
		CHECK_EQ(disk_dirty_count(d), 0);
		disk_close(d);
	}
}

/* Writer threads write 512 bytes at the start of their blocks (thread t: blocks with
 * b % NT == t), in rounds; the main thread takes the marks meanwhile. Every block written
 * is seen marked at least once by the end, and none that was not written. */
#define NT 4
#define CBLOCKS 256

struct cw {
	struct disk *d;
	unsigned t;
};

static void *writer(void *arg)
{
	struct cw *c = arg;
	uint8_t x[512];
	struct iovec v = { x, 512 };

	memset(x, (int)c->t + 1, sizeof(x));
	for (unsigned round = 0; round < 20; round++)
		for (uint64_t b = c->t; b < CBLOCKS; b += NT)
			if (disk_writev(c->d, b * BLK_SECT, &v, 1))
				return (void *)1;
	return NULL;
}

static void test_concurrent(void)
{
	struct disk *d = raw_disk("c.raw", (uint64_t)CBLOCKS << 16);
	pthread_t th[NT];
	struct cw c[NT];
	uint64_t seen[CBLOCKS / 64] = { 0 };
	void *rv;
	int bad = 0;

	if (!d)
		return;
	CHECK_EQ(disk_dirty_start(d, false), 0);
	for (unsigned t = 0; t < NT; t++) {
		c[t] = (struct cw){ d, t };
		CHECK_EQ(pthread_create(&th[t], NULL, writer, &c[t]), 0);
	}
	for (unsigned i = 0; i < 200; i++)
		for (uint64_t w = 0; w < CBLOCKS / 64; w++)
			seen[w] |= disk_dirty_take(d, w);
	for (unsigned t = 0; t < NT; t++) {
		pthread_join(th[t], &rv);
		bad |= rv != NULL;
	}
	CHECK(!bad);
	for (uint64_t w = 0; w < CBLOCKS / 64; w++)
		seen[w] |= disk_dirty_take(d, w);
	for (uint64_t w = 0; w < CBLOCKS / 64; w++)
		CHECK_EQ(seen[w], ~0ULL);
	/* marks of many threads on the same words at once: none lost */
	CHECK_EQ(disk_dirty_count(d), 0);
	for (unsigned t = 0; t < NT; t++)
		CHECK_EQ(pthread_create(&th[t], NULL, writer, &c[t]), 0);
	for (unsigned t = 0; t < NT; t++)
		pthread_join(th[t], NULL);
	CHECK_EQ(disk_dirty_count(d), CBLOCKS);
	disk_close(d);
}

/* disk_block_status: a raw file's holes and data, a dynamic VHD's unallocated blocks. */
static void test_block_status(void)
{
	struct vhd_create_opts o = { .type = VHD_TYPE_DYNAMIC, .size = 8 << 20, .force_size = true };
	struct disk *d = raw_disk("s.raw", 8 << 20);
	uint8_t buf[8192];
	struct iovec v = { buf, sizeof(buf) };
	uint64_t len;
	bool hole;

	memset(buf, 1, sizeof(buf));
	if (d) {
		CHECK_EQ(disk_writev(d, 2048, &v, 1), 0);        /* data at 1 MiB, 8 KiB */
		disk_block_status(d, 0, 16384, &hole, &len);
		if (hole) {                                       /* the file system has holes */
			CHECK_EQ(len, 2048);
			disk_block_status(d, 2048, 16384 - 2048, &hole, &len);
			CHECK(!hole && len >= 16 && len <= 16384 - 2048);
			disk_block_status(d, 4096, 100, &hole, &len);
			CHECK(hole && len == 100);
			disk_block_status(d, 16383, 1, &hole, &len); /* the last sector */
			CHECK(hole && len == 1);
		} else {
			printf("# no holes in %s's file system\n", scratch_dir);
			CHECK_EQ(len, 16384);
		}
		disk_close(d);
	}
	CHECK_EQ(vhd_create(P("s.vhd"), &o, NULL), 0);
	CHECK_EQ(disk_open(P("s.vhd"), NULL, 0, &d), 0);
	if (d) {
		CHECK_EQ(disk_writev(d, 3 * 4096 + 8, &v, 1), 0); /* in the 4th 2 MiB block */
		disk_block_status(d, 0, 16384, &hole, &len);
		CHECK(hole && len == 3 * 4096);
		disk_block_status(d, 3 * 4096, 4096, &hole, &len);
		CHECK(!hole && len >= 1);
		disk_block_status(d, 100, 50, &hole, &len);
		CHECK(hole && len == 50);
		disk_close(d);
	}
}

int main(void)
{
	if (scratch_make("vsrv-dirty"))
		return 1;
	RUN(test_granularity);
	RUN(test_words);
	RUN(test_write_paths);
	RUN(test_concurrent);
	RUN(test_block_status);
	scratch_remove();
	return check_done();
}
