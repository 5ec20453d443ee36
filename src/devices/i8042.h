/* i8042 keyboard controller with a PS/2 keyboard and mouse (devices/ps2.h): the data and
 * status/command ports (0x60/0x64), the command byte (interrupts IRQ 1 and IRQ 12, the
 * interfaces' disable bits, translation of set 2 to set 1), the controller commands that
 * firmware and Linux's i8042 driver use (self-tests, 0xD1..0xD4: output port, loop back
 * as keyboard or mouse data, write to the mouse), and the reset line (command 0xFE, or
 * bit 0 of the output port cleared through command 0xD1), which ends or restarts the VM
 * (DEVICE_STOP_RESET). The keyboard and the mouse are the VM's PS/2 input sinks
 * (vmm/input.h: i8042_input_sinks). */
#ifndef VSRV_DEVICES_I8042_H
#define VSRV_DEVICES_I8042_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/ps2.h"

struct device_host;
struct i8042;
struct input_sink;

#define I8042_GSI_KBD   1
#define I8042_GSI_MOUSE 12

/* The saved state, in two parts: the controller's as the first save-file format had it
 * (struct i8042_state, unchanged), and what came with the PS/2 keyboard and mouse (struct
 * i8042_ps2_state, appended to the save file's legacy section: a file from before it has
 * none, and restores the devices at their power-on state). */
struct i8042_state {
	uint8_t cmd_byte;   /* controller configuration byte */
	uint8_t pending;    /* command waiting for its data byte (0: none) */
	uint8_t out;        /* output buffer */
	bool out_full;
	uint8_t outport;
};

#define I8042_PS2_VERSION 1 /* i8042_ps2_state.version; 0: no PS/2 state (an older file) */

struct i8042_ps2_state {
	uint32_t version;   /* I8042_PS2_VERSION */
	uint32_t size;      /* sizeof(struct i8042_ps2_state) */
	uint8_t out_aux;    /* 1: the output buffer holds mouse data (status bit 5) */
	uint8_t xlat_break; /* translating: a 0xF0 came, the next byte is a break code */
	uint8_t last_cmd;   /* 1: the last write was to the command port (status bit 3) */
	/* the controller's own replies, which wait for the output buffer (bit i of ctl_aux:
	 * byte i is mouse data, for 0xD3) */
	uint8_t ctl_count;
	uint8_t ctl[4];
	uint8_t ctl_aux;
	uint8_t pad[3];
	struct ps2_kbd_state kbd;
	struct ps2_mouse_state mouse;
};

/* Register ports 0x60 and 0x64 on h->pio (h: the VM's, kept until destroy); interrupts on
 * GSIs 1 and 12 through h->irq_line. 0 and *out, or -errno. */
int i8042_create(const struct device_host *h, struct i8042 **out);
void i8042_destroy(struct i8042 *k);
void i8042_save(struct i8042 *k, struct i8042_state *st, struct i8042_ps2_state *ps2);
/* Load st and ps2 (0), or -EINVAL when they are out of range (i8042_state_check; k
 * unchanged). ps2 NULL (a file from before the PS/2 devices): the keyboard and the mouse
 * at their power-on state, nothing in flight from them. The interrupt lines are set from
 * the loaded state. */
int i8042_restore(struct i8042 *k, const struct i8042_state *st,
		  const struct i8042_ps2_state *ps2);
/* Whether st and ps2 (may be NULL) are a state the device can run from (queue indices,
 * modes, the PS/2 part's version and size). 0 or -EINVAL. */
int i8042_state_check(const struct i8042_state *st, const struct i8042_ps2_state *ps2);

/* The keyboard's sink (key: scancodes in the set the guest chose; active while it scans
 * and the controller's keyboard interface is enabled) and the mouse's (pointer_rel; active
 * while reporting is enabled and the controller's mouse interface too). opaque is k;
 * valid until i8042_destroy. Callbacks from any thread (they take the device's lock).
 * key: 0, -ENOENT (no PS/2 scancode), -EAGAIN (scanning disabled: dropped), -ENOSPC (queue
 * full: dropped, the overrun code sent). pointer_rel: 0 or -EAGAIN (reporting disabled). */
void i8042_input_sinks(struct i8042 *k, struct input_sink *kbd, struct input_sink *mouse);

#endif
