#include "devices/virtio/balloon.h"

#include "util/clock.h"
#include "util/log.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define Q_INFLATE 0
#define Q_DEFLATE 1
#define Q_STATS 2 /* when negotiated: it comes right after deflate */
#define QSIZE 128
#define PFN_BATCH 256 /* PFNs read from a buffer at a time */

enum bq { BQ_INFLATE, BQ_DEFLATE, BQ_STATS, BQ_REPORT, BQ_NONE };

/* The device config (5.5.4), little-endian like the host. num_pages is the host's,
 * actual the driver's; the two free page fields are not used (no FREE_PAGE_HINT, no
 * PAGE_POISON) and read as zero. */
struct balloon_config {
	uint32_t num_pages;
	uint32_t actual;
	uint32_t free_page_hint_cmd_id;
	uint32_t poison_val;
};

struct stat_entry {
	uint16_t tag;
	uint64_t val;
} __attribute__((packed));

struct virtio_balloon {
	struct virtio_dev dev;
	struct vballoon_opts o;
	struct balloon_config cfg;  /* under dev.lock */
	int timer_fd;
	bool discard_logged;        /* a failed release was logged (once) */
	/* the statistics buffer the device holds (I/O thread only): pushed back to ask the
	 * driver for fresh figures */
	bool stats_held;
	uint16_t stats_head;
	uint32_t stats_gen;
	/* counters and statistics: written on the I/O thread, read by anyone, under lock */
	pthread_mutex_t lock;
	uint64_t inflated, inflate_pages, deflate_pages, bad_pfns, reported, stats_updates;
	uint32_t stats_mask;
	uint64_t stats[VBALLOON_S_NR];
	double stats_time;
	struct virtq_elem el;
};

static const char *const stat_names[VBALLOON_S_NR] = {
	"swap_in", "swap_out", "major_faults", "minor_faults", "free", "total", "available",
	"caches", "hugetlb_allocations", "hugetlb_failures",
};

const char *virtio_balloon_stat_name(unsigned t)
{
	return t < VBALLOON_S_NR ? stat_names[t] : "?";
}

/* Which queue q is, with the features the driver took (absent queues take no index). */
static enum bq queue_of(struct virtio_dev *d, unsigned q)
{
	unsigned next = 2;

	if (q == Q_INFLATE)
		return BQ_INFLATE;
	if (q == Q_DEFLATE)
		return BQ_DEFLATE;
	if (virtio_has(d, VIRTIO_BALLOON_F_STATS_VQ) && q == next++)
		return BQ_STATS;
	if (virtio_has(d, VIRTIO_BALLOON_F_REPORTING) && q == next)
		return BQ_REPORT;
	return BQ_NONE;
}

static void balloon_config(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len,
			   bool is_write)
{
	struct virtio_balloon *b = d->priv;
	uint8_t *a = (uint8_t *)&b->cfg.actual;
	uint32_t i;

	if (!is_write) {
		virtio_config_copy(&b->cfg, sizeof(b->cfg), off, data, len);
		return;
	}
	/* only actual is the driver's (5.5.4: "the driver writes actual") */
	for (i = 0; i < len; i++)
		if (off + i >= offsetof(struct balloon_config, actual) &&
		    off + i < offsetof(struct balloon_config, actual) + 4)
			a[off + i - offsetof(struct balloon_config, actual)] = data[i];
}

/* Release a run of host memory (a whole number of pages inside RAM). */
static void discard(struct virtio_balloon *b, uint8_t *p, uint64_t len)
{
	int ret = guest_mem_discard(b->dev.host->mem, p, len);

	if (ret && !__atomic_exchange_n(&b->discard_logged, true, __ATOMIC_RELAXED))
		vsrv_log("%s: cannot release %llu KiB of guest memory: %s", b->dev.name,
			 (unsigned long long)(len >> 10), strerror(-ret));
}

/* One inflate or deflate buffer: an array of 32-bit PFNs of 4 KiB pages. Consecutive
 * pages are released in one call. */
