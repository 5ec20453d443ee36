/* A raw RFB client for the VNC server's tests (tests/unit/test_vnc_*.c): the handshake
 * (RFB 3.8, security None), update requests and raw 32 bpp updates, on a blocking socket
 * (rig_connect's, with its receive timeout). */
#ifndef VSRV_TESTS_UNIT_VNCRAW_H
#define VSRV_TESTS_UNIT_VNCRAW_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static inline int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static inline int write_full(int fd, const void *buf, size_t n)
{
	return send(fd, buf, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* RFB 3.8 up to the end of ServerInit, security None. early: send our version before the
 * server's arrives (LibVNCServer then need not wait 100 ms for a WebSocket's first bytes).
 * Returns 0 with *w, *h the screen's size, or -1. */
static inline int handshake(int fd, bool early, int *w, int *h)
{
	uint8_t b[64], n;
	uint32_t len;

	if (early && write_full(fd, "RFB 003.008\n", 12))
		return -1;
	if (read_full(fd, b, 12) || memcmp(b, "RFB 003.", 8))
		return -1;
	if (!early && write_full(fd, "RFB 003.008\n", 12))
		return -1;
	if (read_full(fd, &n, 1) || !n || read_full(fd, b, n) || !memchr(b, 1, n))
		return -1;
	if (write_full(fd, "\x01", 1) || read_full(fd, b, 4) || memcmp(b, "\0\0\0\0", 4))
		return -1;
	if (write_full(fd, "\x01", 1) || read_full(fd, b, 24))
		return -1;
	*w = b[0] << 8 | b[1];
	*h = b[2] << 8 | b[3];
	len = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23];
	while (len) {
		uint32_t k = len > sizeof(b) ? sizeof(b) : len;

		if (read_full(fd, b, k))
			return -1;
		len -= k;
	}
	return 0;
}

static inline void update_request(int fd, int incremental, int w, int h)
{
	uint8_t m[10] = { 3, (uint8_t)incremental, 0, 0, 0, 0, (uint8_t)(w >> 8), (uint8_t)w,
			  (uint8_t)(h >> 8), (uint8_t)h };

	write_full(fd, m, sizeof(m));
}

/* A full update of the screen in raw 32 bpp (the server's own format: B, G, R, X) into fb.
 * Returns 0 or -1. */
static inline int read_update(int fd, uint8_t *fb, int w, int h)
{
	uint8_t b[16];
	int nrects;

	if (read_full(fd, b, 4) || b[0] != 0)
		return -1;
	nrects = b[2] << 8 | b[3];
	for (int i = 0; i < nrects; i++) {
		int x, y, rw, rh;
		int32_t enc;

		if (read_full(fd, b, 12))
			return -1;
		x = b[0] << 8 | b[1], y = b[2] << 8 | b[3];
		rw = b[4] << 8 | b[5], rh = b[6] << 8 | b[7];
		enc = (int32_t)((uint32_t)b[8] << 24 | (uint32_t)b[9] << 16 | (uint32_t)b[10] << 8 | b[11]);
		if (enc != 0 || x + rw > w || y + rh > h)
			return -1;
		for (int yy = y; yy < y + rh; yy++)
			if (read_full(fd, fb + ((size_t)yy * w + x) * 4, (size_t)rw * 4))
				return -1;
	}
	return 0;
}

#endif
