#include "devices/rtc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include "devices/host.h"

enum {
	R_SEC = 0x00, R_MIN = 0x02, R_HOUR = 0x04, R_WDAY = 0x06, R_MDAY = 0x07,
	R_MON = 0x08, R_YEAR = 0x09, R_A = 0x0a, R_B = 0x0b, R_C = 0x0c, R_D = 0x0d,
	R_CENTURY = 0x32,
};
#define B_SET    0x80
#define B_PIE    0x40
#define B_AIE    0x20
#define B_UIE    0x10
#define B_24H    0x02
#define B_BINARY 0x04
#define A_UIP    0x80
#define A_DV     0x70     /* divider: 010 runs the 32.768 kHz time base */
#define A_DV_RUN 0x20
#define A_RS     0x0f     /* periodic rate select */
#define C_IRQF   0x80
#define C_PF     0x40
#define C_AF     0x20
#define C_UF     0x10
#define RTC_GSI  8

struct rtc {
	pthread_mutex_t lock;
	struct rtc_state st;          /* register C (cmos[0x0c]) holds the pending flags */
	struct tm set_tm;   /* time being written while B_SET is on */
	const struct device_host *host;
	int periodic_fd, second_fd;   /* timerfds (-1: none: a VM built by hand) */
	bool irq_level;               /* what irq_line was last told */
	/* For flags the guest polls in register C without their interrupt: the periodic tick
	 * (CLOCK_MONOTONIC ns) and the guest's second (Unix time) the flags were last
	 * brought up to. */
	int64_t pf_mark_ns;
	int64_t sec_mark;
	uint64_t ticks, coalesced;    /* periodic ticks, and those that found IRQF still set */
};

static uint8_t to_bcd(unsigned v) { return (uint8_t)(((v / 10) << 4) | (v % 10)); }
static unsigned from_bcd(uint8_t v) { return (v >> 4) * 10 + (v & 15); }

static uint8_t enc(const struct rtc *r, unsigned v)
{
	return (r->st.cmos[R_B] & B_BINARY) ? (uint8_t)v : to_bcd(v);
}

static unsigned dec(const struct rtc *r, uint8_t v)
{
	return (r->st.cmos[R_B] & B_BINARY) ? v : from_bcd(v);
}

static void guest_now(const struct rtc *r, struct tm *tm, long *nsec)
{
	struct timespec ts;
	time_t t;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = ts.tv_sec + r->st.offset;
	gmtime_r(&t, tm);
	*nsec = ts.tv_nsec;
}

static uint8_t hour_enc(const struct rtc *r, int hour)
{
	unsigned h;

	if (r->st.cmos[R_B] & B_24H)
		return enc(r, (unsigned)hour);
	h = hour % 12 ? (unsigned)hour % 12 : 12;
	return (uint8_t)(enc(r, h) | (hour >= 12 ? 0x80 : 0));
}

static int hour_dec(const struct rtc *r, uint8_t v)
{
	int h;

	if (r->st.cmos[R_B] & B_24H)
		return (int)dec(r, v);
	h = (int)dec(r, v & 0x7f) % 12;
	return (v & 0x80) ? h + 12 : h;
}

/* --- interrupts -------------------------------------------------------------------------
 * Register C's flags: PF at the periodic rate register A selects (while its divider runs),
 * UF after each second's update (while SET is off), AF when the time matches the alarm
 * registers (0xc0-0xff in one of them: any value). Each flag is set whether or not its
 * interrupt is enabled (a guest may poll them); IRQF (and IRQ 8) follows a flag whose
 * enable bit in register B is on. Reading C returns the flags, clears them and lowers the
 * line. Timers run only for enabled interrupts: a periodic timerfd (CLOCK_MONOTONIC) for
 * PIE, a timerfd on the guest's second boundaries (CLOCK_REALTIME) for UIE or AIE; polled
 * flags are brought up to date when C is read. A tick that finds IRQF still set is counted
 * (coalesced), not replayed later (QEMU's -rtc driftfix=slew does replay them). */

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t guest_second(const struct rtc *r)
{
	return (int64_t)time(NULL) + r->st.offset;
}

