/* libFuzzer target: the VMM's control socket receiving command lines with descriptors
 * passed (SCM_RIGHTS): src/vmm/control.c's reader and dispatch, control_fds.c's queue of
 * descriptors per line, control_disk.c's disk-switch, on a VM built by hand without KVM
 * (as tests/unit/handvm.h does) with one virtio-blk disk on a dynamic VHD, its control loop
 * on a thread of its own, as the VMM runs it. Each input is a client connection:
 *   byte 0       n = (byte & 0x7f) % 71 descriptors (CTL_FDS_MAX is 64: more than a command
 *                takes too); with 0x80 they come in two sends (half each), else one
 *   byte 1       where in the stream they ride: the bytes before go in a send of their own;
 *                with two sends, the second half rides half-way through the rest
 *   bytes 2..n+1 each descriptor's kind (% 6): /dev/null, a memfd, a pipe's read end, its
 *                write end, a regular temp file (read-write), the disk's own VHD (read-only)
 *   the rest     the bytes the client sends (command lines, or anything), each "$D" in
 *                them replaced by the directory of the disk's image and the plain file
 *                (base.vhd, plain: so that paths can name the files passed)
 * (the replies read meanwhile, as a client must: the control socket drops one that does not
 * read them), then a line of its own whose answer says every line before was handled (left
 * out when the connection is gone): by then every descriptor passed must have been closed
 * by the control socket (the connection still open), whatever the lines said, and that
 * line must be answered ok (no descriptor left over for it); then the client shuts its side
 * and reads the replies to the end, and this process must hold exactly the descriptors it
 * held before. The disk must
 * still be on its image (no descriptor passed here is a new top over it), and nothing may
 * crash, hang or read out of bounds. Commands that act beyond the socket are left out: a
 * line whose "cmd" is save, migrate, quit or power-button (files written, connections
 * made, the VM ended, ACPI that a VM built by hand lacks) makes the input skipped. With
 * fuzz/run_corpus.c it replays files under ASan/UBSan (tests/t-control-fds-fuzz.sh; seeds by
 * fuzz/control_fds_seeds.py). */
#include "devices/virtio/devstate.h"
#include "disk/disk.h"
#include "vhd/vhd.h"
#include "vmm/control.h"
#include "vmm/evloop.h"
#include "vmm/input_router.h"
#include "vmm/mem.h"
#include "vmm/vm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MEM (16u << 20)
#define NFDS_MAX 70
#define WAIT_MS 10000 /* a reply stream that does not end within this is a hang */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vm_config cfg = { .nr_cpus = 1, .mem_size = MEM, .serial = VM_SERIAL_NONE };
static struct vm *vm;
static struct control *ctl;
static char dir[] = "/tmp/vsrv-fuzz-ctlfds-XXXXXX", sock[128], image[128], plain[128];
static char spec[200];
static const char *disks[1] = { spec };

static void *loop_thread(void *arg)
{
	(void)arg;
	evloop_run(vm->loop);
	return NULL;
}

/* The files setup made, at exit. */
static void cleanup(void)
{
	unlink(image);
	unlink(plain);
	unlink(sock);
	rmdir(dir);
}

/* The VM (as tests/unit/handvm.h builds one) and its control socket, once. */
static void setup(void)
{
	struct vhd_create_opts dyn = { .type = VHD_TYPE_DYNAMIC, .size = 4u << 20,
				       .force_size = true };
	pthread_t th;
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		abort();
	snprintf(image, sizeof(image), "%s/base.vhd", dir);
	snprintf(plain, sizeof(plain), "%s/plain", dir);
	snprintf(sock, sizeof(sock), "%s/ctl.sock", dir);
	snprintf(spec, sizeof(spec), "%s,format=vhd,transport=mmio", image);
	atexit(cleanup);
	f = fopen(plain, "w");
	if (!f || vhd_create(image, &dyn, NULL) || fputs("not a VHD", f) < 0 || fclose(f))
		abort();
	cfg.disks = disks;
	cfg.nr_disks = 1;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		abort();
	vm->kvm_fd = vm->vm_fd = -1;
	vm->cfg = &cfg;
	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	pthread_mutex_init(&vm->irq_lock, NULL);
	vm->cmdline = strdup("");
	if (!vm->cmdline || guest_mem_create(MEM, &vm->mem) || evloop_create(&vm->loop) ||
	    input_router_create(&vm->input))
		abort();
	vm_host_init(vm);
	if (vm_devices_init(vm) || control_open(sock, &ctl) || control_attach(ctl, vm) ||
	    pthread_create(&th, NULL, loop_thread, NULL))
		abort();
}

