/* `vsrv monitor DIR -- VMM-ARGV...`: the per-VM supervisor shim that `vsrv serve` starts
 * in its own session for each running VM. It runs the VMM as its child, keeps its
 * console (stdin/stdout) in DIR/console.log (rotated at 1 MiB) and on DIR/console.sock
 * (each client gets the output from the moment it connects; what it sends goes to the
 * guest's serial input), and records the VMM's exit status in DIR/exit, so that the
 * daemon can stop, restart and come back without losing any of it. It is built into
 * build/vsrv (libc only), not into the server binary, to start fast and stay small.
 *
 * Files in DIR: vmm.pid (written once the VMM runs), console.log, console.log.1,
 * console.sock, exit ("exited N" or "signal N", written atomically when the VMM ends).
 *
 * In a cluster (docs/cluster.md) the daemon links DIR/lease.deadline to the file where it
 * keeps its lease watchdog's deadline (CLOCK_BOOTTIME milliseconds). When that link exists
 * at the start, the monitor reads it every 250 ms and kills the VMM once the deadline has
 * passed or cannot be read: a daemon that died (kill -9) no longer pushes it, and its VMs
 * stop at the moment its watchdog would have stopped them. */
#include "cli/cli.h"
#include "util/unixsock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_MAX (1 << 20)

static const char MONITOR_USAGE[] =
	"usage: vsrv monitor DIR -- VMM [ARGS...]\n"
	"       vsrv monitor --help\n\n"
	"(internal) The per-VM supervisor shim that vsrv serve starts for each running VM:\n"
	"runs VMM with ARGS as its child, keeps its console in DIR/console.log and on\n"
	"DIR/console.sock, and writes the VMM's exit status to DIR/exit.\n";
#define MAX_CLIENTS 8

struct mon {
	const char *dir;
	int logfd;
	off_t logsize;
	int clients[MAX_CLIENTS];
};

static int path_in(char *buf, size_t n, const char *dir, const char *name)
{
	return snprintf(buf, n, "%s/%s", dir, name) >= (int)n ? -ENAMETOOLONG : 0;
}

static int log_open(struct mon *m)
{
	char p[4096];
	struct stat st;

	path_in(p, sizeof(p), m->dir, "console.log");
	m->logfd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (m->logfd < 0)
		return -errno;
	m->logsize = fstat(m->logfd, &st) == 0 ? st.st_size : 0;
	return 0;
}