int64_t rtc_period_ns(uint8_t reg_a)
{
	unsigned rs = reg_a & A_RS;

	if (!rs || (reg_a & A_DV) != A_DV_RUN)
		return 0;
	if (rs < 3)
		rs += 7;        /* rates 1 and 2 are 256 and 128 Hz, as 8 and 9 */
	/* 2^(rs-1) periods of 32.768 kHz */
	return (int64_t)(1000000000ULL * (1ULL << (rs - 1)) / 32768);
}

static int64_t period_ns(const struct rtc *r)
{
	return rtc_period_ns(r->st.cmos[R_A]);
}

/* Does guest second t (Unix time) match the alarm registers? */
static bool alarm_at(const struct rtc *r, int64_t t)
{
	int64_t s = ((t % 86400) + 86400) % 86400;
	uint8_t as = r->st.cmos[0x01], am = r->st.cmos[0x03], ah = r->st.cmos[0x05];

	if (as < 0xc0 && (int64_t)dec(r, as) != s % 60)
		return false;
	if (am < 0xc0 && (int64_t)dec(r, am) != (s / 60) % 60)
		return false;
	if (ah < 0xc0 && hour_dec(r, ah) != s / 3600)
		return false;
	return true;
}

/* Set or clear IRQF from the flags and enables, and tell the line. Under the lock. */
static void update_irq(struct rtc *r)
{
	uint8_t c = r->st.cmos[R_C] & (C_PF | C_AF | C_UF);
	bool on = c & r->st.cmos[R_B] & (C_PF | C_AF | C_UF);

	r->st.cmos[R_C] = (uint8_t)(c | (on ? C_IRQF : 0));
	if (on != r->irq_level && r->host && r->host->irq_line) {
		r->host->irq_line(r->host->opaque, RTC_GSI, on);
		r->irq_level = on;
	}
}

/* Bring the polled flags up to now. Under the lock. */
static void catch_up(struct rtc *r)
{
	int64_t p = period_ns(r), now = mono_ns(), sec = guest_second(r), t;

	if (p && now - r->pf_mark_ns >= p) {
		r->st.cmos[R_C] |= C_PF;
		r->pf_mark_ns = now - (now - r->pf_mark_ns) % p;
	}
	if (sec > r->sec_mark) {
		if (!(r->st.cmos[R_B] & B_SET) && (r->st.cmos[R_A] & A_DV) == A_DV_RUN) {
			r->st.cmos[R_C] |= C_UF;
			/* at most a day of seconds: the alarm repeats daily at the most */
			for (t = sec - r->sec_mark > 86400 ? sec - 86400 : r->sec_mark + 1;
			     t <= sec; t++)
				if (alarm_at(r, t)) {
					r->st.cmos[R_C] |= C_AF;
					break;
				}
		}
		r->sec_mark = sec;
	}
}

static uint8_t read_c(struct rtc *r)
{
	uint8_t v;

	catch_up(r);
	v = r->st.cmos[R_C] & (C_PF | C_AF | C_UF);
	if (v & r->st.cmos[R_B])
		v |= C_IRQF;
	r->st.cmos[R_C] = 0;
	update_irq(r);
	return v;
}

/* Start or stop the timers as registers A and B say. Under the lock. */
static void rearm(struct rtc *r)
{
	struct itimerspec its = { 0 };
	int64_t p = period_ns(r);

	if (r->periodic_fd >= 0) {
		if (p && (r->st.cmos[R_B] & B_PIE)) {
			its.it_value.tv_sec = p / 1000000000;
			its.it_value.tv_nsec = p % 1000000000;
			its.it_interval = its.it_value;
			r->pf_mark_ns = mono_ns();
		}
		timerfd_settime(r->periodic_fd, 0, &its, NULL);
	}
	if (r->second_fd >= 0) {
		memset(&its, 0, sizeof(its));
		if ((r->st.cmos[R_B] & (B_UIE | B_AIE)) && !(r->st.cmos[R_B] & B_SET) &&
		    (r->st.cmos[R_A] & A_DV) == A_DV_RUN) {
			/* the next host second boundary is the guest's (whole-second offset) */
			its.it_value.tv_sec = time(NULL) + 1;
			its.it_interval.tv_sec = 1;
		}
		timerfd_settime(r->second_fd, TFD_TIMER_ABSTIME, &its, NULL);
	}
	update_irq(r);
}

