/* The WebSocket bridge (src/server/ws.c) in a real libmicrohttpd daemon configured as the
 * server's (epoll, a thread pool, upgrade allowed), with an access handler that checks the
 * handshake and bridges each client to one end of a socketpair whose other end this test
 * holds (the "peer", standing for a VM's VNC or serial socket). The client is written here
 * (frames by hand, masked as RFC 6455 wants), so garbage can be sent as easily as frames. */
#include "check.h"
#include "server/ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct MHD_Daemon *daemon_;
static int port;
static pthread_mutex_t peer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t peer_cond = PTHREAD_COND_INITIALIZER;
static int peer_fd = -1;        /* the test's end of the last bridge's socketpair */

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	const char *why;
	int sp[2];

	(void)cls; (void)url; (void)method; (void)version; (void)upload; (void)upload_size;
	if (!*con_cls) {
		*con_cls = (void *)1;
		return MHD_YES;
	}
	if (ws_handshake_check(conn, &why)) {
		struct MHD_Response *r = MHD_create_response_from_buffer(strlen(why), (void *)why,
									 MHD_RESPMEM_PERSISTENT);
		enum MHD_Result ret = MHD_queue_response(conn, 400, r);

		MHD_destroy_response(r);
		return ret;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
		return MHD_NO;
	pthread_mutex_lock(&peer_lock);
	if (peer_fd >= 0)
		close(peer_fd);
	peer_fd = sp[1];
	pthread_cond_broadcast(&peer_cond);
	pthread_mutex_unlock(&peer_lock);
	return ws_bridge(conn, sp[0]);
}

static int take_peer(void)
{
	struct timespec end;
	int fd;

	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += 10;
	pthread_mutex_lock(&peer_lock);
	while (peer_fd < 0 && pthread_cond_timedwait(&peer_cond, &peer_lock, &end) == 0)
		;
	fd = peer_fd;
	peer_fd = -1;
	pthread_mutex_unlock(&peer_lock);
	return fd;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Read exactly n bytes (10 s at most). 0, or -1 on EOF, error or timeout. */
static int read_full(int fd, void *buf, size_t n)
{
	int64_t end = now_ms() + 10000;
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t k;

		if (poll(&p, 1, (int)(end - now_ms())) <= 0)
			return -1;
		k = recv(fd, (char *)buf + got, n - got, MSG_DONTWAIT);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	size_t off = 0;

	while (off < n) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t k;

		if (poll(&p, 1, 10000) <= 0)
			return -1;
		k = send(fd, (const char *)buf + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k <= 0)
			return -1;
		off += (size_t)k;
	}
	return 0;
}

/* Send a raw HTTP request; read the answer's head into out. The status, or -1. */
static int http(int fd, const char *req, char *out, size_t n)
{
	size_t got = 0;

	if (write_full(fd, req, strlen(req)))
		return -1;
	while (got < n - 1) {
		if (read_full(fd, out + got, 1))
			break;
		got++;
		out[got] = '\0';
		if (got >= 4 && !memcmp(out + got - 4, "\r\n\r\n", 4))
			break;
	}
	out[got] = '\0';
	return strncmp(out, "HTTP/1.1 ", 9) ? -1 : atoi(out + 9);
}

static int connect_tcp(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

#define GOOD_REQ(extra) "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" \
	"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" \
	extra "\r\n"

/* A client upgraded (rcvbuf: its receive buffer, 0: the system's), the peer in *peer. */
static int ws_open(int *peer, int rcvbuf)
{
	char head[2048];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    http(fd, GOOD_REQ("Sec-WebSocket-Version: 13\r\n"), head, sizeof(head)) != 101) {
		close(fd);
		return -1;
	}
	*peer = take_peer();
	return fd;
}

