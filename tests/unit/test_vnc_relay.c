/* The VNC relay (src/vmm/vnc_relay.c) on its own: a client's socket pair on one side, the pair
 * LibVNCServer would read on the other (the test reads it). A clipboard too long for
 * LibVNCServer is thrown away and the messages after it pass whole; once a long message
 * (thrown away or passed) is over, the relay's room for the client's input goes back to its
 * usual size: what an idle client costs does not depend on its last paste. The memory in use
 * is the process's (mallinfo2), which here is the relay's buffers and little else. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "vmm/vnc_int.h"

#define IDLE_MAX (1u << 20) /* an idle client's input room is 64 KiB: well under this */

struct conn {
	struct vnc_relay *r;
	int cfd;   /* the client's end */
	int lfd;   /* LibVNCServer's end */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t mem_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* realloc, failing once for a size armed (the relay's thread is the only one that reallocs
 * while it is): an allocation that fails mid-way, as under a memory limit. */
extern void *__libc_realloc(void *p, size_t n);
static size_t realloc_fail_size;

void *realloc(void *p, size_t n)
{
	size_t want = n;

	if (n && __atomic_compare_exchange_n(&realloc_fail_size, &want, 0, false,
					     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return NULL;
	return __libc_realloc(p, n);
}

/* Exactly n bytes from fd, waiting up to 10 s: 0, or -1. */
static int read_n(int fd, void *b, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t k;

		if (poll(&p, 1, 10000) != 1)
			return -1;
		k = read(fd, (uint8_t *)b + got, n - got);
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

static int send_all(int fd, const void *b, size_t n)
{
	size_t sent = 0;

	while (sent < n) {
		ssize_t k = send(fd, (const uint8_t *)b + sent, n - sent, MSG_NOSIGNAL);

		if (k <= 0)
			return -1;
		sent += (size_t)k;
	}
	return 0;
}

/* One more client of relay r past the handshake (3.8, no password), with limits lim. */
static int conn_join(struct vnc_relay *r, struct conn *c, uint64_t id,
		     const struct vnc_relay_limits *lim)
{
	static const uint8_t hs[14] = "RFB 003.008\n\x01\x01";
	int cp[2], lp[2];
	uint8_t got[14];

	c->r = r;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, cp) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, lp) < 0)
		return -1;
	/* the relay's ends do not block (as vnc.c's) */
	if (fcntl(cp[1], F_SETFL, O_NONBLOCK) < 0 || fcntl(lp[1], F_SETFL, O_NONBLOCK) < 0)
		return -1;
	if (vnc_relay_add(r, cp[1], lp[1], id, lim) < 0)
		return -1;
	c->cfd = cp[0];
	c->lfd = lp[0];
	if (send_all(c->cfd, hs, sizeof(hs)) < 0 || read_n(c->lfd, got, sizeof(got)) < 0)
		return -1;
	return memcmp(got, hs, sizeof(hs)) ? -1 : 0;
}

/* A relay with one client past the handshake; partial_ms: its limit. */
static int conn_open_ms(struct conn *c, int partial_ms)
{
	struct vnc_relay_limits lim = { .max_backlog = 1 << 20, .stall_ms = 60000,
					.partial_ms = partial_ms };
	struct vnc_relay *r;

	if (vnc_relay_start(&r) < 0)
		return -1;
	return conn_join(r, c, 1, &lim);
}

static int conn_open(struct conn *c)
{
	return conn_open_ms(c, 60000);
}

static void conn_close(struct conn *c)
{
	close(c->cfd);
	close(c->lfd);
	vnc_relay_stop(c->r);
}

/* Two key events: each reaches LibVNCServer's end whole and alone (the second is read by
 * the relay after the first went: its room for it is made after the first message). */
static bool keys_pass(struct conn *c)
{
	for (int i = 0; i < 2; i++) {
		uint8_t key[8] = { 4, 1, 0, 0, 0, 0, 0, (uint8_t)('a' + i) }, got[8];

		if (send_all(c->cfd, key, 8) < 0 || read_n(c->lfd, got, 8) < 0 ||
		    memcmp(key, got, 8))
			return false;
	}
	return true;
}

static void clip_header(uint8_t h[8], uint32_t n)
{
	memset(h, 0, 8);
	h[0] = 6;
	h[4] = (uint8_t)(n >> 24), h[5] = (uint8_t)(n >> 16);
	h[6] = (uint8_t)(n >> 8), h[7] = (uint8_t)n;
}

/* A clipboard of 8 MiB is thrown away; the key events after it pass, and the relay's room
 * for this client's input is back to its usual size. */
static void test_skipped_clipboard_room(void)
{
	size_t n = 8u << 20;
	uint8_t h[8], *text = malloc(n);
	struct pollfd p;
	struct conn c;

	CHECK(text);
	if (!text || conn_open(&c) < 0) {
		CHECK(!"relay and handshake");
		free(text);
		return;
	}
	memset(text, 'x', n);
	clip_header(h, (uint32_t)n);
	CHECK(send_all(c.cfd, h, 8) == 0 && send_all(c.cfd, text, n) == 0);
	free(text);
	CHECK(keys_pass(&c));
	p = (struct pollfd){ .fd = c.lfd, .events = POLLIN };
	CHECK_EQ(poll(&p, 1, 0), 0); /* nothing of the clipboard passed */
	CHECK(mem_in_use() < IDLE_MAX);
	conn_close(&c);
}

/* A clipboard of 1 MiB (the most LibVNCServer takes) passes whole; then the same. */
static void test_passed_clipboard_room(void)
{
	size_t n = 1u << 20;
	uint8_t h[8], *text = malloc(n), *got = malloc(n + 8);
	struct conn c;

	CHECK(text && got);
	if (!text || !got || conn_open(&c) < 0) {
		CHECK(!"relay and handshake");
		free(text);
		free(got);
		return;
	}
	memset(text, 'y', n);
	clip_header(h, (uint32_t)n);
	CHECK(send_all(c.cfd, h, 8) == 0 && send_all(c.cfd, text, n) == 0);
	CHECK(read_n(c.lfd, got, n + 8) == 0);
	CHECK(!memcmp(got, h, 8) && !memcmp(got + 8, text, n));
	free(text);
	free(got);
	CHECK(keys_pass(&c));
	CHECK(mem_in_use() < IDLE_MAX);
	conn_close(&c);
}

enum { CLIP_N = 100000, CLIP_MSGS = 40 };

struct writer {
	int fd;
	int sent; /* messages whole in the socket */
	bool failed;
};

/* Clipboards of CLIP_N bytes, the first sent from its middle on: each send ends in the
 * middle of a message, so the relay always has the start of one when it stops reading. */
static void *writer_thread(void *o)
{
	struct writer *w = o;
	size_t m = 8 + CLIP_N, total = m * CLIP_MSGS, off = 0;
	uint8_t *all = malloc(total);

	if (!all) {
		w->failed = true;
		return NULL;
	}
	for (int i = 0; i < CLIP_MSGS; i++) {
		clip_header(all + i * m, CLIP_N);
		memset(all + i * m + 8, 'a' + i % 26, CLIP_N);
	}
	while (off < total) {
		size_t n = off ? m : m / 2;

		if (n > total - off)
			n = total - off;
		if (send_all(w->fd, all + off, n) < 0) {
			w->failed = true;
			break;
		}
		off += n;
		__atomic_store_n(&w->sent, (int)(off / m), __ATOMIC_SEQ_CST);
	}
	free(all);
	return NULL;
}

/* LibVNCServer takes nothing for three times partial_ms (the loop stalls: a long savestate)
 * while a client sends clipboards as fast as it can: the relay stops reading it with a
 * message begun, and that client, which was not slow, stays; every clipboard arrives whole
 * once LibVNCServer reads again. (The clocks ran on while the client was held back: it
 * was dropped after partial_ms.) */
static void test_stalled_loop(void)
{
	size_t m = 8 + CLIP_N;
	uint8_t *got = malloc(m);
	struct writer w = { .fd = -1 };
	struct conn c;
	pthread_t th;
	int whole = 0, sent;

	CHECK(got);
	if (!got || conn_open_ms(&c, 1000) < 0) {
		CHECK(!"relay and handshake");
		free(got);
		return;
	}
	w.fd = c.cfd;
	CHECK_EQ(pthread_create(&th, NULL, writer_thread, &w), 0);
	usleep(3000 * 1000); /* the loop stalls */
	sent = __atomic_load_n(&w.sent, __ATOMIC_SEQ_CST); /* the rest waits in its sends */
	for (int i = 0; i < CLIP_MSGS; i++) {
		uint8_t h[8];

		clip_header(h, CLIP_N);
		if (read_n(c.lfd, got, m) < 0 || memcmp(got, h, 8) || got[8] != 'a' + i % 26 ||
		    memcmp(got + 8, got + 9, CLIP_N - 1))
			break;
		whole++;
	}
	pthread_join(th, NULL);
	printf("# %d of %d clipboards of %d bytes arrived whole after the loop stalled 3 s "
	       "(partial_ms 1000; %d were sent whole during the stall)\n", whole, CLIP_MSGS,
	       CLIP_N, sent);
	CHECK(!w.failed);
	CHECK_EQ(whole, CLIP_MSGS);
	CHECK(keys_pass(&c)); /* and the client is still there */
	conn_close(&c);
	free(got);
}

/* The same stall, the client with output it has not read yet when it is held back: it reads
 * nothing while its sends wait (as a client that blocks in write does). It is not dropped
 * for not taking its output (stall_ms) while it is held back: that output arrives whole once
 * it reads, and so do its clipboards once LibVNCServer reads. (It was dropped after
 * stall_ms.) */
static void test_stalled_loop_output(void)
{
	enum { OUT = 1 << 20 };
	struct vnc_relay_limits lim = { .max_backlog = 16 << 20, .max_total = 64 << 20,
					.stall_ms = 2000, .partial_ms = 60000 };
	size_t m = 8 + CLIP_N;
	uint8_t *out = malloc(OUT), *got = malloc(m > OUT ? m : OUT);
	struct writer w = { .fd = -1 };
	struct vnc_relay *r;
	struct conn c;
	pthread_t th;
	int whole = 0;

	CHECK(out && got);
	if (!out || !got || vnc_relay_start(&r) < 0) {
		CHECK(!"relay");
		goto out;
	}
	if (conn_join(r, &c, 1, &lim) < 0) {
		CHECK(!"a client");
		vnc_relay_stop(r);
		goto out;
	}
	memset(out, 0x3c, OUT);
	CHECK_EQ(send_all(c.lfd, out, OUT), 0); /* the relay keeps what the client's socket
						  * does not take */
	w.fd = c.cfd;
	CHECK_EQ(pthread_create(&th, NULL, writer_thread, &w), 0);
	usleep(4000 * 1000); /* the loop stalls for twice stall_ms */
	CHECK_EQ(read_n(c.cfd, got, OUT), 0);
	CHECK(!memcmp(got, out, OUT));
	for (int i = 0; i < CLIP_MSGS; i++) {
		if (read_n(c.lfd, got, m) < 0 || got[8] != 'a' + i % 26)
			break;
		whole++;
	}
	pthread_join(th, NULL);
	CHECK(!w.failed);
	CHECK_EQ(whole, CLIP_MSGS);
	conn_close(&c);
out:
	free(out);
	free(got);
}

enum { VIEWERS = 16, UPDATE = 3 << 20, PIECE = 64 << 10 };

/* VIEWERS clients of one relay each take a 3 MiB update as it comes (64 KiB written by
 * LibVNCServer, 64 KiB read by the client), then are idle: the relay holds no buffer for
 * them (it held 512 KiB of output and 64 KiB of input for each, about 9 MiB). */
static void test_idle_viewers(void)
{
	struct vnc_relay_limits lim = { .max_backlog = 64 << 20, .max_total = 256 << 20,
					.stall_ms = 60000, .partial_ms = 60000 };
	uint8_t *piece = malloc(PIECE), *got = malloc(PIECE);
	struct conn c[VIEWERS];
	struct vnc_out_stats st = { 0 };
	struct vnc_relay *r;
	size_t base, idle;
	int n = 0;

	CHECK(piece && got);
	if (!piece || !got || vnc_relay_start(&r) < 0) {
		CHECK(!"relay");
		goto out;
	}
	base = mem_in_use();
	for (; n < VIEWERS; n++)
		if (conn_join(r, &c[n], (uint64_t)n + 1, &lim) < 0)
			break;
	CHECK_EQ(n, VIEWERS);
	memset(piece, 0x5a, PIECE);
	for (int i = 0; i < n; i++)
		for (size_t off = 0; off < UPDATE; off += PIECE)
			if (send_all(c[i].lfd, piece, PIECE) < 0 || read_n(c[i].cfd, got, PIECE) < 0 ||
			    memcmp(got, piece, PIECE)) {
				CHECK(!"the update passes");
				break;
			}
	double end = now_s() + 5;
	do
		vnc_relay_get_stats(r, &st);
	while (st.buffers && now_s() < end && !usleep(10000));
	idle = mem_in_use();
	printf("# %d idle viewers after a 3 MiB update each: %zu KiB more in use than with none "
	       "(the relay's buffers: %llu bytes, %llu waiting)\n", n, (idle - base) >> 10,
	       (unsigned long long)st.buffers, (unsigned long long)st.waiting);
	CHECK(idle - base < (1u << 20));
	CHECK_EQ(st.buffers, 0);
	CHECK_EQ(st.waiting, 0);
	for (int i = 0; i < n; i++) {
		close(c[i].cfd);
		close(c[i].lfd);
	}
	vnc_relay_stop(r);
out:
	free(piece);
	free(got);
}

struct drain {
	int fd;
	size_t want, got;
};

static void *drain_thread(void *o)
{
	struct drain *d = o;
	static uint8_t b[PIECE];
	ssize_t k;

	while (__atomic_load_n(&d->got, __ATOMIC_ACQUIRE) < d->want &&
	       (k = read(d->fd, b, sizeof(b))) > 0)
		__atomic_fetch_add(&d->got, (size_t)k, __ATOMIC_RELEASE);
	return NULL;
}

/* Four clients of one relay, whose bound on all is 4 MiB (each may have 64 MiB waiting):
 * LibVNCServer writes 16 MiB to each. One client reads all it gets; three read nothing. The
 * three are disconnected, the one with the most waiting first, as what waits for all
 * passes the bound (it never waits more than that, the peak says); the reader stays and
 * gets its 16 MiB. (Without the bound, nothing was disconnected: 48 MiB waited.) */
static void test_total_bound(void)
{
	enum { N = 4, EACH = 16 << 20, CHUNK = 256 << 10, TOTAL = 4 << 20 };
	struct vnc_relay_limits lim = { .max_backlog = 64 << 20, .max_total = TOTAL,
					.stall_ms = 60000, .partial_ms = 60000 };
	uint8_t *chunk = calloc(1, CHUNK);
	struct drain d = { .want = EACH };
	struct vnc_out_stats st = { 0 };
	bool gone[N] = { false };
	struct vnc_relay *r;
	struct conn c[N];
	pthread_t th;
	int n = 0, dropped = 0;

	CHECK(chunk);
	if (!chunk || vnc_relay_start(&r) < 0) {
		CHECK(!"relay");
		free(chunk);
		return;
	}
	for (; n < N; n++)
		if (conn_join(r, &c[n], (uint64_t)n + 1, &lim) < 0)
			break;
	CHECK_EQ(n, N);
	if (n < N)
		goto out;
	d.fd = c[0].cfd;
	CHECK_EQ(pthread_create(&th, NULL, drain_thread, &d), 0);
	for (size_t off = 0; off < EACH; off += CHUNK)
		for (int i = 0; i < N; i++) {
			/* the reader is never more than a quarter of the bound behind, however
			 * slowly its thread runs on a busy machine: what waits for it stays
			 * below every non-reader's (it is not the one dropped) */
			for (int t = 0; !i && t < 30000 &&
			     off - __atomic_load_n(&d.got, __ATOMIC_ACQUIRE) > TOTAL / 4; t++)
				usleep(1000);
			if (!gone[i] && send_all(c[i].lfd, chunk, CHUNK) < 0) {
				gone[i] = true; /* the relay closed its end */
				dropped++;
			}
		}
	pthread_join(th, NULL);
	vnc_relay_get_stats(r, &st);
	printf("# %d of 3 clients that read nothing disconnected; the most that waited for all "
	       "%llu KiB (bound %d KiB); the reader got %zu MiB\n", dropped,
	       (unsigned long long)st.peak >> 10, TOTAL >> 10, d.got >> 20);
	CHECK(!gone[0]);
	CHECK_EQ(dropped, 3);
	CHECK_EQ(d.got, EACH);
	CHECK(st.peak <= TOTAL && st.peak > 0);
	CHECK_EQ(st.dropped, 3);
out:
	for (int i = 0; i < n; i++) {
		close(c[i].cfd);
		close(c[i].lfd);
	}
	vnc_relay_stop(r);
	free(chunk);
}

/* A relay with no client holds no working buffers (a VM that serves VNC but has no viewer,
 * the usual case, pays nothing for them), and gives them back when its last client goes:
 * after a viewer that took a 1 MiB update left, the memory in use is what it was before the
 * relay started. (It held 320 KiB from its start to its end, viewers or not.) */
static void test_no_viewer_no_buffers(void)
{
	enum { BIG = 1 << 20, SLACK = 32 << 10 };
	struct vnc_relay_limits lim = { .max_backlog = 64 << 20, .max_total = 64 << 20,
					.stall_ms = 60000, .partial_ms = 60000 };
	uint8_t *piece = calloc(1, PIECE), *got = malloc(PIECE);
	size_t base, idle, after = SIZE_MAX;
	struct vnc_relay *r;
	struct conn c;

	CHECK(piece && got);
	base = mem_in_use();
	if (!piece || !got || vnc_relay_start(&r) < 0) {
		CHECK(!"relay");
		goto out;
	}
	idle = mem_in_use();
	if (conn_join(r, &c, 1, &lim) < 0) {
		CHECK(!"a client");
		vnc_relay_stop(r);
		goto out;
	}
	for (size_t off = 0; off < BIG; off += PIECE)
		if (send_all(c.lfd, piece, PIECE) < 0 || read_n(c.cfd, got, PIECE) < 0) {
			CHECK(!"the update passes");
			break;
		}
	close(c.cfd); /* the viewer goes; LibVNCServer closes its end */
	close(c.lfd);
	for (double end = now_s() + 10; now_s() < end; usleep(10000))
		if ((after = mem_in_use()) < base + SLACK)
			break;
	printf("# a relay with no client: %lld KiB more in use than before it started; after its "
	       "only client left: %lld KiB more\n", (long long)(idle - base) / 1024,
	       (long long)(after - base) / 1024);
	CHECK(idle < base + SLACK);
	CHECK(after < base + SLACK);
	vnc_relay_stop(r);
out:
	free(piece);
	free(got);
}

/* A masked binary WebSocket frame of n bytes at out (a key that is not zeros): its length. */
static size_t ws_frame(uint8_t *out, const uint8_t *p, size_t n)
{
	static const uint8_t key[4] = { 0x9a, 0x3c, 0x55, 0x01 };
	size_t h = 2;

	out[0] = 0x82;
	if (n < 126) {
		out[1] = 0x80 | (uint8_t)n;
	} else {
		out[1] = 0x80 | 126;
		out[2] = (uint8_t)(n >> 8), out[3] = (uint8_t)n;
		h = 4;
	}
	memcpy(out + h, key, 4);
	for (size_t i = 0; i < n; i++)
		out[h + 4 + i] = p[i] ^ key[i % 4];
	return h + 4 + n;
}

/* One more WebSocket client of relay r past the handshake (3.8, no password): its request
 * passes as it is, each message in a frame of its own (a key of zeros). */
static int ws_join(struct vnc_relay *r, struct conn *c, uint64_t id,
		   const struct vnc_relay_limits *lim)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: h\r\nOrigin: http://h\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
	static const uint8_t want[] = "\x82\x8c\0\0\0\0RFB 003.008\n\x82\x81\0\0\0\0\x01"
		"\x82\x81\0\0\0\0\x01";
	uint8_t f[64], got[sizeof(req) - 1 + sizeof(want) - 1];
	int cp[2], lp[2];
	size_t n;

