/* Unit tests of the i8042 controller with its PS/2 keyboard and mouse (devices/i8042.c,
 * ps2_kbd.c, ps2_mouse.c, ps2_keymap.c), driven through ports 0x60/0x64 the way Linux's
 * i8042, atkbd and psmouse drivers and SeaBIOS drive them; keys and motion come in through
 * the input sinks (vmm/input.h) as the console front-end sends them. */
#include "check.h"

#include <errno.h>
#include <linux/input-event-codes.h>
#include <stdlib.h>
#include <string.h>

#include "devices/host.h"
#include "devices/i8042.h"
#include "vmm/bus.h"
#include "vmm/input.h"
#include "vmm/savestate_file.h"
#include "vmm/vm.h"

#include <fcntl.h>
#include <unistd.h>

struct rig {
	struct bus pio;
	struct device_host host;
	struct i8042 *k;
	struct input_sink kbd, mouse;
	int level[16];
	int edges[16];  /* rising edges per GSI */
	int resets;
};

static int irq_line(void *o, uint32_t gsi, int level)
{
	struct rig *r = o;

	if (gsi < 16) {
		if (level && !r->level[gsi])
			r->edges[gsi]++;
		r->level[gsi] = level;
	}
	return 0;
}

static void request_stop(void *o, int code)
{
	struct rig *r = o;

	if (code == DEVICE_STOP_RESET)
		r->resets++;
}

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	bus_init(&r->pio);
	r->host.pio = &r->pio;
	r->host.opaque = r;
	r->host.irq_line = irq_line;
	r->host.request_stop = request_stop;
	if (i8042_create(&r->host, &r->k))
		abort();
	i8042_input_sinks(r->k, &r->kbd, &r->mouse);
}

static void rig_free(struct rig *r)
{
	i8042_destroy(r->k);
	bus_destroy(&r->pio);
}

static uint8_t status(struct rig *r)
{
	uint8_t v = 0;

	bus_dispatch(&r->pio, 0x64, &v, 1, false);
	return v;
}

static void cmd(struct rig *r, uint8_t c)
{
	bus_dispatch(&r->pio, 0x64, &c, 1, true);
}

static void data_out(struct rig *r, uint8_t v)
{
	bus_dispatch(&r->pio, 0x60, &v, 1, true);
}

/* The next byte as a driver reads it: -1 when the output buffer is empty; *aux: its source. */
static int rd(struct rig *r, bool *aux)
{
	uint8_t st = status(r), v = 0;

	if (!(st & 1))
		return -1;
	if (aux)
		*aux = st & 0x20;
	bus_dispatch(&r->pio, 0x60, &v, 1, false);
	return v;
}

/* Read n bytes into b; returns how many came. */
static int rdn(struct rig *r, uint8_t *b, int n)
{
	int i, v;

	for (i = 0; i < n && (v = rd(r, NULL)) >= 0; i++)
		b[i] = (uint8_t)v;
	return i;
}

static void set_cb(struct rig *r, uint8_t v)
{
	cmd(r, 0x60);
	data_out(r, v);
}

static int get_cb(struct rig *r)
{
	cmd(r, 0x20);
	return rd(r, NULL);
}

static void mouse_out(struct rig *r, uint8_t v)
{
	cmd(r, 0xd4);
	data_out(r, v);
}

#define EXPECT(r, ...) do { \
	static const uint8_t _e[] = { __VA_ARGS__ }; \
	uint8_t _b[64]; \
	int _n = rdn(r, _b, (int)sizeof(_e) + 1); \
	CHECK_EQ(_n, (int)sizeof(_e)); \
	CHECK(!memcmp(_b, _e, sizeof(_e))); \
} while (0)

