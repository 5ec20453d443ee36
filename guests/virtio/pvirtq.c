/* The packed virtqueue (virtio 1.2 section 2.8), driver side: descriptors written into the
 * one ring with the driver's wrap counter (the first descriptor of a chain last), buffer ids
 * from a free list, indirect tables, the device's event suppression (DISABLE, or DESC with
 * EVENT_IDX) when kicking, and polling for used descriptors with the used wrap counter.
 * vq_add, vq_kick and vq_get (virtq.c) call these when the queue is packed. */
#include "rt/rt.h"
#include "virtio/vio.h"

/* Ring slot plus size while the wrap counter is 0: positions counted modulo 2 * size. */
static inline unsigned ext_pos(const struct vq *q, unsigned pos, int wrap)
{
	return pos + (wrap ? 0 : q->size);
}

static inline uint16_t avail_flags(int wrap)
{
	return wrap ? VQ_DESC_F_AVAIL : VQ_DESC_F_USED;
}

void vq_setup_packed(struct vq *q, unsigned ind_max)
{
	unsigned i;

	q->packed = 1;
	q->ring = vio_alloc(16u * q->size, 4096);
	q->drv_evt = vio_alloc(4, 16);
	q->dev_evt = vio_alloc(4, 16);
	q->id_next = vio_alloc(2u * q->size, 8);
	for (i = 0; i < q->size; i++)
		q->id_next[i] = (uint16_t)(i + 1);
	q->free_head = 0;
	q->num_free = q->size;
	q->avail_wrap = q->used_wrap = 1;
	q->kicked_pos = 0;
	q->drv_evt[1] = VQ_EVENT_DISABLE; /* we poll: no used buffer notifications */
	(void)ind_max;
}

/* Next free ring slot: returns the current one and advances avail_idx/avail_wrap. */
static uint16_t take_slot(struct vq *q)
{
	uint16_t s = q->avail_idx;

	if (++q->avail_idx == q->size) {
		q->avail_idx = 0;
		q->avail_wrap ^= 1;
	}
	return s;
}

int vq_add_packed(struct vq *q, const struct vio_sg *sg, unsigned n_out, unsigned n_in, void *cookie)
{
	unsigned n = n_out + n_in, i, need;
	int indirect = q->indirect && n > 1 && n <= q->ind_max;
	uint16_t id, first = q->avail_idx, first_flags = 0;

	if (!n)
		return -1;
	need = indirect ? 1 : n;
	if (q->num_free < need)
		return -1;
	id = q->free_head;
	q->free_head = q->id_next[id];
	if (indirect) {
		volatile struct vq_pdesc *t = (volatile struct vq_pdesc *)(q->ind + (size_t)id * q->ind_max);
		uint16_t s;

		for (i = 0; i < n; i++) {
			t[i].addr = sg[i].addr;
			t[i].len = sg[i].len;
			t[i].id = 0;
			t[i].flags = i >= n_out ? VQ_DESC_F_WRITE : 0;
		}
		first_flags = (uint16_t)(VQ_DESC_F_INDIRECT | avail_flags(q->avail_wrap));
		s = take_slot(q);
		q->ring[s].addr = (uint64_t)t;
		q->ring[s].len = 16u * n;
		q->ring[s].id = id;
	} else {
		for (i = 0; i < n; i++) {
			uint16_t f = (uint16_t)((i >= n_out ? VQ_DESC_F_WRITE : 0) | (i + 1 < n ? VQ_DESC_F_NEXT : 0) |
						avail_flags(q->avail_wrap));
			uint16_t s = take_slot(q);

			q->ring[s].addr = sg[i].addr;
			q->ring[s].len = sg[i].len;
			q->ring[s].id = id;
			if (i == 0)
				first_flags = f;
			else
				q->ring[s].flags = f;
		}
	}
	q->num_free = (uint16_t)(q->num_free - need);
	q->chain_len[id] = (uint16_t)need;
	q->cookie[id] = cookie;
	/* The first descriptor's flags make the whole chain available: after everything else
	 * (x86 keeps stores in order; the compiler must too). */
	vio_barrier();
	q->ring[first].flags = first_flags;
	return 0;
}

int vq_kick_packed(struct vq *q)
{
	unsigned span = 2u * q->size, old = q->kicked_pos, new = ext_pos(q, q->avail_idx, q->avail_wrap);
	uint16_t flags;
	int need;

	if (old == new)
		return 0;
	q->kicked_pos = (uint16_t)new;
	vio_mb(); /* the descriptors are visible before we read the device's suppression hints */
	flags = q->dev_evt[1] & 3;
	if (flags == VQ_EVENT_DISABLE) {
		need = 0;
	} else if (flags == VQ_EVENT_DESC && q->event_idx) {
		uint16_t ow = q->dev_evt[0];
		unsigned ev = (ow & 0x7fffu) % q->size + ((ow >> 15) ? 0 : q->size);
		need = (new + span - ev - 1) % span < (new + span - old) % span;
	} else {
		need = 1;
	}
	if (need)
		vq_notify(q);
	else
		q->kicks_skipped++;
	return need;
}

void *vq_get_packed(struct vq *q, uint32_t *len)
{
	volatile struct vq_pdesc *u = &q->ring[q->last_used];
	uint16_t f = u->flags, id, n;
	uint32_t l;
	void *c;

	if (!!(f & VQ_DESC_F_USED) != q->used_wrap || !!(f & VQ_DESC_F_AVAIL) != q->used_wrap)
		return NULL;
	vio_barrier();
	id = u->id;
	l = u->len;
	if (id >= q->size)
		rt_fail("%s: queue %u: device returned bad id %u", q->dev->name, q->index, id);
	n = q->chain_len[id];
	if (!n)
		rt_fail("%s: queue %u: device returned free id %u", q->dev->name, q->index, id);
	q->last_used = (uint16_t)(q->last_used + n);
	if (q->last_used >= q->size) {
		q->last_used = (uint16_t)(q->last_used - q->size);
		q->used_wrap ^= 1;
	}
	q->num_free = (uint16_t)(q->num_free + n);
	q->chain_len[id] = 0;
	c = q->cookie[id];
	q->cookie[id] = NULL;
	q->id_next[id] = q->free_head;
	q->free_head = id;
	if (len)
		*len = l;
	return c;
}
