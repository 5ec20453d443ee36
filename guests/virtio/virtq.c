/* The split virtqueue, driver side: descriptor free list, indirect tables, EVENT_IDX
 * notification suppression, polling the used ring (packed queues go to pvirtq.c); and the
 * virtio-blk request helpers. */
#include "rt/rt.h"
#include "virtio/vio.h"

#define AVAIL_IDX 1
#define AVAIL_RING 2

int vq_add(struct vq *q, const struct vio_sg *sg, unsigned n_out, unsigned n_in, void *cookie)
{
	unsigned n = n_out + n_in, i;
	uint16_t head = q->free_head, d = head;

	if (q->packed)
		return vq_add_packed(q, sg, n_out, n_in, cookie);
	if (!n)
		return -1;
	if (q->indirect && n > 1 && n <= q->ind_max) {
		if (!q->num_free)
			return -1;
		volatile struct vq_desc *t = q->ind + (size_t)head * q->ind_max;
		for (i = 0; i < n; i++) {
			t[i].addr = sg[i].addr;
			t[i].len = sg[i].len;
			t[i].flags = (uint16_t)((i + 1 < n ? VQ_DESC_F_NEXT : 0) | (i >= n_out ? VQ_DESC_F_WRITE : 0));
			t[i].next = (uint16_t)(i + 1);
		}
		q->free_head = q->desc[head].next;
		q->desc[head].addr = (uint64_t)t;
		q->desc[head].len = 16u * n;
		q->desc[head].flags = VQ_DESC_F_INDIRECT;
		q->num_free--;
		q->chain_len[head] = 1;
	} else {
		if (q->num_free < n)
			return -1;
		for (i = 0; i < n; i++) {
			q->desc[d].addr = sg[i].addr;
			q->desc[d].len = sg[i].len;
			q->desc[d].flags = (uint16_t)((i + 1 < n ? VQ_DESC_F_NEXT : 0) | (i >= n_out ? VQ_DESC_F_WRITE : 0));
			if (i + 1 < n)
				d = q->desc[d].next;
		}
		q->free_head = q->desc[d].next;
		q->num_free = (uint16_t)(q->num_free - n);
		q->chain_len[head] = (uint16_t)n;
	}
	q->cookie[head] = cookie;
	q->avail[AVAIL_RING + (q->avail_idx & (q->size - 1))] = head;
	q->avail_idx++;
	return 0;
}

int vq_kick(struct vq *q)
{
	uint16_t old = q->kicked_idx, new = q->avail_idx;
	int need;

	if (q->packed)
		return vq_kick_packed(q);
	if (old == new)
		return 0;
	vio_barrier();
	q->avail[AVAIL_IDX] = new;
	q->kicked_idx = new;
	vio_mb(); /* publish idx before reading the device's suppression hints */
	if (q->event_idx) {
		uint16_t ev = (uint16_t)q->used[1 + 2 * q->size] ; /* avail_event, low half */
		need = (uint16_t)(new - ev - 1) < (uint16_t)(new - old);
	} else {
		need = !(q->used[0] & 1); /* VIRTQ_USED_F_NO_NOTIFY */
	}
	if (need)
		vq_notify(q);
	else
		q->kicks_skipped++;
	return need;
}

void *vq_get(struct vq *q, uint32_t *len)
{
	uint16_t used_idx;
	uint32_t id, l;
	uint16_t d, n;
	void *c;

	if (q->packed)
		return vq_get_packed(q, len);
	used_idx = (uint16_t)(q->used[0] >> 16);
	if (used_idx == q->last_used)
		return NULL;
	vio_barrier();
	id = q->used[1 + 2 * (q->last_used & (q->size - 1))];
	l = q->used[2 + 2 * (q->last_used & (q->size - 1))];
	q->last_used++;
	if (id >= q->size)
		rt_fail("%s: queue %u: device returned bad id %u", q->dev->name, q->index, id);
	c = q->cookie[id];
	n = q->chain_len[id];
	if (!n)
		rt_fail("%s: queue %u: device returned free id %u", q->dev->name, q->index, id);
	/* Give the chain back to the free list. */
	d = (uint16_t)id;
	while (--n)
		d = q->desc[d].next;
	q->desc[d].next = q->free_head;
	q->free_head = (uint16_t)id;
	q->num_free = (uint16_t)(q->num_free + q->chain_len[id]);
	q->chain_len[id] = 0;
	q->cookie[id] = NULL;
	if (len)
		*len = l;
	return c;
}

void *vq_wait(struct vq *q, uint32_t *len, unsigned ms)
{
	uint64_t end = ms ? rt_rdtsc() + (uint64_t)ms * vio_tsc_per_ms : 0;
	void *c;

	for (;;) {
		if ((c = vq_get(q, len)) != NULL)
			return c;
		if (end && rt_rdtsc() > end)
			return NULL;
		rt_pause();
	}
}

/* The used ring's avail_event sits after the ring entries; `used` counts 32-bit words:
 * flags|idx (1), size pairs (2 * size), then avail_event in the low half of the next word. */

int vblk_queue(struct vq *q, struct vblk_req *r, uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
	struct vio_sg sg[3];
	unsigned n = 0, n_out, n_in;

	r->hdr.type = type;
	r->hdr.ioprio = 0;
	r->hdr.sector = sector;
	r->status = 0xee;
	r->buf = (uint64_t)buf;
	r->len = len;
	r->done = 0;
	sg[n++] = (struct vio_sg){ (uint64_t)&r->hdr, sizeof(r->hdr) };
	if (len)
		sg[n++] = (struct vio_sg){ (uint64_t)buf, len };
	n_out = type == VBLK_T_IN || type == VBLK_T_GET_ID ? 1 : n;
	sg[n++] = (struct vio_sg){ (uint64_t)&r->status, 1 };
	n_in = n - n_out;
	return vq_add(q, sg, n_out, n_in, r);
}

int vblk_sync(struct vq *q, struct vblk_req *r, uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
	struct vblk_req *done;

	if (vblk_queue(q, r, type, sector, buf, len) < 0)
		return -1;
	vq_kick(q);
	done = vq_wait(q, NULL, 10000);
	if (!done)
		return -1;
	if (done != r)
		rt_fail("%s: unexpected completion", q->dev->name);
	return r->status;
}
