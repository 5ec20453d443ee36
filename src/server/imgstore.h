/* The image store: the files of DATA/images (ISOs, disk images, kernels) that VMs boot
 * from and disks are made from. Uploads stream into a hidden temporary file
 * (".upload-NAME-XXXXXX") with their SHA-256 computed as the bytes arrive, and appear under
 * their name only whole: fsync, then a rename that never replaces (a name already taken is
 * -EEXIST). What is known of a file (its SHA-256) is cached in DATA/images/.meta/NAME,
 * keyed by the file's size, modification time and inode, so a cache entry never describes
 * another file; files copied in by hand are hashed lazily by one background thread. */
#ifndef VSRV_SERVER_IMGSTORE_H
#define VSRV_SERVER_IMGSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct imgstore;
struct imgup;

/* The store of directory dir (which must exist), refusing uploads larger than max_size
 * bytes. Removes what uploads of an earlier run left (hidden temporary files). 0 and *out
 * (free with imgstore_destroy), or -errno. */
int imgstore_create(const char *dir, uint64_t max_size, struct imgstore **out);

/* Stops the hashing thread; uploads in flight must have ended. */
void imgstore_destroy(struct imgstore *s);

uint64_t imgstore_max_size(const struct imgstore *s);

/* What the store knows of one image. */
struct imgstore_info {
	char name[256];
	uint64_t size;
	time_t modified;
	const char *kind;        /* "iso", "vhd", "qcow2", "vmdk", "vhdx", "kernel", "raw" */
	char sha256[65];         /* lowercase hex; "" while unknown (being computed) */
};

/* The image name (a regular file, not followed through a symbolic link) into *out.
 * Without a cached SHA-256 the background thread is asked to compute it. 0, -ENOENT or
 * -errno. */
int imgstore_get(struct imgstore *s, const char *name, struct imgstore_info *out);

/* Each image with a plain name (no leading dot, no control characters), at most max, in
 * directory order: fn(info, arg); a non-zero return ends the walk and is returned. 0 or
 * -errno. */
int imgstore_each(struct imgstore *s, size_t max, int (*fn)(const struct imgstore_info *i, void *arg),
		  void *arg);

/* The kind of the image file at path (see imgstore_info): by the formats' magic numbers
 * ("CD001" at 0x8001 for an ISO 9660 image; a VHD footer; qcow2, VMDK and VHDX headers), a
 * kernel by `vsrv run`'s own probe (a Linux bzImage, multiboot, an ELF vmlinux), else raw. */
const char *imgstore_kind(const char *path);

/* The path of image name into buf (n bytes). 0 or -ENAMETOOLONG. */
int imgstore_path(const struct imgstore *s, const char *name, char *buf, size_t n);

/* Start an upload of name (a valid name, checked by the caller) of length bytes (-1 when
 * unknown), whose SHA-256 must be expect (64 hex digits) when not NULL. Refused with
 * -EEXIST (the image exists, or another upload of it is in flight) or -E2BIG (length over
 * the limit). *pending receives the bytes other uploads in flight may still write (for the
 * caller's disk-space admission). 0 and *out, or -errno with a message in err. */
int imgup_begin(struct imgstore *s, const char *name, int64_t length, const char *expect,
		struct imgup **out, uint64_t *pending, char *err, size_t errlen);

/* Append n bytes. 0, or -E2BIG (past the limit), -ENOSPC, -EIO with a message in err; on an
 * error the upload is to be aborted. */
int imgup_write(struct imgup *u, const void *buf, size_t n, char *err, size_t errlen);

/* End the upload and free u: the file is synced and renamed into place, its SHA-256 cached.
 * 0 with *info filled; -EINVAL when the SHA-256 is not the one expected, -EEXIST when the
 * name was taken meanwhile, -EIO: then nothing is kept. A message in err. */
int imgup_finish(struct imgup *u, struct imgstore_info *info, char *err, size_t errlen);

/* The name u uploads (valid until u ends). */
const char *imgup_name(const struct imgup *u);

/* Abandon the upload (the client went away, or it was refused): its temporary file is
 * removed and u freed. NULL is a no-op. */
void imgup_abort(struct imgup *u);

/* Mark image name as read by a task (a disk made from it): imgstore_delete refuses it
 * with -EBUSY until the matching imgstore_release. 0 or -ENOMEM. */
int imgstore_hold(struct imgstore *s, const char *name);
void imgstore_release(struct imgstore *s, const char *name);

/* Remove image name (and its cache entry). 0, -ENOENT, -EBUSY (held by a task), -errno. */
int imgstore_delete(struct imgstore *s, const char *name);

#endif