static uint64_t timer_read(int fd)
{
	uint64_t n = 0;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

/* Loop thread: periodic ticks. */
static void on_periodic(void *opaque, uint32_t events)
{
	struct rtc *r = opaque;
	uint64_t n = timer_read(r->periodic_fd);

	(void)events;
	if (!n)
		return;
	pthread_mutex_lock(&r->lock);
	r->ticks += n;
	if (r->st.cmos[R_C] & C_IRQF)
		r->coalesced += n;
	else
		r->coalesced += n - 1;
	r->st.cmos[R_C] |= C_PF;
	r->pf_mark_ns = mono_ns();
	update_irq(r);
	pthread_mutex_unlock(&r->lock);
}

/* Loop thread: a guest second has ended (update cycle, alarm check). */
static void on_second(void *opaque, uint32_t events)
{
	struct rtc *r = opaque;

	(void)events;
	if (!timer_read(r->second_fd))
		return;
	pthread_mutex_lock(&r->lock);
	catch_up(r);
	update_irq(r);
	pthread_mutex_unlock(&r->lock);
}

/* Called under the lock. */
static uint8_t rtc_read(struct rtc *r, uint8_t idx)
{
	struct tm tm;
	long ns;

	if (idx == R_C)
		return read_c(r);
	if (idx > R_YEAR && idx != R_A && idx != R_CENTURY)
		return r->st.cmos[idx];
	if (r->st.cmos[R_B] & B_SET) {
		tm = r->set_tm; /* the clock is stopped while the guest sets it */
		ns = 0;
	} else {
		guest_now(r, &tm, &ns);
	}
	switch (idx) {
	case R_SEC:  return enc(r, (unsigned)tm.tm_sec);
	case R_MIN:  return enc(r, (unsigned)tm.tm_min);
	case R_HOUR: return hour_enc(r, tm.tm_hour);
	case R_WDAY: return enc(r, (unsigned)tm.tm_wday + 1);
	case R_MDAY: return enc(r, (unsigned)tm.tm_mday);
	case R_MON:  return enc(r, (unsigned)tm.tm_mon + 1);
	case R_YEAR: return enc(r, (unsigned)tm.tm_year % 100);
	case R_CENTURY: return enc(r, (unsigned)(tm.tm_year + 1900) / 100);
	case R_A:
		/* Update in progress during the last 244 us of each second. */
		return (uint8_t)((r->st.cmos[R_A] & 0x7f) | (ns >= 999756000L ? A_UIP : 0));
	default: return r->st.cmos[idx]; /* alarm registers */
	}
}

/* Called under the lock. */
static void rtc_write(struct rtc *r, uint8_t idx, uint8_t v)
{
	struct tm *t = &r->set_tm;

	switch (idx) {
	case R_SEC:  t->tm_sec = (int)dec(r, v); break;
	case R_MIN:  t->tm_min = (int)dec(r, v); break;
	case R_HOUR: t->tm_hour = hour_dec(r, v); break;
	case R_WDAY: break;
	case R_MDAY: t->tm_mday = (int)dec(r, v); break;
	case R_MON:  t->tm_mon = (int)dec(r, v) - 1; break;
	case R_YEAR: t->tm_year = (t->tm_year / 100) * 100 + (int)dec(r, v) % 100; break;
	case R_CENTURY: t->tm_year = ((int)dec(r, v) - 19) * 100 + t->tm_year % 100; break;
	case R_C: case R_D: return; /* read-only */
	case R_A:
		/* UIP is read-only */
		r->st.cmos[R_A] = (uint8_t)((v & 0x7f) | (r->st.cmos[R_A] & A_UIP));
		rearm(r);
		return;
	case R_B:
		if ((v & B_SET) && !(r->st.cmos[R_B] & B_SET)) {
			long ns;
			guest_now(r, t, &ns); /* start from the current time */
		} else if (!(v & B_SET) && (r->st.cmos[R_B] & B_SET)) {
			r->st.offset = (int64_t)timegm(t) - (int64_t)time(NULL);
		}
		if (v & B_SET)
			v &= (uint8_t)~B_UIE; /* no update cycles while the clock is set */
		r->st.cmos[R_B] = v;
		rearm(r);
		return;
	default:
		r->st.cmos[idx] = v;
		return;
	}
	if (!(r->st.cmos[R_B] & B_SET)) {
		/* A time write without SET: apply it at once. */
		r->st.offset = (int64_t)timegm(t) - (int64_t)time(NULL);
	}
}

static void rtc_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct rtc *r = opaque;

	pthread_mutex_lock(&r->lock);
	if (off == 0) {
		if (is_write)
			r->st.index = data[0] & 0x7f;
		else
			memset(data, 0xff, len);
	} else if (is_write) {
		if (r->st.index <= R_YEAR || r->st.index == R_CENTURY) {
			/* Start from the time the guest currently sees. */
			if (!(r->st.cmos[R_B] & B_SET)) {
				long ns;
				guest_now(r, &r->set_tm, &ns);
			}
		}
		rtc_write(r, r->st.index, data[0]);
	} else {
		memset(data, 0, len);
		data[0] = rtc_read(r, r->st.index);
	}
	pthread_mutex_unlock(&r->lock);
}

