/* Block layer internals: the per-format openers disk_open dispatches to. */
#ifndef VSRV_DISK_DISK_INT_H
#define VSRV_DISK_DISK_INT_H

#include "disk/disk.h"

/* Open d->path as a VHD: set d->ops, d->priv, d->size, d->format and, for fixed images,
 * d->direct_fd/direct_offset. 0 or -errno (one logged line naming the image). */
int disk_vhd_open(struct disk *d, unsigned flags);

/* The image locks of a VHD disk (and its parents): see disk_lock. */
int disk_vhd_lock(struct disk *d);
void disk_vhd_unlock(struct disk *d);

/* The formats read through a library (disk_foreign.c holds what they share: the chain, the
 * locks, the reads; disk_qcow.c, disk_vmdk.c, disk_vhdx.c one library each). */
struct foreign_ops {
	const char *format;  /* "qcow2", "vmdk", "vhdx" */
	const char *library; /* "libqcow", ... (for messages) */
	/* Open path read-only: *h and l->size, l->subformat, l->backing (malloc'd or NULL).
	 * 0 or -errno with the reason in err. */
	int (*open)(const char *path, void **h, struct disk_layer *l, char *err, size_t errn);
	/* Read from parent where child has no data (both open). 0 or -errno, err set. */
	int (*set_parent)(void *child, void *parent, char *err, size_t errn);
	/* Read n bytes at off: the count read (short only at the end), or -errno, err set. */
	ssize_t (*read)(void *h, void *buf, size_t n, uint64_t off, char *err, size_t errn);
	/* The largest read that the library serves right on an image with a parent: libqcow
	 * 20201213 reads a whole request from the parent when its first cluster is not
	 * allocated in the child, so reads are split at cluster boundaries. 0: no limit. */
	uint32_t (*grain)(void *h, const char *path);
	/* Close and free h (children are closed before their parents). */
	void (*close)(void *h);
};

extern const struct foreign_ops disk_qcow_ops, disk_vmdk_ops, disk_vhdx_ops;

/* Open d->path (format ops->format) and its backing chain read-only: set d->ops, d->priv,
 * d->size, d->format. 0 or -errno (one logged line naming the file). */
int disk_foreign_open(struct disk *d, const struct foreign_ops *ops, unsigned flags);
int disk_foreign_lock(struct disk *d);
void disk_foreign_unlock(struct disk *d);
const struct disk_layer *disk_foreign_layers(struct disk *d, int *n);

/* The innermost message of a libyal error backtrace (the most specific one), without its
 * "function: " prefix, into out. */
void disk_foreign_errmsg(const char *backtrace, char *out, size_t n);

#endif
