/* Live migration without shared storage: the disks' contents go in the migration stream
 * (docs/migration.md, "Disks without shared storage"), as QEMU's drive mirror does.
 *
 * Source (mdisk_tx): a DISKS frame after CONFIG names each copied disk (its device-table
 * entry and virtual size); then the disk layer's dirty-block bitmap (disk.h) is turned on
 * with every block marked, and each round sends the marked blocks (taking their marks) as
 * DISKDATA frames: a run of blocks with data, or a run of all-zero blocks as a ZERO record
 * with no data. Writes completed meanwhile mark their blocks again; the first round is
 * the full copy, later rounds the blocks written since; the last round runs with the guest
 * stopped and its disks flushed, so the destination ends with the source's contents.
 *
 * Destination (mdisk_rx): checks the DISKS frame against its own disks (same entries,
 * writable, the same virtual size), then writes each DISKDATA record into its disk, a ZERO
 * record with write_zeroes (a dynamic VHD allocates nothing for it), and flushes them all
 * at the end. Every record is checked (disk index, range inside the disk, 512-byte
 * alignment, lengths, flags, CRC) before anything is written.
 *
 * No KVM here: tests/unit/test_migrate_disk.c runs both ends over a socketpair, and
 * fuzz/migrate_disk.c feeds the receiver hostile records. */
#ifndef VSRV_VMM_MIGRATE_DISK_H
#define VSRV_VMM_MIGRATE_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/migrate_stream.h"

struct disk;

#define MIGRATE_DISK_VERSION  1
#define MIGRATE_DISKS_MAX     64u          /* disks in a DISKS frame, at most */
#define MIGRATE_DISK_DATA_MAX (1u << 20)   /* data bytes in one DISKDATA record, at most */
#define MIGRATE_DISK_ZERO     0x1u         /* record flag: the range reads as zeros */
#define MIGRATE_DISKS_LEN_MAX (sizeof(struct migrate_disks) + \
			       MIGRATE_DISKS_MAX * sizeof(struct migrate_disk_desc))

/* The DISKS frame's payload: this head, then count entries. */
struct migrate_disks {
	uint32_t version;     /* MIGRATE_DISK_VERSION */
	uint32_t count;       /* 0..MIGRATE_DISKS_MAX */
	uint32_t block;       /* the source's dirty-block size (DISK_DIRTY_BLOCK), for messages */
	uint32_t reserved;    /* 0 */
};

struct migrate_disk_desc {
	uint32_t entry;       /* device-table entry (strictly ascending) */
	uint32_t reserved;    /* 0 */
	uint64_t size;        /* virtual size in bytes: the destination's must be the same */
};

/* A DISKDATA frame's payload (index: the disk's position in DISKS): this record, then
 * length bytes of data unless flags has MIGRATE_DISK_ZERO. */
struct migrate_disk_rec {
	uint64_t offset;      /* bytes, a multiple of 512 */
	uint64_t length;      /* bytes, a multiple of 512, > 0; data: at most DATA_MAX */
	uint32_t flags;       /* MIGRATE_DISK_ZERO or 0 */
	uint32_t reserved;    /* 0 */
};

/* ---- source ---- */

struct mdisk_tx;

/* One disk to copy: its device-table entry, and a label for messages ("disk0"). */
struct mdisk_tx_disk {
	struct disk *d;       /* borrowed: must outlive the mdisk_tx */
	uint32_t entry;
	const char *label;
};

struct mdisk_tx_stats {
	uint64_t bytes;       /* stream bytes of DISKS and DISKDATA frames */
	uint64_t data;        /* disk bytes sent as data */
	uint64_t zero;        /* disk bytes sent as ZERO records */
	uint32_t rounds;
};

/* A sender for the n (0..MIGRATE_DISKS_MAX) disks of d, entries ascending. 0 and *out
 * (mdisk_tx_free), -EINVAL, -ENOMEM. */
int mdisk_tx_new(const struct mdisk_tx_disk *d, uint32_t n, struct mdisk_tx **out);

/* Send the DISKS frame. 0 or -errno (of the stream). */
int mdisk_tx_send_disks(struct mdisk_tx *t, int fd);

/* Turn on every disk's dirty-block bitmap with every block marked. 0 or -ENOMEM. */
int mdisk_tx_start(struct mdisk_tx *t);

/* Send every marked block of every disk (taking the marks): one round. cancel (may be NULL)
 * is read atomically between ranges: when it is non-zero the round stops with -ECANCELED.
 * 0, or -errno: a disk that cannot be read sets a reason in why (naming the disk); a
 * stream error leaves why empty. */
int mdisk_tx_round(struct mdisk_tx *t, int fd, const int *cancel, char *why, size_t whylen);

/* Bytes marked dirty now, all disks together (what the next round would send at most). */
uint64_t mdisk_tx_dirty_bytes(struct mdisk_tx *t);

const struct mdisk_tx_stats *mdisk_tx_stats(const struct mdisk_tx *t);

/* Turn the bitmaps off and free t. NULL is allowed. */
void mdisk_tx_free(struct mdisk_tx *t);

/* ---- destination ---- */

struct mdisk_rx;

/* The destination's disk for device-table entry: see struct migrate_sink.disk. */
typedef struct disk *(*mdisk_lookup_fn)(void *opaque, uint32_t entry, char *why, size_t whylen);

/* Check the DISKS payload p (len bytes, its CRC checked) and find each disk with lookup:
 * the same virtual size and writable, or a refusal naming the disk and both sizes. 0 and
 * *out (mdisk_rx_free), or -errno with a reason in why. */
int mdisk_rx_open(const void *p, uint64_t len, mdisk_lookup_fn lookup, void *opaque,
		  struct mdisk_rx **out, char *why, size_t whylen);

/* A DISKDATA frame whose header f was read from fd: read its payload, check the record
 * and the CRC, then write it into its disk. 0, or -errno with a reason in why (-EPROTO for
 * a malformed or corrupt record, -EIO and the disk's error for a failed write). */
int mdisk_rx_frame(struct mdisk_rx *r, int fd, const struct mstream_frame *f, char *why,
		   size_t whylen);

/* Flush every disk (the copy is complete). 0 or -errno with a reason in why. */
int mdisk_rx_finish(struct mdisk_rx *r, char *why, size_t whylen);

/* Disk bytes written from data records, and from ZERO records. */
void mdisk_rx_counts(const struct mdisk_rx *r, uint64_t *data, uint64_t *zero);

/* Free r (the disks stay the caller's). NULL is allowed. */
void mdisk_rx_free(struct mdisk_rx *r);

#endif
