/* The block layer: a disk image behind one interface, so devices do not care whether the
 * image is raw or VHD (fixed, dynamic, differencing). The formats people bring (qcow2, VMDK,
 * VHDX) are read, never written, through the libraries made for them (libqcow, libvmdk,
 * libvhdi): `vsrv img` converts them. Offsets and lengths are in 512-byte sectors. Operations are synchronous and thread-safe: devices call them from their own
 * I/O threads, never from a vCPU thread. */
#ifndef VSRV_DISK_DISK_H
#define VSRV_DISK_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <sys/uio.h>

#define DISK_SECTOR 512

struct disk;

struct disk_ops {
	/* Read/write nsectors = total iov length / 512 starting at sector. 0 or -errno. */
	int (*readv)(struct disk *d, uint64_t sector, const struct iovec *iov, int iovcnt);
	int (*writev)(struct disk *d, uint64_t sector, const struct iovec *iov, int iovcnt);
	/* Make every completed write durable (fdatasync and format metadata). */
	int (*flush)(struct disk *d);
	/* The guest no longer needs these sectors: they may read back as zeros afterwards
	 * (or keep their data). Releases space where the format can. */
	int (*discard)(struct disk *d, uint64_t sector, uint64_t nsectors);
	/* Make these sectors read as zeros; with may_unmap, space may be released. */
	int (*write_zeroes)(struct disk *d, uint64_t sector, uint64_t nsectors, bool may_unmap);
	/* Free priv and close files. */
	void (*close)(struct disk *d);
};

struct disk {
	const struct disk_ops *ops;
	void *priv;          /* the format's state */
	char *path;          /* owned copy of the path given to disk_open */
	const char *format;  /* "raw", "vhd", "qcow2", "vmdk" or "vhdx" (static string) */
	uint64_t size;       /* virtual size in bytes, a multiple of 512 */
	bool readonly;
	unsigned flags;      /* the DISK_* flags it was opened with (for disk_reopen) */
	/* When direct_fd >= 0, sector n lives at byte direct_offset + n * 512 of direct_fd
	 * (raw images, fixed VHDs): a device may do its own asynchronous I/O there (io_uring),
	 * bounded by size, and must still call ops->flush for durability. */
	int direct_fd;
	uint64_t direct_offset;
	/* The dirty-block bitmap (disk_dirty_start): one bit per DISK_DIRTY_BLOCK bytes, words
	 * changed with atomics; allocated by the first start, freed by disk_close. */
	uint64_t *dirty_map;
	int dirty_on;        /* atomic: completed writes mark dirty_map */
};

#define DISK_RDONLY  0x1 /* never write the image (nor its parents) */
#define DISK_NOCACHE 0x2 /* O_DIRECT where the file system allows it */
#define DISK_NOLOCK  0x4 /* take no image lock (a migration's destination until the
                          * hand-over, see disk_reopen; readers that tolerate a writer) */
#define DISK_FOREIGN 0x8 /* accept qcow2, vmdk and vhdx (with DISK_RDONLY only): for
                          * `vsrv img`'s readers, never a VM's disk */

/* The deepest backing chain a foreign image may have (the image and its backing files). */
#define DISK_MAX_CHAIN 16

/* One file of a foreign image's chain, as disk_layers describes it. */
struct disk_layer {
	char *path;            /* the file (the top one: the path given to disk_open) */
	const char *format;    /* "qcow2", "vmdk" or "vhdx" */
	char subformat[40];    /* qcow2 "v2"/"v3"; vmdk "monolithicSparse", "streamOptimized",
	                        * ...; vhdx "fixed", "dynamic" or "differencing" */
	uint64_t size;         /* its virtual size in bytes */
	char *backing;         /* the backing (parent) file as the image names it, or NULL */
};

/* The format of the image at path, from its first bytes (and a VHD's footer): "vhd",
 * "qcow2", "vmdk" (a sparse extent or a descriptor), "vhdx", "vdi" (recognised, not read) or
 * "raw" for anything else. 0 and *format (a static string), or -errno. */
int disk_probe(const char *path, const char **format);

