/* virtio-input keyboard and tablet over virtio-mmio (devices/virtio/input.c), with this test
 * as the driver: the config space as Linux's virtio_input probes it, events through the
 * eventq (also those sent before the driver offered buffers, and the ring's bound), LEDs
 * and junk on the statusq, save and restore. */
#include "check.h"
#include "vdrv.h"
#include "devices/virtio/input.h"
#include "devices/virtio/mmio.h"
#include "vmm/input.h"

#include <errno.h>
#include <stdlib.h>
#include <linux/input-event-codes.h>

#define BASE 0xd0000000ULL
#define CFG 0x100

struct rig {
	struct guest_mem *mem;
	struct bus bus;
	struct virtio_host host;
	struct virtio_input *in;
	struct virtio_mmio *mm;
	struct vdrv v;
	struct input_sink sink;
	unsigned next_buf;
};

static void rig_init(struct rig *r, enum vinput_kind kind)
{
	memset(r, 0, sizeof(*r));
	if (guest_mem_create(16 << 20, &r->mem))
		abort();
	bus_init(&r->bus);
	r->host.mem = r->mem;
	r->host.mmio = &r->bus;
	if (virtio_input_create(&r->host, kind, "serial-1", &r->in) ||
	    virtio_mmio_create(virtio_input_dev(r->in), BASE, 5, &r->mm))
		abort();
	r->v = (struct vdrv){ .bus = &r->bus, .mem = r->mem, .base = BASE };
	virtio_input_sink(r->in, &r->sink);
}

static void rig_free(struct rig *r)
{
	virtio_mmio_destroy(r->mm);
	virtio_input_destroy(r->in);
	bus_destroy(&r->bus);
	guest_mem_destroy(r->mem);
}

/* select/subsel, then the size; the union is copied to out (up to 128 bytes). */
static unsigned cfg_query(struct rig *r, uint8_t sel, uint8_t sub, uint8_t *out)
{
	unsigned size;

	vdrv_wr(&r->v, CFG + 0, 1, sel);
	vdrv_wr(&r->v, CFG + 1, 1, sub);
	size = vdrv_rd(&r->v, CFG + 2, 1);
	for (unsigned i = 0; i < 128; i++)
		out[i] = (uint8_t)vdrv_rd(&r->v, CFG + 8 + i, 1);
	return size;
}

static bool bit(const uint8_t *map, unsigned b)
{
	return map[b / 8] >> (b % 8) & 1;
}

/* Offer n 8-byte event buffers on the eventq. */
static void offer(struct rig *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct vdrv_buf b = { VDRV_DATA + (r->next_buf++ % 64) * 8, 8, true };

		vdrv_submit(&r->v, 0, &b, 1);
	}
}

/* The next event the device delivered; false on timeout. */
static bool next_event(struct rig *r, struct virtio_input_event *ev)
{
	uint16_t id;
	long len = vdrv_wait(&r->v, 0, &id);
	struct virtq_desc *d = (struct virtq_desc *)(r->mem->host + vdrv_ring(0, 0));

	if (len != 8)
		return false;
	memcpy(ev, r->mem->host + d[id].addr, 8);
	return true;
}

#define EXPECT_EV(r, t, c, val) do { \
	struct virtio_input_event _e = { 0 }; \
	CHECK(next_event(r, &_e)); \
	CHECK_EQ(_e.type, t); CHECK_EQ(_e.code, c); CHECK_EQ(_e.value, (uint32_t)(val)); \
} while (0)

