/* Save and restore of the virtio-pci transport (see pci_transport.h). */
#include "devices/virtio/pci_transport.h"

#include <errno.h>
#include <string.h>

#define MSIX_ENTRY_MASKED 1

void virtio_pci_save(struct virtio_pci *p, struct virtio_pci_state *st)
{
	struct virtio_dev *d = p->dev;
	unsigned i;

	memset(st, 0, sizeof(*st));
	pci_dev_cfg_save(&p->pci, st->cfg); /* the host's lock, then the device's */
	pthread_mutex_lock(&d->lock);
	st->device_id = d->ops->device_id;
	st->nvec = p->nvec;
	for (i = 0; i < p->nvec; i++) {
		st->vec[i].addr_lo = p->vec[i].addr_lo;
		st->vec[i].addr_hi = p->vec[i].addr_hi;
		st->vec[i].data = p->vec[i].data;
		st->vec[i].ctrl = p->vec[i].ctrl;
		st->vec[i].pending = p->vec[i].pending;
	}
	st->regs = p->st;
	pthread_mutex_unlock(&d->lock);
}

static bool vector_ok(const struct virtio_pci *p, uint16_t v)
{
	return v == VPCI_NO_VECTOR || v < p->nvec;
}

static int check(struct virtio_pci *p, const struct virtio_pci_state *st)
{
	static const struct virtio_pci_vec_state none;
	unsigned i;

	if (st->device_id != p->dev->ops->device_id || st->nvec != p->nvec)
		return -EINVAL;
	for (i = 0; i < VPCI_MAX_VECTORS; i++) {
		const struct virtio_pci_vec_state *x = &st->vec[i];

		if (i >= p->nvec ? memcmp(x, &none, sizeof(none)) != 0 :
				   (x->ctrl & ~MSIX_ENTRY_MASKED) || x->pending > 1 ||
				   x->pad[0] || x->pad[1] || x->pad[2])
			return -EINVAL;
	}
	if (!vector_ok(p, st->regs.config_vector))
		return -EINVAL;
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (i < p->dev->nq ? !vector_ok(p, st->regs.queue_vector[i]) :
				     st->regs.queue_vector[i] != VPCI_NO_VECTOR)
			return -EINVAL;
	return pci_dev_cfg_check(&p->pci, st->cfg);
}

int virtio_pci_restore(struct virtio_pci *p, const struct virtio_pci_state *st)
{
	struct virtio_dev *d = p->dev;
	unsigned i;
	int ret = check(p, st);

	if (ret)
		return ret;
	/* BARs back where the guest put them (the notify ioeventfds follow BAR 0) */
	ret = pci_dev_cfg_load(&p->pci, st->cfg);
	if (ret)
		return ret;
	pthread_mutex_lock(&d->lock);
	p->st = st->regs;
	for (i = 0; i < p->nvec; i++) {
		p->vec[i].addr_lo = st->vec[i].addr_lo;
		p->vec[i].addr_hi = st->vec[i].addr_hi;
		p->vec[i].data = st->vec[i].data;
		p->vec[i].ctrl = st->vec[i].ctrl;
		p->vec[i].pending = st->vec[i].pending;
	}
	/* routes and irqfds as the guest's table writes made them; a pending vector that is
	 * unmasked now is delivered */
	for (i = 0; i < p->nvec; i++)
		vpci_vec_update(p, i);
	pthread_mutex_unlock(&d->lock);
	return 0;
}