/* A client frame (masked), fin set. */
static int send_frame(int fd, int opcode, const void *data, size_t len)
{
	uint8_t h[14], mask[4] = { 0x12, 0x34, 0x56, 0x78 };
	uint8_t *buf = malloc(len + 14);
	size_t hl = 0;
	int rc;

	h[hl++] = 0x80 | (uint8_t)opcode;
	if (len < 126) {
		h[hl++] = 0x80 | (uint8_t)len;
	} else if (len < 65536) {
		h[hl++] = 0x80 | 126;
		h[hl++] = (uint8_t)(len >> 8);
		h[hl++] = (uint8_t)len;
	} else {
		h[hl++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			h[hl++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	memcpy(h + hl, mask, 4);
	hl += 4;
	memcpy(buf, h, hl);
	for (size_t i = 0; i < len; i++)
		buf[hl + i] = ((const uint8_t *)data)[i] ^ mask[i % 4];
	rc = write_full(fd, buf, hl + len);
	free(buf);
	return rc;
}

/* A server frame (unmasked): its opcode and payload (at most cap), or -1. */
static int recv_frame(int fd, uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t h[2], ext[8];
	uint64_t n;

	if (read_full(fd, h, 2))
		return -1;
	if (h[1] & 0x80)
		return -1;      /* a server never masks */
	n = h[1] & 0x7f;
	if (n == 126) {
		if (read_full(fd, ext, 2))
			return -1;
		n = (uint64_t)ext[0] << 8 | ext[1];
	} else if (n == 127) {
		if (read_full(fd, ext, 8))
			return -1;
		n = 0;
		for (int i = 0; i < 8; i++)
			n = n << 8 | ext[i];
	}
	if (n > cap || (n && read_full(fd, buf, (size_t)n)))
		return -1;
	*len = (size_t)n;
	return h[0] & 0x0f;
}

static bool bridges_gone(void)
{
	int64_t end = now_ms() + 10000;

	while (ws_bridges() && now_ms() < end)
		usleep(10000);
	return ws_bridges() == 0;
}

static void test_accept_key_rfc6455_example(void)
{
	char out[29];

	ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
	CHECK(!strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
}

static void test_handshake_good(void)
{
	char head[2048];
	int fd = connect_tcp(), peer;

	CHECK_EQ(http(fd, GOOD_REQ("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n"),
		      head, sizeof(head)), 101);
	CHECK(strcasestr(head, "\r\nUpgrade: websocket\r\n") != NULL);
	CHECK(strcasestr(head, "\r\nConnection: Upgrade\r\n") != NULL);
	CHECK(strstr(head, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != NULL);
	CHECK(strstr(head, "\r\nSec-WebSocket-Protocol: binary\r\n") != NULL);
	peer = take_peer();
	CHECK(peer >= 0);
	close(fd);
	close(peer);
	CHECK(bridges_gone());
}

static void test_handshake_refusals(void)
{
	static const char *const bad[] = {
		/* no key */
		"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Version: 13\r\n\r\n",
		/* version 8 */
		GOOD_REQ("Sec-WebSocket-Version: 8\r\n"),
		/* no version */
		GOOD_REQ(""),
		/* a key of 15 bytes */
		"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n\r\n",
		/* not an upgrade */
		"GET /ws HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Version: 13\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
		/* Upgrade to something else */
		"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
	};
	char head[2048];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = connect_tcp();

		CHECK_EQ(http(fd, bad[i], head, sizeof(head)), 400);
		close(fd);
	}
	CHECK_EQ(ws_bridges(), 0);
}

static void test_bytes_both_ways(void)
{
	uint8_t buf[256];
	size_t len;
	int peer, fd = ws_open(&peer, 0);

	CHECK(fd >= 0 && peer >= 0);
	CHECK(!send_frame(fd, 2, "hello\0\xff", 7));
	CHECK(!read_full(peer, buf, 7) && !memcmp(buf, "hello\0\xff", 7));
	CHECK(!send_frame(fd, 1, "typed", 5));         /* a text message: its bytes */
	CHECK(!read_full(peer, buf, 5) && !memcmp(buf, "typed", 5));
	CHECK(!write_full(peer, "\x1b[2Jworld", 9));
	CHECK_EQ(recv_frame(fd, buf, sizeof(buf), &len), 2);
	CHECK(len == 9 && !memcmp(buf, "\x1b[2Jworld", 9));
	/* a ping is answered with its payload; nothing reaches the peer */
	CHECK(!send_frame(fd, 9, "png", 3));
	CHECK_EQ(recv_frame(fd, buf, sizeof(buf), &len), 10);
	CHECK(len == 3 && !memcmp(buf, "png", 3));
	/* a fragmented message arrives whole */
	{
		uint8_t f1[] = { 0x02, 0x82, 0, 0, 0, 0, 'a', 'b' };
		uint8_t f2[] = { 0x80, 0x82, 0, 0, 0, 0, 'c', 'd' };

		CHECK(!write_full(fd, f1, sizeof(f1)) && !write_full(fd, f2, sizeof(f2)));
		CHECK(!read_full(peer, buf, 4) && !memcmp(buf, "abcd", 4));
	}
	close(fd);
	close(peer);
	CHECK(bridges_gone());
}

static void test_close_from_client(void)
{
	uint8_t buf[256];
	size_t len;
	int peer, fd = ws_open(&peer, 0);

	CHECK(!send_frame(fd, 2, "last", 4));
	CHECK(!send_frame(fd, 8, "\x03\xe8", 2));
	CHECK_EQ(recv_frame(fd, buf, sizeof(buf), &len), 8);    /* the close answered */
	CHECK(len >= 2 && buf[0] == 0x03 && buf[1] == 0xe8);
	CHECK(!read_full(peer, buf, 4) && !memcmp(buf, "last", 4));
	CHECK(read_full(peer, buf, 1) == -1);                   /* then the peer's end */
	CHECK(bridges_gone());
	close(fd);
	close(peer);
}

static void test_close_from_peer(void)
{
	uint8_t buf[256];
	size_t len;
	int peer, fd = ws_open(&peer, 0);

	CHECK(!write_full(peer, "bye", 3));
	close(peer);
	CHECK_EQ(recv_frame(fd, buf, sizeof(buf), &len), 2);    /* what it gave first */
	CHECK(len == 3 && !memcmp(buf, "bye", 3));
	CHECK_EQ(recv_frame(fd, buf, sizeof(buf), &len), 8);
	CHECK(len >= 2 && (buf[0] << 8 | buf[1]) == 1000);
	CHECK(!send_frame(fd, 8, "\x03\xe8", 2));
	CHECK(bridges_gone());
	CHECK(read_full(fd, buf, 1) == -1);                     /* the connection ends */
	close(fd);
}

/* A pattern byte at stream offset i. */
static uint8_t pat(uint64_t i)
{
	return (uint8_t)(i * 2654435761u >> 13);
}

/* The console writes a lot and ends while the client is slow: the client still gets all of
 * it, then the close. */
struct tail_writer {
	int fd;
	const uint8_t *p;
	size_t n;
};

static void *tail_write(void *arg)
{
	struct tail_writer *w = arg;

	write_full(w->fd, w->p, w->n);
	close(w->fd);
	return NULL;
}

static void test_peer_tail_reaches_slow_client(void)
{
	size_t total = 4 << 20, got = 0, len;
	uint8_t *big = malloc(total), *frame = malloc(WS_MSG_MAX);
	int peer, fd = ws_open(&peer, 65536), op = -1;
	struct tail_writer w;
	bool ok = true;
	pthread_t th;

	CHECK(fd >= 0 && peer >= 0);
	for (size_t i = 0; i < total; i++)
		big[i] = pat(i);
	w = (struct tail_writer){ .fd = peer, .p = big, .n = total };
	pthread_create(&th, NULL, tail_write, &w);
	usleep(300000);                 /* the client is late */
	while (ok && (op = recv_frame(fd, frame, WS_MSG_MAX, &len)) == 2) {
		for (size_t i = 0; i < len && ok; i++)
			ok = got + i < total && frame[i] == pat(got + i);
		got += len;
	}
	pthread_join(th, NULL);
	CHECK(ok);
	CHECK_EQ(got, total);
	CHECK_EQ(op, 8);
	CHECK(!send_frame(fd, 8, "\x03\xe8", 2));
	close(fd);
	CHECK(bridges_gone());
	free(big);
	free(frame);
}

/* The most a bridge may hold in flight, given this machine's socket buffer limits (so the
 * check does not depend on them): the kernel's buffers of both sockets, the bridge's. */
static size_t flight_bound(void)
{
	long v[3] = { 0 }, w[3] = { 0 }, cmax = 0;
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_rmem", "r");

	if (f) {
		if (fscanf(f, "%ld %ld %ld", &v[0], &v[1], &v[2]) != 3)
			v[2] = 1 << 24;
		fclose(f);
	}
	f = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");
	if (f) {
		if (fscanf(f, "%ld %ld %ld", &w[0], &w[1], &w[2]) != 3)
			w[2] = 1 << 24;
		fclose(f);
	}
	f = fopen("/proc/sys/net/core/wmem_max", "r");
	if (f) {
		if (fscanf(f, "%ld", &cmax) != 1)
			cmax = 1 << 24;
		fclose(f);
	}
	/* TCP both ways, the Unix pair (send and receive: at most 2 x wmem_max each), the
	 * bridge's own buffers and a read chunk, doubled for the kernel's accounting */
	return 2 * ((size_t)v[2] + (size_t)w[2] + 4 * (size_t)cmax + 2 * WS_BUF_MAX + WS_MSG_MAX);
}

static void test_slow_client_stalls_peer(void)
{
	size_t bound = flight_bound(), total = 3 * bound, wrote = 0, got = 0;
	uint8_t *chunk = malloc(65536), *frame = malloc(WS_MSG_MAX);
	int peer, fd = ws_open(&peer, 65536);
	bool stalled = false, ok = true;
	int64_t idle_since = 0;

	CHECK(fd >= 0 && peer >= 0);
	fcntl(peer, F_SETFL, O_NONBLOCK);
	/* the client reads nothing: the peer must come to a stop before total */
	while (wrote < total) {
		ssize_t k;

		for (size_t i = 0; i < 65536; i++)
			chunk[i] = pat(wrote + i);
		k = send(peer, chunk, 65536, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k > 0) {
			/* (a partial send: the rest of the pattern is sent again next time) */
			wrote += (size_t)k;
			idle_since = 0;
			continue;
		}
		if (!idle_since)
			idle_since = now_ms();
		else if (now_ms() - idle_since > 1000) {
			stalled = true;     /* a whole second without room */
			break;
		}
		usleep(1000);
	}
	CHECK(stalled);
	CHECK(wrote < bound);
	/* now the client reads: everything arrives, in order, and the peer goes on */
	{
		size_t target = wrote + 4 * 65536;

		while (got < target && ok) {
			struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
					       { .fd = peer, .events = wrote < target ? POLLOUT : 0 } };
			if (poll(p, 2, 10000) <= 0) {
				printf("# no progress: got %zu of %zu\n", got, wrote);
				ok = false;
				break;
			}
			if (p[1].revents & POLLOUT) {
				size_t n = target - wrote < 65536 ? target - wrote : 65536;
				ssize_t k;

				for (size_t i = 0; i < n; i++)
					chunk[i] = pat(wrote + i);
				k = send(peer, chunk, n, MSG_NOSIGNAL | MSG_DONTWAIT);
				if (k > 0)
					wrote += (size_t)k;
			}
			if (p[0].revents & POLLIN) {
				size_t len;

				if (recv_frame(fd, frame, WS_MSG_MAX, &len) != 2) {
					printf("# not a binary frame at %zu\n", got);
					ok = false;
					break;
				}
				for (size_t i = 0; i < len && ok; i++)
					ok = frame[i] == pat(got + i);
				if (!ok)
					printf("# wrong byte in %zu bytes from %zu\n", len, got);
				got += len;
			}
		}
	}
	CHECK(ok);
	CHECK_EQ(got, wrote);
	close(fd);
	close(peer);
	CHECK(bridges_gone());
	free(chunk);
	free(frame);
}

static void test_slow_peer_stalls_client(void)
{
	size_t bound = flight_bound(), wrote = 0, got = 0;
	uint8_t *msg = malloc(32768), *buf = malloc(65536);
	int peer, fd = ws_open(&peer, 0);
	int sb = 65536;
	bool stalled = false, ok = true;

	CHECK(fd >= 0 && peer >= 0);
	setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &sb, sizeof(sb));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	/* the peer reads nothing: the client's frames must stop going out before bound */
	while (wrote < 3 * bound) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		if (poll(&p, 1, 1000) == 0) {
			stalled = true;
			break;
		}
		for (size_t i = 0; i < 32768; i++)
			msg[i] = pat(wrote + i);
		/* whole frames only: a blocking write of the frame once there is room */
		fcntl(fd, F_SETFL, 0);
		if (send_frame(fd, 2, msg, 32768)) {
			ok = false;
			break;
		}
		fcntl(fd, F_SETFL, O_NONBLOCK);
		wrote += 32768;
	}
	CHECK(ok && stalled);
	CHECK(wrote < bound);
	/* the peer reads: all of it, in order */
	while (got < wrote && ok) {
		size_t n = wrote - got < 65536 ? wrote - got : 65536;

		if (read_full(peer, buf, n)) {
			ok = false;
			break;
		}
		for (size_t i = 0; i < n && ok; i++)
			ok = buf[i] == pat(got + i);
		got += n;
	}
	CHECK(ok);
	close(fd);
	close(peer);
	CHECK(bridges_gone());
	free(msg);
	free(buf);
}

/* Garbage after the handshake: the bridge closes, never crashes or hangs, and the daemon
 * still bridges the next client. */
static void test_garbage_frames(void)
{
	static const uint8_t cases[][16] = {
		{ 0x82, 0x05, 'h', 'e', 'l', 'l', 'o' },                 /* unmasked */
		{ 0x83, 0x80, 1, 2, 3, 4 },                              /* reserved opcode */
		{ 0xc2, 0x80, 1, 2, 3, 4 },                              /* RSV1 */
		{ 0x89, 0xfe, 0x00, 0xc8, 1, 2, 3, 4 },                  /* ping of 200 */
		{ 0x09, 0x80, 1, 2, 3, 4 },                              /* fragmented ping */
		{ 0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, /* 2^63 */
		{ 0x82, 0xff, 0, 0, 0, 0, 0, 0x20, 0, 0, 1, 2, 3, 4 },   /* 2 MiB: too big */
		{ 0x80, 0x81, 1, 2, 3, 4, 'x' },                         /* continuation first */
		{ 0x88, 0x81, 1, 2, 3, 4, 'x' },                         /* close of 1 byte */
	};
	uint8_t junk[4096], buf[256];
	unsigned seed = 12345;
	int peer, fd;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fd = ws_open(&peer, 0);
		CHECK(fd >= 0 && peer >= 0);
		CHECK(!write_full(fd, cases[i], sizeof(cases[i])));
		/* the server ends it (a close frame, then the connection) */
		for (int k = 0; k < 64 && read_full(fd, buf, 1) == 0; k++)
			;
		close(fd);
		close(peer);
	}
	for (int round = 0; round < 200; round++) {
		size_t n = (size_t)(rand_r(&seed) % sizeof(junk)) + 1;

		fd = ws_open(&peer, 0);
		if (fd < 0 || peer < 0) {
			CHECK(fd >= 0 && peer >= 0);
			break;
		}
		for (size_t i = 0; i < n; i++)
			junk[i] = (uint8_t)rand_r(&seed);
		if (round % 2)
			junk[0] = (uint8_t)(0x80 | (junk[0] & 0x0f)), junk[1] |= 0x80;   /* framed */
		write_full(fd, junk, n);
		if (round % 3 == 0)
			close(fd);              /* and gone at once */
		else
			shutdown(fd, SHUT_WR);
		/* whatever reached the peer, it is drained; the peer may end too */
		fcntl(peer, F_SETFL, O_NONBLOCK);
		while (recv(peer, junk, sizeof(junk), 0) > 0)
			;
		if (round % 5 == 0)
			close(peer), peer = -1;
		if (round % 3) {
			for (int k = 0; k < 4096 && read_full(fd, buf, 1) == 0; k++)
				;
			close(fd);
		}
		if (peer >= 0)
			close(peer);
	}
	CHECK(bridges_gone());
	/* still working */
	fd = ws_open(&peer, 0);
	CHECK(fd >= 0 && peer >= 0);
	CHECK(!send_frame(fd, 2, "ok", 2));
	CHECK(!read_full(peer, buf, 2) && !memcmp(buf, "ok", 2));
	close(fd);
	close(peer);
	CHECK(bridges_gone());
}

/* Clients that send the handshake and vanish at once (a reset): whether or not MHD got to
 * upgrade them, nothing is left once the server stops. */
static void vanishing_clients(void)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	for (int i = 0; i < 50; i++) {
		int c = connect_tcp();
		const char *r = GOOD_REQ("Sec-WebSocket-Version: 13\r\n");

		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		CHECK(!write_full(c, r, strlen(r)));
		close(c);                       /* RST: never reads the 101 */
	}
	/* the handler ran for some of them: their peers (each replacing the one before) go,
	 * once no new one came for half a second */
	for (int quiet = 0; quiet < 5; ) {
		int p;

		usleep(100000);
		pthread_mutex_lock(&peer_lock);
		p = peer_fd;
		peer_fd = -1;
		pthread_mutex_unlock(&peer_lock);
		if (p >= 0) {
			close(p);
			quiet = 0;
		} else {
			quiet++;
		}
	}
}

