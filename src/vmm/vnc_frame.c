/* The VNC clients' messages' lengths (vnc_frame.h), as LibVNCServer 0.9.14 reads them
 * (libvncserver/rfbserver.c's rfbProcessClientNormalMessage, auth.c). */
#include "vmm/vnc_frame.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SEC_NONE     1
#define SEC_VNC_AUTH 2
#define ENC_EXT_CLIP 0xC0A1E5CEu /* the extended clipboard's pseudo-encoding */
#define CLIP_CAPS    (1u << 24)  /* an extended clipboard message's flags */
#define CLIP_TEXT    1u

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void vnc_frame_init(struct vnc_frame *f, bool password)
{
	memset(f, 0, sizeof(*f));
	f->state = VNC_FRAME_START;
	f->password = password;
}

static enum vnc_frame_verdict fixed(uint64_t n, uint64_t *len)
{
	*len = n;
	return VNC_FRAME_PASS;
}

void vnc_frame_init_inner(struct vnc_frame *f, bool password)
{
	vnc_frame_init(f, password);
	f->inner = true;
}

/* A line of a WebSocket's request (of len bytes, its end included) starts with the header
 * name h, as LibVNCServer compares them. */
static bool header_is(const uint8_t *line, size_t len, const char *h)
{
	size_t n = strlen(h);

	return len > n && !strncasecmp((const char *)line, h, n);
}

/* A WebSocket's request: PASS with its length once its empty line is there, as LibVNCServer
 * reads it (a line ends at a newline at least its second byte; the empty one is "\r\n"). */
static enum vnc_frame_verdict http_request(const uint8_t *b, size_t have, uint64_t *len,
					   const char **why)
{
	bool key1 = false, key2 = false;
	size_t start = 0;

	for (size_t i = 0; i < have && i < VNC_FRAME_HTTP_MAX; i++) {
		size_t llen = i + 1 - start;

		if (llen < 2 || b[i] != '\n')
			continue;
		if (llen == 2 && b[start] == '\r') {
			if (key1 && key2) {
				*why = "a Hixie-76 WebSocket request, which LibVNCServer refuses";
				return VNC_FRAME_BAD;
			}
			return fixed(i + 1, len);
		}
		key1 |= header_is(b + start, llen, "sec-websocket-key1: ");
		key2 |= header_is(b + start, llen, "sec-websocket-key2: ");
		start = i + 1;
	}
	if (have >= VNC_FRAME_HTTP_MAX) {
		*why = "a WebSocket request longer than LibVNCServer reads";
		return VNC_FRAME_BAD;
	}
	return VNC_FRAME_MORE;
}

/* ProtocolVersion as LibVNCServer parses it: 0 and *minor, or -1 (it drops the client). */
static int parse_version(const uint8_t *b, int *minor)
{
	char s[13];
	int major;

	memcpy(s, b, 12);
	s[12] = 0;
	if (sscanf(s, "RFB %03d.%03d\n", &major, minor) != 2 || major != 3)
		return -1;
	return 0;
}

/* A ClientCutText's text length as LibVNCServer reads it (negative: the extended format,
 * once enabled), and whether it is the extended format. */
static uint32_t clip_len(const struct vnc_frame *f, const uint8_t *b, bool *ext)
{
	uint32_t n = be32(b + 4);

	*ext = f->ext_clip && (n & 0x80000000u);
	return *ext ? -n : n;
}

/* An extended clipboard message's body LibVNCServer refuses: "" if none. */
static const char *clip_ext_bad(const uint8_t *t, uint32_t n)
{
	uint32_t flags, formats = 0;

	if (n < 4)
		return "an extended clipboard message shorter than its flags";
	flags = be32(t);
	if (!(flags & CLIP_CAPS))
		return "";
	for (int i = 0; i < 16; i++)
		formats += flags >> i & 1;
	if (formats && n != 4 + formats * 4)
		return "an extended clipboard's capabilities of the wrong length";
	return "";
}

