#include "devices/i8042.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "devices/host.h"
#include "vmm/input.h"

#define STATUS_OBF    0x01 /* output buffer full */
#define STATUS_SYS    0x04 /* system flag (command byte bit 2) */
#define STATUS_CMD    0x08 /* last write was a command */
#define STATUS_UNLOCK 0x10 /* keyboard not inhibited by the key lock */
#define STATUS_AUX    0x20 /* the output buffer holds mouse data */

#define CB_KBD_INT   0x01
#define CB_AUX_INT   0x02
#define CB_SYS       0x04
#define CB_KBD_OFF   0x10
#define CB_AUX_OFF   0x20
#define CB_XLAT      0x40

struct i8042 {
	const struct device_host *host;
	pthread_mutex_t lock;
	struct i8042_state st;
	struct i8042_ps2_state ps;
	int level[2];       /* the lines' levels as last set: IRQ 1, IRQ 12 (-1: unknown) */
};

/* The PS/2 part at power-on: the devices reset, nothing in flight. */
static void ps2_reset(struct i8042_ps2_state *p)
{
	memset(p, 0, sizeof(*p));
	p->version = I8042_PS2_VERSION;
	p->size = sizeof(*p);
	ps2_kbd_reset(&p->kbd);
	ps2_mouse_reset(&p->mouse);
}

static void ctl_reply(struct i8042 *k, uint8_t v, bool aux)
{
	struct i8042_ps2_state *p = &k->ps;

	if (p->ctl_count >= sizeof(p->ctl))
		return; /* a flood of commands without reads loses the newest replies */
	p->ctl[p->ctl_count] = v;
	p->ctl_aux = (uint8_t)((p->ctl_aux & ~(1u << p->ctl_count)) | (aux ? 1u << p->ctl_count : 0));
	p->ctl_count++;
}

/* The next byte from the keyboard, translated to set 1 when the command byte says so. */
static bool kbd_byte(struct i8042 *k, uint8_t *v)
{
	struct i8042_state *s = &k->st;
	uint8_t b;

	while (ps2_kbd_read(&k->ps.kbd, &b)) {
		if (!(s->cmd_byte & CB_XLAT)) {
			*v = b;
			return true;
		}
		if (b == 0xf0) { /* set 1 has no prefix: the next code gets bit 7 */
			k->ps.xlat_break = 1;
			continue;
		}
		*v = (uint8_t)(ps2_translate(b) | (k->ps.xlat_break ? 0x80 : 0));
		k->ps.xlat_break = 0;
		return true;
	}
	return false;
}

/* Fill an empty output buffer: the controller's replies, then the keyboard, then the mouse. */
static void fill(struct i8042 *k)
{
	struct i8042_state *s = &k->st;
	uint8_t v;

	if (s->out_full)
		return;
	if (k->ps.ctl_count) {
		s->out = k->ps.ctl[0];
		k->ps.out_aux = k->ps.ctl_aux & 1;
		memmove(k->ps.ctl, k->ps.ctl + 1, sizeof(k->ps.ctl) - 1);
		k->ps.ctl_aux >>= 1;
		k->ps.ctl_count--;
	} else if (!(s->cmd_byte & CB_KBD_OFF) && kbd_byte(k, &v)) {
		s->out = v;
		k->ps.out_aux = 0;
	} else if (!(s->cmd_byte & CB_AUX_OFF) && ps2_mouse_read(&k->ps.mouse, &v)) {
		s->out = v;
		k->ps.out_aux = 1;
	} else {
		return;
	}
	s->out_full = true;
}

/* Set the lines from the state (force: whatever was set before). Under the lock. */
static void irq_update(struct i8042 *k, bool force)
{
	const struct i8042_state *s = &k->st;
	int lv[2] = {
		s->out_full && !k->ps.out_aux && (s->cmd_byte & CB_KBD_INT),
		s->out_full && k->ps.out_aux && (s->cmd_byte & CB_AUX_INT),
	};
	static const uint32_t gsi[2] = { I8042_GSI_KBD, I8042_GSI_MOUSE };

	for (int i = 0; i < 2; i++) {
		if (!force && lv[i] == k->level[i])
			continue;
		k->level[i] = lv[i];
		if (k->host->irq_line)
			k->host->irq_line(k->host->opaque, gsi[i], lv[i]);
	}
}

