/* The VMM's sandbox (src/vmm/sandbox.c): each case loads the seccomp filter in a forked
 * child and tries one thing; what the allow-list permits works, what it does not kills the
 * child with SIGSYS (opening an existing file fails with EACCES instead). */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "check.h"
#include "vmm/mem.h"
#include "vmm/sandbox.h"
#include "vmm/savestate_file.h"

#define KILLED (-SIGSYS)

static void *thread_fn(void *arg)
{
	return arg;
}

/* Run fn in a child under the filter. Returns the child's exit status, or -signal. */
static int in_sandbox_cfg(int (*fn)(void), const struct sandbox_config *c)
{
	struct rlimit no_core = { 0, 0 };
	int st;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		setrlimit(RLIMIT_CORE, &no_core);
		if (sandbox_load_filter(c) < 0)
			_exit(100);
		_exit(fn());
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1000;
	return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
}

static int in_sandbox(int (*fn)(void), bool user_net)
{
	struct sandbox_config c = { .user_net = user_net };

	return in_sandbox_cfg(fn, &c);
}

static int do_allowed(void)
{
	pthread_t t;
	void *ret = NULL;
	uint64_t one = 1, got = 0;
	int efd;
	char *m;

	/* what the VMM does all the time: eventfds, memory, threads, signals to itself */
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0 || write(efd, &one, 8) != 8 || read(efd, &got, 8) != 8 || got != 1)
		return 2;
	m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 3;
	m[12345] = 1;
	if (madvise(m, 1 << 20, MADV_DONTNEED) < 0 || munmap(m, 1 << 20) < 0)
		return 4;
	free(malloc(10 << 20));
	if (pthread_create(&t, NULL, thread_fn, (void *)7) || pthread_join(t, &ret) || ret != (void *)7)
		return 5;
	if (getpid() <= 0 || syscall(SYS_tgkill, getpid(), gettid(), 0) < 0)
		return 6;
	return 0;
}

static int do_open_existing(void)
{
	int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);

	return fd < 0 && errno == EACCES ? 0 : 1;
}

static int do_create_new(void)
{
	/* a state file: created new (O_EXCL), written, renamed into place */
	char tmp[] = "/tmp/vsrv-sandbox-XXXXXX", dst[40];
	int fd = mkstemp(tmp);

	snprintf(dst, sizeof(dst), "%s.done", tmp);
	if (fd < 0 || write(fd, "s", 1) != 1 || fsync(fd) < 0 || rename(tmp, dst) < 0)
		return 1;
	close(fd);
	return unlink(dst) < 0 ? 2 : 0;
}

static int do_save_state(void)
{
	/* the save command's writer (savestate_write: writev, sync_file_range, pwrite) */
	char tmp[] = "/tmp/vsrv-sandbox-XXXXXX";
	struct guest_mem *m = NULL;
	struct savestate *s = NULL;
	int fd = mkstemp(tmp), ret = 0;

	if (fd < 0 || guest_mem_create(4 << 20, &m) || savestate_alloc(1, &s))
		return 1;
	memset(m->host + (1 << 20), 0x5a, 1 << 20);
	s->config.mem_size = m->size;
	if (savestate_write(fd, s, m->host, NULL) || fsync(fd) < 0)
		ret = 2;
	unlink(tmp);
	return ret;
}

static int do_discard_mapped(void)
{
	/* the balloon's discard of memory a lazy restore mapped from a file: anonymous memory
	 * is mapped over it (mmap MAP_FIXED) */
	char tmp[] = "/tmp/vsrv-sandbox-XXXXXX";
	struct guest_mem *m = NULL;
	int fd = mkstemp(tmp), ret = 0;
	char page[4096];

	memset(page, 0x5a, sizeof(page));
	if (fd < 0 || write(fd, page, sizeof(page)) != sizeof(page) ||
	    guest_mem_create(4 << 20, &m) || guest_mem_map_file(m, 8192, 4096, fd, 0))
		return 1;
	guest_mem_map_done(m);
	if (m->host[8192] != 0x5a || guest_mem_discard(m, m->host + 8192, 4096) ||
	    m->host[8192] != 0)
		ret = 2;
	unlink(tmp);
	return ret;
}