static void serve_pfns(struct virtio_balloon *b, bool inflate)
{
	const struct guest_mem *mem = b->dev.host->mem;
	uint32_t pfn[PFN_BATCH];
	uint64_t good = 0, bad = 0, run_len = 0;
	uint8_t *run = NULL;
	size_t off = 0, got, i;

	while ((got = virtq_elem_read(&b->el, off, pfn, sizeof(pfn))) >= sizeof(pfn[0])) {
		off += got - got % sizeof(pfn[0]);
		for (i = 0; i < got / sizeof(pfn[0]); i++) {
			uint64_t gpa = (uint64_t)le32toh(pfn[i]) * VBALLOON_PAGE;
			uint8_t *p = guest_mem_ptr(mem, gpa, VBALLOON_PAGE);

			if (!p) {
				bad++;
				continue;
			}
			good++;
			if (!inflate)
				continue;
			if (run && p == run + run_len) {
				run_len += VBALLOON_PAGE;
				continue;
			}
			if (run)
				discard(b, run, run_len);
			run = p;
			run_len = VBALLOON_PAGE;
		}
		if (got < sizeof(pfn))
			break;
	}
	if (run)
		discard(b, run, run_len);
	pthread_mutex_lock(&b->lock);
	if (inflate) {
		b->inflate_pages += good;
		b->inflated += good;
	} else {
		b->deflate_pages += good;
		b->inflated = b->inflated > good ? b->inflated - good : 0;
	}
	if (bad && !b->bad_pfns)
		vsrv_log("%s: the guest gave PFNs outside its RAM (ignored; counted in bad_pfns)",
			 b->dev.name);
	b->bad_pfns += bad;
	pthread_mutex_unlock(&b->lock);
}

/* A free page report: every buffer of the chain is free guest memory; release the whole
 * pages it covers. */
static void serve_report(struct virtio_balloon *b)
{
	uint8_t *host = b->dev.host->mem->host;
	uint64_t total = 0;
	unsigned i;

	for (i = 0; i < (unsigned)b->el.n_out + b->el.n_in; i++) {
		uint64_t s = (uint64_t)((uint8_t *)b->el.iov[i].iov_base - host);
		uint64_t e = s + b->el.iov[i].iov_len;

		s = (s + VBALLOON_PAGE - 1) & ~(VBALLOON_PAGE - 1);
		e &= ~(VBALLOON_PAGE - 1);
		if (e <= s)
			continue;
		discard(b, host + s, e - s);
		total += e - s;
	}
	pthread_mutex_lock(&b->lock);
	b->reported += total;
	pthread_mutex_unlock(&b->lock);
}

/* Hand the held statistics buffer back: the driver reads that as a request for fresh
 * figures and sends the buffer again. I/O thread. */
static void stats_request(struct virtio_balloon *b, unsigned q)
{
	if (!b->stats_held)
		return;
	b->stats_held = false;
	virtio_push(&b->dev, q, b->stats_gen, b->stats_head, 0);
	virtio_notify(&b->dev, q);
}

/* A statistics buffer: {le16 tag, le64 value} entries, packed. Keep it until the next
 * request. */
static void serve_stats(struct virtio_balloon *b, unsigned q, uint32_t gen)
{
	struct stat_entry s[32];
	size_t got = virtq_elem_read(&b->el, 0, s, sizeof(s)), i;
	uint64_t val[VBALLOON_S_NR];
	uint32_t mask = 0;

	for (i = 0; i < got / sizeof(s[0]); i++) {
		unsigned t = le16toh(s[i].tag);

		if (t < VBALLOON_S_NR) {
			val[t] = le64toh(s[i].val);
			mask |= 1u << t;
		}
	}
	pthread_mutex_lock(&b->lock);
	for (i = 0; i < VBALLOON_S_NR; i++)
		if (mask & (1u << i))
			b->stats[i] = val[i];
	b->stats_mask |= mask;
	b->stats_time = clock_mono();
	b->stats_updates++;
	pthread_mutex_unlock(&b->lock);
	/* a driver that sends another buffer while one is held: the older goes back */
	stats_request(b, q);
	b->stats_held = true;
	b->stats_head = b->el.head;
	b->stats_gen = gen;
}

static void balloon_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_balloon *b = d->priv;
	enum bq kind = queue_of(d, q);
	uint32_t gen;
	int n = 0;

	if (kind == BQ_NONE)
		return;
	while (virtio_pop(d, q, &b->el, &gen) == 1) {
		switch (kind) {
		case BQ_INFLATE:
		case BQ_DEFLATE:
			serve_pfns(b, kind == BQ_INFLATE);
			break;
		case BQ_REPORT:
			serve_report(b);
			break;
		case BQ_STATS:
			serve_stats(b, q, gen);
			continue; /* held, not completed */
		case BQ_NONE:
			break;
		}
		virtio_push(d, q, gen, b->el.head, 0);
		if (++n % 32 == 0)
			virtio_notify(d, q);
	}
	if (n)
		virtio_notify(d, q);
}

