/* The VNC server (src/vmm/vnc.c) against hostile clients: connections that close at once,
 * random bytes after a good handshake and instead of one, clients that vanish in the middle
 * of a large update, a client that stops in the middle of a message, more clients than the
 * limit; after each the server serves a good client and holds no dead ones. Run under ASan
 * by tests/t-vnc.sh (build-asan). Also: the server works inside the VMM's seccomp sandbox,
 * and detaches inside it. */
#include <linux/input-event-codes.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "vncrig.h"
#include "vncraw.h"
#include "vmm/sandbox.h"
#include "vmm/vnc_int.h"  /* handshake_ms, shortened for the test */

/* A good client: its first full update equals the rig's buffer (XRGB8888, stride w * 4). */
static bool good_client(struct rig *r)
{
	int fd = rig_connect(r), w = 0, h = 0;
	bool ok = false;
	uint8_t *fb;

	if (fd < 0)
		return false;
	if (handshake(fd, true, &w, &h) == 0 && (uint32_t)w == r->mode.width &&
	    (uint32_t)h == r->mode.height) {
		fb = calloc((size_t)w * h, 4);
		update_request(fd, 0, w, h);
		if (fb && read_update(fd, fb, w, h) == 0) {
			ok = true;
			for (size_t i = 0; i < (size_t)w * h; i++)
				if (memcmp(fb + i * 4, r->buf + i * 4, 3))
					ok = false;
		}
		free(fb);
	}
	close(fd);
	return ok;
}

/* Every client gone from the server's list (it reaps them as their sockets close). */
static bool no_clients(struct rig *r)
{
	double end = now_s() + 10;

	while (rig_stats(r).clients && now_s() < end)
		usleep(5000);
	return rig_stats(r).clients == 0;
}

static void fill(struct rig *r, uint32_t w, uint32_t h)
{
	rig_set_mode(r, w, h, w * 4, DISPLAY_XRGB8888);
	for (size_t i = 0; i < r->len; i++)
		r->buf[i] = (uint8_t)(i * 7 + i / 4096);
}

static void test_connect_and_close(void)
{
	struct rig r = { 0 };
	char ver[12];

	fill(&r, 64, 48);
	CHECK_EQ(rig_start(&r, NULL), 0);
	for (int i = 0; i < 100; i++) {
		int fd = rig_connect(&r);

		CHECK(fd >= 0);
		close(fd);
	}
	for (int i = 0; i < 100; i++) {
		int fd = rig_connect(&r);

		CHECK(fd >= 0);
		write_full(fd, "RFB 003.008\n", 12);
		int rr = read_full(fd, ver, 12);
		CHECK_EQ(rr, 0);
		close(fd);
	}
	CHECK(good_client(&r));
	CHECK(no_clients(&r));
	CHECK(rig_stats(&r).accepted >= 201);
	rig_stop(&r);
}

static void test_random_bytes(void)
{
	static const uint8_t types[] = { 0, 1, 2, 3, 4, 5, 6, 150, 248, 250, 251, 252, 253, 255 };
	struct rig r = { 0 };
	unsigned seed = 1;
	uint8_t buf[600];
	int w, h, iters = 300;

	if (getenv("VNC_FUZZ_SEED"))
		seed = (unsigned)atoi(getenv("VNC_FUZZ_SEED"));
	if (getenv("VNC_FUZZ_ITERS"))
		iters = atoi(getenv("VNC_FUZZ_ITERS"));
	printf("# random bytes: seed %u, %d clients\n", seed, iters);
	srand(seed);
	fill(&r, 160, 120);
	CHECK_EQ(rig_start(&r, NULL), 0);
	for (int i = 0; i < iters; i++) {
		int fd = rig_connect(&r);
		size_t n = 1 + (size_t)rand() % sizeof(buf);

		CHECK(fd >= 0);
		if (fd < 0)
			break;
		for (size_t j = 0; j < n; j++)
			buf[j] = (uint8_t)rand();
		if (i % 10 == 0) {
			/* garbage instead of a version */
			write_full(fd, buf, n);
		} else if (handshake(fd, true, &w, &h) == 0) {
			/* a plausible message type first, then anything; sometimes a valid update
			 * request in front so that the server is busy sending */
			if (i % 3 == 0)
				update_request(fd, 0, w, h);
			buf[0] = types[rand() % sizeof(types)];
			write_full(fd, buf, n);
		} else {
			CHECK(!"handshake failed");
		}
		close(fd);
	}
	CHECK(good_client(&r));
	CHECK(no_clients(&r));
	rig_stop(&r);
}

