/* virtio-blk (device id 2) on the block layer (src/disk/disk.h): read, write, flush,
 * discard, write-zeroes, get-id, read-only disks, several queues. Requests are served on
 * the device's I/O thread: through io_uring on disk->direct_fd when the image allows it
 * (raw, fixed VHD), through the disk's synchronous operations otherwise. */
#ifndef VSRV_DEVICES_VIRTIO_BLK_H
#define VSRV_DEVICES_VIRTIO_BLK_H

#include "devices/virtio/stats.h"
#include "devices/virtio/virtio.h"
#include "disk/disk.h"

struct virtio_blk_opts {
	unsigned queues;    /* 1..16; 0 means 1 */
	const char *serial; /* GET_ID string (up to 20 bytes); NULL: derived from the path */
	bool no_uring;      /* force the synchronous path */
};

struct virtio_blk;

/* What virtio_blk_save keeps: the device core (features, status, queues) and the guest-
 * visible config. capacity, num_queues, readonly and serial are not the guest's to change:
 * they are saved to check that the restored device has the same disk and options. The
 * I/O counters, io_uring and the request pool are not state (rebuilt by create). */
struct virtio_blk_state {
	struct virtio_dev_state dev;
	uint64_t capacity;     /* 512-byte sectors */
	uint16_t num_queues;
	uint8_t writeback;     /* config writeback field (0 writethrough, 1 writeback) */
	uint8_t readonly;
	char serial[20];       /* GET_ID string, not NUL-terminated when 20 bytes long */
};

/* Create a virtio-blk device on disk (borrowed: the caller closes it after
 * virtio_blk_destroy). name is used in log lines. Returns 0 and *out, or -errno. */
int virtio_blk_create(struct virtio_host *h, struct disk *disk, const char *name,
		      const struct virtio_blk_opts *o, struct virtio_blk **out);
struct virtio_dev *virtio_blk_dev(struct virtio_blk *b);
/* Whether requests go through io_uring. */
bool virtio_blk_uses_uring(const struct virtio_blk *b);
/* The device's counters (read them with vdisk_stats_read); valid until destroy. */
const struct vdisk_stats *virtio_blk_stats(const struct virtio_blk *b);
/* Save b into *st: quiesces the device (requests on io_uring complete and are pushed to
 * the used ring first), copies, resumes. Returns 0 or -errno (the copy is made anyway).
 * For a migration, keep b quiesced (virtio_dev_quiesce) from before the save until
 * virtio_blk_destroy, so it takes nothing more from the rings. */
int virtio_blk_save(struct virtio_blk *b, struct virtio_blk_state *st);
/* Load *st into b, created with the same disk and options on the same guest memory.
 * -EINVAL (b unchanged) for a state from another disk (capacity, queues, read-only,
 * serial) or that virtio_dev_check refuses; 0 otherwise. Requests left in the avail rings
 * at the save are served after it. */
int virtio_blk_restore(struct virtio_blk *b, const struct virtio_blk_state *st);
/* Stop the device (in-flight requests finish), flush the disk, free b. NULL is allowed. */
void virtio_blk_destroy(struct virtio_blk *b);

#endif