static void timers_close(struct rtc *r)
{
	if (r->periodic_fd >= 0) {
		if (r->host->loop)
			evloop_del(r->host->loop, r->periodic_fd);
		close(r->periodic_fd);
	}
	if (r->second_fd >= 0) {
		if (r->host->loop)
			evloop_del(r->host->loop, r->second_fd);
		close(r->second_fd);
	}
	r->periodic_fd = r->second_fd = -1;
}

static int timers_open(struct rtc *r, const struct device_host *h)
{
	int ret;

	r->periodic_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	r->second_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (r->periodic_fd < 0 || r->second_fd < 0) {
		ret = -errno;
		goto err;
	}
	ret = evloop_add(h->loop, r->periodic_fd, EPOLLIN, on_periodic, r);
	if (ret < 0)
		goto err;
	ret = evloop_add(h->loop, r->second_fd, EPOLLIN, on_second, r);
	if (ret < 0) {
		evloop_del(h->loop, r->periodic_fd);
		goto err;
	}
	return 0;
err:
	if (r->periodic_fd >= 0)
		close(r->periodic_fd);
	if (r->second_fd >= 0)
		close(r->second_fd);
	r->periodic_fd = r->second_fd = -1;
	return ret;
}

static void cmos_set16(struct rtc *r, uint8_t idx, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	r->st.cmos[idx] = (uint8_t)v;
	r->st.cmos[idx + 1] = (uint8_t)(v >> 8);
}

