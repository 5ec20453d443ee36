/* Keyboard and pointer input from a console front-end (the VNC server, the control socket)
 * to the guest's input devices (PS/2 in the i8042, virtio-input keyboard and tablet).
 * Devices register a struct input_sink with the VM; the front-end calls the VM's router,
 * which sends keys to the first sink the guest is using (virtio-input once its driver is
 * ready, else PS/2) and absolute pointer events to a tablet when there is one (relative
 * events to the PS/2 mouse otherwise).
 *
 * Key codes are Linux input event codes (KEY_*, <linux/input-event-codes.h>): virtio-input
 * uses them as they are; PS/2 translates them to the scancode set the guest selected. The
 * VNC server turns RFB keysyms and QEMU extended key events (XT scancodes) into these.
 *
 * Threads: the callbacks are called from the control loop's thread; a sink takes its own
 * device lock. */
#ifndef VSRV_VMM_INPUT_H
#define VSRV_VMM_INPUT_H

#include <stdbool.h>
#include <stdint.h>

#define INPUT_ABS_MAX 0x7fff  /* absolute coordinates run 0..INPUT_ABS_MAX on both axes */

#define INPUT_BTN_LEFT   0x01
#define INPUT_BTN_MIDDLE 0x02
#define INPUT_BTN_RIGHT  0x04
#define INPUT_BTN_WHEEL_UP   0x08 /* RFB buttons 4 and 5: one wheel step per press */
#define INPUT_BTN_WHEEL_DOWN 0x10

struct input_sink_ops {
	/* Is the guest driving this device now (driver ready, scanning enabled)? */
	bool (*active)(void *opaque);
	/* A key went down or up. 0 or -errno (-ENOSPC: the device's queue is full). */
	int (*key)(void *opaque, uint16_t code, bool down);
	/* Absolute pointer position 0..INPUT_ABS_MAX and the buttons held (INPUT_BTN_*).
	 * NULL for devices without one. */
	int (*pointer_abs)(void *opaque, uint32_t x, uint32_t y, uint32_t buttons);
	/* Relative motion and the buttons held. NULL for devices without one. */
	int (*pointer_rel)(void *opaque, int32_t dx, int32_t dy, int32_t dwheel, uint32_t buttons);
};

struct input_sink {
	const struct input_sink_ops *ops;
	void *opaque; /* the device */
};

#endif