static uint8_t outport(const struct i8042 *k)
{
	const struct i8042_state *s = &k->st;
	uint8_t v = s->outport & ~0x30;

	if (s->out_full)
		v |= k->ps.out_aux ? 0x20 : 0x10;
	return v;
}

/* Returns true when the guest asked for a reset. Called under the lock. */
static bool i8042_command(struct i8042 *k, uint8_t cmd)
{
	struct i8042_state *s = &k->st;

	s->pending = 0;
	if (cmd >= 0x20 && cmd < 0x40) {         /* read controller RAM: byte 0 is the command byte */
		ctl_reply(k, cmd == 0x20 ? s->cmd_byte : 0, false);
		return false;
	}
	if (cmd >= 0x60 && cmd < 0x80) {         /* write controller RAM: a data byte follows */
		s->pending = cmd;
		return false;
	}
	if (cmd >= 0xf0)                         /* pulse output lines: bit 0 low is the reset */
		return !(cmd & 1);
	switch (cmd) {
	case 0xa4: ctl_reply(k, 0xf1, false); break;        /* no password installed */
	case 0xa7: s->cmd_byte |= CB_AUX_OFF; break;        /* disable the mouse interface */
	case 0xa8: s->cmd_byte &= ~CB_AUX_OFF; break;       /* enable it */
	case 0xa9: case 0xab: ctl_reply(k, 0x00, false); break; /* interface tests: OK */
	case 0xaa: ctl_reply(k, 0x55, false); break;        /* self-test: OK */
	case 0xad: s->cmd_byte |= CB_KBD_OFF; break;        /* disable the keyboard interface */
	case 0xae: s->cmd_byte &= ~CB_KBD_OFF; break;       /* enable it */
	case 0xc0: ctl_reply(k, 0x00, false); break;        /* input port */
	case 0xd0: ctl_reply(k, outport(k), false); break;  /* output port */
	case 0xe0: ctl_reply(k, 0x00, false); break;        /* test inputs */
	case 0xd1: case 0xd2: case 0xd3: case 0xd4:
		s->pending = cmd; break;                    /* a data byte follows */
	default: break;
	}
	return false;
}

/* Returns true when the guest asked for a reset. Called under the lock. */
static bool i8042_data(struct i8042 *k, uint8_t v)
{
	struct i8042_state *s = &k->st;
	uint8_t cmd = s->pending;

	s->pending = 0;
	switch (cmd) {
	case 0x60:
		s->cmd_byte = v;
		break;
	case 0xd1:
		s->outport = v;
		return !(v & 1); /* bit 0 low: CPU reset */
	case 0xd2: ctl_reply(k, v, false); break;  /* as if from the keyboard */
	case 0xd3: ctl_reply(k, v, true); break;   /* as if from the mouse */
	case 0xd4: ps2_mouse_write(&k->ps.mouse, v); break;
	case 0:
		ps2_kbd_write(&k->ps.kbd, v);
		break;
	default:
		break; /* other controller RAM bytes */
	}
	return false;
}

static void i8042_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	/* off: 0 the data port, 4 the command/status port */
	struct i8042 *k = opaque;
	struct i8042_state *s = &k->st;
	bool reset = false;

	pthread_mutex_lock(&k->lock);
	if (!is_write) {
		memset(data, 0, len);
		if (off == 0) {
			/* with nothing new, the last byte again (as QEMU does) */
			data[0] = s->out;
			if (s->out_full) {
				s->out_full = false;
				irq_update(k, false); /* the line drops, so the next byte is an edge */
			}
		} else {
			data[0] = (uint8_t)((s->out_full ? STATUS_OBF : 0) | (s->cmd_byte & CB_SYS) |
					    (k->ps.last_cmd ? STATUS_CMD : 0) | STATUS_UNLOCK |
					    (s->out_full && k->ps.out_aux ? STATUS_AUX : 0));
		}
	} else if (off == 4) {
		k->ps.last_cmd = 1;
		reset = i8042_command(k, data[0]);
	} else if (off == 0) {
		k->ps.last_cmd = 0;
		reset = i8042_data(k, data[0]);
	}
	fill(k);
	irq_update(k, false);
	pthread_mutex_unlock(&k->lock);
	if (reset)
		k->host->request_stop(k->host->opaque, DEVICE_STOP_RESET);
}

static void i8042_data_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)off;
	i8042_io(opaque, 0, data, len, is_write);
}

static void i8042_cmd_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)off;
	i8042_io(opaque, 4, data, len, is_write);
}

