#include "devices/pci.h"

#include "util/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PCI_BAR0 0x10
#define PCI_CAP_PTR 0x34
#define PCI_STATUS_CAP_LIST 0x10

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
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

/* The type bits of a BAR register, and the bits of its address. */
static uint64_t bar_type_bits(const struct pci_bar *b)
{
	return b->type == PCI_BAR_IO ? 0x1 : (b->type == PCI_BAR_MEM64 ? 0x4 : 0x0) |
	       (b->prefetch ? 0x8 : 0x0);
}

static uint64_t bar_addr_mask(const struct pci_bar *b)
{
	return ~(b->size - 1) & (b->type == PCI_BAR_IO ? ~0x3ULL : ~0xfULL) &
	       (b->type == PCI_BAR_MEM64 ? ~0ULL : 0xffffffffULL);
}

/* BAR i, or the ROM BAR for PCI_BAR_ROM. */
static struct pci_bar *bar_at(struct pci_dev *d, int i)
{
	return i == PCI_BAR_ROM ? &d->rom : &d->bar[i];
}

/* The ROM BAR's address bits (bit 0 is its enable bit, bits 1-10 read as zero). */
static uint32_t rom_addr_mask(const struct pci_bar *b)
{
	return (uint32_t)~(b->size - 1) & 0xfffff800u;
}

static uint32_t rom_reg(const struct pci_dev *d)
{
	uint32_t v;

	memcpy(&v, d->cfg + PCI_ROM_ADDRESS, 4);
	return v;
}

static unsigned bar_width(const struct pci_bar *b)
{
	return b->type == PCI_BAR_MEM64 ? 8 : 4;
}

static void set_bar(struct pci_dev *d, int i, enum pci_bar_type t, uint64_t size,
		    bus_io_fn fn, void *opaque)
{
	uint64_t v;

	d->bar[i].size = size;
	d->bar[i].type = t;
	d->bar[i].fn = fn;
	d->bar[i].opaque = opaque;
	v = bar_type_bits(&d->bar[i]); /* not prefetchable */
	memcpy(d->cfg + PCI_BAR0 + 4 * i, &v, bar_width(&d->bar[i]));
}

void pci_dev_set_bar(struct pci_dev *d, int i, uint64_t size, bus_io_fn fn, void *opaque)
{
	set_bar(d, i, PCI_BAR_MEM64, size, fn, opaque);
}

void pci_dev_set_bar32(struct pci_dev *d, int i, uint64_t size, bus_io_fn fn, void *opaque)
{
	set_bar(d, i, PCI_BAR_MEM32, size, fn, opaque);
}

void pci_dev_set_io_bar(struct pci_dev *d, int i, uint64_t size, bus_io_fn fn, void *opaque)
{
	set_bar(d, i, PCI_BAR_IO, size, fn, opaque);
}

void pci_dev_set_prefetchable(struct pci_dev *d, int i)
{
	uint64_t v;

	if (d->bar[i].type == PCI_BAR_IO)
		return;
	d->bar[i].prefetch = true;
	v = bar_type_bits(&d->bar[i]);
	memcpy(d->cfg + PCI_BAR0 + 4 * i, &v, bar_width(&d->bar[i]));
}

void pci_dev_set_rom(struct pci_dev *d, uint64_t size, bus_io_fn fn, void *opaque)
{
	d->rom.size = size;
	d->rom.type = PCI_BAR_MEM32;
	d->rom.fn = fn;
	d->rom.opaque = opaque;
	memset(d->cfg + PCI_ROM_ADDRESS, 0, 4);
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
	const struct pci_bar *b = &d->bar[i];
	uint64_t v = 0;

	memcpy(&v, d->cfg + PCI_BAR0 + 4 * i, bar_width(b));
	return v & (b->type == PCI_BAR_IO ? ~0x3ULL : ~0xfULL);
}

static struct bus *bar_bus(const struct pci_dev *d, int i)
{
	return i != PCI_BAR_ROM && d->bar[i].type == PCI_BAR_IO ? d->host->pio : d->host->mmio;
}

/* Put BAR i (or the ROM BAR) on the bus at its current address if decoding is on, off it
 * otherwise. */