static void test_controller(void)
{
	struct rig r;
	bool aux = true;

	rig_init(&r);
	CHECK_EQ(status(&r) & 0x01, 0);
	CHECK(status(&r) & 0x04);                 /* system flag */
	cmd(&r, 0xaa);
	CHECK_EQ(rd(&r, NULL), 0x55);             /* self-test */
	CHECK_EQ(get_cb(&r), 0x45);
	cmd(&r, 0xab);
	CHECK_EQ(rd(&r, NULL), 0x00);             /* keyboard interface test */
	cmd(&r, 0xa9);
	CHECK_EQ(rd(&r, NULL), 0x00);             /* mouse interface test */
	cmd(&r, 0xa7);
	CHECK_EQ(get_cb(&r) & 0x20, 0x20);        /* mouse interface disabled */
	cmd(&r, 0xa8);
	CHECK_EQ(get_cb(&r) & 0x20, 0);
	cmd(&r, 0xad);
	CHECK_EQ(get_cb(&r) & 0x10, 0x10);
	cmd(&r, 0xae);
	CHECK_EQ(get_cb(&r) & 0x10, 0);
	/* Linux's i8042_check_aux: 0xD3 loops a byte back as mouse data, status bit 5, IRQ 12 */
	set_cb(&r, 0x47);                         /* both interrupts, translation */
	memset(r.edges, 0, sizeof(r.edges));
	cmd(&r, 0xd3);
	data_out(&r, 0xa5);
	CHECK(status(&r) & 0x20);
	CHECK_EQ(r.level[12], 1);
	CHECK_EQ(r.edges[1], 0);
	CHECK_EQ(rd(&r, &aux), 0xa5);
	CHECK(aux);
	CHECK_EQ(r.level[12], 0);
	/* 0xD2: as keyboard data (not translated), IRQ 1 */
	cmd(&r, 0xd2);
	data_out(&r, 0x5a);
	CHECK_EQ(r.level[1], 1);
	CHECK_EQ(rd(&r, &aux), 0x5a);
	CHECK(!aux);
	CHECK_EQ(r.edges[1], 1);
	/* without the interrupt bits: no line */
	set_cb(&r, 0x44);
	memset(r.edges, 0, sizeof(r.edges));
	cmd(&r, 0xd3);
	data_out(&r, 1);
	cmd(&r, 0xd2);
	data_out(&r, 2);
	CHECK_EQ(rd(&r, NULL), 1);
	CHECK_EQ(rd(&r, NULL), 2);
	CHECK_EQ(r.edges[1] + r.edges[12], 0);
	/* the command/data flag */
	cmd(&r, 0x60);
	CHECK(status(&r) & 0x08);
	data_out(&r, 0x45);
	CHECK(!(status(&r) & 0x08));
	/* reset: 0xFE, a pulse with bit 0 low, or bit 0 of the output port */
	cmd(&r, 0xfe);
	CHECK_EQ(r.resets, 1);
	cmd(&r, 0xff);
	CHECK_EQ(r.resets, 1);
	cmd(&r, 0xd1);
	data_out(&r, 0x03);
	CHECK_EQ(r.resets, 1);
	cmd(&r, 0xd0);
	CHECK_EQ(rd(&r, NULL) & 0x03, 0x03);
	cmd(&r, 0xd1);
	data_out(&r, 0x02);
	CHECK_EQ(r.resets, 2);
	rig_free(&r);
}

