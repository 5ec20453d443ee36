/* The control socket's disk-switch end to end, without KVM: a VM built by hand (handvm.h)
 * with a virtio-blk disk on a dynamic VHD, its control loop on a thread with the control
 * socket attached, and clients that pass the new tops as descriptors (SCM_RIGHTS): this
 * process's own (util/fdpass.h, as the server does) and `build/vsrv control` (a VM started
 * by hand). Checked: a switch onto a top over the disk's image, then a second one over that
 * (a chain of three), with what was written before each switch read back through the chain
 * and what is written after landing in the last top; the disk holds exactly one more
 * descriptor per switch; refusals at the socket (no descriptor, too many for the disks, more
 * than a command takes, descriptors with another command, a device, a junk file, a top over
 * another image) leave the disk on its image and no descriptor open (/proc/self/fd counted:
 * the VMM's side and the client's are this one process). And the same under the VMM's
 * seccomp filter (a VMM with --control, in a child): the switch works there although the
 * filter lets the process open no existing file for writing. */
#include "check.h"
#include "diskpat.h"
#include "fdcount.h"
#include "handvm.h"
#include "scratch.h"
#include "devices/virtio/devstate.h"
#include "devices/virtio/kind.h"
#include "disk/disk.h"
#include "util/fdpass.h"
#include "vhd/vhd.h"
#include "vmm/control.h"
#include "vmm/sandbox.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MEM (16 << 20)
#define SIZE (8u << 20)

static struct vm *vm;
static char sock[128];

static void *loop_thread(void *arg)
{
	(void)arg;
	evloop_run(vm->loop);
	return NULL;
}

/* The descriptors open once the control loop has seen the clients go (it closes its end of
 * a connection when it reads the client's close, on its own thread): want, or what is open
 * after 10 s. */
static int settle(int want)
{
	int n = nfds();

	for (int i = 0; i < 10000 && n != want; i++) {
		usleep(1000);
		n = nfds();
	}
	return n;
}

/* The disk device's image (its path's last part). */
static const char *on(void)
{
	struct vdevs *v = vm->devices_priv;
	const char *p = v && v->n ? v->e[0].disk->path : "";

	return strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
}

/* One command line with n descriptors (raw: more than fdpass_send allows too), the answer
 * (json_decref it; an empty object when none came). */
static json_t *q_raw(const char *line, const int *fds, unsigned n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char cb[CMSG_SPACE(128 * sizeof(int))], buf[8192];
	struct iovec iov = { (void *)line, strlen(line) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t len = 0;
	json_t *r;

	strcpy(sa.sun_path, sock);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || n > 128)
		return json_object();
	if (n) {
		struct cmsghdr *cm;

		memset(cb, 0, sizeof(cb));
		mh.msg_control = cb;
		mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	}
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) != (ssize_t)iov.iov_len) {
		close(fd);
		return json_object();
	}
	while (len < sizeof(buf) - 1) {
		ssize_t k = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (k <= 0)
			break;
		len += (size_t)k;
		if (memchr(buf, '\n', len))
			break;
	}
	close(fd);
	buf[len] = 0;
	r = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
	return r ? r : json_object();
}

