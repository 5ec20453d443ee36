/* The input router (vmm/input_router.h) with test sinks that record what they get. */
#include <errno.h>
#include <linux/input-event-codes.h>
#include <string.h>

#include "check.h"
#include "vmm/input_router.h"

struct tsink {
	bool active;
	int keys[16][2]; /* code, down */
	int nkeys;
	uint32_t ax, ay, abuttons;
	int nabs;
	int32_t dx, dy, dwheel;
	uint32_t rbuttons;
	int nrel;
};

static bool t_active(void *o) { return ((struct tsink *)o)->active; }
static int t_key(void *o, uint16_t code, bool down)
{
	struct tsink *t = o;

	if (t->nkeys < 16) {
		t->keys[t->nkeys][0] = code;
		t->keys[t->nkeys][1] = down;
	}
	t->nkeys++;
	return 0;
}
static int t_abs(void *o, uint32_t x, uint32_t y, uint32_t b)
{
	struct tsink *t = o;

	t->ax = x, t->ay = y, t->abuttons = b, t->nabs++;
	return 0;
}
static int t_rel(void *o, int32_t dx, int32_t dy, int32_t dw, uint32_t b)
{
	struct tsink *t = o;

	t->dx += dx, t->dy += dy, t->dwheel += dw, t->rbuttons = b, t->nrel++;
	return 0;
}

static const struct input_sink_ops kbd_ops = { .active = t_active, .key = t_key };
static const struct input_sink_ops tablet_ops = { .active = t_active, .pointer_abs = t_abs };
static const struct input_sink_ops mouse_ops = { .active = t_active, .pointer_rel = t_rel };
static const struct input_sink_ops ps2_ops = { .active = t_active, .key = t_key,
					       .pointer_rel = t_rel };

static void test_keys_by_priority(void)
{
	struct input_router *r;
	struct tsink ps2 = { .active = true }, vkbd = { .active = false };
	struct input_sink s1 = { &ps2_ops, &ps2 }, s2 = { &kbd_ops, &vkbd };

	CHECK_EQ(input_router_create(&r), 0);
	CHECK_EQ(input_router_key(r, KEY_A, true), -ENODEV);
	/* PS/2 added first with the lower priority, virtio-input after it */
	CHECK_EQ(input_router_add_sink(r, &s1, INPUT_PRIO_PS2), 0);
	CHECK_EQ(input_router_add_sink(r, &s2, INPUT_PRIO_VIRTIO), 0);
	/* virtio-input's driver not ready: PS/2 gets the key */
	CHECK_EQ(input_router_key(r, KEY_A, true), 0);
	CHECK_EQ(input_router_key(r, KEY_A, false), 0);
	CHECK_EQ(ps2.nkeys, 2);
	CHECK_EQ(ps2.keys[0][0], KEY_A);
	CHECK_EQ(ps2.keys[0][1], 1);
	CHECK_EQ(ps2.keys[1][1], 0);
	CHECK_EQ(vkbd.nkeys, 0);
	/* the driver comes up: virtio-input wins */
	vkbd.active = true;
	CHECK_EQ(input_router_key(r, KEY_B, true), 0);
	CHECK_EQ(vkbd.nkeys, 1);
	CHECK_EQ(vkbd.keys[0][0], KEY_B);
	CHECK_EQ(ps2.nkeys, 2);
	/* a key pressed on PS/2 is released there even after virtio-input became active */
	vkbd.active = false;
	CHECK_EQ(input_router_key(r, KEY_LEFTSHIFT, true), 0);
	vkbd.active = true;
	CHECK_EQ(input_router_key(r, KEY_LEFTSHIFT, false), 0);
	CHECK_EQ(ps2.nkeys, 4);
	CHECK_EQ(ps2.keys[3][0], KEY_LEFTSHIFT);
	CHECK_EQ(ps2.keys[3][1], 0);
	CHECK_EQ(vkbd.nkeys, 1);
	/* releasing everything held: KEY_B on virtio-input */
	input_router_release_keys(r);
	CHECK_EQ(vkbd.nkeys, 2);
	CHECK_EQ(vkbd.keys[1][0], KEY_B);
	CHECK_EQ(vkbd.keys[1][1], 0);
	input_router_release_keys(r);
	CHECK_EQ(vkbd.nkeys, 2);
	/* bad codes */
	CHECK_EQ(input_router_key(r, 0, true), -EINVAL);
	CHECK_EQ(input_router_key(r, 0x300, true), -EINVAL);
	/* a device going away */
	CHECK_EQ(input_router_remove_sink(r, &vkbd), 0);
	CHECK_EQ(input_router_remove_sink(r, &vkbd), -ENOENT);
	CHECK_EQ(input_router_key(r, KEY_C, true), 0);
	CHECK_EQ(ps2.keys[4][0], KEY_C);
	input_router_destroy(r);
}

