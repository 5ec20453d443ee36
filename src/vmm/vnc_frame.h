/* Where each message a VNC client sends ends (RFC 6143 and the extensions LibVNCServer 0.9.14
 * reads), so that the relay (vnc_relay.c) hands LibVNCServer only whole messages: it reads a
 * message in one piece, waiting for each next byte, on the control loop's thread.
 *
 * From the first bytes: the handshake as LibVNCServer runs it (ProtocolVersion; the security
 * type, 3.7 and later; the VNC authentication's response when the server has a password;
 * ClientInit, but for the Mac OS X client's 3.889 without a password), then the client
 * messages: SetPixelFormat, SetEncodings, FramebufferUpdateRequest, KeyEvent, PointerEvent,
 * ClientCutText (and its extended form, once the client enabled the extended clipboard),
 * UltraVNC's SetScale, SetServerInput, SetSingleWindow, TextChat, PalmVNC's SetScaleFactor,
 * xvp, SetDesktopSize and the QEMU extended key event (message 255, sub-type 0: vnc.c's
 * extension). Any other message (FixColourMapEntries, UltraVNC's file transfer, which this
 * server never offers, unknown types and sub-types, a security type not offered) is one
 * LibVNCServer would drop the client for: the relay drops it first.
 *
 * A ClientCutText over VNC_FRAME_CLIP_MAX (LibVNCServer drops the client for it) is read and
 * thrown away instead, the client staying, up to VNC_FRAME_SKIP_MAX; a longer one is bad.
 *
 * A connection whose first four bytes are "GET " is a WebSocket (noVNC without a proxy):
 * its HTTP request passes whole (it ends at the first empty line, as LibVNCServer reads it,
 * within its 4095 bytes; Hixie-76's, which LibVNCServer refuses after reading 8 more bytes,
 * is bad), then the relay decodes its frames (vnc_ws.h) and frames the RFB stream they carry
 * with a second struct, vnc_frame_init_inner's. Any other start is bad (TLS, which is not
 * offered, or garbage LibVNCServer refuses).
 *
 * Pure functions of the bytes given: no I/O, any thread (one struct per connection). */
#ifndef VSRV_VMM_VNC_FRAME_H
#define VSRV_VMM_VNC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VNC_FRAME_CLIP_MAX (1u << 20)  /* LibVNCServer's bound on a clipboard's text */
#define VNC_FRAME_SKIP_MAX (64u << 20) /* the longest clipboard thrown away, not bad */

enum vnc_frame_state {
	VNC_FRAME_START,   /* the first 4 bytes tell RFB from the rest */
	VNC_FRAME_VERSION, /* ProtocolVersion, 12 bytes */
	VNC_FRAME_SECTYPE, /* the security type chosen (3.7 and later), 1 byte */
	VNC_FRAME_AUTH,    /* the VNC authentication's response, 16 bytes */
	VNC_FRAME_INIT,    /* ClientInit, 1 byte */
	VNC_FRAME_NORMAL,  /* client messages */
	VNC_FRAME_WS,      /* a WebSocket's request passed, its frames follow (vnc_ws.h):
			    * not for vnc_frame_check */
};

#define VNC_FRAME_HTTP_MAX 4095 /* the most of a WebSocket's request LibVNCServer reads */

struct vnc_frame {
	enum vnc_frame_state state;
	bool password;     /* the server asks for VNC authentication */
	bool ext_clip;     /* the client enabled the extended clipboard */
	int minor;         /* the protocol's minor version the client sent */
	bool inner;        /* the stream inside a WebSocket's frames: RFB from its start */
};

enum vnc_frame_verdict {
	VNC_FRAME_MORE,    /* more bytes are needed to know the message's length */
	VNC_FRAME_PASS,    /* a message of *len bytes, to LibVNCServer once all are there */
	VNC_FRAME_SKIP,    /* a clipboard of *len bytes over VNC_FRAME_CLIP_MAX: thrown away */
	VNC_FRAME_BAD,     /* a message LibVNCServer would drop the client for (*why) */
};

/* A new connection's; password: the server asks for VNC authentication. */
void vnc_frame_init(struct vnc_frame *f, bool password);

/* The RFB stream inside a WebSocket's frames, once its request passed (VNC_FRAME_WS). */
void vnc_frame_init_inner(struct vnc_frame *f, bool password);

/* The message that starts at b, of which have bytes are there (have may run past its end).
 * PASS and SKIP set *len. With all of its bytes there,
 * PASS also means the message is one LibVNCServer takes (the checks on its body are done);
 * BAD sets *why to a static string, for a log line. Never reads past b + have. */
enum vnc_frame_verdict vnc_frame_check(const struct vnc_frame *f, const uint8_t *b, size_t have,
				       uint64_t *len, const char **why);

/* The whole message msg of len bytes, which vnc_frame_check passed, went to LibVNCServer:
 * the next state (the handshake's step, the encodings the client enabled). */
void vnc_frame_done(struct vnc_frame *f, const uint8_t *msg, size_t len);

#endif
