/* The etcd client (src/server/etcd_conn.c) when a member is cut off from this host (a
 * link down on the way: what is sent goes nowhere, no FIN, no RST, nothing answers) while
 * the client keeps a connection to it: the call moves to another member about as soon as
 * a connect to a cut member fails (1 s), not after the call's whole timeout; and a leader
 * that this host cannot reach is not gone back to again and again.
 * Two network namespaces of the test's own (root; SKIP otherwise): the members' (their
 * client URLs on 10.77.0.1-3, their peer URLs on 127.0.0.1) and the client's, joined by
 * one veth pair per member; a member is cut by its pair's link on the members' side going
 * down (the client's side keeps its routes: its packets are dropped). */
#include "check.h"
#include "etcdlead.h"
#include "etcdrig.h"
#include "server/etcd.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>

static struct etcdrig rig;
static const char *const hosts[] = { "10.77.0.1", "10.77.0.2", "10.77.0.3" };
static int ns_members = -1, ns_client = -1;    /* the namespaces (open fds) */
static pid_t holder;                            /* a process that holds the client's */

/* the inventory's bound on a call (INV_ETCD_TIMEOUT_MS) */
#define TIMEOUT_MS 5000

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int sh(const char *fmt, int arg)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), fmt, arg, arg, arg, arg);
	return system(cmd);
}

/* sh() in the members' namespace (the test runs in the client's). */
static int sh_members(const char *fmt, int arg)
{
	int rc;

	if (setns(ns_members, CLONE_NEWNET) < 0)
		return -1;
	rc = sh(fmt, arg);
	if (setns(ns_client, CLONE_NEWNET) < 0)
		abort();
	return rc;
}

/* Member i's link down on the members' side (cut) or up again. */
static void cut(int i)
{
	CHECK_EQ(sh_members("ip link set e%d down", i), 0);
}

static void mend(int i)
{
	CHECK_EQ(sh_members("ip link set e%d up", i), 0);
}

static void endpoint(int i, char *buf, size_t n)
{
	snprintf(buf, n, "http://%s:%d", hosts[i], rig.cport[i]);
}

/* The client talks to a follower over a kept connection; that follower is cut off: the
 * next call is answered by the other member within about two connect bounds (the kept
 * connection's 1 s, and curl tries a fresh connection once after a kept one failed: 1 s
 * more), not after the call's timeout (5 s) spent waiting on the kept connection. */
static void test_follower_cut(void)
{
	struct etcd *e = NULL;
	struct etcd_kv kv = { 0 };
	int lead = etcdlead_now(&rig, hosts), f1 = -1, f2 = -1, i, rc;
	char eps[160], a[64], b[64];
	double t0, took;

	CHECK(lead >= 0);
	for (i = 0; i < rig.n; i++)
		if (i != lead)
			*(f1 < 0 ? &f1 : &f2) = i;
	if (lead < 0)
		return;
	/* (the leader not listed: the client stays on the first follower) */
	endpoint(f1, a, sizeof(a));
	endpoint(f2, b, sizeof(b));
	snprintf(eps, sizeof(eps), "%s,%s", a, b);
	CHECK_EQ(etcd_open(eps, TIMEOUT_MS, &e), 0);
	if (!e)
		return;
	CHECK_EQ(etcd_put(e, "/cut/k", "v", 1, 0, NULL), 0);
	CHECK_EQ(etcd_get(e, "/cut/k", &kv), 0);
	etcd_kv_clear(&kv);
	CHECK(!strcmp(etcd_current(e), a));
	cut(f1);
	t0 = now_s();
	rc = etcd_get(e, "/cut/k", &kv);
	took = now_s() - t0;
	etcd_kv_clear(&kv);
	printf("# get with the member cut: %s after %.2f s\n", rc ? strerror(-rc) : "ok", took);
	CHECK_EQ(rc, 0);
	CHECK(!strcmp(etcd_current(e), b));
	CHECK(took < TIMEOUT_MS / 1000.0 * 0.6);
	mend(f1);
	etcd_delete(e, "/cut/", true, NULL);
	etcd_close(e);
}

/* The leader is cut off from this host alone (its peers still reach it: it stays the
 * leader): the client moves to a follower, and its looks for the leader (2 s after the
 * move, then every minute) do not take it back to the leader it cannot reach: after the
 * first call, none waits for the cut member. */
