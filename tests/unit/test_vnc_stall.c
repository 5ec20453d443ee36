/* The VNC server (src/vmm/vnc.c) against clients that stop reading: the control loop goes on
 * serving (another client's updates, messages posted to it, as the control socket's are)
 * while a client that asks for full updates and reads none is behind, and that client is
 * disconnected; the same for a client that sends a message a byte at a time (one that sends
 * a long clipboard slowly, but steadily, stays and the clipboard arrives whole), and clients
 * that go away with a backlog leave no descriptor behind, and the messages of a client that
 * hangs up before the server took them still reach the guest; vnc_detach with such clients
 * connected and vnc_attach again leave nothing open and serve a new client. Nothing here
 * assumes a socket buffer size: the stalled client asks for more until its own sends would
 * block, the guest's screen keeps changing, and the test measures how long the loop took to
 * answer. Run alone (tests/run: ALONE): it checks bounds in seconds. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>

#include "check.h"
#include "fdcount.h"
#include "vncrig.h"
#include "vncraw.h"
#include "vmm/vnc_int.h"

#define BOUND_S 1.5 /* the longest the loop may take to answer anything */

static void fill(struct rig *r, uint32_t w, uint32_t h)
{
	rig_set_mode(r, w, h, w * 4, DISPLAY_XRGB8888);
	for (size_t i = 0; i < r->len; i++)
		r->buf[i] = (uint8_t)(i * 7 + i / 4096);
}

/* The guest draws: one line changes (the server reads the buffer as guest memory). */
static void draw_line(struct rig *r, unsigned n)
{
	size_t row = (size_t)r->mode.stride, y = n % r->mode.height;

	pthread_mutex_lock(&r->lock);
	memset(r->buf + y * row, (int)(n & 0xff), row);
	pthread_mutex_unlock(&r->lock);
	rig_mark(r, y * row, row);
}

