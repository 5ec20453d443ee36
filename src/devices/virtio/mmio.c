#include "devices/virtio/mmio.h"

#include "util/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAGIC 0x74726976 /* "virt" */
#define VENDOR 0x554d4551 /* "QEMU", what Linux drivers expect to see there is irrelevant */

enum {
	R_MAGIC = 0x000, R_VERSION = 0x004, R_DEVICE_ID = 0x008, R_VENDOR_ID = 0x00c,
	R_DEV_FEAT = 0x010, R_DEV_FEAT_SEL = 0x014, R_DRV_FEAT = 0x020, R_DRV_FEAT_SEL = 0x024,
	R_QUEUE_SEL = 0x030, R_QUEUE_NUM_MAX = 0x034, R_QUEUE_NUM = 0x038,
	R_QUEUE_READY = 0x044, R_QUEUE_NOTIFY = 0x050, R_INT_STATUS = 0x060,
	R_INT_ACK = 0x064, R_STATUS = 0x070, R_DESC_LO = 0x080, R_DESC_HI = 0x084,
	R_DRIVER_LO = 0x090, R_DRIVER_HI = 0x094, R_DEVICE_LO = 0x0a0, R_DEVICE_HI = 0x0a4,
	R_SHM_SEL = 0x0ac, R_SHM_LEN_LO = 0x0b0, R_SHM_LEN_HI = 0x0b4,
	R_CONFIG_GEN = 0x0fc, R_CONFIG = 0x100,
};

static void mmio_signal(struct virtio_dev *d, int q)
{
	struct virtio_mmio *m = d->transport;
	uint64_t one = 1;

	(void)q;
	if (write(m->irq_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		vsrv_log("%s: interrupt: %s", d->name, strerror(errno));
}

static void set_addr(uint64_t *a, bool hi, uint32_t v)
{
	*a = hi ? (*a & 0xffffffffULL) | (uint64_t)v << 32 : (*a & ~0xffffffffULL) | v;
}

static uint32_t reg_read(struct virtio_mmio *m, uint32_t off)
{
	struct virtio_dev *d = m->dev;
	struct virtq *q = m->st.queue_sel < d->nq ? &d->vq[m->st.queue_sel] : NULL;

	switch (off) {
	case R_MAGIC: return MAGIC;
	case R_VERSION: return 2;
	case R_DEVICE_ID: return d->ops->device_id;
	case R_VENDOR_ID: return VENDOR;
	case R_DEV_FEAT: return virtio_dev_features_read(d, m->st.dev_feat_sel);
	case R_QUEUE_NUM_MAX: return q ? d->queue_max : 0;
	case R_QUEUE_READY: return q ? q->s.ready : 0;
	case R_INT_STATUS: return d->st.isr;
	case R_STATUS: return d->st.status;
	case R_CONFIG_GEN: return d->st.config_gen;
	case R_SHM_LEN_LO: case R_SHM_LEN_HI: return 0xffffffff; /* no shared memory */
	default: return 0;
	}
}

static void reg_write(struct virtio_mmio *m, uint32_t off, uint32_t v)
{
	struct virtio_dev *d = m->dev;
	struct virtq *q = m->st.queue_sel < d->nq ? &d->vq[m->st.queue_sel] : NULL;
	bool qcfg = q && !q->s.ready; /* queue fields are writable while disabled */

	switch (off) {
	case R_DEV_FEAT_SEL: m->st.dev_feat_sel = v; break;
	case R_DRV_FEAT: virtio_dev_features_write(d, m->st.drv_feat_sel, v); break;
	case R_DRV_FEAT_SEL: m->st.drv_feat_sel = v; break;
	case R_QUEUE_SEL: m->st.queue_sel = v; break;
	case R_QUEUE_NUM: if (qcfg) q->s.size = v > 0xffff ? 0 : v; break;
	case R_QUEUE_READY:
		if (!q)
			break;
		if (v & 1) {
			if (!q->s.ready)
				virtio_dev_queue_enable(d, m->st.queue_sel);
		} else {
			q->s.ready = 0;
		}
		break;
	case R_QUEUE_NOTIFY: virtio_dev_kick(d, v); break;
	case R_SHM_SEL: m->st.shm_sel = v; break; /* no regions: every length reads ~0 */
	case R_INT_ACK: d->st.isr &= ~v; break;
	case R_STATUS: virtio_dev_set_status(d, v); break;
	case R_DESC_LO: case R_DESC_HI:
		if (qcfg) set_addr(&q->s.desc_gpa, off == R_DESC_HI, v);
		break;
	case R_DRIVER_LO: case R_DRIVER_HI:
		if (qcfg) set_addr(&q->s.avail_gpa, off == R_DRIVER_HI, v);
		break;
	case R_DEVICE_LO: case R_DEVICE_HI:
		if (qcfg) set_addr(&q->s.used_gpa, off == R_DEVICE_HI, v);
		break;
	default: break; /* read-only or unknown: ignored */
	}
}

static void mmio_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_mmio *m = opaque;
	struct virtio_dev *d = m->dev;
	uint32_t v = 0;

	if (off >= R_CONFIG) {
		pthread_mutex_lock(&d->lock);
		if (len <= 8 && off - R_CONFIG < VIRTIO_MMIO_SIZE)
			d->ops->config_access(d, off - R_CONFIG, data, len, is_write);
		else if (!is_write)
			memset(data, 0, len);
		pthread_mutex_unlock(&d->lock);
		return;
	}
	/* Registers are 32-bit and aligned; anything else reads as zero, writes are dropped. */
	if (len != 4 || (off & 3)) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (is_write) {
		memcpy(&v, data, 4);
		if (off == R_QUEUE_NOTIFY) { /* no lock: only an eventfd write */
			virtio_dev_kick(d, v);
			return;
		}
		pthread_mutex_lock(&d->lock);
		reg_write(m, off, v);
		pthread_mutex_unlock(&d->lock);
	} else {
		pthread_mutex_lock(&d->lock);
		v = reg_read(m, off);
		pthread_mutex_unlock(&d->lock);
		memcpy(data, &v, 4);
	}
}

int virtio_mmio_create(struct virtio_dev *d, uint64_t base, uint32_t gsi,
		       struct virtio_mmio **out)
{
	struct virtio_host *h = d->host;
	struct virtio_mmio *m;
	unsigned q = 0;
	int ret;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->dev = d;
	m->base = base;
	m->gsi = gsi;
	m->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->irq_fd < 0) {
		ret = -errno;
		goto err_free;
	}
	if (h->irqfd) {
		ret = h->irqfd(h->vm, m->irq_fd, gsi, true);
		if (ret)
			goto err_fd;
	}
	if (h->ioeventfd) {
		for (q = 0; q < d->nq; q++) {
			ret = h->ioeventfd(h->vm, d->kick_fd[q], base + R_QUEUE_NOTIFY, 4, true, q,
					   true);
			if (ret)
				goto err_ioev;
		}
		m->ioeventfds = true;
	}
	ret = bus_register(h->mmio, base, VIRTIO_MMIO_SIZE, mmio_io, m, d->name);
	if (ret)
		goto err_ioev;
	d->transport = m;
	d->signal = mmio_signal;
	*out = m;
	return 0;
err_ioev:
	while (h->ioeventfd && q-- > 0)
		h->ioeventfd(h->vm, d->kick_fd[q], base + R_QUEUE_NOTIFY, 4, true, q, false);
	if (h->irqfd)
		h->irqfd(h->vm, m->irq_fd, gsi, false);
err_fd:
	close(m->irq_fd);
err_free:
	free(m);
	return ret;
}