	c->r = r;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, cp) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, lp) < 0)
		return -1;
	if (fcntl(cp[1], F_SETFL, O_NONBLOCK) < 0 || fcntl(lp[1], F_SETFL, O_NONBLOCK) < 0)
		return -1;
	if (vnc_relay_add(r, cp[1], lp[1], id, lim) < 0)
		return -1;
	c->cfd = cp[0];
	c->lfd = lp[0];
	n = ws_frame(f, (const uint8_t *)"RFB 003.008\n", 12);
	n += ws_frame(f + n, (const uint8_t *)"\x01", 1);
	n += ws_frame(f + n, (const uint8_t *)"\x01", 1);
	if (send_all(c->cfd, req, sizeof(req) - 1) < 0 || send_all(c->cfd, f, n) < 0 ||
	    read_n(c->lfd, got, sizeof(got)) < 0)
		return -1;
	return memcmp(got, req, sizeof(req) - 1) ||
	       memcmp(got + sizeof(req) - 1, want, sizeof(want) - 1) ? -1 : 0;
}

/* Two WebSocket clients; the first sends a frame of 1100 key events, and the relay's
 * memory runs out while it frames them (the list of their lengths cannot grow past 1024):
 * that client is dropped. The other's next key event then reaches LibVNCServer whole, in a
 * frame of its own. (The 1024 lengths the dropped client left were taken for the next
 * client's: its messages were moved by their lengths, out of its buffer.) */