void virtio_balloon_serve(struct virtio_balloon *b, unsigned q)
{
	balloon_notify(&b->dev, q);
}

static void on_timer(struct virtio_dev *d, int fd, uint32_t events)
{
	struct virtio_balloon *b = d->priv;
	uint64_t ticks;

	(void)events;
	if (read(fd, &ticks, sizeof(ticks)) < 0)
		return;
	if (virtio_dev_running(d) && virtio_has(d, VIRTIO_BALLOON_F_STATS_VQ))
		stats_request(b, Q_STATS);
}

/* Before a save: the held statistics buffer goes back to the driver (who sends it again),
 * so that nothing popped stays in the device. */
static int balloon_quiesce(struct virtio_dev *d)
{
	struct virtio_balloon *b = d->priv;

	if (virtio_has(d, VIRTIO_BALLOON_F_STATS_VQ))
		stats_request(b, Q_STATS);
	b->stats_held = false;
	return 0;
}

static const struct virtio_dev_ops balloon_ops = {
	.device_id = VIRTIO_ID_BALLOON,
	.config_access = balloon_config,
	.queue_notify = balloon_notify,
	.quiesce = balloon_quiesce,
};

int virtio_balloon_create(struct virtio_host *h, const struct vballoon_opts *o,
			  const char *name, struct virtio_balloon **out)
{
	struct virtio_balloon *b = calloc(1, sizeof(*b));
	uint64_t feat = 1ULL << VIRTIO_BALLOON_F_STATS_VQ;
	unsigned nq = 3;
	int ret;

	if (!b)
		return -ENOMEM;
	b->o = *o;
	b->timer_fd = -1;
	pthread_mutex_init(&b->lock, NULL);
	if (o->deflate_on_oom)
		feat |= 1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	if (o->reporting) {
		feat |= 1ULL << VIRTIO_BALLOON_F_REPORTING;
		nq++;
	}
	ret = virtio_dev_init(&b->dev, &balloon_ops, b, h, name, nq, QSIZE, feat);
	if (ret)
		goto err;
	b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (b->timer_fd < 0) {
		ret = -errno;
		goto err_dev;
	}
	if (o->stats_interval) {
		struct itimerspec its = { .it_interval = { o->stats_interval, 0 },
					  .it_value = { o->stats_interval, 0 } };

		if (timerfd_settime(b->timer_fd, 0, &its, NULL) < 0 ||
		    virtio_dev_watch(&b->dev, b->timer_fd, EPOLLIN, on_timer) < 0) {
			ret = -errno ? -errno : -EIO;
			goto err_dev;
		}
	}
	ret = virtio_dev_start(&b->dev);
	if (ret)
		goto err_dev;
	*out = b;
	return 0;
err_dev:
	virtio_dev_destroy(&b->dev);
err:
	vsrv_log("%s: cannot create the device: %s", name, strerror(-ret));
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	pthread_mutex_destroy(&b->lock);
	free(b);
	return ret;
}

struct virtio_dev *virtio_balloon_dev(struct virtio_balloon *b)
{
	return &b->dev;
}

