/* The VNC clients' sockets (vnc_int.h): a thread that copies between each client's socket and
 * the Unix socket pair LibVNCServer speaks on, so that LibVNCServer, on the control loop,
 * never waits for a client that does not read.
 *
 * LibVNCServer 0.9.14 writes with write() and, when the socket is full, waits in select() in
 * steps of 5 s (its rfbWriteExact; maxClientWait is only checked after a step): one client
 * that stops reading held the control loop 5 s per write. Here its end of the pair is
 * always read at once into memory (the client's backlog), so its writes only wait for this
 * thread to be scheduled; the backlog goes to the client as its socket takes it. A client
 * whose backlog passes its bound, or that took nothing of it for stall_ms, is disconnected:
 * both sockets are closed, and LibVNCServer sees the end of its socket on its next read or
 * write. Bytes from the client go the other way, held back (the client is no longer read)
 * while LibVNCServer has RELAY_IN_HOLD of them it has not taken; those a client sent before
 * it hung up still go, then the end.
 *
 * LibVNCServer also reads a message in one piece, waiting up to maxClientWait for each next
 * byte: a client that sends one byte a second held the loop for as long as it liked. So it
 * gets only whole messages: the relay finds where each ends (vnc_frame.h) and holds the
 * start of one until the rest is there (up to a 1 MiB clipboard; a longer one is thrown
 * away as it comes). A client whose message gets no byte for partial_ms, or takes longer
 * than partial_ms and its length at RELAY_RATE, or that sends a message LibVNCServer does
 * not take, is disconnected with a log line. Those clocks, and stall_ms's, run only while the
 * client is read: not while it is held back because LibVNCServer is behind (the loop stalled,
 * as in a long savestate), when what it could not send (or could not read, blocked in its
 * sends) is no sign that it is slow. A WebSocket client's
 * frames are decoded first (vnc_ws.h) and each of its whole messages goes to LibVNCServer
 * in a frame of its own. As a last guard, the loop says when it lets LibVNCServer read a
 * client (vnc_relay_busy) and when that is over (vnc_relay_idle); a client still being read
 * after max_ms is disconnected the same way.
 *
 * Threads: vnc_relay_start/stop, _add, _set_bound, _busy and _idle on the control loop's
 * thread (or before it runs); they reach this thread only through the command pipe.
 * Everything else, and every field of a connection, is this thread's. */
#include "vmm/vnc_relay_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <stdint.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/vnc_ws.h"

#define RELAY_RATE    32768        /* bytes a second: the slowest a long message may come */

enum { CMD_ADD, CMD_BOUND, CMD_BUSY, CMD_IDLE };

struct relay_cmd {
	int op;
	int cfd, bfd;          /* CMD_ADD: the client's socket, our end of the pair */
	int stall_ms;          /* CMD_BUSY: the most LibVNCServer may read for */
	struct vnc_relay_limits lim; /* CMD_ADD: this connection's; CMD_BOUND: max_backlog */
	uint64_t id;           /* CMD_ADD, CMD_BUSY: the connection */
};

int64_t relay_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t backlog(const struct relay_conn *c)
{
	return c->out_len - c->out_off;
}

static void conn_kill(struct vnc_relay *r, struct relay_conn *c)
{
	if (c->cfd >= 0) {
		epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->cfd, NULL);
		close(c->cfd);
		c->cfd = -1;
	}
	if (c->bfd >= 0) {
		epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->bfd, NULL);
		close(c->bfd);
		c->bfd = -1;
	}
	c->dead = true;
}

void relay_close_b(struct vnc_relay *r, struct relay_conn *c)
{
	if (c->bfd < 0)
		return;
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->bfd, NULL);
	close(c->bfd);
	c->bfd = -1;
	c->in_off = c->in_pass;
}

static void watch(struct vnc_relay *r, int fd, struct relay_end *e, uint32_t *have, uint32_t want)
{
	struct epoll_event ev = { .events = want, .data.ptr = e };

	if (fd < 0 || *have == want)
		return;
	epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &ev);
	*have = want;
}

