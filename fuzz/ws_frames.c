/* libFuzzer target: the WebSocket bridge (src/server/ws.c) fed a client's bytes, framed by
 * wslay as the server reads them: frames of every opcode, lengths, masks, fragments, control
 * frames, garbage. The input comes as the bytes already read past the handshake, then the
 * client's end closes; the peer (a VM's console) takes whatever gets through. The bridge must
 * end (no hang), never crash, and give the peer only payload bytes. */
#include "server/ws.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int c[2], p[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c))
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p)) {
		close(c[0]);
		close(c[1]);
		return 0;
	}
	shutdown(c[1], SHUT_WR);        /* the client sends nothing after the input */
	close(p[1]);                    /* and the console is gone: the bridge answers, ends */
	ws_bridge_fds(c[0], p[0], data, size);
	close(c[1]);
	return 0;
}