/* atkbd's probe and set selection, translated (as Linux leaves it) and not. */
static void test_kbd_commands(void)
{
	struct rig r;

	rig_init(&r);
	set_cb(&r, 0x45);                         /* translation on */
	data_out(&r, 0xf2);
	EXPECT(&r, 0xfa, 0xab, 0x41);             /* 0x83 seen through the translation */
	set_cb(&r, 0x05);                         /* translation off */
	data_out(&r, 0xf2);
	EXPECT(&r, 0xfa, 0xab, 0x83);
	data_out(&r, 0xff);
	EXPECT(&r, 0xfa, 0xaa);
	data_out(&r, 0xee);
	EXPECT(&r, 0xee);
	data_out(&r, 0xf0);
	data_out(&r, 0x00);
	EXPECT(&r, 0xfa, 0xfa, 0x02);
	data_out(&r, 0xf0);
	data_out(&r, 0x03);
	EXPECT(&r, 0xfa, 0xfa);
	data_out(&r, 0xf0);
	data_out(&r, 0x00);
	EXPECT(&r, 0xfa, 0xfa, 0x03);
	data_out(&r, 0xf0);
	data_out(&r, 0x07);                       /* no such set */
	EXPECT(&r, 0xfa, 0xfe);
	data_out(&r, 0xfa);                       /* set 3: all keys make/break */
	EXPECT(&r, 0xfa);
	data_out(&r, 0xfc);                       /* a key list: each key ACKed, a command ends it */
	data_out(&r, 0x1c);
	data_out(&r, 0x32);
	data_out(&r, 0xee);
	EXPECT(&r, 0xfa, 0xfa, 0xfa, 0xee);
	data_out(&r, 0xed);
	data_out(&r, 0x07);
	EXPECT(&r, 0xfa, 0xfa);
	data_out(&r, 0xf3);
	data_out(&r, 0x20);
	EXPECT(&r, 0xfa, 0xfa);
	data_out(&r, 0xfe);                       /* resend: the last byte again */
	EXPECT(&r, 0xfa);
	data_out(&r, 0x01);                       /* not a command */
	EXPECT(&r, 0xfe);
	data_out(&r, 0xed);                       /* a command instead of the parameter */
	data_out(&r, 0xf2);
	EXPECT(&r, 0xfa, 0xfa, 0xab, 0x83);
	/* F5 disables scanning: keys are dropped; F4 enables it */
	data_out(&r, 0xf5);
	EXPECT(&r, 0xfa);
	CHECK(!r.kbd.ops->active(r.kbd.opaque));
	CHECK_EQ(r.kbd.ops->key(r.kbd.opaque, KEY_A, true), -EAGAIN);
	CHECK_EQ(rd(&r, NULL), -1);
	data_out(&r, 0xf4);
	EXPECT(&r, 0xfa);
	CHECK(r.kbd.ops->active(r.kbd.opaque));
	CHECK_EQ(r.kbd.ops->key(r.kbd.opaque, KEY_A, true), 0);
	EXPECT(&r, 0x1c);                         /* set 2 after F5's defaults */
	cmd(&r, 0xad);                            /* interface disabled: not active */
	CHECK(!r.kbd.ops->active(r.kbd.opaque));
	rig_free(&r);
}

static void key(struct rig *r, uint16_t code, bool down)
{
	CHECK_EQ(r->kbd.ops->key(r->kbd.opaque, code, down), 0);
}

static void kbd_set(struct rig *r, uint8_t set)
{
	data_out(r, 0xf0);
	data_out(r, set);
	EXPECT(r, 0xfa, 0xfa);
}