/* Bytes to the client now, without waiting: how many it took. -1: it is gone. */
static ssize_t send_now(struct relay_conn *c, const uint8_t *p, size_t n)
{
	size_t off = 0;

	while (off < n && !c->c_full) {
		ssize_t k = send(c->cfd, p + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (k > 0) {
			off += (size_t)k;
			c->progress_ms = relay_now_ms();
		} else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->c_full = true; /* until epoll says its socket has room again */
		} else if (!(k < 0 && errno == EINTR)) {
			return -1;
		}
	}
	return (ssize_t)off;
}

/* n bytes after the backlog. false: out of memory. */
static bool out_append(struct relay_conn *c, const uint8_t *p, size_t n)
{
	size_t keep = backlog(c), cap = c->out_cap;

	if (c->out_cap - c->out_len < n) {
		if (c->out_off) { /* move the backlog to the front first */
			memmove(c->out, c->out + c->out_off, keep);
			c->out_off = 0;
			c->out_len = keep;
		}
		while (cap - keep < n)
			cap = cap ? cap * 2 : RELAY_OUT_MIN;
		if (cap != c->out_cap) {
			uint8_t *q = realloc(c->out, cap);

			if (!q)
				return false;
			c->out = q;
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return true;
}

/* The VM's clients' backlogs over their bound (the relay's max_total): the client with the
 * most waiting, the one that least drains, is disconnected (logged, counted) until they are
 * not. false: that was c. */
static bool bound_total(struct vnc_relay *r, struct relay_conn *c)
{
	for (;;) {
		struct relay_conn *big = NULL;
		size_t total = 0;

		for (struct relay_conn *x = r->conns; x; x = x->next) {
			if (x->dead)
				continue;
			total += backlog(x);
			if (!big || backlog(x) > backlog(big))
				big = x;
		}
		if (total <= r->total_max) {
			if (total > r->peak)
				r->peak = total;
			return true;
		}
		vsrv_log("vnc: client %llu: %zu bytes wait for it, the most of any client, and %zu "
			 "for the VM's clients, over their bound of %zu: disconnected",
			 (unsigned long long)big->id, backlog(big), total, r->total_max);
		conn_kill(r, big);
		r->drops++;
		if (big == c)
			return false;
	}
}

/* One read of LibVNCServer's output (into the relay's chunk, shared): what the client takes
 * at once goes, the rest waits in its backlog. 1 a whole chunk came (there may be more), 2
 * less (its socket is empty: epoll says when there is more), 0 none (for now, or ever: it
 * closed its end), -1 the connection is over its bound, or the VM's clients over theirs and
 * this one has the most waiting (or out of memory, or the client is gone). */
static int take_output(struct vnc_relay *r, struct relay_conn *c)
{
	for (;;) {
		ssize_t n, off = 0;

		if (c->bfd < 0)
			return 0;
		n = read(c->bfd, r->out_chunk, RELAY_CHUNK);
		if (n > 0) {
			if (c->c_hup)
				off = n; /* it takes nothing more: dropped */
			else if (!backlog(c) && (off = send_now(c, r->out_chunk, (size_t)n)) < 0)
				return -1;
			if (off < n) {
				if (!backlog(c))
					c->progress_ms = relay_now_ms(); /* the stall clock starts now */
				if (!out_append(c, r->out_chunk + off, (size_t)(n - off)) ||
				    backlog(c) > c->lim.max_backlog || !bound_total(r, c))
					return -1;
			}
			if (n == RELAY_CHUNK)
				return 1;
			c->b_ready = false;
			return 2;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->b_ready = false;
			return 0;
		}
		relay_close_b(r, c); /* closed by LibVNCServer: what it sent still goes out */
		return 0;
	}
}

/* The backlog to the client; its buffer freed once empty (an idle client holds none).
 * false: the client is gone. */
static bool give_output(struct relay_conn *c)
{
	ssize_t n;

	if (backlog(c) && !c->c_hup) {
		n = send_now(c, c->out + c->out_off, backlog(c));
		if (n < 0)
			return false;
		c->out_off += (size_t)n;
		if (backlog(c))
			return true;
	}
	c->out_off = c->out_len = 0;
	free(c->out);
	c->out = NULL;
	c->out_cap = 0;
	return true;
}

/* Move what can move, then watch for what can move next. */
static void conn_pump(struct vnc_relay *r, struct relay_conn *c, uint32_t cev, uint32_t bev)
{
	int k;

	if (cev & EPOLLERR) {
		conn_kill(r, c); /* the client is gone both ways */
		return;
	}
	if ((cev & EPOLLHUP) && !c->c_hup) {
		/* it takes nothing more, but what it sent before its hang-up (still in its
		 * socket) goes to LibVNCServer as it takes it, then the end; its socket leaves
		 * epoll (a hang-up is reported whatever is watched) */
		epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->cfd, NULL);
		c->c_hup = true;
	}
	if (cev & EPOLLOUT)
		c->c_full = false;
	if (cev & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
		c->c_ready = true;
	if (bev & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR))
		c->b_ready = true;
	/* LibVNCServer's end is always read to its end (its writes must not wait), a chunk
	 * at a time, each passed on at once while the client takes it: the backlog grows
	 * only while the client does not; a short read ends it (no read to learn EAGAIN) */
	for (k = c->b_ready;; k = take_output(r, c)) {
		if (!give_output(c)) {
			conn_kill(r, c);
			return;
		}
		if (k != 1)
			break;
	}
	if (k < 0 || !relay_give_input(r, c)) {
		conn_kill(r, c);
		return;
	}
	if (c->bfd < 0 && !backlog(c)) {
		conn_kill(r, c); /* LibVNCServer is done and the client has it all */
		return;
	}
	watch(r, c->c_hup ? -1 : c->cfd, &c->ce, &c->cev,
	      (c->c_eof || relay_pending(c) >= RELAY_IN_HOLD ? 0 : EPOLLIN) |
	      (backlog(c) ? EPOLLOUT : 0));
	watch(r, c->bfd, &c->be, &c->bev, EPOLLIN | (relay_pending(c) ? EPOLLOUT : 0));
}

/* The working buffers, for the first client. false: out of memory. */
static bool bufs_get(struct vnc_relay *r)
{
	if (r->out_chunk)
		return true;
	r->out_chunk = malloc(RELAY_CHUNK + RELAY_IN_CHUNK);
	r->scratch = r->out_chunk ? r->out_chunk + RELAY_CHUNK : NULL;
	return r->out_chunk != NULL;
}

/* ... given back once the last client is gone. */
static void bufs_put(struct vnc_relay *r)
{
	free(r->out_chunk);
	r->out_chunk = r->scratch = NULL;
	free(r->lens);
	r->lens = NULL;
	r->nlens = r->lens_cap = 0;
}

static void conn_add(struct vnc_relay *r, const struct relay_cmd *m)
{
	struct relay_conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!c || !bufs_get(r)) {
		free(c);
		close(m->cfd);
		close(m->bfd);
		return;
	}
	c->cfd = m->cfd;
	c->bfd = m->bfd;
	c->lim = m->lim;
	c->id = m->id;
	vnc_frame_init(&c->fr, m->lim.password);
	c->ce = (struct relay_end){ c, true };
	c->be = (struct relay_end){ c, false };
	c->cev = c->bev = EPOLLIN;
	ev.data.ptr = &c->ce;
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, c->cfd, &ev) < 0) {
		close(c->cfd);
		close(c->bfd);
		free(c);
		return;
	}
	ev.data.ptr = &c->be;
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, c->bfd, &ev) < 0) {
		conn_kill(r, c);
		free(c);
		return;
	}
	c->next = r->conns;
	r->conns = c;
}

