/* virtio-input keyboard and tablet (input.h), after the virtio 1.2 specification's
 * "Input Device" section and Linux's drivers/virtio/virtio_input.c. The device kind (the
 * --device specs) is in input_kind.c.
 *
 * Locks: dev->lock (the core's) guards the config selection; in->lock the event ring, the
 * keys held, the LEDs and the queue element (both queues are served under it). The order is
 * in->lock, then dev->lock (virtio_pop/push inside); nothing takes in->lock under
 * dev->lock. */
#include "devices/virtio/input.h"
#include "util/log.h"
#include "vmm/input.h"

#include <errno.h>
#include <linux/input-event-codes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define CFG_UNSET     0x00
#define CFG_ID_NAME   0x01
#define CFG_ID_SERIAL 0x02
#define CFG_ID_DEVIDS 0x03
#define CFG_PROP_BITS 0x10
#define CFG_EV_BITS   0x11
#define CFG_ABS_INFO  0x12

#define CFG_SIZE 136 /* select, subsel, size, 5 reserved, the 128-byte union */
#define EVENTQ  0
#define STATUSQ 1

struct virtio_input {
	struct virtio_dev dev;
	enum vinput_kind kind;
	char serial[64];
	int wake_fd;                 /* eventfd: events were queued (the I/O thread delivers) */
	uint8_t cfg[CFG_SIZE];       /* the config space for the current selection (dev->lock) */
	int reset_seen;              /* atomic: the driver reset the device (status_change) */
	pthread_mutex_t lock;
	struct virtio_input_state st;/* st.dev unused here: the core keeps its own */
	struct virtq_elem el;        /* under lock */
};

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

static void set_bit(uint8_t *map, unsigned bit)
{
	map[bit / 8] |= (uint8_t)(1u << (bit % 8));
}

/* The union for select/subsel, and its size (0: nothing there). Under dev->lock. */
static void cfg_update(struct virtio_input *in)
{
	uint8_t *u = in->cfg + 8;
	const char *s = NULL;
	uint8_t size = 0;
	bool kbd = in->kind == VINPUT_KEYBOARD;

	memset(in->cfg + 2, 0, CFG_SIZE - 2);
	in->cfg[0] = in->st.select;
	in->cfg[1] = in->st.subsel;
	switch (in->st.select) {
	case CFG_ID_NAME:
		if (!in->st.subsel)
			s = kbd ? "vsrv virtio keyboard" : "vsrv virtio tablet";
		break;
	case CFG_ID_SERIAL:
		if (!in->st.subsel)
			s = in->serial;
		break;
	case CFG_ID_DEVIDS:
		if (!in->st.subsel) {
			put_le16(u, 0x06);          /* BUS_VIRTUAL */
			put_le16(u + 2, 0x1af4);    /* the virtio vendor */
			put_le16(u + 4, kbd ? 1 : 3);
			put_le16(u + 6, 1);
			size = 8;
		}
		break;
	case CFG_EV_BITS:
		switch (in->st.subsel) {
		case EV_SYN:
			set_bit(u, SYN_REPORT);
			break;
		case EV_KEY:
			if (kbd) {
				for (unsigned c = KEY_ESC; c <= KEY_MICMUTE; c++)
					set_bit(u, c);
			} else {
				set_bit(u, BTN_LEFT);
				set_bit(u, BTN_RIGHT);
				set_bit(u, BTN_MIDDLE);
			}
			break;
		case EV_LED:
			if (kbd) {
				set_bit(u, LED_NUML);
				set_bit(u, LED_CAPSL);
				set_bit(u, LED_SCROLLL);
			}
			break;
		case EV_REL:
			if (!kbd)
				set_bit(u, REL_WHEEL);
			break;
		case EV_ABS:
			if (!kbd) {
				set_bit(u, ABS_X);
				set_bit(u, ABS_Y);
			}
			break;
		}
		for (unsigned i = 0; i < 128; i++)
			if (u[i])
				size = (uint8_t)(i + 1);
		break;
	case CFG_ABS_INFO:
		if (!kbd && (in->st.subsel == ABS_X || in->st.subsel == ABS_Y)) {
			put_le32(u, 0);                 /* min */
			put_le32(u + 4, INPUT_ABS_MAX); /* max; fuzz, flat, res 0 */
			size = 20;
		}
		break;
	default: /* CFG_UNSET, PROP_BITS (none), anything else */
		break;
	}
	if (s) {
		size_t len = strlen(s); /* both strings are shorter than the union */

		size = (uint8_t)(len < 128 ? len : 128);
		memcpy(u, s, size);
	}
	in->cfg[2] = size;
}

