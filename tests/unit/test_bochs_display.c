/* bochs-display (devices/bochs_display.c) driven as the guest's drivers drive it: PCI
 * config through 0xcf8/0xcfc (identity, BAR sizing, the ROM BAR), the DISPI registers and
 * EDID through BAR2 as Linux's bochs driver reads them, pixels through BAR0, the screen as
 * the VNC server and screenshots see it, the framebuffer's memory-slot mapping following
 * BAR0, hostile register values, save and restore. */
#include "check.h"
#include "pcicfg.h"

#include "devices/bochs_display.h"
#include "devices/pci.h"
#include "vmm/bus.h"
#include "vmm/display.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#define BARS 0xe0000000ULL
#define VRAM (16u << 20)

/* what the device asked its host to map (the VM's memory slot) */
struct maps {
	int calls;
	uint64_t gpa, size;
	void *host;
	uint64_t log[64];  /* returned by dirty */
};

static int fake_map(void *ctx, uint64_t gpa, uint64_t size, void *host)
{
	struct maps *m = ctx;

	m->calls++;
	m->gpa = gpa;
	m->size = size;
	m->host = host;
	return 0;
}

static int fake_dirty(void *ctx, uint64_t *bitmap)
{
	struct maps *m = ctx;

	memcpy(bitmap, m->log, sizeof(m->log));
	memset(m->log, 0, sizeof(m->log));
	return 0;
}

struct rig {
	struct bus pio, mmio;
	struct pci_host *h;
	struct bochs_display *b;
	const struct display *d;
	unsigned slot;
	uint32_t bar0, bar2;
	struct maps maps;
};

static const uint8_t test_rom[3000] = { 0x55, 0xaa, 0x06, 0xcb, [2999] = 0x77 };

static void rig_up(struct rig *r, bool with_map, uint32_t vram)
{
	struct bochs_display_host host = { fake_map, fake_dirty, &r->maps };

	memset(r, 0, sizeof(*r));
	bus_init(&r->pio);
	bus_init(&r->mmio);
	CHECK_EQ(pci_host_create(&r->pio, &r->mmio, 0, BARS, 0xfe000000ULL, &r->h), 0);
	CHECK_EQ(bochs_display_create(vram, test_rom, sizeof(test_rom), with_map ? &host : NULL,
				      &r->b), 0);
	CHECK_EQ(pci_host_add(r->h, bochs_display_pci(r->b)), 0);
	r->slot = bochs_display_pci(r->b)->slot;
	r->d = bochs_display_display(r->b);
	r->bar0 = pcicfg_read(&r->pio, r->slot, 0x10, 4) & ~0xfu;
	r->bar2 = pcicfg_read(&r->pio, r->slot, 0x18, 4) & ~0xfu;
	pcicfg_write(&r->pio, r->slot, 0x04, 2, PCI_CMD_MEM);
}

static void rig_down(struct rig *r)
{
	pci_host_remove(r->h, bochs_display_pci(r->b));
	bochs_display_destroy(r->b);
	pci_host_destroy(r->h);
	bus_destroy(&r->pio);
	bus_destroy(&r->mmio);
}

static uint16_t dispi_rd(struct rig *r, unsigned i)
{
	uint16_t v = 0;

	bus_dispatch(&r->mmio, r->bar2 + BOCHS_DISPI_OFF + 2 * i, (uint8_t *)&v, 2, false);
	return v;
}

static void dispi_wr(struct rig *r, unsigned i, uint16_t v)
{
	bus_dispatch(&r->mmio, r->bar2 + BOCHS_DISPI_OFF + 2 * i, (uint8_t *)&v, 2, true);
}

static uint32_t mmio_rd32(struct rig *r, uint64_t a)
{
	uint32_t v = 0;

	bus_dispatch(&r->mmio, a, (uint8_t *)&v, 4, false);
	return v;
}

static void mmio_wr32(struct rig *r, uint64_t a, uint32_t v)
{
	bus_dispatch(&r->mmio, a, (uint8_t *)&v, 4, true);
}

