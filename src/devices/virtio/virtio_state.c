/* Save and restore of the transport-independent virtio device state (see virtio.h). */
#include "devices/virtio/virtio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define STATUS_KNOWN 0xffu /* the driver may write any of the low 8 bits */

int virtio_dev_save(struct virtio_dev *d, struct virtio_dev_state *s)
{
	unsigned q;
	int ret = virtio_dev_quiesce(d);

	if (ret == -EDEADLK)
		return ret;
	pthread_mutex_lock(&d->lock);
	memset(s, 0, sizeof(*s));
	s->driver_features = d->st.driver_features;
	s->status = d->st.status;
	s->config_gen = d->st.config_gen;
	s->isr = d->st.isr;
	s->generation = d->st.generation;
	for (q = 0; q < d->nq; q++)
		s->vq[q] = d->vq[q].s;
	pthread_mutex_unlock(&d->lock);
	virtio_dev_resume(d);
	return ret;
}

/* Whether queue q of d could be enabled with the saved configuration vs. */
static bool queue_ok(struct virtio_dev *d, unsigned q, const struct virtq_state *vs,
		     uint64_t features)
{
	struct virtq tmp;
	char name[sizeof(d->vq_name[0]) + 16];

	if (vs->ready > 1 || vs->broken > 1 || vs->signalled_valid > 1)
		return false;
	if (!vs->ready)
		return true; /* the driver may leave any value in a disabled queue's registers */
	if (vs->size > d->queue_max)
		return false;
	/* the ring layout follows the negotiated features (virtio_dev_queue_enable sets it) */
	if (vs->packed != ((features >> VIRTIO_F_RING_PACKED) & 1))
		return false;
	snprintf(name, sizeof(name), "%s (saved state)", d->vq_name[q]);
	virtq_init(&tmp, d->host->mem, name);
	tmp.s = *vs;
	return virtq_enable(&tmp, (features >> VIRTIO_F_EVENT_IDX) & 1,
			    (features >> VIRTIO_F_INDIRECT_DESC) & 1) == 0;
}

int virtio_dev_check(struct virtio_dev *d, const struct virtio_dev_state *s)
{
	static const struct virtq_state none;
	unsigned q;

	if (s->driver_features & ~d->host_features)
		return -EINVAL;
	if ((s->status & ~STATUS_KNOWN) ||
	    ((s->status & VIRTIO_STATUS_FEATURES_OK) &&
	     !((s->driver_features >> VIRTIO_F_VERSION_1) & 1)))
		return -EINVAL;
	if (s->isr & ~(uint32_t)(VIRTIO_ISR_QUEUE | VIRTIO_ISR_CONFIG))
		return -EINVAL;
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (q >= d->nq) {
			if (memcmp(&s->vq[q], &none, sizeof(none)))
				return -EINVAL; /* a queue this device does not have */
		} else if (!queue_ok(d, q, &s->vq[q], s->driver_features)) {
			return -EINVAL;
		}
	}
	return 0;
}

int virtio_dev_restore(struct virtio_dev *d, const struct virtio_dev_state *s)
{
	bool event_idx, indirect, was_on, now_on;
	unsigned q;
	int ret = virtio_dev_check(d, s);

	if (ret)
		return ret;
	ret = virtio_dev_quiesce(d);
	if (ret == -EDEADLK)
		return ret;
	pthread_mutex_lock(&d->lock);
	was_on = d->st.status & VIRTIO_STATUS_DRIVER_OK;
	d->st.driver_features = s->driver_features;
	d->st.status = s->status;
	d->st.config_gen = s->config_gen;
	d->st.isr = s->isr;
	/* Not the saved value: whatever was popped before this point must not complete into
	 * the restored rings. */
	d->st.generation++;
	event_idx = virtio_has(d, VIRTIO_F_EVENT_IDX);
	indirect = virtio_has(d, VIRTIO_F_INDIRECT_DESC);
	for (q = 0; q < d->nq; q++) {
		const struct virtq_state *vs = &s->vq[q];
		struct virtq *vq = &d->vq[q];

		virtq_reset(vq, d->queue_max);
		vq->s = *vs;
		vq->s.ready = 0;
		if (vs->ready) {
			virtq_enable(vq, event_idx, indirect); /* checked above: cannot fail */
			vq->s.broken = vs->broken;
			vq->s.signalled_used = vs->signalled_used;
			vq->s.signalled_valid = vs->signalled_valid;
			/* The old device may have left VIRTQ_USED_F_NO_NOTIFY in guest memory:
			 * let the next virtq_arm clear it. */
			vq->no_notify = !event_idx;
		}
	}
	now_on = d->st.status & VIRTIO_STATUS_DRIVER_OK;
	if (d->ops->status_change && was_on != now_on)
		d->ops->status_change(d, now_on);
	pthread_mutex_unlock(&d->lock);
	virtio_dev_resume(d); /* looks at every queue */
	return 0;
}