static void test_scancodes(void)
{
	struct rig r;
	uint8_t b[16];

	rig_init(&r);
	/* set 2 through the translation: set 1 */
	key(&r, KEY_A, true);
	key(&r, KEY_A, false);
	EXPECT(&r, 0x1e, 0x9e);
	key(&r, KEY_RIGHTCTRL, true);
	key(&r, KEY_RIGHTCTRL, false);
	EXPECT(&r, 0xe0, 0x1d, 0xe0, 0x9d);
	key(&r, KEY_UP, true);
	EXPECT(&r, 0xe0, 0x48);
	key(&r, KEY_F7, true);                    /* set 2's 0x83 */
	key(&r, KEY_F7, false);
	EXPECT(&r, 0x41, 0xc1);
	key(&r, KEY_SYSRQ, true);
	key(&r, KEY_SYSRQ, false);
	EXPECT(&r, 0xe0, 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xe0, 0xaa);
	key(&r, KEY_PAUSE, true);
	key(&r, KEY_PAUSE, false);                /* no break code */
	EXPECT(&r, 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5);
	CHECK_EQ(r.kbd.ops->key(r.kbd.opaque, 0x3ff, true), -ENOENT);
	/* raw set 2 */
	set_cb(&r, 0x05);
	key(&r, KEY_A, true);
	key(&r, KEY_A, false);
	EXPECT(&r, 0x1c, 0xf0, 0x1c);
	key(&r, KEY_KPENTER, false);
	EXPECT(&r, 0xe0, 0xf0, 0x5a);
	key(&r, KEY_SYSRQ, true);
	key(&r, KEY_SYSRQ, false);
	EXPECT(&r, 0xe0, 0x12, 0xe0, 0x7c, 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12);
	key(&r, KEY_PAUSE, true);
	EXPECT(&r, 0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77);
	/* raw set 1 */
	kbd_set(&r, 1);
	key(&r, KEY_ESC, true);
	key(&r, KEY_DELETE, false);
	EXPECT(&r, 0x01, 0xe0, 0xd3);
	/* raw set 3: no E0 prefixes, its own codes */
	kbd_set(&r, 3);
	key(&r, KEY_LEFTCTRL, true);
	key(&r, KEY_RIGHTCTRL, true);
	key(&r, KEY_RIGHTCTRL, false);
	key(&r, KEY_F1, true);
	EXPECT(&r, 0x11, 0x58, 0xf0, 0x58, 0x07);
	/* every key of the table gives the same key in set 1 raw and set 2 translated */
	for (uint16_t c = 1; c < 256; c++) {
		uint8_t s1[8], s2[8];
		unsigned n1 = ps2_key_scancodes(c, false, 1, s1);
		unsigned n2 = ps2_key_scancodes(c, false, 2, s2), j = 0, x = 0;
		bool brk = false;

		if (c == KEY_PAUSE)
			continue;
		CHECK_EQ(n1 != 0, n2 != 0);
		for (unsigned i = 0; i < n2; i++) {
			if (s2[i] == 0xf0) {
				brk = true;
				continue;
			}
			b[x++] = (uint8_t)(ps2_translate(s2[i]) | (brk && s2[i] != 0xe0 ? 0x80 : 0));
			brk = false;
		}
		CHECK_EQ(x, n1);
		for (j = 0; j < n1 && j < x; j++)
			CHECK_EQ(b[j], s1[j]);
	}
	rig_free(&r);
}

static void test_key_queue(void)
{
	struct rig r;
	uint8_t b[64];
	int n, full = 0;

	rig_init(&r);
	set_cb(&r, 0x05 | 0x10);                  /* raw set 2, keyboard interface held */
	for (int i = 0; i < 100; i++)
		if (r.kbd.ops->key(r.kbd.opaque, KEY_A, i % 2 == 0) == -ENOSPC)
			full++;
	CHECK(full > 50);
	set_cb(&r, 0x05);
	n = rdn(&r, b, sizeof(b));
	CHECK(n <= PS2_KEY_QUEUE);
	CHECK(n > 16);
	CHECK_EQ(b[n - 1], 0x00);                 /* the overrun code, once */
	CHECK_EQ(b[0], 0x1c);
	for (int i = 0; i < n - 1; i++)
		CHECK(b[i] != 0x00);
	/* drained: keys are taken again */
	key(&r, KEY_B, true);
	EXPECT(&r, 0x32);
	/* translated: the overrun code is 0xFF */
	set_cb(&r, 0x45 | 0x10);
	for (int i = 0; i < 100; i++)
		r.kbd.ops->key(r.kbd.opaque, KEY_A, true);
	set_cb(&r, 0x45);
	n = rdn(&r, b, sizeof(b));
	CHECK_EQ(b[n - 1], 0xff);
	CHECK_EQ(b[0], 0x1e);
	/* one interrupt per byte */
	memset(r.edges, 0, sizeof(r.edges));
	key(&r, KEY_RIGHTCTRL, true);
	CHECK_EQ(r.edges[1], 1);
	CHECK_EQ(rd(&r, NULL), 0xe0);
	CHECK_EQ(r.edges[1], 2);
	CHECK_EQ(rd(&r, NULL), 0x1d);
	CHECK_EQ(r.level[1], 0);
	/* a command flood without reads: bounded, answered in order afterwards */
	for (int i = 0; i < 1000; i++)
		data_out(&r, 0xee);
	n = rdn(&r, b, sizeof(b));
	CHECK(n <= PS2_REPLY_QUEUE + 1);
	CHECK(n >= 2);
	rig_free(&r);
}

