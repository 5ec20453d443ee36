/* A live snapshot's switch on the server's side (src/server/snaplive.c). (1) The guest's file
 * systems, once a freeze was asked of its agent, are thawed whatever became of that freeze.
 * The agent is tests/agent-peer.py in mode freeze-gone (it notes the freeze and goes away
 * without an answer, as an agent whose connection dropped once the guest had frozen); the
 * VMM is absent (no control socket: the switch fails). The guest must get its thaw all the
 * same: an agent that froze and then lost its connection leaves the guest frozen otherwise
 * (every write in it blocked until someone thaws by hand). (2) A VMM that answers its
 * disk-switch too late (after the server's wait: 2 s here, SNAPLIVE_SWITCH_MS by default) but switched: the switch
 * counts (0), as the snapshot's inventory must then name the tops the VMM writes (the
 * decision, snaplive_settled, also checked alone: a top nobody holds is not switched). The VMM there is a peer on VM 1's control socket that
 * does what the VMM's disk-switch does to the descriptors (locks each new top exclusively,
 * vhd_lock_fd) and answers status at once but its disk-switch never (a slow flush). */
#include "check.h"
#include "sockwait.h"
#include "server/agent.h"
#include "server/server.h"
#include "server/snaplive.h"
#include "server/vmagent.h"
#include "vhd/vhd.h"

#include <pthread.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/vsrv-snaplive-XXXXXX";

/* Whether VM 1's agent is seen responding (its heartbeat answered), up to 20 s. */
static bool responding(struct server *srv)
{
	for (int i = 0; i < 200; i++) {
		json_t *st = vmagent_json(srv, 1, "one", "running");
		bool yes = !strcmp(json_string_value(json_object_get(st, "status")) ?: "",
				   "responding");

		json_decref(st);
		if (yes)
			return true;
		sleep_ms(100);
	}
	return false;
}

/* What the peer noted (its log), into buf. */
static const char *noted(const char *log, char *buf, size_t n)
{
	FILE *f = fopen(log, "r");
	size_t k = f ? fread(buf, 1, n - 1, f) : 0;

	if (f)
		fclose(f);
	buf[k] = '\0';
	return buf;
}

/* The VMM's stand-in on VM 1's control socket (lfd): status answered; a disk-switch's
 * descriptors locked exclusively when lock_tops (kept open), never answered. */
static int lfd = -1, held[8], nheld;
static bool lock_tops;

static void *vmm_peer(void *arg)
{
	int c;

	(void)arg;
	while ((c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		char buf[4096], cb[CMSG_SPACE(8 * sizeof(int))];
		struct iovec iov = { buf, sizeof(buf) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb,
				     .msg_controllen = sizeof(cb) };
		ssize_t r = recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
		struct cmsghdr *cm = r > 0 ? CMSG_FIRSTHDR(&mh) : NULL;

		if (cm && cm->cmsg_type == SCM_RIGHTS)
			for (size_t k = 0; k < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int) && nheld < 8;
			     k++) {
				memcpy(&held[nheld], CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
				if (lock_tops)
					vhd_lock_fd(held[nheld], VHD_LOCK_EXCL, "top");
				nheld++;
			}
		buf[r > 0 ? r : 0] = '\0';
		if (strstr(buf, "\"status\"")) {
			const char *ok = "{\"ok\":true,\"state\":\"running\"}\n";

			if (write(c, ok, strlen(ok)) < 0)
				break;
		} else {
			while (read(c, buf, sizeof(buf)) > 0)
				; /* no answer: the client gives up */
		}
		close(c);
	}
	return NULL;
}

/* snaplive_switch onto top with the peer locking the tops or not: its rc. */
static int late_switch(struct server *srv, const char *top, bool lock)
{
	json_t *disks = json_pack("[{s:s,s:s}]", "drive", "disk0", "path", top);
	char err[512] = "";
	bool frozen;
	int rc;

	lock_tops = lock;
	rc = snaplive_switch(srv, 1, "one", disks, &frozen, err, sizeof(err));
	json_decref(disks);
	while (nheld > 0)
		close(held[--nheld]);
	return rc;
}

static void test_late_answer(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct server srv = { .data_dir = dir, .snaplive_switch_ms = 2000 };
	char top[100];
	pthread_t th;
	json_t *disks;
	int fd;

	snprintf(top, sizeof(top), "%s/late.vhd", dir);
	fd = open(top, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/vms/1/control.sock", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	      listen(lfd, 8) == 0);
	CHECK_EQ(pthread_create(&th, NULL, vmm_peer, NULL), 0);
	/* the decision alone: nobody holds the top, then the VMM does */
	disks = json_pack("[{s:s,s:s}]", "drive", "disk0", "path", top);
	CHECK_EQ(snaplive_settled(&srv, 1, disks, 5000), 0);
	fd = open(top, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0 && vhd_lock_fd(fd, VHD_LOCK_EXCL, top) == 0);
	CHECK_EQ(snaplive_settled(&srv, 1, disks, 5000), 1);
	close(fd);
	json_decref(disks);
	/* the whole switch, answered too late (the server's 2 s wait here): it counts, the VMM
	 * went onto the top (one that did not: snaplive_settled's 0 above) */
	CHECK_EQ(late_switch(&srv, top, true), 0);
	shutdown(lfd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(lfd);
}

static void test_thawed_after_lost_freeze(void)
{
	struct server srv = { .data_dir = dir };
	char vmdir[64], sock[100], log[120], top[160], err[512] = "", buf[256];
	json_t *disks;
	bool frozen = true;
	pid_t peer;
	int fd, rc;

	snprintf(vmdir, sizeof(vmdir), "%s/vms", dir);
	CHECK_EQ(mkdir(vmdir, 0700), 0);
	snprintf(vmdir, sizeof(vmdir), "%s/vms/1", dir);
	CHECK_EQ(mkdir(vmdir, 0700), 0);
	snprintf(sock, sizeof(sock), "%s/agent.sock", vmdir);
	snprintf(log, sizeof(log), "%s.log", sock);
	snprintf(top, sizeof(top), "%s/top.vhd", dir);
	fd = open(top, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	peer = fork();
	if (peer == 0) {
		execlp("python3", "python3", "tests/agent-peer.py", "freeze-gone", sock,
		       (char *)NULL);
		_exit(127);
	}
	CHECK_EQ(wait_sock(sock), 0);
	CHECK_EQ(agent_svc_create(&srv.agent), 0);
	CHECK(srv.agent && responding(&srv));
	disks = json_pack("[{s:s,s:s}]", "drive", "disk0", "path", top);
	rc = snaplive_switch(&srv, 1, "one", disks, &frozen, err, sizeof(err));
	/* no VMM: the switch fails, nothing was switched */
	CHECK(rc == -ENOENT || rc == -ECONNREFUSED);
	/* the freeze got no answer: not known frozen, but thawed all the same */
	CHECK(!frozen);
	CHECK(strstr(noted(log, buf, sizeof(buf)), "freeze\n") != NULL);
	CHECK(strstr(noted(log, buf, sizeof(buf)), "thaw\n") != NULL);
	json_decref(disks);
	agent_svc_destroy(srv.agent);
	kill(peer, SIGKILL);
	waitpid(peer, NULL, 0);
}

int main(void)
{
	char cmd[128];

	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		return 1;
	RUN(test_thawed_after_lost_freeze);
	RUN(test_late_answer);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	return check_done();
}
