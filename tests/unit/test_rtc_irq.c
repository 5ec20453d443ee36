/* Unit tests of the RTC's interrupts (devices/rtc.c) through ports 0x70/0x71, with its
 * timers on a real control loop (evloop on its own thread) and IRQ 8 recorded: the
 * periodic rate of every RS value, the periodic, update-ended and alarm interrupts with
 * their flags in register C, reading C to acknowledge, flags a guest polls without the
 * interrupt, SET turning update interrupts off, and a restored state that had the
 * periodic interrupt on. Waits are bounded generously (a loaded machine delays a tick, it
 * does not lose one: timerfd counts them). */
#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/host.h"
#include "devices/rtc.h"
#include "vmm/bus.h"
#include "vmm/evloop.h"

struct rig {
	struct bus pio;
	struct device_host host;
	struct evloop *loop;
	pthread_t thread;
	struct rtc *rtc;
	pthread_mutex_t lock;
	int level;          /* IRQ 8's level as last set */
	int raises;         /* 0 -> 1 transitions */
	int other_gsi;      /* a line other than 8 was touched */
};

static int rig_irq(void *opaque, uint32_t gsi, int level)
{
	struct rig *r = opaque;

	pthread_mutex_lock(&r->lock);
	if (gsi != 8)
		r->other_gsi = 1;
	else {
		if (level && !r->level)
			r->raises++;
		r->level = level;
	}
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static void *loop_main(void *arg)
{
	evloop_run(arg);
	return NULL;
}

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	bus_init(&r->pio);
	pthread_mutex_init(&r->lock, NULL);
	if (evloop_create(&r->loop))
		abort();
	r->host.opaque = r;
	r->host.pio = &r->pio;
	r->host.loop = r->loop;
	r->host.irq_line = rig_irq;
	if (rtc_create(&r->host, 64 << 20, 0, &r->rtc))
		abort();
	if (pthread_create(&r->thread, NULL, loop_main, r->loop))
		abort();
}

static void rig_free(struct rig *r)
{
	evloop_stop(r->loop, 0);
	pthread_join(r->thread, NULL);
	rtc_destroy(r->rtc);
	evloop_destroy(r->loop);
	bus_destroy(&r->pio);
	pthread_mutex_destroy(&r->lock);
}

static uint8_t rd(struct rig *r, uint8_t idx)
{
	uint8_t v = 0x5a;

	bus_dispatch(&r->pio, 0x70, &idx, 1, true);
	bus_dispatch(&r->pio, 0x71, &v, 1, false);
	return v;
}

static void wr(struct rig *r, uint8_t idx, uint8_t v)
{
	bus_dispatch(&r->pio, 0x70, &idx, 1, true);
	bus_dispatch(&r->pio, 0x71, &v, 1, true);
}

