#include "devices/virtio/virtq.h"
#include "devices/virtio/virtq_priv.h"

#include "util/log.h"

#include <errno.h>
#include <string.h>

/* Layout offsets within the avail (in uint16 units) and used (in bytes) areas. */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 1
#define AVAIL_RING 2
#define USED_FLAGS 0
#define USED_IDX 2
#define USED_RING 4

#define load16 virtq_load16
#define store16 virtq_store16

void virtq_init(struct virtq *q, const struct guest_mem *mem, const char *name)
{
	memset(q, 0, sizeof(*q));
	q->mem = mem;
	q->name = name;
}

void virtq_reset(struct virtq *q, uint16_t max_size)
{
	memset(&q->s, 0, sizeof(q->s));
	q->s.size = max_size;
	q->desc = NULL;
	q->avail = NULL;
	q->used = NULL;
	q->ring = NULL;
	q->driver_evt = q->device_evt = NULL;
	q->event_idx = q->indirect = false;
	memset(q->inflight, 0, sizeof(q->inflight));
	q->popped_n = 0;
}

int virtq_fail(struct virtq *q, const char *why, unsigned a, unsigned b)
{
	if (!q->s.broken)
		vsrv_log("%s: malformed virtqueue: %s (%u, %u); device needs reset",
			 q->name ? q->name : "virtq", why, a, b);
	q->s.broken = 1;
	return -EIO;
}

int virtq_enable(struct virtq *q, bool event_idx, bool indirect)
{
	uint64_t n = q->s.size;
	void *d, *a, *u;

	q->s.ready = 0;
	q->event_idx = event_idx;
	q->indirect = indirect;
	if (q->s.packed)
		return virtq_packed_enable(q);
	if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1))) {
		vsrv_log("%s: queue size %u is not a power of two up to %u; device needs reset",
			 q->name, (unsigned)n, VIRTQ_MAX_SIZE);
		return -EINVAL;
	}
	if ((q->s.desc_gpa & 15) || (q->s.avail_gpa & 1) || (q->s.used_gpa & 3)) {
		vsrv_log("%s: misaligned ring address; device needs reset", q->name);
		return -EINVAL;
	}
	d = guest_mem_ptr(q->mem, q->s.desc_gpa, 16 * n);
	a = guest_mem_ptr(q->mem, q->s.avail_gpa, 6 + 2 * n);
	u = guest_mem_ptr(q->mem, q->s.used_gpa, 6 + 8 * n);
	if (!d || !a || !u) {
		vsrv_log("%s: ring outside guest memory (desc 0x%llx avail 0x%llx used 0x%llx); "
			 "device needs reset",
			 q->name, (unsigned long long)q->s.desc_gpa,
			 (unsigned long long)q->s.avail_gpa, (unsigned long long)q->s.used_gpa);
		return -EINVAL;
	}
	q->desc = d;
	q->avail = a;
	q->used = u;
	q->no_notify = false;
	q->s.broken = 0;
	q->s.signalled_valid = 0;
	q->s.ready = 1;
	return 0;
}

bool virtq_has_avail(const struct virtq *q)
{
	if (!q->s.ready || q->s.broken)
		return false;
	if (q->s.packed)
		return virtq_packed_has_avail(q);
	return load16(&q->avail[AVAIL_IDX]) != q->s.last_avail;
}

static inline void read_desc(volatile struct virtq_desc *tab, unsigned i, struct virtq_desc *out)
{
	out->addr = tab[i].addr;
	out->len = tab[i].len;
	out->flags = tab[i].flags;
	out->next = tab[i].next;
}

int virtq_add_buf(struct virtq *q, struct virtq_elem *e, const struct virtq_desc *d,
		   unsigned nseg, bool *seen_in, uint64_t *out_len, uint64_t *in_len)
{
	void *p;
	bool w = d->flags & VIRTQ_DESC_F_WRITE;

	if (!w && *seen_in)
		return virtq_fail(q, "readable descriptor after writable one", e->head, nseg);
	p = guest_mem_ptr(q->mem, d->addr, d->len);
	if (!p)
		return virtq_fail(q, "buffer outside guest memory", e->head, (unsigned)(d->addr >> 12));
	if (d->len == 0)
		return 0;
	if (e->n_out + e->n_in >= VIRTQ_MAX_SIZE)
		return virtq_fail(q, "chain too long", e->head, nseg);
	e->iov[e->n_out + e->n_in].iov_base = p;
	e->iov[e->n_out + e->n_in].iov_len = d->len;
	if (w) {
		*seen_in = true;
		e->n_in++;
		*in_len += d->len;
	} else {
		e->n_out++;
		*out_len += d->len;
	}
	return 0;
}

