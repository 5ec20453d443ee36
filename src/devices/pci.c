#include "devices/pci.h"

#include "util/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PCI_BAR0 0x10
#define PCI_CAP_PTR 0x34
#define PCI_STATUS_CAP_LIST 0x10

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

void pci_dev_init(struct pci_dev *d, const char *name, uint16_t vendor, uint16_t device,
		  uint32_t class_code, uint8_t revision, uint16_t subsys_vendor, uint16_t subsys)
{
	memset(d, 0, sizeof(*d));
	d->name = name;
	put16(d->cfg + 0x00, vendor);
	put16(d->cfg + 0x02, device);
	d->cfg[0x08] = revision;
	d->cfg[0x09] = class_code & 0xff;
	d->cfg[0x0a] = (class_code >> 8) & 0xff;
	d->cfg[0x0b] = (class_code >> 16) & 0xff;
	put16(d->cfg + 0x2c, subsys_vendor);
	put16(d->cfg + 0x2e, subsys);
	put16(d->wmask + 0x04, PCI_CMD_IO | PCI_CMD_MEM | 0x4 /* bus master */ |
			       PCI_CMD_INTX_DISABLE);
	d->wmask[0x0c] = 0xff; /* cache line size */
	d->wmask[0x0d] = 0xff; /* latency timer */
	d->wmask[0x3c] = 0xff; /* interrupt line: scratch for the OS */
}

void pci_dev_set_bar(struct pci_dev *d, int i, uint64_t size, bus_io_fn fn, void *opaque)
{
	d->bar[i].size = size;
	d->bar[i].fn = fn;
	d->bar[i].opaque = opaque;
	put32(d->cfg + PCI_BAR0 + 4 * i, 0x4); /* 64-bit memory, not prefetchable */
}

void pci_dev_set_bar32(struct pci_dev *d, int i, uint64_t size, bus_io_fn fn, void *opaque)
{
	d->bar[i].size = size;
	d->bar[i].fn = fn;
	d->bar[i].opaque = opaque;
	d->bar[i].is32 = true;
	put32(d->cfg + PCI_BAR0 + 4 * i, 0); /* 32-bit memory, not prefetchable */
}

/* BAR i's register in cfg (8 bytes for a 64-bit BAR, 4 for a 32-bit one). */
static uint64_t bar_get(const struct pci_dev *d, const uint8_t *cfg, int i)
{
	uint64_t v = 0;

	memcpy(&v, cfg + PCI_BAR0 + 4 * i, d->bar[i].is32 ? 4 : 8);
	return v;
}

static void bar_put(const struct pci_dev *d, uint8_t *cfg, int i, uint64_t v)
{
	memcpy(cfg + PCI_BAR0 + 4 * i, &v, d->bar[i].is32 ? 4 : 8);
}

/* The type bits of BAR i: 64-bit or 32-bit memory. */
static uint64_t bar_type(const struct pci_dev *d, int i)
{
	return d->bar[i].is32 ? 0 : 0x4;
}

uint8_t pci_dev_add_cap(struct pci_dev *d, uint8_t id, uint8_t len)
{
	uint8_t off = d->cap_next ? d->cap_next : 0x40, p;

	if ((unsigned)off + len > PCI_CFG_SIZE)
		return 0;
	d->cfg[off] = id;
	d->cfg[off + 1] = 0;
	if (!d->cfg[PCI_CAP_PTR]) {
		d->cfg[PCI_CAP_PTR] = off;
	} else {
		for (p = d->cfg[PCI_CAP_PTR]; d->cfg[p + 1]; p = d->cfg[p + 1])
			;
		d->cfg[p + 1] = off;
	}
	d->cap_next = (off + len + 3) & ~3;
	put16(d->cfg + 0x06, get16(d->cfg + 0x06) | PCI_STATUS_CAP_LIST);
	return off;
}

static uint64_t bar_reg(const struct pci_dev *d, int i)
{
	return bar_get(d, d->cfg, i) & ~0xfULL;
}