/* Linux's bochs_hw_setmode */
static void set_mode(struct rig *r, uint16_t w, uint16_t h, uint16_t bpp)
{
	dispi_wr(r, DISPI_ENABLE, 0);
	dispi_wr(r, DISPI_XRES, w);
	dispi_wr(r, DISPI_YRES, h);
	dispi_wr(r, DISPI_BPP, bpp);
	dispi_wr(r, DISPI_VIRT_WIDTH, w);
	dispi_wr(r, DISPI_VIRT_HEIGHT, h);
	dispi_wr(r, DISPI_X_OFFSET, 0);
	dispi_wr(r, DISPI_Y_OFFSET, 0);
	dispi_wr(r, DISPI_ENABLE, DISPI_ENABLED | DISPI_LFB_ENABLED);
}

static void test_pci_identity(void)
{
	struct rig r;

	rig_up(&r, false, VRAM);
	CHECK_EQ(pcicfg_read(&r.pio, r.slot, 0x00, 4), 0x11111234);
	CHECK_EQ(pcicfg_read(&r.pio, r.slot, 0x08, 4), 0x03800002); /* class, revision 2 */
	CHECK_EQ(pcicfg_read(&r.pio, r.slot, 0x10, 4) & 0xf, 0x8); /* MEM32, prefetchable */
	CHECK_EQ(pcicfg_read(&r.pio, r.slot, 0x18, 4) & 0xf, 0x0);
	CHECK_EQ(r.bar0 & (VRAM - 1), 0);
	/* sizing BAR0 and BAR2 as firmware does (decoding off) */
	pcicfg_write(&r.pio, r.slot, 0x04, 2, 0);
	pcicfg_write(&r.pio, r.slot, 0x10, 4, 0xffffffff);
	CHECK_EQ(pcicfg_read(&r.pio, r.slot, 0x10, 4), (uint32_t)~(VRAM - 1) | 0x8);
	pcicfg_write(&r.pio, r.slot, 0x18, 4, 0xffffffff);
	CHECK_EQ(pcicfg_read(&r.pio, r.slot, 0x18, 4), 0xfffff000u);
	rig_down(&r);
}

static void test_rom_bar(void)
{
	struct rig r;
	uint32_t a, v;

	rig_up(&r, false, VRAM);
	a = pcicfg_read(&r.pio, r.slot, PCI_ROM_ADDRESS, 4);
	CHECK(a != 0);
	CHECK_EQ(a & 1, 0); /* off until enabled */
	CHECK_EQ(a & 0xfff, 0);
	/* not decoded while its enable bit is off */
	CHECK(bus_dispatch(&r.mmio, a, (uint8_t *)&v, 4, false) == -ENOENT);
	/* sizing: 3000 bytes need a 4 KiB BAR */
	pcicfg_write(&r.pio, r.slot, PCI_ROM_ADDRESS, 4, 0xfffff800);
	CHECK_EQ(pcicfg_read(&r.pio, r.slot, PCI_ROM_ADDRESS, 4), 0xfffff000u);
	pcicfg_write(&r.pio, r.slot, PCI_ROM_ADDRESS, 4, 0xfd000001u);
	CHECK_EQ(pcicfg_read(&r.pio, r.slot, PCI_ROM_ADDRESS, 4), 0xfd000001u);
	CHECK_EQ(mmio_rd32(&r, 0xfd000000) , 0xcb06aa55u);
	v = 0;
	bus_dispatch(&r.mmio, 0xfd000000 + 2999, (uint8_t *)&v, 1, false);
	CHECK_EQ(v, 0x77);
	bus_dispatch(&r.mmio, 0xfd000000 + 3000, (uint8_t *)&v, 1, false);
	CHECK_EQ(v & 0xff, 0xff); /* past the image */
	mmio_wr32(&r, 0xfd000000, 0); /* read-only */
	CHECK_EQ(mmio_rd32(&r, 0xfd000000), 0xcb06aa55u);
	/* memory decoding off takes it away too */
	pcicfg_write(&r.pio, r.slot, 0x04, 2, 0);
	CHECK(bus_dispatch(&r.mmio, 0xfd000000, (uint8_t *)&v, 4, false) == -ENOENT);
	pcicfg_write(&r.pio, r.slot, 0x04, 2, PCI_CMD_MEM);
	CHECK_EQ(mmio_rd32(&r, 0xfd000000), 0xcb06aa55u);
	/* enable bit off again */
	pcicfg_write(&r.pio, r.slot, PCI_ROM_ADDRESS, 1, 0);
	CHECK(bus_dispatch(&r.mmio, 0xfd000000, (uint8_t *)&v, 4, false) == -ENOENT);
	rig_down(&r);
}

