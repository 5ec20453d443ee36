/* A live snapshot's switch on the server's side (src/server/snaplive.c): the guest's file
 * systems, once a freeze was asked of its agent, are thawed whatever became of that freeze.
 * The agent is tests/agent-peer.py in mode freeze-gone (it notes the freeze and goes away
 * without an answer, as an agent whose connection dropped once the guest had frozen); the
 * VMM is absent (no control socket: the switch fails). The guest must get its thaw all the
 * same: an agent that froze and then lost its connection leaves the guest frozen otherwise
 * (every write in it blocked until someone thaws by hand). */
#include "check.h"
#include "server/agent.h"
#include "server/server.h"
#include "server/snaplive.h"
#include "server/vmagent.h"

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

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait (up to 20 s) for something to listen on path. 0 or -1. */
static int wait_sock(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (int i = 0; i < 2000; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));

		close(fd);
		if (!rc)
			return 0;
		sleep_ms(10);
	}
	return -1;
}

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
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	return check_done();
}