/* The descriptors this process has open. */
static int nfds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		abort();
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3;
}

/* The image the disk runs on (its path's last part). */
static const char *on(void)
{
	struct vdevs *v = vm->devices_priv;
	const char *p = v && v->n ? v->e[0].disk->path : "";

	return strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
}

/* Whether a line of the stream asks for a command left out (see the top). */
static bool acts(const uint8_t *p, size_t n)
{
	static const char *const out[] = { "save", "migrate", "quit", "power-button" };
	char *s = malloc(n + 1);
	bool yes = false;

	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	for (char *line = s, *nl; line && !yes; line = nl ? nl + 1 : NULL) {
		json_t *m;
		const char *cmd;

		nl = memchr(line, '\n', n - (size_t)(line - s));
		if (nl)
			*nl = '\0';
		m = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
		cmd = json_string_value(json_object_get(m, "cmd"));
		for (size_t i = 0; cmd && i < sizeof(out) / sizeof(out[0]); i++)
			yes |= !strcmp(cmd, out[i]);
		json_decref(m);
	}
	free(s);
	return yes;
}

/* A descriptor of kind k (see the top), or -1; a pipe's other end into *other (the
 * caller closes it). */
static int make_fd(unsigned k, int *other)
{
	int p[2], fd;

	switch (k % 6) {
	case 0:
		return open("/dev/null", O_RDONLY | O_CLOEXEC);
	case 1:
		fd = memfd_create("ctlfds", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, 4096)) {
			close(fd);
			return -1;
		}
		return fd;
	case 2:
	case 3:
		if (pipe2(p, O_CLOEXEC))
			return -1;
		*other = p[k % 6 == 2];
		return p[k % 6 == 3];
	case 4:
		return open(plain, O_RDWR | O_CLOEXEC);
	default:
		return open(image, O_RDONLY | O_CLOEXEC);
	}
}

static int send_all(int s, const uint8_t *p, size_t n, const int *fds, unsigned nf)
{
	char cb[CMSG_SPACE(NFDS_MAX * sizeof(int))], sink[65536];
	struct iovec iov = { (void *)p, n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t done = 0;

	if (nf) {
		struct cmsghdr *cm;

		memset(cb, 0, sizeof(cb));
		mh.msg_control = cb;
		mh.msg_controllen = CMSG_SPACE(nf * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nf * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nf * sizeof(int));
	}
	/* the replies read (and dropped) meanwhile, as a client does: the control socket
	 * drops one that does not read them (and stops reading while it waits) */
	while (done < n) {
		struct pollfd pf = { .fd = s, .events = POLLIN | POLLOUT };
		ssize_t w;

		if (poll(&pf, 1, WAIT_MS) != 1)
			abort(); /* a hang: it neither reads nor answers */
		if (pf.revents & POLLIN) {
			w = recv(s, sink, sizeof(sink), MSG_DONTWAIT);
			if (w == 0 || (w < 0 && errno != EAGAIN && errno != EINTR))
				return -1;
		}
		if (!(pf.revents & POLLOUT))
			continue;
		/* the descriptors ride on the first byte; the rest goes without them */
		w = done ? send(s, p + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT) :
			   sendmsg(s, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (w > 0)
			done += (size_t)w;
	}
	return 0;
}

/* The n bytes at in with each "$D" replaced by dir: a new buffer (*len bytes). */
static uint8_t *expand(const uint8_t *in, size_t n, size_t *len)
{
	size_t dl = strlen(dir), k = 0;
	uint8_t *out = malloc(n * (dl > 2 ? dl - 1 : 1) + 1);

	if (!out)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '$' && i + 1 < n && in[i + 1] == 'D') {
			memcpy(out + k, dir, dl);
			k += dl;
			i++;
		} else {
			out[k++] = in[i];
		}
	}
	*len = k;
	return out;
}

/* Send bytes a to b of p with the nf descriptors fds on the first of them (a newline of its
 * own when there are descriptors and no bytes); *last: the last byte sent. 0, or -1 when
 * the connection is gone. */
static int piece(int s, const uint8_t *p, size_t a, size_t b, const int *fds, unsigned nf,
		 uint8_t *last)
{
	if (a == b && !nf)
		return 0;
	if (a == b)
		p = (const uint8_t *)"\n", a = 0, b = 1;
	if (send_all(s, p + a, b - a, fds, nf))
		return -1;
	*last = p[b - 1];
	return 0;
}

/* Posted to the control loop: everything it had to do before has been done. */
static void barrier(void *arg)
{
	sem_post(arg);
}

