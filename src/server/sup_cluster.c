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
#include <stdio.h>
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

int sup_cluster_status_mine(struct server *srv, struct dbc *c, const char *name, char *owner,
			    size_t n)
{
	char host[64] = "", key[160];
	int64_t rev = 0;
	int rc;

	if (!shared(srv))
		return 0;
	rc = cluster_vm_owner_at(srv->cluster, name, host, sizeof(host), &rev);
	if (rc && rc != -ENOENT)
		return rc;
	if (!rc && strcmp(host, cluster_name(srv->cluster))) {
		snprintf(owner, n, "%s", host);
		return -EADDRINUSE;
	}
	/* (nobody's: rev 0, the key's absence compared) */
	rc = cluster_vm_owner_key(name, key, sizeof(key));
	return rc ? rc : inv_side_compare(c, key, rev);
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

/* The fence's record of VM id's turn-off (name: its name): "stopping" and the event
 * vm-stopping, only while its ownership key is this host's or nobody's, compared at the
 * commit (sup_cluster_status_mine): a VM that went on elsewhere (failed over once this
 * host's lease had gone) keeps that host's record. */
static void fence_record(struct server *srv, struct dbc *c, int64_t id, const char *name,
			 const char *why)
{
	char owner[64] = "";
	int rc, tries;

	for (tries = 0; tries < INV_COMMIT_TRIES; tries++) {
		rc = inv_begin(c);
		if (!rc)
			rc = sup_cluster_status_mine(srv, c, name, owner, sizeof(owner));
		if (!rc)
			rc = inv_vm_mark_stopping(c, id);
		if (!rc)
			rc = events_emit(srv, c, "vm-stopping", "vm", name, "cluster-watchdog", NULL,
					 "%s: turn off requested (%s)", name, why);
		if (rc) {
			inv_rollback(c);
			break;
		}
		if ((rc = inv_commit(c)) != -EAGAIN)
			break;
	}
	if (rc == -EADDRINUSE)
		vsrv_log("vm %s: turned off by the fence; it is host %s's now (its ownership key): "
			 "its record left as it is", name, owner);
	else if (rc)
		vsrv_log("vm %s: turned off by the fence; cannot record it: %s", name,
			 strerror(-rc));
}

/* One run the fence kills: its VM, its name once killed, whether its record is this
 * run's to write (not an incoming migration's: the source's). */
struct fenced {
	int64_t id;
	char name[64];
	bool killed, record;
};

/* Whether one of the runs f (n) killed still runs under this supervisor (its end not yet
 * handled). */
static bool runs_left(struct supervisor *s, const struct fenced *f, size_t n)
{
	bool left = false;
	size_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < n && !left; i++)
		left = f[i].killed && sup_find(s, f[i].id) != NULL;
	pthread_mutex_unlock(&s->lock);
	return left;
}

int sup_fence(struct server *srv, const char *why, int wait_ms, bool for_good)
{
	struct supervisor *s = srv->sup;
	struct timespec t0, t;
	struct dbc *c = inv_get(srv->db);
	struct fenced *f = NULL;
	struct runvm *v;
	size_t i, k = 0, cap = 0;
	int n = 0;
	bool left = true;

	/* this supervisor's runs, from its list: no etcd round trip before they are killed
	 * (a fenced host's etcd may not answer) */
	pthread_mutex_lock(&s->lock);
	s->fencing = true;
	for (v = s->vms; v; v = v->next)
		cap++;
	f = cap ? calloc(cap, sizeof(*f)) : NULL;
	for (v = s->vms; f && v && k < cap; v = v->next)
		if (v->mon_pid > 0)
			f[k++] = (struct fenced){ .id = v->id, .record = !v->incoming };
	pthread_mutex_unlock(&s->lock);
	/* SIGKILL: a VM that may not run here any more is not asked to shut down */
	for (i = 0; i < k; i++)
		if (!sup_stop_signal(srv, f[i].id, SUP_OFF, NULL, f[i].name, sizeof(f[i].name))) {
			f[i].killed = true;
			n++;
		}
	for (i = 0; c && i < k; i++)
		if (f[i].killed && f[i].record)
			fence_record(srv, c, f[i].id, f[i].name, why);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (k && (left = runs_left(s, f, k))) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= wait_ms)
			break;
		usleep(20 * 1000);
	}
	if (k && left)
		vsrv_log("cluster: fence (%s): VM(s) whose end is not recorded after %d ms", why,
			 wait_ms);
	free(f);
	if (c)
		inv_put(c);
	pthread_mutex_lock(&s->lock);
	s->fencing = for_good;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int sup_cluster_adopt(struct server *srv)
{
	struct up_ids u = { 0 };
	struct dbc *c;
	char name[64];
	size_t i;
	int n = 0;

	if (!srv->cluster || !(c = inv_get(srv->db)))
		return 0;
	inv_vm_each(c, add_up, &u);
	for (i = 0; i < u.n; i++) {
		struct inv_vm vm;

		if (inv_vm_get(c, u.ids[i], &vm))
			continue;
		/* (its record not written here: the key holder's; its end's, when the key turns
		 * out to be nobody's, is handle_exit's) */
		if (sup_cluster_claim(srv, NULL, vm.name, NULL)) {
			vsrv_log("vm %s: runs here without its ownership key: turned off", vm.name);
			if (sup_stop_signal(srv, u.ids[i], SUP_OFF, NULL, name, sizeof(name)) == 0)
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