int i8042_create(const struct device_host *h, struct i8042 **out)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	int ret;

	if (!k)
		return -ENOMEM;
	k->host = h;
	pthread_mutex_init(&k->lock, NULL);
	k->st.cmd_byte = 0x45; /* keyboard interrupt, system flag, translation */
	k->st.outport = 0x01;  /* reset line high (inactive) */
	ps2_reset(&k->ps);
	k->level[0] = k->level[1] = 0;
	/* Two single ports: 0x61 between them belongs to the in-kernel PIT (speaker). */
	ret = bus_register(h->pio, 0x60, 1, i8042_data_io, k, "i8042");
	if (!ret) {
		ret = bus_register(h->pio, 0x64, 1, i8042_cmd_io, k, "i8042");
		if (ret < 0)
			bus_unregister(h->pio, 0x60);
	}
	if (ret < 0) {
		pthread_mutex_destroy(&k->lock);
		free(k);
		return ret;
	}
	*out = k;
	return 0;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

void i8042_save(struct i8042 *k, struct i8042_state *st, struct i8042_ps2_state *ps2)
{
	pthread_mutex_lock(&k->lock);
	*st = k->st;
	*ps2 = k->ps;
	pthread_mutex_unlock(&k->lock);
}

int i8042_state_check(const struct i8042_state *st, const struct i8042_ps2_state *p)
{
	if (*(const uint8_t *)&st->out_full > 1)
		return -EINVAL;
	if (p && (p->version != I8042_PS2_VERSION || p->size != sizeof(*p) || p->out_aux > 1 ||
		  p->xlat_break > 1 || p->last_cmd > 1 || p->ctl_count > sizeof(p->ctl) ||
		  !ps2_kbd_state_ok(&p->kbd) || !ps2_mouse_state_ok(&p->mouse)))
		return -EINVAL;
	return 0;
}

int i8042_restore(struct i8042 *k, const struct i8042_state *st,
		  const struct i8042_ps2_state *ps2)
{
	if (i8042_state_check(st, ps2))
		return -EINVAL;
	pthread_mutex_lock(&k->lock);
	k->st = *st;
	if (ps2)
		k->ps = *ps2;
	else
		ps2_reset(&k->ps);
	irq_update(k, true);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/* --- input sinks (vmm/input.h) --- */

static bool kbd_active(void *opaque)
{
	struct i8042 *k = opaque;
	bool on;

	pthread_mutex_lock(&k->lock);
	on = k->ps.kbd.scanning && !(k->st.cmd_byte & CB_KBD_OFF);
	pthread_mutex_unlock(&k->lock);
	return on;
}

static int kbd_key(void *opaque, uint16_t code, bool down)
{
	struct i8042 *k = opaque;
	int ret;

	pthread_mutex_lock(&k->lock);
	ret = ps2_kbd_key(&k->ps.kbd, code, down);
	fill(k);
	irq_update(k, false);
	pthread_mutex_unlock(&k->lock);
	return ret;
}

static bool mouse_active(void *opaque)
{
	struct i8042 *k = opaque;
	bool on;

	pthread_mutex_lock(&k->lock);
	on = (k->ps.mouse.status & PS2_MOUSE_ENABLED) && !(k->st.cmd_byte & CB_AUX_OFF);
	pthread_mutex_unlock(&k->lock);
	return on;
}

static int mouse_rel(void *opaque, int32_t dx, int32_t dy, int32_t dwheel, uint32_t buttons)
{
	struct i8042 *k = opaque;
	int ret;

	pthread_mutex_lock(&k->lock);
	ret = ps2_mouse_motion(&k->ps.mouse, dx, dy, dwheel, buttons);
	fill(k);
	irq_update(k, false);
	pthread_mutex_unlock(&k->lock);
	return ret;
}

static const struct input_sink_ops kbd_ops = {
	.active = kbd_active,
	.key = kbd_key,
};

static const struct input_sink_ops mouse_ops = {
	.active = mouse_active,
	.pointer_rel = mouse_rel,
};

void i8042_input_sinks(struct i8042 *k, struct input_sink *kbd, struct input_sink *mouse)
{
	if (kbd)
		*kbd = (struct input_sink){ .ops = &kbd_ops, .opaque = k };
	if (mouse)
		*mouse = (struct input_sink){ .ops = &mouse_ops, .opaque = k };
}
