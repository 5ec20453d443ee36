/* The VNC relay's input side (vnc_relay_int.h): what a client sends, read while
 * LibVNCServer keeps up, cut into whole messages (vnc_frame.h) and passed on whole; a
 * WebSocket's frames decoded first (vnc_ws.h), each message then in a frame of its own. */
#include "vmm/vnc_relay_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/vnc_ws.h"

/* Throw away up to n bytes at in_len (just read) of a clipboard being skipped; the rest of
 * the n bytes, if any, moved down: what is left of the n. */
static size_t skip_read(struct relay_conn *c, size_t n)
{
	size_t k = c->skip < n ? (size_t)c->skip : n;

	memmove(c->in + c->in_len, c->in + c->in_len + k, n - k);
	c->skip -= k;
	if (!c->skip)
		c->msg_start_ms = c->msg_len = 0; /* it is over */
	return n - k;
}

/* A WebSocket's whole messages [in_pass, at), of the lengths r->lens, each in a frame of
 * its own for LibVNCServer (vnc_ws.h): the headers go in with one pass over the bytes, the
 * last message moved first. false: out of memory. */
static bool ws_wrap(struct vnc_relay *r, struct relay_conn *c, size_t at)
{
	uint8_t h[VNC_WS_HDR_MAX];
	size_t extra = 0, total, end = at;

	for (size_t i = 0; i < r->nlens; i++)
		extra += vnc_ws_header(r->lens[i], h);
	if (c->in_cap - c->in_len < extra) {
		size_t cap = c->in_cap;
		uint8_t *p;

		while (cap - c->in_len < extra)
			cap *= 2;
		if (!(p = realloc(c->in, cap)))
			return false;
		c->in = p;
		c->in_cap = cap;
	}
	total = extra;
	memmove(c->in + at + extra, c->in + at, c->in_len - at);
	for (size_t i = r->nlens; i-- > 0;) {
		size_t len = r->lens[i], hl = vnc_ws_header(len, h), src = end - len;

		/* extra: the headers of this message and those before it */
		memmove(c->in + src + extra, c->in + src, len);
		extra -= hl;
		memcpy(c->in + src + extra, h, hl);
		end = src;
	}
	c->in_len += total;
	c->in_pass = at + total;
	r->nlens = 0;
	return true;
}

/* n bytes of a WebSocket's stream to what its frames carry, at in_len (room for n there).
 * false: a frame LibVNCServer does not take (logged). */
static bool ws_decode(struct relay_conn *c, const uint8_t *raw, size_t n, size_t *got)
{
	const char *why = "";

	switch (vnc_ws_decode(c->ws, raw, n, c->in + c->in_len, got, &why)) {
	case VNC_WS_OK:
		return true;
	case VNC_WS_CLOSE:
		c->ws_closed = true; /* the end, once what came before is framed */
		return true;
	case VNC_WS_BAD:
		break;
	}
	vsrv_log("vnc: client %llu: %s: disconnected", (unsigned long long)c->id, why);
	return false;
}

/* A WebSocket's request passed: what follows it, [in_pass, in_len), is frames. false: out of
 * memory, or a frame LibVNCServer does not take. */
static bool ws_begin(struct relay_conn *c)
{
	size_t n = c->in_len - c->in_pass, got = 0;
	uint8_t *raw;
	bool ok;

	if (vnc_ws_create(&c->ws) < 0)
		return false;
	vnc_frame_init_inner(&c->fr, c->lim.password);
	if (!n)
		return true;
	if (!(raw = malloc(n)))
		return false;
	memcpy(raw, c->in + c->in_pass, n);
	c->in_len = c->in_pass;
	ok = ws_decode(c, raw, n, &got);
	free(raw);
	c->in_len += got;
	return ok;
}

/* Find the ends of the messages in [in_pass, in_len): whole ones move in_pass on (a
 * WebSocket's each in a frame of its own), a clipboard too long is thrown away. false: a
 * message LibVNCServer does not take (logged), or out of memory. */
static bool frame(struct vnc_relay *r, struct relay_conn *c)
{
	r->nlens = 0; /* none of a connection whose framing failed (out of memory) */
	for (;;) {
		enum vnc_frame_verdict v = VNC_FRAME_MORE;
		size_t at = c->in_pass, have;
		const char *why = "";
		const uint8_t *b;
		uint64_t len = 0;

		while (at < c->in_len && !c->skip) {
			v = vnc_frame_check(&c->fr, c->in + at, c->in_len - at, &len, &why);
			if (v != VNC_FRAME_PASS || len > c->in_len - at)
				break;
			vnc_frame_done(&c->fr, c->in + at, (size_t)len);
			if (c->ws) {
				if (r->nlens == r->lens_cap) {
					size_t cap = r->lens_cap ? r->lens_cap * 2 : 1024;
					size_t *p = realloc(r->lens, cap * sizeof(*p));

					if (!p)
						return false;
					r->lens = p;
					r->lens_cap = cap;
				}
				r->lens[r->nlens++] = (size_t)len;
			}
			at += (size_t)len;
			if (c->fr.state == VNC_FRAME_WS)
				break; /* a WebSocket's request: frames follow */
		}
		if (at > c->in_pass) {
			if (!c->ws)
				c->in_pass = at;
			else if (!ws_wrap(r, c, at))
				return false;
			c->msg_start_ms = c->msg_len = 0; /* no room kept for it */
		}
		if (c->fr.state == VNC_FRAME_WS) {
			if (!ws_begin(c))
				return false;
			continue;
		}
		if (c->in_pass >= c->in_len || c->skip)
			return true;
		have = c->in_len - c->in_pass;
		b = c->in + c->in_pass;
		switch (v) {
		case VNC_FRAME_MORE:
			c->msg_len = 0;
			return true;
		case VNC_FRAME_PASS: /* not whole yet */
			c->msg_len = len;
			return true;
		case VNC_FRAME_SKIP:
			vsrv_log("vnc: client %llu: a clipboard of %llu bytes, over the %u the server "
				 "reads: thrown away", (unsigned long long)c->id,
				 (unsigned long long)len - 8, VNC_FRAME_CLIP_MAX);
			c->msg_len = len;
			if (len <= have) {
				memmove(c->in + c->in_pass, b + len, have - (size_t)len);
				c->in_len -= (size_t)len;
				c->msg_start_ms = c->msg_len = 0;
				continue;
			}
			c->skip = len - have;
			c->in_len = c->in_pass;
			return true;
		case VNC_FRAME_BAD:
			vsrv_log("vnc: client %llu: %s (message type %u%s): disconnected",
				 (unsigned long long)c->id, why, b[0],
				 c->fr.state == VNC_FRAME_NORMAL ? "" : ", in the handshake");
			return false;
		}
	}
}