static void test_config(void)
{
	struct rig r;
	uint8_t u[128];

	rig_init(&r, VINPUT_KEYBOARD);
	CHECK_EQ(vdrv_rd(&r.v, 8, 4), VIRTIO_ID_INPUT);
	CHECK_EQ(cfg_query(&r, 1, 0, u), strlen("vsrv virtio keyboard"));
	CHECK(!memcmp(u, "vsrv virtio keyboard", 20));
	CHECK_EQ(cfg_query(&r, 2, 0, u), 8);
	CHECK(!memcmp(u, "serial-1", 8));
	CHECK_EQ(cfg_query(&r, 3, 0, u), 8);
	CHECK_EQ(u[0] | u[1] << 8, 0x06);          /* BUS_VIRTUAL */
	CHECK_EQ(cfg_query(&r, 0x10, 0, u), 0);    /* no properties */
	CHECK(cfg_query(&r, 0x11, EV_KEY, u) > 0);
	CHECK(bit(u, KEY_A) && bit(u, KEY_RIGHTCTRL) && bit(u, KEY_SYSRQ) && !bit(u, BTN_LEFT));
	CHECK(cfg_query(&r, 0x11, EV_LED, u) > 0);
	CHECK(bit(u, LED_CAPSL));
	CHECK_EQ(cfg_query(&r, 0x11, EV_REP, u), 0); /* the front-end sends the repeats */
	CHECK_EQ(cfg_query(&r, 0x11, EV_ABS, u), 0);
	CHECK_EQ(cfg_query(&r, 0x11, EV_SYN, u), 1);
	CHECK_EQ(cfg_query(&r, 0x12, ABS_X, u), 0);
	CHECK_EQ(cfg_query(&r, 0x77, 3, u), 0);    /* unknown selection: nothing */
	CHECK_EQ(cfg_query(&r, 0x00, 0, u), 0);
	/* a 2-byte write sets select and subsel together; other offsets are read-only */
	vdrv_wr(&r.v, CFG, 2, 0x11 | EV_LED << 8);
	vdrv_wr(&r.v, CFG + 2, 1, 99);
	CHECK_EQ(vdrv_rd(&r.v, CFG + 2, 1), 1);
	rig_free(&r);

	rig_init(&r, VINPUT_TABLET);
	CHECK_EQ(cfg_query(&r, 1, 0, u), strlen("vsrv virtio tablet"));
	CHECK(cfg_query(&r, 0x11, EV_ABS, u) > 0);
	CHECK(bit(u, ABS_X) && bit(u, ABS_Y) && !bit(u, ABS_Z));
	CHECK(cfg_query(&r, 0x11, EV_KEY, u) > 0);
	CHECK(bit(u, BTN_LEFT) && bit(u, BTN_RIGHT) && bit(u, BTN_MIDDLE) && !bit(u, KEY_A));
	CHECK(cfg_query(&r, 0x11, EV_REL, u) > 0);
	CHECK(bit(u, REL_WHEEL) && !bit(u, REL_X));
	CHECK_EQ(cfg_query(&r, 0x12, ABS_Y, u), 20);
	CHECK_EQ(u[0] | u[1] << 8 | u[2] << 16 | (uint32_t)u[3] << 24, 0);
	CHECK_EQ(u[4] | u[5] << 8 | u[6] << 16 | (uint32_t)u[7] << 24, INPUT_ABS_MAX);
	CHECK_EQ(cfg_query(&r, 0x12, ABS_Z, u), 0);
	CHECK_EQ(cfg_query(&r, 0x11, EV_LED, u), 0);
	rig_free(&r);
}

