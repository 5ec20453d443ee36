/* The supervisor's side of the cluster (cluster.h): a VM starts only with its ownership
 * key, gives it up when it ends, and the watchdog's fence turns every VM off. */
#include "server/sup.h"
#include "server/sup_int.h"
#include "server/cluster.h"
#include "server/events.h"
#include "server/hostkvm.h"
#include "server/inv.h"
#include "server/placement.h"
#include "util/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A shared inventory (etcd): every host of the cluster sees every VM. */
static bool shared(struct server *srv)
{
	return srv->cluster && !strcmp(inv_backend(srv->db), "etcd");
}

/* The key claimed at revision rev is compared at c's commit (a shared inventory). */
static int claim_compare(struct server *srv, struct dbc *c, const char *name, int64_t rev)
{
	char key[160];
	int rc;

	if (!c || !shared(srv))
		return 0;
	rc = cluster_vm_owner_key(name, key, sizeof(key));
	return rc ? rc : inv_side_compare(c, key, rev);
}

int sup_cluster_claim(struct server *srv, struct dbc *c, const char *name, const char *dir)
{
	char owner[64] = "", link[4200];
	const char *deadline;
	int64_t rev = 0;
	int rc;

	if (dir && snprintf(link, sizeof(link), "%s/lease.deadline", dir) >= (int)sizeof(link))
		return -ENAMETOOLONG;
	if (dir)
		unlink(link);
	if (!srv->cluster)
		return 0;
	rc = cluster_vm_claim_at(srv->cluster, name, owner, sizeof(owner), &rev);
	/* the key as claimed, compared at the start's commit: taken meanwhile (a migration's
	 * hand-over, a failover once this host's lease had gone), the commit fails and the
	 * start is examined again (sup.c's record_start) */
	if (!rc && (rc = claim_compare(srv, c, name, rev)))
		cluster_vm_release(srv->cluster, name);
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

void sup_cluster_release(struct server *srv, const char *name, bool done)
{
	bool was;

	if (!srv->cluster)
		return;
	cluster_vm_release(srv->cluster, name);
	/* it ended by itself and its restart policy does not start it again: no host is to */
	if (done && shared(srv))
		cluster_vm_unplace(srv->cluster, name, &was);
}

void sup_cluster_placed(struct server *srv, struct dbc *c, const char *name)
{
	char key[160], *text = NULL;

	if (!shared(srv))
		return;
	/* with the start's commit (one round trip less); alone outside a transaction */
	if (c && !cluster_vm_placement(srv->cluster, name, key, sizeof(key), &text) &&
	    !inv_side_put(c, key, text, strlen(text))) {
		free(text);
		return;
	}
	free(text);
	cluster_vm_place(srv->cluster, name);
}

int sup_cluster_side_read(void *arg, const char *prefix,
			  int (*fn)(const struct etcd_kv *kv, void *fn_arg), void *fn_arg)
{
	return arg ? inv_side_take_range(arg, prefix, fn, fn_arg) : -ENODATA;
}

void sup_cluster_start_want(struct server *srv, struct dbc *c, bool hosts)
{
	/* (a failure: read alone later) */
	if (!shared(srv))
		return;
	inv_side_want_range(c, CLUSTER_VMS);
	if (hosts)
		inv_side_want_range(c, CLUSTER_HOSTS);
}

json_t *sup_cluster_mine(struct server *srv, struct dbc *c)
{
	json_t *owners = NULL, *mine, *h;
	const char *vm;

	if (!shared(srv) ||
	    cluster_vm_owners_in(srv->cluster, sup_cluster_side_read, c, &owners))
		return NULL;
	mine = json_object();
	json_object_foreach(owners, vm, h)
		if (mine && !strcmp(json_string_value(h), cluster_name(srv->cluster)))
			json_object_set_new(mine, vm, json_true());
	json_decref(owners);
	return mine;
}

void sup_cluster_owner_want(struct server *srv, struct dbc *c, const char *name)
{
	char key[160];

	if (srv->cluster && !cluster_vm_owner_key(name, key, sizeof(key)))
		inv_side_want(c, key);  /* (a failure: read alone) */
}

json_t *sup_vm_host_json(struct server *srv, struct dbc *c, const char *name,
			 const char *state, json_t *owners)
{
	char host[256] = "", key[160], *val = NULL;
	size_t len = 0;
	int rc;

	if (srv->cluster) {
		if (owners)
			return json_incref(json_object_get(owners, name)) ?: json_null();
		/* read with the VM's rows (sup_cluster_owner_want) */
		rc = c && !cluster_vm_owner_key(name, key, sizeof(key)) ?
		     inv_side_take(c, key, &val, &len) : -ENODATA;
		if (rc == -ENOENT)
			return json_null();
		if (!rc) {
			cluster_vm_owner_of(val, len, host, sizeof(host));
			free(val);
			return json_string(host);
		}
		return cluster_vm_owner(srv->cluster, name, host, sizeof(host)) ? json_null() :
		       json_string(host);
	}
	if (!inv_vm_state_up(state) || gethostname(host, sizeof(host) - 1) < 0)
		return json_null();
	host[strcspn(host, ".")] = '\0';
	return json_string(host);
}

int sup_cluster_unplace(struct server *srv, const char *name, bool *was_running)
{
	*was_running = false;
	if (!shared(srv))
		return 0;
	/* the host that runs it is the one to stop it (its owner key, read with the
	 * placement) */
	return cluster_vm_unplace_mine(srv->cluster, name, was_running);
}

int sup_cluster_need(void *arg, const char *vm, struct cluster_need *need)
{
	struct server *srv = arg;
	struct dbc *c = inv_get(srv->db);
	struct inv_vm v;
	int64_t id;
	int rc;

	if (!c)
		return -EIO;
	rc = inv_vm_id(c, vm, &id);
	if (!rc)
		rc = inv_vm_get(c, id, &v);
	if (!rc) {
		rc = !strcmp(v.restart_policy, "always") || !strcmp(v.restart_policy, "on-failure");
		inv_vm_clear(&v);
	}
	/* a failover starts it from its disks where they are (shared storage) */
	if (rc > 0 && placement_need(c, id, true, need) < 0)
		rc = -EIO;
	inv_put(c);
	return rc == -ENOENT ? 0 : rc;
}

/* Without a start: whether VM vm's end is to be recorded (its state is up) or its intent
 * cleared (meant, policy never): only then is its key claimed. */
static bool take_needed(struct server *srv, const char *vm, bool meant)
{
	struct dbc *c = inv_get(srv->db);
	struct inv_vm v;
	int64_t id;
	bool need = false;

	if (c && !inv_vm_id(c, vm, &id) && !inv_vm_get(c, id, &v)) {
		need = inv_vm_state_up(v.state) || (meant && !strcmp(v.restart_policy, "never"));
		inv_vm_clear(&v);
	}
	if (c)
		inv_put(c);
	return need;
}

int sup_cluster_take(void *arg, const char *vm, const char *from, bool start, bool meant)
{
	struct server *srv = arg;
	const char *me = cluster_name(srv->cluster);
	char owner[64] = "";
	bool up = false, never = false, began = false, was;
	struct dbc *c;
	struct inv_vm v;
	int64_t id;
	int rc;

	char kvm[400];

	if (!start && !take_needed(srv, vm, meant))
		return 0;
	/* no VM can start here: not claimed (a claim held by a host that cannot start it
	 * keeps every other host from taking it) nor recorded, left to a host with KVM */
	if (start && hostkvm_check(kvm, sizeof(kvm))) {
		vsrv_log("cluster: failover: vm %s: not taken: %s", vm, kvm);
		return -ENXIO;
	}

	/* the claim first (create-if-absent): of the hosts that may act, only one gets it, and
	 * while it holds the key no other host starts the VM or writes its state */
	rc = cluster_vm_claim(srv->cluster, vm, owner, sizeof(owner));
	if (rc) {
		vsrv_log("cluster: failover: vm %s: not taken: %s", vm, rc == -EADDRINUSE ?
			 "another host holds it already" : strerror(-rc));
		return rc;
	}
	if (!(c = inv_get(srv->db))) {
		cluster_vm_release(srv->cluster, vm);
		return -EIO;
	}
	rc = inv_vm_id(c, vm, &id);
	/* (a write to another VM meanwhile fails the commit on etcd: again, a few times) */
	for (int tries = 0; !rc || (rc == -EAGAIN && tries < INV_COMMIT_TRIES); tries++) {
		if ((rc = inv_begin(c)))
			break;
		/* the dead host's last word on it (running, starting...) ends here */
		rc = inv_vm_get(c, id, &v);
		if (!rc) {
			up = inv_vm_state_up(v.state);
			never = !strcmp(v.restart_policy, "never");
			if (up)
				rc = inv_vm_set_state(c, id, INV_VM_CRASHED, 0, NULL);
			inv_vm_clear(&v);
		}
		if (!rc && start)
			rc = events_emit(srv, c, "vm-failover", "vm", vm, "cluster-failover",
					 json_pack("{s:s,s:s}", "from", from, "to", me),
					 "%s: its host %s is gone (lease expired): starting it on host %s",
					 vm, from, me);
		else if (!rc && up)
			rc = events_emit(srv, c, "vm-crashed", "vm", vm, "cluster-failover",
					 json_pack("{s:s}", "host", from),
					 "%s: its host %s is gone (lease expired); not restarted: %s", vm,
					 from, never ? "its restart policy is never" :
					 "no surviving host has the memory it needs");
		rc = rc ? (inv_rollback(c), rc) : inv_commit(c);
		if (rc != -EAGAIN)
			break;
	}
	if (!rc && start) {
		began = true;
		rc = sup_start(srv, c, id, "cluster-failover");
	}
	inv_put(c);
	if (!start) {
		if (!rc && never && meant)
			cluster_vm_unplace(srv->cluster, vm, &was);
		cluster_vm_release(srv->cluster, vm);
		if (up || rc)
			vsrv_log("cluster: failover: vm %s: its end on host %s %s", vm, from,
				 rc ? "cannot be recorded" : "recorded (crashed)");
	} else if (rc) {
		/* a start refused before its monitor ran has given the key up (start_locked);
		 * after, the key stays until the VM ends (handle_exit) */
		vsrv_log("cluster: failover: vm %s: cannot start it here: %s", vm, strerror(-rc));
		if (!began)
			cluster_vm_release(srv->cluster, vm);
	} else {
		vsrv_log("cluster: failover: vm %s: moved from host %s to this host", vm, from);
	}
	return rc;
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
		if (sup_cluster_claim(srv, NULL, vm.name, NULL)) {
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
