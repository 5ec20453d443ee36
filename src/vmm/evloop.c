#include "vmm/evloop.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct evwatch {
	int fd;
	evloop_fn fn;
	void *opaque;
	bool dead;
	struct evwatch *next; /* all watches, and the dead ones awaiting free */
};

struct evmsg {
	void (*fn)(void *opaque);
	void *opaque;
	struct evmsg *next;
};

struct evloop {
	int epfd;
	int wakefd;           /* eventfd: messages posted or stop requested */
	struct evwatch *watches;
	pthread_mutex_t mlock; /* protects the message queue only */
	struct evmsg *head, *tail;
	int stop_code;
	int stopping;          /* atomic */
};

int evloop_create(struct evloop **out)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct evloop *l;
	int ret;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		ret = -errno;
		goto err_free;
	}
	l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->wakefd < 0) {
		ret = -errno;
		goto err_epoll;
	}
	ev.data.ptr = NULL; /* NULL marks the wake fd */
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0) {
		ret = -errno;
		goto err_wake;
	}
	pthread_mutex_init(&l->mlock, NULL);
	*out = l;
	return 0;

err_wake:
	close(l->wakefd);
err_epoll:
	close(l->epfd);
err_free:
	free(l);
	return ret;
}

void evloop_destroy(struct evloop *l)
{
	struct evwatch *w, *wn;
	struct evmsg *m, *mn;

	if (!l)
		return;
	for (w = l->watches; w; w = wn) {
		wn = w->next;
		free(w);
	}
	for (m = l->head; m; m = mn) {
		mn = m->next;
		free(m);
	}
	pthread_mutex_destroy(&l->mlock);
	close(l->wakefd);
	close(l->epfd);
	free(l);
}

static struct evwatch *evloop_find(struct evloop *l, int fd)
{
	struct evwatch *w;

	for (w = l->watches; w; w = w->next)
		if (w->fd == fd && !w->dead)
			return w;
	return NULL;
}

int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *opaque)
{
	struct epoll_event ev = { .events = events };
	struct evwatch *w;

	if (evloop_find(l, fd))
		return -EEXIST;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->fn = fn;
	w->opaque = opaque;
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int ret = -errno;
		free(w);
		return ret;
	}
	w->next = l->watches;
	l->watches = w;
	return 0;
}

int evloop_mod(struct evloop *l, int fd, uint32_t events)
{
	struct evwatch *w = evloop_find(l, fd);
	struct epoll_event ev = { .events = events };

	if (!w)
		return -ENOENT;
	ev.data.ptr = w;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int evloop_del(struct evloop *l, int fd)
{
	struct evwatch *w = evloop_find(l, fd);

	if (!w)
		return -ENOENT;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	w->dead = true; /* freed after the current batch of events */
	return 0;
}

int evloop_post(struct evloop *l, void (*fn)(void *opaque), void *opaque)
{
	struct evmsg *m = malloc(sizeof(*m));
	uint64_t one = 1;

	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->opaque = opaque;
	m->next = NULL;
	pthread_mutex_lock(&l->mlock);
	if (l->tail)
		l->tail->next = m;
	else
		l->head = m;
	l->tail = m;
	pthread_mutex_unlock(&l->mlock);
	if (write(l->wakefd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the loop wakes anyway. */
	}
	return 0;
}

void evloop_stop(struct evloop *l, int code)
{
	uint64_t one = 1;
	int zero = 0;

	if (__atomic_compare_exchange_n(&l->stopping, &zero, 1, false, __ATOMIC_SEQ_CST,
					__ATOMIC_SEQ_CST))
		__atomic_store_n(&l->stop_code, code, __ATOMIC_SEQ_CST);
	if (write(l->wakefd, &one, sizeof(one)) < 0) {
		/* saturated: already awake */
	}
}

static void evloop_drain_messages(struct evloop *l)
{
	struct evmsg *m, *next;
	uint64_t v;

	if (read(l->wakefd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing pending */
	}
	pthread_mutex_lock(&l->mlock);
	m = l->head;
	l->head = l->tail = NULL;
	pthread_mutex_unlock(&l->mlock);
	for (; m; m = next) {
		next = m->next;
		m->fn(m->opaque);
		free(m);
	}
}

static void evloop_reap(struct evloop *l)
{
	struct evwatch **pp = &l->watches, *w;

	while ((w = *pp)) {
		if (w->dead) {
			*pp = w->next;
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

int evloop_run(struct evloop *l)
{
	struct epoll_event evs[32];
	int i, n;

	while (!__atomic_load_n(&l->stopping, __ATOMIC_SEQ_CST)) {
		n = epoll_wait(l->epfd, evs, 32, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n; i++) {
			struct evwatch *w = evs[i].data.ptr;
			if (!w)
				evloop_drain_messages(l);
			else if (!w->dead)
				w->fn(w->opaque, evs[i].events);
		}
		evloop_reap(l);
	}
	return __atomic_load_n(&l->stop_code, __ATOMIC_SEQ_CST);
}
