/* The packed virtqueue (virtio 1.2, 2.8) seen from the device: one descriptor ring that the
 * driver fills with available descriptors and the device overwrites with used ones, two
 * ring wrap counters, and the two event suppression structures. Reached through the
 * virtq_* functions of virtq.h when q->s.packed is set; same hostility rules as the split
 * walker (see virtq.h): each descriptor is copied once and checked, every buffer goes
 * through guest_mem_ptr(), and a malformed ring breaks the queue with one log line.
 *
 * Positions: s.last_avail is the ring slot of the next descriptor to consume, s.used_idx
 * the slot where the next used descriptor goes; each wraps at s.size and flips its wrap
 * counter (kept inverted in s.wrapped). A used descriptor is written at the first slot a
 * buffer occupied in ring order of completion, and the used position then skips as many
 * slots as the buffer had descriptors in the ring (q->inflight[id], remembered at pop). */
#include "devices/virtio/virtq.h"
#include "devices/virtio/virtq_priv.h"

#include "util/log.h"

#include <errno.h>
#include <string.h>

/* Event suppression structure: two le16, off_wrap then flags. */
#define EVT_OFF_WRAP 0
#define EVT_FLAGS 1

static inline bool avail_wrap(const struct virtq *q)
{
	return !(q->s.wrapped & VIRTQ_WRAPPED_AVAIL);
}

static inline bool used_wrap(const struct virtq *q)
{
	return !(q->s.wrapped & VIRTQ_WRAPPED_USED);
}

/* A driver descriptor is available when AVAIL matches the wrap counter and USED does not. */
static inline bool desc_avail(uint16_t flags, bool wrap)
{
	return !!(flags & VIRTQ_DESC_F_AVAIL) == wrap && !!(flags & VIRTQ_DESC_F_USED) != wrap;
}

/* Advance *pos by n slots (n <= size), flipping the wrap bit `bit` of *wrapped on a wrap. */
static inline void advance(unsigned size, uint16_t *pos, uint8_t *wrapped, uint8_t bit,
			   unsigned n)
{
	unsigned p = *pos + n;

	if (p >= size) {
		p -= size;
		*wrapped ^= bit;
	}
	*pos = (uint16_t)p;
}

int virtq_packed_enable(struct virtq *q)
{
	uint64_t n = q->s.size;
	void *d, *drv, *dev;

	if (n == 0 || n > VIRTQ_MAX_SIZE) {
		vsrv_log("%s: packed queue size %u is not between 1 and %u; device needs reset",
			 q->name, (unsigned)n, VIRTQ_MAX_SIZE);
		return -EINVAL;
	}
	if ((q->s.desc_gpa & 15) || (q->s.avail_gpa & 3) || (q->s.used_gpa & 3)) {
		vsrv_log("%s: misaligned packed ring address; device needs reset", q->name);
		return -EINVAL;
	}
	if (q->s.last_avail >= n || q->s.used_idx >= n) {
		vsrv_log("%s: packed ring positions %u/%u beyond the queue size %u; device needs "
			 "reset", q->name, q->s.last_avail, q->s.used_idx, (unsigned)n);
		return -EINVAL;
	}
	d = guest_mem_ptr(q->mem, q->s.desc_gpa, 16 * n);
	drv = guest_mem_ptr(q->mem, q->s.avail_gpa, 4);
	dev = guest_mem_ptr(q->mem, q->s.used_gpa, 4);
	if (!d || !drv || !dev) {
		vsrv_log("%s: packed ring outside guest memory (desc 0x%llx driver 0x%llx device "
			 "0x%llx); device needs reset",
			 q->name, (unsigned long long)q->s.desc_gpa,
			 (unsigned long long)q->s.avail_gpa, (unsigned long long)q->s.used_gpa);
		return -EINVAL;
	}
	q->ring = d;
	q->driver_evt = drv;
	q->device_evt = dev;
	q->desc = NULL;
	q->avail = NULL;
	q->used = NULL;
	q->no_notify = false;
	memset(q->inflight, 0, sizeof(q->inflight));
	q->popped_n = 0;
	q->s.broken = 0;
	q->s.signalled_valid = 0;
	q->s.ready = 1;
	return 0;
}

bool virtq_packed_has_avail(const struct virtq *q)
{
	return desc_avail(virtq_load16(&q->ring[q->s.last_avail].flags), avail_wrap(q));
}

