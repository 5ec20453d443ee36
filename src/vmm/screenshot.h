/* A screenshot of the VM's display (vmm/display.h) as a PNG (8-bit RGB, through libspng),
 * whatever the display's pixel format: what the control socket's `screenshot` command
 * answers. */
#ifndef VSRV_VMM_SCREENSHOT_H
#define VSRV_VMM_SCREENSHOT_H

#include <stddef.h>
#include <stdint.h>

struct display;

/* Encode what d shows now. 0 with *png (malloc'd, the caller frees it), *len and the
 * picture's size; or -errno with a one-line reason in err: -ENODEV (no display), -ENODATA
 * (the display is blank: the guest has set no mode, or one the device cannot show),
 * -ENOMEM, -EIO (the encoder failed). The framebuffer may change while it is read (a torn
 * picture, never a read outside it). Any thread. */
int screenshot_png(const struct display *d, void **png, size_t *len, uint32_t *width,
		   uint32_t *height, char *err, size_t errlen);

/* One row of width pixels in format f (enum display_format) at src, as 8-bit R, G, B
 * into dst (3 * width bytes); palette for DISPLAY_PAL8 (NULL: grey levels). For tests and
 * other consumers (the VNC server may use it). */
void screenshot_row_rgb8(int f, const uint8_t *src, uint32_t width, const uint32_t *palette,
			 uint8_t *dst);

#endif