static void test_keyboard(void)
{
	struct rig r;

	rig_init(&r, VINPUT_KEYBOARD);
	CHECK(!r.sink.ops->active(r.sink.opaque));
	CHECK(r.sink.ops->pointer_abs == NULL && r.sink.ops->pointer_rel == NULL);
	CHECK_EQ(r.sink.ops->key(r.sink.opaque, KEY_A, true), -EAGAIN);
	CHECK_EQ(vdrv_setup(&r.v, ~0ULL, 2), 15);
	CHECK(r.sink.ops->active(r.sink.opaque));
	/* keys before any buffer wait; then they come in order, each report closed by SYN */
	CHECK_EQ(r.sink.ops->key(r.sink.opaque, KEY_A, true), 0);
	CHECK_EQ(r.sink.ops->key(r.sink.opaque, KEY_A, true), 0);  /* held: a repeat */
	CHECK_EQ(r.sink.ops->key(r.sink.opaque, KEY_A, false), 0);
	CHECK_EQ(r.sink.ops->key(r.sink.opaque, 0x300, true), -ENOENT);
	usleep(20000);
	CHECK_EQ(vdrv_rd(&r.v, 0x60, 4) & 1, 0);   /* nothing delivered yet: no interrupt */
	offer(&r, 6);
	EXPECT_EV(&r, EV_KEY, KEY_A, 1);
	EXPECT_EV(&r, EV_SYN, SYN_REPORT, 0);
	EXPECT_EV(&r, EV_KEY, KEY_A, 2);
	EXPECT_EV(&r, EV_SYN, SYN_REPORT, 0);
	EXPECT_EV(&r, EV_KEY, KEY_A, 0);
	EXPECT_EV(&r, EV_SYN, SYN_REPORT, 0);
	/* buffers first, then a key: delivered at once */
	offer(&r, 2);
	CHECK_EQ(r.sink.ops->key(r.sink.opaque, KEY_RIGHTCTRL, true), 0);
	EXPECT_EV(&r, EV_KEY, KEY_RIGHTCTRL, 1);
	EXPECT_EV(&r, EV_SYN, SYN_REPORT, 0);
	/* a buffer too small takes nothing; the event waits for the next buffer */
	{
		struct vdrv_buf b = { VDRV_DATA + 0x800, 4, true };
		uint16_t id;

		vdrv_submit(&r.v, 0, &b, 1);
		CHECK_EQ(r.sink.ops->key(r.sink.opaque, KEY_B, true), 0);
		CHECK_EQ(vdrv_wait(&r.v, 0, &id), 0);
		offer(&r, 2);
		EXPECT_EV(&r, EV_KEY, KEY_B, 1);
		EXPECT_EV(&r, EV_SYN, SYN_REPORT, 0);
	}
	/* a driver reset: what the old driver did not take is not for the next one, and no
	 * key is held any more */
	CHECK_EQ(r.sink.ops->key(r.sink.opaque, KEY_D, true), 0);
	CHECK_EQ(r.sink.ops->key(r.sink.opaque, KEY_E, true), 0);
	vdrv_set_status(&r.v, 0);
	CHECK_EQ(r.sink.ops->key(r.sink.opaque, KEY_F, true), -EAGAIN);
	CHECK_EQ(vdrv_setup(&r.v, ~0ULL, 2), 15);
	CHECK_EQ(r.sink.ops->key(r.sink.opaque, KEY_E, true), 0);
	r.next_buf = 0;
	offer(&r, 2);
	EXPECT_EV(&r, EV_KEY, KEY_E, 1);
	EXPECT_EV(&r, EV_SYN, SYN_REPORT, 0);
	/* the ring's bound: the oldest reports go, whole */
	for (int i = 0; i < 1000; i++)
		CHECK_EQ(r.sink.ops->key(r.sink.opaque, KEY_C, i % 2 == 0), 0);
	{
		struct virtio_input_state st;
		int n = 0;

		CHECK_EQ(virtio_input_save(r.in, &st), 0);
		CHECK_EQ(st.count, VINPUT_PENDING);
		CHECK_EQ(st.dropped, 2000 - VINPUT_PENDING);
		/* the rest: pairs of KEY_C and SYN, the last one a release */
		for (int k = 0; k < VINPUT_PENDING; k += 32) {
			offer(&r, 32);
			for (int j = 0; j < 32; j += 2) {
				struct virtio_input_event a = { 0 }, b = { 0 };

				CHECK(next_event(&r, &a));
				CHECK(next_event(&r, &b));
				CHECK_EQ(a.type, EV_KEY);
				CHECK_EQ(a.code, KEY_C);
				CHECK_EQ(b.type, EV_SYN);
				n += 2;
				if (k + j + 2 == VINPUT_PENDING)
					CHECK_EQ(a.value, 0);
			}
		}
		CHECK_EQ(n, VINPUT_PENDING);
	}
	rig_free(&r);
}

static void status_buf(struct rig *r, const void *p, uint32_t len)
{
	struct vdrv_buf b = { VDRV_DATA + 0x1000, len, false };

	memcpy(r->mem->host + b.gpa, p, len);
	vdrv_submit(&r->v, 1, &b, 1);
	CHECK_EQ(vdrv_wait(&r->v, 1, NULL), 0);
}

static void test_statusq(void)
{
	struct rig r;
	struct virtio_input_event led = { EV_LED, LED_CAPSL, 1 };
	struct virtio_input_event bad[] = {
		{ EV_LED, 9, 1 }, { EV_KEY, KEY_A, 1 }, { EV_LED, LED_NUML, 7 },
	};
	uint8_t junk[64];

	rig_init(&r, VINPUT_KEYBOARD);
	CHECK_EQ(vdrv_setup(&r.v, ~0ULL, 2), 15);
	status_buf(&r, &led, 8);
	CHECK_EQ(virtio_input_leds(r.in), 2);
	led.code = LED_NUML;
	status_buf(&r, &led, 8);
	CHECK_EQ(virtio_input_leds(r.in), 3);
	led.code = LED_CAPSL;
	led.value = 0;
	status_buf(&r, &led, 8);
	CHECK_EQ(virtio_input_leds(r.in), 1);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		status_buf(&r, &bad[i], 8);
	memset(junk, 0xff, sizeof(junk));
	status_buf(&r, junk, 3);
	status_buf(&r, junk, 64);
	CHECK_EQ(virtio_input_leds(r.in), 1);
	/* a device-writable buffer on the statusq: consumed, nothing read from it */
	{
		struct vdrv_buf b = { VDRV_DATA + 0x2000, 8, true };

		vdrv_submit(&r.v, 1, &b, 1);
		CHECK_EQ(vdrv_wait(&r.v, 1, NULL), 0);
	}
	CHECK_EQ(virtio_input_leds(r.in), 1);
	CHECK(vdrv_status(&r.v) == 15);            /* junk is not an error */
	rig_free(&r);
}

