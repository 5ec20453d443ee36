/* virtio-mmio (version 2) and virtio-pci (modern) transports for the kit's drivers: device
 * discovery, status and feature negotiation, queue set-up, configuration space, and the
 * register accessors that go through the ring-0 stub from ring 3 (see vio.h). */
#include "rt/rt.h"
#include "virtio/vio.h"

int vio_use_gate;
int vio_ring_packed;
uint64_t vio_reg_accesses;
uint64_t vio_tsc_per_ms;

void vio_gate_entry(void);
extern char _end[];

/* --- register access ------------------------------------------------------------------------ */
enum { OP_RD8, OP_RD16, OP_RD32, OP_WR8, OP_WR16, OP_WR32, OP_INL, OP_OUTL };

static inline int ring3(void)
{
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3;
}

static inline uint32_t gate(unsigned op, uint64_t addr, uint32_t v)
{
	uint64_t r = op;
	__asm__ volatile("int3" : "+a"(r) : "d"(addr), "c"((uint64_t)v) : "memory");
	return (uint32_t)r;
}

uint32_t vio_rd(uint64_t addr, int width)
{
	vio_reg_accesses++;
	if (vio_use_gate && ring3())
		return gate(width == 1 ? OP_RD8 : width == 2 ? OP_RD16 : OP_RD32, addr, 0);
	if (width == 1)
		return *(volatile uint8_t *)addr;
	if (width == 2)
		return *(volatile uint16_t *)addr;
	return *(volatile uint32_t *)addr;
}

void vio_wr(uint64_t addr, int width, uint32_t v)
{
	vio_reg_accesses++;
	if (vio_use_gate && ring3()) {
		gate(width == 1 ? OP_WR8 : width == 2 ? OP_WR16 : OP_WR32, addr, v);
		return;
	}
	if (width == 1)
		*(volatile uint8_t *)addr = (uint8_t)v;
	else if (width == 2)
		*(volatile uint16_t *)addr = (uint16_t)v;
	else
		*(volatile uint32_t *)addr = v;
}

uint32_t vio_inl(uint16_t port)
{
	vio_reg_accesses++;
	return vio_use_gate && ring3() ? gate(OP_INL, port, 0) : rt_inl(port);
}

void vio_outl(uint16_t port, uint32_t v)
{
	vio_reg_accesses++;
	if (vio_use_gate && ring3())
		gate(OP_OUTL, port, v);
	else
		rt_outl(port, v);
}

uint32_t vio_pci_cfg(unsigned slot, unsigned off)
{
	vio_outl(0xcf8, 0x80000000u | slot << 11 | (off & 0xfc));
	return vio_inl(0xcfc);
}

void vio_pci_cfg_w(unsigned slot, unsigned off, uint32_t v)
{
	vio_outl(0xcf8, 0x80000000u | slot << 11 | (off & 0xfc));
	vio_outl(0xcfc, v);
}

/* --- memory, time ----------------------------------------------------------------------------- */
static uint64_t heap_start, heap_next, heap_end;

void vio_init(void)
{
	uint64_t start = ((uint64_t)_end + 0xfffff) & ~0xfffffull; /* next MiB */
	int i;

	rt_set_gate(3, vio_gate_entry, 3);
	/* The usable range that holds the image; our heap runs from its end of image. */
	for (i = 0; i < rt_boot.nmem; i++) {
		const struct rt_mem_range *m = &rt_boot.mem[i];
		if (m->type == 1 && m->base <= start && m->base + m->len > start) {
			heap_end = m->base + m->len;
			if (heap_end > 0xc0000000ull)
				heap_end = 0xc0000000ull;
		}
	}
	heap_start = heap_next = start;
	vio_use_gate = rt_param_flag("vio_gate");
	{
		char r[8];
		vio_ring_packed = rt_param("ring", r, sizeof(r)) >= 0 && strcmp(r, "packed") == 0;
	}
	if (!rt_tsc_hz)
		rt_tsc_calibrate();
	vio_tsc_per_ms = rt_tsc_hz / 1000;
	if (!vio_tsc_per_ms)
		vio_tsc_per_ms = 1000000;
}