static void input_config(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len,
			 bool is_write)
{
	struct virtio_input *in = d->priv;

	if (!is_write) {
		virtio_config_copy(in->cfg, CFG_SIZE, off, data, len);
		return;
	}
	/* only select and subsel are writable; the rest is ignored */
	for (uint32_t i = 0; i < len; i++) {
		if (off + i == 0)
			in->st.select = data[i];
		else if (off + i == 1)
			in->st.subsel = data[i];
	}
	cfg_update(in);
}

/* After a driver reset, nothing of the old driver's session goes to the next one: the
 * events not delivered, the keys and buttons held. Under in->lock. */
static void take_reset(struct virtio_input *in)
{
	if (!__atomic_exchange_n(&in->reset_seen, 0, __ATOMIC_ACQ_REL))
		return;
	in->st.head = in->st.count = 0;
	in->st.buttons = 0;
	memset(in->st.keys_down, 0, sizeof(in->st.keys_down));
}

/* Give the driver what fits in its buffers. I/O thread. */
static void deliver(struct virtio_input *in)
{
	struct virtio_dev *d = &in->dev;
	bool pushed = false;
	uint32_t gen;

	pthread_mutex_lock(&in->lock);
	take_reset(in);
	while (in->st.count) {
		const struct virtio_input_event *ev = &in->st.pending[in->st.head];
		uint8_t b[8];
		uint32_t done = 0;
		int r = virtio_pop(d, EVENTQ, &in->el, &gen);

		if (r != 1)
			break;
		put_le16(b, ev->type);
		put_le16(b + 2, ev->code);
		put_le32(b + 4, ev->value);
		/* a buffer too small for an event takes nothing (the event waits for the next) */
		if (in->el.in_len >= sizeof(b)) {
			for (unsigned i = in->el.n_out; i < (unsigned)in->el.n_out + in->el.n_in &&
			     done < sizeof(b); i++) {
				size_t n = in->el.iov[i].iov_len;

				if (n > sizeof(b) - done)
					n = sizeof(b) - done;
				memcpy(in->el.iov[i].iov_base, b + done, n);
				done += (uint32_t)n;
			}
			in->st.head = (in->st.head + 1) % VINPUT_PENDING;
			in->st.count--;
		}
		virtio_push(d, EVENTQ, gen, in->el.head, done);
		pushed = true;
	}
	pthread_mutex_unlock(&in->lock);
	if (pushed)
		virtio_notify(d, EVENTQ);
}

/* LEDs from the driver; anything else is consumed and ignored. I/O thread (or
 * virtio_input_serve). */
static void status_in(struct virtio_input *in)
{
	struct virtio_dev *d = &in->dev;
	uint32_t gen;
	int n = 0;

	pthread_mutex_lock(&in->lock);
	while (virtio_pop(d, STATUSQ, &in->el, &gen) == 1) {
		uint8_t b[8];
		uint32_t got = 0;

		for (unsigned i = 0; i < in->el.n_out && got < sizeof(b); i++) {
			size_t k = in->el.iov[i].iov_len;

			if (k > sizeof(b) - got)
				k = sizeof(b) - got;
			memcpy(b + got, in->el.iov[i].iov_base, k);
			got += (uint32_t)k;
		}
		if (got == sizeof(b) && in->kind == VINPUT_KEYBOARD &&
		    (b[0] | b[1] << 8) == EV_LED && (b[2] | b[3] << 8) <= LED_SCROLLL &&
		    !b[5] && !b[6] && !b[7] && b[4] <= 1) {
			static const uint8_t bit[3] = { 1, 2, 4 }; /* LED_NUML, CAPSL, SCROLLL */
			unsigned code = b[2];

			in->st.leds = (uint8_t)(b[4] ? in->st.leds | bit[code] : in->st.leds & ~bit[code]);
		} else {
			in->st.junk++;
		}
		virtio_push(d, STATUSQ, gen, in->el.head, 0);
		if (++n % 32 == 0)
			virtio_notify(d, STATUSQ);
	}
	if (n % 32)
		virtio_notify(d, STATUSQ);
	pthread_mutex_unlock(&in->lock);
}

void virtio_input_serve(struct virtio_input *in, unsigned q)
{
	if (q == EVENTQ)
		deliver(in);
	else if (q == STATUSQ)
		status_in(in);
}

static void input_notify(struct virtio_dev *d, unsigned q)
{
	virtio_input_serve(d->priv, q);
}

