/* display: finds the bochs-display on PCI bus 0 (1234:1111, class 0x0380) through
 * 0xcf8/0xcfc, checks its DISPI id and EDID, programs 640x480x32 through the DISPI
 * registers in BAR2 (as Linux's bochs driver does), draws the known pattern into the
 * framebuffer (BAR0) and reads it back, then passes. With `hold` it stays up so that the
 * host takes a screenshot (tests/t-display.sh: QEMU's screendump, vsrv's control socket)
 * and compares it with the same pattern:
 *   pixel (x, y) = R x & 0xff, G y & 0xff, B 0xc0 when (x / 32 + y / 32) is odd, else 0x30.
 * Prints `display: 640x480x32 drawn at BAR0 0x...` before the result. */
#include "rt/rt.h"

#define W 640
#define H 480

static uint32_t cfg(unsigned slot, unsigned off)
{
	rt_outl(0xcf8, 0x80000000u | slot << 11 | (off & 0xfc));
	return rt_inl(0xcfc);
}

static void cfg_w(unsigned slot, unsigned off, uint32_t v)
{
	rt_outl(0xcf8, 0x80000000u | slot << 11 | (off & 0xfc));
	rt_outl(0xcfc, v);
}

static uint64_t mmio;

static uint16_t dispi_r(unsigned i)
{
	return *(volatile uint16_t *)(mmio + 0x500 + 2 * i);
}

static void dispi_w(unsigned i, uint16_t v)
{
	*(volatile uint16_t *)(mmio + 0x500 + 2 * i) = v;
}

static inline uint32_t pattern(uint32_t x, uint32_t y)
{
	uint32_t b = ((x / 32 + y / 32) & 1) ? 0xc0 : 0x30;

	return (x & 0xff) << 16 | (y & 0xff) << 8 | b;
}

/* Ring 3 (the emulator runs ring 0 slowly on some hosts): draw, then count mismatches. */
static long draw(long fb)
{
	volatile uint32_t *p = (volatile uint32_t *)fb;

	for (uint32_t y = 0; y < H; y++)
		for (uint32_t x = 0; x < W; x++)
			p[y * W + x] = pattern(x, y);
	return 0;
}

static long verify(long fb)
{
	volatile uint32_t *p = (volatile uint32_t *)fb;
	long bad = 0;

	for (uint32_t y = 0; y < H; y++)
		for (uint32_t x = 0; x < W; x++)
			bad += p[y * W + x] != pattern(x, y);
	return bad;
}

int main(void)
{
	unsigned slot;
	uint64_t fb;
	uint32_t cmd, vram;
	long bad = -1;
	uint8_t sum = 0;
	static const uint8_t hdr[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };

	for (slot = 0; slot < 32; slot++)
		if (cfg(slot, 0) == 0x11111234u && (cfg(slot, 8) >> 8) == 0x038000)
			break;
	if (slot == 32)
		rt_fail("no bochs-display (1234:1111, class 0380) on PCI bus 0");
	fb = cfg(slot, 0x10) & ~0xfull;
	mmio = cfg(slot, 0x18) & ~0xfull;
	RT_CHECK((cfg(slot, 0x10) & 0x9) == 0x8); /* prefetchable memory */
	if (!fb || !mmio)
		rt_fail("BARs not assigned (BAR0 %#llx BAR2 %#llx)", (unsigned long long)fb,
			(unsigned long long)mmio);
	cmd = cfg(slot, 4) & 0xffff;
	cfg_w(slot, 4, cmd | 0x2); /* memory decoding (firmware may have done it) */

	RT_CHECK((dispi_r(0) & 0xfff0) == 0xb0c0);
	vram = (uint32_t)dispi_r(10) << 16;
	RT_CHECK(vram >= W * H * 4);
	for (int i = 0; i < 8; i++)
		RT_CHECK(*(volatile uint8_t *)(mmio + i) == hdr[i]);
	for (int i = 0; i < 128; i++)
		sum += *(volatile uint8_t *)(mmio + i);
	RT_CHECK(sum == 0);
	if (*(volatile uint32_t *)(mmio + 0x600) >= 8)
		*(volatile uint32_t *)(mmio + 0x604) = 0x1e1e1e1e; /* little-endian */

	dispi_w(4, 0);           /* ENABLE off */
	dispi_w(1, W);
	dispi_w(2, H);
	dispi_w(3, 32);
	dispi_w(6, W);           /* VIRT_WIDTH */
	dispi_w(7, H);
	dispi_w(8, 0);
	dispi_w(9, 0);
	dispi_w(4, 0x41);        /* ENABLED | LFB_ENABLED */
	RT_CHECK(dispi_r(1) == W && dispi_r(2) == H && dispi_r(3) == 32);

	if (rt_user_call(draw, (long)fb, NULL) || rt_user_call(verify, (long)fb, &bad))
		rt_fail("ring 3 call failed");
	if (bad)
		rt_fail("%ld pixels read back wrong", bad);
	rt_printf("display: %dx%dx32 drawn at BAR0 %#llx (VRAM %u MiB)\n", W, H,
		  (unsigned long long)fb, vram >> 20);
	return 0;
}