/* Put BAR i on the bus at its current address if decoding is on, off it otherwise. */
static void bar_update(struct pci_dev *d, int i)
{
	struct pci_bar *b = &d->bar[i];
	struct pci_host *h = d->host;
	bool on = (get16(d->cfg + 0x04) & PCI_CMD_MEM) != 0;
	uint64_t addr = bar_reg(d, i), old = b->addr;

	/* An address that is not size-aligned is the sizing pattern: not decoded. */
	if (addr == 0 || (addr & (b->size - 1)) || addr + b->size < addr ||
	    (addr < 0x100000000ULL && addr + b->size > 0x100000000ULL))
		on = false;
	if (b->registered && (!on || addr != b->addr)) {
		bus_unregister(h->mmio, b->addr);
		b->registered = false;
	}
	if (on && !b->registered) {
		if (bus_register(h->mmio, addr, b->size, b->fn, b->opaque, d->name)) {
			vsrv_log("%s: BAR%d at 0x%llx overlaps another device; not decoded",
				 d->name, i, (unsigned long long)addr);
			return;
		}
		b->registered = true;
		b->addr = addr;
		if (addr != old && d->bar_moved)
			d->bar_moved(d, i, old, addr);
	}
}

static void bars_update(struct pci_dev *d)
{
	int i;

	for (i = 0; i < 6; i++)
		if (d->bar[i].size)
			bar_update(d, i);
}

static void cfg_write(struct pci_dev *d, uint32_t off, const uint8_t *data, uint32_t len)
{
	uint32_t i;
	bool bars = false;

	for (i = 0; i < len; i++) {
		uint32_t o = off + i;

		if (o >= PCI_BAR0 && o < PCI_BAR0 + 24) {
			int bi = (o - PCI_BAR0) / 4;
			int owner = d->bar[bi].size ? bi : (bi > 0 && d->bar[bi - 1].size &&
							     !d->bar[bi - 1].is32 ? bi - 1 : -1);
			uint64_t v, mask;

			if (owner < 0)
				continue;
			v = bar_get(d, d->cfg, owner);
			mask = ~(d->bar[owner].size - 1) & ~0xfULL;
			if (d->bar[owner].is32)
				mask &= 0xffffffffULL;
			((uint8_t *)&v)[o - PCI_BAR0 - 4 * owner] = data[i];
			v = (v & mask) | bar_type(d, owner);
			bar_put(d, d->cfg, owner, v);
			bars = true;
			continue;
		}
		if (o == 0x04 || o == 0x05)
			bars = true;
		d->cfg[o] = (d->cfg[o] & ~d->wmask[o]) | (data[i] & d->wmask[o]);
	}
	if (bars)
		bars_update(d);
	if (d->cfg_written)
		d->cfg_written(d, off, len);
}

void pci_cfg_access(struct pci_host *h, unsigned devfn, uint32_t off, uint8_t *data,
		    uint32_t len, bool is_write)
{
	struct pci_dev *d = devfn < 256 ? h->dev[devfn] : NULL;

	pthread_mutex_lock(&h->lock);
	if (!d || off >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - off) {
		/* no device: reads are all ones; extended config space reads as zero */
		if (!is_write)
			memset(data, d ? 0 : 0xff, len);
	} else if (is_write) {
		cfg_write(d, off, data, len);
	} else {
		if (d->cfg_read)
			d->cfg_read(d, off, len);
		memcpy(data, d->cfg + off, len);
	}
	pthread_mutex_unlock(&h->lock);
}

static void cf8_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_host *h = opaque;
	uint32_t a;

	if (off < 4) {
		if (off == 0 && len == 4) {
			if (is_write)
				memcpy(&h->cf8, data, 4);
			else
				memcpy(data, &h->cf8, 4);
		} else if (!is_write) {
			memset(data, 0xff, len);
		}
		return;
	}
	a = __atomic_load_n(&h->cf8, __ATOMIC_RELAXED);
	/* enabled, bus 0 only */
	if (!(a & 0x80000000u) || ((a >> 16) & 0xff) || off - 4 + len > 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pci_cfg_access(h, (a >> 8) & 0xff, (a & 0xfc) + (off - 4), data, len, is_write);
}

