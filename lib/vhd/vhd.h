/* libvhd: Virtual Hard Disk (VHD 1.0) images: fixed, dynamic and differencing.
 * Depends on libc only. See docs/vhd.md for the on-disk format and the write ordering.
 *
 * Conventions
 * - Functions return 0 or -errno. On failure, vhd_errmsg() gives a one-line message naming
 *   the file ("a.vhd: footer checksum mismatch (stored 0x..., computed 0x...)").
 * - Offsets and lengths in the I/O calls are 512-byte sectors (VHD_SECTOR).
 * - A struct vhd is owned by the caller of vhd_open/vhd_create and released by vhd_close.
 *   Parents of a differencing image are opened (read-only) and owned by the child.
 * - Threads: vhd_read*, vhd_write*, vhd_write_zeroes, vhd_discard, vhd_flush, vhd_map and
 *   vhd_get_info may be called concurrently on one struct vhd from any number of threads.
 *   vhd_close, vhd_resize, vhd_compact and vhd_commit need exclusive use of the handle.
 *   Concurrent writes to the SAME sectors have no defined order (as with any disk).
 * - Durability: a write is durable once a later vhd_flush() returned 0. Until then, after
 *   a crash, a written sector reads back either its old or its new content, and the image
 *   checks clean or with leaks only (see docs/vhd.md).
 */
#ifndef VSRV_VHD_VHD_H
#define VSRV_VHD_VHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define VHD_SECTOR 512
#define VHD_MAX_SIZE (2040ULL << 30)          /* 2040 GiB, the format's practical limit */
#define VHD_DEFAULT_BLOCK_SIZE (2U << 20)      /* 2 MiB */

struct vhd;

enum vhd_type {
	VHD_TYPE_FIXED = 2,
	VHD_TYPE_DYNAMIC = 3,
	VHD_TYPE_DIFF = 4,
};

/* ---- open / create / close ---------------------------------------------------------- */

#define VHD_RDONLY    0x01 /* open read-only: the library never writes the file */
#define VHD_NOPARENT  0x02 /* differencing image: do not open the parent chain (for info and
                            * check of broken chains); reads that need the parent fail with
                            * -ENOLINK */
#define VHD_PARENT_RW 0x04 /* open the immediate parent read-write (needed by vhd_commit) */
#define VHD_NOSYNC    0x08 /* vhd_flush/vhd_close keep the metadata write ordering but skip
                            * fdatasync (safe against a process crash, not power loss);
                            * for bulk copies (convert) that sync once at the end or never */
#define VHD_NOLOCK    0x10 /* take no image lock (see "image locks" below) on the image nor
                            * its parents: for readers that tolerate a writer (qemu-img's
                            * -U) and a migration's destination until the hand-over */

/* Open the image at path. Unless VHD_NOLOCK, locks it first (vhd_lock_fd): shared when
 * read-only, exclusive for writing, and the parents of a differencing image shared (the
 * immediate parent exclusive with VHD_PARENT_RW); -EBUSY when another user holds a lock
 * that conflicts. Verifies cookies, checksums, the dynamic header and the BAT
 * (entries in range, not into metadata, not overlapping), and opens the parent chain of a
 * differencing image (locators W2ru relative to the child's directory, then W2ku, then
 * MacX; parent unique id and timestamp checked; loops and missing parents are errors).
 * If the trailing footer is damaged but the copy at offset 0 is valid, the copy is used
 * (vhd_check reports this; a read-write open rewrites the trailing footer).
 * Returns 0 and *out (caller owns it; vhd_close), or -errno: -ENOENT missing file or
 * missing parent, -EINVAL corrupt image or not a VHD, -ELOOP parent loop, -EACCES, -EIO. */
int vhd_open(const char *path, int flags, struct vhd **out);