static int walk_indirect(struct virtq *q, struct virtq_elem *e, const struct virtq_desc *top,
			 bool *seen_in, uint64_t *out_len, uint64_t *in_len)
{
	volatile struct virtq_desc *tab;
	struct virtq_desc d;
	unsigned n, i = 0, count = 0;

	if (!q->indirect)
		return virtq_fail(q, "indirect descriptor not negotiated", e->head, 0);
	if (top->flags & VIRTQ_DESC_F_NEXT)
		return virtq_fail(q, "indirect descriptor with NEXT", e->head, 0);
	if (top->len == 0 || top->len % 16)
		return virtq_fail(q, "bad indirect table length", e->head, top->len);
	/* virtio 1.2, 2.7.5.3.1: no chain, indirect ones included, longer than the queue. */
	if (top->len / 16 > q->s.size)
		return virtq_fail(q, "indirect table longer than the queue", e->head, top->len / 16);
	if (top->addr & 15)
		return virtq_fail(q, "misaligned indirect table", e->head, 0);
	n = top->len / 16;
	tab = guest_mem_ptr(q->mem, top->addr, top->len);
	if (!tab)
		return virtq_fail(q, "indirect table outside guest memory", e->head, n);
	for (;;) {
		int ret;

		if (++count > n)
			return virtq_fail(q, "indirect chain loops", e->head, count);
		read_desc(tab, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return virtq_fail(q, "nested indirect table", e->head, i);
		ret = virtq_add_buf(q, e, &d, count, seen_in, out_len, in_len);
		if (ret)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= n)
			return virtq_fail(q, "indirect next out of range", e->head, i);
	}
}

static int virtq_pop_chain(struct virtq *q, struct virtq_elem *e)
{
	uint16_t avail_idx, pending, head;
	uint64_t out_len = 0, in_len = 0;
	unsigned size = q->s.size, i, count = 0;
	bool seen_in = false;
	struct virtq_desc d;

	if (q->s.broken)
		return -EIO;
	if (!q->s.ready)
		return 0;
	if (q->s.packed)
		return virtq_packed_pop(q, e);
	avail_idx = load16(&q->avail[AVAIL_IDX]);
	pending = (uint16_t)(avail_idx - q->s.last_avail);
	if (pending == 0)
		return 0;
	if (pending > size)
		return virtq_fail(q, "avail index too far ahead", avail_idx, q->s.last_avail);
	head = load16(&q->avail[AVAIL_RING + (q->s.last_avail & (size - 1))]);
	if (head >= size)
		return virtq_fail(q, "head index out of range", head, size);
	e->head = head;
	e->n_out = e->n_in = 0;
	i = head;
	for (;;) {
		int ret;

		if (++count > size)
			return virtq_fail(q, "descriptor chain loops or exceeds queue size", head, count);
		read_desc(q->desc, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (count != 1)
				return virtq_fail(q, "indirect descriptor inside a chain", head, i);
			ret = walk_indirect(q, e, &d, &seen_in, &out_len, &in_len);
			if (ret)
				return ret;
			break;
		}
		ret = virtq_add_buf(q, e, &d, count, &seen_in, &out_len, &in_len);
		if (ret)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		i = d.next;
		if (i >= size)
			return virtq_fail(q, "next index out of range", head, i);
	}
	if (out_len > UINT32_MAX || in_len > UINT32_MAX)
		return virtq_fail(q, "chain length overflows 32 bits", head, 0);
	e->out_len = out_len;
	e->in_len = in_len;
	q->s.last_avail++;
	if (!q->event_idx && !q->no_notify) {
		/* busy: the driver need not notify until virtq_arm */
		store16(q->used + USED_FLAGS, VIRTQ_USED_F_NO_NOTIFY);
		q->no_notify = true;
	}
	return 1;
}

