/* A tiny virtio driver for unit tests: it plays the guest against a device on a transport,
 * through the MMIO bus (bus_dispatch), with rings in a guest_mem. No KVM needed.
 * Transport: virtio-mmio (vdrv_mmio) or virtio-pci modern (vdrv_pci, BAR 0 at bar). */
#ifndef VSRV_TESTS_UNIT_VDRV_H
#define VSRV_TESTS_UNIT_VDRV_H

#include "devices/virtio/virtio.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#define VDRV_QSZ 64
#define VDRV_RINGS 0x100000ULL   /* queue q rings at VDRV_RINGS + q * 0x10000 */
#define VDRV_DATA 0x400000ULL    /* scratch data for tests */

struct vdrv {
	struct bus *bus;
	struct guest_mem *mem;
	uint64_t base;      /* mmio window, or BAR 0 for pci */
	bool pci;
	uint16_t next_desc[VIRTIO_MAX_QUEUES];
	uint16_t avail_idx[VIRTIO_MAX_QUEUES];
	uint16_t used_seen[VIRTIO_MAX_QUEUES];
};

static inline uint32_t vdrv_rd(struct vdrv *v, uint64_t off, uint32_t len)
{
	uint64_t x = 0;

	bus_dispatch(v->bus, v->base + off, (uint8_t *)&x, len, false);
	return (uint32_t)x;
}

static inline void vdrv_wr(struct vdrv *v, uint64_t off, uint32_t len, uint64_t val)
{
	bus_dispatch(v->bus, v->base + off, (uint8_t *)&val, len, true);
}

/* pci common cfg offsets in BAR 0 */
#define PC_DFSEL 0x00
#define PC_DF 0x04
#define PC_GFSEL 0x08
#define PC_GF 0x0c
#define PC_STATUS 0x14
#define PC_QSEL 0x16
#define PC_QSIZE 0x18
#define PC_QENABLE 0x1c
#define PC_QDESC 0x20
#define PC_QDRIVER 0x28
#define PC_QDEVICE 0x30
#define PC_NOTIFY 0x3000
#define PC_DEVCFG 0x2000

static inline uint32_t vdrv_status(struct vdrv *v)
{
	return v->pci ? vdrv_rd(v, PC_STATUS, 1) : vdrv_rd(v, 0x70, 4);
}

static inline void vdrv_set_status(struct vdrv *v, uint32_t s)
{
	if (v->pci)
		vdrv_wr(v, PC_STATUS, 1, s);
	else
		vdrv_wr(v, 0x70, 4, s);
}

static inline uint64_t vdrv_ring(unsigned q, unsigned part)
{
	return VDRV_RINGS + q * 0x10000ULL + part * 0x1000ULL; /* 0 desc, 1 avail, 2 used */
}

/* Negotiate features (those offered & want; never RING_PACKED: this driver speaks the split
 * ring) and set up nq queues. Returns status. */
