/* WebSocket clients (noVNC without a proxy) of the VNC server (src/vmm/vnc.c), through the
 * relay, which decodes their frames (src/vmm/vnc_ws.c) and frames the RFB messages inside as
 * a plain client's (vnc_frame.h): LibVNCServer gets each whole message in a frame of its own.
 * A client that sends half a message and stops is dropped after partial_ms, by the relay,
 * never held by LibVNCServer (which gave up on it after its 1 s maxClientWait, and held the
 * loop meanwhile); one whose message is cut across two frames sent 1.5 s apart stays and its
 * key reaches the guest; messages cut across frames without regard to their ends, fragmented
 * ones, pings and several messages in one frame all arrive; a close frame is the client's end.
 * Run alone (tests/run: ALONE): it checks bounds in seconds. */
#include <linux/input-event-codes.h>
#include <poll.h>

#include "check.h"
#include "vncraw.h"
#include "vncrig.h"
#include "vmm/vnc_int.h"

#define BOUND_S 1.5 /* the longest the loop may take to answer anything */

static const char ws_req[] =
	"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nOrigin: http://localhost\r\n"
	"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	"Sec-WebSocket-Protocol: binary\r\nSec-WebSocket-Version: 13\r\n\r\n";

/* A client's frame: op, fin, payload masked with a key that is not zeros. */
static int ws_send_op(int fd, int op, bool fin, const void *p, size_t n)
{
	static const uint8_t key[4] = { 0x12, 0x34, 0x56, 0x78 };
	uint8_t f[14 + 256];
	size_t h = 2;

	if (n > 256)
		return -1;
	f[0] = (uint8_t)((fin ? 0x80 : 0) | op);
	if (n < 126) {
		f[1] = 0x80 | (uint8_t)n;
	} else {
		f[1] = 0x80 | 126;
		f[2] = (uint8_t)(n >> 8), f[3] = (uint8_t)n;
		h = 4;
	}
	memcpy(f + h, key, 4);
	for (size_t i = 0; i < n; i++)
		f[h + 4 + i] = ((const uint8_t *)p)[i] ^ key[i % 4];
	return write_full(fd, f, h + 4 + n);
}

static int ws_send(int fd, const void *p, size_t n)
{
	return ws_send_op(fd, 2, true, p, n);
}

/* n bytes of the server's RFB stream, out of its (unmasked, binary) frames; left: what is
 * left of the frame being read, kept between calls. 0 or -1. */
static int ws_read(int fd, void *buf, size_t n, uint64_t *left)
{
	uint8_t h[8];

	while (n) {
		size_t k;

		if (!*left) {
			if (read_full(fd, h, 2) || (h[0] & 0x0f) != 2 || (h[1] & 0x80))
				return -1;
			*left = h[1] & 0x7f;
			if (*left == 126) {
				if (read_full(fd, h, 2))
					return -1;
				*left = (uint64_t)h[0] << 8 | h[1];
			} else if (*left == 127) {
				if (read_full(fd, h, 8))
					return -1;
				*left = 0;
				for (int i = 0; i < 8; i++)
					*left = *left << 8 | h[i];
			}
			continue;
		}
		k = n < *left ? n : (size_t)*left;
		if (read_full(fd, buf, k))
			return -1;
		buf = (uint8_t *)buf + k;
		n -= k, *left -= k;
	}
	return 0;
}

/* A WebSocket client past the upgrade and RFB 3.8's handshake (security None): its fd or -1.
 * cut: the client's handshake messages go cut across frames as noVNC never does. */
