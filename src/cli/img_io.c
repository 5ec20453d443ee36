/* vsrv img: the image handle the sub-commands share. Raw files are read and written here
 * with pread/pwrite (holes found with SEEK_DATA/SEEK_HOLE); VHD images go through libvhd;
 * qcow2, VMDK and VHDX images are read (never written) through the block layer's readers
 * (src/disk/disk_foreign.c: libqcow, libvmdk, libvhdi). Also creating raw and VHD images. */
#include "cli/img.h"
#include "disk/disk.h"
#include "vhd/vhd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const char *img_probe(const char *path, int *err)
{
	const char *fmt;
	size_t n = strlen(path);
	int r = disk_probe(path, &fmt);

	if (r < 0) {
		*err = r;
		return NULL;
	}
	/* A format we do not read must not pass for raw data (a useless disk): refuse it
	 * clearly; -f raw, given explicitly, still reads the bytes as they are. */
	if (!strcmp(fmt, "vdi")) {
		img_err("'%s' is a vdi image: vdi images are not supported; convert with "
			"qemu-img convert -O vpc (or give -f raw to use the bytes as a raw image)",
			path);
		*err = -EMEDIUMTYPE;
		return NULL;
	}
	/* A ".vhd" file without any footer cookie is a damaged VHD, not a raw image: say so
	 * (the library will name the problem) instead of treating it as raw data.
	 * -f raw overrides. */
	if (!strcmp(fmt, "raw") && n > 4 && !strcasecmp(path + n - 4, ".vhd"))
		return "vhd";
	return fmt;
}

bool img_format_foreign(const char *fmt)
{
	return disk_format_foreign(fmt);
}

static int img_open_raw(struct img *im, unsigned flags)
{
	struct stat st;

	int r;

	im->fd = open(im->path, (flags & IMG_RDWR ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (im->fd < 0) {
		int e = -errno;

		img_err("could not open '%s': %s", im->path, strerror(errno));
		return e;
	}
	if (fstat(im->fd, &st) < 0)
		return -errno;
	/* files and block devices are locked; /dev/null and other characters devices not */
	if (!(flags & IMG_SHARE) && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) &&
	    (r = vhd_lock_fd(im->fd, flags & IMG_RDWR ? VHD_LOCK_EXCL : VHD_LOCK_SHARED,
			     im->path)) < 0) {
		img_err("could not open '%s': %s", im->path, vhd_errmsg());
		return r;
	}
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(im->fd, 0, SEEK_END);

		if (end < 0)
			return -errno;
		im->size = (uint64_t)end;
	} else {
		im->size = (uint64_t)st.st_size;
	}
	return 0;
}

int img_open(const char *path, const char *format, unsigned flags, struct img **out)
{
	struct img *im;
	int r;

	im = calloc(1, sizeof(*im));
	if (!im)
		return -ENOMEM;
	im->fd = -1;
	im->writable = flags & IMG_RDWR;
	im->path = strdup(path);
	if (!im->path) {
		r = -ENOMEM;
		goto err_free;
	}
	if (!format) {
		format = img_probe(path, &r);
		if (!format) {
			if (r != -EMEDIUMTYPE) /* a foreign format was named already */
				img_err("could not open '%s': %s", path, strerror(-r));
			goto err_free;
		}
	}
	im->format = img_format_name(format);
	if (!im->format) {
		img_err("unknown format '%s'", format);
		r = -EINVAL;
		goto err_free;
	}
	if (!strcmp(im->format, "raw")) {
		r = img_open_raw(im, flags);
		if (r < 0)
			goto err_free;
	} else if (img_format_foreign(im->format)) {
		if (flags & (IMG_RDWR | IMG_PARENT_RW)) {
			img_err("could not open '%s' for writing: %s images are read-only in vsrv; "
				"convert it to vhd first (vsrv img convert -O vpc)", path, im->format);
			r = -EROFS;
			goto err_free;
		}
		/* the block layer logs the reason (naming the file) when it cannot */
		r = disk_open(path, im->format, DISK_RDONLY | DISK_FOREIGN |
			      (flags & IMG_SHARE ? DISK_NOLOCK : 0), &im->disk);
		if (r < 0)
			goto err_free;
		im->size = im->disk->size;
	} else {
		struct vhd_info info;
		int vf = (flags & IMG_RDWR ? 0 : VHD_RDONLY) | (flags & IMG_NOCHAIN ? VHD_NOPARENT : 0) |
			 (flags & IMG_NOSYNC ? VHD_NOSYNC : 0) | (flags & IMG_PARENT_RW ? VHD_PARENT_RW : 0) |
			 (flags & IMG_SHARE ? VHD_NOLOCK : 0);

		r = vhd_open(path, vf, &im->vhd);
		if (r < 0) {
			const char *m = vhd_errmsg();

			img_err("could not open '%s': %s", path, *m ? m : strerror(-r));
			goto err_free;
		}
		vhd_get_info(im->vhd, &info);
		im->size = info.virtual_size;
	}
	*out = im;
	return 0;

err_free:
	img_close(im);
	return r;
}