void *vio_alloc(size_t size, size_t align)
{
	uint64_t p = (heap_next + align - 1) & ~(uint64_t)(align - 1);

	if (!heap_end || p + size > heap_end)
		rt_fail("vio_alloc: out of memory (%zu bytes wanted, %#lx left)", size,
			(unsigned long)(heap_end > p ? heap_end - p : 0));
	heap_next = p + size;
	/* RAM above the image is zero at boot and never handed out twice: only clear what
	 * could hold loader data (the first MiB of the heap), so that large buffers cost nothing
	 * (a memset in ring 0 is emulated instruction by instruction). */
	if (p < heap_start + (1 << 20))
		memset((void *)p, 0, size);
	return (void *)p;
}

uint64_t vio_now_us(void)
{
	return rt_rdtsc() * 1000 / vio_tsc_per_ms;
}

/* --- discovery ---------------------------------------------------------------------------------- */
#define MMIO_MAGIC 0x74726976u
#define QEMU_MMIO_BASE 0xfeb00000ull

static int mmio_match(uint64_t base, uint32_t id)
{
	return vio_rd(base, 4) == MMIO_MAGIC && vio_rd(base + 4, 4) == 2 && vio_rd(base + 8, 4) == id;
}

static void dev_name(struct vdev *d, const char *kind, uint64_t where)
{
	static const char *names[] = { "?", "net", "blk", "console", "rng", "?", "?", "?", "scsi" };
	rt_snprintf(d->name, sizeof(d->name), "%s@%s:%#lx", d->device_id < 9 ? names[d->device_id] : "?",
		    kind, (unsigned long)where);
}

static int find_mmio(uint32_t id, int *nth, struct vdev *d)
{
	const char *p = rt_boot.cmdline;
	int any = 0, i;

	/* Announced on the command line: virtio_mmio.device=SIZE@ADDR:IRQ (vsrv, Linux style). */
	while ((p = strstr(p, "virtio_mmio.device=")) != NULL) {
		const char *at = strstr(p, "@");
		p += 19;
		if (!at)
			break;
		uint64_t base = rt_strtou64(at + 1, NULL);
		any = 1;
		if (mmio_match(base, id) && (*nth)-- == 0) {
			d->base = base;
			return 0;
		}
	}
	if (any)
		return -1;
	/* QEMU microvm: 8 (or 24) fixed transports 512 bytes apart, empty ones read ID 0. */
	if (vio_rd(QEMU_MMIO_BASE, 4) != MMIO_MAGIC)
		return -1;
	for (i = 0; i < 24; i++) {
		uint64_t base = QEMU_MMIO_BASE + (uint64_t)i * 512;
		if (vio_rd(base, 4) != MMIO_MAGIC)
			break;
		if (vio_rd(base + 8, 4) != id)
			continue;
		if (vio_rd(base + 4, 4) != 2) {
			rt_printf("virtio: %#lx is a legacy (version 1) device: give QEMU "
				  "-global virtio-mmio.force-legacy=false\n", (unsigned long)base);
			continue;
		}
		if ((*nth)-- == 0) {
			d->base = base;
			return 0;
		}
	}
	return -1;
}

static uint64_t pci_bar(unsigned slot, unsigned bar)
{
	uint32_t lo = vio_pci_cfg(slot, 0x10 + 4 * bar);
	uint64_t a = lo & ~0xfull;
	if ((lo & 6) == 4)
		a |= (uint64_t)vio_pci_cfg(slot, 0x14 + 4 * bar) << 32;
	return a;
}

static int pci_setup(unsigned slot, struct vdev *d)
{
	unsigned cap = vio_pci_cfg(slot, 0x34) & 0xfc, guard = 0;
	int have = 0;

	vio_pci_cfg_w(slot, 0x04, (vio_pci_cfg(slot, 0x04) & 0xffff) | 0x6); /* memory, bus master */
	while (cap && guard++ < 48) {
		uint32_t w0 = vio_pci_cfg(slot, cap);
		if ((w0 & 0xff) == 0x09) {      /* vendor-specific: a virtio capability */
			unsigned type = (w0 >> 24) & 0xff;
			uint32_t w1 = vio_pci_cfg(slot, cap + 4);
			uint64_t a = pci_bar(slot, w1 & 0xff) + vio_pci_cfg(slot, cap + 8);
			switch (type) {
			case 1: d->base = a; have |= 1; break;
			case 2: d->notify = a; d->notify_mul = vio_pci_cfg(slot, cap + 16); have |= 2; break;
			case 3: d->isr = a; have |= 4; break;
			case 4: d->devcfg = a; have |= 8; break;
			}
		}
		cap = (w0 >> 8) & 0xfc;
	}
	return (have & 3) == 3 ? 0 : -1;
}

