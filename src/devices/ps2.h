/* The PS/2 keyboard (ps2_kbd.c) and mouse (ps2_mouse.c) behind the i8042 controller
 * (i8042.c). Each is a plain state machine without a lock of its own: the controller calls
 * it under its lock, with the bytes the guest sends to the device (ps2_*_write) and when it
 * takes the device's next byte for its output buffer (ps2_*_read). The states are plain
 * structs (no pointers): they are the saved state as they are (inside struct i8042_state).
 *
 * Each device has two bounded queues: replies to commands, which come first, and its own
 * input (scancodes, mouse packets). A guest that sends commands without reading replies
 * loses the newest replies; keys that do not fit are dropped and an overrun code queued
 * once (0x00 in sets 2 and 3, 0xFF in set 1, as real keyboards do); mouse motion that does
 * not fit stays in the mouse's counters until there is room. */
#ifndef VSRV_DEVICES_PS2_H
#define VSRV_DEVICES_PS2_H

#include <stdbool.h>
#include <stdint.h>

#define PS2_REPLY_QUEUE 16 /* bytes: the longest reply (mouse read-data: ACK + packet) fits */
#define PS2_KEY_QUEUE   32 /* bytes of scancodes (a real keyboard buffers 16 keys) */
#define PS2_MOUSE_QUEUE 64 /* bytes of packets (16 four-byte packets) */

#define PS2_ACK    0xfa
#define PS2_RESEND 0xfe
#define PS2_BAT_OK 0xaa

struct ps2_queue {
	uint8_t data[PS2_MOUSE_QUEUE]; /* a queue of size n uses data[0, n) */
	uint8_t head;                  /* next byte to read */
	uint8_t count;
};

struct ps2_kbd_state {
	struct ps2_queue reply;  /* size PS2_REPLY_QUEUE */
	struct ps2_queue keys;   /* size PS2_KEY_QUEUE */
	uint8_t set;             /* scancode set 1, 2 or 3 */
	uint8_t leds;            /* bit 0 scroll, 1 num, 2 caps lock */
	uint8_t typematic;       /* rate and delay (0xF3): stored, repeats come from the front-end */
	uint8_t scanning;        /* 1: keys are sent */
	uint8_t cmd;             /* command waiting for its parameter byte, 0: none */
	uint8_t set3_list;       /* 1: inside a set-3 key list (0xFB..0xFD): bytes < 0xED are keys */
	uint8_t last;            /* the last byte sent (0xFE, resend) */
	uint8_t overrun;         /* 1: the overrun code is queued; no key until the queue drains */
	uint32_t dropped;        /* keys dropped because the queue was full (a counter) */
};

struct ps2_mouse_state {
	struct ps2_queue reply;  /* size PS2_REPLY_QUEUE */
	struct ps2_queue packets;/* size PS2_MOUSE_QUEUE */
	uint8_t status;          /* PS2_MOUSE_* below (the status request's first byte, without buttons) */
	uint8_t resolution;      /* 0..3: 1, 2, 4, 8 counts/mm */
	uint8_t rate;            /* samples per second */
	uint8_t wrap;            /* 1: wrap (echo) mode */
	uint8_t id;              /* 0: standard, 3: IntelliMouse (wheel byte) */
	uint8_t detect;          /* how far the rate sequence 200, 100, 80 has come (0..2) */
	uint8_t cmd;             /* command waiting for its parameter byte, 0: none */
	uint8_t last;            /* the last byte sent (0xFE, resend) */
	uint8_t buttons;         /* PS/2 bits: 0 left, 1 right, 2 middle */
	uint8_t unsent;          /* 1: a packet is due (buttons changed) that did not fit yet */
	uint8_t pad[2];
	int32_t dx, dy, dz;      /* motion not yet sent (PS/2 directions: y up, z negative = up) */
};

#define PS2_MOUSE_REMOTE  0x40
#define PS2_MOUSE_ENABLED 0x20
#define PS2_MOUSE_SCALE21 0x10

/* Queues (ps2_keymap.c) */
bool ps2_queue_get(struct ps2_queue *q, unsigned size, uint8_t *v);
bool ps2_queue_put(struct ps2_queue *q, unsigned size, uint8_t v);
bool ps2_queue_ok(const struct ps2_queue *q, unsigned size);

/* Keyboard (ps2_kbd.c) */
void ps2_kbd_reset(struct ps2_kbd_state *k);   /* power on: set 2, scanning, queues empty */
void ps2_kbd_write(struct ps2_kbd_state *k, uint8_t v); /* a byte from the guest */
bool ps2_kbd_read(struct ps2_kbd_state *k, uint8_t *v); /* next byte for the controller */
bool ps2_kbd_pending(const struct ps2_kbd_state *k);
/* A key (Linux KEY_* code) went down or up: its scancodes in the selected set are queued.
 * 0; -ENOENT for a code without a PS/2 scancode; -EAGAIN while scanning is disabled (the
 * key is dropped, as a real keyboard does); -ENOSPC when the queue is full (dropped). */
int ps2_kbd_key(struct ps2_kbd_state *k, uint16_t code, bool down);
/* Is k a state ps2_kbd_* can work on (queues, set)? For a restored state. */
bool ps2_kbd_state_ok(const struct ps2_kbd_state *k);
/* (ps2_keymap.c) The scancodes of a key in set 1, 2 or 3 into out (at least 8 bytes): their count, 0 when
 * the key has none in that set. */
unsigned ps2_key_scancodes(uint16_t code, bool down, unsigned set, uint8_t *out);
/* What the controller makes of a set-2 byte when it translates to set 1 (command byte bit
 * 6; 0xF0, the break prefix, is handled by the controller). */
uint8_t ps2_translate(uint8_t set2);

/* Mouse (ps2_mouse.c) */
void ps2_mouse_reset(struct ps2_mouse_state *m);
void ps2_mouse_write(struct ps2_mouse_state *m, uint8_t v);
bool ps2_mouse_read(struct ps2_mouse_state *m, uint8_t *v);
bool ps2_mouse_pending(const struct ps2_mouse_state *m);
/* Relative motion (screen directions: dx right, dy down; dwheel positive = up) and the
 * buttons held (INPUT_BTN_LEFT/MIDDLE/RIGHT of vmm/input.h). Sends packets in stream mode
 * with reporting enabled; keeps the motion for a read-data command in remote mode. 0, or
 * -EAGAIN while reporting is disabled (dropped, as a real mouse does). */
int ps2_mouse_motion(struct ps2_mouse_state *m, int32_t dx, int32_t dy, int32_t dwheel,
		     uint32_t buttons);
bool ps2_mouse_state_ok(const struct ps2_mouse_state *m);

#endif
