/* The VNC relay's input side (vnc_relay_int.h): what a client sends, read while
 * LibVNCServer keeps up, cut into whole messages (vnc_frame.h) and passed on whole. */
#include "vmm/vnc_relay_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"

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

/* Find the ends of the messages in [in_pass, in_len): whole ones move in_pass on, a
 * clipboard too long is thrown away. false: a message LibVNCServer does not take (logged). */
static bool frame(struct relay_conn *c)
{
	while (c->in_pass < c->in_len && !c->skip) {
		size_t have = c->in_len - c->in_pass;
		const uint8_t *b = c->in + c->in_pass;
		const char *why = "";
		uint64_t len = 0;

		switch (vnc_frame_check(&c->fr, b, have, &len, &why)) {
		case VNC_FRAME_MORE:
			c->msg_len = 0;
			return true;
		case VNC_FRAME_PASS:
			if (len > have) {
				c->msg_len = len;
				return true;
			}
			vnc_frame_done(&c->fr, b, (size_t)len);
			c->in_pass += (size_t)len;
			c->msg_start_ms = c->msg_len = 0; /* no room kept for it */
			continue;
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
	return true;
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
 * messages: its partial message's clocks stop meanwhile, so that a loop that stalls (a long
 * savestate) does not make a client that was not read seem slow. */
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
	c->held_ms = 0;
}

bool relay_give_input(struct vnc_relay *r, struct relay_conn *c)
{
	for (;;) {
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
		n = read(c->cfd, c->in + c->in_len, c->in_cap - c->in_len);
		if (n > 0) {
			int64_t now = relay_now_ms();

			if (c->skip)
				n = (ssize_t)skip_read(c, (size_t)n);
			c->in_len += (size_t)n;
			if (!frame(c))
				return false;
			c->msg_last_ms = now;
			if ((c->in_pass < c->in_len || c->skip) && !c->msg_start_ms)
				c->msg_start_ms = now; /* a message begun */
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->c_ready = false;
			return true;
		}
		if (n < 0)
			return false;
		/* the end: the start of a message LibVNCServer will never see whole goes */
		c->c_eof = true;
		c->in_len = c->in_pass;
		c->skip = 0;
		c->msg_start_ms = 0;
	}
}