/* Clients that ask for a large update and go away while it is being sent. */
static void test_disconnect_mid_update(void)
{
	struct rig r = { 0 };
	int w, h;

	fill(&r, 1024, 768);
	CHECK_EQ(rig_start(&r, NULL), 0);
	for (int i = 0; i < 20; i++) {
		int fd = rig_connect(&r), small = 4096;
		uint8_t b[100];

		CHECK(fd >= 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		CHECK_EQ(handshake(fd, true, &w, &h), 0);
		update_request(fd, 0, w, h);
		if (i % 2)
			read_full(fd, b, sizeof(b)); /* part of it */
		close(fd);
	}
	CHECK(good_client(&r));
	CHECK(no_clients(&r));
	rig_stop(&r);
}

/* A client stops in the middle of a message: dropped after VNC_CLIENT_WAIT_MS. */
static void test_stalled_client(void)
{
	struct rig r = { 0 };
	int w, h, fd;
	uint8_t b;

	fill(&r, 64, 48);
	CHECK_EQ(rig_start(&r, NULL), 0);
	fd = rig_connect(&r);
	CHECK_EQ(handshake(fd, true, &w, &h), 0);
	write_full(fd, "\x04\x01", 2); /* a key event is 8 bytes */
	double t0 = now_s();
	CHECK(read(fd, &b, 1) == 0);   /* closed by the server (the receive timeout is 10 s) */
	CHECK(now_s() - t0 < 9);
	close(fd);
	CHECK(good_client(&r));
	CHECK(no_clients(&r));
	rig_stop(&r);
}

/* A WebSocket client (noVNC without a proxy) on the same listener: LibVNCServer answers the
 * upgrade and speaks RFB in binary frames. */
static void test_websocket(void)
{
	static const char req[] =
		"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
		"Origin: http://localhost\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		"Sec-WebSocket-Protocol: binary\r\nSec-WebSocket-Version: 13\r\n\r\n";
	struct rig r = { 0 };
	char resp[1024];
	uint8_t f[14];
	size_t n = 0;
	int fd;

	fill(&r, 64, 48);
	CHECK_EQ(rig_start(&r, NULL), 0);
	fd = rig_connect(&r);
	CHECK_EQ(write_full(fd, req, sizeof(req) - 1), 0);
	while (n < sizeof(resp) - 1 && read(fd, resp + n, 1) == 1) {
		n++;
		resp[n] = 0;
		if (n >= 4 && !memcmp(resp + n - 4, "\r\n\r\n", 4))
			break;
	}
	CHECK(!strncmp(resp, "HTTP/1.1 101", 12));
	CHECK(strstr(resp, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != NULL); /* RFC 6455's example */
	CHECK_EQ(read_full(fd, f, 14), 0);   /* one frame: the server's version */
	CHECK_EQ(f[1] & 0x7f, 12);
	CHECK(!memcmp(f + 2, "RFB 003.", 8));
	close(fd);
	CHECK(no_clients(&r));
	CHECK(good_client(&r));
	rig_stop(&r);

	/* on a TCP listener without a password: refused (any page in a browser could try) */
	struct rig t = { 0 };
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct timeval tv = { 10, 0 };

	fill(&t, 64, 48);
	pthread_mutex_init(&t.lock, NULL);
	t.disp.ops = &rig_display_ops;
	t.disp.opaque = &t;
	CHECK_EQ(evloop_create(&t.loop), 0);
	CHECK_EQ(input_router_create(&t.in), 0);
	CHECK_EQ(vnc_open("tcp:127.0.0.1:0", &t.vnc), 0);
	CHECK_EQ(vnc_attach(t.vnc, t.loop, &t.disp, t.in, "tcp"), 0);
	CHECK_EQ(pthread_create(&t.th, NULL, rig_thread, &t), 0);
	getsockname(t.vnc->lfd, (struct sockaddr *)&sa, &sl);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sl), 0);
	CHECK_EQ(write_full(fd, req, sizeof(req) - 1), 0);
	/* closed at once (after the upgrade's answer and the server's version): a page could
	 * learn that a VNC server listens, never get past that */
	double t0 = now_s();
	while (read(fd, resp, sizeof(resp)) > 0)
		;
	CHECK(now_s() - t0 < 9);
	close(fd);
	CHECK(no_clients(&t));
	CHECK(rig_stats(&t).refused >= 1);
	rig_stop(&t);
}

