#include "devices/virtio/virtio.h"

#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAX_WATCH 32 /* 17 queues + 8 TAP queues + a few */

struct watch {
	int fd;
	void (*fn)(struct virtio_dev *d, int fd, uint32_t events);
};

struct virtio_worker {
	int epfd;
	int stopfd;
	int pausefd;              /* virtio_dev_quiesce asks the thread to park */
	pthread_t thread;
	bool started;
	unsigned nwatch;
	struct watch w[MAX_WATCH];
	/* Quiescing (see virtio_dev_quiesce): under qlock. */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	unsigned depth;           /* nested virtio_dev_quiesce calls not resumed yet */
	bool want_pause;          /* the thread should park */
	bool parked;              /* it has drained and parked */
	bool stopping;            /* destroy: serve nothing more, not even pending kicks */
	int drain_ret;            /* what the device's quiesce op returned */
	struct watch pause_watch; /* marks pausefd in the epoll set */
};

static void on_kick(struct virtio_dev *d, int fd, uint32_t events)
{
	uint64_t v;
	unsigned q;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0) {
		if (errno != EAGAIN)
			return;
		v = 0;
	}
	d->stat_kicks += v;
	for (q = 0; q < d->nq; q++)
		if (d->kick_fd[q] == fd)
			d->ops->queue_notify(d, q);
}

/* On the I/O thread: pausefd fired. Drain the device, then park until resumed. */
static void worker_park(struct virtio_dev *d)
{
	struct virtio_worker *w = d->worker;
	uint64_t v;
	int ret = 0;

	if (read(w->pausefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		vsrv_log("%s: pause: %s", d->name, strerror(errno));
	pthread_mutex_lock(&w->qlock);
	if (!w->want_pause) { /* resumed before we got here */
		pthread_mutex_unlock(&w->qlock);
		return;
	}
	pthread_mutex_unlock(&w->qlock);
	if (d->ops->quiesce)
		ret = d->ops->quiesce(d);
	pthread_mutex_lock(&w->qlock);
	w->drain_ret = ret;
	w->parked = true;
	pthread_cond_broadcast(&w->qcond);
	while (w->want_pause)
		pthread_cond_wait(&w->qcond, &w->qlock);
	w->parked = false;
	pthread_mutex_unlock(&w->qlock);
}

static void *worker_main(void *arg)
{
	struct virtio_dev *d = arg;
	struct virtio_worker *w = d->worker;
	struct epoll_event ev[16];

	for (;;) {
		int n = epoll_wait(w->epfd, ev, 16, -1), i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (i = 0; i < n; i++) {
			struct watch *wt = ev[i].data.ptr;

			if (!wt)
				return NULL; /* stopfd */
			if (wt == &w->pause_watch) {
				worker_park(d);
				continue;
			}
			if (__atomic_load_n(&w->stopping, __ATOMIC_ACQUIRE))
				return NULL;
			if (wt->fd >= 0) /* not unwatched by an earlier callback of this batch */
				wt->fn(d, wt->fd, ev[i].events);
		}
	}
	return NULL;
}

int virtio_dev_watch(struct virtio_dev *d, int fd, uint32_t events,
		     void (*fn)(struct virtio_dev *d, int fd, uint32_t events))
{
	struct virtio_worker *w = d->worker;
	struct epoll_event ev = { .events = events };
	struct watch *wt;

	unsigned i;

	for (i = 0; i < w->nwatch && w->w[i].fd >= 0; i++)
		;
	if (i >= MAX_WATCH)
		return -ENOSPC;
	wt = &w->w[i];
	ev.data.ptr = wt;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	wt->fd = fd;
	wt->fn = fn;
	if (i == w->nwatch)
		w->nwatch++;
	return 0;
}

int virtio_dev_unwatch(struct virtio_dev *d, int fd)
{
	struct virtio_worker *w = d->worker;
	unsigned i;

	for (i = 0; i < w->nwatch; i++) {
		if (w->w[i].fd == fd) {
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
			w->w[i].fd = -1;
			return 0;
		}
	}
	return -ENOENT;
}

int virtio_dev_watch_mod(struct virtio_dev *d, int fd, uint32_t events)
{
	struct virtio_worker *w = d->worker;
	unsigned i;

	for (i = 0; i < w->nwatch; i++) {
		if (w->w[i].fd == fd) {
			struct epoll_event ev = { .events = events, .data.ptr = &w->w[i] };

			return epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
		}
	}
	return -ENOENT;
}

int virtio_dev_init(struct virtio_dev *d, const struct virtio_dev_ops *ops, void *priv,
		    struct virtio_host *host, const char *name, unsigned nq, uint16_t queue_max,
		    uint64_t features)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct epoll_event pev = { .events = EPOLLIN };
	struct virtio_worker *w;
	unsigned q;
	int ret;

	if (nq == 0 || nq > VIRTIO_MAX_QUEUES || queue_max > VIRTQ_MAX_SIZE)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->priv = priv;
	d->host = host;
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->nq = nq;
	d->queue_max = queue_max;
	d->host_features = features | 1ULL << VIRTIO_F_VERSION_1 |
			   1ULL << VIRTIO_F_INDIRECT_DESC | 1ULL << VIRTIO_F_EVENT_IDX |
			   1ULL << VIRTIO_F_RING_PACKED;
	pthread_mutex_init(&d->lock, NULL);
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->kick_fd[q] = -1;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	d->worker = w;
	pthread_mutex_init(&w->qlock, NULL);
	pthread_cond_init(&w->qcond, NULL);
	w->pause_watch.fd = -1;
	pev.data.ptr = &w->pause_watch;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->pausefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->epfd < 0 || w->stopfd < 0 || w->pausefd < 0 ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->stopfd, &ev) < 0 ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->pausefd, &pev) < 0) {
		ret = -errno;
		goto err;
	}
	for (q = 0; q < nq; q++) {
		snprintf(d->vq_name[q], sizeof(d->vq_name[q]), "%s queue %u", d->name, q);
		virtq_init(&d->vq[q], host->mem, d->vq_name[q]);
		virtq_reset(&d->vq[q], queue_max);
		d->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->kick_fd[q] < 0) {
			ret = -errno;
			goto err;
		}
		ret = virtio_dev_watch(d, d->kick_fd[q], EPOLLIN, on_kick);
		if (ret)
			goto err;
	}
	return 0;