static int find_pci(uint32_t id, int *nth, struct vdev *d)
{
	unsigned slot;

	for (slot = 0; slot < 32; slot++) {
		uint32_t v = vio_pci_cfg(slot, 0);
		if (v == 0xffffffffu || v == 0)
			continue;
		if (v != (0x1af4u | (0x1040u + id) << 16))
			continue;
		if ((*nth)-- == 0) {
			d->pci_slot = slot;
			return pci_setup(slot, d);
		}
	}
	return -1;
}

int vio_find(uint32_t id, int nth, int transport, struct vdev *d)
{
	memset(d, 0, sizeof(*d));
	d->device_id = id;
	if (transport != VIO_PCI && find_mmio(id, &nth, d) == 0) {
		d->transport = VIO_MMIO;
		dev_name(d, "mmio", d->base);
		return 0;
	}
	if (transport != VIO_MMIO && find_pci(id, &nth, d) == 0) {
		d->transport = VIO_PCI;
		dev_name(d, "pci", d->pci_slot);
		return 0;
	}
	return -1;
}

int vio_param_transport(void)
{
	char t[8];
	if (rt_param("transport", t, sizeof(t)) < 0)
		return 0;
	return strcmp(t, "pci") == 0 ? VIO_PCI : strcmp(t, "mmio") == 0 ? VIO_MMIO : 0;
}

/* --- status, features, queues ------------------------------------------------------------------ */
/* Common registers: mmio offset, pci common-config offset. */
#define M_DEVF 0x010
#define M_DEVF_SEL 0x014
#define M_DRVF 0x020
#define M_DRVF_SEL 0x024
#define M_QSEL 0x030
#define M_QMAX 0x034
#define M_QNUM 0x038
#define M_QREADY 0x044
#define M_QNOTIFY 0x050
#define M_STATUS 0x070
#define M_QDESC 0x080
#define M_QAVAIL 0x090
#define M_QUSED 0x0a0
#define M_CONFIG 0x100

uint8_t vio_status(struct vdev *d)
{
	return d->transport == VIO_PCI ? (uint8_t)vio_rd(d->base + 0x14, 1) : (uint8_t)vio_rd(d->base + M_STATUS, 4);
}

void vio_set_status(struct vdev *d, uint8_t s)
{
	if (d->transport == VIO_PCI)
		vio_wr(d->base + 0x14, 1, s);
	else
		vio_wr(d->base + M_STATUS, 4, s);
}

void vio_reset(struct vdev *d)
{
	int i;
	vio_set_status(d, 0);
	for (i = 0; i < 1000 && vio_status(d) != 0; i++)
		;
}

int vio_has(struct vdev *d, unsigned bit) { return (d->features >> bit) & 1; }

int vio_negotiate(struct vdev *d, uint64_t want)
{
	uint64_t have;
	int pci = d->transport == VIO_PCI;

	vio_reset(d);
	vio_set_status(d, VIO_S_ACK);
	vio_set_status(d, VIO_S_ACK | VIO_S_DRIVER);
	vio_wr(d->base + (pci ? 0x00 : M_DEVF_SEL), 4, 0);
	have = vio_rd(d->base + (pci ? 0x04 : M_DEVF), 4);
	vio_wr(d->base + (pci ? 0x00 : M_DEVF_SEL), 4, 1);
	have |= (uint64_t)vio_rd(d->base + (pci ? 0x04 : M_DEVF), 4) << 32;
	if (!((have >> VIO_F_VERSION_1) & 1)) {
		vio_set_status(d, VIO_S_FAILED);
		return -1;
	}
	if (vio_ring_packed) {
		if (!((have >> VIO_F_RING_PACKED) & 1))
			rt_fail("%s: ring=packed, but the device does not offer VIRTIO_F_RING_PACKED", d->name);
		want |= 1ull << VIO_F_RING_PACKED;
	}
	d->features = have & (want | 1ull << VIO_F_VERSION_1);
	vio_wr(d->base + (pci ? 0x08 : M_DRVF_SEL), 4, 0);
	vio_wr(d->base + (pci ? 0x0c : M_DRVF), 4, (uint32_t)d->features);
	vio_wr(d->base + (pci ? 0x08 : M_DRVF_SEL), 4, 1);
	vio_wr(d->base + (pci ? 0x0c : M_DRVF), 4, (uint32_t)(d->features >> 32));
	vio_set_status(d, VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK);
	if (!(vio_status(d) & VIO_S_FEATURES_OK)) {
		vio_set_status(d, VIO_S_FAILED);
		return -1;
	}
	return 0;
}

