/* libFuzzer target: a hostile guest programming the bochs-display (devices/bochs_display.c)
 * and the consumers reading its screen meanwhile (vmm/screenshot.c, the display callbacks).
 * The device has 4 MiB of VRAM, a small ROM, and sits on a PCI host bridge. The input is a
 * list of operations, each one byte (the low 3 bits) and its operands:
 *   0 DISPI write IDX(1) VAL(2)          1 BAR2 read OFF(2) LEN(1)
 *   2 BAR2 write OFF(2) LEN(1) DATA(8)   3 BAR0 access OFF(4) LEN(1) (bit 7 of LEN: write)
 *   4 config write OFF(1) LEN(1) VAL(4)  5 the screen: mode, every visible row touched,
 *                                          dirty pages NPAGES(2)
 *   6 restore from the input (struct bochs_display_state, its magic and size forced),
 *     then save                          7 a screenshot (PNG)
 * Seeds in fuzz/corpus/bochs_display (tests/t-display-fuzz.sh replays them). */
#include "devices/bochs_display.h"
#include "devices/pci.h"
#include "vmm/bus.h"
#include "vmm/display.h"
#include "vmm/screenshot.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t take(const uint8_t *data, size_t size, size_t *i, void *out, size_t n)
{
	size_t k = 0;

	memset(out, 0, n);
	for (; k < n && *i < size; k++, (*i)++)
		((uint8_t *)out)[k] = data[*i];
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t rom[5000] = { 0x55, 0xaa };
	static volatile uint8_t sink;
	struct bus pio, mmio;
	struct pci_host *h;
	struct bochs_display *b;
	const struct display *d;
	unsigned devfn;
	size_t i = 0;

	bus_init(&pio);
	bus_init(&mmio);
	if (pci_host_create(&pio, &mmio, 0, 0xe0000000ULL, 0xfe000000ULL, &h))
		abort();
	if (bochs_display_create(4u << 20, rom, sizeof(rom), NULL, &b))
		abort();
	if (pci_host_add(h, bochs_display_pci(b)))
		abort();
	devfn = pci_dev_devfn(bochs_display_pci(b));
	d = bochs_display_display(b);
	while (i < size) {
		uint8_t op = data[i++] & 7, buf[8], len;
		uint16_t off16, val;
		uint32_t off32, v32;

		switch (op) {
		case 0:
			take(data, size, &i, &len, 1);
			take(data, size, &i, &val, 2);
			bochs_display_mmio(b, BOCHS_DISPI_OFF + 2u * (len % 16), (uint8_t *)&val, 2,
					   true);
			break;
		case 1:
			take(data, size, &i, &off16, 2);
			take(data, size, &i, &len, 1);
			len = (uint8_t)(1 + len % 8);
			bochs_display_mmio(b, off16 % 0x1100, buf, len, false);
			break;
		case 2:
			take(data, size, &i, &off16, 2);
			take(data, size, &i, &len, 1);
			take(data, size, &i, buf, 8);
			len = (uint8_t)(1 + len % 8);
			bochs_display_mmio(b, off16 % 0x1100, buf, len, true);
			break;
		case 3:
			take(data, size, &i, &off32, 4);
			take(data, size, &i, &len, 1);
			bochs_display_fb_io(b, off32 % (5u << 20), buf, 1u + (len & 7), len & 0x80);
			break;
		case 4:
			take(data, size, &i, &len, 1);
			take(data, size, &i, &v32, 4);
			off16 = len;
			len = (uint8_t)(1u << (data[i - 1] % 3));
			pci_cfg_access(h, devfn, off16 & ~(len - 1u), (uint8_t *)&v32, len, true);
			break;
		case 5: {
			struct display_mode m;
			size_t avail = 0;
			const uint8_t *px;
			uint64_t bm[1024 / 64];

			take(data, size, &i, &off16, 2);
			if (!d->ops->get_mode(d->opaque, &m) &&
			    (px = d->ops->get_pixels(d->opaque, &avail)) != NULL) {
				if ((uint64_t)m.stride * m.height > avail)
					abort(); /* the contract display.h promises */
				for (uint32_t y = 0; y < m.height; y++)
					sink ^= px[(size_t)y * m.stride] ^
						px[(size_t)y * m.stride + m.stride - 1];
			}
			memset(bm, 0, sizeof(bm));
			d->ops->get_dirty(d->opaque, bm, off16 % 1024);
			break;
		}
		case 6: {
			struct bochs_display_state st;

			take(data, size, &i, &st, sizeof(st));
			st.magic = BOCHS_STATE_MAGIC;
			st.vram_size = 4u << 20;
			bochs_display_restore(b, &st);
			bochs_display_save(b, &st);
			break;
		}
		case 7: {
			void *png = NULL;
			size_t plen;
			uint32_t w, hh;
			char err[128];

			if (!screenshot_png(d, &png, &plen, &w, &hh, err, sizeof(err)))
				sink ^= ((uint8_t *)png)[plen - 1];
			free(png);
			break;
		}
		}
	}
	pci_host_remove(h, bochs_display_pci(b));
	bochs_display_destroy(b);
	pci_host_destroy(h);
	bus_destroy(&pio);
	bus_destroy(&mmio);
	return 0;
}