err:
	virtio_dev_destroy(d);
	return ret;
}

int virtio_dev_start(struct virtio_dev *d)
{
	int ret = pthread_create(&d->worker->thread, NULL, worker_main, d);

	if (ret)
		return -ret;
	pthread_mutex_lock(&d->worker->qlock);
	d->worker->started = true;
	if (d->worker->depth) { /* quiesced before it started: park at once */
		uint64_t one = 1;

		d->worker->want_pause = true;
		if (write(d->worker->pausefd, &one, sizeof(one)) < 0)
			vsrv_log("%s: pause: %s", d->name, strerror(errno));
	}
	pthread_mutex_unlock(&d->worker->qlock);
	return 0;
}

void virtio_dev_destroy(struct virtio_dev *d)
{
	struct virtio_worker *w = d->worker;
	unsigned q;

	if (w) {
		if (w->started) {
			uint64_t one = 1;

			/* a parked thread is let go, and stops without serving the kicks that
			 * arrived while it was parked (a saved device must not move on) */
			pthread_mutex_lock(&w->qlock);
			if (w->depth)
				__atomic_store_n(&w->stopping, true, __ATOMIC_RELEASE);
			w->depth = 0;
			w->want_pause = false;
			pthread_cond_broadcast(&w->qcond);
			pthread_mutex_unlock(&w->qlock);
			if (write(w->stopfd, &one, sizeof(one)) < 0)
				vsrv_log("%s: cannot stop I/O thread: %s", d->name, strerror(errno));
			pthread_join(w->thread, NULL);
			if (getenv("VSRV_STATS"))
				fprintf(stderr, "vsrv: %s: %llu notifications (%llu through a "
					"user-space exit), %llu interrupts\n", d->name,
					(unsigned long long)(d->stat_kicks - d->stat_own_kicks),
					(unsigned long long)d->stat_bus_kicks,
					(unsigned long long)d->stat_irqs);
		}
		if (w->epfd >= 0)
			close(w->epfd);
		if (w->stopfd >= 0)
			close(w->stopfd);
		if (w->pausefd >= 0)
			close(w->pausefd);
		pthread_cond_destroy(&w->qcond);
		pthread_mutex_destroy(&w->qlock);
		free(w);
		d->worker = NULL;
	}
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (d->kick_fd[q] >= 0)
			close(d->kick_fd[q]);
		d->kick_fd[q] = -1;
	}
}

