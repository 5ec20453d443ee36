/* virtio-rng (entropy source, device id 4): fills the guest's buffers from getrandom(). */
#ifndef VSRV_DEVICES_VIRTIO_RNG_H
#define VSRV_DEVICES_VIRTIO_RNG_H

#include "devices/virtio/virtio.h"

struct virtio_rng;

/* What virtio_rng_save keeps: the device core only (the device has no config and no
 * state of its own; getrandom() is not state). */
struct virtio_rng_state {
	struct virtio_dev_state dev;
};

/* Create the device (not yet on a transport). Returns 0 and *out (free with
 * virtio_rng_destroy after its transport), or -errno. */
int virtio_rng_create(struct virtio_host *h, struct virtio_rng **out);
struct virtio_dev *virtio_rng_dev(struct virtio_rng *r);
void virtio_rng_destroy(struct virtio_rng *r);
/* Save (0 or -errno) and restore (0, or -EINVAL with r unchanged: see virtio_dev_check). */
int virtio_rng_save(struct virtio_rng *r, struct virtio_rng_state *st);
int virtio_rng_restore(struct virtio_rng *r, const struct virtio_rng_state *st);

#endif
