/* cgroups v1/v2. */
#include "server/cgroup.h"
#include "server/inv.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROOT "/sys/fs/cgroup"

const char *cgroup_mode(void)
{
	if (access(ROOT "/cgroup.controllers", F_OK) == 0)
		return "v2";
	if (access(ROOT "/cpu/cgroup.procs", F_OK) == 0)
		return "v1";
	return "none";
}

/* The group of VM id under hierarchy h ("" for v2): ROOT/h/vsrv-TAG/ID, where TAG tells
 * data directories apart. */
static int group_path(struct server *srv, const char *h, int64_t id, char *buf, size_t n)
{
	unsigned long hash = 1469598103934665603UL;
	const char *p;

	for (p = srv->data_dir; *p; p++)
		hash = (hash ^ (unsigned char)*p) * 1099511628211UL;
	if (id < 0)
		return snprintf(buf, n, ROOT "%s%s/vsrv-%08lx", *h ? "/" : "", h, hash & 0xffffffff);
	return snprintf(buf, n, ROOT "%s%s/vsrv-%08lx/%lld", *h ? "/" : "", h, hash & 0xffffffff,
			(long long)id);
}

static int put(const char *dir, const char *file, const char *val)
{
	char p[512];
	int fd, rc = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int mkgroup(struct server *srv, const char *h, int64_t id, char *buf, size_t n)
{
	char parent[512];

	group_path(srv, h, -1, parent, sizeof(parent));
	if (mkdir(parent, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (!*h)
		put(parent, "cgroup.subtree_control", "+cpu +memory");
	group_path(srv, h, id, buf, n);
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int cgroup_setup(struct server *srv, struct dbc *c, int64_t id)
{
	const char *mode = cgroup_mode();
	int limit = 0, weight = 100, rc;
	int64_t mem = 0;
	char g[512], v[64];
	static bool warned;
	struct inv_vm vm;

	rc = inv_vm_get(c, id, &vm);
	if (rc == -EIO)
		return rc;
	if (!rc) {
		limit = vm.cpu_limit;
		weight = vm.cpu_weight;
		mem = vm.memory_mib;
		inv_vm_clear(&vm);
	}
	rc = 0;
	/* Guest RAM plus the VMM's own overhead. */
	mem = (mem + 64) << 20;
	if (!strcmp(mode, "v2")) {
		rc = mkgroup(srv, "", id, g, sizeof(g));
		if (!rc) {
			if (limit)
				snprintf(v, sizeof(v), "%d 100000", limit * 1000);
			else
				snprintf(v, sizeof(v), "max 100000");
			put(g, "cpu.max", v);
			snprintf(v, sizeof(v), "%d", weight);
			put(g, "cpu.weight", v);
			snprintf(v, sizeof(v), "%lld", (long long)mem);
			put(g, "memory.max", v);
		}
	} else if (!strcmp(mode, "v1")) {
		rc = mkgroup(srv, "cpu", id, g, sizeof(g));
		if (!rc) {
			put(g, "cpu.cfs_period_us", "100000");
			snprintf(v, sizeof(v), "%d", limit ? limit * 1000 : -1);
			put(g, "cpu.cfs_quota_us", v);
			snprintf(v, sizeof(v), "%d", weight * 1024 / 100);
			put(g, "cpu.shares", v);
		}
		if (!rc && !mkgroup(srv, "memory", id, g, sizeof(g))) {
			snprintf(v, sizeof(v), "%lld", (long long)mem);
			put(g, "memory.limit_in_bytes", v);
		}
		if (!rc)
			rc = mkgroup(srv, "freezer", id, g, sizeof(g));
	} else {
		rc = -ENOTSUP;
	}
	if (rc && !warned) {
		warned = true;
		vsrv_log("cgroups (%s) not usable (%s): VMs run without CPU and memory limits",
			 mode, strerror(-rc));
	}
	return rc;
}

int cgroup_procs_fds(struct server *srv, int64_t id, int fds[CGROUP_MAX_FDS])
{
	static const char *const v1[] = { "cpu", "memory", "freezer" };
	char g[512], p[600];
	int n = 0, i;

	if (!strcmp(cgroup_mode(), "v2")) {
		group_path(srv, "", id, g, sizeof(g));
		snprintf(p, sizeof(p), "%s/cgroup.procs", g);
		if ((fds[n] = open(p, O_WRONLY | O_CLOEXEC)) >= 0)
			n++;
		return n;
	}
	for (i = 0; i < 3; i++) {
		group_path(srv, v1[i], id, g, sizeof(g));
		snprintf(p, sizeof(p), "%s/cgroup.procs", g);
		if ((fds[n] = open(p, O_WRONLY | O_CLOEXEC)) >= 0)
			n++;
	}
	return n;
}

int cgroup_freeze(struct server *srv, int64_t id, pid_t pid, int freeze)
{
	const char *mode = cgroup_mode();
	char g[512];

	if (!strcmp(mode, "v2")) {
		group_path(srv, "", id, g, sizeof(g));
		if (put(g, "cgroup.freeze", freeze ? "1" : "0") == 0)
			return 0;
	} else if (!strcmp(mode, "v1")) {
		group_path(srv, "freezer", id, g, sizeof(g));
		if (put(g, "freezer.state", freeze ? "FROZEN" : "THAWED") == 0)
			return 0;
	}
	if (pid > 0 && kill(pid, freeze ? SIGSTOP : SIGCONT) < 0)
		return -errno;
	return 0;
}

void cgroup_remove(struct server *srv, int64_t id)
{
	static const char *const h[] = { "", "cpu", "memory", "freezer" };
	char g[512];

	for (size_t i = 0; i < 4; i++) {
		group_path(srv, h[i], id, g, sizeof(g));
		rmdir(g);
	}
}