static int do_open_readonly(void)
{
	/* a VMM with a CD/DVD drive opens the images its media command inserts */
	int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	uint64_t size;
	char c;

	if (fd < 0 || read(fd, &c, 1) != 1)
		return 1;
	/* the size of an image on a block device (a file has none: ENOTTY, not SIGSYS) */
	return ioctl(fd, BLKGETSIZE64, &size) < 0 && errno == ENOTTY ? 0 : 2;
}

static int do_open_for_writing(void)
{
	/* but never for writing */
	int a = open("/etc/passwd", O_RDWR | O_CLOEXEC), ea = errno;
	int b = open("/etc/passwd", O_WRONLY | O_CLOEXEC), eb = errno;

	return a < 0 && ea == EACCES && b < 0 && eb == EACCES ? 0 : 1;
}

static int do_open_creat_existing(void)
{
	/* O_CREAT without O_EXCL would open any existing file: not a state file */
	open("/etc/passwd", O_RDONLY | O_CREAT, 0600);
	return 1;
}

static int do_execve(void)
{
	char *argv[] = { "/bin/true", NULL };

	execve(argv[0], argv, NULL);
	return 1;
}

static int do_socket_inet(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	return fd >= 0 ? 0 : 1;
}

static int do_socket_unix(void)
{
	return socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? 0 : 1;
}

static int do_fork(void)
{
	pid_t p = fork();

	if (p == 0)
		_exit(0);
	return 1;
}

static int do_exec_memory(void)
{
	void *m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return m == MAP_FAILED ? 1 : 0;
}

static int do_tiocsti(void)
{
	char c = 'x';

	/* pushing input into a terminal: not an ioctl the VMM needs */
	ioctl(0, TIOCSTI, &c);
	return 1;
}

static int do_kvm_create_vm(void)
{
	ioctl(-1, KVM_CREATE_VM, 0);
	return 1;
}

static int do_kill_parent(void)
{
	kill(getppid(), 0);
	return 1;
}

static int do_ptrace_me(void)
{
	prctl(PR_SET_DUMPABLE, 1);
	return 1;
}

static void test_allowed(void)
{
	CHECK_EQ(in_sandbox(do_allowed, false), 0);
	CHECK_EQ(in_sandbox(do_open_existing, false), 0);
	CHECK_EQ(in_sandbox(do_create_new, false), 0);
	CHECK_EQ(in_sandbox(do_save_state, false), 0);
	CHECK_EQ(in_sandbox(do_discard_mapped, false), 0);
}

static void test_forbidden_kills(void)
{
	CHECK_EQ(in_sandbox(do_execve, false), KILLED);
	CHECK_EQ(in_sandbox(do_socket_inet, false), KILLED);
	CHECK_EQ(in_sandbox(do_socket_unix, false), KILLED);
	CHECK_EQ(in_sandbox(do_fork, false), KILLED);
	CHECK_EQ(in_sandbox(do_exec_memory, false), KILLED);
	CHECK_EQ(in_sandbox(do_tiocsti, false), KILLED);
	CHECK_EQ(in_sandbox(do_kvm_create_vm, false), KILLED);
	CHECK_EQ(in_sandbox(do_kill_parent, false), KILLED);
	CHECK_EQ(in_sandbox(do_ptrace_me, false), KILLED);
	CHECK_EQ(in_sandbox(do_open_creat_existing, false), KILLED);
}

static void test_user_net_sockets(void)
{
	/* --net user: libslirp's host sockets, and only those */
	CHECK_EQ(in_sandbox(do_socket_inet, true), 0);
	CHECK_EQ(in_sandbox(do_socket_unix, true), KILLED);
	CHECK_EQ(in_sandbox(do_execve, true), KILLED);
}

static void test_media(void)
{
	struct sandbox_config c = { .media = true }, u = { .media = true, .user_net = true,
							   .migrate = true };

	CHECK_EQ(in_sandbox_cfg(do_open_readonly, &c), 0);
	CHECK_EQ(in_sandbox_cfg(do_open_readonly, &u), 0);
	CHECK_EQ(in_sandbox_cfg(do_open_for_writing, &c), 0);
	CHECK_EQ(in_sandbox_cfg(do_create_new, &c), 0);
	CHECK_EQ(in_sandbox_cfg(do_allowed, &c), 0);
	CHECK_EQ(in_sandbox_cfg(do_open_creat_existing, &c), KILLED);
	CHECK_EQ(in_sandbox_cfg(do_execve, &c), KILLED);
	/* without a drive, nothing is opened */
	CHECK_EQ(in_sandbox(do_open_readonly, false), 1);
	CHECK_EQ(in_sandbox(do_open_for_writing, false), 0);
}

