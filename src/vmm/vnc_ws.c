/* A WebSocket client's frames to the bytes they carry (vnc_ws.h), on wslay's frame layer. */
#include "vmm/vnc_ws.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

struct vnc_ws {
	wslay_frame_context_ptr ctx;
	const uint8_t *in;  /* the bytes of this call wslay has not taken yet */
	size_t in_len;
	uint64_t left;      /* the payload of the frame being read still to come */
	bool in_frame;      /* its header was checked */
	bool frag;          /* a data message is fragmented: continuations follow */
	uint8_t opcode;     /* the frame's */
};

/* wslay asks for bytes: those of this call (0, none left: it says it wants more). */
static ssize_t ws_recv(uint8_t *buf, size_t len, int flags, void *user)
{
	struct vnc_ws *w = user;
	size_t k = w->in_len < len ? w->in_len : len;

	(void)flags;
	memcpy(buf, w->in, k);
	w->in += k;
	w->in_len -= k;
	return (ssize_t)k;
}

/* Never called: nothing is sent through wslay. */
static ssize_t ws_send(const uint8_t *data, size_t len, int flags, void *user)
{
	(void)data, (void)len, (void)flags, (void)user;
	return -1;
}

static int ws_genmask(uint8_t *buf, size_t len, void *user)
{
	(void)user;
	memset(buf, 0, len);
	return 0;
}

int vnc_ws_create(struct vnc_ws **out)
{
	static const struct wslay_frame_callbacks cb = { ws_send, ws_recv, ws_genmask };
	struct vnc_ws *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	if (wslay_frame_context_init(&w->ctx, &cb, w)) {
		free(w);
		return -ENOMEM;
	}
	*out = w;
	return 0;
}

void vnc_ws_destroy(struct vnc_ws *w)
{
	if (!w)
		return;
	wslay_frame_context_free(w->ctx);
	free(w);
}

/* A frame's header (from the first piece of it wslay gives): "" if taken, else why not. */
static const char *frame_bad(struct vnc_ws *w, const struct wslay_frame_iocb *io)
{
	if (io->rsv)
		return "a WebSocket frame with reserved bits set";
	if (!io->mask)
		return "an unmasked WebSocket frame";
	switch (io->opcode) {
	case WSLAY_CONTINUATION_FRAME:
		if (!w->frag)
			return "a WebSocket continuation frame with no message begun";
		w->frag = !io->fin;
		return "";
	case WSLAY_BINARY_FRAME:
		if (w->frag)
			return "a WebSocket message begun inside another";
		w->frag = !io->fin;
		return "";
	case WSLAY_TEXT_FRAME:
		return "a text WebSocket frame (the base64 subprotocol, not served)";
	case WSLAY_CONNECTION_CLOSE:
	case WSLAY_PING:
	case WSLAY_PONG:
		return ""; /* wslay checked: final, at most 125 bytes */
	default:
		return "a WebSocket frame of an unknown opcode";
	}
}

enum vnc_ws_verdict vnc_ws_decode(struct vnc_ws *w, const uint8_t *raw, size_t n, uint8_t *out,
				  size_t *out_len, const char **why)
{
	*out_len = 0;
	w->in = raw;
	w->in_len = n;
	for (;;) {
		struct wslay_frame_iocb io;
		size_t before = w->in_len;
		ssize_t r = wslay_frame_recv(w->ctx, &io);

		if (r == WSLAY_ERR_WANT_READ) {
			if (!w->in_len)
				return VNC_WS_OK;
			if (w->in_len == before) {
				/* not reached: wslay takes what it has room for */
				*why = "a WebSocket frame the decoder could not take";
				return VNC_WS_BAD;
			}
			continue;
		}
		if (r < 0) {
			*why = "a malformed WebSocket frame";
			return VNC_WS_BAD;
		}
		if (!w->in_frame) {
			*why = frame_bad(w, &io);
			if (**why)
				return VNC_WS_BAD;
			w->in_frame = true;
			w->left = io.payload_length;
			w->opcode = (uint8_t)io.opcode;
			if (io.opcode == WSLAY_CONNECTION_CLOSE)
				return VNC_WS_CLOSE;
		}
		if (w->opcode == WSLAY_BINARY_FRAME || w->opcode == WSLAY_CONTINUATION_FRAME) {
			/* each byte of it was one of raw's: at most n in all */
			memcpy(out + *out_len, io.data, io.data_length);
			*out_len += io.data_length;
		}
		w->left -= io.data_length;
		if (!w->left)
			w->in_frame = false;
	}
}

size_t vnc_ws_header(uint64_t len, uint8_t hdr[VNC_WS_HDR_MAX])
{
	size_t k = 2;

	hdr[0] = 0x80 | WSLAY_BINARY_FRAME;
	if (len < 126) {
		hdr[1] = 0x80 | (uint8_t)len;
	} else if (len < 65536) {
		hdr[1] = 0x80 | 126;
		hdr[2] = (uint8_t)(len >> 8);
		hdr[3] = (uint8_t)len;
		k = 4;
	} else {
		hdr[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			hdr[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		k = 10;
	}
	memset(hdr + k, 0, 4); /* the mask's key */
	return k + 4;
}