/* Whether the control socket accepts connections (the connection made is closed). */
static bool listening(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	strcpy(sa.sun_path, sock);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* disk-switch of disk0 onto path with n descriptors of fdpath (each opened read-write
 * here, closed after the send, as a client does): 1 when the answer is ok, else 0 with
 * the error in why. */
static int switch_to(const char *path, const char *fdpath, unsigned n, char *why, size_t wn)
{
	char line[1024];
	int fds[128], ok;
	json_t *r;

	snprintf(line, sizeof(line), "{\"cmd\":\"disk-switch\",\"disks\":[{\"drive\":\"disk0\","
		 "\"path\":\"%s\"}]}\n", path);
	for (unsigned i = 0; i < n; i++)
		fds[i] = open(fdpath, O_RDWR | O_CLOEXEC);
	r = q_raw(line, fds, n);
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
	ok = json_is_true(json_object_get(r, "ok"));
	snprintf(why, wn, "%s", json_string_value(json_object_get(r, "error")) ?: "");
	json_decref(r);
	return ok;
}

static void make_top(const char *name, const char *parent)
{
	struct vhd_create_opts o = { .type = VHD_TYPE_DIFF, .parent = P(parent),
				     .parent_nolock = true };

	CHECK_EQ(vhd_create(P(name), &o, NULL), 0);
}

/* What the socket refuses: the disk stays where it is, no descriptor stays open. */
static void refusals(void)
{
	int n0 = nfds(), fds[70];
	char why[1024], junk[600];
	json_t *r;
	FILE *f;

	CHECK_EQ(switch_to(P("t1.vhd"), P("t1.vhd"), 0, why, sizeof(why)), 0);
	CHECK(strstr(why, "got 0 for 1 disk") != NULL);
	CHECK_EQ(switch_to(P("t1.vhd"), P("t1.vhd"), 2, why, sizeof(why)), 0);
	CHECK(strstr(why, "got 2 for 1 disk") != NULL);
	CHECK_EQ(settle(n0), n0);
	/* (each case checked alone: a connection that comes next may free what the one
	 * before left) */
	/* more than a command takes (the rest closed at once) */
	for (int i = 0; i < 70; i++)
		fds[i] = open(P("t1.vhd"), O_RDONLY | O_CLOEXEC);
	r = q_raw("{\"cmd\":\"disk-switch\",\"disks\":[{\"drive\":\"disk0\",\"path\":\"/x.vhd\"}]}\n",
		  fds, 70);
	CHECK(strstr(json_string_value(json_object_get(r, "error")) ?: "", "more descriptors"));
	json_decref(r);
	for (int i = 0; i < 70; i++)
		close(fds[i]);
	CHECK_EQ(settle(n0), n0);
	/* with another command */
	fds[0] = open(P("t1.vhd"), O_RDWR | O_CLOEXEC);
	r = q_raw("{\"cmd\":\"status\"}\n", fds, 1);
	CHECK(strstr(json_string_value(json_object_get(r, "error")) ?: "", "only disk-switch"));
	json_decref(r);
	CHECK_EQ(settle(n0 + 1), n0 + 1); /* ours only */
	r = q_raw("not json\n", fds, 1);
	CHECK(json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	close(fds[0]);
	CHECK_EQ(settle(n0), n0);
	/* a device, not a file; a file that is not a VHD; a top over another image */
	CHECK_EQ(switch_to("/dev/null", "/dev/null", 1, why, sizeof(why)), 0);
	CHECK(strstr(why, "not a regular file") != NULL);
	CHECK_EQ(settle(n0), n0);
	snprintf(junk, sizeof(junk), "%s", P("junk.vhd"));
	f = fopen(junk, "w");
	CHECK(f && fputs("not a VHD at all", f) >= 0);
	if (f)
		fclose(f);
	CHECK_EQ(switch_to(junk, junk, 1, why, sizeof(why)), 0);
	CHECK(strstr(why, "disk0") && strstr(why, "junk.vhd"));
	CHECK_EQ(settle(n0), n0);
	CHECK_EQ(switch_to(P("o1.vhd"), P("o1.vhd"), 1, why, sizeof(why)), 0);
	CHECK(strstr(why, "records another parent") != NULL);
	CHECK_EQ(settle(n0), n0);
	/* a descriptor on another file than the path */
	CHECK_EQ(switch_to(P("t1.vhd"), P("o1.vhd"), 1, why, sizeof(why)), 0);
	CHECK(strstr(why, "another file") != NULL);
	CHECK(!strcmp(on(), "base.vhd"));
	CHECK_EQ(settle(n0), n0);
}

static void test_switch_over_socket(void)
{
	struct vm_config cfg = { .nr_cpus = 1, .mem_size = MEM, .serial = VM_SERIAL_NONE };
	struct vhd_create_opts dyn = { .type = VHD_TYPE_DYNAMIC, .size = SIZE, .force_size = true };
	char spec[600], cmd[2048], why[1024];
	const char *disks[1] = { spec };
	struct control *ctl = NULL;
	struct disk *d;
	pthread_t th;
	int n0, rc;

	CHECK_EQ(vhd_create(P("base.vhd"), &dyn, NULL), 0);
	CHECK_EQ(vhd_create(P("other.vhd"), &dyn, NULL), 0);
	CHECK_EQ(disk_open(P("base.vhd"), NULL, 0, &d), 0);
	CHECK_EQ(diskpat_put(d, 0, 1), 0);
	CHECK_EQ(disk_flush(d), 0);
	disk_close(d);
	snprintf(spec, sizeof(spec), "%s,format=vhd,transport=mmio", P("base.vhd"));
	snprintf(sock, sizeof(sock), "%s", P("ctl.sock"));
	cfg.disks = disks, cfg.nr_disks = 1;
	vm = handvm_new_devices(&cfg, MEM);
	CHECK(vm != NULL);
	if (!vm)
		return;
	CHECK(!strcmp(on(), "base.vhd"));
	CHECK_EQ(control_open(sock, &ctl), 0);
	CHECK_EQ(control_attach(ctl, vm), 0);
	CHECK_EQ(pthread_create(&th, NULL, loop_thread, NULL), 0);

	make_top("t1.vhd", "base.vhd");
	make_top("o1.vhd", "other.vhd");
	refusals();
	/* the server's way: the top opened by the client, passed in */
	n0 = nfds();
	CHECK_EQ(switch_to(P("t1.vhd"), P("t1.vhd"), 1, why, sizeof(why)), 1);
	CHECK(!strcmp(on(), "t1.vhd"));
	CHECK_EQ(settle(n0 + 1), n0 + 1); /* the new top's, held by the disk */
	/* what a guest writes now goes to t1 (the device's disk, as the device writes it; no
	 * guest runs and no command is under way: nobody else uses it meanwhile) */
	{
		struct vdevs *v = vm->devices_priv;

		CHECK_EQ(diskpat_holds(v->e[0].disk, 0, 1), 1);
		CHECK_EQ(diskpat_put(v->e[0].disk, 64, 2), 0);
	}
	/* the hand-started VM's way: `vsrv control` opens the top and passes it */
	make_top("t2.vhd", "t1.vhd");
	if (access("build/vsrv", X_OK)) {
		printf("SKIP test_switch_over_socket-cli: no build/vsrv (run from the tree's root)\n");
	} else {
		snprintf(cmd, sizeof(cmd), "build/vsrv control %s '{\"cmd\":\"disk-switch\","
			 "\"disks\":[{\"drive\":\"disk0\",\"path\":\"%s\"}]}' >/dev/null", sock,
			 P("t2.vhd"));
		rc = system(cmd);
		CHECK_EQ(rc, 0);
		CHECK(!strcmp(on(), "t2.vhd"));
		CHECK_EQ(settle(n0 + 2), n0 + 2);
		/* and its refusal: exit status 1 */
		snprintf(cmd, sizeof(cmd), "build/vsrv control %s '{\"cmd\":\"disk-switch\","
			 "\"disks\":[{\"drive\":\"disk0\",\"path\":\"%s\"}]}' >/dev/null", sock,
			 P("o1.vhd"));
		CHECK_EQ(WEXITSTATUS(system(cmd)), 1);
		CHECK(!strcmp(on(), "t2.vhd"));
	}
	evloop_stop(vm->loop, 0);
	pthread_join(th, NULL);
	{
		struct vdevs *v = vm->devices_priv;

		CHECK_EQ(diskpat_put(v->e[0].disk, 128, 3), 0);
		CHECK_EQ(disk_flush(v->e[0].disk), 0);
	}
	control_detach(ctl);
	control_close(ctl);
	handvm_free_devices(vm);
	/* the chain as a restart would open it by name: every write where it belongs */
	CHECK_EQ(disk_open(P("t2.vhd"), NULL, DISK_RDONLY, &d), 0);
	if (d) {
		CHECK_EQ(diskpat_holds(d, 0, 1), 1);
		CHECK_EQ(diskpat_holds(d, 64, 2), 1);
		CHECK_EQ(diskpat_holds(d, 128, 3), 1);
		disk_close(d);
	}
	CHECK_EQ(disk_open(P("base.vhd"), NULL, DISK_RDONLY, &d), 0);
	if (d) {
		CHECK_EQ(diskpat_holds(d, 0, 1), 1);
		CHECK_EQ(diskpat_holds(d, 64, 2), 0); /* written after the first switch: not here */
		disk_close(d);
	}
}

/* The VMM's side under its sandbox: a child builds the VM and its control socket, loads the
 * filter of a VMM with --control and serves the socket; this process asks for switches.
 * Any system call of the switch outside the allow-list would kill the child (SIGSYS). */
static void test_switch_sandboxed(void)
{
	struct vhd_create_opts dyn = { .type = VHD_TYPE_DYNAMIC, .size = SIZE, .force_size = true };
	char spec[600], why[1024];
	int st = 0, fd;
	pid_t pid;

	CHECK_EQ(vhd_create(P("sb.vhd"), &dyn, NULL), 0);
	make_top("sb1.vhd", "sb.vhd");
	make_top("sbo.vhd", "other.vhd");
	snprintf(spec, sizeof(spec), "%s,format=vhd,transport=mmio", P("sb.vhd"));
	snprintf(sock, sizeof(sock), "%s", P("sb.sock"));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct vm_config cfg = { .nr_cpus = 1, .mem_size = MEM, .serial = VM_SERIAL_NONE };
		struct sandbox_config sb = { .migrate = true }; /* --control, no CD/DVD drive */
		const char *disks[1] = { spec };
		struct control *ctl = NULL;

		cfg.disks = disks, cfg.nr_disks = 1;
		vm = handvm_new_devices(&cfg, MEM);
		if (!vm || control_open(sock, &ctl) || control_attach(ctl, vm))
			_exit(101);
		if (sandbox_load_filter(&sb))
			_exit(100);
		/* the filter holds: no file opens for writing */
		fd = open(P("sb1.vhd"), O_RDWR | O_CLOEXEC);
		if (fd >= 0 || errno != EACCES)
			_exit(102);
		evloop_run(vm->loop);
		_exit(0);
	}
	CHECK(pid > 0);
	if (pid <= 0)
		return;
	/* listening, not only bound: the socket file exists before listen() */
	for (int i = 0; i < 10000 && !listening(); i++)
		usleep(1000);
	CHECK_EQ(switch_to(P("sbo.vhd"), P("sbo.vhd"), 1, why, sizeof(why)), 0);
	CHECK(strstr(why, "records another parent") != NULL);
	CHECK_EQ(switch_to(P("sb1.vhd"), P("sb1.vhd"), 1, why, sizeof(why)), 1);
	if (why[0])
		printf("# %s\n", why);
	kill(pid, SIGKILL);
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL); /* alive until then: no SIGSYS */
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		printf("# the child: %s %d\n", WIFSIGNALED(st) ? "signal" : "exit",
		       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

int main(void)
{
	if (scratch_make("vsrv-ctlswitch"))
		return 1;
	RUN(test_switch_over_socket);
	if (sandbox_supported())
		RUN(test_switch_sandboxed);
	else
		printf("SKIP test_switch_sandboxed: no seccomp filter in sanitizer builds\n");
	scratch_remove();
	return check_done();
}
