/* Screenshots (vmm/screenshot.c) of a real bochs-display: a mode is programmed through the
 * DISPI registers, a known pattern written into VRAM in that mode's pixel format, the PNG
 * taken and decoded again with libspng, and every pixel compared with the colour the
 * pattern means. Also: a blank display and no display give clear errors; the 8-bit
 * palette format (no bochs-display mode has it) through a display of the test's own. */
#include "check.h"

#include "devices/bochs_display.h"
#include "vmm/display.h"
#include "vmm/screenshot.h"

#include <errno.h>
#include <spng.h>
#include <stdlib.h>
#include <string.h>

/* the pattern's colour at (x, y), 8 bits per channel */
static void color(uint32_t x, uint32_t y, uint8_t c[3])
{
	c[0] = (uint8_t)(x * 3 + y);
	c[1] = (uint8_t)(y * 5);
	c[2] = (uint8_t)((x ^ y) * 7);
}

static uint8_t q5(uint8_t v) { return (uint8_t)((v >> 3) << 3 | (v >> 3) >> 2); }
static uint8_t q6(uint8_t v) { return (uint8_t)((v >> 2) << 2 | (v >> 2) >> 4); }

/* Write the pattern in format bpp at stride into fb; expected colours into want (RGB8). */
static void draw(uint8_t *fb, uint32_t w, uint32_t h, uint32_t stride, unsigned bpp,
		 uint8_t *want)
{
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			uint8_t c[3], *p, *e = want + 3 * ((size_t)y * w + x);
			uint16_t v;

			color(x, y, c);
			switch (bpp) {
			case 32:
				p = fb + (size_t)y * stride + 4 * x;
				p[0] = c[2]; p[1] = c[1]; p[2] = c[0]; p[3] = 0xa5; /* X ignored */
				e[0] = c[0]; e[1] = c[1]; e[2] = c[2];
				break;
			case 24:
				p = fb + (size_t)y * stride + 3 * x;
				p[0] = c[2]; p[1] = c[1]; p[2] = c[0];
				e[0] = c[0]; e[1] = c[1]; e[2] = c[2];
				break;
			case 16:
				p = fb + (size_t)y * stride + 2 * x;
				v = (uint16_t)((c[0] >> 3) << 11 | (c[1] >> 2) << 5 | c[2] >> 3);
				p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
				e[0] = q5(c[0]); e[1] = q6(c[1]); e[2] = q5(c[2]);
				break;
			case 15:
				p = fb + (size_t)y * stride + 2 * x;
				v = (uint16_t)(0x8000 | (c[0] >> 3) << 10 | (c[1] >> 3) << 5 | c[2] >> 3);
				p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
				e[0] = q5(c[0]); e[1] = q5(c[1]); e[2] = q5(c[2]);
				break;
			}
		}
}

/* Decode png into RGB8; 0 and *w, *h, *rgb (malloc'd). */
static int decode(const void *png, size_t len, uint32_t *w, uint32_t *h, uint8_t **rgb)
{
	spng_ctx *ctx = spng_ctx_new(0);
	struct spng_ihdr ihdr;
	size_t out;
	int ret = -1;

	*rgb = NULL;
	if (!ctx)
		return -1;
	if (spng_set_png_buffer(ctx, png, len) || spng_get_ihdr(ctx, &ihdr) ||
	    ihdr.bit_depth != 8 || ihdr.color_type != SPNG_COLOR_TYPE_TRUECOLOR ||
	    spng_decoded_image_size(ctx, SPNG_FMT_RGB8, &out))
		goto out;
	*rgb = malloc(out);
	if (!*rgb || spng_decode_image(ctx, *rgb, out, SPNG_FMT_RGB8, 0))
		goto out;
	*w = ihdr.width;
	*h = ihdr.height;
	ret = 0;
out:
	spng_ctx_free(ctx);
	return ret;
}

static void dispi(struct bochs_display *b, unsigned i, uint16_t v)
{
	bochs_display_mmio(b, BOCHS_DISPI_OFF + 2 * i, (uint8_t *)&v, 2, true);
}

