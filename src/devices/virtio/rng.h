/* virtio-rng (entropy source, device id 4): fills the guest's buffers from getrandom(). */
#ifndef VSRV_DEVICES_VIRTIO_RNG_H
#define VSRV_DEVICES_VIRTIO_RNG_H

#include "devices/virtio/virtio.h"

struct virtio_rng;

/* Create the device (not yet on a transport). Returns 0 and *out (free with
 * virtio_rng_destroy after its transport), or -errno. */
int virtio_rng_create(struct virtio_host *h, struct virtio_rng **out);
struct virtio_dev *virtio_rng_dev(struct virtio_rng *r);
void virtio_rng_destroy(struct virtio_rng *r);

#endif
