/* Internal to the virtqueue walker (virtq.c, the split ring and the public entry points;
 * virtq_packed.c, the packed ring): the helpers both layouts share and the packed ring's
 * functions, which the public virtq_* functions call when q->s.packed is set. Not for
 * devices: they use virtq.h. */
#ifndef VSRV_DEVICES_VIRTIO_VIRTQ_PRIV_H
#define VSRV_DEVICES_VIRTIO_VIRTQ_PRIV_H

#include "devices/virtio/virtq.h"

static inline uint16_t virtq_load16(volatile uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void virtq_store16(volatile void *p, uint16_t v)
{
	__atomic_store_n((volatile uint16_t *)p, v, __ATOMIC_RELEASE);
}

/* Mark q broken and log why (first time only). Returns -EIO. */
int virtq_fail(struct virtq *q, const char *why, unsigned a, unsigned b);

/* Add one buffer (d's addr, len, WRITE flag) to e after checking it lies in guest memory,
 * that no readable buffer follows a writable one (*seen_in) and that e has room; nseg is
 * for the log line. Adds the length to *out_len or *in_len. 0 or -EIO (q broken). */
int virtq_add_buf(struct virtq *q, struct virtq_elem *e, const struct virtq_desc *d,
		  unsigned nseg, bool *seen_in, uint64_t *out_len, uint64_t *in_len);

/* The packed ring: the same contracts as the virtq_* function of the same name. */
int virtq_packed_enable(struct virtq *q);
int virtq_packed_pop(struct virtq *q, struct virtq_elem *e);
void virtq_packed_unpop(struct virtq *q);
void virtq_packed_push(struct virtq *q, uint16_t id, uint32_t len);
bool virtq_packed_should_notify(struct virtq *q);
bool virtq_packed_has_avail(const struct virtq *q);
bool virtq_packed_arm(struct virtq *q);

#endif