int virtio_dev_quiesce(struct virtio_dev *d)
{
	struct virtio_worker *w = d->worker;
	uint64_t one = 1;
	int ret = 0;

	if (w->started && pthread_equal(pthread_self(), w->thread))
		return -EDEADLK;
	pthread_mutex_lock(&w->qlock);
	if (w->depth++ == 0 && w->started) {
		w->want_pause = true;
		if (write(w->pausefd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
			ret = -errno;
			w->want_pause = false;
			w->depth--;
			goto out;
		}
	}
	/* every caller returns only once the thread is parked (none: nothing in flight) */
	while (w->started && !w->parked)
		pthread_cond_wait(&w->qcond, &w->qlock);
	ret = w->started ? w->drain_ret : 0;
out:
	pthread_mutex_unlock(&w->qlock);
	return ret;
}

int virtio_dev_resume(struct virtio_dev *d)
{
	struct virtio_worker *w = d->worker;

	pthread_mutex_lock(&w->qlock);
	if (w->depth == 0) {
		pthread_mutex_unlock(&w->qlock);
		return -EINVAL;
	}
	if (--w->depth == 0) {
		w->want_pause = false;
		pthread_cond_broadcast(&w->qcond);
	}
	pthread_mutex_unlock(&w->qlock);
	/* A device that drained may have left notifications off on a queue: look at all. */
	virtio_dev_kick_all(d);
	return 0;
}

bool virtio_dev_quiesced(struct virtio_dev *d)
{
	struct virtio_worker *w = d->worker;
	bool ret;

	pthread_mutex_lock(&w->qlock);
	ret = w->depth > 0;
	pthread_mutex_unlock(&w->qlock);
	return ret;
}

uint32_t virtio_dev_features_read(struct virtio_dev *d, uint32_t sel)
{
	return sel < 2 ? (uint32_t)(d->host_features >> (32 * sel)) : 0;
}

void virtio_dev_features_write(struct virtio_dev *d, uint32_t sel, uint32_t val)
{
	uint64_t mask;

	if (sel >= 2 || (d->st.status & VIRTIO_STATUS_FEATURES_OK))
		return;
	mask = 0xffffffffULL << (32 * sel);
	d->st.driver_features = (d->st.driver_features & ~mask) |
				(((uint64_t)val << (32 * sel)) & d->host_features);
}

static void kick_queue(struct virtio_dev *d, unsigned q);

static void dev_reset(struct virtio_dev *d)
{
	unsigned q;

	if (d->ops->status_change)
		d->ops->status_change(d, false);
	d->st.driver_features = 0;
	d->st.status = 0;
	d->st.isr = 0;
	d->st.generation++;
	for (q = 0; q < d->nq; q++)
		virtq_reset(&d->vq[q], d->queue_max);
}

void virtio_dev_set_status(struct virtio_dev *d, uint32_t status)
{
	uint32_t old = d->st.status;
	unsigned q;

	if (status == 0) {
		dev_reset(d);
		return;
	}
	status &= 0xff;
	if ((status & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    !virtio_has(d, VIRTIO_F_VERSION_1)) {
		vsrv_log("%s: driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not "
			 "supported)", d->name);
		status &= ~VIRTIO_STATUS_FEATURES_OK;
	}
	/* NEEDS_RESET is the device's to set; the driver cannot clear it. */
	status = (status & ~VIRTIO_STATUS_NEEDS_RESET) | (old & VIRTIO_STATUS_NEEDS_RESET);
	d->st.status = status;
	if ((status & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
		if (d->ops->status_change)
			d->ops->status_change(d, true);
		/* Work may have been queued before DRIVER_OK: look at every queue. */
		for (q = 0; q < d->nq; q++) {
			__atomic_fetch_add(&d->stat_own_kicks, 1, __ATOMIC_RELAXED);
			kick_queue(d, q);
		}
	}
}

static void set_needs_reset(struct virtio_dev *d)
{
	if (d->st.status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	d->st.status |= VIRTIO_STATUS_NEEDS_RESET;
	if (d->st.status & VIRTIO_STATUS_DRIVER_OK) {
		d->st.config_gen++;
		d->st.isr |= VIRTIO_ISR_CONFIG;
		if (d->signal)
			d->signal(d, -1);
	}
}

void virtio_dev_needs_reset(struct virtio_dev *d, const char *why)
{
	if (!(d->st.status & VIRTIO_STATUS_NEEDS_RESET))
		vsrv_log("%s: %s; device needs reset", d->name, why);
	set_needs_reset(d);
}

void virtio_dev_queue_enable(struct virtio_dev *d, unsigned q)
{
	if (q >= d->nq)
		return;
	d->vq[q].s.packed = virtio_has(d, VIRTIO_F_RING_PACKED);
	if (virtq_enable(&d->vq[q], virtio_has(d, VIRTIO_F_EVENT_IDX),
			 virtio_has(d, VIRTIO_F_INDIRECT_DESC)))
		set_needs_reset(d); /* virtq_enable logged the one line */
}

static void kick_queue(struct virtio_dev *d, unsigned q)
{
	uint64_t one = 1;

	if (write(d->kick_fd[q], &one, sizeof(one)) < 0 && errno != EAGAIN)
		vsrv_log("%s: kick: %s", d->name, strerror(errno));
}

void virtio_dev_kick_all(struct virtio_dev *d)
{
	unsigned q;

	for (q = 0; q < d->nq; q++) {
		__atomic_fetch_add(&d->stat_own_kicks, 1, __ATOMIC_RELAXED);
		kick_queue(d, q);
	}
}

void virtio_dev_kick(struct virtio_dev *d, uint32_t q)
{
	if (q >= d->nq) {
		if (!__atomic_exchange_n(&d->bad_notify_logged, true, __ATOMIC_RELAXED))
			vsrv_log("%s: notification for queue %u, which does not exist", d->name, q);
		return;
	}
	__atomic_fetch_add(&d->stat_bus_kicks, 1, __ATOMIC_RELAXED);
	kick_queue(d, q);
}

bool virtio_dev_running(struct virtio_dev *d)
{
	return (d->st.status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
	       VIRTIO_STATUS_DRIVER_OK;
}

static int pop_locked(struct virtio_dev *d, unsigned q, struct virtq_elem *e, uint32_t *gen,
		      bool arm)
{
	int ret = 0;

	if (q < d->nq && virtio_dev_running(d)) {
		ret = virtq_pop(&d->vq[q], e);
		/* Empty: re-enable notifications, then look once more (closes the race
		 * with a driver that published while notifications were off). */
		if (ret == 0 && arm && virtq_arm(&d->vq[q]))
			ret = virtq_pop(&d->vq[q], e);
		if (ret < 0) {
			/* virtq logged the reason */
			d->st.status |= VIRTIO_STATUS_NEEDS_RESET;
			d->st.config_gen++;
			d->st.isr |= VIRTIO_ISR_CONFIG;
			if (d->signal)
				d->signal(d, -1);
		}
		*gen = d->st.generation;
	}
	return ret;
}

int virtio_pop(struct virtio_dev *d, unsigned q, struct virtq_elem *e, uint32_t *gen)
{
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = pop_locked(d, q, e, gen, true);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int virtio_pop_busy(struct virtio_dev *d, unsigned q, struct virtq_elem *e, uint32_t *gen)
{
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = pop_locked(d, q, e, gen, false);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

bool virtio_arm(struct virtio_dev *d, unsigned q)
{
	bool ret = false;

	pthread_mutex_lock(&d->lock);
	if (q < d->nq && virtio_dev_running(d))
		ret = virtq_arm(&d->vq[q]);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

bool virtio_has_avail(struct virtio_dev *d, unsigned q)
{
	bool ret = false;

	pthread_mutex_lock(&d->lock);
	if (q < d->nq && virtio_dev_running(d))
		ret = virtq_has_avail(&d->vq[q]);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

void virtio_push(struct virtio_dev *d, unsigned q, uint32_t gen, uint16_t head, uint32_t len)
{
	pthread_mutex_lock(&d->lock);
	if (q < d->nq && gen == d->st.generation)
		virtq_push(&d->vq[q], head, len);
	pthread_mutex_unlock(&d->lock);
}

void virtio_notify(struct virtio_dev *d, unsigned q)
{
	pthread_mutex_lock(&d->lock);
	if (q < d->nq && (d->st.status & VIRTIO_STATUS_DRIVER_OK) &&
	    virtq_should_notify(&d->vq[q])) {
		d->st.isr |= VIRTIO_ISR_QUEUE;
		d->stat_irqs++;
		if (d->signal)
			d->signal(d, q);
	}
	pthread_mutex_unlock(&d->lock);
}

void virtio_config_changed(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	d->st.config_gen++;
	if (d->st.status & VIRTIO_STATUS_DRIVER_OK) {
		d->st.isr |= VIRTIO_ISR_CONFIG;
		if (d->signal)
			d->signal(d, -1);
	}
	pthread_mutex_unlock(&d->lock);
}

void virtio_config_copy(const void *cfg, uint32_t n, uint32_t off, uint8_t *data, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		data[i] = (off + i < n && off + i >= off) ? ((const uint8_t *)cfg)[off + i] : 0;
}