static void test_stop_closes_bridges(void)
{
	uint8_t buf[256];
	size_t len;
	int peer, fd = ws_open(&peer, 0);

	CHECK(fd >= 0 && peer >= 0);
	CHECK_EQ(ws_bridges(), 1);
	/* the client may read the 101 before MHD hands the socket over (upgraded()); an
	 * upgrade still pending at stop is dropped without a close frame. A round trip
	 * proves the bridge runs. */
	CHECK(!send_frame(fd, 2, "up", 2));
	CHECK(!read_full(peer, buf, 2) && !memcmp(buf, "up", 2));
	ws_stop();
	CHECK_EQ(recv_frame(fd, buf, sizeof(buf), &len), 8);
	CHECK(len >= 2 && (buf[0] << 8 | buf[1]) == 1001);
	CHECK_EQ(ws_bridges(), 0);
	close(fd);
	close(peer);
	/* refused while stopping (503), then running again */
	{
		char head[2048];
		int c = connect_tcp();

		CHECK_EQ(http(c, GOOD_REQ("Sec-WebSocket-Version: 13\r\n"), head, sizeof(head)), 503);
		close(c);
		close(take_peer());
	}
	CHECK(!ws_start());
	fd = ws_open(&peer, 0);
	CHECK(fd >= 0 && peer >= 0);
	close(fd);
	close(peer);
	CHECK(bridges_gone());
}