static void bar_update(struct pci_dev *d, int i)
{
	struct pci_bar *b = bar_at(d, i);
	bool io = b->type == PCI_BAR_IO;
	bool on = (get16(d->cfg + 0x04) & (io ? PCI_CMD_IO : PCI_CMD_MEM)) != 0;
	uint64_t addr = i == PCI_BAR_ROM ? rom_reg(d) & rom_addr_mask(b) : bar_reg(d, i);
	uint64_t old = b->addr;
	struct bus *bus = bar_bus(d, i);

	if (i == PCI_BAR_ROM && !(rom_reg(d) & 1))
		on = false;

	/* An address that is not size-aligned is the sizing pattern: not decoded. */
	if (addr == 0 || (addr & (b->size - 1)) || addr + b->size < addr ||
	    (addr < 0x100000000ULL && addr + b->size > 0x100000000ULL) ||
	    (io && addr + b->size > PCI_IO_END))
		on = false;
	if (b->registered && (!on || addr != b->addr)) {
		bus_unregister(bus, b->addr);
		b->registered = false;
		if (d->bar_decode)
			d->bar_decode(d, i, b->addr, false);
	}
	if (on && !b->registered) {
		if (bus_register(bus, addr, b->size, b->fn, b->opaque, d->name)) {
			vsrv_log("%s: BAR%d at 0x%llx overlaps another device; not decoded",
				 d->name, i, (unsigned long long)addr);
			return;
		}
		b->registered = true;
		b->addr = addr;
		if (addr != old && d->bar_moved)
			d->bar_moved(d, i, old, addr);
		if (d->bar_decode)
			d->bar_decode(d, i, addr, true);
	}
}

static void bars_update(struct pci_dev *d)
{
	int i;

	for (i = 0; i < 6; i++)
		if (d->bar[i].size)
			bar_update(d, i);
	if (d->rom.size)
		bar_update(d, PCI_BAR_ROM);
}

static int bar_owner(const struct pci_dev *d, unsigned o);