void virtio_balloon_destroy(struct virtio_balloon *b)
{
	if (!b)
		return;
	virtio_dev_destroy(&b->dev);
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

int virtio_balloon_set_target(struct virtio_balloon *b, uint64_t bytes)
{
	if (bytes > b->dev.host->mem->size || bytes / VBALLOON_PAGE > UINT32_MAX)
		return -EINVAL;
	pthread_mutex_lock(&b->dev.lock);
	b->cfg.num_pages = htole32((uint32_t)(bytes / VBALLOON_PAGE));
	pthread_mutex_unlock(&b->dev.lock);
	virtio_config_changed(&b->dev);
	return 0;
}

void virtio_balloon_info(struct virtio_balloon *b, struct vballoon_info *out)
{
	struct virtio_dev *d = &b->dev;
	uint64_t ram = d->host->mem->size;

	memset(out, 0, sizeof(*out));
	out->ram = ram;
	pthread_mutex_lock(&d->lock);
	out->target = (uint64_t)le32toh(b->cfg.num_pages) * VBALLOON_PAGE;
	out->actual = (uint64_t)le32toh(b->cfg.actual) * VBALLOON_PAGE;
	out->driver_ok = (d->st.status & VIRTIO_STATUS_DRIVER_OK) &&
			 !(d->st.status & VIRTIO_STATUS_NEEDS_RESET);
	out->deflate_on_oom = virtio_has(d, VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	out->reporting = virtio_has(d, VIRTIO_BALLOON_F_REPORTING);
	pthread_mutex_unlock(&d->lock);
	if (out->actual > ram)
		out->actual = ram;
	pthread_mutex_lock(&b->lock);
	/* a guest that inflates the same pages again and again: at most its RAM */
	out->inflated = b->inflated < ram / VBALLOON_PAGE ? b->inflated : ram / VBALLOON_PAGE;
	out->inflate_pages = b->inflate_pages;
	out->deflate_pages = b->deflate_pages;
	out->bad_pfns = b->bad_pfns;
	out->reported = b->reported;
	out->stats_mask = b->stats_mask;
	memcpy(out->stats, b->stats, sizeof(out->stats));
	out->stats_updates = b->stats_updates;
	out->stats_age = b->stats_mask ? clock_mono() - b->stats_time : 0;
	pthread_mutex_unlock(&b->lock);
}

static uint32_t opts_bits(const struct vballoon_opts *o)
{
	return (o->deflate_on_oom ? VBALLOON_OPT_DEFLATE_ON_OOM : 0) |
	       (o->reporting ? VBALLOON_OPT_REPORTING : 0);
}

int virtio_balloon_save(struct virtio_balloon *b, struct virtio_balloon_state *st)
{
	int ret, qret;

	memset(st, 0, sizeof(*st));
	qret = virtio_dev_quiesce(&b->dev); /* the held buffer goes back first */
	if (qret == -EDEADLK)
		return qret;
	ret = virtio_dev_save(&b->dev, &st->dev);
	pthread_mutex_lock(&b->dev.lock);
	st->num_pages = le32toh(b->cfg.num_pages);
	st->actual = le32toh(b->cfg.actual);
	pthread_mutex_unlock(&b->dev.lock);
	st->opts = opts_bits(&b->o);
	st->stats_interval = b->o.stats_interval;
	pthread_mutex_lock(&b->lock);
	st->inflated = b->inflated;
	st->inflate_pages = b->inflate_pages;
	st->deflate_pages = b->deflate_pages;
	st->bad_pfns = b->bad_pfns;
	st->reported = b->reported;
	st->stats_mask = b->stats_mask;
	memcpy(st->stats, b->stats, sizeof(st->stats));
	st->stats_updates = b->stats_updates;
	pthread_mutex_unlock(&b->lock);
	virtio_dev_resume(&b->dev);
	return qret ? qret : ret;
}

int virtio_balloon_restore(struct virtio_balloon *b, const struct virtio_balloon_state *st)
{
	int ret;

	if (st->opts != opts_bits(&b->o) || st->stats_interval != b->o.stats_interval ||
	    (uint64_t)st->num_pages * VBALLOON_PAGE > b->dev.host->mem->size ||
	    (st->stats_mask >> VBALLOON_S_NR))
		return -EINVAL;
	ret = virtio_dev_check(&b->dev, &st->dev);
	if (ret)
		return ret;
	ret = virtio_dev_quiesce(&b->dev);
	if (ret == -EDEADLK)
		return ret;
	b->stats_held = false;
	pthread_mutex_lock(&b->dev.lock);
	b->cfg.num_pages = htole32(st->num_pages);
	b->cfg.actual = htole32(st->actual);
	pthread_mutex_unlock(&b->dev.lock);
	pthread_mutex_lock(&b->lock);
	b->inflated = st->inflated;
	b->inflate_pages = st->inflate_pages;
	b->deflate_pages = st->deflate_pages;
	b->bad_pfns = st->bad_pfns;
	b->reported = st->reported;
	b->stats_mask = st->stats_mask;
	memcpy(b->stats, st->stats, sizeof(b->stats));
	b->stats_updates = st->stats_updates;
	b->stats_time = clock_mono();
	pthread_mutex_unlock(&b->lock);
	ret = virtio_dev_restore(&b->dev, &st->dev);
	virtio_dev_resume(&b->dev);
	return ret;
}
