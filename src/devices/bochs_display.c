/* bochs-display (bochs_display.h): registers, the mode, the framebuffer's mapping, the
 * screen for display consumers, save and restore. The device kind is bochs_display_kind.c,
 * the EDID bochs_display_edid.c. */
#include "devices/bochs_display.h"

#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096u

struct bochs_display {
	struct pci_dev pci;          /* first: the BAR hooks get &b->pci */
	pthread_mutex_t lock;
	uint16_t dispi[DISPI_NREGS];
	bool big_endian;
	uint64_t generation;
	uint8_t *vram;               /* vram_size bytes, mmap'd */
	uint32_t vram_size;
	uint8_t edid[128];
	uint8_t *rom;                /* rom_size bytes (the ROM BAR's size), or NULL */
	uint32_t rom_len, rom_size;
	struct bochs_display_host host;
	bool mapped;                 /* VRAM is a memory slot at map_addr */
	uint64_t map_addr;
	/* pages changed that the slot's dirty log does not show: written through the bus
	 * handler, or everything after the mapping changed (one bit per page of VRAM) */
	uint64_t *dirty;
	uint64_t *log;               /* the slot's log, read into here */
	struct display disp;
};

/* The current mode: 0 with *m filled and the first visible pixel's VRAM offset, or
 * -ENODATA (no mode, or one the display cannot show). Under the lock. */
static int mode_locked(const struct bochs_display *b, struct display_mode *m, uint64_t *offset)
{
	const uint16_t *r = b->dispi;
	uint64_t bytespp, vw, stride, off;

	if (!(r[DISPI_ENABLE] & DISPI_ENABLED) || b->big_endian)
		return -ENODATA;
	switch (r[DISPI_BPP]) {
	case 32: m->format = DISPLAY_XRGB8888; bytespp = 4; break;
	case 24: m->format = DISPLAY_RGB888; bytespp = 3; break;
	case 16: m->format = DISPLAY_RGB565; bytespp = 2; break;
	case 15: m->format = DISPLAY_XRGB1555; bytespp = 2; break;
	default: return -ENODATA; /* 8 bpp needs a palette: no VGA DAC here */
	}
	if (!r[DISPI_XRES] || !r[DISPI_YRES] || r[DISPI_XRES] > DISPI_MAX_XRES ||
	    r[DISPI_YRES] > DISPI_MAX_YRES)
		return -ENODATA;
	vw = r[DISPI_VIRT_WIDTH] > r[DISPI_XRES] ? r[DISPI_VIRT_WIDTH] : r[DISPI_XRES];
	stride = vw * bytespp;
	off = r[DISPI_X_OFFSET] * bytespp + r[DISPI_Y_OFFSET] * stride;
	/* all values are 16-bit: no overflow in 64 bits */
	if (off + stride * r[DISPI_YRES] > b->vram_size)
		return -ENODATA;
	m->width = r[DISPI_XRES];
	m->height = r[DISPI_YRES];
	m->stride = (uint32_t)stride;
	m->generation = b->generation;
	*offset = off;
	return 0;
}

static int d_get_mode(void *opaque, struct display_mode *m)
{
	struct bochs_display *b = opaque;
	uint64_t off;
	int ret;

	pthread_mutex_lock(&b->lock);
	ret = mode_locked(b, m, &off);
	pthread_mutex_unlock(&b->lock);
	if (ret)
		memset(m, 0, sizeof(*m));
	return ret;
}

static const uint8_t *d_get_pixels(void *opaque, size_t *len)
{
	struct bochs_display *b = opaque;
	struct display_mode m;
	uint64_t off;
	const uint8_t *p = NULL;

	pthread_mutex_lock(&b->lock);
	if (!mode_locked(b, &m, &off)) {
		p = b->vram + off;
		*len = b->vram_size - off;
	}
	pthread_mutex_unlock(&b->lock);
	if (!p)
		*len = 0;
	return p;
}

static const uint32_t *d_get_palette(void *opaque)
{
	(void)opaque;
	return NULL; /* no 8 bpp modes */
}

static size_t vram_words(const struct bochs_display *b)
{
	return (b->vram_size / PAGE + 63) / 64;
}