struct vhd_create_opts {
	enum vhd_type type;    /* fixed, dynamic or differencing */
	uint64_t size;         /* virtual size in bytes (differencing: 0 = the parent's size,
	                        * anything else must equal it). Without force_size the size is
	                        * rounded UP to the next CHS geometry (as qemu-img does), so
	                        * every tool agrees on it; sizes above the CHS maximum (~127 GiB)
	                        * are kept (rounded up to 512). At most VHD_MAX_SIZE. */
	bool force_size;       /* keep size exactly (rounded up to 512 bytes); the creator is
	                        * then "win " unless creator is given (a creator that tools read
	                        * by current size, so QEMU/Hyper-V/Azure agree on the size) */
	uint32_t block_size;   /* dynamic/differencing: a power of two in [4 KiB, 256 MiB] with
	                        * at most 2^25 blocks; 0 = VHD_DEFAULT_BLOCK_SIZE */
	const char *parent;    /* differencing: path to the parent (absolute or relative to the
	                        * current directory); stored as W2ru (relative to the child's
	                        * directory) and W2ku (absolute) locators and the parent name */
	char creator[4];       /* creator application, e.g. "vsrv"; all zero = default ("vsrv",
	                        * or "win " with force_size). Note: QEMU reads images whose
	                        * creator is not one of "win ", "qem2", "d2v ", "CTXS", "tap\0"
	                        * by CHS geometry, so a custom creator with force_size and a
	                        * non-CHS size is read shorter by QEMU. */
	bool excl;             /* fail with -EEXIST if path exists (default: truncate it) */
	bool parent_nolock;    /* differencing: read the parent without its shared lock (a
	                        * live snapshot's new top over an image a VM writes: only
	                        * the parent's footer, which writes never change, is read) */
	uint32_t timestamp;    /* 0 = now; else seconds since 2000-01-01 UTC (reproducible
	                        * images in tests) */
	const uint8_t *uuid;   /* NULL = random; else 16 bytes */
};

/* Create an image. Writes all metadata and syncs it. If out is not NULL the new image is
 * returned opened read-write (caller owns it); otherwise it is closed. On failure the
 * partially written file is removed. Returns 0 or -errno (-EINVAL bad options, -EEXIST,
 * -EFBIG size above VHD_MAX_SIZE, errors of opening the parent). */
int vhd_create(const char *path, const struct vhd_create_opts *opts, struct vhd **out);

/* A new top over an image already open (a live snapshot: the VMM gets the new top as a
 * descriptor and never opens a file by name). Open the differencing image on fd (path: its
 * name, for messages and vhd_path; never opened) with parent, the top of a chain opened
 * with vhd_open, as its parent: the image must be a differencing VHD (a fixed or dynamic
 * one: -EINVAL) whose header records parent's unique id and time stamp, of parent's size,
 * and whose locators name parent's file (as vhd_open of it later finds its parent: a reset
 * or a restart opens the chain by names) (-EINVAL otherwise: the message says which), and
 * fd open read-write unless VHD_RDONLY
 * (-EBADF). flags: VHD_RDONLY, VHD_NOSYNC, VHD_NOLOCK. Unless VHD_NOLOCK, fd is locked
 * exclusively (-EBUSY when another user holds it); a writable parent is flushed, becomes
 * read-only and, unless it was opened VHD_NOLOCK, its lock goes to shared in place (no
 * moment without one). On success *out owns fd and parent (vhd_close(*out) closes both);
 * on failure both stay the caller's, as they were. */
int vhd_open_over(int fd, const char *path, int flags, struct vhd *parent, struct vhd **out);

/* Undo vhd_open_over (v, which must have written nothing, is closed with its fd): its
 * parent goes back to *parent as it was, writable again and its lock exclusive. 0, or
 * -EBUSY/-errno when that lock could not be had again (a reader came meanwhile: *parent
 * then holds no lock of its own, as if opened VHD_NOLOCK, vhd_errmsg says why). */
int vhd_close_over(struct vhd *v, struct vhd **parent);

/* Write pending metadata (as vhd_flush, honouring VHD_NOSYNC), close the file and the
 * parents, free v. NULL is allowed (returns 0). Returns the first error met while writing
 * metadata; v is freed in every case. */