/* Send without waiting: 1 sent, 0 would block, -1 the server closed the connection. */
static int try_send(int fd, const void *b, size_t n)
{
	ssize_t k = send(fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (k == (ssize_t)n)
		return 1;
	if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return -1;
}

/* The server closed the connection (seen without reading: the client stays stalled). */
static bool hung_up(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

/* Read to the end: 0 when the server closed, -1 if not (the receive timeout is 10 s). */
static int read_to_end(int fd)
{
	char b[65536];
	ssize_t k;

	while ((k = read(fd, b, sizeof(b))) > 0)
		;
	return k == 0 || errno == ECONNRESET ? 0 : -1;
}

/* A client asks for full updates of a 1024 x 768 screen and never reads; another one keeps
 * asking for what changed while the guest draws. The loop answers the other client and a
 * posted message within BOUND_S all along, and the stalled one is disconnected. */
static void test_stalled_reader(void)
{
	struct rig r = { 0 };
	int w, h, good, bad, small = 4096, sent = 0, blocked = 0, good_rounds = 0;
	double worst_good = 0, worst_post = 0, t0, end, gone_at = 0;
	uint8_t req[10] = { 3, 0, 0, 0, 0, 0, 1024 >> 8, 1024 & 0xff, 768 >> 8, 768 & 0xff };
	uint8_t *fb = calloc(1024 * 768, 4);

	fill(&r, 1024, 768);
	CHECK_EQ(rig_start(&r, NULL), 0);
	good = rig_connect(&r);
	bad = rig_connect(&r);
	CHECK(good >= 0 && bad >= 0 && fb);
	if (good < 0 || bad < 0 || !fb)
		goto out;
	setsockopt(bad, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	CHECK_EQ(handshake(good, true, &w, &h), 0);
	CHECK_EQ(handshake(bad, true, &w, &h), 0);
	update_request(good, 0, w, h);
	CHECK_EQ(read_update(good, fb, w, h), 0);

	t0 = now_s();
	end = t0 + 20;
	for (unsigned n = 0; now_s() < end; n++) {
		double a;
		int k;

		/* the stalled client: more full updates until its sends would block */
		if (!gone_at) {
			while ((k = try_send(bad, req, sizeof(req))) == 1)
				sent++;
			if (k == 0)
				blocked++;
			/* the server ended it: its socket reads to the end (what was sent before) */
			if (k < 0 || hung_up(bad))
				gone_at = now_s();
		}
		/* a message posted to the loop, as the control socket's requests are */
		a = now_s();
		(void)rig_stats(&r);
		if (now_s() - a > worst_post)
			worst_post = now_s() - a;
		draw_line(&r, n);
		/* the other client: what changed, within the bound */
		a = now_s();
		update_request(good, 1, w, h);
		CHECK_EQ(read_update(good, fb, w, h), 0);
		if (now_s() - a > worst_good)
			worst_good = now_s() - a;
		good_rounds++;
		/* enough: 3 s and the stalled client gone for a second */
		if (gone_at && now_s() - t0 > 3 && now_s() - gone_at > 1)
			break;
	}
	printf("# %d full update requests sent by the stalled client (%d times its sends "
	       "blocked), gone after %.2f s; the loop's slowest answers: %.3f s to the other "
	       "client (%d updates), %.3f s to a posted message\n", sent, blocked,
	       gone_at ? gone_at - t0 : -1.0, worst_good, good_rounds, worst_post);
	CHECK(gone_at != 0);        /* the stalled client was disconnected */
	CHECK_EQ(read_to_end(bad), 0);
	CHECK(sent > 1);
	CHECK(worst_good < BOUND_S);
	CHECK(worst_post < BOUND_S);
	CHECK(good_rounds > 10);
	CHECK_EQ(rig_stats(&r).clients, 1);
out:
	if (good >= 0)
		close(good);
	if (bad >= 0)
		close(bad);
	free(fb);
	rig_stop(&r);
}

static void set_stall_ms(void *o)
{
	((struct rig *)o)->vnc->stall_ms = 1000;
}

/* A client asks for one full update (far under the backlog's bound) and reads none of it:
 * disconnected once it took nothing for stall_ms, and the loop answers within BOUND_S
 * meanwhile. Another client that reads slowly, but reads, gets its whole update. */
static void test_stall_timeout(void)
{
	struct rig r = { 0 };
	int w, h, bad, slow;
	double t0, worst = 0, gone_at = 0;
	uint8_t *fb = calloc(1024 * 768, 4);

	fill(&r, 1024, 768);
	CHECK_EQ(rig_start(&r, NULL), 0);
	evloop_post(r.loop, set_stall_ms, &r);
	bad = rig_connect(&r);
	slow = rig_connect(&r);
	CHECK(bad >= 0 && slow >= 0 && fb);
	if (bad < 0 || slow < 0 || !fb)
		goto out;
	CHECK_EQ(handshake(bad, true, &w, &h), 0);
	CHECK_EQ(handshake(slow, true, &w, &h), 0);
	update_request(bad, 0, w, h);
	update_request(slow, 0, w, h);
	t0 = now_s();
	/* the slow client: 256 KiB at a time, with pauses shorter than stall_ms */
	{
		uint8_t hdr[4], rect[12];
		size_t need = (size_t)w * h * 4, got = 0;
		bool ok = read_full(slow, hdr, 4) == 0 && read_full(slow, rect, 12) == 0 &&
			  hdr[0] == 0 && hdr[3] == 1;

		while (ok && got < need) {
			size_t k = need - got < 262144 ? need - got : 262144;
			double a = now_s();

			ok = read_full(slow, fb + got, k) == 0;
			got += k;
			(void)rig_stats(&r);
			if (now_s() - a > worst)
				worst = now_s() - a;
			if (!gone_at && hung_up(bad))
				gone_at = now_s();
			usleep(100000);
		}
		CHECK(ok);
		/* one raw rectangle of the whole screen, the server's pixels (B, G, R, X) */
		CHECK(!memcmp(rect, "\0\0\0\0\x04\x00\x03\x00\0\0\0\0", 12));
		for (size_t i = 0; ok && i < (size_t)w * h; i++)
			if (memcmp(fb + i * 4, r.buf + i * 4, 3))
				ok = false;
		CHECK(ok);
	}
	while (!gone_at && now_s() - t0 < 15) {
		double a = now_s();

		(void)rig_stats(&r);
		if (now_s() - a > worst)
			worst = now_s() - a;
		if (hung_up(bad))
			gone_at = now_s();
		usleep(20000);
	}
	printf("# the client that read nothing was disconnected after %.2f s (stall_ms 1000); "
	       "the slow one took %.2f s; the loop's slowest answer %.3f s\n",
	       gone_at ? gone_at - t0 : -1.0, now_s() - t0, worst);
	CHECK(gone_at != 0);
	CHECK(gone_at - t0 < 10);
	CHECK_EQ(read_to_end(bad), 0);
	CHECK(worst < BOUND_S);
out:
	if (bad >= 0)
		close(bad);
	if (slow >= 0)
		close(slow);
	free(fb);
	rig_stop(&r);
}

/* Clients that go away with a large backlog waiting for them (full updates asked for and
 * not read, all or in part), or with their own bytes not yet taken by the server: the server
 * and the relay let go of every descriptor of theirs, and a good client is served. */
static void test_gone_with_backlog(void)
{
	struct rig r = { 0 };
	uint8_t req[10] = { 3, 0, 0, 0, 0, 0, 1024 >> 8, 1024 & 0xff, 768 >> 8, 768 & 0xff };
	int w, h, base, good;
	uint8_t *fb = calloc(1024 * 768, 4);
	char junk[1000];

	fill(&r, 1024, 768);
	CHECK_EQ(rig_start(&r, NULL), 0);
	base = nfds();
	for (int i = 0; i < 30; i++) {
		int fd = rig_connect(&r);

		CHECK(fd >= 0);
		if (fd < 0 || handshake(fd, true, &w, &h) < 0) {
			CHECK(!"handshake");
			break;
		}
		for (int k = 0; k < 1 + i % 4; k++)
			try_send(fd, req, sizeof(req));
		if (i % 3 == 1)
			read_full(fd, junk, sizeof(junk)); /* a part */
		if (i % 3 == 2) {
			/* key events, more than the server takes while it sends */
			memset(junk, 0, sizeof(junk));
			for (size_t k = 0; k < sizeof(junk); k += 8)
				junk[k] = 4;
			while (try_send(fd, junk, sizeof(junk)) == 1)
				;
		}
		if (i % 2)
			usleep(20000); /* the server is in the middle of it */
		close(fd);
	}
	double end = now_s() + 10;
	while ((rig_stats(&r).clients || nfds() > base) && now_s() < end)
		usleep(10000);
	CHECK_EQ(rig_stats(&r).clients, 0);
	CHECK_EQ(nfds(), base);
	good = rig_connect(&r);
	CHECK(good >= 0 && fb);
	if (good >= 0 && fb) {
		CHECK_EQ(handshake(good, true, &w, &h), 0);
		update_request(good, 0, w, h);
		CHECK_EQ(read_update(good, fb, w, h), 0);
		CHECK(memcmp(fb, r.buf, 3) == 0);
		close(good);
	}
	free(fb);
	rig_stop(&r);
}

static void set_partial_ms(void *o)
{
	((struct rig *)o)->vnc->partial_ms = 1500;
}

struct trickle {
	int fd;
	double gap_s;      /* between bytes */
	size_t stop_after; /* bytes sent, then nothing more (0: no end) */
	double t0, gone_at;
};

/* A byte every gap_s, for 6 s at most, until the server hangs up. */
static void *trickle_thread(void *o)
{
	struct trickle *t = o;
	size_t sent = 0;

	while (now_s() - t->t0 < 6) {
		if (hung_up(t->fd) || (!(t->stop_after && sent >= t->stop_after) &&
				       try_send(t->fd, "x", 1) < 0)) {
			t->gone_at = now_s();
			break;
		}
		sent++;
		usleep((useconds_t)(t->gap_s * 1e6));
	}
	return NULL;
}

/* One client sends a message (a 4 KiB ClientCutText) a byte a second, each well within
 * partial_ms of the last: still disconnected, once the message took partial_ms and its
 * length at 32 KiB/s (about 1.6 s). Another sends 100 bytes of a 1 MiB one (which may take
 * 33.5 s) and stops: disconnected once it sent nothing for partial_ms. The loop answers a
 * posted message within BOUND_S all along (LibVNCServer never waits for either). */
static void test_trickled_message(void)
{
	struct rig r = { 0 };
	struct trickle t[2] = { { .fd = -1, .gap_s = 1 }, { .fd = -1, .gap_s = 0.01,
							    .stop_after = 100 } };
	double worst = 0;
	pthread_t th[2];
	int w, h, started = 0;

	fill(&r, 64, 48);
	CHECK_EQ(rig_start(&r, NULL), 0);
	evloop_post(r.loop, set_partial_ms, &r);
	for (int i = 0; i < 2; i++) {
		t[i].fd = rig_connect(&r);
		CHECK(t[i].fd >= 0);
		if (t[i].fd < 0 || handshake(t[i].fd, true, &w, &h) < 0) {
			CHECK(!"handshake");
			goto out;
		}
	}
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(write_full(t[i].fd, i ? "\x06\0\0\0\0\x10\0\0" : "\x06\0\0\0\0\0\x10\0",
				    8), 0);
		t[i].t0 = now_s();
		CHECK_EQ(pthread_create(&th[i], NULL, trickle_thread, &t[i]), 0);
		started++;
	}
	while (now_s() - t[0].t0 < 6.5) {
		double a = now_s();

		(void)rig_stats(&r);
		if (now_s() - a > worst)
			worst = now_s() - a;
		usleep(50000);
	}
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	started = 0;
	printf("# the client sending a byte a second was disconnected after %.2f s, the one that "
	       "stopped after %.2f s (partial_ms 1500); the loop's slowest answer %.3f s\n",
	       t[0].gone_at ? t[0].gone_at - t[0].t0 : -1.0,
	       t[1].gone_at ? t[1].gone_at - t[1].t0 : -1.0, worst);
	CHECK(t[0].gone_at != 0 && t[0].gone_at - t[0].t0 >= 1.5);
	CHECK(t[1].gone_at != 0 && t[1].gone_at - t[1].t0 >= 1.5 && t[1].gone_at - t[1].t0 < 6);
	CHECK(worst < BOUND_S);
	CHECK_EQ(rig_stats(&r).clients, 0);
	CHECK_EQ(rig_stats(&r).clipboards, 0);
out:
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++)
		if (t[i].fd >= 0)
			close(t[i].fd);
	rig_stop(&r);
}

/* A clipboard paste of 200 KiB on a slow link: 20 pieces of 10 KiB, 150 ms apart (3 s in
 * all, LibVNCServer's reads would have waited more than its 1 s): it reaches LibVNCServer
 * whole, the client stays and is served, and the loop answers within BOUND_S meanwhile. */
static void test_trickled_paste(void)
{
	enum { LEN = 200 * 1024, PIECE = 10 * 1024 };
	struct rig r = { 0 };
	uint8_t hdr[8] = { 6, 0, 0, 0, 0, LEN >> 16 & 0xff, LEN >> 8 & 0xff, LEN & 0xff };
	uint8_t *text = malloc(LEN), *fb = calloc(64 * 48, 4);
	double worst = 0, t0, end;
	struct vnc_stats st = { 0 };
	int w, h, fd;

	fill(&r, 64, 48);
	CHECK_EQ(rig_start(&r, NULL), 0);
	fd = rig_connect(&r);
	CHECK(fd >= 0 && text && fb);
	if (fd < 0 || !text || !fb || handshake(fd, true, &w, &h) < 0) {
		CHECK(!"handshake");
		goto out;
	}
	memset(text, 'a', LEN);
	CHECK_EQ(write_full(fd, hdr, sizeof(hdr)), 0);
	t0 = now_s();
	for (size_t off = 0; off < LEN; off += PIECE) {
		double next = now_s() + 0.15;

		CHECK_EQ(write_full(fd, text + off, PIECE), 0);
		while (now_s() < next) {
			double a = now_s();

			(void)rig_stats(&r);
			if (now_s() - a > worst)
				worst = now_s() - a;
			usleep(20000);
		}
	}
	end = now_s() + 10;
	while ((st = rig_stats(&r)).clipboards == 0 && st.clients && now_s() < end)
		usleep(10000);
	printf("# a paste of %d bytes in %.2f s: %llu clipboard(s) of %llu bytes reached the "
	       "server; the loop's slowest answer %.3f s\n", LEN, now_s() - t0,
	       (unsigned long long)st.clipboards, (unsigned long long)st.clipboard_bytes, worst);
	CHECK_EQ(st.clipboards, 1);
	CHECK_EQ(st.clipboard_bytes, LEN);
	CHECK_EQ(st.clients, 1);
	CHECK(worst < BOUND_S);
	/* and it is still served */
	update_request(fd, 0, w, h);
	CHECK_EQ(read_update(fd, fb, w, h), 0);
	CHECK(memcmp(fb, r.buf, 3) == 0);
out:
	if (fd >= 0)
		close(fd);
	free(text);
	free(fb);
	rig_stop(&r);
}

struct gate {
	int entered, release;
};

/* On the loop's thread: hold it (LibVNCServer reads nothing) until the test lets it go. */
static void gate_fn(void *o)
{
	struct gate *g = o;

	__atomic_store_n(&g->entered, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&g->release, __ATOMIC_SEQ_CST))
		usleep(1000);
}

