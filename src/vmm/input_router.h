/* The VM's input router: console front-ends (the VNC server, the control socket) send keys
 * and pointer events here, and the router hands each to the guest's input device that should
 * get it (vmm/input.h): keys to the first active sink with a key callback, in priority order
 * (virtio-input before PS/2); absolute pointer positions to the first active sink with
 * pointer_abs (a tablet), otherwise turned into relative motion for the first active sink
 * with pointer_rel (the PS/2 mouse), from the last position seen and the screen size.
 *
 * Threads: sinks are added and removed while the VM is built or torn down (main thread);
 * events arrive on the control loop's thread. The router takes no lock of its own. */
#ifndef VSRV_VMM_INPUT_ROUTER_H
#define VSRV_VMM_INPUT_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/input.h"

#define INPUT_ROUTER_MAX_SINKS 8

/* Priorities for input_router_add_sink: higher first. */
#define INPUT_PRIO_VIRTIO 20  /* virtio-input keyboard and tablet, once the driver is ready */
#define INPUT_PRIO_PS2    10  /* the i8042's keyboard and mouse */

struct input_router;

/* A router without sinks. 0 and *out (free with input_router_destroy), or -ENOMEM. */
int input_router_create(struct input_router **out);
/* NULL is allowed. The sinks' devices are not touched. */
void input_router_destroy(struct input_router *r);

/* Add a sink (the struct is copied; ops and opaque must outlive the router or be removed
 * first). Among sinks of equal priority the first added wins. 0, -EINVAL (no ops) or
 * -ENOSPC (INPUT_ROUTER_MAX_SINKS). */
int input_router_add_sink(struct input_router *r, const struct input_sink *sink, int priority);
/* Remove every sink with this opaque (a device going away). 0 or -ENOENT. */
int input_router_remove_sink(struct input_router *r, void *opaque);

/* The screen's size in pixels, for turning absolute positions into relative motion (one
 * pixel of the screen is one unit of motion). 0 x 0 (the default): 1024 x 768. */
void input_router_set_screen(struct input_router *r, uint32_t width, uint32_t height);

/* A key (Linux KEY_* code) went down or up. A release goes to the sink that got the press,
 * even if another became active since. 0, -ENODEV (no active sink takes keys), -EINVAL
 * (code out of range) or the sink's -errno. */
int input_router_key(struct input_router *r, uint16_t code, bool down);
/* Release every key still held (a console client went away). */
void input_router_release_keys(struct input_router *r);

/* The pointer is at x, y (0..INPUT_ABS_MAX, clamped) with buttons (INPUT_BTN_*) held. 0,
 * -ENODEV (no active pointer sink) or the sink's -errno. */
int input_router_pointer_abs(struct input_router *r, uint32_t x, uint32_t y, uint32_t buttons);
/* Relative motion, wheel steps (positive: up) and buttons held, for the first active sink
 * with pointer_rel. 0, -ENODEV or the sink's -errno. */
int input_router_pointer_rel(struct input_router *r, int32_t dx, int32_t dy, int32_t dwheel,
			     uint32_t buttons);

#endif