/* A clipboard over LibVNCServer's 1 MiB (it would drop the client) is thrown away by the
 * relay and the client stays: its next, small, clipboard arrives, and it is served. A
 * message of a type LibVNCServer does not know, or FixColourMapEntries, drops its client
 * (with a log line), and the server goes on. */
static void test_clipboard_and_unknown(void)
{
	enum { BIG = (1 << 20) + 1 };
	static const uint8_t bad_types[] = { 1, 7, 12, 200, 254 };
	uint8_t hdr[8] = { 6, 0, 0, 0, BIG >> 24, BIG >> 16 & 0xff, BIG >> 8 & 0xff, BIG & 0xff };
	struct rig r = { 0 };
	struct vnc_stats st = { 0 };
	uint8_t *big = calloc(BIG, 1), msg[12] = { 0 };
	int w, h, fd;

	fill(&r, 64, 48);
	CHECK_EQ(rig_start(&r, NULL), 0);
	fd = rig_connect(&r);
	CHECK(fd >= 0 && big);
	if (fd < 0 || !big || handshake(fd, true, &w, &h) < 0) {
		CHECK(!"handshake");
		goto out;
	}
	CHECK_EQ(write_full(fd, hdr, sizeof(hdr)), 0);
	CHECK_EQ(write_full(fd, big, BIG), 0);
	CHECK_EQ(write_full(fd, "\x06\0\0\0\0\0\0\x05hello", 13), 0);
	double end = now_s() + 10;
	while ((st = rig_stats(&r)).clipboards == 0 && now_s() < end)
		usleep(10000);
	CHECK_EQ(st.clipboards, 1);
	CHECK_EQ(st.clipboard_bytes, 5);
	CHECK_EQ(st.clients, 1);
	CHECK(good_client(&r));
	close(fd);
	for (size_t i = 0; i < sizeof(bad_types); i++) {
		fd = rig_connect(&r);
		CHECK(fd >= 0);
		if (fd < 0 || handshake(fd, true, &w, &h) < 0) {
			CHECK(!"handshake");
			goto out;
		}
		msg[0] = bad_types[i];
		write_full(fd, msg, sizeof(msg));
		end = now_s() + 10;
		while (read(fd, big, 4096) > 0 && now_s() < end)
			;
		CHECK(now_s() < end); /* closed by the server */
		close(fd);
	}
	fd = -1;
	CHECK(no_clients(&r));
	CHECK(good_client(&r));
out:
	if (fd >= 0)
		close(fd);
	free(big);
	rig_stop(&r);
}

static void set_handshake_ms(void *o)
{
	((struct rig *)o)->vnc->handshake_ms = 500;
}

/* Clients that connect and never finish the handshake are dropped (they would hold every
 * place); one that finished stays. */
static void test_idle_handshake(void)
{
	struct rig r = { 0 };
	int idle, half, good, w, h;
	uint8_t b[16];

	fill(&r, 64, 48);
	CHECK_EQ(rig_start(&r, NULL), 0);
	evloop_post(r.loop, set_handshake_ms, &r);
	good = rig_connect(&r);
	CHECK_EQ(handshake(good, true, &w, &h), 0);
	idle = rig_connect(&r);
	half = rig_connect(&r);
	write_full(half, "RFB 003.008\n", 12); /* then nothing: no security type chosen */
	double t0 = now_s();
	while (read(idle, b, sizeof(b)) > 0)
		;   /* the version, then the end (the receive timeout is 10 s) */
	while (read(half, b, sizeof(b)) > 0)
		;
	CHECK(now_s() - t0 < 9);
	usleep(700000);
	update_request(good, 0, w, h); /* still served */
	CHECK_EQ(read_full(good, b, 4), 0);
	CHECK_EQ(b[0], 0);
	close(idle);
	close(half);
	close(good);
	CHECK(no_clients(&r));
	rig_stop(&r);
}