static int d_get_dirty(void *opaque, uint64_t *bitmap, size_t npages)
{
	struct bochs_display *b = opaque;
	struct display_mode m;
	uint64_t off, first, total = b->vram_size / PAGE;
	int ret = 0;

	pthread_mutex_lock(&b->lock);
	if (mode_locked(b, &m, &off)) {
		pthread_mutex_unlock(&b->lock);
		return 0; /* blank: nothing to show changed */
	}
	if (b->mapped && b->host.dirty) {
		memset(b->log, 0, vram_words(b) * 8);
		ret = b->host.dirty(b->host.ctx, b->log);
		if (!ret)
			for (size_t w = 0; w < vram_words(b); w++)
				b->dirty[w] |= b->log[w];
	}
	first = off / PAGE;
	for (size_t i = 0; i < npages && first + i < total; i++) {
		uint64_t p = first + i;

		if (b->dirty[p / 64] & (1ULL << (p % 64)))
			bitmap[i / 64] |= 1ULL << (i % 64);
	}
	memset(b->dirty, 0, vram_words(b) * 8);
	pthread_mutex_unlock(&b->lock);
	return ret ? -ENOTSUP : 0;
}

static const struct display_ops bochs_display_ops = {
	.get_mode = d_get_mode,
	.get_pixels = d_get_pixels,
	.get_palette = d_get_palette,
	.get_dirty = d_get_dirty,
};

static void all_dirty(struct bochs_display *b)
{
	memset(b->dirty, 0xff, vram_words(b) * 8);
}

/* --- BAR0: the framebuffer through the bus (no memory slot) --- */

void bochs_display_fb_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct bochs_display *b = opaque;

	if (off >= b->vram_size || len > b->vram_size - off) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (!is_write) {
		memcpy(data, b->vram + off, len);
		return;
	}
	memcpy(b->vram + off, data, len);
	pthread_mutex_lock(&b->lock);
	for (uint64_t p = off / PAGE; p <= (off + len - 1) / PAGE; p++)
		b->dirty[p / 64] |= 1ULL << (p % 64);
	pthread_mutex_unlock(&b->lock);
}

/* --- BAR2: EDID, DISPI, QEMU's extended registers --- */

static uint16_t dispi_read(const struct bochs_display *b, unsigned i)
{
	bool caps = b->dispi[DISPI_ENABLE] & DISPI_GETCAPS;

	switch (i) {
	case DISPI_ID: return DISPI_ID5; /* as QEMU's: SeaBIOS's vgabios wants exactly this */
	case DISPI_XRES: return caps ? DISPI_MAX_XRES : b->dispi[i];
	case DISPI_YRES: return caps ? DISPI_MAX_YRES : b->dispi[i];
	case DISPI_BPP: return caps ? DISPI_MAX_BPP : b->dispi[i];
	case DISPI_VIDEO_MEMORY_64K: return (uint16_t)(b->vram_size >> 16);
	default: return i < DISPI_NREGS ? b->dispi[i] : 0xffff;
	}
}

static void dispi_write(struct bochs_display *b, unsigned i, uint16_t v)
{
	switch (i) {
	case DISPI_ID:
	case DISPI_VIDEO_MEMORY_64K:
		return; /* read-only */
	case DISPI_ENABLE:
		v &= DISPI_ENABLED | DISPI_GETCAPS | DISPI_8BIT_DAC | DISPI_LFB_ENABLED |
		     DISPI_NOCLEARMEM;
		break;
	case DISPI_BANK:
		v &= (uint16_t)((b->vram_size >> 16) - 1); /* no banked window: kept in range */
		break;
	default:
		if (i >= DISPI_NREGS)
			return;
	}
	if (b->dispi[i] != v) {
		b->dispi[i] = v;
		b->generation++;
	}
}