void img_close(struct img *im)
{
	if (!im)
		return;
	if (im->vhd) {
		int r = vhd_close(im->vhd);

		if (r < 0)
			img_err("error closing '%s': %s", im->path, vhd_errmsg());
	}
	disk_close(im->disk);
	if (im->fd >= 0)
		close(im->fd);
	free(im->path);
	free(im);
}

/* VHD I/O that is not sector-aligned (the odd tail of a raw image compared or copied):
 * through a bounce buffer, read-modify-write for writes. */
static int img_vhd_unaligned(struct img *im, void *buf, size_t len, uint64_t off, bool write)
{
	uint64_t first = off / VHD_SECTOR;
	uint64_t n = (off + len + VHD_SECTOR - 1) / VHD_SECTOR - first;
	uint8_t *b = malloc(n * VHD_SECTOR);
	int r;

	if (!b)
		return -ENOMEM;
	r = vhd_read(im->vhd, first, b, n);
	if (r == 0 && write) {
		memcpy(b + (off - first * VHD_SECTOR), buf, len);
		r = vhd_write(im->vhd, first, b, n);
	} else if (r == 0) {
		memcpy(buf, b + (off - first * VHD_SECTOR), len);
	}
	free(b);
	return r;
}

/* A foreign image's read through the block layer (sector-aligned, through a bounce buffer
 * for the rest). */
static int img_disk_read(struct img *im, void *buf, size_t len, uint64_t off)
{
	uint64_t first = off / DISK_SECTOR;
	uint64_t n = (off + len + DISK_SECTOR - 1) / DISK_SECTOR - first;
	struct iovec iov;
	uint8_t *b;
	int r;

	if ((off | len) % DISK_SECTOR == 0) {
		iov = (struct iovec){ buf, len };
		return disk_readv(im->disk, first, &iov, 1);
	}
	b = malloc(n * DISK_SECTOR);
	if (!b)
		return -ENOMEM;
	iov = (struct iovec){ b, n * DISK_SECTOR };
	r = disk_readv(im->disk, first, &iov, 1);
	if (r == 0)
		memcpy(buf, b + (off - first * DISK_SECTOR), len);
	free(b);
	return r;
}