/* More clients than VNC_MAX_CLIENTS: the extra ones are closed at once. */
static void test_too_many_clients(void)
{
	struct rig r = { 0 };
	int fds[VNC_MAX_CLIENTS + 4], w, h, ok = 0;

	fill(&r, 64, 48);
	CHECK_EQ(rig_start(&r, NULL), 0);
	for (int i = 0; i < VNC_MAX_CLIENTS + 4; i++) {
		fds[i] = rig_connect(&r);
		if (fds[i] >= 0 && handshake(fds[i], true, &w, &h) == 0)
			ok++;
	}
	CHECK_EQ(ok, VNC_MAX_CLIENTS);
	CHECK_EQ(rig_stats(&r).refused, 4);
	for (int i = 0; i < VNC_MAX_CLIENTS + 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	CHECK(no_clients(&r));
	CHECK(good_client(&r));
	rig_stop(&r);
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The process is out of fds when clients connect: the server neither spins on its readable
 * listening socket nor stops listening for good. */
static void test_out_of_fds(void)
{
	struct rig r = { 0 };
	struct rlimit old, lim;
	int socks[3], spare[64], nspare = 0, fd;
	char ver[12];

	fill(&r, 64, 48);
	CHECK_EQ(rig_start(&r, NULL), 0);
	for (int i = 0; i < 3; i++)
		socks[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	getrlimit(RLIMIT_NOFILE, &old);
	lim = old;
	lim.rlim_cur = (rlim_t)socks[2] + 32;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
	while (nspare < 64 && (fd = dup(0)) >= 0)
		spare[nspare++] = fd;
	CHECK(nspare < 64); /* every fd below the limit is taken */
	for (int i = 0; i < 3; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		strcpy(sa.sun_path, r.path);
		CHECK_EQ(connect(socks[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	usleep(100000);
	double c0 = cpu_s();
	usleep(500000);
	CHECK(cpu_s() - c0 < 0.1); /* a spinning loop burns the whole half second */
	for (int i = 0; i < nspare; i++)
		close(spare[i]);
	setrlimit(RLIMIT_NOFILE, &old);
	for (int i = 0; i < 3; i++) {
		struct timeval tv = { 10, 0 };

		setsockopt(socks[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		CHECK_EQ(read_full(socks[i], ver, 12), 0); /* served once fds are back */
		close(socks[i]);
	}
	CHECK(no_clients(&r));
	CHECK(good_client(&r));
	rig_stop(&r);
}

/* The server inside the VMM's seccomp filter (the base program, as `vsrv run --vnc` without
 * --control or --net user): a forked child serves, the test is its client; keys come back
 * through a pipe. A system call outside the list kills the child with SIGSYS. */
static int sb_pipe = -1;

static int sb_key(void *o, uint16_t code, bool down)
{
	uint16_t m[2] = { code, down };

	(void)o;
	return write(sb_pipe, m, sizeof(m)) == sizeof(m) ? 0 : -EIO;
}

static const struct input_sink_ops sb_ops = { .key = sb_key };

static void sandbox_child(struct rig *r, int wfd)
{
	struct sandbox_config c = { 0 };
	struct input_sink s = { &sb_ops, NULL };

	sb_pipe = wfd;
	r->disp.ops = &rig_display_ops;
	r->disp.opaque = r;
	pthread_mutex_init(&r->lock, NULL);
	if (evloop_create(&r->loop) || input_router_create(&r->in) ||
	    input_router_add_sink(r->in, &s, INPUT_PRIO_PS2) || vnc_open(r->path, &r->vnc) ||
	    vnc_attach(r->vnc, r->loop, &r->disp, r->in, "sandboxed"))
		_exit(2);
	if (sandbox_load_filter(&c) < 0)
		_exit(3);
	evloop_run(r->loop);
	_exit(0);
}

static void test_sandboxed(void)
{
	struct rig r = { 0 };
	char spec[128];
	int p[2], st = 0, w = 0, h = 0, fd = -1;
	uint16_t m[2] = { 0, 0 };
	struct stat sst;
	pid_t pid;

	fill(&r, 64, 48);
	snprintf(r.path, sizeof(r.path), "/tmp/vsrv-vnc-sb-%d.sock", (int)getpid());
	snprintf(spec, sizeof(spec), "unix:%s", r.path);
	CHECK_EQ(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		strcpy(r.path, spec); /* the child opens the spec */
		sandbox_child(&r, p[1]);
	}
	close(p[1]);
	double end = now_s() + 10;
	while (stat(r.path, &sst) < 0 && now_s() < end)
		usleep(5000);
	usleep(100000); /* the child may still be attaching: connections wait in the backlog */
	for (int i = 0; i < 3; i++) {
		uint8_t *fb = calloc(64 * 48, 4);

		fd = rig_connect(&r);
		/* the plain order: LibVNCServer waits with select() for a WebSocket's bytes */
		CHECK_EQ(handshake(fd, i != 0, &w, &h), 0);
		CHECK_EQ(w, 64);
		update_request(fd, 0, w, h);
		CHECK_EQ(read_update(fd, fb, w, h), 0);
		CHECK(memcmp(fb, r.buf, 3) == 0);
		free(fb);
		/* a key event: 'a' down */
		uint8_t ke[8] = { 4, 1, 0, 0, 0, 0, 0, 'a' };
		write_full(fd, ke, sizeof(ke));
		CHECK_EQ(read_full(p[0], m, sizeof(m)), 0);
		CHECK_EQ(m[0], KEY_A);
		/* then garbage */
		write_full(fd, "\xfe\xfe\xfe\xfe", 4);
		close(fd);
	}
	/* what LibVNCServer takes for TLS (0x16, 0x80: it starts GnuTLS) and for a WebSocket */
	static const char *odd[] = {
		"\x16\x03\x01\x00\x10hello", "\x80\x01\x02\x03",
		"GET / HTTP/1.1\r\nHost: x\r\nOrigin: http://x\r\nUpgrade: websocket\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	};
	for (unsigned i = 0; i < 3; i++) {
		char junk[512];

		fd = rig_connect(&r);
		write_full(fd, odd[i], strlen(odd[i]));
		usleep(300000);
		shutdown(fd, SHUT_WR);
		while (read(fd, junk, sizeof(junk)) > 0)
			;
		close(fd);
	}
	usleep(200000);
	CHECK_EQ(waitpid(pid, &st, WNOHANG), 0); /* still alive */
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		printf("# the VNC server made a system call outside the sandbox (SIGSYS)\n");
	if (WIFEXITED(st))
		printf("# the child exited with %d\n", WEXITSTATUS(st));
	unlink(r.path);
	close(p[0]);
	free(r.buf);
}

static char *sb_password(rfbClient *c)
{
	(void)c;
	return strdup("pw1234");
}

static void sb_quiet(const char *fmt, ...)
{
	(void)fmt;
}

/* VNC authentication (DES through libgcrypt) inside the sandbox. */
static void test_sandboxed_password(void)
{
	struct rig r = { 0 };
	char spec[200], pw[] = "/tmp/vsrv-vnc-sbpw-XXXXXX";
	int p[2], st = 0, pfd = mkstemp(pw);
	struct stat sst;
	rfbClient *c;
	pid_t pid;

	CHECK(write(pfd, "pw1234\n", 7) == 7);
	close(pfd);
	fill(&r, 64, 48);
	snprintf(r.path, sizeof(r.path), "/tmp/vsrv-vnc-sbpw-%d.sock", (int)getpid());
	snprintf(spec, sizeof(spec), "unix:%s,password-file=%s", r.path, pw);
	CHECK_EQ(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		strcpy(r.path, spec);
		sandbox_child(&r, p[1]);
	}
	close(p[1]);
	double end = now_s() + 10;
	while (stat(r.path, &sst) < 0 && now_s() < end)
		usleep(5000);
	usleep(100000);
	rfbClientLog = rfbClientErr = sb_quiet;
	c = rfbGetClient(8, 3, 4);
	free(c->serverHost);
	c->serverHost = strdup(r.path);
	c->GetPassword = sb_password;
	CHECK(rfbInitClient(c, NULL, NULL)); /* frees c when it fails */
	if (c->sock != RFB_INVALID_SOCKET) {
		free(c->frameBuffer);
		c->frameBuffer = NULL;
		rfbClientCleanup(c);
	}
	usleep(200000);
	CHECK_EQ(waitpid(pid, &st, WNOHANG), 0); /* still alive */
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		printf("# the VNC server made a system call outside the sandbox (SIGSYS)\n");
	unlink(r.path);
	unlink(pw);
	close(p[0]);
	free(r.buf);
}

static int sbd_stop = -1;
static struct evloop *sbd_loop;

/* The child's thread that ends its loop when the test says so (started before the filter:
 * TSYNC filters it too). */
static void *sbd_stopper(void *o)
{
	char c;

	(void)o;
	if (read(sbd_stop, &c, 1) < 0) {
		/* the test is gone: stop anyway */
	}
	evloop_stop(sbd_loop, 0);
	return NULL;
}

/* The end of a sandboxed VM with VNC clients connected (run.c's run_once: vnc_detach after
 * vm_run, in the filter): one client with full updates waiting for it in the relay (taken
 * from LibVNCServer, not read), one served; the child exits 0, not by SIGSYS, and both
 * clients see the end. */
static void test_sandboxed_detach(void)
{
	struct rig r = { 0 };
	uint8_t req[10] = { 3, 0, 0, 0, 0, 0, 1024 >> 8, 1024 & 0xff, 768 >> 8, 768 & 0xff };
	int sp[2], st = 0, w = 0, h = 0, bad = -1, good = -1;
	struct stat sst;
	pid_t pid;

	fill(&r, 1024, 768);
	snprintf(r.path, sizeof(r.path), "/tmp/vsrv-vnc-sbd-%d.sock", (int)getpid());
	CHECK_EQ(pipe(sp), 0);
	pid = fork();
	if (pid == 0) {
		struct sandbox_config c = { 0 };
		char spec[128];
		pthread_t th;

		close(sp[1]);
		sbd_stop = sp[0];
		snprintf(spec, sizeof(spec), "unix:%s", r.path);
		r.disp.ops = &rig_display_ops;
		r.disp.opaque = &r;
		pthread_mutex_init(&r.lock, NULL);
		if (evloop_create(&r.loop) || input_router_create(&r.in) ||
		    vnc_open(spec, &r.vnc) || vnc_attach(r.vnc, r.loop, &r.disp, r.in, "sbd"))
			_exit(2);
		sbd_loop = r.loop;
		if (pthread_create(&th, NULL, sbd_stopper, NULL))
			_exit(2);
		if (sandbox_load_filter(&c) < 0)
			_exit(3);
		evloop_run(r.loop);
		vnc_detach(r.vnc);
		pthread_join(th, NULL);
		_exit(0);
	}
	close(sp[0]);
	double end = now_s() + 10;
	while (stat(r.path, &sst) < 0 && now_s() < end)
		usleep(5000);
	usleep(100000);
	bad = rig_connect(&r);
	good = rig_connect(&r);
	CHECK(bad >= 0 && good >= 0);
	if (bad >= 0 && good >= 0) {
		uint8_t *fb = calloc(1024 * 768, 4);

		CHECK_EQ(handshake(bad, true, &w, &h), 0);
		CHECK_EQ(handshake(good, true, &w, &h), 0);
		/* two full screens: more than a socket pair holds, under the bound */
		for (int i = 0; i < 2; i++)
			write_full(bad, req, sizeof(req));
		update_request(good, 0, w, h);
		CHECK(fb && read_update(good, fb, w, h) == 0);
		CHECK(fb && memcmp(fb, r.buf, 3) == 0);
		free(fb);
	}
	CHECK_EQ(waitpid(pid, &st, WNOHANG), 0); /* still alive */
	CHECK_EQ(write(sp[1], "x", 1), 1);
	end = now_s() + 10;
	while (waitpid(pid, &st, WNOHANG) == 0 && now_s() < end)
		usleep(10000);
	if (now_s() >= end) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	if (WIFSIGNALED(st))
		printf("# the child died by signal %d%s\n", WTERMSIG(st),
		       WTERMSIG(st) == SIGSYS ? " (a system call outside the sandbox)" : "");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (good >= 0) {
		char b[4096];

		while (read(good, b, sizeof(b)) > 0)
			;
		close(good);
	}
	if (bad >= 0)
		close(bad);
	close(sp[1]);
	unlink(r.path);
	free(r.buf);
}

int main(void)
{
	/* as `vsrv run` does: a write to a client that went away is an error, not a signal */
	signal(SIGPIPE, SIG_IGN);
	if (sandbox_supported()) {
		RUN(test_sandboxed);
		RUN(test_sandboxed_password);
		RUN(test_sandboxed_detach);
	} else {
		printf("SKIP test_sandboxed: no seccomp filter in sanitizer builds\n");
	}
	RUN(test_connect_and_close);
	RUN(test_random_bytes);
	RUN(test_disconnect_mid_update);
	RUN(test_stalled_client);
	RUN(test_too_many_clients);
	RUN(test_out_of_fds);
	RUN(test_idle_handshake);
	RUN(test_websocket);
	RUN(test_clipboard_and_unknown);
	return check_done();
}
