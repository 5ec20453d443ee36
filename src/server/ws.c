/* WebSockets: the handshake and the bridge to a stream socket. See ws.h. */
#include "server/ws.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <wslay/wslay.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define CLOSE_WAIT_MS 5000      /* for the client's close after ours */
#define STOP_WAIT_MS 5000       /* ws_stop, for every bridge to end */
#define STOP_CLOSE_MS 500       /* and each, for its client's close */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gone = PTHREAD_COND_INITIALIZER;
static unsigned nbridges;
static bool stopping;
static int stop_fd = -1;        /* an eventfd, readable once ws_stop was called */

/* Upgrades answered (101 queued) and not yet handed over: MHD calls upgraded() once the 101
 * is sent, or never when the client went first. Those are dropped (their socket closed,
 * their place in nbridges given back) after PENDING_MAX_MS, looked at when another upgrade
 * comes, and at ws_stop; upgraded() for a dropped one closes the connection. */
#define PENDING_MAX_MS 30000
static struct pending {
	uint64_t id;                /* 0: a free slot */
	int fd;
	int64_t t;                  /* ms, when queued */
} pend[WS_BRIDGES_MAX];
static uint64_t pend_next;

/* Whether the comma-separated header value list has token (case-insensitive). */
static bool has_token(const char *list, const char *token)
{
	size_t n = strlen(token);

	while (list && *list) {
		list += strspn(list, " \t,");
		size_t len = strcspn(list, ",");
		size_t end = len;

		while (end && (list[end - 1] == ' ' || list[end - 1] == '\t'))
			end--;
		if (end == n && !strncasecmp(list, token, n))
			return true;
		list += len;
	}
	return false;
}

int ws_handshake_check(struct MHD_Connection *conn, const char **why)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *up = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
	const char *co = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Connection");
	const char *ver = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
	const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");

	if (!up || !has_token(up, "websocket") || !co || !has_token(co, "upgrade")) {
		*why = "this endpoint is a WebSocket: send 'Upgrade: websocket' and "
		       "'Connection: Upgrade'";
		return -EINVAL;
	}
	if (!ver || strcmp(ver, "13")) {
		*why = "Sec-WebSocket-Version: this server speaks version 13";
		return -EINVAL;
	}
	/* 16 bytes in base64: 22 characters and "==" */
	if (!key || strlen(key) != 24 || strspn(key, b64) != 22 || strcmp(key + 22, "==")) {
		*why = "Sec-WebSocket-Key: 16 random bytes in base64 (24 characters)";
		return -EINVAL;
	}
	return 0;
}

void ws_accept_key(const char *key, char out[29])
{
	unsigned char md[SHA_DIGEST_LENGTH];
	char buf[64 + sizeof(WS_GUID)];

	snprintf(buf, sizeof(buf), "%.60s%s", key, WS_GUID);
	SHA1((const unsigned char *)buf, strlen(buf), md);
	EVP_EncodeBlock((unsigned char *)out, md, sizeof(md));   /* 28 characters, NUL-ended */
}

