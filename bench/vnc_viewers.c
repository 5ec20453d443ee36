/* The memory N idle viewers of one VM cost: vsrv's VNC server (src/vmm/vnc.c and its relay)
 * on the tests' rig (tests/unit/vncrig.h: a 1024 x 768 XRGB8888 screen), N raw clients in
 * this thread, each taking a full update, then idle. Printed: the heap in use (mallinfo2:
 * LibVNCServer's per-client state and the relay's buffers) more than with no viewer, and the
 * relay's own counters.
 * Usage: build/bench/vnc_viewers [N] (default 16, at most VNC_MAX_CLIENTS). */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>

#include "vncrig.h"
#include "vncraw.h"

static size_t heap(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 16, fd[VNC_MAX_CLIENTS], w, h, i;
	struct rig r = { 0 };
	struct vnc_stats st;
	size_t base, one = 0;
	uint8_t *fb;

	signal(SIGPIPE, SIG_IGN);
	if (n < 1 || n > VNC_MAX_CLIENTS)
		n = VNC_MAX_CLIENTS;
	rig_set_mode(&r, 1024, 768, 1024 * 4, DISPLAY_XRGB8888);
	fb = malloc(1024 * 768 * 4);
	if (!fb || rig_start(&r, NULL) < 0) {
		fprintf(stderr, "vnc_viewers: cannot start the server\n");
		return 1;
	}
	usleep(100000);
	base = heap();
	for (i = 0; i < n; i++) {
		if ((fd[i] = rig_connect(&r)) < 0 || handshake(fd[i], true, &w, &h) < 0) {
			fprintf(stderr, "vnc_viewers: viewer %d cannot connect\n", i);
			return 1;
		}
		update_request(fd[i], 0, w, h);
		if (read_update(fd[i], fb, w, h) < 0) {
			fprintf(stderr, "vnc_viewers: viewer %d got no update\n", i);
			return 1;
		}
		if (i == 0) {
			usleep(100000);
			one = heap() - base;
		}
	}
	usleep(200000); /* the relay frees what the last took */
	st = rig_stats(&r);
	printf("%d idle viewers of a 1024x768 screen, a full raw update each: %zu KiB of heap "
	       "more than with none (the first: %zu KiB); the relay: %llu bytes of buffers, %llu "
	       "waiting, %llu at most\n", n, (heap() - base) >> 10, one >> 10,
	       (unsigned long long)st.out.buffers, (unsigned long long)st.out.waiting,
	       (unsigned long long)st.out.peak);
	for (i = 0; i < n; i++)
		close(fd[i]);
	rig_stop(&r);
	free(fb);
	return 0;
}