/* Commands from the loop. false: the pipe's end, stop. */
static bool commands(struct vnc_relay *r)
{
	struct relay_cmd m;
	ssize_t n;

	while ((n = read(r->cmd[0], &m, sizeof(m))) == sizeof(m)) {
		if (m.op == CMD_ADD) {
			conn_add(r, &m);
			r->total_max = m.lim.max_total;
		} else if (m.op == CMD_BUSY) {
			r->busy_id = m.id;
			r->busy_until_ms = relay_now_ms() + m.stall_ms;
		} else if (m.op == CMD_IDLE) {
			r->busy_id = 0;
		} else {
			for (struct relay_conn *c = r->conns; c; c = c->next)
				c->lim.max_backlog = m.lim.max_backlog;
			r->total_max = m.lim.max_total;
		}
	}
	return n < 0 && (errno == EAGAIN || errno == EINTR);
}

/* The time left (ms) for the client's partial message, 0 or less: it is too slow. It may
 * take partial_ms without a byte, and partial_ms and its length at RELAY_RATE in all. */
static int64_t partial_left(const struct relay_conn *c, int64_t now)
{
	uint64_t len = c->msg_len ? c->msg_len : c->in_len - c->in_pass;
	int64_t whole = c->msg_start_ms + c->lim.partial_ms + (int64_t)(len * 1000 / RELAY_RATE);
	int64_t gap = c->msg_last_ms + c->lim.partial_ms;

	return (whole < gap ? whole : gap) - now;
}

