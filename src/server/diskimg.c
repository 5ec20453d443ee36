/* Disk image files through lib/vhd. See diskimg.h. */
#include "server/diskimg.h"

#include "disk/disk.h"
#include "vhd/vhd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

int diskimg_create(const char *path, const char *format, const char *subformat, uint64_t size,
		   uint64_t *actual, char *err, size_t errlen)
{
	if (!strcmp(format, "vhd")) {
		struct vhd_create_opts o = { .size = size, .excl = true };
		struct vhd_info info;
		struct vhd *v;
		int rc;

		o.type = subformat && !strcmp(subformat, "fixed") ? VHD_TYPE_FIXED : VHD_TYPE_DYNAMIC;
		rc = vhd_create(path, &o, &v);
		if (rc) {
			snprintf(err, errlen, "%s", vhd_errmsg());
			return rc;
		}
		vhd_get_info(v, &info);
		*actual = info.virtual_size;
		rc = vhd_close(v);
		if (rc) {
			snprintf(err, errlen, "%s", vhd_errmsg());
			unlink(path);
		}
		return rc;
	}
	{
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640), rc = 0;

		if (fd < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot create the file: %s", strerror(errno));
			return rc;
		}
		if (ftruncate(fd, (off_t)size) < 0 || fsync(fd) < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot size the file: %s", strerror(errno));
			unlink(path);
		}
		close(fd);
		*actual = size;
		return rc;
	}
}

uint64_t diskimg_rounded(const char *format, uint64_t size)
{
	uint64_t r;

	if (strcmp(format, "vhd") || !size || size > VHD_MAX_SIZE)
		return size;    /* (a VHD too large or empty fails to be made) */
	r = vhd_round_size(size, false);
	return r > VHD_MAX_SIZE ? size / 512 * 512 : r;   /* as vhd_create */
}

int diskimg_resize(const char *path, const char *format, uint64_t size, uint64_t *actual,
		   char *err, size_t errlen)
{
	if (!strcmp(format, "vhd")) {
		struct vhd_info info;
		struct vhd *v;
		int rc = vhd_open(path, 0, &v);

		if (rc) {
			snprintf(err, errlen, "%s", vhd_errmsg());
			return rc;
		}
		vhd_get_info(v, &info);
		if (size < info.virtual_size) {
			vhd_close(v);
			snprintf(err, errlen, "size: shrinking a disk loses data; only growing is allowed");
			return -EINVAL;
		}
		rc = vhd_resize(v, size, false, 0);
		if (rc)
			snprintf(err, errlen, "%s", vhd_errmsg());
		vhd_get_info(v, &info);
		*actual = info.virtual_size;
		if (vhd_close(v) && !rc) {
			snprintf(err, errlen, "%s", vhd_errmsg());
			rc = -EIO;
		}
		return rc;
	}
	{
		struct stat st;
		int fd = open(path, O_RDWR | O_CLOEXEC), rc = 0;

		if (fd < 0 || fstat(fd, &st) < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s", strerror(errno));
		} else if ((uint64_t)st.st_size > size) {
			snprintf(err, errlen, "size: shrinking a disk loses data; only growing is allowed");
			rc = -EINVAL;
		} else if ((rc = vhd_lock_fd(fd, VHD_LOCK_EXCL, path))) {
			snprintf(err, errlen, "%s", vhd_errmsg()); /* a VM (or someone) uses it */
		} else if (ftruncate(fd, (off_t)size) < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s", strerror(errno));
		}
		if (fd >= 0)
			close(fd);
		if (!rc)
			*actual = size;
		return rc;
	}
}

int diskimg_size(const char *path, const char *format, uint64_t *size)
{
	struct disk *dk;
	int rc = disk_open(path, format, DISK_RDONLY, &dk);

	if (rc)
		return rc;
	*size = dk->size;
	disk_close(dk);
	return 0;
}

