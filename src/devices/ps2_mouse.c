/* The PS/2 mouse (ps2.h): a standard 3-button mouse that becomes an IntelliMouse (ID 3,
 * a fourth packet byte with the wheel) after the sample-rate sequence 200, 100, 80, as the
 * IBM PS/2 technical reference, QEMU's hw/input/ps2.c and Linux's psmouse describe it. */
#include "devices/ps2.h"
#include "vmm/input.h"

#include <errno.h>
#include <string.h>

#define ACC_MAX (1 << 20) /* motion kept for later saturates here */

static void reply(struct ps2_mouse_state *m, uint8_t v)
{
	ps2_queue_put(&m->reply, PS2_REPLY_QUEUE, v); /* full: a flood loses the newest */
}

static void clear_motion(struct ps2_mouse_state *m)
{
	m->packets.head = 0;
	m->packets.count = 0;
	m->dx = m->dy = m->dz = 0;
	m->unsent = 0;
}

/* F6 (and reset): 100 samples/s, 4 counts/mm, 1:1, stream mode, reporting disabled. */
static void defaults(struct ps2_mouse_state *m)
{
	m->status = 0;
	m->rate = 100;
	m->resolution = 2;
	clear_motion(m);
}

void ps2_mouse_reset(struct ps2_mouse_state *m)
{
	memset(m, 0, sizeof(*m));
	defaults(m);
}

