/* One agent socket's connection: connect, resynchronise, send, read, match replies,
 * expire; the heartbeat's commands and what they tell. Thread only. See agent_int.h. */
#include "server/agent.h"
#include "server/agent_int.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/unixsock.h"

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

int64_t agent_random_id(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)(clock_mono() * 1e6);
	return (int64_t)(r & 0x7fffffff) + 1;
}

static void set_field(json_t **f, json_t *v)
{
	if (!v)
		return;
	json_decref(*f);
	*f = v;
}

/* The end of command m on c: the heartbeat's answers update c, then m is answered. */
static void finish(struct agent_svc *s, struct conn *c, struct msg *m, int rc, json_t *ret,
		   const char *err)
{
	double now = clock_mono();
	bool was = c->responding;

	if (!rc) {
		c->ever = true;
		c->responding = true;
		c->last_seen = clock_real();
	}
	if (m->inner != I_NONE)
		c->inner_pending--;
	if (m->inner == I_PING) {
		if (rc)
			c->responding = false;
		if (c->watched && rc && was)
			vsrv_log("%s: guest agent not responding (%s)", c->name, err);
		else if (c->watched && !rc && !was)
			vsrv_log("%s: guest agent responding", c->name);
		if (!rc && now >= c->next_info)
			c->next_info = 0; /* conn_step asks */
	} else if (!rc && m->inner == I_OSINFO) {
		set_field(&c->os, agent_view_osinfo(ret));
	} else if (!rc && m->inner == I_HOSTNAME) {
		set_field(&c->hostname, agent_view_hostname(ret));
	} else if (!rc && m->inner == I_IFS) {
		set_field(&c->ifs, agent_view_interfaces(ret));
	} else if (!rc && m->inner == I_USERS) {
		set_field(&c->users, agent_view_users(ret));
	}
	agent_complete(s, m, rc, ret, rc ? "%s" : NULL, err ? err : "");
}

/* --- connections --------------------------------------------------------------------- */

struct conn *agent_conn_find(struct agent_svc *s, const char *path, bool create)
{
	struct conn *c;

	for (c = s->conns; c; c = c->next)
		if (!strcmp(c->path, path))
			return c;
	if (!create || !(c = calloc(1, sizeof(*c))))
		return NULL;
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(c->name, sizeof(c->name), "%s", path);
	c->fd = -1;
	c->idle_since = clock_mono();
	agent_rx_init(&c->rx);
	c->next = s->conns;
	s->conns = c;
	return c;
}

/* Close c's socket: the command in flight ends (rc; a no-reply command in its grace period
 * succeeded: the guest is going down); waiting ones stay for the next connection. */
static void conn_close(struct agent_svc *s, struct conn *c, int rc, const char *why)
{
	bool sent = c->st == C_GRACE; /* a no-reply command went out whole */

	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->st = C_CLOSED;
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	agent_rx_free(&c->rx);
	agent_rx_init(&c->rx);
	c->junk = 0;
	if (c->cur) {
		struct msg *m = c->cur;

		c->cur = NULL;
		if (sent)
			finish(s, c, m, 0, json_null(), NULL);
		else
			finish(s, c, m, rc, NULL, why);
	}
	c->idle_since = clock_mono();
}

/* Fail every command of c that waits (rc, why). */
static void fail_queue(struct agent_svc *s, struct conn *c, int rc, const char *why)
{
	while (c->q) {
		struct msg *m = c->q;

		c->q = m->next;
		finish(s, c, m, rc, NULL, why);
	}
}

static int conn_open(struct conn *c)
{
	/* A Unix socket connects at once or not at all (EAGAIN: its backlog is full). */
	int rc = unixsock_connect(c->path, true, &c->fd);

	if (rc)
		return rc;
	c->st = C_NEED_SYNC;
	return 0;
}

/* Queue bytes for c's socket (buf is taken over). */
static int out_add(struct conn *c, char *buf, size_t len)
{
	char *n;

	if (!buf)
		return -ENOMEM;
	if (!c->out) {
		c->out = buf;
		c->out_len = len;
		c->out_off = 0;
		return 0;
	}
	n = realloc(c->out, c->out_len + len);
	if (!n) {
		free(buf);
		return -ENOMEM;
	}
	memcpy(n + c->out_len, buf, len);
	c->out = n;
	c->out_len += len;
	free(buf);
	return 0;
}