/* Wait until the control loop has done what it had to (a barrier posted to it). */
static void wait_loop(void)
{
	sem_t done;

	if (sem_init(&done, 0, 0) || evloop_post(vm->loop, barrier, &done))
		abort();
	while (sem_wait(&done))
		;
	sem_destroy(&done);
}

/* Read the replies on s until one holds want (1 when it is {"ok":true,...}, else -1), or
 * to the connection's end (0; want NULL: always). A reply stream that stops for WAIT_MS is
 * a hang. Only the last 4 KiB read are searched. */
static int replies_until(int s, const char *want)
{
	static char buf[65536 + 4096];
	size_t keep = 0;
	char *at;

	for (;;) {
		struct pollfd pf = { .fd = s, .events = POLLIN };
		ssize_t r;

		if (poll(&pf, 1, WAIT_MS) != 1)
			abort(); /* a hang */
		r = read(s, buf + keep, sizeof(buf) - 1 - keep);
		if (r <= 0)
			return 0;
		keep += (size_t)r;
		buf[keep] = '\0';
		if (want && (at = memmem(buf, keep, want, strlen(want)))) {
			while (at > buf && at[-1] != '\n')
				at--;
			return strncmp(at, "{\"ok\":true,", 11) ? -1 : 1;
		}
		if (keep > 4096) {
			memmove(buf, buf + keep - 4096, 4096);
			keep = 4096;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fds[NFDS_MAX], others[NFDS_MAX], before, s;
	unsigned n, i;
	size_t split, mid, len;
	uint8_t *stream, last;
	bool two;
	const uint8_t *p;
	static unsigned runs;
	char end[80], id[48];
	bool gone;
	int ends;

	if (size < 2)
		return 0;
	n = (data[0] & 0x7f) % (NFDS_MAX + 1);
	two = data[0] & 0x80;
	if (size < 2 + n)
		n = (unsigned)size - 2;
	if (!ready) {
		setup();
		ready = true;
	}
	p = stream = expand(data + 2 + n, size - 2 - n, &len);
	split = len ? data[1] % (len + 1) : 0;
	if (acts(p, len)) {
		free(stream);
		return 0;
	}
	before = nfds();
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, sock);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)))
		abort();
	for (i = 0; i < n; i++) {
		others[i] = -1;
		fds[i] = make_fd(data[2 + i], &others[i]);
		if (fds[i] < 0)
			abort();
	}
	/* the bytes before the descriptors, then those they ride on: all on one send, or with
	 * two the first half on the first byte of the rest and the others half-way on */
	mid = two ? split + (len - split) / 2 : len;
	last = '\n';
	gone = piece(s, p, 0, split, NULL, 0, &last) ||
	       piece(s, p, split, mid, fds, two ? n / 2 : n, &last) ||
	       (two && piece(s, p, mid, len, fds + n / 2, n - n / 2, &last));
	for (i = 0; i < n; i++) {
		close(fds[i]);
		if (others[i] >= 0)
			close(others[i]);
	}
	/* a last line of ours (after a newline that ends a line left open), whose answer says
	 * every line before has been handled: by then the descriptors that came with them are
	 * closed (this process holds those it held before, and the two ends of this
	 * connection), and none is left for our line: it is answered ok (a descriptor kept
	 * past its line would be refused with it, or taken by a disk-switch after) */
	snprintf(id, sizeof(id), "\"id\":\"end-%d-%u\"", (int)getpid(), ++runs);
	snprintf(end, sizeof(end), "%s{\"cmd\":\"status\",%s}\n",
		 last == '\n' ? "" : "\n", id);
	ends = gone || send_all(s, (const uint8_t *)end, strlen(end), NULL, 0) ? 0 :
	       replies_until(s, id);
	if (ends < 0) {
		fprintf(stderr, "control-fds: our last line was refused (a descriptor left over "
			"from the lines before?)\n");
		abort();
	}
	if (ends) {
		wait_loop();
		if (nfds() != before + 2) { /* ours and the control socket's end */
			fprintf(stderr, "control-fds: %d descriptors open after the input's lines "
				"(its connection open), %d before\n", nfds() - 2, before);
			abort();
		}
	}
	/* and once the connection is gone (the control socket reads its end) */
	shutdown(s, SHUT_WR);
	replies_until(s, NULL);
	close(s);
	wait_loop();
	if (nfds() != before) {
		fprintf(stderr, "control-fds: %d descriptors open after the input, %d before\n",
			nfds(), before);
		abort();
	}
	if (strcmp(on(), "base.vhd"))
		abort(); /* switched onto something that is no new top over its image */
	free(stream);
	return 0;
}
