/* The user-mode network's boot services (net_slirp_open_boot): a real exchange with
 * libslirp as a PXE client makes it, frames in through the backend's send and out through
 * its receive callback. DHCP offers the boot file (the BOOTP file field) and
 * the next server 10.0.2.2; TFTP from there serves the file from the tftp= directory byte
 * for byte, and refuses a missing file and a path out of the directory. Without tftp= and
 * bootfile=, neither is offered. The TFTP server works under the VMM's seccomp filter with the
 * read-only opens a tftp= VM is given. A missing directory or a file is refused at open.
 * A datagram to the host address 10.0.2.2 reaches the host's loopback (127.0.0.1), unless
 * the network was opened without (hostloop=off, what vsrv serve gives its NAT networks). */
#include "check.h"
#include "scratch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/virtio/net.h"
#include "vmm/sandbox.h"

static const uint8_t gmac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* Frames libslirp sent to the guest, kept until taken. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint8_t frame[64][1600];
	size_t len[64];
	unsigned head, tail;
} rx = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { { 0 } }, { 0 }, 0, 0 };

static void on_rx(void *nic, const uint8_t *frame, size_t len)
{
	(void)nic;
	pthread_mutex_lock(&rx.lock);
	if (rx.tail - rx.head < 64 && len <= 1600) {
		memcpy(rx.frame[rx.tail % 64], frame, len);
		rx.len[rx.tail % 64] = len;
		rx.tail++;
		pthread_cond_signal(&rx.cond);
	}
	pthread_mutex_unlock(&rx.lock);
}

/* The next UDP datagram to the guest from source port sport, its payload into buf; the
 * payload's length, or -1 after 5 s without one (other frames are dropped). */
static long wait_udp(uint16_t sport, uint8_t *buf, size_t max)
{
	struct timespec dl;
	long got = -1;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 5;
	pthread_mutex_lock(&rx.lock);
	while (got < 0) {
		while (rx.head == rx.tail)
			if (pthread_cond_timedwait(&rx.cond, &rx.lock, &dl) == ETIMEDOUT)
				goto out;
		const uint8_t *f = rx.frame[rx.head % 64];
		size_t len = rx.len[rx.head % 64];

		rx.head++;
		if (len < 42 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 17)
			continue; /* not IPv4 UDP */
		size_t ihl = (f[14] & 0xf) * 4, udp = 14 + ihl;
		if (len < udp + 8 || (f[udp] << 8 | f[udp + 1]) != sport)
			continue;
		got = (long)((f[udp + 4] << 8 | f[udp + 5]) - 8);
		if (got < 0 || (size_t)got > max || udp + 8 + (size_t)got > len) {
			got = -1;
			continue;
		}
		memcpy(buf, f + udp + 8, (size_t)got);
	}
out:
	pthread_mutex_unlock(&rx.lock);
	return got;
}