static int ws_client(struct rig *r, bool cut)
{
	uint8_t b[256], n;
	uint64_t left = 0;
	size_t got = 0;
	int fd = rig_connect(r);

	if (fd < 0 || write_full(fd, ws_req, sizeof(ws_req) - 1))
		goto err;
	while (got < sizeof(b) - 1 && read(fd, b + got, 1) == 1)
		if (++got >= 4 && !memcmp(b + got - 4, "\r\n\r\n", 4))
			break;
	if (got < 12 || memcmp(b, "HTTP/1.1 101", 12))
		goto err;
	if (ws_read(fd, b, 12, &left) || memcmp(b, "RFB 003.", 8))
		goto err;
	if (cut) { /* the version, None and ClientInit in three frames cut anywhere */
		if (ws_send(fd, "RFB 00", 6) || ws_send(fd, "3.008\n\x01", 7))
			goto err;
	} else if (ws_send(fd, "RFB 003.008\n", 12)) {
		goto err;
	}
	if (ws_read(fd, &n, 1, &left) || !n || ws_read(fd, b, n, &left) || !memchr(b, 1, n))
		goto err;
	if (!cut && ws_send(fd, "\x01", 1))
		goto err;
	if (ws_read(fd, b, 4, &left) || memcmp(b, "\0\0\0\0", 4))
		goto err;
	if (ws_send(fd, "\x01", 1) || ws_read(fd, b, 24, &left))
		goto err;
	for (uint32_t len = (uint32_t)b[20] << 24 | b[21] << 16 | b[22] << 8 | b[23]; len;) {
		uint32_t k = len > sizeof(b) ? sizeof(b) : len;

		if (ws_read(fd, b, k, &left))
			goto err;
		len -= k;
	}
	return fd;
err:
	if (fd >= 0)
		close(fd);
	return -1;
}

static void fill(struct rig *r)
{
	rig_set_mode(r, 64, 48, 64 * 4, DISPLAY_XRGB8888);
}

static void set_partial_ms(void *o)
{
	((struct rig *)o)->vnc->partial_ms = 3000;
}

