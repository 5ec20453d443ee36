/* The screen a display device shows, as the VNC server and screenshots read it. A display
 * device (bochs-display, later VGA) fills a struct display and registers it with the VM
 * (vm_display_set); consumers (src/vmm/vnc.c, the control socket's screenshot) only read
 * through these callbacks and never look into the device.
 *
 * Threads: the device's registers change on vCPU threads under the device's own lock; the
 * callbacks take that lock, so they may be called from the control loop's thread. The
 * framebuffer bytes are guest memory: the guest may change them while a consumer reads them
 * (a torn frame is fine, the next update repairs it). */
#ifndef VSRV_VMM_DISPLAY_H
#define VSRV_VMM_DISPLAY_H

#include <stddef.h>
#include <stdint.h>

/* Pixel formats a display reports. All little-endian in memory. */
enum display_format {
	DISPLAY_XRGB8888 = 1, /* 32 bpp: B, G, R, X bytes */
	DISPLAY_RGB888,       /* 24 bpp: B, G, R */
	DISPLAY_RGB565,       /* 16 bpp */
	DISPLAY_XRGB1555,     /* 15 bpp in 16 */
	DISPLAY_PAL8,         /* 8 bpp through a 256-entry palette */
};

struct display_mode {
	uint32_t width, height; /* pixels; 0 x 0 = no mode set (display blank) */
	uint32_t stride;        /* bytes per line */
	enum display_format format;
	uint64_t generation;    /* changes whenever the mode (or palette) changes */
};

struct display_ops {
	/* The current mode. 0, or -ENODATA when the guest has set none (blank screen). */
	int (*get_mode)(void *opaque, struct display_mode *mode);
	/* Host address of the first visible pixel, valid until the next mode change, and the
	 * bytes readable from there (at least stride * height when a mode is set). NULL when
	 * blank. */
	const uint8_t *(*get_pixels)(void *opaque, size_t *len);
	/* For DISPLAY_PAL8: 256 entries 0x00RRGGBB. NULL for other formats. */
	const uint32_t *(*get_palette)(void *opaque);
	/* Which 4 KiB pages of the visible framebuffer (page 0 = the first visible pixel's
	 * page) changed since the previous call: sets bits in bitmap (npages bits, zeroed by the
	 * caller). Uses KVM's dirty log where the device has one. 0, or -ENOTSUP when the
	 * device cannot tell (the caller then compares or treats all as dirty). */
	int (*get_dirty)(void *opaque, uint64_t *bitmap, size_t npages);
};

struct display {
	const struct display_ops *ops;
	void *opaque; /* the device */
};

#endif
