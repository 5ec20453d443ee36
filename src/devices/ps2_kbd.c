/* The PS/2 keyboard (ps2.h): an MF2 keyboard's commands as the IBM PS/2 technical reference,
 * QEMU's hw/input/ps2.c and Linux's atkbd describe them. Scancodes: ps2_keymap.c. */
#include "devices/ps2.h"

#include <errno.h>
#include <linux/input-event-codes.h>
#include <string.h>

#define KBD_TYPEMATIC_DEFAULT 0x2b /* 10.9 characters/s after 500 ms */

static void reply(struct ps2_kbd_state *k, uint8_t v)
{
	ps2_queue_put(&k->reply, PS2_REPLY_QUEUE, v); /* full: a flood loses the newest */
}

static void clear_keys(struct ps2_kbd_state *k)
{
	k->keys.head = 0;
	k->keys.count = 0;
	k->overrun = 0;
}

/* The power-on defaults of F5 and F6: set 2, default typematic, all keys make/break. */
static void defaults(struct ps2_kbd_state *k)
{
	k->set = 2;
	k->typematic = KBD_TYPEMATIC_DEFAULT;
	k->set3_list = 0;
	clear_keys(k);
}

void ps2_kbd_reset(struct ps2_kbd_state *k)
{
	memset(k, 0, sizeof(*k));
	defaults(k);
	k->scanning = 1;
}

/* The parameter byte of command c. */
static void parameter(struct ps2_kbd_state *k, uint8_t c, uint8_t v)
{
	switch (c) {
	case 0xed: /* LEDs */
		k->leds = v & 7;
		reply(k, PS2_ACK);
		break;
	case 0xf3: /* typematic rate and delay */
		k->typematic = v & 0x7f;
		reply(k, PS2_ACK);
		break;
	case 0xf0: /* scancode set: 0 asks for it */
		if (v > 3) {
			reply(k, PS2_RESEND);
			break;
		}
		reply(k, PS2_ACK);
		if (!v) {
			reply(k, k->set);
		} else {
			k->set = v;
			clear_keys(k);
		}
		break;
	}
}

void ps2_kbd_write(struct ps2_kbd_state *k, uint8_t v)
{
	if (k->cmd) {
		uint8_t c = k->cmd;

		k->cmd = 0;
		/* a command byte instead of the parameter: the new command wins */
		if (v < 0xed) {
			parameter(k, c, v);
			return;
		}
	}
	if (k->set3_list && v < 0xed) { /* a key of a set-3 key list: noted (all make/break) */
		reply(k, PS2_ACK);
		return;
	}
	k->set3_list = 0;
	switch (v) {
	case 0xed: case 0xf0: case 0xf3:
		k->cmd = v;
		reply(k, PS2_ACK);
		break;
	case 0xee: /* echo */
		reply(k, 0xee);
		break;
	case 0xf2: /* identify: an MF2 keyboard */
		reply(k, PS2_ACK);
		reply(k, 0xab);
		reply(k, 0x83);
		break;
	case 0xf4: /* enable scanning */
		clear_keys(k);
		k->scanning = 1;
		reply(k, PS2_ACK);
		break;
	case 0xf5: /* defaults, scanning disabled */
		defaults(k);
		k->scanning = 0;
		reply(k, PS2_ACK);
		break;
	case 0xf6: /* defaults, scanning enabled */
		defaults(k);
		k->scanning = 1;
		reply(k, PS2_ACK);
		break;
	case 0xf7: case 0xf8: case 0xf9: case 0xfa: /* set 3: all keys typematic/make/break */
		reply(k, PS2_ACK);
		break;
	case 0xfb: case 0xfc: case 0xfd: /* set 3: these keys ...: a list follows */
		k->set3_list = 1;
		reply(k, PS2_ACK);
		break;
	case 0xfe: /* resend */
		reply(k, k->last);
		break;
	case 0xff: /* reset: the self-test passes */
		ps2_kbd_reset(k);
		reply(k, PS2_ACK);
		reply(k, PS2_BAT_OK);
		break;
	default:
		reply(k, PS2_RESEND);
		break;
	}
}

bool ps2_kbd_read(struct ps2_kbd_state *k, uint8_t *v)
{
	if (!ps2_queue_get(&k->reply, PS2_REPLY_QUEUE, v)) {
		if (!ps2_queue_get(&k->keys, PS2_KEY_QUEUE, v))
			return false;
		if (!k->keys.count)
			k->overrun = 0;
	}
	k->last = *v;
	return true;
}

bool ps2_kbd_pending(const struct ps2_kbd_state *k)
{
	return k->reply.count || k->keys.count;
}

int ps2_kbd_key(struct ps2_kbd_state *k, uint16_t code, bool down)
{
	uint8_t b[8];
	unsigned n = ps2_key_scancodes(code, down, k->set, b);

	if (!n) /* Pause has no break code in sets 1 and 2 */
		return code == KEY_PAUSE && !down && k->set != 3 ? 0 : -ENOENT;
	if (!k->scanning)
		return -EAGAIN;
	/* a key goes in whole or not at all; the last byte is kept for the overrun code */
	if (k->overrun || k->keys.count + n > PS2_KEY_QUEUE - 1) {
		if (!k->overrun) {
			ps2_queue_put(&k->keys, PS2_KEY_QUEUE, k->set == 1 ? 0xff : 0x00);
			k->overrun = 1;
		}
		k->dropped++;
		return -ENOSPC;
	}
	for (unsigned i = 0; i < n; i++)
		ps2_queue_put(&k->keys, PS2_KEY_QUEUE, b[i]);
	return 0;
}

bool ps2_kbd_state_ok(const struct ps2_kbd_state *k)
{
	return ps2_queue_ok(&k->reply, PS2_REPLY_QUEUE) && ps2_queue_ok(&k->keys, PS2_KEY_QUEUE) &&
	       k->set >= 1 && k->set <= 3 && k->scanning <= 1 && k->set3_list <= 1 &&
	       k->overrun <= 1 && (!k->cmd || k->cmd == 0xed || k->cmd == 0xf0 || k->cmd == 0xf3);
}