/* True for the formats read through a library, read-only: qcow2, vmdk, vhdx. */
bool disk_format_foreign(const char *format);

/* The chain of a foreign image, top first: sets *n to the number of files (1 plus its
 * backing files) and returns the array, owned by d (valid until disk_close). NULL and
 * *n = 0 for raw and VHD images. */
const struct disk_layer *disk_layers(struct disk *d, int *n);

/* Open the image at path. format is "raw", "vhd" ("vpc"), "qcow2", "vmdk", "vhdx", or NULL to
 * probe (disk_probe). qcow2, vmdk and vhdx need DISK_FOREIGN and DISK_RDONLY: without
 * DISK_FOREIGN they are refused with -EMEDIUMTYPE (a VM runs on raw or VHD: convert first),
 * without DISK_RDONLY with -EROFS; a backing chain is followed where the library allows
 * (qcow2 over qcow2, vmdk over vmdk, vhdx over vhdx, relative to the image's directory);
 * what the library cannot read (encryption, unknown features, a missing or foreign backing
 * file, a damaged file) is refused with -ENOTSUP, -ENOENT or -EINVAL and one logged line
 * naming the file and the reason. Unless DISK_NOLOCK, the image is locked while open
 * (lib/vhd's image locks, QEMU's protocol): exclusively for writing, shared with
 * DISK_RDONLY, and the parents of a differencing VHD shared. Returns 0 and *out (owned by
 * the caller, close with disk_close), or -errno (-EINVAL for a corrupt image, -EBUSY for
 * an image another user holds, with one logged line naming it). */
int disk_open(const char *path, const char *format, unsigned flags, struct disk **out);

/* Close the image and free d. NULL is allowed. Does not flush: call flush first. */
void disk_close(struct disk *d);

/* Open d's image again (same path, format and flags, but locked: DISK_NOLOCK is dropped)
 * and put the new handle in place of the old one in *d, which is then closed: the format's
 * cached metadata (a VHD's BAT and footer) is read afresh. For a migration destination,
 * whose disks another process wrote (and flushed, and unlocked) since they were opened;
 * nothing may use d during the call. The old handle had written nothing, so closing it
 * writes nothing. Returns 0, or -errno (-EBUSY: locked by another user; d unchanged). */
int disk_reopen(struct disk *d);

/* ---- a new top under a running disk (a live snapshot: docs/server.md) ----
 * disk_switch puts the image open on fd (path: its name, kept as d->path for a reset and a
 * save; never opened here), a differencing VHD made beforehand whose header names d's image
 * as its parent (its unique id, time stamp and size), in place of d's image. fd comes from
 * whoever asked for the switch (over the control socket), so a sandboxed VMM opens nothing
 * by name: it must be a regular file, the file path names now (disk_fd_check), open
 * read-write. d's image is flushed and becomes the new top's parent as it is, without a
 * reopen (read-only from then on, its lock shared); the new top is locked exclusively
 * (unless d takes no locks: DISK_NOLOCK) and swapped into *d, which keeps its address
 * (devices hold it) and its dirty bitmap. The old handle goes to *old: disk_switch_done
 * frees it (the switch stands), or disk_switch_undo puts it back in *d (the new top, which
 * must have written nothing, closed with its fd; the old lock exclusive again). Nothing may
 * use d during these calls (the devices quiesced). fd: on success d's; otherwise still the
 * caller's. Returns 0, or -errno with the reason in err (one line naming the image, also
 * logged), d as it was and *old NULL: -EMEDIUMTYPE d is not a writable VHD; -EINVAL the
 * image is not a differencing VHD over d's (a fixed or dynamic one, another parent, another
 * size, locators that name another file or none that exists, not a VHD at all) or fd is not path's file; -EBADF fd not open read-write; -EBUSY
 * the new top is locked by another user. disk_switch_undo: 0, or -errno when the old lock
 * could not be had again (logged; the disk works on, unlocked). */
int disk_switch(struct disk *d, const char *path, int fd, struct disk **old, char *err,
		size_t errlen);
int disk_switch_undo(struct disk *d, struct disk *old);
void disk_switch_done(struct disk *old);

