/* The input router (input_router.h): a short list of sinks sorted by priority, the keys held
 * (and which sink got each), and the last absolute pointer position for relative sinks. */
#include "vmm/input_router.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KEY_CODES 0x300      /* KEY_MAX + 1 in <linux/input-event-codes.h> */
#define NO_SINK   0xff
#define WHEEL_BITS (INPUT_BTN_WHEEL_UP | INPUT_BTN_WHEEL_DOWN)
#define DEFAULT_W 1024
#define DEFAULT_H 768

struct routed_sink {
	struct input_sink sink;
	int prio;
};

struct input_router {
	struct routed_sink sinks[INPUT_ROUTER_MAX_SINKS]; /* highest priority first */
	unsigned nr_sinks;
	uint8_t key_sink[KEY_CODES];  /* index of the sink holding each key down, or NO_SINK */
	uint32_t width, height;       /* the screen, for absolute to relative */
	bool have_pos;
	uint32_t last_px, last_py;    /* last absolute position, in screen pixels */
	uint32_t last_buttons;        /* last buttons given to pointer_abs (for wheel edges) */
};

int input_router_create(struct input_router **out)
{
	struct input_router *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	memset(r->key_sink, NO_SINK, sizeof(r->key_sink));
	*out = r;
	return 0;
}

void input_router_destroy(struct input_router *r)
{
	free(r);
}

int input_router_add_sink(struct input_router *r, const struct input_sink *sink, int priority)
{
	unsigned i;

	if (!sink || !sink->ops)
		return -EINVAL;
	if (r->nr_sinks == INPUT_ROUTER_MAX_SINKS)
		return -ENOSPC;
	for (i = r->nr_sinks; i > 0 && r->sinks[i - 1].prio < priority; i--)
		r->sinks[i] = r->sinks[i - 1];
	r->sinks[i].sink = *sink;
	r->sinks[i].prio = priority;
	r->nr_sinks++;
	/* held keys moved with their sinks */
	for (unsigned k = 0; k < KEY_CODES; k++)
		if (r->key_sink[k] != NO_SINK && r->key_sink[k] >= i)
			r->key_sink[k]++;
	return 0;
}

int input_router_remove_sink(struct input_router *r, void *opaque)
{
	unsigned i = 0, removed = 0;

	while (i < r->nr_sinks) {
		if (r->sinks[i].sink.opaque != opaque) {
			i++;
			continue;
		}
		memmove(&r->sinks[i], &r->sinks[i + 1], (r->nr_sinks - i - 1) * sizeof(r->sinks[0]));
		r->nr_sinks--;
		removed++;
		for (unsigned k = 0; k < KEY_CODES; k++) {
			if (r->key_sink[k] == i)
				r->key_sink[k] = NO_SINK;
			else if (r->key_sink[k] != NO_SINK && r->key_sink[k] > i)
				r->key_sink[k]--;
		}
	}
	return removed ? 0 : -ENOENT;
}

void input_router_set_screen(struct input_router *r, uint32_t width, uint32_t height)
{
	r->width = width;
	r->height = height;
	r->have_pos = false; /* positions of the old screen mean nothing on the new one */
}

static bool sink_active(const struct input_sink *s)
{
	return !s->ops->active || s->ops->active(s->opaque);
}

int input_router_key(struct input_router *r, uint16_t code, bool down)
{
	const struct input_sink *s;
	unsigned i;
	int ret;

	if (code == 0 || code >= KEY_CODES)
		return -EINVAL;
	if (!down) {
		i = r->key_sink[code];
		if (i == NO_SINK)
			return 0; /* not held (or its device went away): nothing to release */
		r->key_sink[code] = NO_SINK;
		s = &r->sinks[i].sink;
		return s->ops->key(s->opaque, code, false);
	}
	for (i = 0; i < r->nr_sinks; i++) {
		s = &r->sinks[i].sink;
		if (!s->ops->key || !sink_active(s))
			continue;
		if (r->key_sink[code] != NO_SINK && r->key_sink[code] != i) {
			/* held on another sink (the active one changed): release it there */
			const struct input_sink *o = &r->sinks[r->key_sink[code]].sink;

			o->ops->key(o->opaque, code, false);
		}
		ret = s->ops->key(s->opaque, code, true);
		if (!ret)
			r->key_sink[code] = (uint8_t)i;
		return ret;
	}
	return -ENODEV;
}

void input_router_release_keys(struct input_router *r)
{
	for (unsigned k = 1; k < KEY_CODES; k++)
		if (r->key_sink[k] != NO_SINK)
			input_router_key(r, (uint16_t)k, false);
}

static int find_sink(struct input_router *r, bool abs)
{
	for (unsigned i = 0; i < r->nr_sinks; i++) {
		const struct input_sink *s = &r->sinks[i].sink;

		if ((abs ? s->ops->pointer_abs != NULL : s->ops->pointer_rel != NULL) &&
		    sink_active(s))
			return (int)i;
	}
	return -1;
}

/* An absolute coordinate 0..INPUT_ABS_MAX on an axis of n pixels: 0..n-1. */
static uint32_t to_pixels(uint32_t v, uint32_t n)
{
	return (uint32_t)(((uint64_t)v * (n - 1) + INPUT_ABS_MAX / 2) / INPUT_ABS_MAX);
}

int input_router_pointer_abs(struct input_router *r, uint32_t x, uint32_t y, uint32_t buttons)
{
	uint32_t w = r->width ? r->width : DEFAULT_W, h = r->height ? r->height : DEFAULT_H;
	uint32_t px, py, prev = r->last_buttons, pressed = buttons & ~prev;
	int32_t dx, dy, dwheel;
	int i;

	if (x > INPUT_ABS_MAX)
		x = INPUT_ABS_MAX;
	if (y > INPUT_ABS_MAX)
		y = INPUT_ABS_MAX;
	px = to_pixels(x, w);
	py = to_pixels(y, h);
	dx = r->have_pos ? (int32_t)px - (int32_t)r->last_px : 0;
	dy = r->have_pos ? (int32_t)py - (int32_t)r->last_py : 0;
	r->have_pos = true;
	r->last_px = px;
	r->last_py = py;
	r->last_buttons = buttons;

	i = find_sink(r, true);
	if (i >= 0)
		return r->sinks[i].sink.ops->pointer_abs(r->sinks[i].sink.opaque, x, y, buttons);
	i = find_sink(r, false);
	if (i < 0)
		return -ENODEV;
	/* RFB holds a wheel "button" down for one event per step: a step per press */
	dwheel = !!(pressed & INPUT_BTN_WHEEL_UP) - !!(pressed & INPUT_BTN_WHEEL_DOWN);
	if (!dx && !dy && !dwheel && !((buttons ^ prev) & ~WHEEL_BITS))
		return 0; /* nothing the mouse would report */
	return r->sinks[i].sink.ops->pointer_rel(r->sinks[i].sink.opaque, dx, dy, dwheel,
						 buttons & ~WHEEL_BITS);
}

int input_router_pointer_rel(struct input_router *r, int32_t dx, int32_t dy, int32_t dwheel,
			     uint32_t buttons)
{
	int i = find_sink(r, false);

	if (i < 0)
		return -ENODEV;
	return r->sinks[i].sink.ops->pointer_rel(r->sinks[i].sink.opaque, dx, dy, dwheel,
						 buttons & ~WHEEL_BITS);
}