/* A device without a ROM keeps 0x30 read-only zero. */
static void test_rom_bar_absent(void)
{
	struct bus pio, mmio;
	struct pci_host *h;
	struct bochs_display *b;
	unsigned s;

	bus_init(&pio);
	bus_init(&mmio);
	CHECK_EQ(pci_host_create(&pio, &mmio, 0, BARS, 0xfe000000ULL, &h), 0);
	CHECK_EQ(bochs_display_create(VRAM, NULL, 0, NULL, &b), 0);
	CHECK_EQ(pci_host_add(h, bochs_display_pci(b)), 0);
	s = bochs_display_pci(b)->slot;
	pcicfg_write(&pio, s, PCI_ROM_ADDRESS, 4, 0xfffff801);
	CHECK_EQ(pcicfg_read(&pio, s, PCI_ROM_ADDRESS, 4), 0);
	pci_host_remove(h, bochs_display_pci(b));
	bochs_display_destroy(b);
	pci_host_destroy(h);
	bus_destroy(&pio);
	bus_destroy(&mmio);
}

static void test_driver_probe(void)
{
	struct rig r;
	uint8_t edid[128];
	uint8_t sum = 0;
	static const uint8_t hdr[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };

	rig_up(&r, false, VRAM);
	CHECK_EQ(dispi_rd(&r, DISPI_ID), DISPI_ID5);
	CHECK_EQ(dispi_rd(&r, DISPI_VIDEO_MEMORY_64K), VRAM >> 16);
	dispi_wr(&r, DISPI_ID, DISPI_ID0 + 2); /* read-only, as QEMU's: SeaBIOS wants ID5 */
	CHECK_EQ(dispi_rd(&r, DISPI_ID), DISPI_ID5);
	CHECK_EQ(mmio_rd32(&r, r.bar2 + BOCHS_QEXT_OFF), 8);
	CHECK_EQ(mmio_rd32(&r, r.bar2 + BOCHS_QEXT_OFF + 4), BOCHS_LE);
	mmio_wr32(&r, r.bar2 + BOCHS_QEXT_OFF + 4, BOCHS_LE);
	/* EDID byte by byte, as drm_do_get_edid's reader */
	for (unsigned i = 0; i < 128; i++) {
		bus_dispatch(&r.mmio, r.bar2 + i, &edid[i], 1, false);
		sum += edid[i];
	}
	CHECK(!memcmp(edid, hdr, 8));
	CHECK_EQ(sum, 0);
	CHECK_EQ(edid[18], 1);
	CHECK_EQ(edid[19], 4);
	/* the preferred mode: the first detailed timing */
	CHECK_EQ(edid[56] | (edid[58] & 0xf0) << 4, BOCHS_EDID_PREF_W);
	CHECK_EQ(edid[59] | (edid[61] & 0xf0) << 4, BOCHS_EDID_PREF_H);
	CHECK(edid[54] | edid[55]); /* a pixel clock: a timing, not a descriptor */
	CHECK(edid[35] & 0x20);     /* 640x480 established */
	CHECK(edid[36] & 0x08);     /* 1024x768 */
	/* GETCAPS reports the limits */
	dispi_wr(&r, DISPI_ENABLE, DISPI_GETCAPS);
	CHECK_EQ(dispi_rd(&r, DISPI_XRES), DISPI_MAX_XRES);
	CHECK_EQ(dispi_rd(&r, DISPI_BPP), 32);
	dispi_wr(&r, DISPI_ENABLE, 0);
	CHECK_EQ(dispi_rd(&r, DISPI_XRES), 0);
	rig_down(&r);
}

