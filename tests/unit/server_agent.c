/* The guest agent service (src/server/agent*.c) against Debian's real qemu-ga, run on this
 * host in `-m unix-listen` mode (the guest's side of the protocol, unchanged), and against
 * tests/agent-peer.py, a hostile agent. Commands that would change the host (shutdown,
 * set-time, fsfreeze, set-user-password) are blocked with qemu-ga's -b, except guest-shutdown
 * in a private mount namespace where /sbin/shutdown is a script that records its call. */
#include "check.h"
#include "sockwait.h"
#include "server/agent.h"
#include "server/agent_proto.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/vsrv-agent-XXXXXX";
static char sock[256];
static struct agent_svc *svc;
static pid_t ga_pid;

static pid_t spawn(char *const argv[])
{
	pid_t p = fork();

	if (p == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	return p;
}

static void stop(pid_t *p)
{
	if (*p > 0) {
		kill(*p, SIGKILL);
		waitpid(*p, NULL, 0);
	}
	*p = 0;
}

#define BLOCKED "guest-shutdown,guest-set-time,guest-fsfreeze-freeze,guest-fsfreeze-thaw," \
	"guest-set-user-password,guest-suspend-disk,guest-suspend-ram,guest-suspend-hybrid," \
	"guest-set-vcpus,guest-set-memory-blocks,guest-fstrim"

static int start_ga(void)
{
	char *argv[] = { "qemu-ga", "-m", "unix-listen", "-p", sock, "-t", dir, "-b", BLOCKED,
			 NULL };

	unlink(sock);
	ga_pid = spawn(argv);
	return wait_sock(sock);
}

static int call(const char *cmd, json_t *args, int timeout_ms, json_t **ret, char *err)
{
	return agent_call(svc, sock, cmd, args, 0, timeout_ms, ret, err, 256);
}

static void test_ping(void)
{
	json_t *r;
	char err[256];

	CHECK_EQ(call("guest-ping", NULL, 10000, &r, err), 0);
	CHECK(json_is_object(r) && json_object_size(r) == 0);
	json_decref(r);
}

static void test_info_and_views(void)
{
	json_t *r, *v;
	char err[256], host[256] = "";

	CHECK_EQ(call("guest-info", NULL, 10000, &r, err), 0);
	CHECK(json_is_string(json_object_get(r, "version")));
	CHECK(json_array_size(json_object_get(r, "supported_commands")) > 10);
	json_decref(r);
	CHECK_EQ(call("guest-get-host-name", NULL, 10000, &r, err), 0);
	v = agent_view_hostname(r);
	gethostname(host, sizeof(host));
	CHECK(json_is_string(v) && !strcmp(json_string_value(v), host));
	json_decref(v);
	json_decref(r);
	CHECK_EQ(call("guest-get-osinfo", NULL, 10000, &r, err), 0);
	v = agent_view_osinfo(r);
	CHECK(json_is_string(json_object_get(v, "kernel_release")));
	CHECK(json_is_string(json_object_get(v, "machine")));
	json_decref(v);
	json_decref(r);
	CHECK_EQ(call("guest-network-get-interfaces", NULL, 10000, &r, err), 0);
	v = agent_view_interfaces(r);
	{
		json_t *e, *a;
		size_t i, j;
		int lo = 0;

		json_array_foreach(v, i, e)
			if (!strcmp(json_string_value(json_object_get(e, "name")) ?: "", "lo"))
				json_array_foreach(json_object_get(e, "ip_addresses"), j, a)
					lo |= !strcmp(json_string_value(json_object_get(a, "address"))
						      ?: "", "127.0.0.1") &&
					      json_integer_value(json_object_get(a, "prefix")) == 8;
		CHECK(lo);
	}
	json_decref(v);
	json_decref(r);
	CHECK_EQ(call("guest-get-users", NULL, 10000, &r, err), 0);
	v = agent_view_users(r);
	CHECK(json_is_array(v));
	json_decref(v);
	json_decref(r);
	CHECK_EQ(call("guest-fsfreeze-status", NULL, 10000, &r, err), 0);
	CHECK(json_is_string(r) && !strcmp(json_string_value(r), "thawed"));
	json_decref(r);
	CHECK_EQ(call("guest-get-time", NULL, 10000, &r, err), 0);
	CHECK(json_is_integer(r) && llabs(json_integer_value(r) / 1000000000LL - time(NULL)) < 60);
	json_decref(r);
}

/* guest-exec and guest-exec-status, guest-file-open/read/close: the agent's answers
 * carried as they are (the API gates them behind a permission). */
static void test_exec_and_file(void)
{
	char path[300], err[256];
	json_t *r, *args;
	int64_t pid, h;
	FILE *f;

	args = json_pack("{s:s,s:[s],s:b}", "path", "/bin/echo", "arg", "agent-said-this",
			 "capture-output", 1);
	CHECK_EQ(call("guest-exec", args, 10000, &r, err), 0);
	json_decref(args);
	pid = json_integer_value(json_object_get(r, "pid"));
	CHECK(pid > 0);
	json_decref(r);
	for (int i = 0; i < 2000; i++) {
		args = json_pack("{s:I}", "pid", (json_int_t)pid);
		CHECK_EQ(call("guest-exec-status", args, 10000, &r, err), 0);
		json_decref(args);
		if (json_is_true(json_object_get(r, "exited")))
			break;
		json_decref(r);
		r = NULL;
		sleep_ms(10);
	}
	/* "out-data" is base64 of "agent-said-this\n" */
	CHECK(!strcmp(json_string_value(json_object_get(r, "out-data")) ?: "",
		      "YWdlbnQtc2FpZC10aGlzCg=="));
	json_decref(r);
	snprintf(path, sizeof(path), "%s/file.txt", dir);
	f = fopen(path, "w");
	fputs("hello", f);
	fclose(f);
	args = json_pack("{s:s}", "path", path);
	CHECK_EQ(call("guest-file-open", args, 10000, &r, err), 0);
	json_decref(args);
	h = json_integer_value(r);
	json_decref(r);
	args = json_pack("{s:I}", "handle", (json_int_t)h);
	CHECK_EQ(call("guest-file-read", args, 10000, &r, err), 0);
	CHECK(!strcmp(json_string_value(json_object_get(r, "buf-b64")) ?: "", "aGVsbG8="));
	json_decref(r);
	CHECK_EQ(call("guest-file-close", args, 10000, &r, err), 0);
	json_decref(r);
	json_decref(args);
}

/* What a hostile guest names itself never reaches a terminal as escapes. */
static void test_views_defang(void)
{
	json_t *r = json_loads("{\"host-name\": \"a\\u001b[31mb\\u0000c\\nd\"}", JSON_ALLOW_NUL, NULL);
	json_t *v = agent_view_hostname(r);
	struct agent_reply rep;
	const char *line = "{\"error\": {\"class\": \"X\\u001b\", \"desc\": \"a\\nb\"}}";

	CHECK(json_is_string(v) && json_string_length(v) == 11 &&
	      !memcmp(json_string_value(v), "a?[31mb?c?d", 11));
	json_decref(v);
	json_decref(r);
	r = json_pack("{s:s}", "host-name", "");
	for (int i = 0; i < 300; i++) {
		char b[301];

		memset(b, 'x', (size_t)i);
		b[i] = '\0';
		json_object_set_new(r, "host-name", json_string(b));
		v = agent_view_hostname(r);
		CHECK(i <= 255 ? json_is_string(v) : v == NULL);
		json_decref(v);
	}
	json_decref(r);
	CHECK_EQ(agent_reply_parse(line, strlen(line), &rep), 0);
	CHECK(!strcmp(rep.err_class, "X?") && !strcmp(rep.err_desc, "a?b"));
	agent_reply_clear(&rep);
}

static void test_errors(void)
{
	json_t *r;
	char err[256];

	CHECK_EQ(call("guest-fsfreeze-freeze", NULL, 10000, &r, err), -EREMOTEIO);
	CHECK(strstr(err, "disabled"));
	CHECK(!r);
	CHECK_EQ(call("guest-no-such-command", NULL, 10000, &r, err), -EREMOTEIO);
	CHECK(strstr(err, "CommandNotFound"));
	CHECK_EQ(call("rm -rf /", NULL, 10000, &r, err), -EINVAL);
	{
		json_t *arr = json_pack("[]");

		CHECK_EQ(call("guest-ping", arr, 10000, &r, err), -EINVAL);
		json_decref(arr);
	}
	CHECK_EQ(agent_call(svc, "/nonexistent/agent.sock", "guest-ping", NULL, 0, 10000, &r, err,
			    sizeof(err)), -ENOENT);
	/* and the agent still answers */
	CHECK_EQ(call("guest-ping", NULL, 10000, &r, err), 0);
	json_decref(r);
}

static json_t *status_until(const char *path, const char *want, const char *field)
{
	for (int i = 0; i < 2000; i++) {
		json_t *st = agent_status(svc, path);
		const char *s = json_string_value(json_object_get(st, "status"));

		if (s && !strcmp(s, want) && (!field || !json_is_null(json_object_get(st, field))))
			return st;
		json_decref(st);
		sleep_ms(10);
	}
	return NULL;
}

/* The heartbeat: absent before, responding with what the agent says of the guest, not
 * responding once the agent is gone, responding again when it is back. */
static void test_heartbeat(void)
{
	json_t *st = agent_status(svc, sock);

	CHECK(!strcmp(json_string_value(json_object_get(st, "status")), "absent"));
	CHECK(json_is_null(json_object_get(st, "last_seen")));
	json_decref(st);
	agent_watch(svc, sock, "test-vm", 200);
	st = status_until(sock, "responding", "users");
	CHECK(st);
	CHECK(llabs(json_integer_value(json_object_get(st, "last_seen")) - time(NULL)) < 60);
	CHECK(json_is_string(json_object_get(st, "hostname")));
	CHECK(json_is_object(json_object_get(st, "os")));
	CHECK(json_array_size(json_object_get(st, "interfaces")) >= 1);
	json_decref(st);
	stop(&ga_pid);
	st = status_until(sock, "not responding", NULL);
	CHECK(st);
	CHECK(json_integer_value(json_object_get(st, "last_seen")) > 0);
	json_decref(st);
	CHECK_EQ(start_ga(), 0);
	st = status_until(sock, "responding", NULL);
	CHECK(st);
	json_decref(st);
	agent_unwatch(svc, sock);
	st = agent_status(svc, sock);
	CHECK(!strcmp(json_string_value(json_object_get(st, "status")), "absent"));
	json_decref(st);
}

/* guest-shutdown: no reply on success (the agent ran /sbin/shutdown), the error when its
 * shutdown fails. The real qemu-ga, in a mount namespace where /sbin/shutdown is a script. */
static void test_shutdown(void)
{
	char fake[300], rec[300], path[300], cmd[2048], err[256], got[200] = "";
	json_t *r, *args = json_pack("{s:s}", "mode", "reboot");
	pid_t p;
	FILE *f;

	snprintf(fake, sizeof(fake), "%s/fake-shutdown", dir);
	snprintf(rec, sizeof(rec), "%s/shutdown-called", dir);
	snprintf(path, sizeof(path), "%s/sd.sock", dir);
	f = fopen(fake, "w");
	fprintf(f, "#!/bin/sh\n[ -e %s.fail ] && exit 1\necho \"$@\" > %s\n", rec, rec);
	fclose(f);
	chmod(fake, 0755);
	snprintf(cmd, sizeof(cmd), "mount --bind %s /sbin/shutdown && exec qemu-ga -m unix-listen "
		 "-p %s -t %s -b guest-fsfreeze-freeze,guest-set-time", fake, path, dir);
	{
		char *argv[] = { "unshare", "-m", "--propagation", "private", "sh", "-c", cmd,
				 NULL };
		p = spawn(argv);
	}
	if (wait_sock(path)) {
		stop(&p);
		printf("SKIP test_shutdown: qemu-ga in a private mount namespace did not start\n");
		json_decref(args);
		return;
	}
	CHECK_EQ(agent_call(svc, path, "guest-shutdown", args, AGENT_NO_REPLY, 10000, &r, err,
			    sizeof(err)), 0);
	CHECK(json_is_null(r));
	json_decref(r);
	for (int i = 0; i < 2000 && access(rec, F_OK); i++)
		sleep_ms(10);
	f = fopen(rec, "r");
	if (f) {
		if (!fgets(got, sizeof(got), f))
			got[0] = '\0';
		fclose(f);
	}
	CHECK(strstr(got, "-r"));
	/* A shutdown that fails is answered with an error, within the grace period. */
	snprintf(cmd, sizeof(cmd), "%s.fail", rec);
	close(creat(cmd, 0644));
	CHECK_EQ(agent_call(svc, path, "guest-shutdown", args, AGENT_NO_REPLY, 10000, &r, err,
			    sizeof(err)), -EREMOTEIO);
	CHECK(strstr(err, "shutdown"));
	json_decref(args);
	stop(&p);
}

static pid_t start_peer(const char *mode, const char *path)
{
	char *argv[] = { "python3", "tests/agent-peer.py", (char *)mode, (char *)path, NULL };
	pid_t p;

	unlink(path);
	p = spawn(argv);
	if (wait_sock(path)) {
		stop(&p);
		return 0;
	}
	return p;
}

/* One hostile peer: the call's result, then the real agent still answers. */
static int hostile(const char *mode, int timeout_ms, json_t **ret, char *err)
{
	char path[300];
	json_t *r;
	pid_t p;
	int rc;

	snprintf(path, sizeof(path), "%s/%s.sock", dir, mode);
	p = start_peer(mode, path);
	if (!p)
		return -ESRCH;
	rc = agent_call(svc, path, "guest-ping", NULL, 0, timeout_ms, ret, err, 256);
	stop(&p);
	CHECK_EQ(call("guest-ping", NULL, 10000, &r, err + 0), 0);
	json_decref(r);
	return rc;
}

static void test_hostile_garbage(void)
{
	json_t *r;
	char err[256];

	CHECK_EQ(hostile("garbage", 1000, &r, err), -ETIMEDOUT);
}

static void test_hostile_silent(void)
{
	json_t *r;
	char err[256];

	CHECK_EQ(hostile("silent", 500, &r, err), -ETIMEDOUT);
}

/* A flood ends the connection (long before the call's 60 s), not the service. */
static void test_hostile_flood(void)
{
	json_t *r;
	char err[256];

	CHECK_EQ(hostile("flood", 60000, &r, err), -EPROTO);
}

static void test_hostile_other_ids(void)
{
	json_t *r;
	char err[256];

	CHECK_EQ(hostile("other-ids", 1000, &r, err), -ETIMEDOUT);
}

static void test_hostile_huge_line(void)
{
	json_t *r = NULL;
	char err[256];

	CHECK_EQ(hostile("huge-line", 20000, &r, err), 0);
	CHECK(!strcmp(json_string_value(json_object_get(r, "huge")) ?: "", "survived"));
	json_decref(r);
}

struct queued {
	const char *path;
	int rc;
	pthread_t t;
};

static void *queued_call(void *arg)
{
	struct queued *q = arg;
	json_t *r = NULL;
	int rc = agent_call(svc, q->path, "guest-ping", NULL, 0, 60000, &r, NULL, 0);

	__atomic_store_n(&q->rc, rc, __ATOMIC_RELEASE);
	json_decref(r);
	return NULL;
}

/* Commands waiting for an agent that never answers are bounded: the one too many is
 * refused at once (-EBUSY); the others end with the agent. */
static void test_queue_bounded(void)
{
	struct queued q[20];
	char path[300];
	int busy = 0;
	pid_t p;

	snprintf(path, sizeof(path), "%s/q.sock", dir);
	p = start_peer("silent", path);
	CHECK(p > 0);
	for (int i = 0; i < 20; i++) {
		q[i] = (struct queued){ .path = path, .rc = 1 };
		pthread_create(&q[i].t, NULL, queued_call, &q[i]);
	}
	for (int k = 0; k < 2000 && busy < 4; k++) {
		busy = 0;
		for (int i = 0; i < 20; i++)
			busy += __atomic_load_n(&q[i].rc, __ATOMIC_ACQUIRE) == -EBUSY;
		sleep_ms(10);
	}
	CHECK_EQ(busy, 4);
	stop(&p);
	for (int i = 0; i < 20; i++)
		pthread_join(q[i].t, NULL);
	for (int i = 0; i < 20; i++)
		CHECK(q[i].rc == -EBUSY || q[i].rc == -ECONNRESET || q[i].rc == -ECONNREFUSED ||
		      q[i].rc == -ENOENT);
}

/* A reply that comes after its command timed out is never taken for the next one's. */
static void test_late_reply_not_taken(void)
{
	char path[300], err[256];
	json_t *r = NULL;
	pid_t p;

	snprintf(path, sizeof(path), "%s/late.sock", dir);
	p = start_peer("late", path);
	CHECK(p > 0);
	CHECK_EQ(agent_call(svc, path, "guest-ping", NULL, 0, 300, &r, err, sizeof(err)),
		 -ETIMEDOUT);
	CHECK_EQ(agent_call(svc, path, "guest-ping", NULL, 0, 30000, &r, err, sizeof(err)), 0);
	CHECK_EQ(json_integer_value(json_object_get(r, "n")), 2);
	json_decref(r);
	stop(&p);
}

/* --- --guest SOCKET: a real guest's qemu-ga (tests/t-agent-qemu.sh: the Linux test guest
 * under QEMU, its virtio-serial port org.qemu.guest_agent.0 on SOCKET) ------------------ */

static const char *gsock;

static int gcall(const char *cmd, json_t *args, json_t **ret, char *err)
{
	return agent_call(svc, gsock, cmd, args, 0, 30000, ret, err, 256);
}

/* The heartbeat sees the guest: its OS (the initramfs's os-release), host name, lo. */
static void guest_heartbeat(void)
{
	json_t *st, *e;
	size_t i;
	int lo = 0;

	agent_watch(svc, gsock, "linux-guest", 500);
	/* TCG boots slowly: up to 180 s for the agent and what it says of the guest */
	for (int k = 0; k < 3600; k++) {
		st = agent_status(svc, gsock);
		if (!strcmp(json_string_value(json_object_get(st, "status")) ?: "", "responding") &&
		    !json_is_null(json_object_get(st, "users")) &&
		    !json_is_null(json_object_get(st, "interfaces")))
			break;
		json_decref(st);
		st = NULL;
		sleep_ms(50);
	}
	CHECK(st);
	CHECK(!strcmp(json_string_value(json_object_get(json_object_get(st, "os"), "id")) ?: "",
		      "vsrv"));
	CHECK(json_is_string(json_object_get(json_object_get(st, "os"), "kernel_release")));
	CHECK(json_is_string(json_object_get(st, "hostname")));
	json_array_foreach(json_object_get(st, "interfaces"), i, e)
		lo |= !strcmp(json_string_value(json_object_get(e, "name")) ?: "", "lo");
	CHECK(lo);
	json_decref(st);
}

static int64_t guest_time(void)
{
	char err[256];
	json_t *r = NULL;
	int64_t t;

	CHECK_EQ(gcall("guest-get-time", NULL, &r, err), 0);
	t = json_integer_value(r) / 1000000000LL;
	json_decref(r);
	return t;
}

/* guest-set-time moves the guest's clock (and its RTC: hwclock -w), as after a resume. */
static void guest_set_time(void)
{
	char err[256] = "";
	json_t *r = NULL, *a;
	int64_t now = time(NULL);

	CHECK(llabs(guest_time() - now) < 300);
	a = json_pack("{s:I}", "time", (json_int_t)(now + 86400) * 1000000000LL);
	CHECK_EQ(gcall("guest-set-time", a, &r, err), 0);
	json_decref(a);
	json_decref(r);
	CHECK(llabs(guest_time() - (int64_t)time(NULL) - 86400) < 60);
	a = json_pack("{s:I}", "time", (json_int_t)time(NULL) * 1000000000LL);
	CHECK_EQ(gcall("guest-set-time", a, &r, err), 0);
	json_decref(a);
	json_decref(r);
	CHECK(llabs(guest_time() - (int64_t)time(NULL)) < 60);
	if (err[0])
		printf("# guest-set-time: %s\n", err);
}

/* The initramfs has no block filesystem: /tmp (tmpfs) is named, which cannot freeze (the agent
 * counts it out). qemu-ga 7.2 stays "thawed" when it froze nothing and says "frozen" when it
 * froze one or more: the state must follow the count it answered. */
static void guest_fsfreeze(void)
{
	char err[256] = "";
	json_t *r = NULL, *a = json_pack("{s:[s]}", "mountpoints", "/tmp");
	json_int_t frozen;

	CHECK_EQ(gcall("guest-fsfreeze-freeze-list", a, &r, err), 0);
	json_decref(a);
	CHECK(json_is_integer(r));
	frozen = json_integer_value(r);
	json_decref(r);
	CHECK_EQ(gcall("guest-fsfreeze-status", NULL, &r, err), 0);
	CHECK(!strcmp(json_string_value(r) ?: "", frozen > 0 ? "frozen" : "thawed"));
	json_decref(r);
	CHECK_EQ(gcall("guest-fsfreeze-thaw", NULL, &r, err), 0);
	CHECK(json_is_integer(r));
	json_decref(r);
	CHECK_EQ(gcall("guest-fsfreeze-status", NULL, &r, err), 0);
	CHECK(!strcmp(json_string_value(r) ?: "", "thawed"));
	json_decref(r);
	if (err[0])
		printf("# fsfreeze: %s\n", err);
}

/* Powers the guest off: the script sees QEMU end by itself. */
static void guest_shutdown(void)
{
	char err[256] = "";
	json_t *r = NULL, *a = json_pack("{s:s}", "mode", "powerdown");

	CHECK_EQ(agent_call(svc, gsock, "guest-shutdown", a, AGENT_NO_REPLY, 30000, &r, err,
			    sizeof(err)), 0);
	json_decref(a);
	json_decref(r);
	if (err[0])
		printf("# guest-shutdown: %s\n", err);
}

static int guest_main(const char *path)
{
	gsock = path;
	signal(SIGPIPE, SIG_IGN);
	if (agent_svc_create(&svc))
		return 1;
	RUN(guest_heartbeat);
	RUN(guest_set_time);
	RUN(guest_fsfreeze);
	RUN(guest_shutdown);
	agent_svc_destroy(svc);
	return check_done();
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--guest"))
		return guest_main(argv[2]);
	if (system("command -v qemu-ga >/dev/null 2>&1")) {
		printf("SKIP server_agent: qemu-ga not installed (package qemu-guest-agent)\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir) || agent_svc_create(&svc))
		return 1;
	snprintf(sock, sizeof(sock), "%s/agent.sock", dir);
	if (start_ga()) {
		printf("FAIL server_agent: qemu-ga did not listen on %s\n", sock);
		return 1;
	}
	RUN(test_ping);
	RUN(test_info_and_views);
	RUN(test_exec_and_file);
	RUN(test_errors);
	RUN(test_views_defang);
	RUN(test_heartbeat);
	if (getuid() == 0)
		RUN(test_shutdown);
	else
		printf("SKIP test_shutdown: needs root (a private mount namespace)\n");
	RUN(test_hostile_garbage);
	RUN(test_hostile_silent);
	RUN(test_hostile_flood);
	RUN(test_hostile_other_ids);
	RUN(test_hostile_huge_line);
	RUN(test_late_reply_not_taken);
	RUN(test_queue_bounded);
	stop(&ga_pid);
	agent_svc_destroy(svc);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd)) {
			/* left behind in /tmp */
		}
	}
	return check_done();
}
