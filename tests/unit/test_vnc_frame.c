/* The VNC clients' message framing (src/vmm/vnc_frame.c): the handshake as LibVNCServer
 * 0.9.14 runs it, with and without a password, for 3.3, 3.8 and the Mac OS X client's 3.889;
 * every client message's length, known from its first bytes as they come; the extended
 * clipboard's negative lengths once the client enabled it (and turned off again by its
 * capabilities); clipboards over 1 MiB thrown away; messages LibVNCServer refuses. */
#include "check.h"
#include "vmm/vnc_frame.h"

#include <stdlib.h>
#include <string.h>

/* The verdict on the whole message m (n bytes), after checking that every shorter prefix
 * gives MORE or the same verdict and length (the relay sees a message arrive in pieces). */
static enum vnc_frame_verdict check_all(const struct vnc_frame *f, const uint8_t *m, size_t n,
					uint64_t *len)
{
	const char *why = "";
	enum vnc_frame_verdict v = vnc_frame_check(f, m, n, len, &why);

	for (size_t k = 1; k < n && k < 64 && v != VNC_FRAME_BAD; k++) {
		uint64_t l = 0;
		enum vnc_frame_verdict p = vnc_frame_check(f, m, k, &l, &why);

		CHECK(p == VNC_FRAME_MORE || (p == v && l == *len));
	}
	if (v == VNC_FRAME_BAD)
		CHECK(why && *why);
	return v;
}

/* Feed m as one message: it must pass whole with length n, and go to LibVNCServer. */
static void pass(struct vnc_frame *f, const void *m, size_t n)
{
	uint64_t len = 0;

	CHECK_EQ(check_all(f, m, n, &len), VNC_FRAME_PASS);
	CHECK_EQ(len, n);
	vnc_frame_done(f, m, n);
}