static void cfg_write(struct pci_dev *d, uint32_t off, const uint8_t *data, uint32_t len)
{
	uint32_t i;
	bool bars = false;

	for (i = 0; i < len; i++) {
		uint32_t o = off + i;

		if (o >= PCI_BAR0 && o < PCI_BAR0 + 24) {
			int owner = bar_owner(d, o);
			const struct pci_bar *b;
			uint64_t v = 0;

			if (owner < 0)
				continue;
			b = &d->bar[owner];
			memcpy(&v, d->cfg + PCI_BAR0 + 4 * owner, bar_width(b));
			((uint8_t *)&v)[o - PCI_BAR0 - 4 * owner] = data[i];
			v = (v & bar_addr_mask(b)) | bar_type_bits(b);
			memcpy(d->cfg + PCI_BAR0 + 4 * owner, &v, bar_width(b));
			bars = true;
			continue;
		}
		if (o >= PCI_ROM_ADDRESS && o < PCI_ROM_ADDRESS + 4 && d->rom.size) {
			uint32_t v = rom_reg(d);

			((uint8_t *)&v)[o - PCI_ROM_ADDRESS] = data[i];
			v &= rom_addr_mask(&d->rom) | 1;
			memcpy(d->cfg + PCI_ROM_ADDRESS, &v, 4);
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

	if (off == 1 && len == 1 && h->cf9_fn) {
		/* 0xcf9 (the reset control register of an ICH) sits inside the address latch */
		h->cf9_fn(h->cf9_opaque, 0, data, 1, is_write);
		return;
	}
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

	/* bus 0 only: the rest of a firmware-sized window reads as no device */
	if ((off >> 20) || len > 4 || (reg & (len - 1))) {
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
	h->bar_next = bar_base;
	h->bar_end = bar_end;
	h->io_next = PCI_IO_BASE;
	pthread_mutex_init(&h->lock, NULL);
	/* 00:00.0: Intel-style host bridge (class 06 00 00) */
	pci_dev_init(&h->bridge, "pci-host", 0x8086, 0x29c0, 0x060000, 0, 0x1af4, 0x1100);
	h->bridge.host = h;
	h->dev[0] = &h->bridge;
	ret = bus_register(pio, 0xcf8, 8, cf8_io, h, "pci-conf1");
	if (ret)
		goto err_free;
	if (ecam_base) {
		ret = pci_host_set_ecam(h, ecam_base, PCI_ECAM_BUS_SIZE);
		if (ret)
			goto err_pio;
	}
	*out = h;
	return 0;
err_pio:
	bus_unregister(pio, 0xcf8);
err_free:
	free(h);
	return ret;
}

int pci_host_set_ecam(struct pci_host *h, uint64_t base, uint64_t len)
{
	int ret;

	if (base && (!len || (len & (PCI_ECAM_BUS_SIZE - 1)) || len > 256 * PCI_ECAM_BUS_SIZE ||
		     (base & (PCI_ECAM_BUS_SIZE - 1)) || base + len < base))
		return -EINVAL;
	if (h->ecam_base == base && h->ecam_len == len)
		return 0;
	if (h->ecam_base)
		bus_unregister(h->mmio, h->ecam_base);
	h->ecam_base = 0;
	h->ecam_len = 0;
	if (!base)
		return 0;
	ret = bus_register(h->mmio, base, len, ecam_io, h, "pci-ecam");
	if (ret)
		return ret;
	h->ecam_base = base;
	h->ecam_len = len;
	return 0;
}

void pci_host_set_cf9(struct pci_host *h, bus_io_fn fn, void *opaque)
{
	h->cf9_opaque = opaque;
	h->cf9_fn = fn;
}

void pci_host_destroy(struct pci_host *h)
{
	unsigned s;

	if (!h)
		return;
	for (s = 1; s < 256; s++)
		if (h->dev[s])
			pci_host_remove(h, h->dev[s]);
	if (h->ecam_base)
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

/* Under the lock: assign d's BARs (memory from the BAR window, I/O from the port window)
 * and put it at slot s, function f (free). Nothing changes on -ENOSPC. */
static int add_locked(struct pci_host *h, struct pci_dev *d, unsigned s, unsigned f)
{
	uint64_t next = h->bar_next, io_next = h->io_next, addr[6] = { 0 }, rom = 0;
	int i;

	for (i = 0; i < 6; i++) {
		const struct pci_bar *b = &d->bar[i];
		uint64_t *win = b->type == PCI_BAR_IO ? &io_next : &next;
		uint64_t sz = b->size;

		if (!sz)
			continue;
		addr[i] = (*win + sz - 1) & ~(sz - 1);
		if (addr[i] + sz > (b->type == PCI_BAR_IO ? PCI_IO_END : h->bar_end) ||
		    (b->type == PCI_BAR_MEM32 && addr[i] + sz > 0x100000000ULL))
			return -ENOSPC;
		*win = addr[i] + sz;
	}
	if (d->rom.size) {
		rom = (next + d->rom.size - 1) & ~(d->rom.size - 1);
		if (rom + d->rom.size > h->bar_end || rom + d->rom.size > 0x100000000ULL)
			return -ENOSPC;
		next = rom + d->rom.size;
	}
	for (i = 0; i < 6; i++) {
		struct pci_bar *b = &d->bar[i];
		uint64_t v = addr[i] | bar_type_bits(b);

		if (!b->size)
			continue;
		b->addr = addr[i];
		memcpy(d->cfg + PCI_BAR0 + 4 * i, &v, bar_width(b));
	}
	if (d->rom.size) {
		uint32_t r = (uint32_t)rom; /* enable bit off */

		d->rom.addr = rom;
		memcpy(d->cfg + PCI_ROM_ADDRESS, &r, 4);
	}
	h->bar_next = next;
	h->io_next = (uint32_t)io_next;
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

	if (!slot && !fn)
		return pci_host_add(h, d);
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
	for (i = 0; i <= PCI_BAR_ROM; i++) {
		struct pci_bar *b = bar_at(d, i);

		if (b->registered) {
			bus_unregister(bar_bus(d, i), b->addr);
			if (d->bar_decode)
				d->bar_decode(d, i, b->addr, false);
		}
		b->registered = false;
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
	if (bi > 0 && d->bar[bi - 1].size && d->bar[bi - 1].type == PCI_BAR_MEM64)
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
		if (o >= PCI_ROM_ADDRESS && o < PCI_ROM_ADDRESS + 4 && d->rom.size)
			continue;
		if (owner == -2 ? cfg[o] != d->cfg[o] :
				  ((cfg[o] ^ d->cfg[o]) & ~d->wmask[o]) != 0)
			return -EINVAL;
	}
	for (i = 0; i < 6; i++) {
		const struct pci_bar *b = &d->bar[i];
		uint64_t v = 0;

		if (!b->size)
			continue;
		memcpy(&v, cfg + PCI_BAR0 + 4 * i, bar_width(b));
		/* what cfg_write can leave there: a size-aligned address, the BAR's type */
		if ((v & ~bar_addr_mask(b)) != bar_type_bits(b))
			return -EINVAL;
	}
	if (d->rom.size) {
		uint32_t v;

		memcpy(&v, cfg + PCI_ROM_ADDRESS, 4);
		if (v & ~(rom_addr_mask(&d->rom) | 1))
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