/* Drop clients that took nothing of their backlog for stall_ms, those whose message comes
 * too slowly (partial_left) (neither clock runs while a client is held back: hold), and the one whose message LibVNCServer has been reading for too
 * long (its end of the pair closed, LibVNCServer's read returns at once); free the dead; the
 * time until the next could be dropped (ms, or -1). */
static int sweep(struct vnc_relay *r)
{
	int64_t now = relay_now_ms(), next = -1;

	if (r->busy_id) {
		next = r->busy_until_ms - now;
		if (next <= 0) {
			for (struct relay_conn *c = r->conns; c; c = c->next)
				if (c->id == r->busy_id && !c->dead)
					conn_kill(r, c);
			r->busy_id = 0;
			next = -1;
		}
	}
	for (struct relay_conn **p = &r->conns; *p;) {
		struct relay_conn *c = *p;

		if (!c->dead && backlog(c) && !c->held_ms) {
			int64_t left = c->progress_ms + c->lim.stall_ms - now;

			if (left <= 0)
				conn_kill(r, c);
			else if (next < 0 || left < next)
				next = left;
		}
		if (!c->dead && c->msg_start_ms && !c->held_ms) {
			int64_t left = partial_left(c, now);

			if (left <= 0) {
				uint64_t len = c->msg_len ? c->msg_len : c->in_len - c->in_pass;

				vsrv_log("vnc: client %llu: a message of %llu bytes %s (after %lld ms, "
					 "%lld ms since its last byte): disconnected",
					 (unsigned long long)c->id, (unsigned long long)len,
					 now - c->msg_last_ms >= c->lim.partial_ms ?
					 "stopped coming" : "comes too slowly",
					 (long long)(now - c->msg_start_ms),
					 (long long)(now - c->msg_last_ms));
				conn_kill(r, c);
			} else if (next < 0 || left < next) {
				next = left;
			}
		}
		if (c->dead) {
			*p = c->next;
			free(c->out);
			free(c->in);
			vnc_ws_destroy(c->ws);
			free(c);
			continue;
		}
		p = &c->next;
	}
	if (!r->conns)
		bufs_put(r);
	return next > INT32_MAX ? INT32_MAX : (int)next;
}

/* The counters, for the loop's thread (vnc_relay_get_stats). */
static void publish(struct vnc_relay *r)
{
	uint64_t waiting = 0, buffers = 0;

	for (struct relay_conn *c = r->conns; c; c = c->next) {
		waiting += backlog(c);
		buffers += c->out_cap + c->in_cap;
	}
	__atomic_store_n(&r->st.waiting, waiting, __ATOMIC_RELAXED);
	__atomic_store_n(&r->st.buffers, buffers, __ATOMIC_RELAXED);
	__atomic_store_n(&r->st.peak, (uint64_t)r->peak, __ATOMIC_RELAXED);
	__atomic_store_n(&r->st.dropped, r->drops, __ATOMIC_RELAXED);
}

