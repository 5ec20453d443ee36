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

/* Create a virtio-blk device on disk (borrowed: the caller closes it after
 * virtio_blk_destroy). name is used in log lines. Returns 0 and *out, or -errno. */
int virtio_blk_create(struct virtio_host *h, struct disk *disk, const char *name,
		      const struct virtio_blk_opts *o, struct virtio_blk **out);
struct virtio_dev *virtio_blk_dev(struct virtio_blk *b);
/* Whether requests go through io_uring. */
bool virtio_blk_uses_uring(const struct virtio_blk *b);
/* The device's counters (read them with vdisk_stats_read); valid until destroy. */
const struct vdisk_stats *virtio_blk_stats(const struct virtio_blk *b);
/* Stop the device (in-flight requests finish), flush the disk, free b. NULL is allowed. */
void virtio_blk_destroy(struct virtio_blk *b);

#endif