static int level(struct rig *r, int *raises)
{
	int l;

	pthread_mutex_lock(&r->lock);
	l = r->level;
	if (raises)
		*raises = r->raises;
	pthread_mutex_unlock(&r->lock);
	return l;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait until IRQ 8 is high, at most max_s seconds. 1 if it is. */
static int wait_high(struct rig *r, double max_s)
{
	double end = now_s() + max_s;

	while (now_s() < end) {
		if (level(r, NULL))
			return 1;
		usleep(2000);
	}
	return level(r, NULL);
}

static void test_rates(void)
{
	/* RS 3..15: 2^(RS-1) / 32768 s; 1 and 2 as 8 and 9; 0 none; the divider must run */
	CHECK_EQ(rtc_period_ns(0x26), 976562);          /* 1024 Hz, the power-on rate */
	CHECK_EQ(rtc_period_ns(0x23), 122070);          /* 8192 Hz */
	CHECK_EQ(rtc_period_ns(0x2f), 500000000);       /* 2 Hz */
	CHECK_EQ(rtc_period_ns(0x21), 3906250);         /* 256 Hz */
	CHECK_EQ(rtc_period_ns(0x22), 7812500);         /* 128 Hz */
	CHECK_EQ(rtc_period_ns(0x20), 0);
	CHECK_EQ(rtc_period_ns(0x06), 0);               /* divider stopped */
	CHECK_EQ(rtc_period_ns(0x76), 0);               /* divider in reset */
}

static void test_periodic(void)
{
	struct rig r;
	uint64_t ticks, coalesced;
	int raises;
	uint8_t c;

	rig_init(&r);
	rd(&r, 0x0c);
	wr(&r, 0x0a, 0x2d);                     /* 8 Hz */
	wr(&r, 0x0b, 0x42);                     /* PIE, 24 hours */
	CHECK(wait_high(&r, 10));
	c = rd(&r, 0x0c);
	CHECK_EQ(c & 0xc0, 0xc0);               /* IRQF and PF */
	CHECK_EQ(level(&r, NULL), 0);           /* reading C lowered the line */
	CHECK(wait_high(&r, 10));               /* and the next tick raises it again */
	CHECK_EQ(rd(&r, 0x0c) & 0xc0, 0xc0);
	level(&r, &raises);
	CHECK(raises >= 2);
	/* unacknowledged ticks are counted as coalesced, the line stays high meanwhile */
	CHECK(wait_high(&r, 10));
	{
		double end = now_s() + 10;

		do {
			usleep(20000);
			rtc_counters(r.rtc, &ticks, &coalesced);
		} while (!coalesced && now_s() < end);
	}
	CHECK(ticks >= 3);
	CHECK(coalesced >= 1);
	CHECK_EQ(level(&r, NULL), 1);
	/* PIE off: no more interrupts, the line drops with the read of C */
	wr(&r, 0x0b, 0x02);
	rd(&r, 0x0c);
	level(&r, &raises);
	usleep(300000);
	CHECK_EQ(level(&r, NULL), 0);
	{
		int later;

		level(&r, &later);
		CHECK_EQ(later, raises);
	}
	CHECK_EQ(r.other_gsi, 0);
	rig_free(&r);
}

static void test_polled_flags(void)
{
	struct rig r;
	double t0;
	uint8_t c = 0;

	rig_init(&r);
	wr(&r, 0x0a, 0x2f);                     /* 2 Hz, no interrupt enabled */
	rd(&r, 0x0c);
	/* PF and UF show up in C for a guest that polls; IRQF does not, nor the line */
	t0 = now_s();
	while (now_s() - t0 < 10 && (c & 0x50) != 0x50) {
		usleep(50000);
		c |= rd(&r, 0x0c);
	}
	CHECK_EQ(c & 0x50, 0x50);
	CHECK_EQ(c & 0x80, 0);
	CHECK_EQ(level(&r, NULL), 0);
	rig_free(&r);
}

static void test_update_and_set(void)
{
	struct rig r;
	uint8_t c;

	rig_init(&r);
	rd(&r, 0x0c);
	wr(&r, 0x0b, 0x12);                     /* UIE */
	CHECK(wait_high(&r, 10));
	c = rd(&r, 0x0c);
	CHECK_EQ(c & 0x90, 0x90);               /* IRQF and UF */
	/* SET stops the update cycle and clears UIE */
	wr(&r, 0x0b, 0x92);
	CHECK_EQ(rd(&r, 0x0b) & 0x10, 0);
	rd(&r, 0x0c);
	usleep(1300000);
	CHECK_EQ(level(&r, NULL), 0);
	CHECK_EQ(rd(&r, 0x0c) & 0x10, 0);
	wr(&r, 0x0b, 0x02);
	rig_free(&r);
}

static void test_alarm(void)
{
	struct rig r;
	uint8_t c, s, hour;

	rig_init(&r);
	/* every second: all three alarm registers "don't care" */
	wr(&r, 0x01, 0xff);
	wr(&r, 0x03, 0xff);
	wr(&r, 0x05, 0xff);
	rd(&r, 0x0c);
	wr(&r, 0x0b, 0x22);                     /* AIE */
	CHECK(wait_high(&r, 10));
	c = rd(&r, 0x0c);
	CHECK_EQ(c & 0xa0, 0xa0);               /* IRQF and AF */
	/* an hour that is not now: the update flag comes, the alarm does not */
	hour = rd(&r, 0x04);
	hour = (uint8_t)((((hour >> 4) * 10 + (hour & 15)) + 12) % 24);
	wr(&r, 0x05, (uint8_t)(((hour / 10) << 4) | (hour % 10)));
	rd(&r, 0x0c);
	usleep(1100000);
	c = rd(&r, 0x0c);
	CHECK_EQ(c & 0x30, 0x10);
	CHECK_EQ(level(&r, NULL), 0);
	/* a second two from now, this hour and minute "don't care" */
	wr(&r, 0x05, 0xff);
	s = rd(&r, 0x00);
	s = (uint8_t)((((s >> 4) * 10 + (s & 15)) + 2) % 60);
	wr(&r, 0x01, (uint8_t)(((s / 10) << 4) | (s % 10)));
	rd(&r, 0x0c);
	CHECK(wait_high(&r, 65));               /* (the minute is "don't care": it repeats) */
	CHECK_EQ(rd(&r, 0x0c) & 0xa0, 0xa0);
	wr(&r, 0x0b, 0x02);
	rig_free(&r);
}

static void test_restore_rearms(void)
{
	struct rig a, b;
	struct rtc_state st;

	rig_init(&a);
	rig_init(&b);
	wr(&a, 0x0a, 0x2e);                     /* 4 Hz */
	wr(&a, 0x0b, 0x42);
	rtc_save(a.rtc, &st);
	wr(&a, 0x0b, 0x02);
	CHECK_EQ(rtc_restore(b.rtc, &st), 0);
	CHECK(wait_high(&b, 10));
	CHECK_EQ(rd(&b, 0x0c) & 0xc0, 0xc0);
	wr(&b, 0x0b, 0x02);
	rig_free(&a);
	rig_free(&b);
}

int main(void)
{
	RUN(test_rates);
	RUN(test_periodic);
	RUN(test_polled_flags);
	RUN(test_update_and_set);
	RUN(test_alarm);
	RUN(test_restore_rearms);
	return check_done();
}
