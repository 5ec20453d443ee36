/* Disk image files of the server's storage directory, through lib/vhd (VHD fixed and
 * dynamic) or plain files (raw). */
#ifndef VSRV_SERVER_DISKIMG_H
#define VSRV_SERVER_DISKIMG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Create a new image at path (it must not exist): format "raw" (a sparse file of size
 * bytes) or "vhd" with subformat "dynamic" or "fixed" (size rounded up to a CHS geometry,
 * as `vsrv img create` and qemu-img do). *actual receives the virtual size the guest will
 * see. On failure nothing is left at path and err holds a message. 0 or -errno. */
int diskimg_create(const char *path, const char *format, const char *subformat, uint64_t size,
		   uint64_t *actual, char *err, size_t errlen);

/* The virtual size diskimg_create or diskimg_resize gives an image of format asked for
 * size bytes (what a quota counts: VHD rounds up to a CHS geometry, raw keeps size). */
uint64_t diskimg_rounded(const char *format, uint64_t size);

/* Grow the image at path to size bytes (never shrinks: -EINVAL). *actual as above.
 * 0 or -errno with a message in err. */
int diskimg_resize(const char *path, const char *format, uint64_t size, uint64_t *actual,
		   char *err, size_t errlen);

/* The virtual size of the image at path (format raw or vhd) into *size. 0 or -errno. */
int diskimg_size(const char *path, const char *format, uint64_t *size);

/* Undo a diskimg_resize whose size the inventory did not take (its commit lost): the
 * image at path back to size bytes, what it had before (the space past it is dropped: no
 * one wrote there, the disk being unused while it grew). 0 or -errno with err. */
int diskimg_shrink_back(const char *path, const char *format, uint64_t size, char *err,
			size_t errlen);

/* What the image file says about itself (read-only: the file is never written): VHD type,
 * virtual size, block size and allocated blocks, unique id, creator, parent; for raw the
 * file size. New reference; on an unreadable image {"error": "..."}. */
json_t *diskimg_info_json(const char *path, const char *format);

/* Copy the data of the image src (format src_fmt: raw or vhd, a differencing VHD read
 * through its chain) into the existing image dst (dst_fmt) through the disk layer, skipping
 * zero chunks so that dst stays sparse; progress (may be NULL) gets the fraction done.
 * 0 or -errno with a message in err. */
int diskimg_copy(const char *src, const char *src_fmt, const char *dst, const char *dst_fmt,
		 void (*progress)(void *opaque, double fraction), void *opaque, char *err,
		 size_t errlen);

#endif