static void one_format(uint16_t w, uint16_t h, uint16_t bpp, uint16_t virt_w, uint16_t yoff)
{
	struct bochs_display *b;
	const struct display *d;
	uint8_t *vram, *want, *got = NULL;
	size_t vlen, len;
	void *png = NULL;
	uint32_t pw = 0, ph = 0, dw = 0, dh = 0, stride = virt_w * ((bpp + 7) / 8);
	char err[160];

	CHECK_EQ(bochs_display_create(16u << 20, NULL, 0, NULL, &b), 0);
	d = bochs_display_display(b);
	vram = bochs_display_vram(b, &vlen);
	memset(vram, 0x5a, vlen); /* around the visible part: must not show */
	dispi(b, DISPI_XRES, w);
	dispi(b, DISPI_YRES, h);
	dispi(b, DISPI_BPP, bpp);
	dispi(b, DISPI_VIRT_WIDTH, virt_w);
	dispi(b, DISPI_Y_OFFSET, yoff);
	dispi(b, DISPI_ENABLE, DISPI_ENABLED | DISPI_LFB_ENABLED);
	want = malloc((size_t)w * h * 3);
	draw(vram + (size_t)yoff * stride, w, h, stride, bpp, want);
	CHECK_EQ(screenshot_png(d, &png, &len, &pw, &ph, err, sizeof(err)), 0);
	CHECK_EQ(pw, w);
	CHECK_EQ(ph, h);
	CHECK(png && len > 8);
	if (png) {
		CHECK(!memcmp(png, "\x89PNG\r\n\x1a\n", 8));
		CHECK_EQ(decode(png, len, &dw, &dh, &got), 0);
		CHECK_EQ(dw, w);
		CHECK_EQ(dh, h);
		if (got && dw == w && dh == h) {
			size_t bad = 0;

			for (size_t i = 0; i < (size_t)w * h * 3; i++)
				bad += got[i] != want[i];
			CHECK_EQ(bad, 0);
		}
	}
	free(got);
	free(png);
	free(want);
	bochs_display_destroy(b);
}

static void test_xrgb8888(void) { one_format(640, 480, 32, 640, 0); }
static void test_rgb888(void) { one_format(320, 200, 24, 336, 3); }
static void test_rgb565(void) { one_format(800, 600, 16, 800, 600); }
static void test_xrgb1555(void) { one_format(123, 77, 15, 130, 1); }

static void test_blank_and_none(void)
{
	struct bochs_display *b;
	void *png = (void *)1;
	size_t len;
	uint32_t w, h;
	char err[160] = "";

	CHECK_EQ(screenshot_png(NULL, &png, &len, &w, &h, err, sizeof(err)), -ENODEV);
	CHECK(png == NULL);
	CHECK(strstr(err, "no display") != NULL);
	CHECK_EQ(bochs_display_create(4u << 20, NULL, 0, NULL, &b), 0);
	CHECK_EQ(screenshot_png(bochs_display_display(b), &png, &len, &w, &h, err, sizeof(err)),
		 -ENODATA);
	CHECK(strstr(err, "blank") != NULL);
	/* a mode past VRAM is blank too */
	dispi(b, DISPI_XRES, 4000);
	dispi(b, DISPI_YRES, 4000);
	dispi(b, DISPI_BPP, 32);
	dispi(b, DISPI_ENABLE, DISPI_ENABLED);
	CHECK_EQ(screenshot_png(bochs_display_display(b), &png, &len, &w, &h, err, sizeof(err)),
		 -ENODATA);
	bochs_display_destroy(b);
}

/* DISPLAY_PAL8, which only a VGA will have: a display of the test's own. */
static uint8_t pal_fb[16 * 4];
static uint32_t pal[256];

static int pal_mode(void *o, struct display_mode *m)
{
	(void)o;
	*m = (struct display_mode){ 16, 4, 16, DISPLAY_PAL8, 1 };
	return 0;
}

static const uint8_t *pal_pixels(void *o, size_t *len)
{
	(void)o;
	*len = sizeof(pal_fb);
	return pal_fb;
}

static const uint32_t *pal_palette(void *o)
{
	(void)o;
	return pal;
}

static void test_pal8(void)
{
	static const struct display_ops ops = { pal_mode, pal_pixels, pal_palette, NULL };
	const struct display d = { &ops, NULL };
	void *png;
	size_t len;
	uint32_t w, h, dw, dh;
	uint8_t *got = NULL;
	char err[160];

	for (int i = 0; i < 256; i++)
		pal[i] = (uint32_t)(i * 0x010203u) & 0xffffff;
	for (int i = 0; i < 64; i++)
		pal_fb[i] = (uint8_t)(i * 4 + 1);
	CHECK_EQ(screenshot_png(&d, &png, &len, &w, &h, err, sizeof(err)), 0);
	CHECK_EQ(decode(png, len, &dw, &dh, &got), 0);
	CHECK_EQ(dw, 16);
	for (int i = 0; got && i < 64; i++) {
		uint32_t c = pal[pal_fb[i]];

		CHECK_EQ(got[3 * i], (c >> 16) & 0xff);
		CHECK_EQ(got[3 * i + 1], (c >> 8) & 0xff);
		CHECK_EQ(got[3 * i + 2], c & 0xff);
	}
	free(got);
	free(png);
}

int main(void)
{
	RUN(test_xrgb8888);
	RUN(test_rgb888);
	RUN(test_rgb565);
	RUN(test_xrgb1555);
	RUN(test_blank_and_none);
	RUN(test_pal8);
	return check_done();
}
