/* The block layer's VHD backend: struct disk_ops over lib/vhd. */
#include "disk/disk_int.h"
#include "util/log.h"
#include "vhd/vhd.h"

#include <string.h>

static int dv_readv(struct disk *d, uint64_t s, const struct iovec *iov, int n)
{
	return vhd_readv(d->priv, s, iov, n);
}

static int dv_writev(struct disk *d, uint64_t s, const struct iovec *iov, int n)
{
	int ret = vhd_writev(d->priv, s, iov, n);
	uint64_t len = 0;

	/* marked even when it failed: part of it may have reached the image */
	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	disk_dirty_mark(d, s, len / DISK_SECTOR);
	return ret;
}

static int dv_flush(struct disk *d)
{
	return vhd_flush(d->priv);
}

static int dv_discard(struct disk *d, uint64_t s, uint64_t n)
{
	int ret = d->readonly ? -EROFS : vhd_discard(d->priv, s, n);

	if (ret != -EROFS && ret != -EINVAL)
		disk_dirty_mark(d, s, n);
	return ret;
}

static int dv_zero(struct disk *d, uint64_t s, uint64_t n, bool may_unmap)
{
	(void)may_unmap; /* zeroed ranges of VHD blocks are always hole-punched */
	int ret = d->readonly ? -EROFS : vhd_write_zeroes(d->priv, s, n);

	if (ret != -EROFS && ret != -EINVAL)
		disk_dirty_mark(d, s, n);
	return ret;
}

static void dv_close(struct disk *d)
{
	if (vhd_close(d->priv))
		vsrv_log("disk %s: writing metadata on close failed: %s", d->path, vhd_errmsg());
}

static const struct disk_ops vhd_ops = {
	.readv = dv_readv,
	.writev = dv_writev,
	.flush = dv_flush,
	.discard = dv_discard,
	.write_zeroes = dv_zero,
	.close = dv_close,
};

void disk_vhd_adopt(struct disk *d, struct vhd *v)
{
	struct vhd_info in;
	uint64_t off;
	int fd;

	vhd_get_info(v, &in);
	d->ops = &vhd_ops;
	d->priv = v;
	d->format = "vhd";
	d->size = in.virtual_size;
	fd = vhd_fixed_fd(v, &off);
	if (fd >= 0) {
		d->direct_fd = fd;
		d->direct_offset = off;
	}
}

int disk_vhd_open(struct disk *d, unsigned flags)
{
	struct vhd *v;
	int ret;

	ret = vhd_open(d->path, (flags & DISK_RDONLY ? VHD_RDONLY : 0) |
		       (flags & DISK_NOLOCK ? VHD_NOLOCK : 0), &v);
	if (ret) {
		vsrv_log("disk %s: %s", d->path, vhd_errmsg()[0] ? vhd_errmsg() : strerror(-ret));
		return ret;
	}
	disk_vhd_adopt(d, v);
	return 0;
}

void disk_vhd_status(struct disk *d, uint64_t sector, uint64_t n, bool *hole, uint64_t *len)
{
	struct vhd_extent e;

	*hole = false;
	*len = n;
	if (vhd_map(d->priv, sector, n, &e) == 0 && e.nsectors >= 1 && e.nsectors <= n) {
		*hole = e.depth < 0;
		*len = e.nsectors;
	}
}

int disk_vhd_lock(struct disk *d)
{
	int ret = vhd_lock(d->priv);

	if (ret)
		vsrv_log("disk %s", vhd_errmsg()[0] ? vhd_errmsg() : strerror(-ret));
	return ret;
}

void disk_vhd_unlock(struct disk *d)
{
	vhd_unlock(d->priv);
}
