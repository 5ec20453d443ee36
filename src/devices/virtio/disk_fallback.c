/* Raw-image disk_open/disk_close used only while the block layer (src/disk/, branch vhd)
 * is not linked in: weak symbols, replaced by the real ones at merge. Raw files only, with
 * direct_fd so virtio-blk uses io_uring; format=vhd is refused. */
#include "disk/disk.h"

#include "util/log.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fb_rw(struct disk *d, uint64_t s, const struct iovec *iov, int n, bool w)
{
	ssize_t want = 0, got;
	int i;

	for (i = 0; i < n; i++)
		want += iov[i].iov_len;
	if (s > d->size / DISK_SECTOR || (uint64_t)want > d->size - s * DISK_SECTOR)
		return -EINVAL;
	got = w ? pwritev(d->direct_fd, iov, n, s * DISK_SECTOR) :
		  preadv(d->direct_fd, iov, n, s * DISK_SECTOR);
	if (got < 0)
		return -errno;
	return got == want ? 0 : -EIO;
}

static int fb_readv(struct disk *d, uint64_t s, const struct iovec *iov, int n)
{
	return fb_rw(d, s, iov, n, false);
}

static int fb_writev(struct disk *d, uint64_t s, const struct iovec *iov, int n)
{
	return fb_rw(d, s, iov, n, true);
}

static int fb_flush(struct disk *d)
{
	return fdatasync(d->direct_fd) ? -errno : 0;
}

static int fb_discard(struct disk *d, uint64_t s, uint64_t n)
{
	if (fallocate(d->direct_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      s * DISK_SECTOR, n * DISK_SECTOR))
		return errno == EOPNOTSUPP ? 0 : -errno;
	return 0;
}

static int fb_zeroes(struct disk *d, uint64_t s, uint64_t n, bool unmap)
{
	(void)unmap;
	if (fallocate(d->direct_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      s * DISK_SECTOR, n * DISK_SECTOR))
		return -errno;
	return 0;
}

static void fb_close(struct disk *d)
{
	close(d->direct_fd);
}

static const struct disk_ops fb_ops = { fb_readv, fb_writev, fb_flush, fb_discard, fb_zeroes,
					fb_close };

__attribute__((weak)) int disk_open(const char *path, const char *format, unsigned flags,
				    struct disk **out)
{
	struct disk *d;
	struct stat st;
	int fd;

	if (format && strcmp(format, "raw")) {
		vsrv_log("%s: format %s needs the disk layer, which this build lacks", path, format);
		return -ENOTSUP;
	}
	fd = open(path, ((flags & DISK_RDONLY) ? O_RDONLY : O_RDWR) | O_CLOEXEC |
		  ((flags & DISK_NOCACHE) ? O_DIRECT : 0));
	if (fd < 0 && errno == EINVAL && (flags & DISK_NOCACHE))
		fd = open(path, ((flags & DISK_RDONLY) ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size % DISK_SECTOR) {
		vsrv_log("%s: not a regular file of whole 512-byte sectors", path);
		close(fd);
		return -EINVAL;
	}
	d = calloc(1, sizeof(*d));
	if (!d || !(d->path = strdup(path))) {
		free(d);
		close(fd);
		return -ENOMEM;
	}
	d->ops = &fb_ops;
	d->format = "raw";
	d->size = st.st_size;
	d->readonly = flags & DISK_RDONLY;
	d->direct_fd = fd;
	*out = d;
	return 0;
}

__attribute__((weak)) void disk_close(struct disk *d)
{
	if (!d)
		return;
	d->ops->close(d);
	free(d->path);
	free(d);
}
