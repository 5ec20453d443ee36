/* A WebSocket client's frames (RFC 6455) as the relay (vnc_relay_in.c) reads them, so that the
 * RFB messages they carry are framed as a plain client's are (vnc_frame.h) and LibVNCServer,
 * which decodes the frames itself, is handed only whole messages, each in a frame of its own.
 *
 * The frames are decoded with wslay's frame layer: the payload of binary frames (and their
 * continuations) is the client's RFB stream, whatever the frames' boundaries. Pings and pongs
 * are dropped (LibVNCServer 0.9.14 takes neither: a ping between two messages held the loop
 * until the client was dropped); a close frame is the client's end. Refused (LibVNCServer
 * would drop the client, or misread the stream): an unmasked frame, reserved bits, a text
 * frame (the base64 subprotocol, which no noVNC of the last years speaks), an unknown
 * opcode, a continuation with no message begun, a message begun inside another, and what
 * wslay finds malformed (control frames over 125 bytes or fragmented, lengths not minimal).
 *
 * No I/O, no thread of its own: one struct per connection, on one thread at a time. */
#ifndef VSRV_VMM_VNC_WS_H
#define VSRV_VMM_VNC_WS_H

#include <stddef.h>
#include <stdint.h>

#define VNC_WS_HDR_MAX 14 /* the longest header vnc_ws_header writes */

struct vnc_ws;

/* A decoder for a connection whose request (the HTTP upgrade) passed. 0 or -ENOMEM. */
int vnc_ws_create(struct vnc_ws **out);
void vnc_ws_destroy(struct vnc_ws *w); /* NULL is allowed */

enum vnc_ws_verdict {
	VNC_WS_OK,    /* every byte taken: the frames' payload so far is in out */
	VNC_WS_CLOSE, /* a close frame: the client's end (the bytes after it are not read) */
	VNC_WS_BAD,   /* a frame refused (*why: a static string, for a log line) */
};

/* Take the n bytes at raw, the next of the client's stream (a frame may end in a later
 * call: what is needed of it is kept), and write the payload they carry to out: *out_len
 * bytes, never more than n (out has room for n). */
enum vnc_ws_verdict vnc_ws_decode(struct vnc_ws *w, const uint8_t *raw, size_t n, uint8_t *out,
				  size_t *out_len, const char **why);

/* The header of the frame that carries one message of len bytes to LibVNCServer: binary,
 * final, masked with a key of zeros (the payload goes as it is), the length in its shortest
 * form. Returns its length: 6, 8 or 14. */
size_t vnc_ws_header(uint64_t len, uint8_t hdr[VNC_WS_HDR_MAX]);

#endif