static void test_handshakes(void)
{
	struct vnc_frame f;
	uint64_t len;
	const char *why;
	uint8_t resp[16] = { 0 };

	/* 3.8, no password: version, None, ClientInit */
	vnc_frame_init(&f, false);
	pass(&f, "RFB 003.008\n", 12);
	CHECK_EQ(f.state, VNC_FRAME_SECTYPE);
	CHECK_EQ(vnc_frame_check(&f, (const uint8_t *)"\x02", 1, &len, &why), VNC_FRAME_BAD);
	pass(&f, "\x01", 1);
	CHECK_EQ(f.state, VNC_FRAME_INIT);
	pass(&f, "\x01", 1);
	CHECK_EQ(f.state, VNC_FRAME_NORMAL);
	/* 3.8 with a password: VNC authentication's 16 bytes */
	vnc_frame_init(&f, true);
	pass(&f, "RFB 003.008\n", 12);
	CHECK_EQ(vnc_frame_check(&f, (const uint8_t *)"\x01", 1, &len, &why), VNC_FRAME_BAD);
	pass(&f, "\x02", 1);
	pass(&f, resp, 16);
	pass(&f, "\x00", 1);
	CHECK_EQ(f.state, VNC_FRAME_NORMAL);
	/* 3.3: the server chooses, no security type from the client */
	vnc_frame_init(&f, false);
	pass(&f, "RFB 003.003\n", 12);
	pass(&f, "\x01", 1);
	CHECK_EQ(f.state, VNC_FRAME_NORMAL);
	vnc_frame_init(&f, true);
	pass(&f, "RFB 003.003\n", 12);
	pass(&f, resp, 16);
	pass(&f, "\x01", 1);
	CHECK_EQ(f.state, VNC_FRAME_NORMAL);
	/* the Mac OS X client: no ClientInit after None */
	vnc_frame_init(&f, false);
	pass(&f, "RFB 003.889\n", 12);
	pass(&f, "\x01", 1);
	CHECK_EQ(f.state, VNC_FRAME_NORMAL);
	/* not 3.x */
	vnc_frame_init(&f, false);
	CHECK_EQ(vnc_frame_check(&f, (const uint8_t *)"RFB 004.000\n", 12, &len, &why),
		 VNC_FRAME_BAD);
	CHECK_EQ(vnc_frame_check(&f, (const uint8_t *)"RFB xyz.000\n", 12, &len, &why),
		 VNC_FRAME_BAD);
	/* a WebSocket's request: whole, to its empty line; then frames (vnc_ws.h) */
	static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	vnc_frame_init(&f, false);
	CHECK_EQ(vnc_frame_check(&f, (const uint8_t *)"GE", 2, &len, &why), VNC_FRAME_MORE);
	pass(&f, req, sizeof(req) - 1);
	CHECK_EQ(f.state, VNC_FRAME_WS);
	CHECK_EQ(vnc_frame_check(&f, (const uint8_t *)"\x82\x85", 2, &len, &why), VNC_FRAME_BAD);
	/* ... as LibVNCServer ends it: at "\r\n" alone on a line, within 4095 bytes */
	vnc_frame_init(&f, false);
	CHECK_EQ(vnc_frame_check(&f, (const uint8_t *)"GET /\n\r\n", 8, &len, &why),
		 VNC_FRAME_PASS);
	CHECK_EQ(len, 8);
	{
		uint8_t big[VNC_FRAME_HTTP_MAX + 10];

		memset(big, 'a', sizeof(big));
		memcpy(big, "GET ", 4);
		CHECK_EQ(vnc_frame_check(&f, big, VNC_FRAME_HTTP_MAX - 1, &len, &why),
			 VNC_FRAME_MORE);
		CHECK_EQ(vnc_frame_check(&f, big, sizeof(big), &len, &why), VNC_FRAME_BAD);
		memcpy(big + VNC_FRAME_HTTP_MAX - 4, "\r\n\r\n", 4);
		CHECK_EQ(vnc_frame_check(&f, big, sizeof(big), &len, &why), VNC_FRAME_PASS);
		CHECK_EQ(len, VNC_FRAME_HTTP_MAX);
	}
	/* Hixie-76 (LibVNCServer would read 8 more bytes, then refuse it) */
	static const char hixie[] = "GET / HTTP/1.1\r\nSec-WebSocket-Key1: 1 2\r\n"
				    "Sec-WebSocket-Key2: 3 4\r\n\r\n";
	CHECK_EQ(vnc_frame_check(&f, (const uint8_t *)hixie, sizeof(hixie) - 1, &len, &why),
		 VNC_FRAME_BAD);
	/* neither RFB nor a request (TLS, garbage) */
	CHECK_EQ(vnc_frame_check(&f, (const uint8_t *)"\x16\x03", 2, &len, &why), VNC_FRAME_BAD);
	CHECK(why && *why);
	/* inside a WebSocket: RFB only */
	vnc_frame_init_inner(&f, false);
	CHECK_EQ(vnc_frame_check(&f, (const uint8_t *)"GET ", 4, &len, &why), VNC_FRAME_BAD);
	pass(&f, "RFB 003.008\n", 12);
	/* "RFB" so far: wait for the fourth byte */
	vnc_frame_init(&f, false);
	CHECK_EQ(vnc_frame_check(&f, (const uint8_t *)"RFB", 3, &len, &why), VNC_FRAME_MORE);
}

static void normal(struct vnc_frame *f)
{
	vnc_frame_init(f, false);
	pass(f, "RFB 003.008\n", 12);
	pass(f, "\x01", 1);
	pass(f, "\x01", 1);
}