static uint16_t ip_sum(const uint8_t *h)
{
	uint32_t s = 0;

	for (int i = 0; i < 20; i += 2)
		s += h[i] << 8 | h[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* A UDP datagram from the guest (MAC gmac, address src) to dst:dport, UDP checksum 0. */
static void send_udp(struct net_backend *be, uint32_t src, uint16_t sport, uint32_t dst,
		     uint16_t dport, const uint8_t *payload, size_t plen)
{
	uint8_t f[1600];
	size_t len = 42 + plen;
	struct iovec iov = { f, len };
	uint16_t s;

	memset(f, 0, 42);
	memset(f, 0xff, 6);                     /* broadcast: libslirp takes any */
	memcpy(f + 6, gmac, 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[16] = (uint8_t)((20 + 8 + plen) >> 8);
	f[17] = (uint8_t)(20 + 8 + plen);
	f[22] = 64;
	f[23] = 17;
	memcpy(f + 26, &src, 4);
	memcpy(f + 30, &dst, 4);
	s = ip_sum(f + 14);
	f[24] = (uint8_t)(s >> 8);
	f[25] = (uint8_t)s;
	f[34] = (uint8_t)(sport >> 8);
	f[35] = (uint8_t)sport;
	f[36] = (uint8_t)(dport >> 8);
	f[37] = (uint8_t)dport;
	f[38] = (uint8_t)((8 + plen) >> 8);
	f[39] = (uint8_t)(8 + plen);
	memcpy(f + 42, payload, plen);
	CHECK_EQ(be->send(be, 0, &iov, 1, len), 0);
}

/* A DHCP message of type t (1 discover, 3 request) from gmac; with requested address req
 * (network order) for a request. */
static size_t dhcp_msg(uint8_t *b, uint8_t t, uint32_t req)
{
	size_t n = 240;

	memset(b, 0, 300);
	b[0] = 1;             /* BOOTREQUEST */
	b[1] = 1;
	b[2] = 6;
	b[4] = 0x12;          /* xid */
	b[5] = 0x34;
	memcpy(b + 28, gmac, 6);
	memcpy(b + 236, "\x63\x82\x53\x63", 4);
	b[n++] = 53; b[n++] = 1; b[n++] = t;
	if (req) {
		b[n++] = 50; b[n++] = 4;
		memcpy(b + n, &req, 4);
		n += 4;
	}
	b[n++] = 55; b[n++] = 3; b[n++] = 1; b[n++] = 3; b[n++] = 67; /* ask for the file */
	b[n++] = 255;
	return n < 300 ? 300 : n;
}

/* Option o of a DHCP reply of len bytes: its value's offset, or 0 (*olen its length). */
static size_t dhcp_opt(const uint8_t *b, long len, uint8_t o, uint8_t *olen)
{
	for (long i = 240; i + 1 < len && b[i] != 255;) {
		if (b[i] == 0) {
			i++;
			continue;
		}
		if (b[i] == o && i + 2 + b[i + 1] <= len) {
			*olen = b[i + 1];
			return (size_t)i + 2;
		}
		i += 2 + b[i + 1];
	}
	return 0;
}

static struct net_backend *boot_be(const char *tftp, const char *bootfile)
{
	struct net_backend *be = NULL;

	pthread_mutex_lock(&rx.lock);
	rx.head = rx.tail = 0;
	pthread_mutex_unlock(&rx.lock);
	CHECK_EQ(net_slirp_open_boot(0, 0, 0, tftp, bootfile, false, &be), 0);
	if (be)
		CHECK_EQ(be->start(be, on_rx, NULL), 0);
	return be;
}

/* DISCOVER, OFFER, REQUEST, ACK: the address offered (network order), the reply's file
 * field and option 67 (the boot file) into file/opt67 ("" when absent), siaddr. */
static uint32_t dhcp(struct net_backend *be, char *file, char *opt67, uint32_t *siaddr)
{
	uint8_t b[1600];
	uint32_t yi = 0;
	long n;
	size_t o;
	uint8_t ol = 0;

	send_udp(be, 0, 68, 0xffffffffu, 67, b, dhcp_msg(b, 1, 0));
	n = wait_udp(67, b, sizeof(b));
	CHECK(n >= 240);
	if (n < 240)
		return 0;
	memcpy(&yi, b + 16, 4);
	send_udp(be, 0, 68, 0xffffffffu, 67, b, dhcp_msg(b, 3, yi));
	n = wait_udp(67, b, sizeof(b));
	CHECK(n >= 240);
	if (n < 240)
		return 0;
	o = dhcp_opt(b, n, 53, &ol);
	CHECK(o && ol == 1 && b[o] == 5); /* ACK */
	memcpy(siaddr, b + 20, 4);
	memcpy(file, b + 108, 128);
	file[127] = 0;
	o = dhcp_opt(b, n, 67, &ol);
	opt67[0] = 0;
	if (o) {
		memcpy(opt67, b + o, ol);
		opt67[ol] = 0;
	}
	return yi;
}

/* A TFTP read of name from 10.0.2.2 into buf (acking every block); its length, or -(the
 * error code + 1) for an ERROR packet, or -1000 without an answer. */
static long tftp_get(struct net_backend *be, uint32_t me, const char *name, uint8_t *buf,
		     size_t max)
{
	uint8_t p[1600];
	size_t n = 2, got = 0;
	uint32_t srv = htonl(0x0a000202);
	uint16_t block = 1, sport;
	long r;

	p[0] = 0;
	p[1] = 1; /* RRQ */
	n += (size_t)sprintf((char *)p + n, "%s", name) + 1;
	n += (size_t)sprintf((char *)p + n, "octet") + 1;
	send_udp(be, me, 2001, srv, 69, p, n);
	sport = 69;
	for (;;) {
		r = wait_udp(sport, p, sizeof(p));
		if (r < 4)
			return -1000;
		if (p[1] == 5)
			return -(long)(p[2] << 8 | p[3]) - 1;
		if (p[1] != 3 || (p[2] << 8 | p[3]) != block || got + (size_t)(r - 4) > max)
			return -1000;
		memcpy(buf + got, p + 4, (size_t)(r - 4));
		got += (size_t)(r - 4);
		p[1] = 4; /* ACK */
		send_udp(be, me, 2001, srv, 69, p, 4);
		block++;
		if (r - 4 < 512)
			return (long)got;
	}
}

static void test_dhcp_tftp(void)
{
	static uint8_t data[1300], got[4096];
	char file[128], opt67[256];
	uint32_t siaddr = 0, me;
	struct net_backend *be;
	int fd;
	long n;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	CHECK_EQ(mkdir(P("root"), 0700), 0);  /* the TFTP root; outside.txt beside it */
	fd = open(P("root/boot.ipxe"), O_CREAT | O_WRONLY | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, data, sizeof(data)) == (ssize_t)sizeof(data));
	close(fd);
	fd = open(P("outside.txt"), O_CREAT | O_WRONLY | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, "secret", 6) == 6);
	close(fd);
	be = boot_be(P("root"), "boot.ipxe");
	if (!be)
		return;
	me = dhcp(be, file, opt67, &siaddr);
	CHECK_EQ(ntohl(me), 0x0a00020f);        /* 10.0.2.15 */
	CHECK_EQ(ntohl(siaddr), 0x0a000202);    /* next server: the host, 10.0.2.2 */
	CHECK(strcmp(file, "boot.ipxe") == 0);  /* what iPXE and PXE ROMs read */
	/* option 67 too where libslirp sends it (Debian 12's 4.7 does not) */
	CHECK(!opt67[0] || strcmp(opt67, "boot.ipxe") == 0);
	if (opt67[0] && strcmp(opt67, "boot.ipxe"))
		printf("option 67: %s\n", opt67);
	/* three blocks (512, 512, 276 bytes), byte for byte */
	n = tftp_get(be, me, "boot.ipxe", got, sizeof(got));
	CHECK_EQ(n, (long)sizeof(data));
	CHECK(n == (long)sizeof(data) && memcmp(got, data, sizeof(data)) == 0);
	n = tftp_get(be, me, "missing.bin", got, sizeof(got));
	CHECK(n < 0 && n != -1000);             /* an ERROR packet */
	n = tftp_get(be, me, "../outside.txt", got, sizeof(got));
	CHECK(n < 0 && n != -1000);
	be->stop(be);
	be->destroy(be);
}

/* Without tftp= and bootfile=: no boot file offered, and no TFTP server. */
static void test_no_boot(void)
{
	char file[128], opt67[256];
	uint8_t got[600];
	uint32_t siaddr = 0, me;
	struct net_backend *be = boot_be(NULL, NULL);
	long n;

	if (!be)
		return;
	me = dhcp(be, file, opt67, &siaddr);
	CHECK_EQ(ntohl(me), 0x0a00020f);
	CHECK_EQ(file[0], 0);
	CHECK_EQ(opt67[0], 0);
	n = tftp_get(be, me, "boot.ipxe", got, sizeof(got));
	CHECK(n < 0);
	be->stop(be);
	be->destroy(be);
}

/* libslirp's TFTP server under the VMM's seccomp filter (as `vsrv run` puts the VMM in it
 * after the backend is open): with the read-only opens a tftp= VM gets (the media group,
 * vm_devices_serve_files) the file comes byte for byte, without them libslirp's open fails
 * (EACCES: an ERROR packet) and nothing is killed. Child status: 0 the file, 2 an ERROR,
 * 1 anything else; -SIGSYS: killed by the filter. Uses test_dhcp_tftp's directory. */
static int sandboxed_tftp(bool media)
{
	struct sandbox_config c = { .user_net = true, .media = media };
	int st;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		static uint8_t got[4096];
		char file[128], opt67[256];
		uint32_t siaddr, me;
		struct net_backend *be = NULL;
		long n;

		if (net_slirp_open_boot(0, 0, 0, P("root"), "boot.ipxe", false, &be) ||
		    be->start(be, on_rx, NULL) || sandbox_load_filter(&c))
			_exit(100);
		me = dhcp(be, file, opt67, &siaddr);
		n = tftp_get(be, me, "boot.ipxe", got, sizeof(got));
		_exit(n == 1300 && got[1299] == (uint8_t)(1299 * 7 + 3) ? 0 : n < 0 && n != -1000 ? 2 : 1);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1000;
	return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
}

static void test_sandboxed(void)
{
	if (!sandbox_supported()) {
		printf("SKIP test_sandboxed: no seccomp filter in this build\n");
		return;
	}
	CHECK_EQ(sandboxed_tftp(true), 0);
	CHECK_EQ(sandboxed_tftp(false), 2);
}

static void test_bad_dir(void)
{
	struct net_backend *be = NULL;
	int fd = open(P("plain"), O_CREAT | O_WRONLY, 0600);

	close(fd);
	CHECK_EQ(net_slirp_open_boot(0, 0, 0, P("nope"), "x", false, &be), -ENOENT);
	CHECK_EQ(net_slirp_open_boot(0, 0, 0, P("plain"), "x", false, &be), -ENOTDIR);
	CHECK(be == NULL);
}

/* Whether a UDP datagram from the guest to 10.0.2.2:PORT arrives at a socket on the
 * host's 127.0.0.1:PORT within 2 s, on a network opened with no_host_loopback. */
static bool reaches_host_loopback(bool no_host_loopback)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	struct net_backend *be = NULL;
	struct timeval tv = { 2, 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	char got[16] = "";
	ssize_t n = -1;

	CHECK(fd >= 0);
	if (fd < 0)
		return false;
	CHECK_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_EQ(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	CHECK_EQ(net_slirp_open_boot(0, 0, 0, NULL, NULL, no_host_loopback, &be), 0);
	if (be) {
		CHECK_EQ(be->start(be, on_rx, NULL), 0);
		send_udp(be, inet_addr("10.0.2.15"), 40000, inet_addr("10.0.2.2"),
			 ntohs(a.sin_port), (const uint8_t *)"knock", 5);
		n = recv(fd, got, sizeof(got) - 1, 0);
		be->stop(be);
		be->destroy(be);
	}
	close(fd);
	return n == 5 && !memcmp(got, "knock", 5);
}

static void test_host_loopback(void)
{
	CHECK(reaches_host_loopback(false));   /* the check itself can see a datagram */
	CHECK(!reaches_host_loopback(true));
}

int main(void)
{
	struct net_backend *be;

	if (net_slirp_open(0, 0, 0, &be)) {
		printf("SKIP net_slirp_boot: libslirp unavailable\n");
		return 0;
	}
	be->destroy(be);
	if (scratch_make("vsrv-slirpboot"))
		return 1;
	RUN(test_dhcp_tftp);
	RUN(test_no_boot);
	RUN(test_sandboxed);
	RUN(test_bad_dir);
	RUN(test_host_loopback);
	scratch_remove();
	return check_done();
}