void agent_conn_flush(struct agent_svc *s, struct conn *c)
{
	while (c->fd >= 0 && c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_close(s, c, -ECONNRESET, "the agent's socket closed");
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->fd < 0)
		return;
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	if (c->st == C_BUSY && c->cur && (c->cur->flags & AGENT_NO_REPLY)) {
		c->st = C_GRACE;
		c->grace_end = clock_mono() + AGENT_NO_REPLY_GRACE_MS / 1000.0;
		if (c->grace_end > c->cur->deadline)
			c->grace_end = c->cur->deadline;
	}
}

struct line_ctx {
	struct agent_svc *s;
	struct conn *c;
};

/* One line from c's agent. */
static void on_line(void *arg, const char *line, size_t len)
{
	struct line_ctx *x = arg;
	struct conn *c = x->c;
	struct agent_reply r;
	char err[330];
	struct msg *m;

	if (agent_reply_parse(line, len, &r)) {
		c->stray++;
		return;
	}
	if (c->st == C_SYNCING) {
		if (agent_sync_match(&r, c->sync_id)) {
			c->st = C_READY;
			c->junk = 0;
		} else {
			/* not our sync's answer: ours comes after another 0xFF */
			c->stray++;
			agent_rx_resync(&c->rx);
		}
		goto out;
	}
	m = c->cur;
	if (!m || (c->st != C_BUSY && c->st != C_GRACE) ||
	    (r.has_id && (!r.id_int || r.id != c->cur_id)) ||
	    (c->st == C_GRACE && !r.is_error)) {
		c->stray++;
		goto out;
	}
	c->cur = NULL;
	c->st = C_READY;
	c->junk = 0;
	if (r.is_error) {
		snprintf(err, sizeof(err), "%s: %s", r.err_class, r.err_desc);
		finish(x->s, c, m, -EREMOTEIO, NULL, err);
	} else {
		finish(x->s, c, m, 0, r.ret, NULL);
		r.ret = NULL;
	}
out:
	agent_reply_clear(&r);
}

void agent_conn_read(struct agent_svc *s, struct conn *c)
{
	char buf[READ_CHUNK];
	struct line_ctx x = { s, c };

	for (int i = 0; i < READS_PER_ROUND && c->fd >= 0; i++) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_close(s, c, -ECONNRESET, "the agent's socket closed");
			return;
		}
		c->junk += (size_t)n;
		agent_rx_feed(&c->rx, buf, (size_t)n, on_line, &x);
		if (c->junk > JUNK_MAX) {
			/* A guest that writes without end must not keep this thread reading. */
			vsrv_log("%s: guest agent sent %u MiB that answered nothing: disconnected for "
				 "%.0f s", c->name, JUNK_MAX >> 20, FLOOD_BACKOFF_S);
			conn_close(s, c, -EPROTO, "the agent floods its socket");
			fail_queue(s, c, -EPROTO, "the agent floods its socket");
			c->retry_at = clock_mono() + FLOOD_BACKOFF_S;
			return;
		}
	}
}

/* A command of the heartbeat, queued on c. */
static void queue_inner(struct agent_svc *s, struct conn *c, enum inner what, const char *cmd,
			int timeout_ms)
{
	struct msg *m = calloc(1, sizeof(*m)), **pp;

	(void)s;
	if (!m)
		return;
	m->kind = M_CALL;
	m->inner = what;
	m->detached = true;
	snprintf(m->cmd, sizeof(m->cmd), "%s", cmd);
	snprintf(m->name, sizeof(m->name), "%s", c->name);
	m->timeout_ms = timeout_ms;
	m->deadline = clock_mono() + timeout_ms / 1000.0;
	for (pp = &c->q; *pp; pp = &(*pp)->next)
		;
	*pp = m;
	c->inner_pending++;
}