int diskimg_shrink_back(const char *path, const char *format, uint64_t size, char *err,
			size_t errlen)
{
	int fd, rc = 0;

	if (!strcmp(format, "vhd")) {
		struct vhd *v;

		rc = vhd_open(path, 0, &v);
		if (!rc) {
			rc = vhd_resize(v, size, false, VHD_RESIZE_SHRINK);
			if (vhd_close(v) && !rc)
				rc = -EIO;
		}
		if (rc)
			snprintf(err, errlen, "%s", vhd_errmsg());
		return rc;
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
	} else if ((rc = vhd_lock_fd(fd, VHD_LOCK_EXCL, path))) {
		snprintf(err, errlen, "%s", vhd_errmsg());
	} else if (ftruncate(fd, (off_t)size) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

static void hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

json_t *diskimg_info_json(const char *path, const char *format)
{
	struct vhd_info info;
	struct vhd *v;
	char uuid[33], creator[5];
	json_t *o;
	int rc;

	if (strcmp(format, "vhd")) {
		struct stat st;

		if (stat(path, &st) < 0)
			return json_pack("{s:s}", "error", strerror(errno));
		return json_pack("{s:s,s:I,s:I}", "format", "raw", "virtual_size", (json_int_t)st.st_size,
				 "allocated", (json_int_t)st.st_blocks * 512);
	}
	/* a look at the metadata, also of a disk a VM writes: no lock (qemu-img's -U) */
	rc = vhd_open(path, VHD_RDONLY | VHD_NOLOCK, &v);
	if (rc)
		return json_pack("{s:s}", "error", vhd_errmsg());
	vhd_get_info(v, &info);
	hex(uuid, info.uuid, 16);
	memcpy(creator, info.creator_app, 4);
	creator[4] = '\0';
	for (int i = 0; i < 4; i++)
		if ((unsigned char)creator[i] < 0x20 || (unsigned char)creator[i] > 0x7e)
			creator[i] = creator[i] ? '?' : ' ';
	o = json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:I,s:I}", "format", "vhd",
		      "subformat", vhd_type_name(info.type), "virtual_size",
		      (json_int_t)info.virtual_size, "file_size", (json_int_t)info.file_size,
		      "uuid", uuid, "creator", creator, "allocated", (json_int_t)info.file_blocks,
		      "timestamp", (json_int_t)info.timestamp);
	if (info.type != VHD_TYPE_FIXED) {
		json_object_set_new(o, "block_size", json_integer(info.block_size));
		json_object_set_new(o, "allocated_blocks", json_integer(info.allocated_blocks));
	}
	if (info.type == VHD_TYPE_DIFF)
		json_object_set_new(o, "parent", json_string(info.parent_path));
	vhd_close(v);
	return o;
}

#define CHUNK (1 << 20)

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i += 8)
		if (*(const uint64_t *)(b + i))
			return false;
	return true;
}

int diskimg_copy(const char *src, const char *src_fmt, const char *dst, const char *dst_fmt,
		 void (*progress)(void *opaque, double fraction), void *opaque, char *err,
		 size_t errlen)
{
	struct disk *s = NULL, *d = NULL;
	uint8_t *buf = NULL;
	uint64_t off, end;
	int rc;

	rc = disk_open(src, src_fmt, DISK_RDONLY, &s);
	if (rc) {
		snprintf(err, errlen, "cannot open the source %s: %s", src, strerror(-rc));
		return rc;
	}
	rc = disk_open(dst, dst_fmt, 0, &d);
	if (rc) {
		snprintf(err, errlen, "cannot open the target %s: %s", dst, strerror(-rc));
		goto out;
	}
	if (posix_memalign((void **)&buf, 4096, CHUNK)) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	end = s->size < d->size ? s->size : d->size;
	for (off = 0; off < end; off += CHUNK) {
		size_t n = end - off < CHUNK ? end - off : CHUNK;
		struct iovec iov = { buf, n };

		rc = disk_readv(s, off / DISK_SECTOR, &iov, 1);
		if (rc) {
			snprintf(err, errlen, "read at byte %llu of %s: %s", (unsigned long long)off,
				 src, strerror(-rc));
			goto out;
		}
		if (!all_zero(buf, n)) {
			rc = disk_writev(d, off / DISK_SECTOR, &iov, 1);
			if (rc) {
				snprintf(err, errlen, "write at byte %llu of %s: %s",
					 (unsigned long long)off, dst, strerror(-rc));
				goto out;
			}
		}
		if (progress)
			progress(opaque, (double)(off + n) / end);
	}
	rc = disk_flush(d);
	if (rc)
		snprintf(err, errlen, "flush of %s: %s", dst, strerror(-rc));
out:
	free(buf);
	disk_close(d);
	disk_close(s);
	return rc;
}