static void test_leader_cut(void)
{
	struct etcd *e = NULL;
	struct etcd_kv kv = { 0 };
	int lead = etcdlead_now(&rig, hosts), f = -1, i, slow = 0, calls = 0, failed = 0;
	char eps[160], a[64], b[64];
	double end;

	CHECK(lead >= 0);
	if (lead < 0)
		return;
	f = lead == 0 ? 1 : 0;
	endpoint(f, a, sizeof(a));
	endpoint(lead, b, sizeof(b));
	snprintf(eps, sizeof(eps), "%s,%s", a, b);
	CHECK_EQ(etcd_open(eps, TIMEOUT_MS, &e), 0);
	if (!e)
		return;
	CHECK_EQ(etcd_put(e, "/cut/k", "v", 1, 0, NULL), 0);
	CHECK(!strcmp(etcd_current(e), b));         /* it found the leader */
	cut(lead);
	/* the first call waits for the cut leader, then goes to the follower */
	CHECK_EQ(etcd_get(e, "/cut/k", &kv), 0);
	etcd_kv_clear(&kv);
	CHECK(!strcmp(etcd_current(e), a));
	/* then four of the client's looks for the leader after a move (2 s after it) */
	end = now_s() + 9;
	for (i = 0; now_s() < end && i < 100000; i++) {
		double t0 = now_s(), took;
		int rc = etcd_get(e, "/cut/k", &kv);

		took = now_s() - t0;
		etcd_kv_clear(&kv);
		calls++;
		failed += rc != 0;
		/* a wait for the cut member: 1 s (a connect's bound) or more; the look for the
		 * leader waits 500 ms at most */
		if (took > 0.9) {
			printf("# call %d: %.2f s\n", i, took);
			slow++;
		}
		usleep(20 * 1000);
	}
	printf("# %d calls, %d slow, %d failed, leader %d cut\n", calls, slow, failed, lead);
	CHECK_EQ(failed, 0);
	CHECK_EQ(slow, 0);
	CHECK(etcdlead_now(&rig, hosts) == lead || etcdlead_now(&rig, hosts) < 0);
	mend(lead);
	etcd_delete(e, "/cut/", true, NULL);
	etcd_close(e);
}

/* The two namespaces and their links: 0, 1 to SKIP, -1 to FAIL (a line printed). */
static int net_setup(void)
{
	int p[2], i;
	char c, path[64];

	/* the members' namespace: the test's own network, not the machine's */
	if (unshare(CLONE_NEWNET) < 0) {
		printf("SKIP etcd-cut: no network namespace of its own (%s): it needs root\n",
		       strerror(errno));
		return 1;
	}
	ns_members = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ns_members < 0 || sh("ip link set lo up", 0)) {
		printf("SKIP etcd-cut: cannot set up its namespace's loopback (ip)\n");
		return 1;
	}
	for (i = 0; i < 3; i++)
		if (sh("ip addr add 10.77.0.%d/32 dev lo", i + 1))
			goto err;
	/* the client's namespace, held by a child while the test is in it */
	if (pipe2(p, O_CLOEXEC) < 0)
		goto err;
	holder = fork();
	if (holder == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		c = unshare(CLONE_NEWNET) < 0 ? 'x' : 'o';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	c = 0;
	if (holder < 0 || read(p[0], &c, 1) != 1 || c != 'o')
		goto err;
	close(p[0]);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)holder);
	ns_client = open(path, O_RDONLY | O_CLOEXEC);
	if (ns_client < 0)
		goto err;
	for (i = 0; i < 3; i++) {
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "ip link add e%d type veth peer name c%d netns %d && "
			 "ip addr add 10.78.%d.1/24 dev e%d && ip link set e%d up", i, i,
			 (int)holder, i, i, i);
		if (system(cmd)) {
			/* (a kernel without veth: the test cannot be made here) */
			printf("SKIP etcd-cut: cannot make a veth pair (ip link add type veth)\n");
			return 1;
		}
	}
	if (setns(ns_client, CLONE_NEWNET) < 0 || sh("ip link set lo up", 0))
		goto err;
	for (i = 0; i < 3; i++) {
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "ip addr add 10.78.%d.2/24 dev c%d && ip link set c%d "
			 "up && ip route add %s/32 via 10.78.%d.1", i, i, i, hosts[i], i);
		if (system(cmd))
			goto err;
	}
	return 0;
err:
	printf("FAIL etcd-cut: cannot set up its namespaces and links (ip, veth): %s\n",
	       strerror(errno));
	return -1;
}

int main(void)
{
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access(ETCDRIG_BIN, X_OK) < 0) {
		printf("SKIP etcd-cut: %s is not installed (etcd-server)\n", ETCDRIG_BIN);
		return 0;
	}
	rc = net_setup();
	if (rc)
		return rc < 0;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* the members in theirs */
	if (setns(ns_members, CLONE_NEWNET) < 0)
		return 1;
	rc = etcdrig_start_hosts(&rig, 3, hosts);
	if (setns(ns_client, CLONE_NEWNET) < 0)
		abort();
	if (rc) {
		printf("FAIL etcd-cut: cannot start 3 etcd members: %s\n", strerror(-rc));
		return 1;
	}
	RUN(test_follower_cut);
	RUN(test_leader_cut);
	etcdrig_stop(&rig);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	return check_done();
}