/* A client sends pointer events and hangs up before the server took them all (its socket
 * still holds some: the loop is held, and the client sent until its own sends would block):
 * every event reaches the guest, in order, as LibVNCServer reads them directly from a
 * client's socket before the relay. The relay took the hang-up for the end of everything
 * and dropped what the client had sent. */
static void test_hangup_keeps_input(void)
{
	struct rig r = { 0 };
	struct gate g = { 0 };
	int w, h, fd, sent = 0, nabs = 0;
	uint32_t ax = 0, ay = 0;
	uint8_t last[6] = { 0 };

	fill(&r, 64, 48);
	CHECK_EQ(rig_start(&r, NULL), 0);
	fd = rig_connect(&r);
	CHECK(fd >= 0);
	if (fd < 0 || handshake(fd, true, &w, &h) < 0) {
		CHECK(!"handshake");
		goto out;
	}
	evloop_post(r.loop, gate_fn, &g);
	while (!__atomic_load_n(&g.entered, __ATOMIC_SEQ_CST))
		usleep(1000);
	for (;;) {
		uint16_t x = (uint16_t)(sent % 61 + 1), y = (uint16_t)(sent / 61 % 45 + 1);
		uint8_t pe[6] = { 5, 0, (uint8_t)(x >> 8), (uint8_t)x, (uint8_t)(y >> 8), (uint8_t)y };
		int k = try_send(fd, pe, sizeof(pe));

		CHECK(k >= 0);
		if (k <= 0)
			break;
		memcpy(last, pe, sizeof(pe));
		sent++;
	}
	close(fd);
	__atomic_store_n(&g.release, 1, __ATOMIC_SEQ_CST);
	double end = now_s() + 10;
	while (now_s() < end) {
		pthread_mutex_lock(&r.lock);
		nabs = r.nabs, ax = r.ax, ay = r.ay;
		pthread_mutex_unlock(&r.lock);
		if (nabs >= sent)
			break;
		usleep(10000);
	}
	printf("# %d pointer events sent before the hang-up, %d reached the guest\n", sent, nabs);
	CHECK(sent > 0);
	CHECK_EQ(nabs, sent);
	/* the last one last: x and y of 64 x 48 pixels scaled to 0..INPUT_ABS_MAX */
	CHECK_EQ(ax, (uint32_t)((uint64_t)(last[2] << 8 | last[3]) * INPUT_ABS_MAX / 63));
	CHECK_EQ(ay, (uint32_t)((uint64_t)(last[4] << 8 | last[5]) * INPUT_ABS_MAX / 47));
	end = now_s() + 10;
	while (rig_stats(&r).clients && now_s() < end)
		usleep(10000);
	CHECK_EQ(rig_stats(&r).clients, 0);
out:
	rig_stop(&r);
}