static void mmio_locked(struct bochs_display *b, uint64_t off, uint8_t *data, uint32_t len,
			bool is_write)
{
	if (off < BOCHS_EDID_OFF + BOCHS_EDID_SIZE) {
		if (!is_write)
			for (uint32_t k = 0; k < len; k++)
				data[k] = off + k < sizeof(b->edid) ? b->edid[off + k] : 0;
		return;
	}
	if (off >= BOCHS_DISPI_OFF && off < BOCHS_DISPI_OFF + 2 * DISPI_NREGS + 2) {
		/* any width: byte by byte over the 16-bit registers */
		for (uint32_t k = 0; k < len; k++) {
			uint64_t o = off + k - BOCHS_DISPI_OFF;
			unsigned i = (unsigned)(o / 2), sh = (unsigned)(o % 2) * 8;
			uint16_t cur = i < DISPI_NREGS ? b->dispi[i] : 0xffff;

			if (!is_write) {
				data[k] = (uint8_t)(dispi_read(b, i) >> sh);
				continue;
			}
			/* a 16-bit write lands as one value, not two halves */
			if (sh == 0 && k + 1 < len) {
				dispi_write(b, i, (uint16_t)(data[k] | data[k + 1] << 8));
				k++;
			} else {
				cur = (uint16_t)((cur & ~(0xff << sh)) | data[k] << sh);
				dispi_write(b, i, cur);
			}
		}
		return;
	}
	if (off >= BOCHS_QEXT_OFF && off < BOCHS_QEXT_OFF + 8 && len == 4 && !(off & 3)) {
		uint32_t v;

		if (off == BOCHS_QEXT_OFF) {
			v = 8;
		} else if (is_write) {
			memcpy(&v, data, 4);
			if (v == BOCHS_LE || v == BOCHS_BE) {
				if (b->big_endian != (v == BOCHS_BE))
					b->generation++;
				b->big_endian = v == BOCHS_BE;
			}
			return;
		} else {
			v = b->big_endian ? BOCHS_BE : BOCHS_LE;
		}
		if (!is_write)
			memcpy(data, &v, 4);
		return;
	}
	if (!is_write)
		memset(data, 0, len); /* the rest (VGA ports at 0x400 on a stdvga) reads as zero */
}

void bochs_display_mmio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct bochs_display *b = opaque;

	if (off >= BOCHS_MMIO_SIZE || len > BOCHS_MMIO_SIZE - off || len > 8) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&b->lock);
	mmio_locked(b, off, data, len, is_write);
	pthread_mutex_unlock(&b->lock);
}

/* --- the ROM BAR --- */

static void rom_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct bochs_display *b = opaque;

	if (is_write)
		return;
	for (uint32_t k = 0; k < len; k++)
		data[k] = off + k < b->rom_size ? b->rom[off + k] : 0xff;
}

/* --- the framebuffer as memory --- */

/* BAR0 went on or off the bus (host lock held): map VRAM there or take it away. */
static void bar_decode(struct pci_dev *d, int i, uint64_t addr, bool on)
{
	struct bochs_display *b = (struct bochs_display *)d;
	int ret;

	if (i != 0 || !b->host.map)
		return;
	pthread_mutex_lock(&b->lock);
	if (b->mapped) {
		ret = b->host.map(b->host.ctx, b->map_addr, 0, b->vram);
		if (ret)
			vsrv_log("%s: cannot unmap the framebuffer at 0x%llx: %s", d->name,
				 (unsigned long long)b->map_addr, strerror(-ret));
		b->mapped = false;
	}
	if (on) {
		ret = b->host.map(b->host.ctx, addr, b->vram_size, b->vram);
		if (ret)
			vsrv_log("%s: cannot map the framebuffer at 0x%llx (served by the VMM "
				 "instead): %s", d->name, (unsigned long long)addr, strerror(-ret));
		b->mapped = !ret;
		b->map_addr = addr;
	}
	all_dirty(b); /* a new slot's log starts empty */
	pthread_mutex_unlock(&b->lock);
}