void vnc_relay_get_stats(struct vnc_relay *r, struct vnc_out_stats *out)
{
	out->waiting = __atomic_load_n(&r->st.waiting, __ATOMIC_RELAXED);
	out->buffers = __atomic_load_n(&r->st.buffers, __ATOMIC_RELAXED);
	out->peak = __atomic_load_n(&r->st.peak, __ATOMIC_RELAXED);
	out->dropped = __atomic_load_n(&r->st.dropped, __ATOMIC_RELAXED);
}

static void *relay_thread(void *opaque)
{
	struct vnc_relay *r = opaque;
	/* room for every connection's two ends and the pipe: all that is ready is handled
	 * before the sweep, which must not drop a client whose bytes wait unread */
	struct epoll_event evs[2 * VNC_MAX_CLIENTS + 1];
	bool run = true;
	int timeout = -1;

	while (run) {
		int n = epoll_wait(r->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), timeout);

		for (int i = 0; i < n; i++) {
			struct relay_end *e = evs[i].data.ptr;

			if (!e) {
				run = commands(r);
				continue;
			}
			if (!e->c->dead)
				conn_pump(r, e->c, e->client ? evs[i].events : 0,
					  e->client ? 0 : evs[i].events);
		}
		timeout = sweep(r);
		publish(r);
	}
	for (struct relay_conn *c = r->conns; c; c = c->next)
		conn_kill(r, c);
	sweep(r);
	return NULL;
}

int vnc_relay_start(struct vnc_relay **out)
{
	struct vnc_relay *r = calloc(1, sizeof(*r));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int ret;

	if (!r)
		return -ENOMEM;
	r->cmd[0] = r->cmd[1] = -1;
	r->total_max = SIZE_MAX;
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	/* the loop's end blocks: this thread never waits, so a full pipe empties at once */
	if (r->epfd < 0 || pipe2(r->cmd, O_CLOEXEC) < 0 ||
	    fcntl(r->cmd[0], F_SETFL, O_NONBLOCK) < 0 ||
	    epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->cmd[0], &ev) < 0) {
		ret = -errno;
		goto err;
	}
	ret = -pthread_create(&r->th, NULL, relay_thread, r);
	if (ret < 0)
		goto err;
	*out = r;
	return 0;
err:
	if (r->cmd[0] >= 0) {
		close(r->cmd[0]);
		close(r->cmd[1]);
	}
	if (r->epfd >= 0)
		close(r->epfd);
	free(r);
	return ret;
}

void vnc_relay_stop(struct vnc_relay *r)
{
	if (!r)
		return;
	close(r->cmd[1]); /* the thread sees the end, closes every connection and returns */
	pthread_join(r->th, NULL);
	close(r->cmd[0]);
	close(r->epfd);
	free(r);
}

static int send_cmd(struct vnc_relay *r, const struct relay_cmd *m)
{
	ssize_t n;

	/* at most PIPE_BUF: written whole */
	while ((n = write(r->cmd[1], m, sizeof(*m))) < 0 && errno == EINTR)
		;
	return n == sizeof(*m) ? 0 : -EIO;
}

int vnc_relay_add(struct vnc_relay *r, int cfd, int bfd, uint64_t id,
		  const struct vnc_relay_limits *lim)
{
	struct relay_cmd m = { .op = CMD_ADD, .cfd = cfd, .bfd = bfd, .lim = *lim, .id = id };

	return send_cmd(r, &m);
}

void vnc_relay_set_bound(struct vnc_relay *r, size_t max_backlog, size_t max_total)
{
	struct relay_cmd m = { .op = CMD_BOUND, .cfd = -1, .bfd = -1,
			       .lim = { .max_backlog = max_backlog, .max_total = max_total } };

	if (send_cmd(r, &m) < 0)
		vsrv_log("vnc: the clients keep their previous output bound");
}

void vnc_relay_busy(struct vnc_relay *r, uint64_t id, int max_ms)
{
	struct relay_cmd m = { .op = CMD_BUSY, .cfd = -1, .bfd = -1, .stall_ms = max_ms, .id = id };

	send_cmd(r, &m);
}

void vnc_relay_idle(struct vnc_relay *r)
{
	struct relay_cmd m = { .op = CMD_IDLE, .cfd = -1, .bfd = -1 };

	send_cmd(r, &m);
}