int img_read(struct img *im, void *buf, size_t len, uint64_t off)
{
	if (im->disk)
		return img_disk_read(im, buf, len, off);
	if (im->vhd) {
		if ((off | len) % VHD_SECTOR)
			return img_vhd_unaligned(im, buf, len, off, false);
		return vhd_read(im->vhd, off / VHD_SECTOR, buf, len / VHD_SECTOR);
	}
	while (len) {
		ssize_t n = pread(im->fd, buf, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) { /* past the end of a raw file: zeros */
			memset(buf, 0, len);
			return 0;
		}
		buf = (char *)buf + n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int img_readers(struct img *im, int want)
{
	return im->disk ? disk_parallel_reads(im->disk, want) : 1;
}

int img_write(struct img *im, const void *buf, size_t len, uint64_t off)
{
	if (!im->writable || im->disk)
		return -EROFS;
	if (im->vhd) {
		if ((off | len) % VHD_SECTOR)
			return img_vhd_unaligned(im, (void *)buf, len, off, true);
		return vhd_write(im->vhd, off / VHD_SECTOR, buf, len / VHD_SECTOR);
	}
	while (len) {
		ssize_t n = pwrite(im->fd, buf, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf = (const char *)buf + n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int img_flush(struct img *im)
{
	if (!im->writable)
		return 0;
	if (im->vhd)
		return vhd_flush(im->vhd);
	if (fdatasync(im->fd) < 0 && errno != EINVAL) /* EINVAL: /dev/null and friends */
		return -errno;
	return 0;
}

static int img_status_raw(struct img *im, uint64_t off, uint64_t len, enum img_kind *kind,
			  uint64_t *pnum, uint64_t *file_off)
{
	off_t data, hole;

	data = lseek(im->fd, (off_t)off, SEEK_DATA);
	if (data < 0 && errno == ENXIO) {
		data = (off_t)(off + len); /* only a hole up to the end of the file */
	} else if (data < 0) {
		/* No SEEK_DATA (a device, an old file system): everything is data. */
		*kind = IMG_DATA;
		*pnum = len;
		if (file_off)
			*file_off = off;
		return 0;
	}
	if ((uint64_t)data > off) {
		*kind = IMG_ZERO;
		*pnum = (uint64_t)data - off < len ? (uint64_t)data - off : len;
		if (file_off)
			*file_off = UINT64_MAX;
		return 0;
	}
	hole = lseek(im->fd, (off_t)off, SEEK_HOLE);
	if (hole < 0 || (uint64_t)hole <= off)
		hole = (off_t)(off + len);
	*kind = IMG_DATA;
	*pnum = (uint64_t)hole - off < len ? (uint64_t)hole - off : len;
	if (file_off)
		*file_off = off;
	return 0;
}

int img_status(struct img *im, uint64_t off, uint64_t len, bool chain, enum img_kind *kind,
	       uint64_t *pnum, uint64_t *file_off)
{
	struct vhd_extent ext;
	uint64_t first, n;
	int r;

	if (!len || off >= im->size)
		return -EINVAL;
	if (len > im->size - off)
		len = im->size - off;
	if (im->disk) {
		/* the libraries do not say which clusters are allocated: all data (convert and
		 * compare still skip what reads as zeros) */
		*kind = IMG_DATA;
		*pnum = len;
		if (file_off)
			*file_off = UINT64_MAX;
		return 0;
	}
	if (!im->vhd)
		return img_status_raw(im, off, len, kind, pnum, file_off);

	/* Sector granularity: a partial sector at either end counts as the whole sector. */
	first = off / VHD_SECTOR;
	n = (off + len + VHD_SECTOR - 1) / VHD_SECTOR - first;
	r = vhd_map(im->vhd, first, n, &ext);
	if (r < 0)
		return r;
	if (ext.depth == 0) {
		*kind = IMG_DATA;
	} else if (ext.depth < 0) {
		*kind = IMG_ZERO;
	} else {
		*kind = chain ? IMG_DATA : IMG_PARENT;
	}
	*pnum = (first + ext.nsectors) * VHD_SECTOR - off;
	if (*pnum > len)
		*pnum = len;
	if (file_off)
		*file_off = ext.depth == 0 ? ext.file_offset + (off - first * VHD_SECTOR) : UINT64_MAX;
	return 0;
}

uint64_t img_file_disk_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

static int img_create_raw(const char *path, uint64_t size)
{
	struct stat st;
	int fd, r = 0;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		img_err("%s: could not create: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	/* an existing image is truncated only when no VM (nor anyone) uses it */
	if ((S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) &&
	    (r = vhd_lock_fd(fd, VHD_LOCK_EXCL, path)) < 0) {
		img_err("%s: could not create: %s", path, vhd_errmsg());
		close(fd);
		return r;
	}
	/* Devices (and /dev/null) keep their size; regular files become size bytes of holes. */
	if (S_ISREG(st.st_mode) &&
	    (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)size) < 0)) {
		r = -errno;
		img_err("%s: could not set the size: %s", path, strerror(errno));
	}
	close(fd);
	return r;
}

int img_create_file(const char *path, const char *fmt, uint64_t size,
		    const struct img_create_opts *o)
{
	struct vhd_create_opts vo;
	int r;

	if (!strcmp(fmt, "raw"))
		return img_create_raw(path, size);
	memset(&vo, 0, sizeof(vo));
	vo.type = o->parent ? VHD_TYPE_DIFF : o->fixed ? VHD_TYPE_FIXED : VHD_TYPE_DYNAMIC;
	vo.size = size;
	vo.force_size = o->force_size;
	vo.block_size = o->block_size;
	vo.parent = o->parent;
	r = vhd_create(path, &vo, NULL);
	if (r < 0) {
		const char *m = vhd_errmsg();

		img_err("%s: could not create: %s", path, *m ? m : strerror(-r));
	}
	return r;
}