/* One bridge: the client's socket (the upgraded connection, MHD's), the peer's (ours). */
struct bridge {
	int cfd, pfd;
	struct MHD_UpgradeResponseHandle *urh;
	wslay_event_context_ptr ctx;
	char *extra;                /* what MHD read past the request's headers */
	size_t extra_len, extra_off;
	uint8_t *in;                /* from the client, for the peer */
	size_t in_len, in_off, in_cap;
	bool client_gone;           /* the client's socket failed or ended */
	bool peer_eof;              /* the peer ended (or failed): close once the rest is sent */
	bool close_queued;
	int64_t close_deadline;     /* ms; 0: none */
	uint8_t rbuf[65536];        /* from the peer, for the client */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
		       void *arg)
{
	struct bridge *b = arg;
	ssize_t n;

	(void)flags;
	/* Backpressure: nothing more from the client while the peer has not taken what came,
	 * nor while the client is not reading what it is sent (pongs included). */
	if (b->in_len - b->in_off >= WS_BUF_MAX ||
	    wslay_event_get_queued_msg_length(ctx) >= WS_BUF_MAX ||
	    wslay_event_get_queued_msg_count(ctx) >= 1024) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (b->extra_off < b->extra_len) {
		n = (ssize_t)(b->extra_len - b->extra_off < len ? b->extra_len - b->extra_off : len);
		memcpy(buf, b->extra + b->extra_off, (size_t)n);
		b->extra_off += (size_t)n;
		return n;
	}
	n = recv(b->cfd, buf, len, MSG_DONTWAIT);
	if (n > 0)
		return n;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	b->client_gone = true;
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
		       void *arg)
{
	struct bridge *b = arg;
	ssize_t n;

	(void)flags;
	n = send(b->cfd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	b->client_gone = true;
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *m,
		   void *arg)
{
	struct bridge *b = arg;
	size_t left = b->in_len - b->in_off;

	if (m->opcode != WSLAY_TEXT_FRAME && m->opcode != WSLAY_BINARY_FRAME)
		return;     /* close, ping, pong: wslay's */
	if (!m->msg_length)
		return;     /* (an empty message: nothing for the peer, and no buffer from wslay) */
	if (b->in_off) {
		memmove(b->in, b->in + b->in_off, left);
		b->in_off = 0;
		b->in_len = left;
	}
	if (b->in_len + m->msg_length > b->in_cap) {
		/* at most WS_BUF_MAX waiting (recv_cb) plus one message of WS_MSG_MAX */
		size_t cap = b->in_len + m->msg_length;
		uint8_t *p = realloc(b->in, cap);

		if (!p) {
			wslay_event_queue_close(ctx, WSLAY_CODE_INTERNAL_SERVER_ERROR, NULL, 0);
			wslay_event_shutdown_read(ctx);
			return;
		}
		b->in = p;
		b->in_cap = cap;
	}
	memcpy(b->in + b->in_len, m->msg, m->msg_length);
	b->in_len += m->msg_length;
}

/* Write what the client sent to the peer, as much as it takes now. */
static void flush_peer(struct bridge *b)
{
	while (b->in_off < b->in_len) {
		ssize_t n = send(b->pfd, b->in + b->in_off, b->in_len - b->in_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* the peer went: what the client still sends goes nowhere */
			b->in_off = b->in_len = 0;
			b->peer_eof = true;
			return;
		}
		b->in_off += (size_t)n;
	}
	b->in_off = b->in_len = 0;
}

/* Read what the peer gives (one chunk) and queue it for the client as a binary message. */
static void read_peer(struct bridge *b)
{
	ssize_t n = recv(b->pfd, b->rbuf, sizeof(b->rbuf), MSG_DONTWAIT);
	struct wslay_event_msg m = { .opcode = WSLAY_BINARY_FRAME, .msg = b->rbuf };

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		b->peer_eof = true;
		return;
	}
	m.msg_length = (size_t)n;
	if (wslay_event_queue_msg(b->ctx, &m))
		b->peer_eof = true;     /* a close is already queued */
}

/* Queue our close; the client has wait_ms to answer it. */
static void queue_close(struct bridge *b, uint16_t code, const char *reason, int wait_ms)
{
	if (b->close_queued)
		return;
	b->close_queued = true;
	wslay_event_queue_close(b->ctx, code, (const uint8_t *)reason, strlen(reason));
	b->close_deadline = now_ms() + wait_ms;
}

static void bridge_run(struct bridge *b)
{
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = b->cfd }, { .fd = b->pfd }, { .fd = stop_fd, .events = POLLIN },
		};
		bool room;
		int timeout = -1;

		flush_peer(b);
		if (wslay_event_want_write(b->ctx) && wslay_event_send(b->ctx))
			break;
		/* The peer ended and all it gave is sent (the send above may just have done it):
		 * our close, sent at once. */
		if (b->peer_eof && !b->close_queued && !wslay_event_get_close_received(b->ctx) &&
		    wslay_event_get_queued_msg_count(b->ctx) == 0) {
			queue_close(b, WSLAY_CODE_NORMAL_CLOSURE, "the console closed", CLOSE_WAIT_MS);
			continue;
		}
		if (b->client_gone)
			break;
		/* Done: the close sent and received (or the client's closing handshake done
		 * and what it sent delivered). */
		if (!wslay_event_want_read(b->ctx) && !wslay_event_want_write(b->ctx) &&
		    (b->in_off == b->in_len || b->peer_eof))
			break;
		/* (after the send: what it sent made room) */
		room = wslay_event_get_queued_msg_length(b->ctx) < WS_BUF_MAX &&
		       wslay_event_get_queued_msg_count(b->ctx) < 1024;
		if (b->close_deadline) {
			int64_t left = b->close_deadline - now_ms();

			if (left <= 0)
				break;
			timeout = (int)left;
		}
		if (wslay_event_want_read(b->ctx) && b->in_len - b->in_off < WS_BUF_MAX && room) {
			if (b->extra_off < b->extra_len)
				timeout = 0;    /* bytes MHD read before the upgrade: frame them now */
			p[0].events |= POLLIN;
		}
		if (wslay_event_want_write(b->ctx))
			p[0].events |= POLLOUT;
		if (!b->peer_eof) {
			if (room && !b->close_queued)
				p[1].events |= POLLIN;
			if (b->in_off < b->in_len)
				p[1].events |= POLLOUT;
		} else {
			p[1].fd = -1;
		}
		if (b->close_queued)
			p[2].fd = -1;       /* (the eventfd stays readable) */
		/* A side waited for in neither direction is left out: its hang-up, always
		 * reported, would spin the loop (it is seen once that side is waited for). */
		if (!p[0].events)
			p[0].fd = -1;
		if (!p[1].events)
			p[1].fd = -1;
		if (poll(p, 3, timeout) < 0 && errno != EINTR)
			break;
		if (p[2].revents)
			queue_close(b, WSLAY_CODE_GOING_AWAY, "the server is stopping", STOP_CLOSE_MS);
		if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) || (timeout == 0 &&
		    b->extra_off < b->extra_len)) {
			if (wslay_event_recv(b->ctx))
				break;
		}
		/* (what the peer sent before it hung up is read first: POLLIN with POLLHUP) */
		if ((p[1].events & POLLIN) && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			read_peer(b);
		else if (p[1].revents & POLLERR)
			b->peer_eof = true;
	}
}