static int32_t clamp(int32_t v, int32_t lo, int32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* 2:1 scaling as the mouse applies it in stream mode. */
static int32_t scale21(int32_t v)
{
	static const int32_t small[6] = { 0, 1, 1, 3, 6, 9 };
	int32_t a = v < 0 ? -v : v, r = a <= 5 ? small[a] : 2 * a;

	return v < 0 ? -r : r;
}

static unsigned packet_len(const struct ps2_mouse_state *m)
{
	return m->id == 3 ? 4 : 3;
}

/* One packet of the motion kept (clamped to 9-bit counts; the rest stays for the next). */
static void packet(struct ps2_mouse_state *m, struct ps2_queue *q, unsigned size, bool stream)
{
	int32_t dx = clamp(m->dx, -255, 255), dy = clamp(m->dy, -255, 255);
	int32_t dz = clamp(m->dz, -8, 7);
	int32_t sx = dx, sy = dy;

	if (stream && (m->status & PS2_MOUSE_SCALE21)) {
		sx = clamp(scale21(dx), -255, 255);
		sy = clamp(scale21(dy), -255, 255);
	}
	ps2_queue_put(q, size, (uint8_t)(0x08 | (m->buttons & 7) | (sx < 0 ? 0x10 : 0) |
					 (sy < 0 ? 0x20 : 0)));
	ps2_queue_put(q, size, (uint8_t)sx);
	ps2_queue_put(q, size, (uint8_t)sy);
	if (m->id == 3)
		ps2_queue_put(q, size, (uint8_t)dz);
	else
		dz = m->dz; /* no wheel byte: the wheel is not reported */
	m->dx -= dx;
	m->dy -= dy;
	m->dz -= dz;
	m->unsent = 0;
}

/* Stream mode: send what is kept while packets fit. */
static void flush(struct ps2_mouse_state *m)
{
	if (!(m->status & PS2_MOUSE_ENABLED) || (m->status & PS2_MOUSE_REMOTE))
		return;
	while ((m->unsent || m->dx || m->dy || (m->dz && m->id == 3)) &&
	       m->packets.count + packet_len(m) <= PS2_MOUSE_QUEUE)
		packet(m, &m->packets, PS2_MOUSE_QUEUE, true);
	if (m->id != 3)
		m->dz = 0;
}

static void set_rate(struct ps2_mouse_state *m, uint8_t v)
{
	static const uint8_t rates[] = { 10, 20, 40, 60, 80, 100, 200 };
	bool ok = false;

	for (unsigned i = 0; i < sizeof(rates); i++)
		ok |= rates[i] == v;
	if (!ok) {
		reply(m, PS2_RESEND);
		m->detect = 0;
		return;
	}
	m->rate = v;
	reply(m, PS2_ACK);
	/* IntelliMouse detection: 200, 100, 80 in a row */
	if (m->detect == 2 && v == 80)
		m->id = 3;
	m->detect = v == 200 ? 1 : (m->detect == 1 && v == 100) ? 2 : 0;
}

void ps2_mouse_write(struct ps2_mouse_state *m, uint8_t v)
{
	if (m->cmd) {
		uint8_t c = m->cmd;

		m->cmd = 0;
		if (c == 0xf3) {
			set_rate(m, v);
			return;
		}
		if (c == 0xe8) {
			if (v > 3) {
				reply(m, PS2_RESEND);
			} else {
				m->resolution = v;
				reply(m, PS2_ACK);
			}
			return;
		}
	}
	if (m->wrap && v != 0xec && v != 0xff) { /* wrap mode echoes everything else */
		reply(m, v);
		return;
	}
	switch (v) {
	case 0xe6: /* scaling 1:1 */
		m->status &= ~PS2_MOUSE_SCALE21;
		reply(m, PS2_ACK);
		break;
	case 0xe7: /* scaling 2:1 */
		m->status |= PS2_MOUSE_SCALE21;
		reply(m, PS2_ACK);
		break;
	case 0xe8: case 0xf3: /* resolution, sample rate: a parameter follows */
		m->cmd = v;
		reply(m, PS2_ACK);
		break;
	case 0xe9: { /* status request: buttons in the order right, middle, left */
		uint8_t b = m->buttons;

		reply(m, PS2_ACK);
		reply(m, (uint8_t)(m->status | (b & 1 ? 4 : 0) | (b & 4 ? 2 : 0) | (b & 2 ? 1 : 0)));
		reply(m, m->resolution);
		reply(m, m->rate);
		break;
	}
	case 0xea: /* stream mode */
		m->status &= ~PS2_MOUSE_REMOTE;
		clear_motion(m);
		reply(m, PS2_ACK);
		break;
	case 0xeb: /* read data: one packet, even without motion */
		reply(m, PS2_ACK);
		if (m->reply.count + packet_len(m) <= PS2_REPLY_QUEUE)
			packet(m, &m->reply, PS2_REPLY_QUEUE, false);
		break;
	case 0xec: /* leave wrap mode */
		m->wrap = 0;
		reply(m, PS2_ACK);
		break;
	case 0xee: /* wrap mode */
		m->wrap = 1;
		reply(m, PS2_ACK);
		break;
	case 0xf0: /* remote mode */
		m->status |= PS2_MOUSE_REMOTE;
		clear_motion(m);
		reply(m, PS2_ACK);
		break;
	case 0xf2: /* identify */
		reply(m, PS2_ACK);
		reply(m, m->id);
		break;
	case 0xf4: /* enable reporting */
		m->status |= PS2_MOUSE_ENABLED;
		clear_motion(m);
		reply(m, PS2_ACK);
		break;
	case 0xf5: /* disable reporting */
		m->status &= ~PS2_MOUSE_ENABLED;
		clear_motion(m);
		reply(m, PS2_ACK);
		break;
	case 0xf6: /* defaults */
		defaults(m);
		reply(m, PS2_ACK);
		break;
	case 0xfe: /* resend */
		reply(m, m->last);
		break;
	case 0xff: /* reset: self-test passed, ID 0 */
		ps2_mouse_reset(m);
		reply(m, PS2_ACK);
		reply(m, PS2_BAT_OK);
		reply(m, 0x00);
		break;
	default:
		reply(m, PS2_RESEND);
		break;
	}
}

bool ps2_mouse_read(struct ps2_mouse_state *m, uint8_t *v)
{
	if (!ps2_queue_get(&m->reply, PS2_REPLY_QUEUE, v)) {
		if (!ps2_queue_get(&m->packets, PS2_MOUSE_QUEUE, v))
			return false;
		flush(m); /* motion kept while the queue was full */
	}
	m->last = *v;
	return true;
}

bool ps2_mouse_pending(const struct ps2_mouse_state *m)
{
	return m->reply.count || m->packets.count;
}

static int32_t acc(int32_t a, int32_t d)
{
	int64_t s = (int64_t)a + d;

	return (int32_t)(s < -ACC_MAX ? -ACC_MAX : s > ACC_MAX ? ACC_MAX : s);
}

int ps2_mouse_motion(struct ps2_mouse_state *m, int32_t dx, int32_t dy, int32_t dwheel,
		     uint32_t buttons)
{
	uint8_t b = (uint8_t)((buttons & INPUT_BTN_LEFT ? 1 : 0) |
			      (buttons & INPUT_BTN_RIGHT ? 2 : 0) |
			      (buttons & INPUT_BTN_MIDDLE ? 4 : 0));

	if (!(m->status & PS2_MOUSE_ENABLED) && !(m->status & PS2_MOUSE_REMOTE))
		return -EAGAIN;
	if (b != m->buttons)
		m->unsent = 1;
	m->buttons = b;
	m->dx = acc(m->dx, dx);
	m->dy = acc(m->dy, -dy);     /* PS/2 y grows upwards */
	m->dz = acc(m->dz, -dwheel); /* and the wheel byte is negative upwards */
	if (!(m->status & PS2_MOUSE_REMOTE))
		flush(m);
	return 0;
}

bool ps2_mouse_state_ok(const struct ps2_mouse_state *m)
{
	return ps2_queue_ok(&m->reply, PS2_REPLY_QUEUE) &&
	       ps2_queue_ok(&m->packets, PS2_MOUSE_QUEUE) &&
	       !(m->status & ~(PS2_MOUSE_REMOTE | PS2_MOUSE_ENABLED | PS2_MOUSE_SCALE21)) &&
	       m->resolution <= 3 && m->wrap <= 1 && (m->id == 0 || m->id == 3) &&
	       m->detect <= 2 && (!m->cmd || m->cmd == 0xe8 || m->cmd == 0xf3) &&
	       m->buttons <= 7 && m->unsent <= 1 && m->dx >= -ACC_MAX && m->dx <= ACC_MAX &&
	       m->dy >= -ACC_MAX && m->dy <= ACC_MAX && m->dz >= -ACC_MAX && m->dz <= ACC_MAX;
}