void virtio_mmio_destroy(struct virtio_mmio *m)
{
	struct virtio_host *h;
	unsigned q;

	if (!m)
		return;
	h = m->dev->host;
	bus_unregister(h->mmio, m->base);
	if (m->ioeventfds)
		for (q = 0; q < m->dev->nq; q++)
			h->ioeventfd(h->vm, m->dev->kick_fd[q], m->base + R_QUEUE_NOTIFY, 4, true,
				     q, false);
	if (h->irqfd)
		h->irqfd(h->vm, m->irq_fd, m->gsi, false);
	m->dev->signal = NULL;
	close(m->irq_fd);
	free(m);
}

int virtio_mmio_cmdline(const struct virtio_mmio *m, char *buf, size_t n)
{
	return snprintf(buf, n, "virtio_mmio.device=4K@0x%" PRIx64 ":%u", m->base, m->gsi);
}

void virtio_mmio_save(struct virtio_mmio *m, struct virtio_mmio_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&m->dev->lock);
	st->regs = m->st;
	pthread_mutex_unlock(&m->dev->lock);
	st->base = m->base;
	st->gsi = m->gsi;
	st->device_id = m->dev->ops->device_id;
}

int virtio_mmio_restore(struct virtio_mmio *m, const struct virtio_mmio_state *st)
{
	/* Every select value is one a guest can write; only the identity can be wrong. */
	if (st->base != m->base || st->gsi != m->gsi || st->device_id != m->dev->ops->device_id)
		return -EINVAL;
	pthread_mutex_lock(&m->dev->lock);
	m->st = st->regs;
	pthread_mutex_unlock(&m->dev->lock);
	return 0;
}