static void on_wake(struct virtio_dev *d, int fd, uint32_t events)
{
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* nothing to read: a spurious wake-up */
	}
	deliver(d->priv);
}

/* Under dev->lock: only note the reset (in->lock is never taken under dev->lock). */
static void input_status_change(struct virtio_dev *d, bool active)
{
	struct virtio_input *in = d->priv;

	if (!active)
		__atomic_store_n(&in->reset_seen, 1, __ATOMIC_RELEASE);
}

static const struct virtio_dev_ops input_ops = {
	.device_id = VIRTIO_ID_INPUT,
	.config_access = input_config,
	.queue_notify = input_notify,
	.status_change = input_status_change,
};

/* --- events from the front-end --- */

/* Queue one report (n events, then SYN_REPORT), dropping the oldest reports when full.
 * Under in->lock. */
static void report(struct virtio_input *in, const struct virtio_input_event *ev, unsigned n)
{
	struct virtio_input_state *s = &in->st;

	while (s->count && s->count + n + 1 > VINPUT_PENDING) {
		/* drop the oldest report whole: up to and with its SYN_REPORT */
		bool syn;

		do {
			syn = s->pending[s->head].type == EV_SYN;
			s->head = (s->head + 1) % VINPUT_PENDING;
			s->count--;
			s->dropped++;
		} while (s->count && !syn);
	}
	for (unsigned i = 0; i <= n; i++) {
		static const struct virtio_input_event syn = { EV_SYN, SYN_REPORT, 0 };

		s->pending[(s->head + s->count) % VINPUT_PENDING] = i < n ? ev[i] : syn;
		s->count++;
	}
}