/* The EDID as read through BAR2, judged by edid-decode's conformity check (Debian's
 * edid-decode, mk/deps.sh test group): what Linux's drm_edid and OVMF parse. */
static void edid_conformance(void)
{
	static const char *tool = "/usr/bin/edid-decode";
	char path[64], cmd[160];
	uint8_t edid[128];
	struct rig r;
	FILE *f;

	if (access(tool, X_OK)) {
		printf("SKIP test_edid_conformance: %s is not installed (make test-deps)\n", tool);
		return;
	}
	check_case_name = "test_edid_conformance";
	check_case_failed = 0;
	rig_up(&r, false, VRAM);
	for (unsigned i = 0; i < 128; i++)
		bus_dispatch(&r.mmio, r.bar2 + i, &edid[i], 1, false);
	rig_down(&r);
	snprintf(path, sizeof(path), "/tmp/vsrv-edid.%d", getpid());
	f = fopen(path, "wb");
	CHECK(f && fwrite(edid, 1, 128, f) == 128);
	if (f)
		fclose(f);
	snprintf(cmd, sizeof(cmd), "%s -c %s 2>&1 | grep -q 'EDID conformity: PASS'", tool, path);
	CHECK_EQ(system(cmd), 0);
	unlink(path);
	if (check_case_failed)
		check_total_failed++;
	else
		printf("PASS test_edid_conformance\n");
}

static void test_mode_and_pixels(void)
{
	struct rig r;
	struct display_mode m;
	const uint8_t *px;
	size_t len, vlen;
	uint8_t *vram;
	uint64_t gen;

	rig_up(&r, false, VRAM);
	vram = bochs_display_vram(r.b, &vlen);
	CHECK_EQ(r.d->ops->get_mode(r.d->opaque, &m), -ENODATA); /* blank at first */
	CHECK(r.d->ops->get_pixels(r.d->opaque, &len) == NULL);
	set_mode(&r, 640, 480, 32);
	CHECK_EQ(r.d->ops->get_mode(r.d->opaque, &m), 0);
	CHECK_EQ(m.width, 640);
	CHECK_EQ(m.height, 480);
	CHECK_EQ(m.stride, 2560);
	CHECK_EQ(m.format, DISPLAY_XRGB8888);
	gen = m.generation;
	/* the guest writes pixel (10, 2) through BAR0 */
	mmio_wr32(&r, r.bar0 + 2 * 2560 + 10 * 4, 0x00ff8040);
	px = r.d->ops->get_pixels(r.d->opaque, &len);
	CHECK(px == vram);
	CHECK(len >= 2560u * 480);
	CHECK_EQ(px[2 * 2560 + 40], 0x40);
	CHECK_EQ(px[2 * 2560 + 42], 0xff);
	/* panning: the first visible pixel moves */
	dispi_wr(&r, DISPI_VIRT_HEIGHT, 960);
	dispi_wr(&r, DISPI_Y_OFFSET, 480);
	CHECK_EQ(r.d->ops->get_mode(r.d->opaque, &m), 0);
	CHECK(m.generation != gen);
	px = r.d->ops->get_pixels(r.d->opaque, &len);
	CHECK(px == vram + 480 * 2560);
	CHECK_EQ(len, VRAM - 480 * 2560);
	/* the other depths */
	set_mode(&r, 800, 600, 16);
	CHECK_EQ(r.d->ops->get_mode(r.d->opaque, &m), 0);
	CHECK_EQ(m.format, DISPLAY_RGB565);
	CHECK_EQ(m.stride, 1600);
	set_mode(&r, 800, 600, 15);
	CHECK_EQ(r.d->ops->get_mode(r.d->opaque, &m), 0);
	CHECK_EQ(m.format, DISPLAY_XRGB1555);
	set_mode(&r, 1024, 768, 24);
	CHECK_EQ(r.d->ops->get_mode(r.d->opaque, &m), 0);
	CHECK_EQ(m.format, DISPLAY_RGB888);
	CHECK_EQ(m.stride, 3072);
	/* big-endian framebuffer: not shown */
	mmio_wr32(&r, r.bar2 + BOCHS_QEXT_OFF + 4, BOCHS_BE);
	CHECK_EQ(mmio_rd32(&r, r.bar2 + BOCHS_QEXT_OFF + 4), BOCHS_BE);
	CHECK_EQ(r.d->ops->get_mode(r.d->opaque, &m), -ENODATA);
	mmio_wr32(&r, r.bar2 + BOCHS_QEXT_OFF + 4, BOCHS_LE);
	CHECK_EQ(r.d->ops->get_mode(r.d->opaque, &m), 0);
	rig_down(&r);
}