static void test_mouse(void)
{
	struct rig r;
	bool aux = false;
	uint8_t b[128];

	rig_init(&r);
	set_cb(&r, 0x47);
	CHECK(!r.mouse.ops->active(r.mouse.opaque));
	mouse_out(&r, 0xff);
	CHECK(status(&r) & 0x20);
	CHECK_EQ(r.level[12], 1);
	CHECK_EQ(rd(&r, &aux), 0xfa);
	CHECK(aux);
	EXPECT(&r, 0xaa, 0x00);
	mouse_out(&r, 0xf2);
	EXPECT(&r, 0xfa, 0x00);
	CHECK_EQ(r.mouse.ops->pointer_rel(r.mouse.opaque, 5, 5, 0, 0), -EAGAIN);
	/* psmouse's IntelliMouse probe */
	static const uint8_t seq[] = { 0xf3, 200, 0xf3, 100, 0xf3, 80 };
	for (unsigned i = 0; i < sizeof(seq); i++)
		mouse_out(&r, seq[i]);
	EXPECT(&r, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa);
	mouse_out(&r, 0xf2);
	EXPECT(&r, 0xfa, 0x03);
	mouse_out(&r, 0xe8);
	mouse_out(&r, 3);
	mouse_out(&r, 0xe8);
	mouse_out(&r, 9);
	EXPECT(&r, 0xfa, 0xfa, 0xfa, 0xfe);
	mouse_out(&r, 0xf3);
	mouse_out(&r, 60);
	mouse_out(&r, 0xe9);
	EXPECT(&r, 0xfa, 0xfa, 0xfa, 0x00, 0x03, 60);
	mouse_out(&r, 0xf4);
	EXPECT(&r, 0xfa);
	CHECK(r.mouse.ops->active(r.mouse.opaque));
	/* 4-byte packets: y up, the wheel negative upwards */
	CHECK_EQ(r.mouse.ops->pointer_rel(r.mouse.opaque, 3, 4, 1, INPUT_BTN_LEFT), 0);
	EXPECT(&r, 0x08 | 0x01 | 0x20, 3, 0xfc, 0xff);
	CHECK_EQ(r.mouse.ops->pointer_rel(r.mouse.opaque, -2, 0, 0,
					  INPUT_BTN_RIGHT | INPUT_BTN_MIDDLE), 0);
	EXPECT(&r, 0x08 | 0x06 | 0x10, 0xfe, 0x00, 0x00);
	/* a big move is split into clamped packets */
	CHECK_EQ(r.mouse.ops->pointer_rel(r.mouse.opaque, 600, 0, 0, 0), 0);
	EXPECT(&r, 0x08, 0xff, 0, 0, 0x08, 0xff, 0, 0, 0x08, 90, 0, 0);
	mouse_out(&r, 0xe9);                      /* status: enabled */
	EXPECT(&r, 0xfa, 0x20, 0x03, 60);
	/* motion while the queue is full stays in the counters */
	cmd(&r, 0xa7);
	for (int i = 0; i < 40; i++)
		r.mouse.ops->pointer_rel(r.mouse.opaque, 10, 0, 0, 0);
	cmd(&r, 0xa8);
	int n = rdn(&r, b, sizeof(b));
	int sum = 0;
	CHECK_EQ(n % 4, 0);
	for (int i = 0; i + 3 < n; i += 4)
		sum += b[i] & 0x10 ? b[i + 1] - 256 : b[i + 1];
	CHECK_EQ(sum, 400);
	/* remote mode: packets on read data only */
	mouse_out(&r, 0xf0);
	EXPECT(&r, 0xfa);
	r.mouse.ops->pointer_rel(r.mouse.opaque, 7, -1, 0, 0);
	CHECK_EQ(rd(&r, NULL), -1);
	mouse_out(&r, 0xeb);
	EXPECT(&r, 0xfa, 0x08, 7, 1, 0);
	mouse_out(&r, 0xea);
	/* wrap mode echoes */
	mouse_out(&r, 0xee);
	mouse_out(&r, 0x12);
	mouse_out(&r, 0xec);
	EXPECT(&r, 0xfa, 0xfa, 0x12, 0xfa);
	/* scaling 2:1 */
	mouse_out(&r, 0xe7);
	EXPECT(&r, 0xfa);
	r.mouse.ops->pointer_rel(r.mouse.opaque, 4, 0, 0, 0);
	EXPECT(&r, 0x08, 6, 0, 0);
	/* disable reporting; a standard mouse after reset: 3-byte packets */
	mouse_out(&r, 0xff);
	EXPECT(&r, 0xfa, 0xaa, 0x00);
	mouse_out(&r, 0xf4);
	EXPECT(&r, 0xfa);
	r.mouse.ops->pointer_rel(r.mouse.opaque, 1, 1, 3, 0);
	EXPECT(&r, 0x28, 1, 0xff);
	mouse_out(&r, 0xf5);
	EXPECT(&r, 0xfa);
	CHECK_EQ(r.mouse.ops->pointer_rel(r.mouse.opaque, 1, 1, 0, 0), -EAGAIN);
	rig_free(&r);
}