static void log_write(struct mon *m, const char *buf, size_t n)
{
	if (m->logsize + (off_t)n > LOG_MAX) {
		char a[4096], b[4096];

		path_in(a, sizeof(a), m->dir, "console.log");
		path_in(b, sizeof(b), m->dir, "console.log.1");
		rename(a, b);
		close(m->logfd);
		if (log_open(m))
			return;
	}
	if (write(m->logfd, buf, n) == (ssize_t)n)
		m->logsize += n;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[4096], t[4200];
	int fd;

	path_in(p, sizeof(p), dir, name);
	snprintf(t, sizeof(t), "%s.tmp", p);
	fd = open(t, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return;
	if (write(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		close(fd);
		return;
	}
	close(fd);
	rename(t, p);
}

static int listen_sock(const char *dir, int *out)
{
	char p[4096];

	path_in(p, sizeof(p), dir, "console.sock");
	return unixsock_listen(p, 8, true, out); /* created 0600 */
}

static void broadcast(struct mon *m, const char *buf, size_t n)
{
	int i;

	for (i = 0; i < MAX_CLIENTS; i++) {
		/* A client that cannot keep up loses output, never stalls the guest. */
		if (m->clients[i] >= 0 && send(m->clients[i], buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
		    errno != EAGAIN) {
			close(m->clients[i]);
			m->clients[i] = -1;
		}
	}
}

static int64_t boot_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The deadline file's time has passed, or it cannot be read (fail safe). */
static int deadline_passed(const char *path)
{
	char b[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return 1;
	r = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (r <= 0)
		return 1;
	b[r] = '\0';
	return boot_ms() >= strtoll(b, NULL, 10);
}

int cmd_monitor(int argc, char **argv)
{
	struct mon m = { .logfd = -1 };
	int in[2], out[2], lfd = -1, sfd, i, status = 0, vmm_done = 0, out_open = 1;
	sigset_t mask;
	pid_t pid, self = getpid();
	char buf[8192], deadline[4096];
	struct stat dst;
	int fence = 0, fenced = 0;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("%s", MONITOR_USAGE);
		return 0;
	}
	if (argc < 4 || strcmp(argv[2], "--")) {
		fprintf(stderr, "%s", MONITOR_USAGE);
		return 2;
	}
	m.dir = argv[1];
	for (i = 0; i < MAX_CLIENTS; i++)
		m.clients[i] = -1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	fence = path_in(deadline, sizeof(deadline), m.dir, "lease.deadline") == 0 &&
		lstat(deadline, &dst) == 0;
	if (log_open(&m) || listen_sock(m.dir, &lfd)) {
		fprintf(stderr, "vsrv monitor: cannot set up %s: %s\n", m.dir, strerror(errno));
		return 1;
	}
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return 1;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		/* The VMM dies with its monitor, even by SIGKILL (the mark survives the exec of
		 * vsrv run, which is not set-uid): a monitor killed before this line is caught by
		 * the parent check, so no VMM ever outlives it. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != self)
			_exit(127);
		sigprocmask(SIG_UNBLOCK, &mask, NULL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		/* Only the console pipes go into the VM, whatever this process inherited. */
		close_range(3, ~0U, 0);
		execv(argv[3], argv + 3);
		dprintf(2, "vsrv monitor: cannot run %s: %s\n", argv[3], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	write_file(m.dir, "vmm.pid", buf);

	while (!vmm_done || out_open) {
		struct pollfd p[3 + MAX_CLIENTS];
		int n = 0, ci[MAX_CLIENTS];

		p[n++] = (struct pollfd){ .fd = out_open ? out[0] : -1, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (i = 0; i < MAX_CLIENTS; i++) {
			ci[i] = -1;
			if (m.clients[i] >= 0) {
				ci[i] = n;
				p[n++] = (struct pollfd){ .fd = m.clients[i], .events = POLLIN };
			}
		}
		if (poll(p, n, fence && !vmm_done ? 250 : -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fence && !vmm_done && !fenced && deadline_passed(deadline)) {
			fprintf(stderr, "vsrv monitor: %s: the host's cluster lease deadline has "
				"passed (its daemon no longer renews it): the VMM is killed\n", m.dir);
			kill(pid, SIGKILL);
			fenced = 1;
		}
		if (p[0].revents) {
			ssize_t r = read(out[0], buf, sizeof(buf));
			if (r > 0) {
				log_write(&m, buf, r);
				broadcast(&m, buf, r);
			} else if (r == 0 || errno != EINTR) {
				out_open = 0;
			}
		}
		if (p[1].revents & POLLIN) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (c >= 0) {
				for (i = 0; i < MAX_CLIENTS && m.clients[i] >= 0; i++)
					;
				if (i < MAX_CLIENTS)
					m.clients[i] = c;
				else
					close(c);
			}
		}
		if (p[2].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				;
			if (!vmm_done && waitpid(pid, &status, WNOHANG) == pid)
				vmm_done = 1;
		}
		for (i = 0; i < MAX_CLIENTS; i++) {
			if (ci[i] < 0 || !p[ci[i]].revents)
				continue;
			ssize_t r = read(m.clients[i], buf, sizeof(buf));
			if (r > 0) {
				if (write(in[1], buf, r) < 0) {
					/* the guest is not reading: input is dropped */
				}
			} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(m.clients[i]);
				m.clients[i] = -1;
			}
		}
	}
	if (WIFSIGNALED(status))
		snprintf(buf, sizeof(buf), "signal %d\n", WTERMSIG(status));
	else
		snprintf(buf, sizeof(buf), "exited %d\n", WEXITSTATUS(status));
	write_file(m.dir, "exit", buf);
	path_in(buf, sizeof(buf), m.dir, "console.sock");
	unlink(buf);
	return 0;
}