/* Every mode a hostile guest can program either fits VRAM or is blank. */
static void test_hostile_registers(void)
{
	struct rig r;
	struct display_mode m;
	size_t len;
	uint32_t v;
	static const uint16_t vals[] = { 0, 1, 7, 8, 15, 16, 24, 32, 33, 640, 4095, 4096,
					 16000, 16001, 0x7fff, 0x8000, 0xfffe, 0xffff };
	const unsigned n = sizeof(vals) / sizeof(vals[0]);
	unsigned seed = 1, shown = 0;

	rig_up(&r, false, 4u << 20);
	set_mode(&r, 0xffff, 0xffff, 32);
	CHECK_EQ(r.d->ops->get_mode(r.d->opaque, &m), -ENODATA);
	set_mode(&r, 1024, 768, 7);
	CHECK_EQ(r.d->ops->get_mode(r.d->opaque, &m), -ENODATA);
	set_mode(&r, 1024, 768, 8); /* no palette on a bochs-display */
	CHECK_EQ(r.d->ops->get_mode(r.d->opaque, &m), -ENODATA);
	set_mode(&r, 1024, 768, 32);      /* 3 MiB of 4 */
	CHECK_EQ(r.d->ops->get_mode(r.d->opaque, &m), 0);
	dispi_wr(&r, DISPI_VIRT_WIDTH, 0xffff); /* stride past VRAM */
	CHECK_EQ(r.d->ops->get_mode(r.d->opaque, &m), -ENODATA);
	dispi_wr(&r, DISPI_VIRT_WIDTH, 1024);
	dispi_wr(&r, DISPI_Y_OFFSET, 600);      /* visible part past the end */
	CHECK_EQ(r.d->ops->get_mode(r.d->opaque, &m), -ENODATA);
	dispi_wr(&r, DISPI_Y_OFFSET, 200);
	dispi_wr(&r, DISPI_X_OFFSET, 0xffff);   /* 200 lines and 256 KiB in: 32 KiB too far */
	CHECK_EQ(r.d->ops->get_mode(r.d->opaque, &m), -ENODATA);
	dispi_wr(&r, DISPI_Y_OFFSET, 0);        /* X_OFFSET alone still fits 4 MiB */
	CHECK_EQ(r.d->ops->get_mode(r.d->opaque, &m), 0);
	/* random sequences: whatever shows lies inside VRAM */
	for (int k = 0; k < 20000; k++) {
		unsigned i;

		seed = seed * 1103515245u + 12345u;
		i = (seed >> 16) % 12;
		seed = seed * 1103515245u + 12345u;
		dispi_wr(&r, i, vals[(seed >> 16) % n]);
		if (i == DISPI_ENABLE)
			dispi_wr(&r, i, DISPI_ENABLED);
		if (!r.d->ops->get_mode(r.d->opaque, &m)) {
			const uint8_t *p = r.d->ops->get_pixels(r.d->opaque, &len);

			shown++;
			CHECK(p != NULL);
			CHECK((uint64_t)m.stride * m.height <= len);
			CHECK(m.width && m.height);
		}
	}
	CHECK(shown > 0);
	/* BAR0 accesses at and past its end, BAR2 accesses of odd sizes */
	v = 0;
	CHECK_EQ(bus_dispatch(&r.mmio, r.bar0 + (4u << 20) - 2, (uint8_t *)&v, 4, false), 0);
	CHECK_EQ(v, 0xffffffffu);
	bus_dispatch(&r.mmio, r.bar0 + (4u << 20) - 2, (uint8_t *)&v, 4, true);
	bus_dispatch(&r.mmio, r.bar2 + 0xffe, (uint8_t *)&v, 4, true);
	bus_dispatch(&r.mmio, r.bar2 + 0x515, (uint8_t *)&v, 4, true);
	bus_dispatch(&r.mmio, r.bar2 + 0x3ff, (uint8_t *)&v, 4, false);
	CHECK_EQ(dispi_rd(&r, DISPI_VIDEO_MEMORY_64K), 64); /* read-only */
	dispi_wr(&r, DISPI_VIDEO_MEMORY_64K, 1);
	CHECK_EQ(dispi_rd(&r, DISPI_VIDEO_MEMORY_64K), 64);
	dispi_wr(&r, DISPI_BANK, 0xffff);
	CHECK(dispi_rd(&r, DISPI_BANK) < 64);
	rig_down(&r);
}