static inline void read_pdesc(volatile struct virtq_pdesc *tab, unsigned i,
			      struct virtq_desc *out, uint16_t *id)
{
	out->addr = tab[i].addr;
	out->len = tab[i].len;
	*id = tab[i].id;
	out->next = 0;
}

/* A packed indirect table: len / 16 descriptors in order; only WRITE counts in them. */
static int walk_indirect(struct virtq *q, struct virtq_elem *e, const struct virtq_desc *top,
			 uint64_t *out_len, uint64_t *in_len)
{
	volatile struct virtq_pdesc *tab;
	struct virtq_desc d;
	bool seen_in = false;
	unsigned n, i;
	uint16_t id;

	if (!q->indirect)
		return virtq_fail(q, "indirect descriptor not negotiated", q->s.last_avail, 0);
	if (top->flags & VIRTQ_DESC_F_NEXT)
		return virtq_fail(q, "indirect descriptor with NEXT", q->s.last_avail, 0);
	if (top->len == 0 || top->len % 16)
		return virtq_fail(q, "bad indirect table length", q->s.last_avail, top->len);
	if (top->len / 16 > q->s.size)
		return virtq_fail(q, "indirect table longer than the queue", q->s.last_avail,
				  top->len / 16);
	if (top->addr & 15)
		return virtq_fail(q, "misaligned indirect table", q->s.last_avail, 0);
	n = top->len / 16;
	tab = guest_mem_ptr(q->mem, top->addr, top->len);
	if (!tab)
		return virtq_fail(q, "indirect table outside guest memory", q->s.last_avail, n);
	for (i = 0; i < n; i++) {
		int ret;

		read_pdesc(tab, i, &d, &id);
		d.flags = virtq_load16(&tab[i].flags);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return virtq_fail(q, "nested indirect table", q->s.last_avail, i);
		d.flags &= VIRTQ_DESC_F_WRITE;
		ret = virtq_add_buf(q, e, &d, i + 1, &seen_in, out_len, in_len);
		if (ret)
			return ret;
	}
	return 0;
}

int virtq_packed_pop(struct virtq *q, struct virtq_elem *e)
{
	unsigned size = q->s.size, count = 0;
	uint64_t out_len = 0, in_len = 0;
	uint16_t pos = q->s.last_avail, id = 0;
	uint8_t wrapped = q->s.wrapped;
	bool seen_in = false;
	struct virtq_desc d;

	if (!desc_avail(virtq_load16(&q->ring[pos].flags), avail_wrap(q)))
		return 0;
	e->n_out = e->n_in = 0;
	e->head = 0;
	for (;;) {
		int ret;

		if (++count > size)
			return virtq_fail(q, "descriptor chain longer than the queue",
					  q->s.last_avail, count);
		/* Acquire: the flags that made the descriptor available come before the rest. */
		d.flags = virtq_load16(&q->ring[pos].flags);
		if (!desc_avail(d.flags, !(wrapped & VIRTQ_WRAPPED_AVAIL)))
			return virtq_fail(q, "chain continues into a descriptor not made available",
					  q->s.last_avail, pos);
		read_pdesc(q->ring, pos, &d, &id);
		advance(size, &pos, &wrapped, VIRTQ_WRAPPED_AVAIL, 1);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (count != 1)
				return virtq_fail(q, "indirect descriptor inside a chain",
						  q->s.last_avail, count);
			ret = walk_indirect(q, e, &d, &out_len, &in_len);
			if (ret)
				return ret;
			break;
		}
		ret = virtq_add_buf(q, e, &d, count, &seen_in, &out_len, &in_len);
		if (ret)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
	}
	/* The buffer id is the last descriptor's (2.8.6). */
	if (id >= size)
		return virtq_fail(q, "buffer id out of range", id, size);
	if (q->inflight[id])
		return virtq_fail(q, "buffer id already in flight", id, q->s.last_avail);
	if (out_len > UINT32_MAX || in_len > UINT32_MAX)
		return virtq_fail(q, "chain length overflows 32 bits", id, 0);
	e->head = id;
	e->out_len = out_len;
	e->in_len = in_len;
	q->inflight[id] = (uint16_t)count;
	q->s.last_avail = pos;
	q->s.wrapped = (q->s.wrapped & ~VIRTQ_WRAPPED_AVAIL) | (wrapped & VIRTQ_WRAPPED_AVAIL);
	q->popped[q->popped_at] = id;
	q->popped_at = (q->popped_at + 1) % VIRTQ_UNPOP_MAX;
	if (q->popped_n < VIRTQ_UNPOP_MAX)
		q->popped_n++;
	if (!q->no_notify) {
		/* busy: the driver need not notify until virtq_arm */
		virtq_store16(&q->device_evt[EVT_FLAGS], VIRTQ_EVENT_DISABLE);
		q->no_notify = true;
	}
	return 1;
}