static void test_vanished_clients_leave_nothing_at_stop(void)
{
	vanishing_clients();
	ws_stop();
	CHECK_EQ(ws_bridges(), 0);
	CHECK(!ws_start());
}

int main(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 64) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl)) {
		printf("FAIL setup: cannot listen\n");
		return 1;
	}
	port = ntohs(sa.sin_port);
	if (ws_start()) {
		printf("FAIL setup: ws_start\n");
		return 1;
	}
	daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
				   MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE, 0, NULL, NULL,
				   handler, NULL, MHD_OPTION_LISTEN_SOCKET, lfd,
				   MHD_OPTION_THREAD_POOL_SIZE, 2, MHD_OPTION_END);
	if (!daemon_) {
		printf("FAIL setup: MHD_start_daemon\n");
		return 1;
	}
	RUN(test_accept_key_rfc6455_example);
	RUN(test_handshake_good);
	RUN(test_handshake_refusals);
	RUN(test_bytes_both_ways);
	RUN(test_close_from_client);
	RUN(test_close_from_peer);
	RUN(test_slow_client_stalls_peer);
	RUN(test_slow_peer_stalls_client);
	RUN(test_peer_tail_reaches_slow_client);
	RUN(test_garbage_frames);
	RUN(test_stop_closes_bridges);
	RUN(test_vanished_clients_leave_nothing_at_stop);
	ws_stop();
	MHD_stop_daemon(daemon_);
	return check_done();
}