static void test_save_restore(void)
{
	struct rig a, b;
	struct i8042_state st;
	struct i8042_ps2_state ps;
	uint8_t x[64], y[64];
	int nx, ny;

	rig_init(&a);
	rig_init(&b);
	set_cb(&a, 0x47 | 0x10);
	key(&a, KEY_B, true);
	key(&a, KEY_END, false);
	mouse_out(&a, 0xf4);
	a.mouse.ops->pointer_rel(a.mouse.opaque, 3, 3, 0, 0);
	i8042_save(a.k, &st, &ps);
	CHECK_EQ(i8042_restore(b.k, &st, &ps), 0);
	CHECK_EQ(b.level[12], 1);                 /* the ACK waiting in the buffer */
	set_cb(&a, 0x47);
	set_cb(&b, 0x47);
	nx = rdn(&a, x, sizeof(x));
	ny = rdn(&b, y, sizeof(y));
	CHECK_EQ(nx, ny);
	CHECK_EQ(nx, 1 + 1 + 2 + 3);              /* ACK, B, End's break (set 1), packet */
	CHECK(!memcmp(x, y, nx));
	CHECK(b.mouse.ops->active(b.mouse.opaque));
	/* out of range: refused, nothing changed */
	i8042_save(b.k, &st, &ps);
	ps.kbd.keys.count = 200;
	CHECK_EQ(i8042_restore(b.k, &st, &ps), -EINVAL);
	CHECK(b.mouse.ops->active(b.mouse.opaque));
	i8042_save(b.k, &st, &ps);
	ps.mouse.id = 7;
	CHECK_EQ(i8042_state_check(&st, &ps), -EINVAL);
	i8042_save(b.k, &st, &ps);
	ps.ctl_count = 9;
	CHECK_EQ(i8042_state_check(&st, &ps), -EINVAL);
	i8042_save(b.k, &st, &ps);
	ps.version = 2;
	CHECK_EQ(i8042_state_check(&st, &ps), -EINVAL);
	i8042_save(b.k, &st, &ps);
	*(uint8_t *)&st.out_full = 2;
	CHECK_EQ(i8042_state_check(&st, NULL), -EINVAL);
	i8042_save(b.k, &st, &ps);
	CHECK_EQ(i8042_state_check(&st, &ps), 0);
	/* a state from before the PS/2 devices: the controller's part only, the devices at
	 * power-on (reporting off, set 2, nothing queued) */
	st.cmd_byte = 0x07;
	st.out_full = false;
	CHECK_EQ(i8042_restore(b.k, &st, NULL), 0);
	CHECK(!b.mouse.ops->active(b.mouse.opaque));
	CHECK_EQ(rd(&b, NULL), -1);
	key(&b, KEY_A, true);
	EXPECT(&b, 0x1c);                         /* raw set 2: the restored command byte */
	rig_free(&a);
	rig_free(&b);
}