void virtq_packed_unpop(struct virtq *q)
{
	unsigned size = q->s.size, n;
	uint16_t id;

	if (!q->popped_n)
		return;
	q->popped_at = (q->popped_at + VIRTQ_UNPOP_MAX - 1) % VIRTQ_UNPOP_MAX;
	q->popped_n--;
	id = q->popped[q->popped_at];
	n = q->inflight[id];
	if (!n)
		return; /* pushed since: nothing to undo */
	q->inflight[id] = 0;
	if (q->s.last_avail >= n) {
		q->s.last_avail = (uint16_t)(q->s.last_avail - n);
	} else {
		q->s.last_avail = (uint16_t)(q->s.last_avail + size - n);
		q->s.wrapped ^= VIRTQ_WRAPPED_AVAIL;
	}
}

void virtq_packed_push(struct virtq *q, uint16_t id, uint32_t len)
{
	volatile struct virtq_pdesc *u;
	unsigned n;
	uint16_t flags;

	if (id >= q->s.size || !(n = q->inflight[id]))
		return; /* not popped since the last enable: the device has nothing to return */
	u = &q->ring[q->s.used_idx];
	u->id = id;
	u->len = len;
	flags = used_wrap(q) ? VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED : 0;
	if (len)
		flags |= VIRTQ_DESC_F_WRITE;
	/* Release: id and len are visible before the flags that mark the descriptor used. */
	virtq_store16(&u->flags, flags);
	q->inflight[id] = 0;
	advance(q->s.size, &q->s.used_idx, &q->s.wrapped, VIRTQ_WRAPPED_USED, n);
}

/* The used position counted modulo 2 * size (plus size while the wrap counter is 0). */
static inline unsigned used_count(const struct virtq *q)
{
	return q->s.used_idx + (used_wrap(q) ? 0 : q->s.size);
}

bool virtq_packed_should_notify(struct virtq *q)
{
	unsigned span = 2u * q->s.size, now = used_count(q), old, ev;
	uint16_t flags, off_wrap;
	bool valid;

	/* Order our used descriptor stores before reading the driver's suppression fields. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	flags = virtq_load16(&q->driver_evt[EVT_FLAGS]) & 3;
	old = q->s.signalled_used;
	valid = q->s.signalled_valid;
	q->s.signalled_used = (uint16_t)now;
	q->s.signalled_valid = 1;
	if (flags == VIRTQ_EVENT_DISABLE)
		return false;
	if (flags != VIRTQ_EVENT_DESC || !q->event_idx || !valid)
		return true; /* ENABLE, or DESC without EVENT_IDX or reserved 3: notify */
	off_wrap = virtq_load16(&q->driver_evt[EVT_OFF_WRAP]);
	ev = (off_wrap & 0x7fff) % q->s.size + ((off_wrap >> 15) ? 0 : q->s.size);
	/* Notify when the event slot lies in [old, now): the used descriptors written since
	 * the last interrupt cover it (vring_need_event over positions modulo 2 * size). */
	return (now + span - ev - 1) % span < (now + span - old) % span;
}

bool virtq_packed_arm(struct virtq *q)
{
	if (q->event_idx) {
		virtq_store16(&q->device_evt[EVT_OFF_WRAP],
			      q->s.last_avail | (avail_wrap(q) ? 0x8000 : 0));
		virtq_store16(&q->device_evt[EVT_FLAGS], VIRTQ_EVENT_DESC);
		q->no_notify = false;
	} else if (q->no_notify) {
		virtq_store16(&q->device_evt[EVT_FLAGS], VIRTQ_EVENT_ENABLE);
		q->no_notify = false;
	}
	/* Order the stores before looking at the ring again: a driver that published after
	 * our last look either sees the request (and notifies) or is seen here. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return virtq_packed_has_avail(q);
}
