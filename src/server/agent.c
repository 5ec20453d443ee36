/* The guest agent service: one thread, non-blocking sockets, messages. See agent.h; one
 * socket's connection is agent_conn.c. */
#include "server/agent.h"
#include "server/agent_int.h"
#include "util/clock.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int agent_path(const char *dir, char *buf, size_t n)
{
	if (n > PATH_MAX_UN)
		n = PATH_MAX_UN;
	return snprintf(buf, n, "%s/agent.sock", dir) >= (int)n ? -ENAMETOOLONG : 0;
}

/* --- answers ------------------------------------------------------------------------- */

void agent_complete(struct agent_svc *s, struct msg *m, int rc, json_t *ret, const char *fmt,
		    ...)
{
	char err[256] = "";

	if (fmt) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(err, sizeof(err), fmt, ap);
		va_end(ap);
	}
	if (m->detached) {
		if (rc && m->inner == I_NONE)
			vsrv_log("%s: guest agent %s: %s", m->name[0] ? m->name : m->path, m->cmd,
				 err);
		json_decref(ret);
		json_decref(m->args);
		free(m);
		return;
	}
	pthread_mutex_lock(&s->lock);
	m->rc = rc;
	m->ret = ret;
	snprintf(m->err, sizeof(m->err), "%s", err);
	m->done = true;
	pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->lock);
}

/* A message from a caller. */
static void take(struct agent_svc *s, struct msg *m, double now)
{
	struct conn *c, **pp;
	struct msg **mp;
	int n;

	switch (m->kind) {
	case M_CALL:
		c = agent_conn_find(s, m->path, true);
		if (!c) {
			agent_complete(s, m, -ENOMEM, NULL, "out of memory");
			return;
		}
		m->deadline = now + m->timeout_ms / 1000.0;
		n = 0;
		for (mp = &c->q; *mp; mp = &(*mp)->next)
			n++;
		if (n >= QUEUE_MAX) {
			agent_complete(s, m, -EBUSY, NULL, "%d commands already wait for this agent",
				       n);
			return;
		}
		*mp = m;
		return;
	case M_WATCH:
		c = agent_conn_find(s, m->path, true);
		if (c) {
			if (!c->watched) {
				c->next_ping = now;
				c->next_info = 0;
				c->ever = c->responding = false;
			}
			c->watched = true;
			c->interval_ms = m->interval_ms ? m->interval_ms : 10000;
			if (now + c->interval_ms / 1000.0 < c->next_ping)
				c->next_ping = now;
			snprintf(c->name, sizeof(c->name), "%s", m->name);
		}
		agent_complete(s, m, c ? 0 : -ENOMEM, NULL, NULL);
		return;
	case M_UNWATCH:
		for (pp = &s->conns; (c = *pp); pp = &c->next)
			if (!strcmp(c->path, m->path)) {
				*pp = c->next;
				agent_conn_free(s, c, "no longer watched");
				break;
			}
		agent_complete(s, m, 0, NULL, NULL);
		return;
	case M_STATUS:
		agent_complete(s, m, 0, agent_conn_status(agent_conn_find(s, m->path, false)), NULL);
		return;
	}
}

static void *agent_thread(void *arg)
{
	struct agent_svc *s = arg;
	struct pollfd *pfd = NULL;
	struct conn **pc = NULL;
	size_t cap = 0;

	for (;;) {
		struct msg *in, *m;
		struct conn *c, **pp;
		double now = clock_mono(), next = now + 1.0;
		size_t n = 1;
		bool stop;
		int rc;

		pthread_mutex_lock(&s->lock);
		in = s->inbox;
		s->inbox = NULL;
		s->inbox_tail = &s->inbox;
		stop = s->stop;
		pthread_mutex_unlock(&s->lock);
		for (; in; in = m) {
			m = in->next;
			in->next = NULL;
			take(s, in, now);
		}
		if (stop)
			break;
		for (pp = &s->conns; (c = *pp);) {
			agent_conn_step(s, c, now);
			if (!c->watched && !c->q && !c->cur &&
			    (c->fd < 0 || now - c->idle_since > IDLE_CLOSE_S)) {
				*pp = c->next;
				agent_conn_free(s, c, "idle");
				continue;
			}
			if (agent_conn_next(c, now) < next)
				next = agent_conn_next(c, now);
			n++;
			pp = &c->next;
		}
		if (n > cap) {
			struct pollfd *np = realloc(pfd, n * 2 * sizeof(*pfd));
			struct conn **nc = np ? realloc(pc, n * 2 * sizeof(*pc)) : NULL;

			if (np)
				pfd = np;
			if (nc)
				pc = nc;
			if (!np || !nc) {
				usleep(100000);
				continue;
			}
			cap = n * 2;
		}
		pfd[0] = (struct pollfd){ .fd = s->wake, .events = POLLIN };
		n = 1;
		for (c = s->conns; c; c = c->next) {
			if (c->fd < 0)
				continue;
			pc[n] = c;
			pfd[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN |
						    (c->out ? POLLOUT : 0) };
		}
		rc = poll(pfd, n, next <= now ? 0 : (int)((next - now) * 1000) + 1);
		if (rc <= 0)
			continue;
		if (pfd[0].revents) {
			uint64_t v;

			if (read(s->wake, &v, sizeof(v)) < 0) {
				/* EAGAIN: nothing more */
			}
		}
		for (size_t i = 1; i < n; i++) {
			c = pc[i];
			if ((pfd[i].revents & POLLOUT) && c->fd == pfd[i].fd)
				agent_conn_flush(s, c);
			if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) && c->fd == pfd[i].fd)
				agent_conn_read(s, c);
		}
	}
	while (s->conns) {
		struct conn *c = s->conns;

		s->conns = c->next;
		agent_conn_free(s, c, "the server is stopping");
	}
	free(pfd);
	free(pc);
	return NULL;
}