static void wake(struct virtio_input *in)
{
	uint64_t one = 1;

	if (write(in->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is full: a wake-up is pending anyway */
	}
}

static bool sink_active(void *opaque)
{
	struct virtio_input *in = opaque;

	return virtio_dev_running(&in->dev);
}

static int sink_key(void *opaque, uint16_t code, bool down)
{
	struct virtio_input *in = opaque;
	struct virtio_input_event ev = { EV_KEY, code, down };
	uint8_t bit = (uint8_t)(1u << (code % 8));

	if (code < KEY_ESC || code > KEY_MICMUTE)
		return -ENOENT;
	if (!virtio_dev_running(&in->dev))
		return -EAGAIN;
	pthread_mutex_lock(&in->lock);
	take_reset(in);
	if (down && (in->st.keys_down[code / 8] & bit))
		ev.value = 2; /* held: the front-end's repeat */
	if (down)
		in->st.keys_down[code / 8] |= bit;
	else
		in->st.keys_down[code / 8] &= (uint8_t)~bit;
	report(in, &ev, 1);
	pthread_mutex_unlock(&in->lock);
	wake(in);
	return 0;
}

static uint32_t clamp_abs(uint32_t v)
{
	return v > INPUT_ABS_MAX ? INPUT_ABS_MAX : v;
}

static int sink_abs(void *opaque, uint32_t x, uint32_t y, uint32_t buttons)
{
	static const struct { uint32_t bit; uint16_t code; } btn[3] = {
		{ INPUT_BTN_LEFT, BTN_LEFT }, { INPUT_BTN_RIGHT, BTN_RIGHT },
		{ INPUT_BTN_MIDDLE, BTN_MIDDLE },
	};
	struct virtio_input *in = opaque;
	struct virtio_input_event ev[8];
	unsigned n = 0;
	uint32_t pressed;

	if (!virtio_dev_running(&in->dev))
		return -EAGAIN;
	ev[n++] = (struct virtio_input_event){ EV_ABS, ABS_X, clamp_abs(x) };
	ev[n++] = (struct virtio_input_event){ EV_ABS, ABS_Y, clamp_abs(y) };
	pthread_mutex_lock(&in->lock);
	take_reset(in);
	for (unsigned i = 0; i < 3; i++)
		if ((buttons ^ in->st.buttons) & btn[i].bit)
			ev[n++] = (struct virtio_input_event){ EV_KEY, btn[i].code,
							       !!(buttons & btn[i].bit) };
	/* a wheel step per press of RFB's buttons 4 and 5 */
	pressed = buttons & ~in->st.buttons;
	if (pressed & INPUT_BTN_WHEEL_UP)
		ev[n++] = (struct virtio_input_event){ EV_REL, REL_WHEEL, 1 };
	if (pressed & INPUT_BTN_WHEEL_DOWN)
		ev[n++] = (struct virtio_input_event){ EV_REL, REL_WHEEL, (uint32_t)-1 };
	in->st.buttons = buttons & (INPUT_BTN_LEFT | INPUT_BTN_RIGHT | INPUT_BTN_MIDDLE |
				    INPUT_BTN_WHEEL_UP | INPUT_BTN_WHEEL_DOWN);
	report(in, ev, n);
	pthread_mutex_unlock(&in->lock);
	wake(in);
	return 0;
}

static const struct input_sink_ops kbd_sink_ops = {
	.active = sink_active,
	.key = sink_key,
};

static const struct input_sink_ops tablet_sink_ops = {
	.active = sink_active,
	.pointer_abs = sink_abs,
};

void virtio_input_sink(struct virtio_input *in, struct input_sink *out)
{
	out->ops = in->kind == VINPUT_KEYBOARD ? &kbd_sink_ops : &tablet_sink_ops;
	out->opaque = in;
}

/* --- life cycle --- */

int virtio_input_create(struct virtio_host *h, enum vinput_kind kind, const char *serial,
			struct virtio_input **out)
{
	struct virtio_input *in;
	int ret;

	if (kind != VINPUT_KEYBOARD && kind != VINPUT_TABLET)
		return -EINVAL;
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->kind = kind;
	in->st.kind = (uint8_t)kind;
	snprintf(in->serial, sizeof(in->serial), "%s", serial ? serial : "");
	pthread_mutex_init(&in->lock, NULL);
	in->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (in->wake_fd < 0) {
		ret = -errno;
		pthread_mutex_destroy(&in->lock);
		free(in);
		return ret;
	}
	cfg_update(in);
	ret = virtio_dev_init(&in->dev, &input_ops, in, h,
			      kind == VINPUT_KEYBOARD ? "virtio-keyboard" : "virtio-tablet",
			      2, 64, 0);
	if (!ret)
		ret = virtio_dev_watch(&in->dev, in->wake_fd, EPOLLIN, on_wake);
	if (!ret)
		ret = virtio_dev_start(&in->dev);
	if (ret) {
		virtio_input_destroy(in);
		return ret;
	}
	*out = in;
	return 0;
}

struct virtio_dev *virtio_input_dev(struct virtio_input *in)
{
	return &in->dev;
}

void virtio_input_destroy(struct virtio_input *in)
{
	if (!in)
		return;
	virtio_dev_destroy(&in->dev);
	if (in->st.dropped || in->st.junk)
		vsrv_log("%s: %llu events dropped (no driver buffers), %llu status buffers ignored",
			 in->dev.name, (unsigned long long)in->st.dropped,
			 (unsigned long long)in->st.junk);
	close(in->wake_fd);
	pthread_mutex_destroy(&in->lock);
	free(in);
}

enum vinput_kind virtio_input_type(const struct virtio_input *in)
{
	return in->kind;
}

unsigned virtio_input_leds(struct virtio_input *in)
{
	unsigned v;

	pthread_mutex_lock(&in->lock);
	v = in->st.leds;
	pthread_mutex_unlock(&in->lock);
	return v;
}

int virtio_input_save(struct virtio_input *in, struct virtio_input_state *st)
{
	int ret = virtio_dev_save(&in->dev, &st->dev);
	struct virtio_dev_state dev = st->dev;

	pthread_mutex_lock(&in->lock);
	*st = in->st;
	pthread_mutex_unlock(&in->lock);
	st->dev = dev;
	pthread_mutex_lock(&in->dev.lock);
	st->select = in->st.select;
	st->subsel = in->st.subsel;
	pthread_mutex_unlock(&in->dev.lock);
	return ret;
}

int virtio_input_restore(struct virtio_input *in, const struct virtio_input_state *st)
{
	int ret;

	if (st->kind != in->kind || st->head >= VINPUT_PENDING || st->count > VINPUT_PENDING ||
	    st->leds > 7 || (in->kind == VINPUT_KEYBOARD && st->buttons) ||
	    (in->kind == VINPUT_TABLET && (st->leds || st->buttons > 0x1f)))
		return -EINVAL;
	ret = virtio_dev_check(&in->dev, &st->dev);
	if (ret)
		return ret;
	pthread_mutex_lock(&in->lock);
	in->st = *st;
	memset(&in->st.dev, 0, sizeof(in->st.dev));
	pthread_mutex_unlock(&in->lock);
	pthread_mutex_lock(&in->dev.lock);
	cfg_update(in);
	pthread_mutex_unlock(&in->dev.lock);
	ret = virtio_dev_restore(&in->dev, &st->dev);
	wake(in);
	return ret;
}
