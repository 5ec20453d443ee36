/* Block layer internals: the per-format openers disk_open dispatches to. */
#ifndef VSRV_DISK_DISK_INT_H
#define VSRV_DISK_DISK_INT_H

#include "disk/disk.h"

#include <stdint.h>
#include <sys/types.h>

/* Open d->path as a VHD: set d->ops, d->priv, d->size, d->format and, for fixed images,
 * d->direct_fd/direct_offset. 0 or -errno (one logged line naming the image). */
int disk_vhd_open(struct disk *d, unsigned flags);

/* d becomes a VHD disk on v (opened already; d owns it from now on): d->ops, d->priv,
 * d->size, d->format and, for a fixed image, d->direct_fd/direct_offset. */
struct vhd;
void disk_vhd_adopt(struct disk *d, struct vhd *v);

/* disk_block_status of a VHD disk. */
void disk_vhd_status(struct disk *d, uint64_t sector, uint64_t n, bool *hole, uint64_t *len);

/* The image locks of a VHD disk (and its parents): see disk_lock. */
int disk_vhd_lock(struct disk *d);
void disk_vhd_unlock(struct disk *d);

/* The formats read through a library (disk_foreign.c holds what they share: the chain, the
 * locks, the reads, the library's error messages; disk_qcow.c, disk_vmdk.c, disk_vhdx.c
 * one library each: its open and its header's details; yal_load.c loads the libraries).
 *
 * The library's entry points that the libyal libraries share (their handle and error types
 * are all intptr_t): disk_foreign.c sets the parent, reads and closes with them. */
struct foreign_lib {
	int (*error_sprint)(intptr_t *e, char *s, size_t n);
	void (*error_free)(intptr_t **e);
	int (*set_parent)(intptr_t *child, intptr_t *parent, intptr_t **e);
	ssize_t (*read)(intptr_t *h, void *buf, size_t n, off64_t off, intptr_t **e);
	int (*close)(intptr_t *h, intptr_t **e);
	int (*free)(intptr_t **h, intptr_t **e);
};

struct foreign_ops {
	const char *format;  /* "qcow2", "vmdk", "vhdx" */
	const char *library; /* "libqcow", ... (for messages) */
	/* Load the library (dlopen, on the first image of the format: yal_load.h). 0, or
	 * -ENOTSUP with the reason in err. Any thread; before open and lib are used. */
	int (*load)(char *err, size_t errn);
	/* Open path read-only: *h and l->size, l->subformat, l->backing (malloc'd or NULL).
	 * 0 or -errno with the reason in err. */
	int (*open)(const char *path, void **h, struct disk_layer *l, char *err, size_t errn);
	/* The largest read that the library serves right on an image with a parent: libqcow
	 * 20201213 reads a whole request from the parent when its first cluster is not
	 * allocated in the child, so reads are split at cluster boundaries. 0: no limit. */
	uint32_t (*grain)(void *h, const char *path);
	const struct foreign_lib *lib; /* filled by load */
};

extern const struct foreign_ops disk_qcow_ops, disk_vmdk_ops, disk_vhdx_ops;

/* Open d->path (format ops->format) and its backing chain read-only: set d->ops, d->priv,
 * d->size, d->format. 0 or -errno (one logged line naming the file). */
int disk_foreign_open(struct disk *d, const struct foreign_ops *ops, unsigned flags);
int disk_foreign_lock(struct disk *d);
/* disk_parallel_reads of a foreign disk. */
int disk_foreign_parallel(struct disk *d, int want);
void disk_foreign_unlock(struct disk *d);
const struct disk_layer *disk_foreign_layers(struct disk *d, int *n);

/* The innermost message of a libyal error backtrace (the most specific one), without its
 * "function: " prefix, into out. */
void disk_foreign_errmsg(const char *backtrace, char *out, size_t n);

/* err = "what: " (what may be NULL) and the innermost message of the library error *e,
 * "unknown error" without one; frees *e (sets it NULL). */
void disk_foreign_liberr(const struct foreign_ops *ops, intptr_t **e, const char *what,
			 char *err, size_t n);

/* Close and free the library handle h (NULL: nothing). */
void disk_foreign_libclose(const struct foreign_ops *ops, void *h);

#endif