static void ecam_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_host *h = opaque;
	unsigned devfn = (off >> 12) & 0xff;
	uint32_t reg = off & 0xfff;

	if (len > 4 || (reg & (len - 1))) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pci_cfg_access(h, devfn, reg, data, len, is_write);
}

int pci_host_create(struct bus *pio, struct bus *mmio, uint64_t ecam_base, uint64_t bar_base,
		    uint64_t bar_end, struct pci_host **out)
{
	struct pci_host *h = calloc(1, sizeof(*h));
	int ret;

	if (!h)
		return -ENOMEM;
	h->pio = pio;
	h->mmio = mmio;
	h->ecam_base = ecam_base;
	h->bar_next = bar_base;
	h->bar_end = bar_end;
	pthread_mutex_init(&h->lock, NULL);
	/* 00:00.0: Intel-style host bridge (class 06 00 00) */
	pci_dev_init(&h->bridge, "pci-host", 0x8086, 0x29c0, 0x060000, 0, 0x1af4, 0x1100);
	h->bridge.host = h;
	h->dev[0] = &h->bridge;
	ret = bus_register(pio, 0xcf8, 8, cf8_io, h, "pci-conf1");
	if (ret)
		goto err_free;
	ret = bus_register(mmio, ecam_base, PCI_ECAM_BUS_SIZE, ecam_io, h, "pci-ecam");
	if (ret)
		goto err_pio;
	*out = h;
	return 0;
err_pio:
	bus_unregister(pio, 0xcf8);
err_free:
	free(h);
	return ret;
}

void pci_host_destroy(struct pci_host *h)
{
	unsigned s;

	if (!h)
		return;
	for (s = 1; s < 256; s++)
		if (h->dev[s])
			pci_host_remove(h, h->dev[s]);
	bus_unregister(h->mmio, h->ecam_base);
	bus_unregister(h->pio, 0xcf8);
	free(h);
}

static bool slot_free(const struct pci_host *h, unsigned s)
{
	for (unsigned f = 0; f < 8; f++)
		if (h->dev[s << 3 | f])
			return false;
	return true;
}

/* Under the lock: assign d's BARs and put it at slot s, function f (free). */
static int add_locked(struct pci_host *h, struct pci_dev *d, unsigned s, unsigned f)
{
	uint64_t next = h->bar_next;
	int i;

	for (i = 0; i < 6; i++) {
		uint64_t a, sz = d->bar[i].size;

		if (!sz)
			continue;
		a = (next + sz - 1) & ~(sz - 1);
		if (a + sz > h->bar_end || (d->bar[i].is32 && a + sz > 0x100000000ULL))
			return -ENOSPC;
		next = a + sz;
		bar_put(d, d->cfg, i, a | bar_type(d, i));
		d->bar[i].addr = a;
	}
	h->bar_next = next;
	d->host = h;
	d->slot = s;
	d->fn = f;
	h->dev[s << 3 | f] = d;
	/* function 0 of a slot with others says so in its header type */
	for (f = 1; f < 8 && h->dev[s << 3]; f++)
		if (h->dev[s << 3 | f])
			h->dev[s << 3]->cfg[0x0e] |= 0x80;
	return 0;
}

int pci_host_add(struct pci_host *h, struct pci_dev *d)
{
	unsigned s;
	int ret;

	pthread_mutex_lock(&h->lock);
	for (s = 1; s < 32 && !slot_free(h, s); s++)
		;
	ret = s == 32 ? -ENOSPC : add_locked(h, d, s, 0);
	pthread_mutex_unlock(&h->lock);
	return ret;
}