/* A file of ours (0600, root or not): its only refusal can come from the filter. */
static char rw_path[64];
static int fd_pair[2] = { -1, -1 };

static int do_open_rdwr(void)
{
	int a = open(rw_path, O_RDWR | O_CLOEXEC), ea = errno;
	int b = open(rw_path, O_WRONLY | O_CLOEXEC), eb = errno;

	if (a >= 0 || b >= 0)
		return 1;
	return ea == EACCES && eb == EACCES ? 0 : 2;
}

/* A disk-switch's new top comes as a descriptor over the control socket (SCM_RIGHTS): the
 * filtered process takes it with recvmsg, locks it (OFD) and writes through it. */
static int do_use_passed_fd(void)
{
	char byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 1 };
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(fd_pair[1], &mh, MSG_CMSG_CLOEXEC) != 1 || !(cm = CMSG_FIRSTHDR(&mh)) ||
	    cm->cmsg_type != SCM_RIGHTS)
		return 1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	if (fcntl(fd, F_OFD_SETLK, &fl) || pwrite(fd, "new top", 7, 0) != 7 || fdatasync(fd))
		return 2;
	return 0;
}

/* The VMM never opens an existing file for writing, --control or not (a guest that took
 * over its VMM could write host files): a disk-switch's new top is passed in, opened by
 * whoever asks for the switch. */
static void test_no_rw_open(void)
{
	struct sandbox_config cfgs[] = { { .migrate = true }, { .migrate = true, .media = true },
					 { .migrate = true, .media = true, .user_net = true },
					 { .media = true }, { 0 } };
	char cbuf[CMSG_SPACE(sizeof(int))], got[8] = "";
	struct iovec iov = { "x", 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = (struct cmsghdr *)cbuf;
	int fd, st;
	pid_t pid;

	snprintf(rw_path, sizeof(rw_path), "/tmp/vsrv-sbx-rw-XXXXXX");
	fd = mkstemp(rw_path);
	CHECK(fd >= 0);
	close(fd);
	fd = open(rw_path, O_RDWR | O_CLOEXEC); /* unfiltered: it opens (not a permission) */
	CHECK(fd >= 0);
	close(fd);
	for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++)
		CHECK_EQ(in_sandbox_cfg(do_open_rdwr, &cfgs[i]), 0);
	/* what works instead: the descriptor passed over a socket */
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd_pair), 0);
	fd = open(rw_path, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (sandbox_load_filter(&cfgs[0]) < 0)
			_exit(100);
		_exit(do_use_passed_fd());
	}
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
	CHECK_EQ(sendmsg(fd_pair[0], &mh, MSG_NOSIGNAL), 1);
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	CHECK_EQ(pread(fd, got, 7, 0), 7);
	CHECK(!memcmp(got, "new top", 7));
	close(fd);
	close(fd_pair[0]);
	close(fd_pair[1]);
	unlink(rw_path);
}

static void test_log_mode(void)
{
	/* VSRV_SECCOMP_LOG=1: what would kill is logged and goes through */
	struct sandbox_config c = { .log_only = true };

	CHECK_EQ(in_sandbox_cfg(do_socket_unix, &c), 0);
	CHECK_EQ(in_sandbox_cfg(do_allowed, &c), 0);
}

static int do_drop_caps(void)
{
	char buf[4096];
	ssize_t n;
	int fd;

	if (sandbox_drop_caps() < 0)
		return 1;
	fd = open("/proc/self/status", O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 2;
	buf[n] = 0;
	return strstr(buf, "CapEff:\t0000000000000000") && strstr(buf, "CapPrm:\t0000000000000000")
	       ? 0 : 3;
}

static void test_drop_caps(void)
{
	int st;
	pid_t pid = fork();

	if (pid == 0)
		_exit(do_drop_caps());
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
}

int main(void)
{
	if (!sandbox_supported()) {
		printf("SKIP sandbox: no seccomp filter in sanitizer builds\n");
		return 0;
	}
	RUN(test_allowed);
	RUN(test_forbidden_kills);
	RUN(test_user_net_sockets);
	RUN(test_media);
	RUN(test_no_rw_open);
	RUN(test_log_mode);
	RUN(test_drop_caps);
	return check_done();
}