int rtc_create(const struct device_host *h, uint64_t low, uint64_t high, struct rtc **out)
{
	struct rtc *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->host = h;
	r->periodic_fd = r->second_fd = -1;
	r->st.cmos[R_A] = 0x26;   /* 32.768 kHz time base, 1024 Hz rate */
	r->st.cmos[R_B] = B_24H;  /* BCD, 24 hours, no interrupts */
	r->st.cmos[R_D] = 0x80;   /* valid RAM and time */
	/* PC CMOS memory sizes: KiB 1-16 MiB (0x17/0x30), 64 KiB units 16 MiB-4 GiB (0x34),
	 * 64 KiB units above 4 GiB (0x5b-0x5d). */
	cmos_set16(r, 0x15, 640);
	cmos_set16(r, 0x17, low > (1 << 20) ? (low - (1 << 20)) >> 10 : 0);
	cmos_set16(r, 0x30, low > (1 << 20) ? (low - (1 << 20)) >> 10 : 0);
	cmos_set16(r, 0x34, low > (16 << 20) ? (low - (16 << 20)) >> 16 : 0);
	high >>= 16;
	if (high > 0xffffff)
		high = 0xffffff;  /* 3 bytes of 64 KiB units: 1 TiB - 64 KiB at most */
	r->st.cmos[0x5b] = (uint8_t)high;
	r->st.cmos[0x5c] = (uint8_t)(high >> 8);
	r->st.cmos[0x5d] = (uint8_t)(high >> 16);
	r->pf_mark_ns = mono_ns();
	r->sec_mark = guest_second(r);
	if (h->loop) {
		ret = timers_open(r, h);
		if (ret < 0)
			goto err_free;
	}
	ret = bus_register(h->pio, 0x70, 2, rtc_io, r, "rtc");
	if (ret < 0)
		goto err_timers;
	*out = r;
	return 0;
err_timers:
	timers_close(r);
err_free:
	pthread_mutex_destroy(&r->lock);
	free(r);
	return ret;
}

void rtc_cmos_firmware(struct rtc *r, unsigned ncpus)
{
	unsigned sum = 0, i;

	pthread_mutex_lock(&r->lock);
	r->st.cmos[CMOS_FLOPPY] = 0;           /* no floppy drives */
	r->st.cmos[CMOS_DISK] = 0;             /* no IDE disk types */
	r->st.cmos[CMOS_EQUIPMENT] = 0x06;     /* FPU, PS/2 mouse; no floppy, no display bits */
	/* boot order: hard disk, CD-ROM, network; no floppy boot signature check */
	r->st.cmos[CMOS_BOOT12] = CMOS_BOOT_HD | CMOS_BOOT_CD << 4;
	r->st.cmos[CMOS_BOOT3] = CMOS_BOOT_NET << 4 | 0x01;
	r->st.cmos[CMOS_SMP_COUNT] = (uint8_t)(ncpus ? (ncpus > 256 ? 255 : ncpus - 1) : 0);
	for (i = 0x10; i <= 0x2d; i++)
		sum += r->st.cmos[i];
	r->st.cmos[CMOS_CHECKSUM] = (uint8_t)(sum >> 8);
	r->st.cmos[CMOS_CHECKSUM + 1] = (uint8_t)sum;
	pthread_mutex_unlock(&r->lock);
}

void rtc_cmos_boot_order(struct rtc *r, const uint8_t order[3])
{
	pthread_mutex_lock(&r->lock);
	r->st.cmos[CMOS_BOOT12] = (uint8_t)((order[0] & 15) | (order[1] & 15) << 4);
	r->st.cmos[CMOS_BOOT3] = (uint8_t)((order[2] & 15) << 4 | (r->st.cmos[CMOS_BOOT3] & 1));
	pthread_mutex_unlock(&r->lock);
}

void rtc_destroy(struct rtc *r)
{
	if (!r)
		return;
	timers_close(r);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void rtc_save(struct rtc *r, struct rtc_state *st)
{
	pthread_mutex_lock(&r->lock);
	*st = r->st;
	pthread_mutex_unlock(&r->lock);
}

int rtc_restore(struct rtc *r, const struct rtc_state *st)
{
	if (st->index > 127)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	r->st = *st;
	r->st.cmos[R_C] &= C_IRQF | C_PF | C_AF | C_UF;
	r->pf_mark_ns = mono_ns();
	r->sec_mark = guest_second(r);
	rearm(r);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

void rtc_counters(struct rtc *r, uint64_t *ticks, uint64_t *coalesced)
{
	pthread_mutex_lock(&r->lock);
	*ticks = r->ticks;
	*coalesced = r->coalesced;
	pthread_mutex_unlock(&r->lock);
}