/* Through the save file: the PS/2 part rides at the end of the legacy section and comes
 * back as it was; an out-of-range one is refused by the parser. */
static int file_roundtrip(const struct i8042_state *st, const struct i8042_ps2_state *ps,
			  struct savestate **back, const char **why)
{
	char path[64];
	struct savestate *s;
	uint8_t *mem = calloc(1, VM_MIN_MEM);
	int fd, ret;

	snprintf(path, sizeof(path), "/tmp/vsrv-ps2-state.%d", getpid());
	CHECK_EQ(savestate_alloc(1, &s), 0);
	s->config.nr_cpus = 1;
	s->config.mem_size = VM_MIN_MEM;
	s->legacy.i8042 = *st;
	s->legacy.ps2 = *ps;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(savestate_write(fd, s, mem, NULL), 0);
	savestate_free(s);
	lseek(fd, 0, SEEK_SET);
	*back = NULL;
	ret = savestate_read(fd, back, why);
	close(fd);
	unlink(path);
	free(mem);
	return ret;
}

static void test_save_file(void)
{
	struct rig r;
	struct i8042_state st;
	struct i8042_ps2_state ps;
	struct savestate *back;
	const char *why = "";

	rig_init(&r);
	mouse_out(&r, 0xf4);
	key(&r, KEY_Z, true);
	i8042_save(r.k, &st, &ps);
	CHECK_EQ(file_roundtrip(&st, &ps, &back, &why), 0);
	CHECK(back && !memcmp(&back->legacy.ps2, &ps, sizeof(ps)));
	CHECK(back && !memcmp(&back->legacy.i8042, &st, sizeof(st)));
	savestate_free(back);
	ps.mouse.packets.head = 200;
	CHECK_EQ(file_roundtrip(&st, &ps, &back, &why), -EINVAL);
	CHECK(strstr(why, "i8042") != NULL);
	savestate_free(back);
	rig_free(&r);
}

/* Random port traffic with keys and motion in between: never more buffered than the
 * queues hold, the state always valid. */
static void test_random(void)
{
	struct rig r;
	struct i8042_state st;
	struct i8042_ps2_state ps;
	unsigned seed = 12345;

	rig_init(&r);
	for (int i = 0; i < 200000; i++) {
		uint8_t v = (uint8_t)rand_r(&seed), op = (uint8_t)(rand_r(&seed) % 8);

		switch (op) {
		case 0: cmd(&r, v); break;
		case 1: case 2: data_out(&r, v); break;
		case 3: rd(&r, NULL); break;
		case 4: r.kbd.ops->key(r.kbd.opaque, v, rand_r(&seed) & 1); break;
		case 5: r.mouse.ops->pointer_rel(r.mouse.opaque, (int8_t)v * 100, v, v % 3, v); break;
		case 6: mouse_out(&r, v); break;
		default: status(&r); break;
		}
		if (i % 1000 == 0) {
			i8042_save(r.k, &st, &ps);
			CHECK_EQ(i8042_state_check(&st, &ps), 0);
		}
	}
	rig_free(&r);
}

int main(void)
{
	RUN(test_controller);
	RUN(test_kbd_commands);
	RUN(test_scancodes);
	RUN(test_key_queue);
	RUN(test_mouse);
	RUN(test_save_restore);
	RUN(test_save_file);
	RUN(test_random);
	return check_done();
}
