/* libFuzzer target: the VNC clients' message framing (src/vmm/vnc_frame.c), which the relay
 * (vnc_relay.c) runs on every byte a client sends before LibVNCServer sees it. Input: one
 * byte of options (bit 0: the server has a password; bits 1-7: how the stream is cut into
 * arrivals), then the client's byte stream from its first byte. The stream is walked as the
 * relay does: each message checked with the bytes there so far, passed on once whole (the
 * state advancing), clipboards over 1 MiB thrown away, the walk ending at a message the
 * server refuses or at the end. Checked: nothing is read past the bytes given (ASan: each
 * check gets a copy of exactly those), a message's length once known never changes as more
 * of it arrives, lengths are never 0, a refusal always says why, a thrown-away clipboard is
 * over 1 MiB and at most 64 MiB. Seeds: fuzz/vnc_frame_seeds.py. */
#include "vmm/vnc_frame.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vnc_frame f;
	size_t off = 1, step;

	if (size < 1)
		return 0;
	vnc_frame_init(&f, data[0] & 1);
	step = (size_t)(data[0] >> 1) + 1; /* the bytes each arrival adds */
	while (off < size) {
		uint64_t len = 0, known = 0;
		const char *why;
		enum vnc_frame_verdict v = VNC_FRAME_MORE;
		size_t have = 0, avail = size - off;
		bool raw = f.state == VNC_FRAME_START || f.state == VNC_FRAME_RAW;

		/* the message arrives step bytes at a time */
		while (have < avail) {
			have = have + step < avail ? have + step : avail;
			v = check_copy(&f, data + off, have, &len, &why);
			if (v == VNC_FRAME_BAD) {
				if (!why || !*why)
					abort();
				return 0;
			}
			if (v == VNC_FRAME_MORE)
				continue;
			if (len == 0)
				abort();
			if (!raw && known && len != known)
				abort();
			known = len;
			if (len <= have)
				break;
		}
		if (v == VNC_FRAME_MORE || len > have)
			return 0; /* the stream ends inside a message */
		if (v == VNC_FRAME_SKIP) {
			if (len <= 8 + (uint64_t)VNC_FRAME_CLIP_MAX ||
			    len > 8 + (uint64_t)VNC_FRAME_SKIP_MAX)
				abort();
		} else {
			vnc_frame_done(&f, data + off, (size_t)len);
		}
		off += (size_t)len;
	}
	return 0;
}