/* A VM's end and the next one's start in the same process (run.c's run_once after a guest
 * reset without the sandbox): vnc_detach with a client whose full updates wait in the relay
 * and another one served, then vnc_attach on a new loop. Both clients see the end, nothing of
 * theirs or of the old relay stays open, and a new client is served. */
static void test_detach_attach(void)
{
	struct rig r = { 0 };
	uint8_t req[10] = { 3, 0, 0, 0, 0, 0, 1024 >> 8, 1024 & 0xff, 768 >> 8, 768 & 0xff };
	uint8_t *fb = calloc(1024 * 768, 4);
	int w, h, bad, good, base;

	fill(&r, 1024, 768);
	CHECK_EQ(rig_start(&r, NULL), 0);
	base = nfds();
	bad = rig_connect(&r);
	good = rig_connect(&r);
	CHECK(bad >= 0 && good >= 0 && fb);
	if (bad < 0 || good < 0 || !fb)
		goto out;
	CHECK_EQ(handshake(bad, true, &w, &h), 0);
	CHECK_EQ(handshake(good, true, &w, &h), 0);
	for (int i = 0; i < 2; i++)
		try_send(bad, req, sizeof(req));
	update_request(good, 0, w, h);
	CHECK_EQ(read_update(good, fb, w, h), 0);
	evloop_stop(r.loop, 0);
	pthread_join(r.th, NULL);
	vnc_detach(r.vnc);
	CHECK_EQ(read_to_end(bad), 0);
	CHECK_EQ(read_to_end(good), 0);
	close(bad);
	close(good);
	evloop_destroy(r.loop);
	CHECK_EQ(evloop_create(&r.loop), 0);
	CHECK_EQ(vnc_attach(r.vnc, r.loop, &r.disp, r.in, "again"), 0);
	CHECK_EQ(pthread_create(&r.th, NULL, rig_thread, &r), 0);
	CHECK_EQ(nfds(), base);
	good = rig_connect(&r);
	CHECK(good >= 0);
	if (good >= 0) {
		CHECK_EQ(handshake(good, true, &w, &h), 0);
		update_request(good, 0, w, h);
		CHECK_EQ(read_update(good, fb, w, h), 0);
		CHECK(memcmp(fb, r.buf, 3) == 0);
		close(good);
	}
	double end = now_s() + 10;
	while ((rig_stats(&r).clients || nfds() > base) && now_s() < end)
		usleep(10000);
	CHECK_EQ(nfds(), base);
out:
	free(fb);
	rig_stop(&r);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(test_stalled_reader);
	RUN(test_stall_timeout);
	RUN(test_gone_with_backlog);
	RUN(test_trickled_message);
	RUN(test_trickled_paste);
	RUN(test_hangup_keeps_input);
	RUN(test_detach_attach);
	return check_done();
}