int pci_host_add_at(struct pci_host *h, struct pci_dev *d, unsigned slot, unsigned fn)
{
	int ret;

	if (!slot || slot >= 32 || fn >= 8)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	ret = h->dev[slot << 3 | fn] ? -EBUSY : add_locked(h, d, slot, fn);
	pthread_mutex_unlock(&h->lock);
	return ret;
}

void pci_host_remove(struct pci_host *h, struct pci_dev *d)
{
	int i;

	pthread_mutex_lock(&h->lock);
	for (i = 0; i < 6; i++) {
		if (d->bar[i].registered)
			bus_unregister(h->mmio, d->bar[i].addr);
		d->bar[i].registered = false;
	}
	if (d->slot < 32 && d->fn < 8 && h->dev[d->slot << 3 | d->fn] == d)
		h->dev[d->slot << 3 | d->fn] = NULL;
	pthread_mutex_unlock(&h->lock);
}

void pci_dev_cfg_save(struct pci_dev *d, uint8_t cfg[PCI_CFG_SIZE])
{
	pthread_mutex_lock(&d->host->lock);
	memcpy(cfg, d->cfg, PCI_CFG_SIZE);
	pthread_mutex_unlock(&d->host->lock);
}

/* The BAR slot config byte o belongs to: -1 outside the BARs, -2 for an unused slot. */
static int bar_owner(const struct pci_dev *d, unsigned o)
{
	int bi;

	if (o < PCI_BAR0 || o >= PCI_BAR0 + 24)
		return -1;
	bi = (o - PCI_BAR0) / 4;
	if (d->bar[bi].size)
		return bi;
	if (bi > 0 && d->bar[bi - 1].size && !d->bar[bi - 1].is32)
		return bi - 1;
	return -2;
}

static int cfg_check(const struct pci_dev *d, const uint8_t *cfg)
{
	unsigned o;
	int i;

	for (o = 0; o < PCI_CFG_SIZE; o++) {
		int owner = bar_owner(d, o);

		if (owner >= 0)
			continue;
		if (owner == -2 ? cfg[o] != d->cfg[o] :
				  ((cfg[o] ^ d->cfg[o]) & ~d->wmask[o]) != 0)
			return -EINVAL;
	}
	for (i = 0; i < 6; i++) {
		uint64_t v;

		if (!d->bar[i].size)
			continue;
		v = bar_get(d, cfg, i);
		/* what cfg_write can leave there: a size-aligned address, the BAR's type */
		if ((v & (d->bar[i].size - 1)) != bar_type(d, i))
			return -EINVAL;
	}
	return 0;
}

int pci_dev_cfg_check(struct pci_dev *d, const uint8_t cfg[PCI_CFG_SIZE])
{
	int ret;

	pthread_mutex_lock(&d->host->lock);
	ret = cfg_check(d, cfg);
	pthread_mutex_unlock(&d->host->lock);
	return ret;
}

int pci_dev_cfg_load(struct pci_dev *d, const uint8_t cfg[PCI_CFG_SIZE])
{
	int ret;

	pthread_mutex_lock(&d->host->lock);
	ret = cfg_check(d, cfg);
	if (!ret) {
		memcpy(d->cfg, cfg, PCI_CFG_SIZE);
		bars_update(d);
	}
	pthread_mutex_unlock(&d->host->lock);
	return ret;
}

void pci_host_save(struct pci_host *h, struct pci_host_state *st)
{
	memset(st, 0, sizeof(*st));
	st->cf8 = __atomic_load_n(&h->cf8, __ATOMIC_RELAXED);
	pci_dev_cfg_save(&h->bridge, st->bridge_cfg);
}

int pci_host_restore(struct pci_host *h, const struct pci_host_state *st)
{
	int ret = pci_dev_cfg_load(&h->bridge, st->bridge_cfg);

	/* any value is one the guest can write to the latch */
	if (!ret)
		__atomic_store_n(&h->cf8, st->cf8, __ATOMIC_RELAXED);
	return ret;
}
