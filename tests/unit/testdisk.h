/* A raw file behind the block-layer interface, for device tests on branches where the disk
 * layer (src/disk/) is not merged yet: plain preadv/pwritev/fdatasync/fallocate. */
#ifndef VSRV_TESTS_UNIT_TESTDISK_H
#define VSRV_TESTS_UNIT_TESTDISK_H

#include "disk/disk.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int td_rw(struct disk *d, uint64_t s, const struct iovec *iov, int n, bool w)
{
	ssize_t want = 0, got;
	int i;

	for (i = 0; i < n; i++)
		want += iov[i].iov_len;
	got = w ? pwritev(d->direct_fd, iov, n, s * 512) : preadv(d->direct_fd, iov, n, s * 512);
	return got == want ? 0 : -EIO;
}
static int td_readv(struct disk *d, uint64_t s, const struct iovec *iov, int n)
{
	return td_rw(d, s, iov, n, false);
}
static int td_writev(struct disk *d, uint64_t s, const struct iovec *iov, int n)
{
	return td_rw(d, s, iov, n, true);
}
static int td_flush(struct disk *d)
{
	return fdatasync(d->direct_fd) ? -errno : 0;
}
static int td_discard(struct disk *d, uint64_t s, uint64_t n)
{
	return fallocate(d->direct_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, s * 512,
			 n * 512) ? -errno : 0;
}
static int td_zero(struct disk *d, uint64_t s, uint64_t n, bool unmap)
{
	(void)unmap;
	return td_discard(d, s, n);
}
static void td_close(struct disk *d)
{
	close(d->direct_fd);
}
static const struct disk_ops td_ops = { td_readv, td_writev, td_flush, td_discard, td_zero,
					td_close };

/* A size-byte raw file at path, opened as a disk. */
static inline struct disk *testdisk_open(const char *path, uint64_t size, bool ro)
{
	struct disk *d = calloc(1, sizeof(*d));
	int fd = open(path, O_RDWR | O_CREAT, 0644);

	if (fd < 0 || ftruncate(fd, size))
		abort();
	d->ops = &td_ops;
	d->path = strdup(path);
	d->format = "raw";
	d->size = size;
	d->readonly = ro;
	d->direct_fd = fd;
	return d;
}

static inline void testdisk_close(struct disk *d)
{
	d->ops->close(d);
	free(d->path);
	free(d);
}

#endif