static enum vnc_frame_verdict normal(const struct vnc_frame *f, const uint8_t *b, size_t have,
				     uint64_t *len, const char **why)
{
	uint32_t n;
	bool ext;

	switch (b[0]) {
	case 0:   /* SetPixelFormat */
		return fixed(20, len);
	case 2:   /* SetEncodings */
		if (have < 4)
			return VNC_FRAME_MORE;
		return fixed(4 + 4 * (uint64_t)(b[2] << 8 | b[3]), len);
	case 3:   /* FramebufferUpdateRequest */
		return fixed(10, len);
	case 4:   /* KeyEvent */
		return fixed(8, len);
	case 5:   /* PointerEvent */
		return fixed(6, len);
	case 6:   /* ClientCutText */
		if (have < 8)
			return VNC_FRAME_MORE;
		n = clip_len(f, b, &ext);
		*len = 8 + (uint64_t)n;
		if (n > VNC_FRAME_SKIP_MAX) {
			*why = "a clipboard longer than the server ever reads";
			return VNC_FRAME_BAD;
		}
		if (n > VNC_FRAME_CLIP_MAX)
			return VNC_FRAME_SKIP;
		if (ext && have >= *len && *clip_ext_bad(b + 8, n)) {
			*why = clip_ext_bad(b + 8, n);
			return VNC_FRAME_BAD;
		}
		return VNC_FRAME_PASS;
	case 8:   /* SetScale (UltraVNC) */
	case 9:   /* SetServerInput (UltraVNC) */
	case 15:  /* SetScaleFactor (PalmVNC) */
	case 250: /* xvp */
		return fixed(4, len);
	case 10:  /* SetSingleWindow (UltraVNC) */
		return fixed(6, len);
	case 11:  /* TextChat (UltraVNC): a command, or text under 4096 bytes */
		if (have < 8)
			return VNC_FRAME_MORE;
		n = be32(b + 4);
		if (n >= 0xFFFFFFFDu)
			return fixed(8, len);
		if (n > 0 && n < 4096)
			return fixed(8 + (uint64_t)n, len);
		*why = "a text chat message of a length LibVNCServer refuses";
		return VNC_FRAME_BAD;
	case 251: /* SetDesktopSize */
		if (have < 8)
			return VNC_FRAME_MORE;
		return fixed(8 + 16 * (uint64_t)b[6], len);
	case 255: /* QEMU: only the extended key event (sub-type 0) is served */
		if (have < 2)
			return VNC_FRAME_MORE;
		if (b[1] == 0)
			return fixed(12, len);
		*why = "a QEMU message of a sub-type not offered";
		return VNC_FRAME_BAD;
	case 1:
		*why = "FixColourMapEntries, which LibVNCServer does not take";
		return VNC_FRAME_BAD;
	case 7:
		*why = "a file transfer, which is not offered";
		return VNC_FRAME_BAD;
	default:
		*why = "an unknown message type";
		return VNC_FRAME_BAD;
	}
}

enum vnc_frame_verdict vnc_frame_check(const struct vnc_frame *f, const uint8_t *b, size_t have,
				       uint64_t *len, const char **why)
{
	int minor;

	if (!have)
		return VNC_FRAME_MORE;
	switch (f->state) {
	case VNC_FRAME_START:
		if (!memcmp(b, "GET ", have < 4 ? have : 4) && !f->inner)
			return have < 4 ? VNC_FRAME_MORE : http_request(b, have, len, why);
		if (memcmp(b, "RFB ", have < 4 ? have : 4)) {
			*why = f->inner ? "not RFB inside the WebSocket" :
					  "neither RFB nor a WebSocket's request";
			return VNC_FRAME_BAD;
		}
		if (have < 4)
			return VNC_FRAME_MORE;
		/* it is the version */
		__attribute__((fallthrough));
	case VNC_FRAME_VERSION:
		if (have >= 12 && parse_version(b, &minor) < 0) {
			*why = "not an RFB 3.x version";
			return VNC_FRAME_BAD;
		}
		return fixed(12, len);
	case VNC_FRAME_SECTYPE:
		if (b[0] != (f->password ? SEC_VNC_AUTH : SEC_NONE)) {
			*why = "a security type not offered";
			return VNC_FRAME_BAD;
		}
		return fixed(1, len);
	case VNC_FRAME_AUTH:
		return fixed(16, len);
	case VNC_FRAME_INIT:
		return fixed(1, len);
	case VNC_FRAME_NORMAL:
		return normal(f, b, have, len, why);
	case VNC_FRAME_WS:
		break;
	}
	*why = "WebSocket frames, which vnc_ws.h decodes";
	return VNC_FRAME_BAD;
}

void vnc_frame_done(struct vnc_frame *f, const uint8_t *msg, size_t len)
{
	bool ext;

	switch (f->state) {
	case VNC_FRAME_START:
		if (len >= 4 && !memcmp(msg, "GET ", 4) && !f->inner) {
			f->state = VNC_FRAME_WS;
			return;
		}
		__attribute__((fallthrough));
	case VNC_FRAME_VERSION:
		if (len < 12 || parse_version(msg, &f->minor) < 0)
			return; /* not reached: vnc_frame_check refused it */
		if (f->minor >= 7)
			f->state = VNC_FRAME_SECTYPE;
		else
			f->state = f->password ? VNC_FRAME_AUTH : VNC_FRAME_INIT;
		return;
	case VNC_FRAME_SECTYPE:
		/* the Mac OS X client (3.889) sends no ClientInit after None */
		if (len && msg[0] == SEC_VNC_AUTH)
			f->state = VNC_FRAME_AUTH;
		else
			f->state = f->minor == 889 ? VNC_FRAME_NORMAL : VNC_FRAME_INIT;
		return;
	case VNC_FRAME_AUTH:
		f->state = VNC_FRAME_INIT;
		return;
	case VNC_FRAME_INIT:
		f->state = VNC_FRAME_NORMAL;
		return;
	case VNC_FRAME_WS:
		return;
	case VNC_FRAME_NORMAL:
		break;
	}
	if (msg[0] == 2) { /* SetEncodings: the extended clipboard, once named, stays on */
		for (size_t i = 4; i + 4 <= len; i += 4)
			if (be32(msg + i) == ENC_EXT_CLIP)
				f->ext_clip = true;
	} else if (msg[0] == 6 && len >= 12 && clip_len(f, msg, &ext) == len - 8 && ext) {
		uint32_t flags = be32(msg + 8), formats = 0;

		/* its capabilities: none, or without text, turn it off */
		if (flags & CLIP_CAPS) {
			for (int i = 0; i < 16; i++)
				formats += flags >> i & 1;
			if (!formats || !(flags & CLIP_TEXT))
				f->ext_clip = false;
		}
	}
}
