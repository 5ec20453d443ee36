/* The split virtqueue (virtio 1.2, 2.7) seen from the device: the walker that turns the
 * guest's descriptor chains into iovecs over guest memory, and the used ring.
 *
 * Everything the guest wrote is untrusted. The walker copies each descriptor once, checks
 * every address through guest_mem_ptr(), and rejects: heads or next indices out of range,
 * chains longer than the queue size (loops), indirect tables that are misaligned, empty,
 * outside memory, nested or not negotiated, lengths whose sum wraps, readable descriptors
 * after writable ones, and an avail index more than the queue size ahead. A rejected ring
 * makes the queue "broken": virtq_pop() returns -EIO from then on until virtq_reset(), the
 * first error is logged once, and the device is expected to set DEVICE_NEEDS_RESET.
 *
 * A virtq is used by one thread at a time (the device serialises pop/push). */
#ifndef VSRV_DEVICES_VIRTIO_VIRTQ_H
#define VSRV_DEVICES_VIRTIO_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/mem.h"

#define VIRTQ_MAX_SIZE 1024 /* largest queue size we offer; also the longest chain */

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX     29

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* The queue's configuration and progress: plain data, so it is also what save/restore keeps. */
struct virtq_state {
	uint16_t size;          /* number of entries, a power of two <= VIRTQ_MAX_SIZE */
	uint16_t ready;         /* the driver enabled the queue */
	uint16_t last_avail;    /* next avail ring entry the device consumes */
	uint16_t used_idx;      /* the device's copy of used->idx */
	uint16_t signalled_used;/* used_idx at the last interrupt (EVENT_IDX) */
	uint16_t signalled_valid;
	uint16_t broken;
	uint16_t pad;
	uint64_t desc_gpa, avail_gpa, used_gpa;
};

struct virtq {
	struct virtq_state s;
	const struct guest_mem *mem; /* not owned */
	const char *name;            /* for log lines, not owned */
	bool event_idx, indirect;    /* negotiated ring features */
	bool no_notify;              /* used->flags holds NO_NOTIFY (without EVENT_IDX) */
	/* Host views of the three areas, set by virtq_enable (NULL while not ready). */
	volatile struct virtq_desc *desc;
	volatile uint16_t *avail;    /* flags, idx, ring[size], used_event */
	volatile uint8_t *used;      /* flags, idx, ring[size] of {id, len}, avail_event */
};

/* One popped chain: out[] are the device-readable buffers, then in[] the device-writable
 * ones, both in guest order, in one array: iov[0 .. n_out) then iov[n_out .. n_out + n_in). */
struct virtq_elem {
	uint16_t head;
	uint16_t n_out, n_in;
	uint32_t out_len, in_len; /* byte totals of each direction */
	struct iovec iov[VIRTQ_MAX_SIZE];
};

/* Prepare q (zeroed state, not ready). mem and name are borrowed for q's life. */
void virtq_init(struct virtq *q, const struct guest_mem *mem, const char *name);

/* Back to the reset state (size kept at max_size, addresses cleared, not broken). */
void virtq_reset(struct virtq *q, uint16_t max_size);

/* Validate the configured size and the three ring areas (bounds and alignment) and mark
 * the queue ready. event_idx/indirect: the negotiated features. Returns 0, or -EINVAL
 * (logged once) leaving the queue not ready. */
int virtq_enable(struct virtq *q, bool event_idx, bool indirect);

/* Take the next available chain into *e. Returns 1 with *e filled, 0 when the ring is
 * empty, -EIO when the ring is malformed (the queue is then broken: see the file comment).
 * Not ready queues return 0.
 * Notification suppression: popping never asks the driver for a notification (with
 * EVENT_IDX avail_event stays where virtq_arm left it, behind last_avail, so the driver
 * does not notify; without it the first pop sets VIRTQ_USED_F_NO_NOTIFY). While the
 * device is busy it finds new entries on its own; when it goes idle it calls virtq_arm. */
int virtq_pop(struct virtq *q, struct virtq_elem *e);

/* Put a chain back as unconsumed (after virtq_pop when the device cannot serve it now). */
void virtq_unpop(struct virtq *q);

/* Return chain head with len bytes written by the device into its writable buffers. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);

/* After pushing: whether the driver wants an interrupt now (NO_INTERRUPT or used_event).
 * Updates the EVENT_IDX bookkeeping: call it once per batch and interrupt if true. */
bool virtq_should_notify(struct virtq *q);

/* Whether the avail ring holds entries the device has not consumed (no validation). */
bool virtq_has_avail(const struct virtq *q);

/* The device goes idle on q: ask the driver to notify for the next entry it makes
 * available (avail_event = last_avail, or clear NO_NOTIFY), then look at the avail ring
 * once more. Returns true when entries are there already (pop them: the driver may have
 * published them before it could see the request, and will not notify). */
bool virtq_arm(struct virtq *q);

/* Copy up to len bytes from the elem's readable (out) buffers starting at byte off into
 * buf; returns the number of bytes copied. */
size_t virtq_elem_read(const struct virtq_elem *e, size_t off, void *buf, size_t len);

/* Copy len bytes into the elem's writable (in) buffers at byte off; returns bytes copied. */
size_t virtq_elem_write(const struct virtq_elem *e, size_t off, const void *buf, size_t len);

#endif