static inline uint32_t vdrv_setup(struct vdrv *v, uint64_t want, unsigned nq)
{
	uint64_t feat;
	unsigned q;

	memset(v->next_desc, 0, sizeof(v->next_desc));
	memset(v->avail_idx, 0, sizeof(v->avail_idx));
	memset(v->used_seen, 0, sizeof(v->used_seen));
	memset(v->mem->host + VDRV_RINGS, 0, 0x10000 * VIRTIO_MAX_QUEUES);
	want &= ~(1ULL << VIRTIO_F_RING_PACKED);
	vdrv_set_status(v, 0);
	vdrv_set_status(v, 1 | 2);
	if (v->pci) {
		vdrv_wr(v, PC_DFSEL, 4, 0);
		feat = vdrv_rd(v, PC_DF, 4);
		vdrv_wr(v, PC_DFSEL, 4, 1);
		feat |= (uint64_t)vdrv_rd(v, PC_DF, 4) << 32;
		feat &= want | 1ULL << VIRTIO_F_VERSION_1;
		vdrv_wr(v, PC_GFSEL, 4, 0);
		vdrv_wr(v, PC_GF, 4, (uint32_t)feat);
		vdrv_wr(v, PC_GFSEL, 4, 1);
		vdrv_wr(v, PC_GF, 4, feat >> 32);
	} else {
		vdrv_wr(v, 0x14, 4, 0);
		feat = vdrv_rd(v, 0x10, 4);
		vdrv_wr(v, 0x14, 4, 1);
		feat |= (uint64_t)vdrv_rd(v, 0x10, 4) << 32;
		feat &= want | 1ULL << VIRTIO_F_VERSION_1;
		vdrv_wr(v, 0x24, 4, 0);
		vdrv_wr(v, 0x20, 4, (uint32_t)feat);
		vdrv_wr(v, 0x24, 4, 1);
		vdrv_wr(v, 0x20, 4, feat >> 32);
	}
	vdrv_set_status(v, 1 | 2 | 8);
	for (q = 0; q < nq; q++) {
		if (v->pci) {
			vdrv_wr(v, PC_QSEL, 2, q);
			vdrv_wr(v, PC_QSIZE, 2, VDRV_QSZ);
			vdrv_wr(v, PC_QDESC, 8, vdrv_ring(q, 0));
			vdrv_wr(v, PC_QDRIVER, 8, vdrv_ring(q, 1));
			vdrv_wr(v, PC_QDEVICE, 8, vdrv_ring(q, 2));
			vdrv_wr(v, PC_QENABLE, 2, 1);
		} else {
			vdrv_wr(v, 0x30, 4, q);
			vdrv_wr(v, 0x38, 4, VDRV_QSZ);
			vdrv_wr(v, 0x80, 4, vdrv_ring(q, 0));
			vdrv_wr(v, 0x84, 4, 0);
			vdrv_wr(v, 0x90, 4, vdrv_ring(q, 1));
			vdrv_wr(v, 0x94, 4, 0);
			vdrv_wr(v, 0xa0, 4, vdrv_ring(q, 2));
			vdrv_wr(v, 0xa4, 4, 0);
			vdrv_wr(v, 0x44, 4, 1);
		}
	}
	vdrv_set_status(v, 1 | 2 | 8 | 4);
	return vdrv_status(v);
}

struct vdrv_buf {
	uint64_t gpa;
	uint32_t len;
	bool write; /* device-writable */
};

/* Offer one chain on queue q and notify. Returns the head. */
static inline uint16_t vdrv_submit(struct vdrv *v, unsigned q, const struct vdrv_buf *b,
				   unsigned n)
{
	struct virtq_desc *d = (struct virtq_desc *)(v->mem->host + vdrv_ring(q, 0));
	uint16_t *avail = (uint16_t *)(v->mem->host + vdrv_ring(q, 1));
	uint16_t head = v->next_desc[q] % VDRV_QSZ, idx;
	unsigned i;

	for (i = 0; i < n; i++) {
		uint16_t k = (head + i) % VDRV_QSZ;

		d[k].addr = b[i].gpa;
		d[k].len = b[i].len;
		d[k].flags = (b[i].write ? VIRTQ_DESC_F_WRITE : 0) |
			     (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
		d[k].next = (k + 1) % VDRV_QSZ;
	}
	v->next_desc[q] += n;
	idx = v->avail_idx[q]++;
	avail[2 + idx % VDRV_QSZ] = head;
	avail[2 + VDRV_QSZ] = v->used_seen[q]; /* used_event: interrupt for the next one */
	__atomic_store_n(&avail[1], v->avail_idx[q], __ATOMIC_RELEASE);
	if (v->pci)
		vdrv_wr(v, PC_NOTIFY + 4 * q, 2, q);
	else
		vdrv_wr(v, 0x50, 4, q);
	return head;
}

/* Wait up to 5 s for the next used entry of queue q. Returns its len, or -1 on timeout.
 * *id gets the head if id is not NULL. */
static inline long vdrv_wait(struct vdrv *v, unsigned q, uint16_t *id)
{
	uint8_t *used = v->mem->host + vdrv_ring(q, 2);
	int i;

	for (i = 0; i < 5000; i++) {
		uint16_t idx = __atomic_load_n((uint16_t *)(used + 2), __ATOMIC_ACQUIRE);

		if (idx != v->used_seen[q]) {
			uint32_t *e = (uint32_t *)(used + 4 + 8 * (v->used_seen[q] % VDRV_QSZ));

			v->used_seen[q]++;
			if (id)
				*id = e[0];
			return e[1];
		}
		usleep(1000);
	}
	return -1;
}

#endif
