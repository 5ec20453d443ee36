/* The virtqueue seen from the device: the walker that turns the guest's descriptor chains
 * into iovecs over guest memory, and the used ring. Two layouts behind one API: the split
 * virtqueue (virtio 1.2, 2.7; this file and virtq.c) and, when the driver negotiated
 * VIRTIO_F_RING_PACKED, the packed virtqueue (2.8; virtq_packed.c), chosen per queue by
 * virtq_state.packed before virtq_enable.
 *
 * Everything the guest wrote is untrusted. The walker copies each descriptor once, checks
 * every address through guest_mem_ptr(), and rejects: heads or next indices out of range,
 * chains longer than the queue size (loops), indirect tables that are misaligned, empty,
 * outside memory, nested or not negotiated, lengths whose sum wraps, readable descriptors
 * after writable ones, and an avail index more than the queue size ahead; on packed rings
 * also buffer ids out of range or already in flight, chain descriptors not made available,
 * and indirect descriptors inside chains or with NEXT. A rejected ring
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

/* Packed ring descriptor flags and event suppression (virtio 1.2, 2.8). */
#define VIRTQ_DESC_F_AVAIL (1 << 7)
#define VIRTQ_DESC_F_USED  (1 << 15)
#define VIRTQ_EVENT_ENABLE  0
#define VIRTQ_EVENT_DISABLE 1
#define VIRTQ_EVENT_DESC    2 /* only with EVENT_IDX: an event at one ring offset + wrap */
#define VIRTQ_UNPOP_MAX 64   /* virtq_unpop can undo this many pops in a row */

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* One descriptor of a packed ring (and of a packed indirect table). */
struct virtq_pdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

/* virtq_state.wrapped: the device's ring wrap counters, stored inverted so that the zeroed
 * reset state means "both counters 1" (2.8.1). */
#define VIRTQ_WRAPPED_AVAIL 1 /* avail position wrapped an odd number of times */
#define VIRTQ_WRAPPED_USED  2 /* used position wrapped an odd number of times */

/* The queue's configuration and progress: plain data, so it is also what save/restore keeps.
 * Packed rings reuse the fields: last_avail/used_idx are ring positions (< size) of the next
 * descriptor to consume / to write used, signalled_used counts modulo 2 * size (position
 * plus size while the used wrap counter is 0), and avail_gpa/used_gpa hold the driver /
 * device event suppression areas. */
struct virtq_state {
	uint16_t size;          /* number of entries, <= VIRTQ_MAX_SIZE; a power of two if split */
	uint16_t ready;         /* the driver enabled the queue */
	uint16_t last_avail;    /* next avail ring entry the device consumes */
	uint16_t used_idx;      /* the device's copy of used->idx */
	uint16_t signalled_used;/* used_idx at the last interrupt (EVENT_IDX) */
	uint16_t signalled_valid;
	uint16_t broken;
	uint8_t packed;         /* VIRTIO_F_RING_PACKED layout (set before virtq_enable) */
	uint8_t wrapped;        /* packed: VIRTQ_WRAPPED_* */
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
	/* Packed rings: the views (set by virtq_enable) and the buffers in flight. */
	volatile struct virtq_pdesc *ring;
	volatile uint16_t *driver_evt; /* off_wrap, flags: the driver's, read-only to us */
	volatile uint16_t *device_evt; /* off_wrap, flags: ours, read by the driver */
	uint16_t inflight[VIRTQ_MAX_SIZE]; /* ring descriptors of each popped buffer id, 0 = free */
	uint16_t popped[VIRTQ_UNPOP_MAX];  /* ids of the latest pops (a ring), for virtq_unpop */
	unsigned popped_at, popped_n;
};

/* One popped chain (head: the split ring's head index, or the packed ring's buffer id,
 * < size either way): out[] are the device-readable buffers, then in[] the device-writable
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
 * the queue ready; q->s.packed chooses the layout. event_idx/indirect: the negotiated
 * features. Returns 0, or -EINVAL (logged once) leaving the queue not ready. */
int virtq_enable(struct virtq *q, bool event_idx, bool indirect);

/* Take the next available chain into *e. Returns 1 with *e filled, 0 when the ring is
 * empty, -EIO when the ring is malformed (the queue is then broken: see the file comment).
 * Not ready queues return 0.
 * Notification suppression: popping never asks the driver for a notification (with
 * EVENT_IDX avail_event stays where virtq_arm left it, behind last_avail, so the driver
 * does not notify; without it the first pop sets VIRTQ_USED_F_NO_NOTIFY; packed rings set
 * the device event flags to DISABLE). While the
 * device is busy it finds new entries on its own; when it goes idle it calls virtq_arm. */
int virtq_pop(struct virtq *q, struct virtq_elem *e);

/* Put a chain back as unconsumed (after virtq_pop when the device cannot serve it now).
 * Undoes the latest pop not undone yet (up to VIRTQ_UNPOP_MAX in a row on packed rings). */
void virtq_unpop(struct virtq *q);

/* Return chain head with len bytes written by the device into its writable buffers. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);

/* After pushing: whether the driver wants an interrupt now (NO_INTERRUPT or used_event).
 * Updates the EVENT_IDX bookkeeping: call it once per batch and interrupt if true. */
bool virtq_should_notify(struct virtq *q);

/* Whether the avail ring holds entries the device has not consumed (no validation). */
bool virtq_has_avail(const struct virtq *q);

/* The device goes idle on q: ask the driver to notify for the next entry it makes
 * available (avail_event = last_avail, or clear NO_NOTIFY; packed: DESC mode at our ring
 * position with EVENT_IDX, else ENABLE), then look at the avail ring
 * once more. Returns true when entries are there already (pop them: the driver may have
 * published them before it could see the request, and will not notify). */
bool virtq_arm(struct virtq *q);

/* Copy up to len bytes from the elem's readable (out) buffers starting at byte off into
 * buf; returns the number of bytes copied. */
size_t virtq_elem_read(const struct virtq_elem *e, size_t off, void *buf, size_t len);

/* Copy len bytes into the elem's writable (in) buffers at byte off; returns bytes copied. */
size_t virtq_elem_write(const struct virtq_elem *e, size_t off, const void *buf, size_t len);

#endif