static void test_ws_framing_after_oom(void)
{
	enum { KEYS = 1100 };
	struct vnc_relay_limits lim = { .max_backlog = 1 << 20, .max_total = 4 << 20,
					.stall_ms = 60000, .partial_ms = 60000 };
	static const uint8_t key[8] = { 4, 1, 0, 0, 0, 0, 0, 'k' };
	uint8_t *keys = malloc(KEYS * 8), *f = malloc(KEYS * 8 + 16), got[14], b;
	struct vnc_relay *r;
	struct conn a, c;
	size_t n;

	CHECK(keys && f);
	if (!keys || !f || vnc_relay_start(&r) < 0) {
		CHECK(!"relay");
		goto out;
	}
	if (ws_join(r, &a, 1, &lim) < 0 || ws_join(r, &c, 2, &lim) < 0) {
		CHECK(!"two WebSocket clients");
		vnc_relay_stop(r);
		goto out;
	}
	for (int i = 0; i < KEYS; i++)
		memcpy(keys + 8 * i, key, 8);
	n = ws_frame(f, keys, KEYS * 8);
	__atomic_store_n(&realloc_fail_size, 2048 * sizeof(size_t), __ATOMIC_SEQ_CST);
	CHECK_EQ(send_all(a.cfd, f, n), 0);
	CHECK_EQ(read_n(a.lfd, &b, 1), -1); /* dropped, nothing passed */
	CHECK_EQ(__atomic_exchange_n(&realloc_fail_size, 0, __ATOMIC_SEQ_CST), 0); /* it failed */
	n = ws_frame(f, key, 8);
	CHECK_EQ(send_all(c.cfd, f, n), 0);
	CHECK_EQ(read_n(c.lfd, got, sizeof(got)), 0);
	CHECK(!memcmp(got, "\x82\x88\0\0\0\0", 6) && !memcmp(got + 6, key, 8));
	close(a.cfd);
	close(a.lfd);
	conn_close(&c);
out:
	free(keys);
	free(f);
}

int main(void)
{
	RUN(test_skipped_clipboard_room);
	RUN(test_passed_clipboard_room);
	RUN(test_stalled_loop);
	RUN(test_stalled_loop_output);
	RUN(test_idle_viewers);
	RUN(test_total_bound);
	RUN(test_no_viewer_no_buffers);
	RUN(test_ws_framing_after_oom);
	return check_done();
}
