/* libFuzzer target: what a hostile guest agent may write to the server (src/server/
 * agent_proto.c). Input: byte 0 = the chunk size the bytes arrive in (1..256), bit 0 of
 * byte 1 = the reader starts awaiting a 0xFF (right after a resynchronisation); the rest is
 * the agent's output. Every line is parsed as a reply; a reply's "return" goes through every
 * view the API shows (OS, host name, interfaces, users) and the sync match, as the service
 * does with whatever the agent answers. Seeds: real qemu-ga 7.2 replies. */
#include "server/agent_proto.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_line(void *arg, const char *s, size_t len)
{
	struct agent_reply r;

	(void)arg;
	if (agent_reply_parse(s, len, &r))
		return;
	json_decref(agent_view_osinfo(r.ret));
	json_decref(agent_view_hostname(r.ret));
	json_decref(agent_view_interfaces(r.ret));
	json_decref(agent_view_users(r.ret));
	(void)agent_sync_match(&r, r.id);
	agent_reply_clear(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_rx rx;
	size_t chunk, off;

	if (size < 2)
		return 0;
	chunk = (size_t)data[0] + 1;
	agent_rx_init(&rx);
	if (data[1] & 1)
		agent_rx_resync(&rx);
	for (off = 2; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		agent_rx_feed(&rx, (const char *)data + off, n, on_line, NULL);
	}
	agent_rx_free(&rx);
	return 0;
}