int vhd_close(struct vhd *v);

/* 1 if the file starts or ends with a VHD footer cookie ("conectix"), 0 if not, -errno if
 * it cannot be read. Cheap: two 512-byte reads. */
int vhd_probe(const char *path);

/* The message of the last failed call in this thread ("" if none). Valid until the next
 * libvhd call in this thread. */
const char *vhd_errmsg(void);

/* ---- I/O --------------------------------------------------------------------------- */

/* Read or write nsectors = total iov length / 512 (iov lengths must sum to a multiple of
 * 512) starting at sector. The range must lie within the virtual size (-EINVAL otherwise,
 * -EROFS for writes to a read-only image). Reads of unallocated space cost no file I/O.
 * Writes of all-zero data to space that reads as zeros allocate nothing. Buffers are the
 * caller's. 0 or -errno. */
int vhd_readv(struct vhd *v, uint64_t sector, const struct iovec *iov, int iovcnt);
int vhd_writev(struct vhd *v, uint64_t sector, const struct iovec *iov, int iovcnt);
int vhd_read(struct vhd *v, uint64_t sector, void *buf, uint64_t nsectors);
int vhd_write(struct vhd *v, uint64_t sector, const void *buf, uint64_t nsectors);

/* Make nsectors from sector read as zeros. Dynamic: unallocated blocks stay unallocated;
 * allocated ranges are zeroed with a hole punched where the file system can. Differencing:
 * blocks are left unallocated only where no ancestor has data; elsewhere explicit zeros
 * are stored (allocating the block, without writing the zero data itself). Fixed: zeros
 * (hole punched). 0 or -errno. */
int vhd_write_zeroes(struct vhd *v, uint64_t sector, uint64_t nsectors);

/* The caller no longer needs these sectors; they read as zeros afterwards (same effect as
 * vhd_write_zeroes; host space released where possible). 0 or -errno. */
int vhd_discard(struct vhd *v, uint64_t sector, uint64_t nsectors);

/* Make all completed writes durable: fdatasync the data, write the changed BAT sectors and
 * sector bitmaps, fdatasync again (no fdatasync with VHD_NOSYNC). 0 or -errno. */
int vhd_flush(struct vhd *v);

/* ---- information ------------------------------------------------------------------- */

struct vhd_info {
	enum vhd_type type;
	uint64_t virtual_size;     /* bytes the guest sees (decided as QEMU does: CHS product
	                            * for most creators, current size for "win ", "qem2",
	                            * "d2v ", "CTXS", "tap\0", and at the maximum geometry) */
	uint64_t current_size;     /* footer fields */
	uint64_t original_size;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors_per_track;
	char creator_app[5];       /* NUL-terminated, may hold NUL bytes inside ("tap") */
	uint32_t creator_version;
	char creator_os[5];
	uint32_t timestamp;        /* seconds since 2000-01-01 UTC */
	uint8_t uuid[16];
	bool saved_state;
	uint32_t features;
	/* dynamic and differencing only (else 0) */
	uint32_t block_size;
	uint32_t max_table_entries;
	uint64_t bat_offset;
	uint32_t allocated_blocks;
	/* differencing only */
	uint8_t parent_uuid[16];
	uint32_t parent_timestamp;
	char parent_name[1024];    /* UTF-8 of the header's parent name */
	char parent_path[4096];    /* the parent file found through the locators ("" with
	                            * VHD_NOPARENT or when none is found) */
	/* every type */
	uint64_t file_size;        /* bytes of the image file (st_size) */
	uint64_t file_blocks;      /* bytes allocated on the host (st_blocks * 512) */
	int depth;                 /* 0 for this image, parents count up */
};

/* Fill *info for v. Never fails. */
void vhd_get_info(struct vhd *v, struct vhd_info *info);

/* The opened parent of a differencing image (owned by v, valid until vhd_close(v)), or
 * NULL (not differencing, or VHD_NOPARENT). Walk the chain by calling it again. */
struct vhd *vhd_parent(struct vhd *v);