int bochs_display_create(uint32_t vram_size, const uint8_t *rom, size_t rom_len,
			 const struct bochs_display_host *host, struct bochs_display **out)
{
	struct bochs_display *b;
	int ret = -ENOMEM;

	if (vram_size < BOCHS_VRAM_MIN || vram_size > BOCHS_VRAM_MAX ||
	    (vram_size & (vram_size - 1)) || (rom && (!rom_len || rom_len > (16u << 20))))
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	pthread_mutex_init(&b->lock, NULL);
	b->vram_size = vram_size;
	b->vram = mmap(NULL, vram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (b->vram == MAP_FAILED) {
		b->vram = NULL;
		goto err;
	}
	madvise(b->vram, vram_size, MADV_DONTDUMP);
	b->dirty = calloc(vram_words(b), 8);
	b->log = calloc(vram_words(b), 8);
	if (!b->dirty || !b->log)
		goto err;
	if (rom) {
		for (b->rom_size = 2048; b->rom_size < rom_len; b->rom_size <<= 1)
			;
		b->rom = calloc(1, b->rom_size);
		if (!b->rom)
			goto err;
		memcpy(b->rom, rom, rom_len);
		memset(b->rom + rom_len, 0xff, b->rom_size - rom_len);
		b->rom_len = (uint32_t)rom_len;
	}
	if (host)
		b->host = *host;
	bochs_display_edid(b->edid);
	b->dispi[DISPI_ID] = DISPI_ID5;
	b->generation = 1;
	all_dirty(b);

	pci_dev_init(&b->pci, "bochs-display", BOCHS_VENDOR, BOCHS_DEVICE, BOCHS_CLASS, 2,
		     0x1af4, 0x1100);
	b->pci.opaque = b;
	b->pci.bar_decode = bar_decode;
	pci_dev_set_bar32(&b->pci, 0, vram_size, bochs_display_fb_io, b);
	pci_dev_set_prefetchable(&b->pci, 0);
	pci_dev_set_bar32(&b->pci, 2, BOCHS_MMIO_SIZE, bochs_display_mmio, b);
	if (b->rom)
		pci_dev_set_rom(&b->pci, b->rom_size, rom_io, b);
	b->disp.ops = &bochs_display_ops;
	b->disp.opaque = b;
	*out = b;
	return 0;
err:
	bochs_display_destroy(b);
	return ret;
}

void bochs_display_destroy(struct bochs_display *b)
{
	if (!b)
		return;
	if (b->mapped && b->host.map)
		b->host.map(b->host.ctx, b->map_addr, 0, b->vram);
	if (b->vram)
		munmap(b->vram, b->vram_size);
	free(b->dirty);
	free(b->log);
	free(b->rom);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

struct pci_dev *bochs_display_pci(struct bochs_display *b)
{
	return &b->pci;
}

const struct display *bochs_display_display(struct bochs_display *b)
{
	return &b->disp;
}

uint8_t *bochs_display_vram(struct bochs_display *b, size_t *len)
{
	*len = b->vram_size;
	return b->vram;
}

bool bochs_display_mapped(struct bochs_display *b)
{
	bool m;

	pthread_mutex_lock(&b->lock);
	m = b->mapped;
	pthread_mutex_unlock(&b->lock);
	return m;
}

/* --- save and restore --- */

int bochs_display_save(struct bochs_display *b, struct bochs_display_state *st)
{
	memset(st, 0, sizeof(*st));
	st->magic = BOCHS_STATE_MAGIC;
	st->vram_size = b->vram_size;
	pthread_mutex_lock(&b->lock);
	memcpy(st->dispi, b->dispi, sizeof(b->dispi));
	st->big_endian = b->big_endian;
	pthread_mutex_unlock(&b->lock);
	if (b->pci.host)
		pci_dev_cfg_save(&b->pci, st->pci_cfg);
	else
		memcpy(st->pci_cfg, b->pci.cfg, PCI_CFG_SIZE);
	return 0;
}

int bochs_display_check(struct bochs_display *b, const struct bochs_display_state *st)
{
	const uint16_t en = DISPI_ENABLED | DISPI_GETCAPS | DISPI_8BIT_DAC | DISPI_LFB_ENABLED |
			    DISPI_NOCLEARMEM;

	if (st->magic != BOCHS_STATE_MAGIC || st->vram_size != b->vram_size ||
	    st->big_endian > 1 || st->reserved ||
	    st->dispi[DISPI_ID] != DISPI_ID5 ||
	    (st->dispi[DISPI_ENABLE] & ~en) ||
	    st->dispi[DISPI_BANK] >= (b->vram_size >> 16) ||
	    st->dispi[DISPI_VIDEO_MEMORY_64K] != b->dispi[DISPI_VIDEO_MEMORY_64K])
		return -EINVAL;
	for (unsigned i = DISPI_NREGS; i < 16; i++)
		if (st->dispi[i])
			return -EINVAL;
	return b->pci.host ? pci_dev_cfg_check(&b->pci, st->pci_cfg) : 0;
}

int bochs_display_restore(struct bochs_display *b, const struct bochs_display_state *st)
{
	int ret = bochs_display_check(b, st);

	if (ret)
		return ret;
	pthread_mutex_lock(&b->lock);
	memcpy(b->dispi, st->dispi, sizeof(b->dispi));
	b->big_endian = st->big_endian;
	b->generation++;
	all_dirty(b);
	pthread_mutex_unlock(&b->lock);
	/* puts the BARs where the state says: bar_decode maps VRAM there */
	return b->pci.host ? pci_dev_cfg_load(&b->pci, st->pci_cfg) : 0;
}
