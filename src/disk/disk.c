/* The block layer: disk_open probes the format and returns a struct disk whose ops are the
 * raw file's (here), the VHD library's (disk_vhd.c) or, read-only, a foreign format's
 * library's (disk_foreign.c with disk_qcow.c, disk_vmdk.c, disk_vhdx.c). */
#include "disk/disk.h"
#include "disk/disk_int.h"
#include "util/log.h"
#include "vhd/vhd.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

struct raw {
	int fd;
};

static int raw_rw(struct disk *d, uint64_t sector, const struct iovec *iov, int n, bool write)
{
	struct raw *r = d->priv;
	struct iovec stack[16], *v = stack;
	uint64_t off = sector * DISK_SECTOR, total = 0;
	int ret = 0;

	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (total % DISK_SECTOR || off > d->size || total > d->size - off)
		return -EINVAL;
	if (n > 16 && !(v = malloc(sizeof(*v) * (size_t)n)))
		return -ENOMEM;
	memcpy(v, iov, sizeof(*v) * (size_t)n);
	struct iovec *p = v;
	while (n > 0) {
		ssize_t k = write ? pwritev(r->fd, p, n > 1024 ? 1024 : n, (off_t)off)
				  : preadv(r->fd, p, n > 1024 ? 1024 : n, (off_t)off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (k == 0) { /* a file shorter than its size: reads past EOF are zeros */
			if (write) {
				ret = -EIO;
				break;
			}
			for (int i = 0; i < n; i++)
				memset(p[i].iov_base, 0, p[i].iov_len);
			break;
		}
		off += (uint64_t)k;
		while (n > 0 && (size_t)k >= p->iov_len) {
			k -= (ssize_t)p->iov_len;
			p++;
			n--;
		}
		if (n > 0 && k) {
			p->iov_base = (uint8_t *)p->iov_base + k;
			p->iov_len -= (size_t)k;
		}
	}
	if (v != stack)
		free(v);
	return ret;
}

static int raw_readv(struct disk *d, uint64_t s, const struct iovec *iov, int n)
{
	return raw_rw(d, s, iov, n, false);
}

static int raw_writev(struct disk *d, uint64_t s, const struct iovec *iov, int n)
{
	int ret = raw_rw(d, s, iov, n, true);
	uint64_t len = 0;

	/* marked even when it failed: part of it may have reached the file */
	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	disk_dirty_mark(d, s, len / DISK_SECTOR);
	return ret;
}

static int raw_flush(struct disk *d)
{
	struct raw *r = d->priv;

	return fdatasync(r->fd) ? -errno : 0;
}

static int raw_zero_range(struct disk *d, uint64_t s, uint64_t n, bool unmap)
{
	static const uint8_t zeros[65536];
	struct raw *r = d->priv;
	uint64_t off = s * DISK_SECTOR, len = n * DISK_SECTOR;

	if (d->readonly)
		return -EROFS;
	if (off > d->size || len > d->size - off)
		return -EINVAL;
	if (unmap && fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (fallocate(r->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	while (len) {
		size_t k = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		ssize_t w = pwrite(r->fd, zeros, k, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

static int raw_zero(struct disk *d, uint64_t s, uint64_t n, bool unmap)
{
	int ret = raw_zero_range(d, s, n, unmap);

	if (ret != -EROFS && ret != -EINVAL)
		disk_dirty_mark(d, s, n);
	return ret;
}

static int raw_discard(struct disk *d, uint64_t s, uint64_t n)
{
	return raw_zero(d, s, n, true);
}

static void raw_close(struct disk *d)
{
	struct raw *r = d->priv;

	close(r->fd);
	free(r);
}

static const struct disk_ops raw_ops = {
	.readv = raw_readv,
	.writev = raw_writev,
	.flush = raw_flush,
	.discard = raw_discard,
	.write_zeroes = raw_zero,
	.close = raw_close,
};

static int raw_open(struct disk *d, unsigned flags)
{
	struct raw *r = calloc(1, sizeof(*r));
	int oflags = (flags & DISK_RDONLY ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;
	int ret;

	if (!r)
		return -ENOMEM;
	r->fd = -1;
	if (flags & DISK_NOCACHE)
		r->fd = open(d->path, oflags | O_DIRECT);
	if (r->fd < 0)
		r->fd = open(d->path, oflags);
	if (r->fd < 0) {
		ret = -errno;
		vsrv_log("disk %s: %s", d->path, strerror(errno));
		free(r);
		return ret;
	}
	if (fstat(r->fd, &st)) {
		ret = -errno;
		goto err;
	}
	if (S_ISBLK(st.st_mode)) {
		uint64_t sz;
		if (ioctl(r->fd, BLKGETSIZE64, &sz)) {
			ret = -errno;
			goto err;
		}
		d->size = sz / DISK_SECTOR * DISK_SECTOR;
	} else if (S_ISREG(st.st_mode)) {
		d->size = (uint64_t)st.st_size / DISK_SECTOR * DISK_SECTOR;
	} else {
		vsrv_log("disk %s: not a regular file or block device", d->path);
		ret = -EINVAL;
		goto err;
	}
	if (!(flags & DISK_NOLOCK) &&
	    (ret = vhd_lock_fd(r->fd, flags & DISK_RDONLY ? VHD_LOCK_SHARED : VHD_LOCK_EXCL,
			       d->path))) {
		vsrv_log("disk %s", vhd_errmsg());
		goto err;
	}
	d->ops = &raw_ops;
	d->priv = r;
	d->format = "raw";
	d->direct_fd = r->fd;
	d->direct_offset = 0;
	return 0;
err:
	close(r->fd);
	free(r);
	return ret;
}

/* A raw file's holes (SEEK_DATA, SEEK_HOLE): never one on a block device or a file system
 * that does not say. */
static void raw_status(struct disk *d, uint64_t sector, uint64_t n, bool *hole, uint64_t *len)
{
	int fd = ((struct raw *)d->priv)->fd;
	off_t off = (off_t)(sector * DISK_SECTOR), next;
	uint64_t run;

	*hole = false;
	*len = n;
	next = lseek(fd, off, SEEK_DATA);
	if (next < 0 && errno == ENXIO) {
		*hole = true; /* no data after off: zeros to the end */
		return;
	}
	if (next < 0)
		return;
	if (next > off) {
		run = ((uint64_t)(next - off)) / DISK_SECTOR; /* whole sectors of the hole */
		if (run) {
			*hole = true;
			*len = run < n ? run : n;
		}
		return;
	}
	next = lseek(fd, off, SEEK_HOLE);
	if (next > off) {
		run = ((uint64_t)(next - off) + DISK_SECTOR - 1) / DISK_SECTOR;
		*len = run < n ? run : n;
	}
}

void disk_block_status(struct disk *d, uint64_t sector, uint64_t n, bool *hole, uint64_t *len)
{
	if (!strcmp(d->format, "vhd")) {
		disk_vhd_status(d, sector, n, hole, len);
	} else if (!strcmp(d->format, "raw") && d->ops == &raw_ops) {
		raw_status(d, sector, n, hole, len);
	} else {
		*hole = false;
		*len = n;
	}
}

int disk_probe(const char *path, const char **format)
{
	unsigned char h[0x44];
	ssize_t n;
	int fd, r = vhd_probe(path);

	if (r < 0)
		return r;
	if (r) {
		*format = "vhd";
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, h, sizeof(h), 0);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r)
		return r;
	/* qcow2 "QFI\xfb"; VMDK "KDMV" (a sparse extent) or "# Disk DescriptorFile"; VHDX
	 * "vhdxfile"; VDI "<<< " with the signature 0xbeda107f at 0x40 */
	if (n >= 4 && !memcmp(h, "QFI\xfb", 4))
		*format = "qcow2";
	else if (n >= 4 && !memcmp(h, "KDMV", 4))
		*format = "vmdk";
	else if (n >= 21 && !memcmp(h, "# Disk DescriptorFile", 21))
		*format = "vmdk";
	else if (n >= 8 && !memcmp(h, "vhdxfile", 8))
		*format = "vhdx";
	else if (n >= 0x44 && !memcmp(h, "<<< ", 4) &&
		 (h[0x40] | h[0x41] << 8 | h[0x42] << 16 | (uint32_t)h[0x43] << 24) == 0xbeda107fu)
		*format = "vdi";
	else
		*format = "raw";
	return 0;
}

bool disk_format_foreign(const char *format)
{
	return format && (!strcmp(format, "qcow2") || !strcmp(format, "vmdk") ||
			  !strcmp(format, "vhdx"));
}

const struct disk_layer *disk_layers(struct disk *d, int *n)
{
	if (!disk_format_foreign(d->format)) {
		*n = 0;
		return NULL;
	}
	return disk_foreign_layers(d, n);
}

static const struct foreign_ops *foreign_ops_of(const char *format)
{
	if (!strcmp(format, "qcow2"))
		return &disk_qcow_ops;
	if (!strcmp(format, "vmdk"))
		return &disk_vmdk_ops;
	return &disk_vhdx_ops;
}

int disk_open(const char *path, const char *format, unsigned flags, struct disk **out)
{
	struct disk *d;
	int ret;

	*out = NULL;
	if (format && !strcmp(format, "vpc"))
		format = "vhd";
	if (format && strcmp(format, "raw") && strcmp(format, "vhd") && !disk_format_foreign(format)) {
		vsrv_log("disk %s: unknown format '%s' (raw or vhd)", path, format);
		return -EINVAL;
	}
	if (!format) {
		ret = disk_probe(path, &format);
		if (ret < 0) {
			vsrv_log("disk %s: %s", path, strerror(-ret));
			return ret;
		}
	}
	if (!strcmp(format, "vdi")) {
		vsrv_log("disk %s: a VDI image: vsrv does not read VDI (convert it with qemu-img "
			 "convert -O vpc)", path);
		return -EMEDIUMTYPE;
	}
	if (disk_format_foreign(format) && !(flags & DISK_FOREIGN)) {
		vsrv_log("disk %s: a %s image: VMs run on vhd or raw images; convert it first "
			 "(vsrv img convert -O vpc %s NEW.vhd)", path, format, path);
		return -EMEDIUMTYPE;
	}
	if (disk_format_foreign(format) && !(flags & DISK_RDONLY)) {
		vsrv_log("disk %s: %s images are read-only in vsrv (read through %s); convert it "
			 "to vhd to write", path, format, foreign_ops_of(format)->library);
		return -EROFS;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->path = strdup(path);
	d->readonly = flags & DISK_RDONLY;
	d->flags = flags;
	d->direct_fd = -1;
	if (!d->path) {
		free(d);
		return -ENOMEM;
	}
	if (disk_format_foreign(format))
		ret = disk_foreign_open(d, foreign_ops_of(format), flags);
	else
		ret = strcmp(format, "raw") ? disk_vhd_open(d, flags) : raw_open(d, flags);
	if (ret) {
		free(d->path);
		free(d);
		return ret;
	}
	*out = d;
	return 0;
}

void disk_close(struct disk *d)
{
	if (!d)
		return;
	d->ops->close(d);
	free(d->dirty_map);
	free(d->path);
	free(d);
}

int disk_reopen(struct disk *d)
{
	bool was_locked = !(d->flags & DISK_NOLOCK);
	struct disk *n, tmp;
	int ret;

	/* the old handle's lock would refuse the new one: it goes first, and comes back if
	 * the new open fails */
	if (was_locked)
		disk_unlock(d);
	ret = disk_open(d->path, d->format, d->flags & ~DISK_NOLOCK, &n);
	if (ret) {
		if (was_locked && disk_lock(d))
			vsrv_log("disk %s: lost its lock", d->path);
		return ret;
	}
	/* swap the handles: d keeps its address (devices hold it), n takes the old one */
	tmp = *d;
	*d = *n;
	*n = tmp;
	/* the dirty bitmap stays with d */
	d->dirty_map = n->dirty_map;
	d->dirty_on = n->dirty_on;
	n->dirty_map = NULL;
	disk_close(n);
	return 0;
}

int disk_parallel_reads(struct disk *d, int want)
{
	if (disk_format_foreign(d->format) && want > 1)
		return disk_foreign_parallel(d, want);
	return 1;
}

void disk_unlock(struct disk *d)
{
	if (!strcmp(d->format, "vhd"))
		disk_vhd_unlock(d);
	else if (disk_format_foreign(d->format))
		disk_foreign_unlock(d);
	else
		vhd_unlock_fd(((struct raw *)d->priv)->fd);
	d->flags |= DISK_NOLOCK;
}

int disk_lock(struct disk *d)
{
	int ret;

	if (!strcmp(d->format, "vhd")) {
		ret = disk_vhd_lock(d);
	} else if (disk_format_foreign(d->format)) {
		ret = disk_foreign_lock(d);
	} else {
		ret = vhd_lock_fd(((struct raw *)d->priv)->fd,
				  d->readonly ? VHD_LOCK_SHARED : VHD_LOCK_EXCL, d->path);
		if (ret)
			vsrv_log("disk %s", vhd_errmsg());
	}
	if (!ret)
		d->flags &= ~DISK_NOLOCK;
	return ret;
}