/* The path v was opened with (owned by v). */
const char *vhd_path(struct vhd *v);

/* Fixed images: the file descriptor holding the data (owned by v) and the byte offset of
 * sector 0 (always 0); the data of sector n is at byte n*512 of that fd. -EINVAL for other
 * types. */
int vhd_fixed_fd(struct vhd *v, uint64_t *offset);

/* ---- map: where sectors come from -------------------------------------------------- */

struct vhd_extent {
	uint64_t sector;       /* start (== the sector passed in) */
	uint64_t nsectors;     /* length of the run, >= 1 */
	int depth;             /* image of the chain holding the data: 0 = v, 1 = its parent...;
	                        * -1 = nowhere (reads as zeros) */
	uint64_t file_offset;  /* byte offset of the first sector in that image's file
	                        * (0 when depth == -1) */
};

/* Describe the longest run starting at sector (at most nsectors) whose sectors all come
 * from the same image at consecutive file offsets (or all read as zeros). With VHD_NOPARENT,
 * sectors the parent would provide are reported with depth 1 and file_offset 0. Fixed images
 * report one run. Used by map, sparse convert and commit. 0 or -errno. */
int vhd_map(struct vhd *v, uint64_t sector, uint64_t nsectors, struct vhd_extent *ext);

/* ---- maintenance ------------------------------------------------------------------- */

enum vhd_problem_kind {
	VHD_PROBLEM_CORRUPT = 1, /* data can be misread or lost; not repaired */
	VHD_PROBLEM_LEAK = 2,    /* space not referenced by anything; harmless, repairable */
};

struct vhd_problem {
	enum vhd_problem_kind kind;
	uint64_t offset;         /* byte offset in the file where the problem is */
	char message[256];       /* e.g. "BAT entry 17 points past the end of the file" */
};

typedef void (*vhd_problem_fn)(void *opaque, const struct vhd_problem *p);

#define VHD_CHECK_REPAIR_LEAKS 0x1 /* truncate leaked space at the end of the file and
                                    * rewrite a damaged trailing footer from the copy at 0 */
#define VHD_CHECK_NOLOCK 0x2         /* check without the image's shared lock (vhd_lock_fd):
                                    * an image a VM writes may then check as damaged */

struct vhd_check_result {
	unsigned corruptions;
	unsigned leaks;
	unsigned leaks_fixed;
	uint64_t leaked_bytes;
	uint32_t allocated_blocks;
	uint32_t total_blocks;
	enum vhd_type type;      /* 0 when not even the footer could be read */
};

/* Check the image at path without trusting it (this image only, not its parents; a
 * missing parent is reported as corruption), holding its shared lock (-EBUSY when it is
 * written by another process) unless VHD_CHECK_NOLOCK. Calls fn (if not NULL) once per problem,
 * then fills *res. Never writes unless flags has VHD_CHECK_REPAIR_LEAKS.
 * Returns 0 when the check ran (whatever it found), -errno when it could not (e.g.
 * -ENOENT, -EACCES; a file too damaged to be a VHD is reported as a corruption, not an
 * error). */
int vhd_check(const char *path, unsigned flags, vhd_problem_fn fn, void *opaque,
	      struct vhd_check_result *res);

typedef void (*vhd_progress_fn)(void *opaque, uint64_t done, uint64_t total);

/* Copy every sector held by the differencing image v into its parent, then flush the
 * parent. v must have been opened with VHD_PARENT_RW. v itself is not changed: it still
 * reads the same (delete it to finish an undo disk's commit). The parent's unique id and
 * footer timestamp are kept, so v and siblings stay valid. progress (may be NULL) is
 * called with sectors done/total. 0 or -errno (-EINVAL if v is not differencing). */
int vhd_commit(struct vhd *v, vhd_progress_fn progress, void *opaque);

