/* Screenshots (screenshot.h): the display's rows converted to 8-bit RGB and encoded row by
 * row by libspng into a buffer, so a large mode costs one row of conversion memory. */
#include "vmm/screenshot.h"

#include "vmm/display.h"

#include <errno.h>
#include <spng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline uint8_t x5(unsigned v) { return (uint8_t)(v << 3 | v >> 2); }
static inline uint8_t x6(unsigned v) { return (uint8_t)(v << 2 | v >> 4); }

void screenshot_row_rgb8(int f, const uint8_t *s, uint32_t w, const uint32_t *pal, uint8_t *d)
{
	for (uint32_t x = 0; x < w; x++, d += 3) {
		unsigned v;

		switch (f) {
		case DISPLAY_XRGB8888:
			d[0] = s[4 * x + 2]; d[1] = s[4 * x + 1]; d[2] = s[4 * x];
			break;
		case DISPLAY_RGB888:
			d[0] = s[3 * x + 2]; d[1] = s[3 * x + 1]; d[2] = s[3 * x];
			break;
		case DISPLAY_RGB565:
			v = s[2 * x] | s[2 * x + 1] << 8;
			d[0] = x5(v >> 11); d[1] = x6((v >> 5) & 63); d[2] = x5(v & 31);
			break;
		case DISPLAY_XRGB1555:
			v = s[2 * x] | s[2 * x + 1] << 8;
			d[0] = x5((v >> 10) & 31); d[1] = x5((v >> 5) & 31); d[2] = x5(v & 31);
			break;
		case DISPLAY_PAL8:
			v = pal ? pal[s[x]] : s[x] * 0x010101u;
			d[0] = (uint8_t)(v >> 16); d[1] = (uint8_t)(v >> 8); d[2] = (uint8_t)v;
			break;
		default:
			d[0] = d[1] = d[2] = 0;
		}
	}
}

static unsigned bytes_pp(enum display_format f)
{
	switch (f) {
	case DISPLAY_XRGB8888: return 4;
	case DISPLAY_RGB888: return 3;
	case DISPLAY_RGB565: case DISPLAY_XRGB1555: return 2;
	case DISPLAY_PAL8: return 1;
	}
	return 0;
}

int screenshot_png(const struct display *d, void **png, size_t *len, uint32_t *width,
		   uint32_t *height, char *err, size_t errlen)
{
	struct display_mode m;
	const uint8_t *px;
	const uint32_t *pal = NULL;
	size_t avail = 0;
	uint8_t *row = NULL;
	spng_ctx *ctx = NULL;
	unsigned bpp;
	int ret, e;

	*png = NULL;
	if (!d) {
		snprintf(err, errlen, "the VM has no display (start it with --display bochs)");
		return -ENODEV;
	}
	if (d->ops->get_mode(d->opaque, &m) || !m.width || !m.height ||
	    !(px = d->ops->get_pixels(d->opaque, &avail))) {
		snprintf(err, errlen, "the display is blank (the guest has set no mode)");
		return -ENODATA;
	}
	bpp = bytes_pp(m.format);
	/* what the rows span must lie inside what the device says is readable */
	if (!bpp || (uint64_t)m.width * bpp > m.stride ||
	    (uint64_t)m.stride * (m.height - 1) + (uint64_t)m.width * bpp > avail) {
		snprintf(err, errlen, "the display is blank (its mode changed while it was read)");
		return -ENODATA;
	}
	if (m.format == DISPLAY_PAL8 && d->ops->get_palette)
		pal = d->ops->get_palette(d->opaque);
	row = malloc((size_t)m.width * 3);
	ctx = spng_ctx_new(SPNG_CTX_ENCODER);
	ret = -ENOMEM;
	if (!row || !ctx)
		goto err;
	{
		struct spng_ihdr ihdr = { .width = m.width, .height = m.height, .bit_depth = 8,
					  .color_type = SPNG_COLOR_TYPE_TRUECOLOR };

		ret = -EIO;
		if ((e = spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1)) ||
		    (e = spng_set_option(ctx, SPNG_IMG_COMPRESSION_LEVEL, 6)) ||
		    (e = spng_set_ihdr(ctx, &ihdr)) ||
		    (e = spng_encode_image(ctx, NULL, 0, SPNG_FMT_PNG,
					   SPNG_ENCODE_PROGRESSIVE | SPNG_ENCODE_FINALIZE)))
			goto err_spng;
	}
	for (uint32_t y = 0; y < m.height; y++) {
		screenshot_row_rgb8(m.format, px + (size_t)m.stride * y, m.width, pal, row);
		e = spng_encode_row(ctx, row, (size_t)m.width * 3);
		if (e && !(e == SPNG_EOI && y == m.height - 1))
			goto err_spng;
	}
	*png = spng_get_png_buffer(ctx, len, &e);
	if (!*png)
		goto err_spng;
	*width = m.width;
	*height = m.height;
	spng_ctx_free(ctx);
	free(row);
	return 0;
err_spng:
	snprintf(err, errlen, "PNG encoder: %s", spng_strerror(e));
	ret = -EIO;
err:
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory for a %ux%u screenshot", m.width, m.height);
	spng_ctx_free(ctx);
	free(row);
	return ret;
}