/* Live migration (vmm/mem.h guest_mem_track): the device is about to write the areas it
 * owns in the rings, and the writable buffers of a chain it popped. */
static void track_rings(struct virtq *q)
{
	if (!__atomic_load_n(&q->mem->tracking, __ATOMIC_RELAXED))
		return;
	if (q->s.packed) {
		guest_mem_track(q->mem, q->ring, 16ull * q->s.size);
		guest_mem_track(q->mem, q->device_evt, 4);
	} else {
		guest_mem_track(q->mem, q->used, 6 + 8ull * q->s.size);
	}
}

static void track_elem(struct virtq *q, const struct virtq_elem *e)
{
	if (!__atomic_load_n(&q->mem->tracking, __ATOMIC_RELAXED))
		return;
	for (unsigned i = e->n_out; i < (unsigned)e->n_out + e->n_in; i++)
		guest_mem_track(q->mem, e->iov[i].iov_base, e->iov[i].iov_len);
	track_rings(q);
}

int virtq_pop(struct virtq *q, struct virtq_elem *e)
{
	int ret = virtq_pop_chain(q, e);

	if (ret == 1)
		track_elem(q, e);
	return ret;
}

void virtq_unpop(struct virtq *q)
{
	if (q->s.packed) {
		virtq_packed_unpop(q);
		return;
	}
	q->s.last_avail--;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	unsigned slot;
	volatile uint32_t *ent;

	if (!q->s.ready)
		return;
	track_rings(q);
	if (q->s.packed) {
		virtq_packed_push(q, head, len);
		return;
	}
	slot = q->s.used_idx & (q->s.size - 1);
	ent = (volatile uint32_t *)(q->used + USED_RING + 8 * slot);
	ent[0] = head;
	ent[1] = len;
	q->s.used_idx++;
	/* Release: the entry is visible before the index that publishes it. */
	store16(q->used + USED_IDX, q->s.used_idx);
}

bool virtq_should_notify(struct virtq *q)
{
	uint16_t old, now = q->s.used_idx, ev;
	bool valid;

	if (!q->s.ready)
		return false;
	if (q->s.packed)
		return virtq_packed_should_notify(q);
	/* Order our used->idx store before reading the driver's suppression fields. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(load16(&q->avail[AVAIL_FLAGS]) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	old = q->s.signalled_used;
	valid = q->s.signalled_valid;
	q->s.signalled_used = now;
	q->s.signalled_valid = 1;
	if (!valid)
		return true;
	ev = load16(&q->avail[AVAIL_RING + q->s.size]);
	/* vring_need_event: the driver asked to hear once used passes ev. */
	return (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
}

bool virtq_arm(struct virtq *q)
{
	if (!q->s.ready || q->s.broken)
		return false;
	track_rings(q);
	if (q->s.packed)
		return virtq_packed_arm(q);
	if (q->event_idx) {
		store16(q->used + USED_RING + 8 * q->s.size, q->s.last_avail);
	} else if (q->no_notify) {
		store16(q->used + USED_FLAGS, 0);
		q->no_notify = false;
	}
	/* Order the store before re-reading avail->idx: a driver that published after our
	 * last look either sees the new avail_event (and notifies) or is seen here. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return virtq_has_avail(q);
}

size_t virtq_elem_read(const struct virtq_elem *e, size_t off, void *buf, size_t len)
{
	size_t done = 0;
	unsigned i;

	for (i = 0; i < e->n_out && done < len; i++) {
		size_t l = e->iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len - done)
			l = len - done;
		memcpy((uint8_t *)buf + done, (uint8_t *)e->iov[i].iov_base + off, l);
		done += l;
		off = 0;
	}
	return done;
}

size_t virtq_elem_write(const struct virtq_elem *e, size_t off, const void *buf, size_t len)
{
	size_t done = 0;
	unsigned i;

	for (i = e->n_out; i < (unsigned)e->n_out + e->n_in && done < len; i++) {
		size_t l = e->iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len - done)
			l = len - done;
		memcpy((uint8_t *)e->iov[i].iov_base + off, (const uint8_t *)buf + done, l);
		done += l;
		off = 0;
	}
	return done;
}
