/* The VNC server's CPU per full raw update (issue 18): vsrv's VNC server (src/vmm/vnc.c, its
 * relay vnc_relay.c) on the tests' rig (tests/unit/vncrig.h: a 1024 x 768 XRGB8888 screen in
 * memory, the control loop on its own thread), one raw client in this thread asking for the
 * whole screen, non-incremental, and reading each update. Printed per update: the wall time,
 * the CPU of the control loop's thread (LibVNCServer's encoding and writes), and the rest of
 * the process's CPU but the client's (the relay thread's copies).
 * Usage: build/bench/vnc_updates [UPDATES] (default 300). */
#include <signal.h>
#include <stdio.h>

#include "vncrig.h"
#include "vncraw.h"

static double cpu_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 300, w, h, fd;
	struct rig r = { 0 };
	clockid_t loop_clk;
	uint8_t *fb;
	double t0, p0, l0, c0, wall, proc, loop, cli;

	signal(SIGPIPE, SIG_IGN);
	rig_set_mode(&r, 1024, 768, 1024 * 4, DISPLAY_XRGB8888);
	for (size_t i = 0; i < r.len; i++)
		r.buf[i] = (uint8_t)(i * 7 + i / 4096);
	fb = malloc(1024 * 768 * 4);
	if (!fb || rig_start(&r, NULL) < 0 || (fd = rig_connect(&r)) < 0 ||
	    handshake(fd, true, &w, &h) < 0) {
		fprintf(stderr, "vnc_updates: cannot start the server or connect\n");
		return 1;
	}
	pthread_getcpuclockid(r.th, &loop_clk);
	update_request(fd, 0, w, h); /* one first, not counted */
	if (read_update(fd, fb, w, h) < 0)
		return 1;
	t0 = now_s();
	p0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
	l0 = cpu_s(loop_clk);
	c0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
	for (int i = 0; i < n; i++) {
		update_request(fd, 0, w, h);
		if (read_update(fd, fb, w, h) < 0) {
			fprintf(stderr, "vnc_updates: update %d failed\n", i);
			return 1;
		}
	}
	wall = now_s() - t0;
	cli = cpu_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	loop = cpu_s(loop_clk) - l0;
	proc = cpu_s(CLOCK_PROCESS_CPUTIME_ID) - p0;
	printf("%d full raw %dx%d updates: %.3f ms each; CPU per update: loop %.3f ms, relay "
	       "(and the rest) %.3f ms, server %.3f ms, client %.3f ms\n", n, w, h,
	       wall * 1e3 / n, loop * 1e3 / n, (proc - loop - cli) * 1e3 / n,
	       (proc - cli) * 1e3 / n, cli * 1e3 / n);
	close(fd);
	rig_stop(&r);
	free(fb);
	return 0;
}
