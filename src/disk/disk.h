/* The block layer: a disk image behind one interface, so devices do not care whether the
 * image is raw or VHD (fixed, dynamic, differencing). Offsets and lengths are in 512-byte
 * sectors. Operations are synchronous and thread-safe: devices call them from their own
 * I/O threads, never from a vCPU thread. */
#ifndef VSRV_DISK_DISK_H
#define VSRV_DISK_DISK_H

#include <stdbool.h>
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
	const char *format;  /* "raw" or "vhd" (static string) */
	uint64_t size;       /* virtual size in bytes, a multiple of 512 */
	bool readonly;
	unsigned flags;      /* the DISK_* flags it was opened with (for disk_reopen) */
	/* When direct_fd >= 0, sector n lives at byte direct_offset + n * 512 of direct_fd
	 * (raw images, fixed VHDs): a device may do its own asynchronous I/O there (io_uring),
	 * bounded by size, and must still call ops->flush for durability. */
	int direct_fd;
	uint64_t direct_offset;
};

#define DISK_RDONLY  0x1 /* never write the image (nor its parents) */
#define DISK_NOCACHE 0x2 /* O_DIRECT where the file system allows it */
#define DISK_NOLOCK  0x4 /* take no image lock (a migration's destination until the
                          * hand-over, see disk_reopen; readers that tolerate a writer) */

/* Open the image at path. format is "raw", "vhd", or NULL to probe (a VHD footer or header
 * makes it VHD, anything else raw). Unless DISK_NOLOCK, the image is locked while open
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

/* Release d's image locks (a migration's source, once its disks are flushed, before the
 * destination takes them), and take them again (the migration failed: the VM goes on).
 * disk_lock: 0, or -EBUSY (logged, naming the image) / -errno with nothing held. */
void disk_unlock(struct disk *d);
int disk_lock(struct disk *d);

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