/* --- the callers' side ------------------------------------------------------------------ */

/* Hand m to the thread; false when the service is stopping (m is not taken). */
static bool post(struct agent_svc *s, struct msg *m)
{
	uint64_t one = 1;
	bool ok;

	pthread_mutex_lock(&s->lock);
	ok = !s->stop;
	if (ok) {
		*s->inbox_tail = m;
		s->inbox_tail = &m->next;
	}
	pthread_mutex_unlock(&s->lock);
	if (ok && write(s->wake, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, the thread wakes anyway */
	}
	return ok;
}

static void wait_done(struct agent_svc *s, struct msg *m)
{
	pthread_mutex_lock(&s->lock);
	while (!m->done)
		pthread_cond_wait(&s->done, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

static struct msg *new_msg(enum msg_kind kind, const char *path)
{
	struct msg *m;

	if (!path || strlen(path) >= PATH_MAX_UN || !(m = calloc(1, sizeof(*m))))
		return NULL;
	m->kind = kind;
	snprintf(m->path, sizeof(m->path), "%s", path);
	return m;
}

static struct msg *call_msg(const char *path, const char *cmd, json_t *args, int flags,
			    int timeout_ms)
{
	struct msg *m;

	if (!agent_cmd_valid(cmd) || (args && !json_is_object(args)))
		return NULL;
	m = new_msg(M_CALL, path);
	if (!m)
		return NULL;
	snprintf(m->cmd, sizeof(m->cmd), "%s", cmd);
	m->args = args ? json_deep_copy(args) : NULL;
	m->flags = flags;
	m->timeout_ms = timeout_ms <= 0 ? 5000 : timeout_ms > 600000 ? 600000 : timeout_ms;
	return m;
}

int agent_call(struct agent_svc *s, const char *path, const char *cmd, json_t *args,
	       int flags, int timeout_ms, json_t **ret, char *err, size_t errlen)
{
	struct msg *m;
	int rc;

	*ret = NULL;
	if (!path || strlen(path) >= PATH_MAX_UN) {
		if (err)
			snprintf(err, errlen, "the socket's path is too long");
		return -ENAMETOOLONG;
	}
	m = call_msg(path, cmd, args, flags, timeout_ms);
	if (!m) {
		if (err)
			snprintf(err, errlen, "invalid command or arguments");
		return -EINVAL;
	}
	if (!post(s, m)) {
		json_decref(m->args);
		free(m);
		if (err)
			snprintf(err, errlen, "the server is stopping");
		return -ECANCELED;
	}
	wait_done(s, m);
	rc = m->rc;
	*ret = m->ret;
	if (err)
		snprintf(err, errlen, "%s", m->err);
	json_decref(m->args);
	free(m);
	return rc;
}

void agent_post(struct agent_svc *s, const char *path, const char *name, const char *cmd,
		json_t *args, int flags, int timeout_ms)
{
	struct msg *m = call_msg(path, cmd, args, flags, timeout_ms);

	if (!m) {
		vsrv_log("%s: guest agent %s: not sent (invalid)", name ? name : path, cmd);
		return;
	}
	m->detached = true;
	snprintf(m->name, sizeof(m->name), "%s", name ? name : path);
	if (!post(s, m)) {
		json_decref(m->args);
		free(m);
	}
}

/* Send m and wait for its answer; m is freed. */
static json_t *roundtrip(struct agent_svc *s, struct msg *m)
{
	json_t *ret;

	if (!m)
		return NULL;
	if (!post(s, m)) {
		free(m);
		return NULL;
	}
	wait_done(s, m);
	ret = m->ret;
	free(m);
	return ret;
}

void agent_watch(struct agent_svc *s, const char *path, const char *name, unsigned interval_ms)
{
	struct msg *m = new_msg(M_WATCH, path);

	if (m) {
		snprintf(m->name, sizeof(m->name), "%s", name ? name : path);
		m->interval_ms = interval_ms;
	}
	json_decref(roundtrip(s, m));
}

void agent_unwatch(struct agent_svc *s, const char *path)
{
	json_decref(roundtrip(s, new_msg(M_UNWATCH, path)));
}

json_t *agent_status(struct agent_svc *s, const char *path)
{
	json_t *st = roundtrip(s, new_msg(M_STATUS, path));

	return st ? st : agent_conn_status(NULL);
}

int agent_svc_create(struct agent_svc **out)
{
	struct agent_svc *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake < 0) {
		free(s);
		return -errno;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->done, NULL);
	s->inbox_tail = &s->inbox;
	s->next_id = agent_random_id();
	if (pthread_create(&s->thread, NULL, agent_thread, s)) {
		pthread_cond_destroy(&s->done);
		pthread_mutex_destroy(&s->lock);
		close(s->wake);
		free(s);
		return -EAGAIN;
	}
	*out = s;
	return 0;
}

void agent_svc_destroy(struct agent_svc *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_mutex_unlock(&s->lock);
	if (write(s->wake, &one, sizeof(one)) < 0) {
		/* the thread wakes within a second anyway */
	}
	pthread_join(s->thread, NULL);
	close(s->wake);
	pthread_cond_destroy(&s->done);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