/* A bridge between cfd (the client's; urh: MHD's upgrade handle, NULL: a plain socket) and
 * pfd, with the extra bytes already read from the client. NULL when out of memory. */
static struct bridge *bridge_new(int cfd, int pfd, struct MHD_UpgradeResponseHandle *urh,
				 const char *extra, size_t extra_len)
{
	static const struct wslay_event_callbacks cbs = {
		.recv_callback = recv_cb, .send_callback = send_cb, .on_msg_recv_callback = msg_cb,
	};
	struct bridge *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->cfd = cfd;
	b->pfd = pfd;
	b->urh = urh;
	if (extra_len) {
		b->extra = malloc(extra_len);
		if (!b->extra) {
			free(b);
			return NULL;
		}
		memcpy(b->extra, extra, extra_len);
		b->extra_len = extra_len;
	}
	if (wslay_event_context_server_init(&b->ctx, &cbs, b)) {
		free(b->extra);
		free(b);
		return NULL;
	}
	wslay_event_config_set_max_recv_msg_length(b->ctx, WS_MSG_MAX);
	fcntl(cfd, F_SETFL, fcntl(cfd, F_GETFL) | O_NONBLOCK);
	fcntl(pfd, F_SETFL, fcntl(pfd, F_GETFL) | O_NONBLOCK);
	return b;
}

/* Close both sides and free b. */
static void bridge_end(struct bridge *b)
{
	wslay_event_context_free(b->ctx);
	close(b->pfd);
	if (b->urh)
		MHD_upgrade_action(b->urh, MHD_UPGRADE_ACTION_CLOSE);
	else
		close(b->cfd);
	free(b->in);
	free(b->extra);
	free(b);
}

int ws_bridge_fds(int cfd, int pfd, const void *extra, size_t extra_len)
{
	struct bridge *b = bridge_new(cfd, pfd, NULL, extra, extra_len);

	if (!b) {
		close(cfd);
		close(pfd);
		return -ENOMEM;
	}
	bridge_run(b);
	bridge_end(b);
	return 0;
}

static void *bridge_thread(void *arg)
{
	struct bridge *b = arg;

	bridge_run(b);
	bridge_end(b);
	pthread_mutex_lock(&lock);
	nbridges--;
	pthread_cond_broadcast(&gone);
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* Under lock: drop the pending upgrades queued before cutoff (ms; INT64_MAX: all). */
static void pending_drop(int64_t cutoff)
{
	for (size_t i = 0; i < WS_BRIDGES_MAX; i++)
		if (pend[i].id && pend[i].t < cutoff) {
			close(pend[i].fd);
			pend[i].id = 0;
			nbridges--;
			pthread_cond_broadcast(&gone);
		}
}

/* Under lock: take pending upgrade id's socket (-1: dropped). */
static int pending_take(uint64_t id)
{
	for (size_t i = 0; i < WS_BRIDGES_MAX; i++)
		if (pend[i].id == id) {
			pend[i].id = 0;
			return pend[i].fd;
		}
	return -1;
}

/* MHD's upgrade handler: the 101 went out; the bridge starts on its own thread. */
static void upgraded(void *cls, struct MHD_Connection *conn, void *req_cls, const char *extra_in,
		     size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct bridge *b;
	pthread_attr_t at;
	pthread_t th;
	int pfd;

	(void)conn; (void)req_cls;
	pthread_mutex_lock(&lock);
	pfd = pending_take((uint64_t)(uintptr_t)cls);
	pthread_mutex_unlock(&lock);
	if (pfd < 0) {
		/* dropped (too late, or the server is stopping): no bridge, no count */
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	b = bridge_new(sock, pfd, urh, extra_in, extra_in_size);
	if (!b)
		goto err;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 256 * 1024);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &at, bridge_thread, b)) {
		pthread_attr_destroy(&at);
		bridge_end(b);
		goto gone;
	}
	pthread_attr_destroy(&at);
	return;