static void test_tablet(void)
{
	struct rig r;

	rig_init(&r, VINPUT_TABLET);
	CHECK(r.sink.ops->key == NULL && r.sink.ops->pointer_abs != NULL);
	CHECK_EQ(r.sink.ops->pointer_abs(r.sink.opaque, 1, 1, 0), -EAGAIN);
	CHECK_EQ(vdrv_setup(&r.v, ~0ULL, 2), 15);
	offer(&r, 16);
	CHECK_EQ(r.sink.ops->pointer_abs(r.sink.opaque, 40000, 100,
					 INPUT_BTN_LEFT | INPUT_BTN_WHEEL_UP), 0);
	EXPECT_EV(&r, EV_ABS, ABS_X, INPUT_ABS_MAX);
	EXPECT_EV(&r, EV_ABS, ABS_Y, 100);
	EXPECT_EV(&r, EV_KEY, BTN_LEFT, 1);
	EXPECT_EV(&r, EV_REL, REL_WHEEL, 1);
	EXPECT_EV(&r, EV_SYN, SYN_REPORT, 0);
	/* the wheel button still held: no second step; left released, right pressed */
	CHECK_EQ(r.sink.ops->pointer_abs(r.sink.opaque, 5, 6,
					 INPUT_BTN_RIGHT | INPUT_BTN_WHEEL_UP), 0);
	EXPECT_EV(&r, EV_ABS, ABS_X, 5);
	EXPECT_EV(&r, EV_ABS, ABS_Y, 6);
	EXPECT_EV(&r, EV_KEY, BTN_LEFT, 0);
	EXPECT_EV(&r, EV_KEY, BTN_RIGHT, 1);
	EXPECT_EV(&r, EV_SYN, SYN_REPORT, 0);
	CHECK_EQ(r.sink.ops->pointer_abs(r.sink.opaque, 5, 6, INPUT_BTN_WHEEL_DOWN), 0);
	EXPECT_EV(&r, EV_ABS, ABS_X, 5);
	EXPECT_EV(&r, EV_ABS, ABS_Y, 6);
	EXPECT_EV(&r, EV_KEY, BTN_RIGHT, 0);
	EXPECT_EV(&r, EV_REL, REL_WHEEL, -1);
	EXPECT_EV(&r, EV_SYN, SYN_REPORT, 0);
	/* a driver reset: inactive again */
	vdrv_set_status(&r.v, 0);
	CHECK(!r.sink.ops->active(r.sink.opaque));
	rig_free(&r);
}

static void test_save_restore(void)
{
	struct rig r, t;
	struct virtio_input_state st, bad;

	rig_init(&r, VINPUT_KEYBOARD);
	CHECK_EQ(vdrv_setup(&r.v, ~0ULL, 2), 15);
	CHECK_EQ(r.sink.ops->key(r.sink.opaque, KEY_Q, true), 0);
	CHECK_EQ(virtio_input_save(r.in, &st), 0);
	CHECK_EQ(st.count, 2);
	CHECK_EQ(r.sink.ops->key(r.sink.opaque, KEY_W, true), 0);
	/* refused: another kind, indices out of range; nothing changes */
	bad = st;
	bad.kind = VINPUT_TABLET;
	CHECK_EQ(virtio_input_restore(r.in, &bad), -EINVAL);
	bad = st;
	bad.head = VINPUT_PENDING;
	CHECK_EQ(virtio_input_restore(r.in, &bad), -EINVAL);
	bad = st;
	bad.count = VINPUT_PENDING + 1;
	CHECK_EQ(virtio_input_restore(r.in, &bad), -EINVAL);
	rig_init(&t, VINPUT_TABLET);
	CHECK_EQ(virtio_input_restore(t.in, &st), -EINVAL);
	rig_free(&t);
	/* back to the saved state: Q is there, W is not; Q is held (a repeat next) */
	CHECK_EQ(virtio_input_restore(r.in, &st), 0);
	offer(&r, 4);
	EXPECT_EV(&r, EV_KEY, KEY_Q, 1);
	EXPECT_EV(&r, EV_SYN, SYN_REPORT, 0);
	CHECK_EQ(r.sink.ops->key(r.sink.opaque, KEY_Q, true), 0);
	EXPECT_EV(&r, EV_KEY, KEY_Q, 2);
	rig_free(&r);
}

int main(void)
{
	RUN(test_config);
	RUN(test_keyboard);
	RUN(test_statusq);
	RUN(test_tablet);
	RUN(test_save_restore);
	return check_done();
}