void vio_driver_ok(struct vdev *d)
{
	vio_set_status(d, VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK | VIO_S_DRIVER_OK);
}

static void wr64(uint64_t addr, uint64_t v)
{
	vio_wr(addr, 4, (uint32_t)v);
	vio_wr(addr + 4, 4, (uint32_t)(v >> 32));
}

int vq_setup(struct vdev *d, struct vq *q, uint16_t index, uint16_t size, unsigned ind_max)
{
	int pci = d->transport == VIO_PCI;
	uint32_t max;
	unsigned i;

	memset(q, 0, sizeof(*q));
	vio_wr(d->base + (pci ? 0x16 : M_QSEL), pci ? 2 : 4, index);
	max = vio_rd(d->base + (pci ? 0x18 : M_QMAX), pci ? 2 : 4);
	if (!max)
		return -1;
	if (size > max)
		size = (uint16_t)max;
	while (!vio_has(d, VIO_F_RING_PACKED) && (size & (size - 1)))
		size &= (uint16_t)(size - 1);
	q->dev = d;
	q->index = index;
	q->size = size;
	q->cookie = vio_alloc(sizeof(void *) * size, 8);
	q->chain_len = vio_alloc(2u * size, 8);
	q->event_idx = vio_has(d, VIO_F_EVENT_IDX);
	q->indirect = ind_max && vio_has(d, VIO_F_INDIRECT);
	if (q->indirect) {
		q->ind_max = ind_max;
		q->ind = vio_alloc(16u * size * ind_max, 16);
	}
	if (vio_has(d, VIO_F_RING_PACKED)) {
		vq_setup_packed(q, ind_max);
		/* the descriptor ring, the driver and the device event suppression areas */
		q->desc = (volatile struct vq_desc *)q->ring;
		q->avail = q->drv_evt;
		q->used = (volatile uint32_t *)q->dev_evt;
	} else {
		q->desc = vio_alloc(16u * size, 4096);
		q->avail = vio_alloc(6u + 2u * size, 4096);
		q->used = vio_alloc(6u + 8u * size, 4096);
		for (i = 0; i < size; i++)
			q->desc[i].next = (uint16_t)(i + 1);
		q->num_free = size;
		/* We poll: ask for no interrupts (the flag without EVENT_IDX, a far used_event with it). */
		q->avail[0] = 1;
		q->avail[2 + size] = 0x7fff;
	}
	if (pci) {
		vio_wr(d->base + 0x18, 2, size);
		vio_wr(d->base + 0x1a, 2, 0xffff); /* no MSI-X vector */
		wr64(d->base + 0x20, (uint64_t)q->desc);
		wr64(d->base + 0x28, (uint64_t)q->avail);
		wr64(d->base + 0x30, (uint64_t)q->used);
		q->notify_addr = d->notify + (uint64_t)vio_rd(d->base + 0x1e, 2) * d->notify_mul;
		vio_wr(d->base + 0x1c, 2, 1);
	} else {
		vio_wr(d->base + M_QNUM, 4, size);
		wr64(d->base + M_QDESC, (uint64_t)q->desc);
		wr64(d->base + M_QAVAIL, (uint64_t)q->avail);
		wr64(d->base + M_QUSED, (uint64_t)q->used);
		q->notify_addr = d->base + M_QNOTIFY;
		vio_wr(d->base + M_QREADY, 4, 1);
	}
	return 0;
}

void vq_notify(struct vq *q)
{
	q->kicks++;
	if (q->dev->transport == VIO_PCI)
		vio_wr(q->notify_addr, 2, q->index);
	else
		vio_wr(q->notify_addr, 4, q->index);
}

/* --- configuration space ----------------------------------------------------------------------- */
static uint64_t cfg_addr(struct vdev *d, unsigned off)
{
	return d->transport == VIO_PCI ? d->devcfg + off : d->base + M_CONFIG + off;
}

uint32_t vio_cfg_read(struct vdev *d, unsigned off, int width)
{
	return vio_rd(cfg_addr(d, off), width);
}

uint64_t vio_cfg_read64(struct vdev *d, unsigned off)
{
	return vio_rd(cfg_addr(d, off), 4) | (uint64_t)vio_rd(cfg_addr(d, off + 4), 4) << 32;
}

void vio_cfg_write(struct vdev *d, unsigned off, int width, uint32_t v)
{
	vio_wr(cfg_addr(d, off), width, v);
}