static void test_pointer_abs_and_rel(void)
{
	struct input_router *r;
	struct tsink tab = { .active = true }, mouse = { .active = true };
	struct input_sink s1 = { &mouse_ops, &mouse }, s2 = { &tablet_ops, &tab };

	CHECK_EQ(input_router_create(&r), 0);
	CHECK_EQ(input_router_pointer_abs(r, 1, 2, 0), -ENODEV);
	CHECK_EQ(input_router_add_sink(r, &s1, INPUT_PRIO_PS2), 0);
	CHECK_EQ(input_router_add_sink(r, &s2, INPUT_PRIO_VIRTIO), 0);
	/* a tablet takes absolute positions as they are (clamped) */
	CHECK_EQ(input_router_pointer_abs(r, 100, 200, INPUT_BTN_LEFT), 0);
	CHECK_EQ(tab.nabs, 1);
	CHECK_EQ(tab.ax, 100);
	CHECK_EQ(tab.ay, 200);
	CHECK_EQ(tab.abuttons, INPUT_BTN_LEFT);
	CHECK_EQ(input_router_pointer_abs(r, 99999, 0, 0), 0);
	CHECK_EQ(tab.ax, INPUT_ABS_MAX);
	CHECK_EQ(mouse.nrel, 0);
	/* without an active tablet: relative motion in screen pixels */
	tab.active = false;
	input_router_set_screen(r, 800, 600);
	CHECK_EQ(input_router_pointer_abs(r, 0, 0, 0), 0);  /* first position: no motion */
	CHECK_EQ(mouse.nrel, 0);
	CHECK_EQ(input_router_pointer_abs(r, INPUT_ABS_MAX, INPUT_ABS_MAX / 2, 0), 0);
	CHECK_EQ(mouse.nrel, 1);
	CHECK_EQ(mouse.dx, 799);
	CHECK_EQ(mouse.dy, 299); /* 16383 of 32767 on 0..599 */
	CHECK_EQ(input_router_pointer_abs(r, 0, 0, INPUT_BTN_RIGHT), 0);
	CHECK_EQ(mouse.dx, 0);
	CHECK_EQ(mouse.dy, 0);
	CHECK_EQ(mouse.rbuttons, INPUT_BTN_RIGHT);
	/* wheel: one step per press of button 4 or 5, never a held button */
	CHECK_EQ(input_router_pointer_abs(r, 0, 0, INPUT_BTN_WHEEL_UP), 0);
	CHECK_EQ(mouse.dwheel, 1);
	CHECK_EQ(mouse.rbuttons, 0);
	CHECK_EQ(input_router_pointer_abs(r, 0, 0, 0), 0);
	CHECK_EQ(input_router_pointer_abs(r, 0, 0, INPUT_BTN_WHEEL_DOWN), 0);
	CHECK_EQ(input_router_pointer_abs(r, 0, 0, 0), 0);
	CHECK_EQ(input_router_pointer_abs(r, 0, 0, INPUT_BTN_WHEEL_DOWN), 0);
	CHECK_EQ(mouse.dwheel, -1);
	/* nothing changed: nothing sent */
	int n = mouse.nrel;
	CHECK_EQ(input_router_pointer_abs(r, 0, 0, INPUT_BTN_WHEEL_DOWN), 0);
	CHECK_EQ(mouse.nrel, n);
	/* relative events go to the mouse */
	CHECK_EQ(input_router_pointer_rel(r, -3, 4, 0, INPUT_BTN_MIDDLE | INPUT_BTN_WHEEL_UP), 0);
	CHECK_EQ(mouse.dx, -3);
	CHECK_EQ(mouse.dy, 4);
	CHECK_EQ(mouse.rbuttons, INPUT_BTN_MIDDLE);
	/* inactive mouse: nobody */
	mouse.active = false;
	CHECK_EQ(input_router_pointer_abs(r, 5, 5, 0), -ENODEV);
	CHECK_EQ(input_router_pointer_rel(r, 1, 1, 0, 0), -ENODEV);
	input_router_destroy(r);
}

static void test_sink_limits(void)
{
	struct input_router *r;
	struct tsink t = { .active = true };
	struct input_sink s = { &kbd_ops, &t }, bad = { NULL, &t };

	CHECK_EQ(input_router_create(&r), 0);
	CHECK_EQ(input_router_add_sink(r, &bad, 1), -EINVAL);
	for (int i = 0; i < INPUT_ROUTER_MAX_SINKS; i++)
		CHECK_EQ(input_router_add_sink(r, &s, i), 0);
	CHECK_EQ(input_router_add_sink(r, &s, 1), -ENOSPC);
	input_router_destroy(r);
}

int main(void)
{
	RUN(test_keys_by_priority);
	RUN(test_pointer_abs_and_rel);
	RUN(test_sink_limits);
	return check_done();
}