/* Whether fd is open on a regular file and path names that same file now (st_dev, st_ino):
 * 0, or -EINVAL/-EBADF/-errno of the stat with the reason in err (also logged). */
int disk_fd_check(int fd, const char *path, char *err, size_t errlen);

/* Release d's image locks (a migration's source, once its disks are flushed, before the
 * destination takes them), and take them again (the migration failed: the VM goes on).
 * disk_lock: 0, or -EBUSY (logged, naming the image) / -errno with nothing held. */
void disk_unlock(struct disk *d);
int disk_lock(struct disk *d);

/* ---- the dirty-block bitmap (live migration with local disks: docs/migration.md) ----
 * While it is on, every write that completes on the disk marks the blocks it touched: the
 * format's writev, discard and write_zeroes (so every device path that goes through the
 * ops) and, through disk_dirty_mark, the devices' own io_uring writes on direct_fd when
 * they complete. A block is marked after the write's data reached the image, so a reader
 * that takes a block's bit (disk_dirty_take) and then reads it either sees the new data or
 * finds the bit set again: nothing is missed. Marks come from whichever thread completes
 * the write: the I/O thread of each virtio device (virtio-blk, virtio-scsi), of the AHCI
 * and IDE controllers, where io_uring completions are reaped too; so they are atomic ORs
 * on the bitmap's words, and a take is an atomic exchange (the migration thread). Count
 * from any thread; start and stop from one thread at a time. */
#define DISK_DIRTY_SHIFT 16                       /* the granularity: 64 KiB */
#define DISK_DIRTY_BLOCK (1u << DISK_DIRTY_SHIFT)

/* Turn marking on, every block marked (all: the first pass of a copy sends everything) or
 * none. 0 or -ENOMEM. */
int disk_dirty_start(struct disk *d, bool all);

/* Turn marking off (the bitmap stays until disk_close; a mark racing the stop is harmless). */
void disk_dirty_stop(struct disk *d);

/* Mark the blocks of nsectors from sector (clipped to the disk), when marking is on. */
void disk_dirty_mark(struct disk *d, uint64_t sector, uint64_t nsectors);

/* The number of blocks (size / DISK_DIRTY_BLOCK rounded up: the last may be shorter) and of
 * 64-bit bitmap words. */
uint64_t disk_dirty_blocks(const struct disk *d);
uint64_t disk_dirty_words(const struct disk *d);

/* The marked blocks of word w (blocks 64w..64w+63, bit i = block 64w+i), cleared in the
 * same atomic step. 0 when nothing was ever started. */
uint64_t disk_dirty_take(struct disk *d, uint64_t w);

/* How many blocks are marked now. */
uint64_t disk_dirty_count(struct disk *d);

/* What a copier need not read: the run of sectors from sector (at most n, n > 0, inside the
 * disk) that is a hole (*hole true: it reads as zeros without data behind it: a raw file's
 * hole, a dynamic VHD's unallocated block) or may hold data (*hole false); its length in
 * sectors, >= 1, in *len. Never fails: what is not known may hold data. Any thread. */
void disk_block_status(struct disk *d, uint64_t sector, uint64_t n, bool *hole, uint64_t *len);

/* Let up to want disk_readv calls on d run at the same time (one thread each), for a copier
 * that reads with several threads: qcow2, VMDK and VHDX disks open their chain once more
 * per extra reader (their libraries serve one read at a time per handle). Returns how many
 * reads can run at once now (>= 1; 1 for the formats that do not do this). Concurrent
 * readv calls stay correct in any case: beyond that number they wait. Call it before the
 * reading threads start, from one thread. */
int disk_parallel_reads(struct disk *d, int want);

static inline int disk_readv(struct disk *d, uint64_t sector, const struct iovec *iov, int n)
{
	return d->ops->readv(d, sector, iov, n);
}

static inline int disk_writev(struct disk *d, uint64_t sector, const struct iovec *iov, int n)
{
	return d->readonly ? -EROFS : d->ops->writev(d, sector, iov, n);
}

static inline int disk_flush(struct disk *d)
{
	return d->readonly ? 0 : d->ops->flush(d);
}

#endif