static void test_mapping_follows_bar(void)
{
	struct rig r;
	struct display_mode m;
	uint64_t bm[4];
	size_t vlen;
	uint8_t *vram;

	rig_up(&r, true, VRAM);
	vram = bochs_display_vram(r.b, &vlen);
	CHECK(bochs_display_mapped(r.b));
	CHECK_EQ(r.maps.gpa, r.bar0);
	CHECK_EQ(r.maps.size, VRAM);
	CHECK(r.maps.host == vram);
	/* the guest moves BAR0 (decoding off, new address, on) */
	pcicfg_write(&r.pio, r.slot, 0x04, 2, 0);
	CHECK(!bochs_display_mapped(r.b));
	CHECK_EQ(r.maps.size, 0);
	pcicfg_write(&r.pio, r.slot, 0x10, 4, 0xf0000000u);
	pcicfg_write(&r.pio, r.slot, 0x04, 2, PCI_CMD_MEM);
	CHECK(bochs_display_mapped(r.b));
	CHECK_EQ(r.maps.gpa, 0xf0000000u);
	CHECK_EQ(r.maps.size, VRAM);
	/* dirty pages: everything after a remap, then what the slot's log says */
	set_mode(&r, 640, 480, 32);
	CHECK_EQ(r.d->ops->get_mode(r.d->opaque, &m), 0);
	memset(bm, 0, sizeof(bm));
	CHECK_EQ(r.d->ops->get_dirty(r.d->opaque, bm, 150), 0);
	CHECK_EQ(bm[0], ~0ULL);
	CHECK_EQ(bm[2] & 0x3fffff, 0x3fffff); /* pages 128..149 */
	CHECK_EQ(bm[2] >> 22, 0);             /* nothing past npages */
	memset(bm, 0, sizeof(bm));
	r.maps.log[0] = 1ULL << 5;
	r.maps.log[1] = 1ULL << 3; /* page 67 */
	CHECK_EQ(r.d->ops->get_dirty(r.d->opaque, bm, 150), 0);
	CHECK_EQ(bm[0], 1ULL << 5);
	CHECK_EQ(bm[1], 1ULL << 3);
	/* panned: page 0 of the answer is the first visible pixel's */
	dispi_wr(&r, DISPI_VIRT_HEIGHT, 960);
	dispi_wr(&r, DISPI_Y_OFFSET, 480); /* 1,228,800 bytes: page 300 */
	memset(bm, 0, sizeof(bm));
	r.maps.log[300 / 64] = 1ULL << (300 % 64 + 1);
	CHECK_EQ(r.d->ops->get_dirty(r.d->opaque, bm, 150), 0);
	CHECK_EQ(bm[0], 2);
	rig_down(&r);
	CHECK_EQ(r.maps.size, 0); /* unmapped when it leaves the bus */
}

