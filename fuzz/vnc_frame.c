/* libFuzzer target: the VNC clients' message framing (src/vmm/vnc_frame.c), which the relay
 * (vnc_relay_in.c) runs on every byte a client sends before LibVNCServer sees it, and a
 * WebSocket client's frames (src/vmm/vnc_ws.c). Input: one byte of options (bit 0: the server
 * has a password; bits 1-7: how the stream is cut into arrivals), then the client's byte
 * stream from its first byte. The stream is walked as the relay does: each message checked
 * with the bytes there so far, passed on once whole (the state advancing), clipboards over
 * 1 MiB thrown away, the walk ending at a message the server refuses or at the end. After a
 * WebSocket's request, the rest is decoded as frames, arrival by arrival, and the RFB stream
 * they carry is walked the same way (with the inner framer); each whole message, framed
 * again (vnc_ws_header), must decode to itself. Checked: nothing is read past the bytes
 * given (ASan: each check gets a copy of exactly those), a message's length once known never
 * changes as more of it arrives, lengths are never 0, a refusal always says why, a
 * thrown-away clipboard is over 1 MiB and at most 64 MiB, a decoder never writes more than
 * it was given. Seeds: fuzz/vnc_frame_seeds.py. */
#include "vmm/vnc_frame.h"
#include "vmm/vnc_ws.h"

#include <stdlib.h>
#include <string.h>

/* vnc_frame_check on a copy of exactly have bytes. */
static enum vnc_frame_verdict check_copy(const struct vnc_frame *f, const uint8_t *b,
					 size_t have, uint64_t *len, const char **why)
{
	uint8_t *c = malloc(have ? have : 1);
	enum vnc_frame_verdict v;

	if (!c)
		abort();
	memcpy(c, b, have);
	*why = NULL;
	v = vnc_frame_check(f, c, have, len, why);
	free(c);
	return v;
}

/* A whole message of the stream inside a WebSocket, framed for LibVNCServer: the frame
 * decodes to the message. */
static void reframe(const uint8_t *m, size_t len)
{
	uint8_t *fr = malloc(VNC_WS_HDR_MAX + len), *back = malloc(VNC_WS_HDR_MAX + len);
	size_t hl, k = 0;
	const char *why = NULL;
	struct vnc_ws *ws;

	if (!fr || !back || vnc_ws_create(&ws) < 0)
		abort();
	hl = vnc_ws_header(len, fr);
	memcpy(fr + hl, m, len);
	if (vnc_ws_decode(ws, fr, hl + len, back, &k, &why) != VNC_WS_OK || k != len ||
	    memcmp(back, m, len))
		abort();
	vnc_ws_destroy(ws);
	free(fr);
	free(back);
}

/* Walk the stream s (n bytes) with f, arrivals of step bytes: the offset where the walk
 * stopped (n: all of it taken), or (size_t)-1 at a refusal. */
static size_t walk(struct vnc_frame *f, const uint8_t *s, size_t n, size_t step)
{
	size_t off = 0;

	while (off < n) {
		uint64_t len = 0, known = 0;
		const char *why;
		enum vnc_frame_verdict v = VNC_FRAME_MORE;
		size_t have = 0, avail = n - off;

		if (f->state == VNC_FRAME_WS)
			return off; /* frames follow */
		/* the message arrives step bytes at a time */
		while (have < avail) {
			have = have + step < avail ? have + step : avail;
			v = check_copy(f, s + off, have, &len, &why);
			if (v == VNC_FRAME_BAD) {
				if (!why || !*why)
					abort();
				return (size_t)-1;
			}
			if (v == VNC_FRAME_MORE)
				continue;
			if (len == 0)
				abort();
			if (known && len != known)
				abort();
			known = len;
			if (len <= have)
				break;
		}
		if (v == VNC_FRAME_MORE || len > have)
			return off; /* the stream ends inside a message */
		if (v == VNC_FRAME_SKIP) {
			if (len <= 8 + (uint64_t)VNC_FRAME_CLIP_MAX ||
			    len > 8 + (uint64_t)VNC_FRAME_SKIP_MAX)
				abort();
		} else {
			vnc_frame_done(f, s + off, (size_t)len);
			if (f->inner)
				reframe(s + off, (size_t)len);
		}
		off += (size_t)len;
	}
	return off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vnc_frame f;
	struct vnc_ws *ws;
	size_t off, step, got = 0;
	uint8_t *out;

	if (size < 1)
		return 0;
	vnc_frame_init(&f, data[0] & 1);
	step = (size_t)(data[0] >> 1) + 1; /* the bytes each arrival adds */
	off = walk(&f, data + 1, size - 1, step);
	if (off == (size_t)-1 || f.state != VNC_FRAME_WS)
		return 0;
	/* a WebSocket: its frames, arrival by arrival, then the stream they carry */
	off += 1;
	if (vnc_ws_create(&ws) < 0 || !(out = malloc(size - off + 1)))
		abort();
	while (off < size) {
		size_t n = size - off < step ? size - off : step, k = 0;
		uint8_t *raw = malloc(n);
		const char *why = NULL;
		enum vnc_ws_verdict v;

		if (!raw)
			abort();
		memcpy(raw, data + off, n);
		v = vnc_ws_decode(ws, raw, n, out + got, &k, &why);
		free(raw);
		if (k > n)
			abort();
		got += k;
		off += n;
		if (v == VNC_WS_BAD && (!why || !*why))
			abort();
		if (v != VNC_WS_OK)
			break;
	}
	vnc_ws_destroy(ws);
	vnc_frame_init_inner(&f, data[0] & 1);
	walk(&f, out, got, step);
	free(out);
	return 0;
}