/* Room for a read at in_len: what LibVNCServer took is dropped from the front, and the
 * buffer grows to hold the message being read whole. false: out of memory. */
static bool in_room(struct relay_conn *c)
{
	size_t want = RELAY_IN_CHUNK, cap;
	uint8_t *p;

	if (c->in_off == c->in_len && c->in_cap > RELAY_KEEP) {
		free(c->in); /* a long message's room, given back once it went */
		c->in = NULL;
		c->in_off = c->in_pass = c->in_len = c->in_cap = 0;
	}
	cap = c->in_cap; /* (after the above: not the room just given back) */
	if (c->in_off && (c->in_off == c->in_len || c->in_cap - c->in_len < want)) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_pass -= c->in_off;
		c->in_off = 0;
	}
	if (c->msg_len > c->in_len - c->in_pass && !c->skip)
		want += (size_t)c->msg_len - (c->in_len - c->in_pass);
	while (cap - c->in_len < want)
		cap = cap ? cap * 2 : RELAY_IN_CHUNK;
	if (cap == c->in_cap)
		return true;
	if (!(p = realloc(c->in, cap)))
		return false;
	c->in = p;
	c->in_cap = cap;
	return true;
}

/* The client is held back (not read) while LibVNCServer has not taken RELAY_IN_HOLD of its
 * messages: its partial message's clocks stop meanwhile, and its output's (stall_ms: a
 * client that blocks in its sends reads nothing until they go), so that a loop that stalls
 * (a long savestate) does not make a client that was not read seem slow. */
static void hold(struct relay_conn *c, bool on)
{
	int64_t now;

	if (on == (c->held_ms != 0))
		return;
	now = relay_now_ms();
	if (on) {
		c->held_ms = now ? now : 1;
		return;
	}
	if (c->msg_start_ms) {
		c->msg_start_ms += now - c->held_ms;
		c->msg_last_ms += now - c->held_ms;
	}
	/* the output's clock, from where it stopped (or from now, if it started meanwhile) */
	c->progress_ms = c->progress_ms < c->held_ms ? c->progress_ms + now - c->held_ms : now;
	c->held_ms = 0;
}

/* The client sends nothing more (its end, or a WebSocket's close): the start of a message
 * LibVNCServer will never see whole goes. */
static void client_end(struct relay_conn *c)
{
	c->c_eof = true;
	c->in_len = c->in_pass;
	c->skip = 0;
	c->msg_start_ms = 0;
}

bool relay_give_input(struct vnc_relay *r, struct relay_conn *c)
{
	for (;;) {
		size_t room;
		ssize_t n;

		if (relay_pending(c)) {
			if (c->bfd < 0) {
				c->in_off = c->in_pass;
				continue;
			}
			n = send(c->bfd, c->in + c->in_off, relay_pending(c), MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0) {
				c->in_off += (size_t)n;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
				relay_close_b(r, c);
				continue;
			}
			if (relay_pending(c) >= RELAY_IN_HOLD) {
				hold(c, true); /* LibVNCServer is behind: the client waits */
				return true;
			}
		}
		hold(c, false);
		if (c->c_eof) {
			if (!relay_pending(c) && !c->b_shut && c->bfd >= 0) {
				/* the end: LibVNCServer sees it after the whole messages */
				shutdown(c->bfd, SHUT_WR);
				c->b_shut = true;
			}
			return true;
		}
		if (!c->c_ready)
			return true;
		if (!in_room(c))
			return false;
		/* a WebSocket's frames are read aside, what they carry decoded into place */
		room = c->in_cap - c->in_len;
		if (c->ws && room > RELAY_IN_CHUNK)
			room = RELAY_IN_CHUNK;
		n = read(c->cfd, c->ws ? r->scratch : c->in + c->in_len, room);
		if (n > 0) {
			int64_t now = relay_now_ms();
			size_t got = (size_t)n;

			if (c->ws && !ws_decode(c, r->scratch, (size_t)n, &got))
				return false;
			if (c->skip)
				got = skip_read(c, got);
			c->in_len += got;
			if (!frame(r, c))
				return false;
			c->msg_last_ms = now;
			if ((c->in_pass < c->in_len || c->skip) && !c->msg_start_ms)
				c->msg_start_ms = now; /* a message begun */
			if (c->ws_closed)
				client_end(c);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->c_ready = false;
			if (c->in_off == c->in_len) { /* LibVNCServer took all: no buffer held */
				free(c->in);
				c->in = NULL;
				c->in_off = c->in_pass = c->in_len = c->in_cap = 0;
			}
			return true;
		}
		if (n < 0)
			return false;
		client_end(c);
	}
}