static int keys(struct rig *r)
{
	int n;

	pthread_mutex_lock(&r->lock);
	n = r->nkeys;
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* The server closed the connection (seen without reading). */
static bool hung_up(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

/* Two WebSocket clients each send the first half of a key event in a frame. One stops: it is
 * dropped once it sent nothing for partial_ms (3 s), not before. The other sends the rest
 * 1.5 s later (after LibVNCServer's 1 s maxClientWait, within partial_ms): it stays and its
 * key reaches the guest. The loop answers a posted message within BOUND_S all along. */
static void test_half_message(void)
{
	static const uint8_t key[8] = { 4, 1, 0, 0, 0, 0, 0, 'a' };
	struct rig r = { 0 };
	double t0, worst = 0, gone = 0;
	bool rest_sent = false;
	int a, b;

	fill(&r);
	CHECK_EQ(rig_start(&r, NULL), 0);
	evloop_post(r.loop, set_partial_ms, &r);
	a = ws_client(&r, false);
	b = ws_client(&r, false);
	CHECK(a >= 0 && b >= 0);
	if (a < 0 || b < 0)
		goto out;
	CHECK_EQ(ws_send(a, key, 4), 0);
	CHECK_EQ(ws_send(b, key, 4), 0);
	t0 = now_s();
	while (now_s() - t0 < 6 && !gone) {
		double s = now_s();

		(void)rig_stats(&r);
		if (now_s() - s > worst)
			worst = now_s() - s;
		if (!rest_sent && now_s() - t0 >= 1.5) {
			CHECK_EQ(ws_send(b, key + 4, 4), 0);
			rest_sent = true;
		}
		if (hung_up(a))
			gone = now_s() - t0;
		usleep(20000);
	}
	double end = now_s() + 5;
	while (keys(&r) < 1 && now_s() < end)
		usleep(10000);
	printf("# the client that stopped mid-message was dropped after %.2f s (partial_ms 3 s); "
	       "%d key(s) from the one that finished it 1.5 s later; the loop's slowest answer "
	       "%.3f s\n", gone, keys(&r), worst);
	CHECK(gone >= 2.9 && gone < 6);
	CHECK_EQ(keys(&r), 1);
	CHECK(!hung_up(b));
	end = now_s() + 5;
	while (rig_stats(&r).clients != 1 && now_s() < end)
		usleep(10000);
	CHECK_EQ(rig_stats(&r).clients, 1);
	CHECK(worst < BOUND_S);
out:
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	rig_stop(&r);
}

/* The RFB stream cut across frames anywhere (the handshake too), a message fragmented into a
 * frame and two continuations with a ping between them, two messages in one frame, a pong:
 * every key arrives, and the client is served (a full update; then idle, the relay holds no
 * buffer for it). Then a close frame: the client's end. A text frame (base64) and an
 * unmasked frame drop their clients. */
static void test_frames(void)
{
	static const uint8_t k[4][8] = {
		{ 4, 1, 0, 0, 0, 0, 0, 'a' }, { 4, 0, 0, 0, 0, 0, 0, 'a' },
		{ 4, 1, 0, 0, 0, 0, 0, 'b' }, { 4, 0, 0, 0, 0, 0, 0, 'b' },
	};
	uint8_t two[16], req[10] = { 3, 0, 0, 0, 0, 0, 0, 64, 0, 48 }, hdr[4], rect[12], px[256];
	struct rig r = { 0 };
	uint64_t left = 0;
	double end;
	int fd;

	memcpy(two, k[2], 8);
	memcpy(two + 8, k[3], 8);
	fill(&r);
	CHECK_EQ(rig_start(&r, NULL), 0);
	fd = ws_client(&r, true);
	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	CHECK_EQ(ws_send_op(fd, 2, false, k[0], 3), 0);   /* a, down: fragmented */
	CHECK_EQ(ws_send_op(fd, 9, true, "ping", 4), 0);  /* a ping in between */
	CHECK_EQ(ws_send_op(fd, 0, false, k[0] + 3, 2), 0);
	CHECK_EQ(ws_send_op(fd, 0, true, k[0] + 5, 3), 0);
	CHECK_EQ(ws_send(fd, k[1], 8), 0);                /* a, up */
	CHECK_EQ(ws_send_op(fd, 10, true, "", 0), 0);     /* a pong */
	CHECK_EQ(ws_send(fd, two, 16), 0);                /* b down and up in one frame */
	CHECK_EQ(ws_send(fd, req, 10), 0);
	end = now_s() + 5;
	while (keys(&r) < 4 && now_s() < end)
		usleep(10000);
	CHECK_EQ(keys(&r), 4);
	pthread_mutex_lock(&r.lock);
	CHECK_EQ(r.keys[0][0], KEY_A);
	CHECK_EQ(r.keys[2][0], KEY_B);
	CHECK(r.keys[2][1] && !r.keys[3][1]);
	pthread_mutex_unlock(&r.lock);
	/* the update: a header and one raw rectangle of the whole screen */
	CHECK_EQ(ws_read(fd, hdr, 4, &left), 0);
	CHECK_EQ(hdr[0], 0);
	CHECK_EQ(ws_read(fd, rect, 12, &left), 0);
	CHECK_EQ(rect[5], 64);
	for (int y = 0; y < 48; y++) /* the rest of it; then the client is idle */
		CHECK_EQ(ws_read(fd, px, sizeof(px), &left), 0);
	end = now_s() + 5;
	while (rig_stats(&r).out.buffers && now_s() < end)
		usleep(10000);
	CHECK_EQ(rig_stats(&r).out.buffers, 0); /* the relay holds nothing for it */
	CHECK(rig_stats(&r).out.peak <= 64 * 48 * 4 + 64);
	CHECK_EQ(ws_send_op(fd, 8, true, "\x03\xe8", 2), 0); /* close */
	end = now_s() + 5;
	while (rig_stats(&r).clients && now_s() < end)
		usleep(10000);
	CHECK_EQ(rig_stats(&r).clients, 0);
	close(fd);

	for (int i = 0; i < 2; i++) {
		char junk[4096];

		fd = ws_client(&r, false);
		CHECK(fd >= 0);
		if (fd < 0)
			break;
		if (i == 0) {
			CHECK_EQ(ws_send_op(fd, 1, true, "BAEAAAAAAGE=", 12), 0); /* base64 text */
		} else {
			uint8_t f[10] = { 0x82, 8 };                             /* unmasked */

			memcpy(f + 2, k[0], 8);
			CHECK_EQ(write_full(fd, f, sizeof(f)), 0);
		}
		while (read(fd, junk, sizeof(junk)) > 0)
			;
		close(fd);
	}
	end = now_s() + 5;
	while (rig_stats(&r).clients && now_s() < end)
		usleep(10000);
	CHECK_EQ(rig_stats(&r).clients, 0);
	CHECK_EQ(keys(&r), 4); /* neither reached the guest */
out:
	rig_stop(&r);
}

int main(void)
{
	RUN(test_half_message);
	RUN(test_frames);
	return check_done();
}