static void test_messages(void)
{
	static const struct { uint8_t type; size_t len; } fixed[] = {
		{ 0, 20 }, { 3, 10 }, { 4, 8 }, { 5, 6 }, { 8, 4 }, { 9, 4 }, { 10, 6 },
		{ 15, 4 }, { 250, 4 },
	};
	static const uint8_t bad[] = { 1, 7, 12, 13, 100, 249, 252, 253, 254 };
	struct vnc_frame f;
	uint8_t m[2048] = { 0 };
	uint64_t len;
	const char *why;

	normal(&f);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		m[0] = fixed[i].type;
		pass(&f, m, fixed[i].len);
	}
	/* SetEncodings: 4 + 4 n */
	memset(m, 0, sizeof(m));
	m[0] = 2, m[2] = 1, m[3] = 2;  /* 258 encodings */
	CHECK_EQ(check_all(&f, m, 8, &len), VNC_FRAME_PASS);
	CHECK_EQ(len, 4 + 4 * 258);
	/* ClientCutText: 8 + its length */
	memset(m, 0, sizeof(m));
	m[0] = 6, m[6] = 1, m[7] = 0;
	pass(&f, m, 8 + 256);
	/* TextChat: commands have no text, text is under 4096 */
	memset(m, 0, sizeof(m));
	m[0] = 11, m[4] = m[5] = m[6] = m[7] = 0xff;
	pass(&f, m, 8);
	m[4] = m[5] = 0, m[6] = 0, m[7] = 10;
	pass(&f, m, 18);
	m[6] = 0x10, m[7] = 0;
	CHECK_EQ(check_all(&f, m, 8, &len), VNC_FRAME_BAD);
	m[6] = 0;
	CHECK_EQ(check_all(&f, m, 8, &len), VNC_FRAME_BAD);
	/* SetDesktopSize: 8 + 16 per screen */
	memset(m, 0, sizeof(m));
	m[0] = 251, m[6] = 2;
	pass(&f, m, 8 + 32);
	/* QEMU: the extended key event only */
	memset(m, 0, sizeof(m));
	m[0] = 255;
	pass(&f, m, 12);
	m[1] = 1;
	CHECK_EQ(check_all(&f, m, 12, &len), VNC_FRAME_BAD);
	for (size_t i = 0; i < sizeof(bad); i++) {
		m[0] = bad[i];
		CHECK_EQ(vnc_frame_check(&f, m, 1, &len, &why), VNC_FRAME_BAD);
	}
}

static void test_clipboards(void)
{
	struct vnc_frame f;
	uint8_t m[64] = { 0 }, enc[12] = { 2, 0, 0, 2, 0, 0, 0, 0, 0xC0, 0xA1, 0xE5, 0xCE };
	uint64_t len;
	const char *why;

	normal(&f);
	/* over 1 MiB: thrown away; over 64 MiB (or negative, before the extended clipboard):
	 * bad */
	m[0] = 6, m[5] = 0x10, m[7] = 1;
	CHECK_EQ(check_all(&f, m, 8, &len), VNC_FRAME_SKIP);
	CHECK_EQ(len, 8 + (1u << 20) + 1);
	m[5] = 0, m[4] = 0x04, m[7] = 1;
	CHECK_EQ(check_all(&f, m, 8, &len), VNC_FRAME_BAD);
	m[4] = 0xff, m[5] = 0xff, m[6] = 0xff, m[7] = 0xf0;  /* -16 */
	CHECK_EQ(vnc_frame_check(&f, m, 8, &len, &why), VNC_FRAME_BAD);
	/* the extended clipboard enabled: -16 is 16 bytes of the extended format */
	pass(&f, enc, sizeof(enc));
	CHECK(f.ext_clip);
	CHECK_EQ(check_all(&f, m, 8 + 16, &len), VNC_FRAME_PASS);
	CHECK_EQ(len, 8 + 16);
	/* -2: shorter than its flags, refused */
	m[7] = 0xfe;
	CHECK_EQ(check_all(&f, m, 8 + 2, &len), VNC_FRAME_BAD);
	/* capabilities: text and one size (4 + 4), of the right length, then of the wrong */
	m[7] = 0xf8;  /* -8 */
	m[8] = 0x01, m[9] = 0, m[10] = 0, m[11] = 0x01;
	pass(&f, m, 16);
	CHECK(f.ext_clip);
	m[7] = 0xf4;  /* -12 */
	CHECK_EQ(check_all(&f, m, 20, &len), VNC_FRAME_BAD);
	/* capabilities without text: turned off, -8 is a huge length again */
	m[7] = 0xf8;
	m[11] = 0x02;
	pass(&f, m, 16);
	CHECK(!f.ext_clip);
	CHECK_EQ(vnc_frame_check(&f, m, 8, &len, &why), VNC_FRAME_BAD);
}

int main(void)
{
	RUN(test_handshakes);
	RUN(test_messages);
	RUN(test_clipboards);
	return check_done();
}