/* Without a mapping (no KVM), BAR0 writes are tracked by the device. */
static void test_dirty_through_bus(void)
{
	struct rig r;
	uint64_t bm[4];

	rig_up(&r, false, VRAM);
	set_mode(&r, 640, 480, 32);
	memset(bm, 0, sizeof(bm));
	r.d->ops->get_dirty(r.d->opaque, bm, 200); /* the first answer: everything */
	memset(bm, 0, sizeof(bm));
	CHECK_EQ(r.d->ops->get_dirty(r.d->opaque, bm, 200), 0);
	CHECK_EQ(bm[0] | bm[1] | bm[2] | bm[3], 0);
	mmio_wr32(&r, r.bar0 + 4096 * 70 + 8, 1);
	CHECK_EQ(r.d->ops->get_dirty(r.d->opaque, bm, 200), 0);
	CHECK_EQ(bm[1], 1ULL << 6);
	CHECK_EQ(bm[0] | bm[2] | bm[3], 0);
	rig_down(&r);
}

static void test_save_restore(void)
{
	struct rig a, b;
	struct bochs_display_state st, bad;
	struct display_mode m;

	rig_up(&a, false, VRAM);
	set_mode(&a, 1024, 768, 16);
	dispi_wr(&a, DISPI_BANK, 3);
	pcicfg_write(&a.pio, a.slot, 0x10, 4, 0xf1000000u);
	CHECK_EQ(bochs_display_save(a.b, &st), 0);
	rig_up(&b, false, VRAM);
	CHECK_EQ(b.d->ops->get_mode(b.d->opaque, &m), -ENODATA);
	bad = st;
	bad.magic ^= 1;
	CHECK_EQ(bochs_display_restore(b.b, &bad), -EINVAL);
	bad = st;
	bad.vram_size = 32u << 20;
	CHECK_EQ(bochs_display_restore(b.b, &bad), -EINVAL);
	bad = st;
	bad.dispi[DISPI_BANK] = 0xffff;
	CHECK_EQ(bochs_display_restore(b.b, &bad), -EINVAL);
	bad = st;
	bad.pci_cfg[0] ^= 1; /* vendor id */
	CHECK_EQ(bochs_display_restore(b.b, &bad), -EINVAL);
	bad = st;
	bad.pci_cfg[0x30] |= 0x10; /* a ROM address bit below its size */
	CHECK_EQ(bochs_display_restore(b.b, &bad), -EINVAL);
	CHECK_EQ(b.d->ops->get_mode(b.d->opaque, &m), -ENODATA); /* unchanged */
	CHECK_EQ(bochs_display_restore(b.b, &st), 0);
	CHECK_EQ(b.d->ops->get_mode(b.d->opaque, &m), 0);
	CHECK_EQ(m.width, 1024);
	CHECK_EQ(m.format, DISPLAY_RGB565);
	CHECK_EQ(dispi_rd(&b, DISPI_BANK), 3);
	CHECK_EQ(pcicfg_read(&b.pio, b.slot, 0x10, 4), 0xf1000008u);
	mmio_wr32(&b, 0xf1000000u, 0xabcd);
	{
		size_t l;

		CHECK_EQ(bochs_display_vram(b.b, &l)[0], 0xcd);
	}
	rig_down(&a);
	rig_down(&b);
}

static void test_create_args(void)
{
	struct bochs_display *b;

	CHECK_EQ(bochs_display_create(3u << 20, NULL, 0, NULL, &b), -EINVAL);
	CHECK_EQ(bochs_display_create(24u << 20, NULL, 0, NULL, &b), -EINVAL);
	CHECK_EQ(bochs_display_create(512u << 20, NULL, 0, NULL, &b), -EINVAL);
	CHECK_EQ(bochs_display_create(256u << 20, NULL, 0, NULL, &b), 0);
	bochs_display_destroy(b);
}

int main(void)
{
	RUN(test_pci_identity);
	RUN(test_rom_bar);
	RUN(test_rom_bar_absent);
	RUN(test_driver_probe);
	edid_conformance();
	RUN(test_mode_and_pixels);
	RUN(test_hostile_registers);
	RUN(test_mapping_follows_bar);
	RUN(test_dirty_through_bus);
	RUN(test_save_restore);
	RUN(test_create_args);
	return check_done();
}
