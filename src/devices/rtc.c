#include "devices/rtc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/host.h"

enum {
	R_SEC = 0x00, R_MIN = 0x02, R_HOUR = 0x04, R_WDAY = 0x06, R_MDAY = 0x07,
	R_MON = 0x08, R_YEAR = 0x09, R_A = 0x0a, R_B = 0x0b, R_C = 0x0c, R_D = 0x0d,
	R_CENTURY = 0x32,
};
#define B_SET    0x80
#define B_24H    0x02
#define B_BINARY 0x04
#define A_UIP    0x80

struct rtc {
	pthread_mutex_t lock;
	struct rtc_state st;
	struct tm set_tm;   /* time being written while B_SET is on */
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

/* Called under the lock. */
static uint8_t rtc_read(struct rtc *r, uint8_t idx)
{
	struct tm tm;
	long ns;

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
	case R_B:
		if ((v & B_SET) && !(r->st.cmos[R_B] & B_SET)) {
			long ns;
			guest_now(r, t, &ns); /* start from the current time */
		} else if (!(v & B_SET) && (r->st.cmos[R_B] & B_SET)) {
			r->st.offset = (int64_t)timegm(t) - (int64_t)time(NULL);
		}
		r->st.cmos[R_B] = v;
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
	ret = bus_register(h->pio, 0x70, 2, rtc_io, r, "rtc");
	if (ret < 0) {
		pthread_mutex_destroy(&r->lock);
		free(r);
		return ret;
	}
	*out = r;
	return 0;
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
	pthread_mutex_unlock(&r->lock);
	return 0;
}