/* Make the differencing image at path a child of parent_path (as `qemu-img rebase -u`):
 * its header records the new parent's unique id, time stamp and name, and its locators
 * (written into the space the old ones had; -ENOSPC when no new locator fits) point to it.
 * The data is not touched: the caller makes sure the new parent reads as the old one did
 * (vhd_commit of the old parent into the new one). Locks the image exclusively and the new
 * parent shared. 0 or -errno (-EINVAL: not differencing, or the sizes differ). */
int vhd_set_parent(const char *path, const char *parent_path);

#define VHD_RESIZE_SHRINK 0x1 /* allow a smaller size (data beyond it is lost) */

/* Change the virtual size of a fixed or dynamic image opened read-write (differencing:
 * -ENOTSUP). new_size is rounded as in vhd_create (force_size: exact to 512 bytes, else up
 * to CHS geometry). Dynamic images whose BAT is too small get a larger BAT (the first
 * data blocks are moved to the end, crash-safely). Shrinking without VHD_RESIZE_SHRINK is
 * -EINVAL. 0 or -errno. */
int vhd_resize(struct vhd *v, uint64_t new_size, bool force_size, unsigned flags);

/* Release every block of a dynamic image whose data is all zeros (differencing: blocks
 * with no sector present, or all-zero blocks where no ancestor has data), move the
 * remaining blocks down over the holes and shorten the file. Crash-safe: at any moment the
 * image reads the same and checks clean or with leaks only. *freed (may be NULL) receives
 * the number of blocks released. progress may be NULL. 0 or -errno. */
int vhd_compact(struct vhd *v, uint32_t *freed, vhd_progress_fn progress, void *opaque);

/* ---- image locks --------------------------------------------------------------------
 * Every user of an image file holds a lock on it while it has it open, so that a writer
 * excludes every other user and readers share it: VMs, vsrv img, the server, and QEMU and
 * qemu-img (the lock bytes and their meaning are QEMU's, see lock.c). The locks belong to
 * the open file description: they survive fork and dup, and go when its last fd closes. */

enum vhd_lock_mode {
	VHD_LOCK_NONE,   /* no lock */
	VHD_LOCK_SHARED, /* reading: other readers may share the image, no writer */
	VHD_LOCK_EXCL,   /* writing: no other user at all */
};

/* Lock the image open on fd (any file: raw images too) in mode, replacing the lock this fd's
 * description held (VHD_LOCK_NONE releases it). Returns 0; -EBUSY when another description
 * (another process, or another open of the same file here) holds a lock that conflicts,
 * with vhd_errmsg() naming path ("failed to get \"write\" lock ... is another process using
 * the image?") and nothing held; or -errno. File systems without such locks: 0. */
int vhd_lock_fd(int fd, enum vhd_lock_mode mode, const char *path);

/* Release fd's image lock (its description's). Never fails. */
void vhd_unlock_fd(int fd);

/* Whether mode could be had on fd now, without taking it: 0, -EBUSY (message as for
 * vhd_lock_fd), -errno. vhd_lock_path_test opens path read-only for the test. */
int vhd_lock_test(int fd, enum vhd_lock_mode mode, const char *path);
int vhd_lock_path_test(const char *path, enum vhd_lock_mode mode);

/* Take the locks v's open flags call for (as vhd_open without VHD_NOLOCK) on v and its
 * parents; v was opened with VHD_NOLOCK or unlocked with vhd_unlock. 0, or -EBUSY/-errno
 * with nothing held. vhd_unlock releases them all (v is then as if opened VHD_NOLOCK).
 * Not concurrently with other calls on v's chain that open or close. */
int vhd_lock(struct vhd *v);
void vhd_unlock(struct vhd *v);

/* ---- helpers shared with tools ----------------------------------------------------- */

/* The CHS geometry of the VHD spec for a size in sectors (capped at 65535/16/255). */
void vhd_geometry(uint64_t sectors, uint16_t *cyls, uint8_t *heads, uint8_t *spt);

/* The size vhd_create would give an image asked for size bytes (force_size as there). */
uint64_t vhd_round_size(uint64_t size, bool force_size);

/* "fixed", "dynamic", "differencing" or "unknown". */
const char *vhd_type_name(enum vhd_type t);

#endif
