/* The supervisor's side of the cluster (cluster.h): a VM starts only with its ownership
 * key, gives it up when it ends, and the watchdog's fence turns every VM off. */
#include "server/sup.h"
#include "server/sup_int.h"
#include "server/cluster.h"
#include "server/inv.h"
#include "util/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int sup_cluster_claim(struct server *srv, const char *name, const char *dir)
{
	char owner[64] = "", link[4200];
	const char *deadline;
	int rc;

	if (dir && snprintf(link, sizeof(link), "%s/lease.deadline", dir) >= (int)sizeof(link))
		return -ENAMETOOLONG;
	if (dir)
		unlink(link);
	if (!srv->cluster)
		return 0;
	rc = cluster_vm_claim(srv->cluster, name, owner, sizeof(owner));
	deadline = cluster_deadline_file(srv->cluster);
	if (!rc && dir && deadline && symlink(deadline, link) < 0) {
		rc = -errno;
		vsrv_log("vm %s: not started: cannot link %s: %s", name, link, strerror(-rc));
		cluster_vm_release(srv->cluster, name);
		return rc;
	}
	if (rc == -EADDRINUSE)
		vsrv_log("vm %s: not started: it runs on host %s (its ownership key)", name, owner);
	else if (rc)
		vsrv_log("vm %s: not started: cannot take its ownership key: %s", name,
			 rc == -ENOLINK ? "this host is fenced (its lease is lost)" : strerror(-rc));
	return rc;
}

void sup_cluster_release(struct server *srv, const char *name)
{
	if (srv->cluster)
		cluster_vm_release(srv->cluster, name);
}

struct up_ids {
	int64_t *ids;
	size_t n, cap;
};

static int add_up(const struct inv_vm *v, void *arg)
{
	struct up_ids *u = arg;

	if (!inv_vm_state_up(v->state))
		return 0;
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 16;
		int64_t *p = realloc(u->ids, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		u->ids = p;
		u->cap = cap;
	}
	u->ids[u->n++] = v->id;
	return 0;
}

static int count_up(struct dbc *c)
{
	struct up_ids u = { 0 };
	int n;

	inv_vm_each(c, add_up, &u);
	n = (int)u.n;
	free(u.ids);
	return n;
}

int sup_fence(struct server *srv, const char *why, int wait_ms)
{
	struct up_ids u = { 0 };
	struct timespec t0, t;
	struct dbc *c = inv_get(srv->db);
	size_t i;
	int n = 0, left;

	if (!c)
		return 0;
	inv_vm_each(c, add_up, &u);
	/* SIGKILL: a VM that may not run here any more is not asked to shut down */
	for (i = 0; i < u.n; i++)
		if (sup_stop(srv, c, u.ids[i], SUP_OFF, NULL, "cluster-watchdog") == 0)
			n++;
	free(u.ids);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((left = count_up(c)) > 0) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= wait_ms)
			break;
		usleep(20 * 1000);
	}
	if (left > 0)
		vsrv_log("cluster: fence (%s): %d VM(s) still recorded up after %d ms", why, left,
			 wait_ms);
	inv_put(c);
	return n;
}

int sup_cluster_adopt(struct server *srv)
{
	struct up_ids u = { 0 };
	struct dbc *c;
	size_t i;
	int n = 0;

	if (!srv->cluster || !(c = inv_get(srv->db)))
		return 0;
	inv_vm_each(c, add_up, &u);
	for (i = 0; i < u.n; i++) {
		struct inv_vm vm;

		if (inv_vm_get(c, u.ids[i], &vm))
			continue;
		if (sup_cluster_claim(srv, vm.name, NULL)) {
			vsrv_log("vm %s: runs here without its ownership key: turned off", vm.name);
			if (sup_stop(srv, c, u.ids[i], SUP_OFF, NULL, "cluster-ownership") == 0)
				n++;
		}
		inv_vm_clear(&vm);
	}
	free(u.ids);
	inv_put(c);
	return n;
}

bool sup_cluster_held_elsewhere(struct server *srv, const char *vm)
{
	char host[128];
	int rc;

	if (!srv->cluster || strcmp(inv_backend(srv->db), "etcd"))
		return false;
	rc = cluster_vm_owner(srv->cluster, vm, host, sizeof(host));
	if (rc == -ENOENT)
		return false;
	return rc || strcmp(host, cluster_name(srv->cluster));
}
