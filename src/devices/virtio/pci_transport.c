#include "devices/virtio/pci_transport.h"

#include "devices/pci_rom.h"

#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define OFF_COMMON 0x0000
#define OFF_ISR 0x1000
#define OFF_DEVICE 0x2000
#define OFF_NOTIFY 0x3000
#define OFF_MSIX 0x4000
#define OFF_PBA 0x5000
#define COMMON_LEN 0x40
#define NOTIFY_MULT 4

#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4
#define CAP_PCI_CFG 5

#define MSIX_ENABLE 0x8000
#define MSIX_MASKALL 0x4000
#define MSIX_ENTRY_MASKED 1

/* --- interrupts (under dev->lock) --- */

static bool msix_ctrl(struct virtio_pci *p, uint16_t *ctrl)
{
	memcpy(ctrl, p->pci.cfg + p->msix_cap + 2, 2);
	return (*ctrl & MSIX_ENABLE) != 0;
}

static void vec_fire(struct virtio_pci *p, uint16_t v)
{
	struct vpci_vector *x;
	uint16_t ctrl;
	uint64_t one = 1;

	if (v >= p->nvec || !msix_ctrl(p, &ctrl))
		return;
	x = &p->vec[v];
	if ((ctrl & MSIX_MASKALL) || (x->ctrl & MSIX_ENTRY_MASKED)) {
		x->pending = true;
		return;
	}
	x->pending = false;
	if (write(x->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		vsrv_log("%s: MSI-X vector %u: %s", p->dev->name, v, strerror(errno));
}

static void vpci_signal(struct virtio_dev *d, int q)
{
	struct virtio_pci *p = d->transport;

	vec_fire(p, q < 0 ? p->st.config_vector : p->st.queue_vector[q]);
}

/* The guest changed a table entry or the mask bits: update the route, deliver pending. */
void vpci_vec_update(struct virtio_pci *p, unsigned v)
{
	struct virtio_host *h = p->dev->host;
	struct vpci_vector *x = &p->vec[v];
	uint64_t addr = (uint64_t)x->addr_hi << 32 | x->addr_lo;
	uint16_t ctrl;
	int ret;

	if (h->msi_route && addr) {
		bool fresh = x->gsi == 0;

		ret = h->msi_route(h->vm, &x->gsi, addr, x->data);
		if (!ret && fresh && h->irqfd)
			ret = h->irqfd(h->vm, x->efd, x->gsi, true);
		if (ret)
			vsrv_log("%s: cannot route MSI-X vector %u: %s", p->dev->name, v,
				 strerror(-ret));
	}
	if (x->pending && msix_ctrl(p, &ctrl) && !(ctrl & MSIX_MASKALL) &&
	    !(x->ctrl & MSIX_ENTRY_MASKED))
		vec_fire(p, v);
}

/* --- BAR 0 --- */

static uint64_t common_read(struct virtio_pci *p, uint32_t off)
{
	struct virtio_dev *d = p->dev;
	unsigned qs = p->st.queue_sel;
	struct virtq *q = qs < d->nq ? &d->vq[qs] : NULL;

	switch (off) {
	case 0x00: return p->st.dev_feat_sel;
	case 0x04: return virtio_dev_features_read(d, p->st.dev_feat_sel);
	case 0x08: return p->st.drv_feat_sel;
	case 0x0c: return p->st.drv_feat_sel < 2 ?
			  (uint32_t)(d->st.driver_features >> (32 * p->st.drv_feat_sel)) : 0;
	case 0x10: return p->st.config_vector;
	case 0x12: return d->nq;
	case 0x14: return d->st.status;
	case 0x15: return d->st.config_gen & 0xff;
	case 0x16: return p->st.queue_sel;
	case 0x18: return q ? q->s.size : 0;
	case 0x1a: return q ? p->st.queue_vector[qs] : VPCI_NO_VECTOR;
	case 0x1c: return q ? q->s.ready : 0;
	case 0x1e: return q ? qs : 0;
	case 0x20: return q ? q->s.desc_gpa : 0;
	case 0x28: return q ? q->s.avail_gpa : 0;
	case 0x30: return q ? q->s.used_gpa : 0;
	default: return 0;
	}
}

static void set_part(uint64_t *a, uint32_t off, uint32_t len, uint64_t v)
{
	if (len == 8) {
		*a = v;
	} else if (off & 4) {
		*a = (*a & 0xffffffffULL) | (v << 32);
	} else {
		*a = (*a & ~0xffffffffULL) | (uint32_t)v;
	}
}

static void common_write(struct virtio_pci *p, uint32_t off, uint32_t len, uint64_t v)
{
	struct virtio_dev *d = p->dev;
	unsigned qs = p->st.queue_sel;
	struct virtq *q = qs < d->nq ? &d->vq[qs] : NULL;
	bool qcfg = q && !q->s.ready;

	switch (off) {
	case 0x00: p->st.dev_feat_sel = v; break;
	case 0x08: p->st.drv_feat_sel = v; break;
	case 0x0c: virtio_dev_features_write(d, p->st.drv_feat_sel, v); break;
	case 0x10: p->st.config_vector = v < p->nvec ? v : VPCI_NO_VECTOR; break;
	case 0x14:
		virtio_dev_set_status(d, v & 0xff);
		if ((v & 0xff) == 0) {
			unsigned i;

			p->st.config_vector = VPCI_NO_VECTOR;
			for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
				p->st.queue_vector[i] = VPCI_NO_VECTOR;
		}
		break;
	case 0x16: p->st.queue_sel = v; break;
	case 0x18: if (qcfg) q->s.size = v; break;
	case 0x1a: if (q) p->st.queue_vector[qs] = v < p->nvec ? v : VPCI_NO_VECTOR; break;
	case 0x1c: if (q && (v & 1) && !q->s.ready) virtio_dev_queue_enable(d, qs); break;
	case 0x20: case 0x24: if (qcfg) set_part(&q->s.desc_gpa, off, len, v); break;
	case 0x28: case 0x2c: if (qcfg) set_part(&q->s.avail_gpa, off, len, v); break;
	case 0x30: case 0x34: if (qcfg) set_part(&q->s.used_gpa, off, len, v); break;
	default: break;
	}
}

static void bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_pci *p = opaque;
	struct virtio_dev *d = p->dev;
	uint64_t v = 0;

	if (len > 8) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (is_write)
		memcpy(&v, data, len);
	if (off >= OFF_NOTIFY && off < OFF_NOTIFY + NOTIFY_MULT * VIRTIO_MAX_QUEUES) {
		if (is_write)
			virtio_dev_kick(d, (off - OFF_NOTIFY) / NOTIFY_MULT);
		else
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (off < OFF_COMMON + COMMON_LEN) {
		/* Fields are naturally aligned; accept 1/2/4/8-byte accesses at field starts. */
		if (is_write)
			common_write(p, off, len, v);
		else
			v = common_read(p, off);
	} else if (off == OFF_ISR) {
		if (!is_write) {
			v = d->st.isr;
			d->st.isr = 0; /* read to clear */
		}
	} else if (off >= OFF_DEVICE && off < OFF_DEVICE + 0x1000) {
		if (is_write)
			d->ops->config_access(d, off - OFF_DEVICE, (uint8_t *)&v, len, true);
		else
			d->ops->config_access(d, off - OFF_DEVICE, (uint8_t *)&v, len, false);
	} else if (off >= OFF_MSIX && off < OFF_MSIX + 16 * p->nvec && len == 4 && !(off & 3)) {
		unsigned vi = (off - OFF_MSIX) / 16, w = (off & 15) / 4;
		uint32_t *f[4] = { &p->vec[vi].addr_lo, &p->vec[vi].addr_hi, &p->vec[vi].data,
				   &p->vec[vi].ctrl };

		if (is_write) {
			*f[w] = w == 3 ? (v & MSIX_ENTRY_MASKED) : (uint32_t)v;
			vpci_vec_update(p, vi);
		} else {
			v = *f[w];
		}
	} else if (off >= OFF_PBA && off < OFF_PBA + 8 && !is_write) {
		unsigned i;

		for (i = 0; i < p->nvec; i++)
			if (p->vec[i].pending && i / 8 >= off - OFF_PBA && i / 8 < off - OFF_PBA + len)
				v |= 1ULL << (i - 8 * (off - OFF_PBA));
	}
	pthread_mutex_unlock(&d->lock);
	if (!is_write)
		memcpy(data, &v, len);
}

/* --- config space hooks (under the PCI host lock) --- */

static void cfg_written(struct pci_dev *pd, uint32_t off, uint32_t len)
{
	struct virtio_pci *p = pd->opaque;
	struct virtio_dev *d = p->dev;

	if (off <= p->msix_cap + 3u && off + len > p->msix_cap + 2u) {
		unsigned v;

		pthread_mutex_lock(&d->lock);
		for (v = 0; v < p->nvec; v++)
			vpci_vec_update(p, v);
		pthread_mutex_unlock(&d->lock);
	}
	/* PCI cfg access capability: a write to pci_cfg_data goes to the BAR */
	if (off >= p->cfg_cap + 16u && off < p->cfg_cap + 20u) {
		uint32_t bar_off, blen;
		uint8_t *c = pd->cfg + p->cfg_cap;

		memcpy(&bar_off, c + 8, 4);
		memcpy(&blen, c + 12, 4);
		if (c[4] == 0 && (blen == 1 || blen == 2 || blen == 4) && bar_off < VPCI_BAR_SIZE)
			bar_io(p, bar_off, c + 16, blen, true);
	}
}

static void cfg_read(struct pci_dev *pd, uint32_t off, uint32_t len)
{
	struct virtio_pci *p = pd->opaque;

	if (off < p->cfg_cap + 20u && off + len > p->cfg_cap + 16u) {
		uint32_t bar_off, blen;
		uint8_t *c = pd->cfg + p->cfg_cap;

		memcpy(&bar_off, c + 8, 4);
		memcpy(&blen, c + 12, 4);
		memset(c + 16, 0, 4);
		if (c[4] == 0 && (blen == 1 || blen == 2 || blen == 4) && bar_off < VPCI_BAR_SIZE)
			bar_io(p, bar_off, c + 16, blen, false);
	}
}

static int ioev_set(struct virtio_pci *p, uint64_t base, bool assign)
{
	struct virtio_host *h = p->dev->host;
	unsigned q;
	int ret = 0;

	if (!h->ioeventfd || !base)
		return 0;
	for (q = 0; q < p->dev->nq; q++) {
		ret = h->ioeventfd(h->vm, p->dev->kick_fd[q], base + OFF_NOTIFY + NOTIFY_MULT * q, 0,
				   false, 0, assign);
		if (ret && assign)
			break;
	}
	return ret;
}

static void bar_moved(struct pci_dev *pd, int i, uint64_t old, uint64_t new_addr)
{
	struct virtio_pci *p = pd->opaque;

	(void)i;
	(void)old;
	ioev_set(p, p->ioev_base, false);
	p->ioev_base = 0;
	if (ioev_set(p, new_addr, true) == 0)
		p->ioev_base = new_addr;
}

static void add_vcap(struct virtio_pci *p, uint8_t type, uint32_t off, uint32_t len,
		     uint8_t caplen)
{
	uint8_t c = pci_dev_add_cap(&p->pci, PCI_CAP_ID_VNDR, caplen);
	uint8_t *b = p->pci.cfg + c;

	b[2] = caplen;
	b[3] = type;
	b[4] = 0; /* BAR 0 */
	memcpy(b + 8, &off, 4);
	memcpy(b + 12, &len, 4);
	if (type == CAP_NOTIFY) {
		uint32_t m = NOTIFY_MULT;

		memcpy(b + 16, &m, 4);
	}
	if (type == CAP_PCI_CFG) {
		p->cfg_cap = c;
		memset(p->pci.wmask + c + 4, 0xff, 1);
		memset(p->pci.wmask + c + 8, 0xff, 12);
	}
}

int virtio_pci_create(struct virtio_dev *d, struct pci_host *h, uint32_t class_code,
		      struct virtio_pci **out)
{
	return virtio_pci_create_rom(d, h, class_code, NULL, out);
}

int virtio_pci_create_rom(struct virtio_dev *d, struct pci_host *h, uint32_t class_code,
			  struct pci_rom *rom, struct virtio_pci **out)
{
	struct virtio_pci *p = calloc(1, sizeof(*p));
	uint32_t table = OFF_MSIX, pba = OFF_PBA;
	uint16_t ctrl;
	unsigned i;
	int ret;

	if (!p)
		return -ENOMEM;
	p->dev = d;
	p->host = h;
	p->nvec = d->nq + 1;
	for (i = 0; i < VPCI_MAX_VECTORS; i++)
		p->vec[i].efd = -1;
	for (i = 0; i < p->nvec; i++) {
		p->vec[i].ctrl = MSIX_ENTRY_MASKED;
		p->vec[i].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->vec[i].efd < 0) {
			ret = -errno;
			goto err;
		}
	}
	p->st.config_vector = VPCI_NO_VECTOR;
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
		p->st.queue_vector[i] = VPCI_NO_VECTOR;
	snprintf(p->pci_name, sizeof(p->pci_name), "%s (pci)", d->name);
	pci_dev_init(&p->pci, p->pci_name, 0x1af4, 0x1040 + d->ops->device_id, class_code, 1,
		     0x1af4, d->ops->device_id);
	p->pci.opaque = p;
	p->pci.cfg_written = cfg_written;
	p->pci.cfg_read = cfg_read;
	p->pci.bar_moved = bar_moved;
	pci_dev_set_bar(&p->pci, 0, VPCI_BAR_SIZE, bar_io, p);
	add_vcap(p, CAP_COMMON, OFF_COMMON, COMMON_LEN, 16);
	add_vcap(p, CAP_NOTIFY, OFF_NOTIFY, NOTIFY_MULT * d->nq, 20);
	add_vcap(p, CAP_ISR, OFF_ISR, 4, 16);
	add_vcap(p, CAP_DEVICE, OFF_DEVICE, 0x1000, 16);
	add_vcap(p, CAP_PCI_CFG, 0, 0, 20);
	p->msix_cap = pci_dev_add_cap(&p->pci, PCI_CAP_ID_MSIX, 12);
	ctrl = p->nvec - 1;
	memcpy(p->pci.cfg + p->msix_cap + 2, &ctrl, 2);
	memcpy(p->pci.cfg + p->msix_cap + 4, &table, 4); /* BIR 0 */
	memcpy(p->pci.cfg + p->msix_cap + 8, &pba, 4);
	p->pci.wmask[p->msix_cap + 3] = 0xc0; /* enable, function mask */
	if (rom)
		pci_rom_attach(&p->pci, rom);
	ret = pci_host_add(h, &p->pci);
	if (ret)
		goto err;
	d->transport = p;
	d->signal = vpci_signal;
	if (ioev_set(p, p->pci.bar[0].addr, true) == 0)
		p->ioev_base = p->pci.bar[0].addr;
	*out = p;
	return 0;
err:
	for (i = 0; i < p->nvec; i++)
		if (p->vec[i].efd >= 0)
			close(p->vec[i].efd);
	free(p);
	return ret;
}

void virtio_pci_destroy(struct virtio_pci *p)
{
	struct virtio_host *h;
	unsigned i;

	if (!p)
		return;
	h = p->dev->host;
	pci_host_remove(p->host, &p->pci);
	ioev_set(p, p->ioev_base, false);
	p->dev->signal = NULL;
	for (i = 0; i < p->nvec; i++) {
		if (p->vec[i].gsi && h->irqfd)
			h->irqfd(h->vm, p->vec[i].efd, p->vec[i].gsi, false);
		close(p->vec[i].efd);
	}
	free(p);
}
