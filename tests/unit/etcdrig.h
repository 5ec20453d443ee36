/* A real local etcd cluster for tests: n members (etcd from the etcd-server package) on
 * free ports of 127.0.0.1, data in a temporary directory. The members die with the test
 * (PR_SET_PDEATHSIG) and etcdrig_stop kills them and removes the directory.
 *   struct etcdrig rig;
 *   if (etcdrig_start(&rig, 3)) -> SKIP (no etcd) or FAIL
 *   rig.endpoints: "http://127.0.0.1:P1,http://127.0.0.1:P2,..."; etcdrig_kill(&rig, i)
 * Start it from the main thread (the death signal follows the thread that forked). */
#ifndef VSRV_TESTS_UNIT_ETCDRIG_H
#define VSRV_TESTS_UNIT_ETCDRIG_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ETCDRIG_MAX 5
#define ETCDRIG_BIN "/usr/bin/etcd"

struct etcdrig {
	int n;
	pid_t pid[ETCDRIG_MAX];
	int cport[ETCDRIG_MAX], pport[ETCDRIG_MAX];
	char dir[64];
	char endpoints[ETCDRIG_MAX * 40];
};

/* A port nobody listens on now (the kernel's choice for a bind to port 0). */
static int etcdrig_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s >= 0 && !bind(s, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(s, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

/* Kill member i (SIGKILL) and reap it. */
static void etcdrig_kill(struct etcdrig *r, int i)
{
	if (r->pid[i] > 0) {
		kill(r->pid[i], SIGKILL);
		waitpid(r->pid[i], NULL, 0);
		r->pid[i] = 0;
	}
}

static void etcdrig_stop(struct etcdrig *r)
{
	char cmd[128];
	int i;

	for (i = 0; i < r->n; i++)
		etcdrig_kill(r, i);
	if (r->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
		if (system(cmd)) {}
		r->dir[0] = '\0';
	}
}

/* Wait until a majority answers a linearizable read (curl against each member's /health
 * is not enough: it is fine before the first election). 0 or -ETIMEDOUT after 30 s. */
static int etcdrig_wait(struct etcdrig *r)
{
	char cmd[ETCDRIG_MAX * 40 + 128];
	int i;

	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=%s --command-timeout=2s "
		 "endpoint health >/dev/null 2>&1", r->endpoints);
	for (i = 0; i < 300; i++) {
		if (system(cmd) == 0)
			return 0;
		usleep(100 * 1000);
	}
	return -ETIMEDOUT;
}

/* Start n members, member i's client URL on address chost[i] (chost NULL: all on
 * 127.0.0.1; the peer URLs are on 127.0.0.1 always). 0, -ENOENT when etcd is not installed,
 * or -errno. */
static int etcdrig_start_hosts(struct etcdrig *r, int n, const char *const *chost)
{
	char cluster[ETCDRIG_MAX * 48] = "", *p = cluster, log[128];
	int i;

	memset(r, 0, sizeof(*r));
	if (access(ETCDRIG_BIN, X_OK) < 0)
		return -ENOENT;
	snprintf(r->dir, sizeof(r->dir), "/tmp/vsrv-etcdrig.XXXXXX");
	if (!mkdtemp(r->dir))
		return -errno;
	r->n = n;
	for (i = 0; i < n; i++) {
		r->cport[i] = etcdrig_free_port();
		r->pport[i] = etcdrig_free_port();
		p += sprintf(p, "%sm%d=http://127.0.0.1:%d", i ? "," : "", i, r->pport[i]);
		sprintf(r->endpoints + strlen(r->endpoints), "%shttp://%s:%d", i ? "," : "",
			chost ? chost[i] : "127.0.0.1", r->cport[i]);
	}
	for (i = 0; i < n; i++) {
		char name[16], data[96], curl[64], purl[64];
		pid_t pid;

		snprintf(name, sizeof(name), "m%d", i);
		snprintf(data, sizeof(data), "%s/m%d", r->dir, i);
		snprintf(curl, sizeof(curl), "http://%s:%d", chost ? chost[i] : "127.0.0.1",
			 r->cport[i]);
		snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", r->pport[i]);
		snprintf(log, sizeof(log), "%s/m%d.log", r->dir, i);
		pid = fork();
		if (pid < 0) {
			etcdrig_stop(r);
			return -errno;
		}
		if (pid == 0) {
			FILE *f = freopen(log, "w", stdout);

			(void)f;
			dup2(1, 2);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			execl(ETCDRIG_BIN, "etcd", "--name", name, "--data-dir", data,
			      "--listen-client-urls", curl, "--advertise-client-urls", curl,
			      "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
			      "--initial-cluster", cluster, "--initial-cluster-state", "new",
			      "--initial-cluster-token", r->dir, (char *)NULL);
			_exit(127);
		}
		r->pid[i] = pid;
	}
	if (etcdrig_wait(r)) {
		fprintf(stderr, "etcdrig: the cluster did not come up; logs in %s\n", r->dir);
		etcdrig_stop(r);
		return -ETIMEDOUT;
	}
	return 0;
}

/* Start n members on 127.0.0.1. 0, -ENOENT when etcd is not installed, or -errno. */
static int etcdrig_start(struct etcdrig *r, int n)
{
	return etcdrig_start_hosts(r, n, NULL);
}

/* etcdrig_start for a test program's main: 0 when the n members run; otherwise the SKIP
 * (etcd not installed) or FAIL line for name is printed and main returns the status this
 * gives less one: 0 after a SKIP, 1 after a FAIL (so: rc = etcdrig_start_main(...);
 * if (rc) return rc - 1;). */
static int __attribute__((unused)) etcdrig_start_main(struct etcdrig *r, int n, const char *name)
{
	int rc = etcdrig_start(r, n);

	if (!rc)
		return 0;
	if (rc == -ENOENT) {
		printf("SKIP %s: %s is not installed (etcd-server)\n", name, ETCDRIG_BIN);
		return 1;
	}
	printf("FAIL %s: cannot start %d etcd member(s): %s\n", name, n, strerror(-rc));
	return 2;
}

#endif