err:
	close(pfd);
	MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
gone:
	vsrv_log("websocket: cannot start a bridge: out of memory or threads");
	pthread_mutex_lock(&lock);
	nbridges--;
	pthread_cond_broadcast(&gone);
	pthread_mutex_unlock(&lock);
}

static enum MHD_Result queue_503(struct MHD_Connection *conn, const char *msg)
{
	char body[256];
	struct MHD_Response *resp;
	enum MHD_Result ret;
	int n = snprintf(body, sizeof(body),
			 "{\"error\":{\"code\":\"unavailable\",\"message\":\"%s\"}}\n", msg);

	resp = MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	ret = MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result ws_bridge(struct MHD_Connection *conn, int fd)
{
	const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	const char *proto = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							"Sec-WebSocket-Protocol");
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char accept[29];
	uint64_t id = 0;
	bool full;

	pthread_mutex_lock(&lock);
	pending_drop(now_ms() - PENDING_MAX_MS);
	full = stopping || nbridges >= WS_BRIDGES_MAX;
	if (!full) {
		/* (a free slot exists: every pending upgrade is counted in nbridges) */
		for (size_t i = 0; i < WS_BRIDGES_MAX; i++)
			if (!pend[i].id) {
				id = ++pend_next;
				pend[i] = (struct pending){ .id = id, .fd = fd, .t = now_ms() };
				break;
			}
		nbridges++;
	}
	pthread_mutex_unlock(&lock);
	if (full) {
		close(fd);
		return queue_503(conn, stopping ? "the server is stopping"
				 : "too many WebSocket connections: retry later");
	}
	ws_accept_key(key ? key : "", accept);
	resp = MHD_create_response_for_upgrade(upgraded, (void *)(uintptr_t)id);
	if (!resp)
		goto err;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
	MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
	/* noVNC asks for "binary" (the frames are binary either way) */
	if (proto && has_token(proto, "binary"))
		MHD_add_response_header(resp, "Sec-WebSocket-Protocol", "binary");
	ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
	MHD_destroy_response(resp);
	if (ret != MHD_YES)
		goto err;
	return ret;
err:
	/* MHD never calls upgraded(): the fd and the count are ours to give back */
	pthread_mutex_lock(&lock);
	fd = pending_take(id);
	if (fd >= 0) {
		close(fd);
		nbridges--;
		pthread_cond_broadcast(&gone);
	}
	pthread_mutex_unlock(&lock);
	return MHD_NO;
}

int ws_start(void)
{
	pthread_mutex_lock(&lock);
	if (stop_fd < 0)
		stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (stop_fd >= 0) {
		uint64_t v;

		while (read(stop_fd, &v, sizeof(v)) > 0)
			;
	}
	stopping = false;
	pthread_mutex_unlock(&lock);
	return stop_fd < 0 ? -errno : 0;
}

void ws_stop(void)
{
	struct timespec end;
	uint64_t one = 1;

	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += STOP_WAIT_MS / 1000;
	pthread_mutex_lock(&lock);
	stopping = true;
	pending_drop(INT64_MAX);
	if (stop_fd >= 0 && write(stop_fd, &one, sizeof(one)) < 0)
		vsrv_log("websocket: cannot signal the bridges: %s", strerror(errno));
	while (nbridges && pthread_cond_timedwait(&gone, &lock, &end) == 0)
		;
	if (nbridges)
		vsrv_log("websocket: %u bridges still running at stop", nbridges);
	pthread_mutex_unlock(&lock);
}

unsigned ws_bridges(void)
{
	unsigned n;

	pthread_mutex_lock(&lock);
	n = nbridges;
	pthread_mutex_unlock(&lock);
	return n;
}