/* Send the next thing c needs; expire what is late. */
void agent_conn_step(struct agent_svc *s, struct conn *c, double now)
{
	struct msg **pp, *m;

	if (c->watched && now >= c->next_ping) {
		c->next_ping = now + c->interval_ms / 1000.0;
		if (!c->inner_pending)
			queue_inner(s, c, I_PING, "guest-ping", INNER_TIMEOUT_MS);
	}
	if (c->watched && c->responding && c->next_info == 0) {
		c->next_info = now + INFO_EVERY_S;
		queue_inner(s, c, I_OSINFO, "guest-get-osinfo", INNER_TIMEOUT_MS);
		queue_inner(s, c, I_HOSTNAME, "guest-get-host-name", INNER_TIMEOUT_MS);
		queue_inner(s, c, I_IFS, "guest-network-get-interfaces", INNER_TIMEOUT_MS);
		queue_inner(s, c, I_USERS, "guest-get-users", INNER_TIMEOUT_MS);
	}
	if (c->cur && c->st == C_GRACE && now >= c->grace_end) {
		m = c->cur;
		c->cur = NULL;
		c->st = C_NEED_SYNC; /* a late error reply is dropped by the next sync */
		finish(s, c, m, 0, json_null(), NULL);
	}
	if (c->cur && now >= c->cur->deadline) {
		char why[80];

		m = c->cur;
		c->cur = NULL;
		c->st = C_NEED_SYNC; /* its late answer is dropped by the next sync */
		snprintf(why, sizeof(why), "no answer within %d ms", m->timeout_ms);
		finish(s, c, m, -ETIMEDOUT, NULL, why);
	}
	for (pp = &c->q; (m = *pp);) {
		if (now >= m->deadline) {
			char why[100];

			*pp = m->next;
			snprintf(why, sizeof(why), "no answer within %d ms%s", m->timeout_ms,
				 c->st == C_SYNCING ? " (to the resynchronisation)" : "");
			finish(s, c, m, -ETIMEDOUT, NULL, why);
		} else {
			pp = &m->next;
		}
	}
	if (c->st == C_SYNCING && now >= c->sync_deadline) {
		conn_close(s, c, -ETIMEDOUT, "no answer to the resynchronisation");
		c->retry_at = now + RETRY_S;
	}
	if (!c->q || c->cur)
		return;
	c->idle_since = now;
	if (c->fd < 0) {
		int rc;
		char why[200];

		if (now < c->retry_at)
			return;
		rc = conn_open(c);
		if (rc) {
			c->retry_at = now + RETRY_S;
			snprintf(why, sizeof(why), "cannot connect to its socket: %s", strerror(-rc));
			fail_queue(s, c, rc, why);
			return;
		}
	}
	if (c->st == C_NEED_SYNC) {
		size_t len = 0;
		char *req;

		c->sync_id = agent_random_id();
		req = agent_sync_request(c->sync_id, &len);
		if (out_add(c, req, len)) {
			fail_queue(s, c, -ENOMEM, "out of memory");
			return;
		}
		agent_rx_resync(&c->rx);
		c->st = C_SYNCING;
		c->sync_deadline = now + SYNC_MAX_S;
		if (c->sync_deadline > c->q->deadline + 0.001)
			c->sync_deadline = c->q->deadline + 0.001;
		agent_conn_flush(s, c);
		return;
	}
	if (c->st == C_READY) {
		size_t len = 0;
		char *req;

		m = c->q;
		c->q = m->next;
		m->next = NULL;
		c->cur_id = s->next_id++;
		if (s->next_id > ((int64_t)1 << 52))
			s->next_id = 1;
		req = agent_request(m->cmd, m->args, c->cur_id, &len);
		if (out_add(c, req, len)) {
			finish(s, c, m, -ENOMEM, NULL, "out of memory");
			return;
		}
		c->cur = m;
		c->st = C_BUSY;
		agent_conn_flush(s, c);
	}
}

/* The earliest time c needs the thread (mono seconds), or a second from now. */
double agent_conn_next(const struct conn *c, double now)
{
	double t = now + 1.0;
	const struct msg *m;

#define EARLIER(x) do { if ((x) < t) t = (x); } while (0)
	if (c->watched)
		EARLIER(c->next_ping);
	if (c->cur)
		EARLIER(c->st == C_GRACE ? c->grace_end : c->cur->deadline);
	if (c->st == C_SYNCING)
		EARLIER(c->sync_deadline);
	for (m = c->q; m; m = m->next)
		EARLIER(m->deadline);
	if (c->q && c->fd < 0)
		EARLIER(c->retry_at);
#undef EARLIER
	return t;
}

void agent_conn_free(struct agent_svc *s, struct conn *c, const char *why)
{
	conn_close(s, c, -ECANCELED, why);
	fail_queue(s, c, -ECANCELED, why);
	agent_rx_free(&c->rx);
	json_decref(c->os);
	json_decref(c->hostname);
	json_decref(c->ifs);
	json_decref(c->users);
	free(c);
}

json_t *agent_conn_status(const struct conn *c)
{
	const char *st;

	if (c && !c->watched)
		c = NULL; /* the heartbeat says how an agent is, not a passing call */
	st = !c || !c->ever ? "absent" : c->responding ? "responding" :
		"not responding";

	return json_pack("{s:s,s:o,s:O?,s:O?,s:O?,s:O?}", "status", st, "last_seen",
			 c && c->ever ? json_integer((json_int_t)c->last_seen) : json_null(),
			 "os", c ? c->os : NULL, "hostname", c ? c->hostname : NULL,
			 "interfaces", c ? c->ifs : NULL, "users", c ? c->users : NULL);
}

