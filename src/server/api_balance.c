/* Balance on request (docs/cluster.md "Balance"): POST /api/v1/cluster/balance computes the
 * moves that even out the hosts' free memory (cluster_balance_plan, over the alive keys and
 * the running VMs of the shared inventory) and, unless dry_run, starts the task
 * "cluster-balance", which live-migrates them one at a time (migrate_move, as a drain
 * does). Server control and modify, a cluster on the shared inventory. */
#include "server/api.h"
#include "server/auth.h"
#include "server/cluster.h"
#include "server/etcd.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/migrate.h"
#include "server/placement.h"
#include "server/tasks.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAL_MAX_HOSTS 64
#define BAL_MAX_VMS 1024
#define BAL_MAX_MOVES 64

/* One planned move, as the task needs it. */
struct bal_move {
	int64_t id;
	char vm[64], from[64], to[64];
};

struct bal_req {
	char disks[8];
	char auth[1100];
	char who[128];
	size_t n;
	struct bal_move moves[BAL_MAX_MOVES];
};

/* The running VMs of the alive hosts h into vms (*nvms), with what they need; those that
 * cannot move at all are listed in unmovable. 0 or -errno. */
static int bal_vms(struct server *srv, struct dbc *c, const struct cluster_fo_host *h, size_t nh,
		   bool in_place, struct cluster_bal_vm *vms, int64_t *ids, size_t *nvms,
		   json_t *unmovable)
{
	json_t *owners = NULL, *ho;
	const char *vm;
	int rc = cluster_vm_owners(srv->cluster, &owners, NULL);

	*nvms = 0;
	if (rc)
		return rc;
	json_object_foreach(owners, vm, ho) {
		struct cluster_bal_vm *b = &vms[*nvms];
		struct inv_vm v;
		size_t k;
		int64_t id;

		for (k = 0; k < nh && strcmp(h[k].name, json_string_value(ho) ?: ""); k++)
			;
		/* of a host that is not alive, or of another inventory sharing the etcd */
		if (k == nh || *nvms == BAL_MAX_VMS || strlen(vm) >= sizeof(b->name) ||
		    inv_vm_id(c, vm, &id) || inv_vm_get(c, id, &v))
			continue;
		memset(b, 0, sizeof(*b));
		snprintf(b->name, sizeof(b->name), "%s", vm);
		b->host = k;
		b->movable = true;
		if (strcmp(v.state, INV_VM_RUNNING)) {
			inv_vm_clear(&v);
			continue;
		}
		if (strcmp(v.undo_disks, "off"))
			snprintf(b->why, sizeof(b->why), "a VM with undo disks does not migrate");
		else if (task_running(c, "vm-migrate", vm))
			snprintf(b->why, sizeof(b->why), "a migration of it runs");
		else if ((rc = placement_need(c, id, in_place, &b->need)))
			snprintf(b->why, sizeof(b->why), "what it needs cannot be read: %s",
				 strerror(-rc));
		inv_vm_clear(&v);
		if (*b->why) {
			b->movable = false;
			json_array_append_new(unmovable, json_pack("{s:s,s:s,s:s}", "vm", vm, "host",
								   h[k].name, "reason", b->why));
		}
		ids[(*nvms)++] = id;
	}
	json_decref(owners);
	return 0;
}

/* The spread of the free memory of the hosts that are not draining. */
static int64_t spread(const struct cluster_fo_host *h, size_t n)
{
	int64_t lo = 0, hi = 0;
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		if (h[i].draining)
			continue;
		if (!any || h[i].free_mib < lo)
			lo = h[i].free_mib;
		if (!any || h[i].free_mib > hi)
			hi = h[i].free_mib;
		any = true;
	}
	return hi - lo;
}

/* Plan: the answer's plan object into *out and the moves into q. 0 or a req_error. */
static int bal_plan(struct req *r, bool in_place, struct bal_req *q, json_t **out)
{
	struct cluster_fo_host h[BAL_MAX_HOSTS];
	struct cluster_bal_move mv[BAL_MAX_MOVES];
	struct cluster_bal_vm *vms = calloc(BAL_MAX_VMS, sizeof(*vms));
	int64_t *ids = calloc(BAL_MAX_VMS, sizeof(*ids)), before[BAL_MAX_HOSTS], was;
	json_t *moves = json_array(), *hosts = json_array(), *unmovable = json_array();
	size_t nh = 0, nvms = 0, nm = 0, i;
	int rc = -ENOMEM;

	if (vms && ids && moves && hosts && unmovable)
		rc = cluster_alive_hosts(r->srv->cluster, h, BAL_MAX_HOSTS, &nh);
	if (!rc)
		rc = bal_vms(r->srv, r->c, h, nh, in_place, vms, ids, &nvms, unmovable);
	for (i = 0; !rc && i < nh; i++)
		before[i] = h[i].free_mib;
	was = spread(h, nh);
	if (!rc)
		rc = cluster_balance_plan(h, nh, vms, nvms, mv, BAL_MAX_MOVES, &nm);
	if (rc) {
		rc = rc == -ENOMEM ? req_error(r, rc, "out of memory") :
		     req_error(r, 503, "the cluster's store (etcd) does not answer: %s",
			       etcd_errmsg());
		goto out;
	}
	for (i = 0; i < nm; i++) {
		const struct cluster_bal_vm *b = &vms[mv[i].vm];

		json_array_append_new(moves, json_pack("{s:s,s:s,s:s,s:I}", "vm", b->name, "from",
						       h[mv[i].from].name, "to", h[mv[i].to].name,
						       "memory_mib", (json_int_t)b->need.mib));
		q->moves[i].id = ids[mv[i].vm];
		snprintf(q->moves[i].vm, sizeof(q->moves[i].vm), "%s", b->name);
		snprintf(q->moves[i].from, sizeof(q->moves[i].from), "%s", h[mv[i].from].name);
		snprintf(q->moves[i].to, sizeof(q->moves[i].to), "%s", h[mv[i].to].name);
	}
	q->n = nm;
	for (i = 0; i < nh; i++)
		json_array_append_new(hosts, json_pack("{s:s,s:I,s:I,s:b}", "name", h[i].name,
						       "free_memory_mib", (json_int_t)before[i],
						       "after_mib", (json_int_t)h[i].free_mib,
						       "draining", h[i].draining));
	*out = json_pack("{s:O,s:O,s:O,s:I,s:I}", "moves", moves, "hosts", hosts, "unmovable",
			 unmovable, "spread_mib", (json_int_t)was, "spread_after_mib",
			 (json_int_t)spread(h, nh));
	rc = *out ? 0 : req_error(r, -ENOMEM, "out of memory");
out:
	cluster_fo_hosts_clear(h, nh);
	json_decref(moves);
	json_decref(hosts);
	json_decref(unmovable);
	free(vms);
	free(ids);
	return rc;
}

/* An event about the balance, on this host (its own transaction). */
static void emit(struct server *srv, const char *type, const char *who, json_t *data,
		 const char *fmt, const char *arg)
{
	struct dbc *c = inv_get(srv->db);

	if (!c || events_emit(srv, c, type, "host", cluster_name(srv->cluster), who, data, fmt,
			      arg))
		vsrv_log("cluster balance: cannot record %s", type);
	if (c)
		inv_put(c);
}

static int bal_run(struct task *t, void *arg)
{
	const struct bal_req *q = arg;
	struct server *srv = task_server(t);
	json_t *failed = json_array(), *moved = json_object();
	char why[700], *list;
	size_t i;

	if (!failed || !moved) {
		json_decref(failed);
		json_decref(moved);
		task_error(t, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < q->n; i++) {
		const struct bal_move *m = &q->moves[i];

		if (migrate_move(srv, q->auth, q->who, q->disks, m->id, m->vm, m->from, m->to, why,
				 sizeof(why)))
			json_array_append_new(failed, json_pack("{s:s,s:s,s:s}", "vm", m->vm, "to",
								m->to, "reason", why));
		else
			json_object_set_new(moved, m->vm, json_string(m->to));
		task_progress(t, (double)(i + 1) / (double)q->n);
	}
	if (json_array_size(failed)) {
		list = json_dumps(failed, JSON_COMPACT);
		task_error(t, "%zu of %zu move(s) failed: %s", json_array_size(failed), q->n,
			   list ?: "?");
		emit(srv, "cluster-balance-failed", q->who, json_pack("{s:o,s:o}", "failed", failed,
								      "moved", moved),
		     "the cluster's balance failed: %s", list ?: "?");
		free(list);
		return -EIO;
	}
	json_decref(failed);
	emit(srv, "cluster-balance-done", q->who, json_pack("{s:o}", "moved", moved),
	     "the cluster is balanced%s", "");
	return 0;
}

int api_cluster_balance(struct req *r)
{
	const char *disks = "shared", *auth = req_header(r, "Authorization");
	json_t *dv, *dr, *plan = NULL;
	struct bal_req *q;
	bool dry = false;
	int64_t task = 0;
	int rc;

	if (auth_require(r, "server", 0, PERM_CONTROL | PERM_MODIFY))
		return r->status;
	if (!r->srv->cluster || strcmp(inv_backend(r->srv->db), "etcd"))
		return req_error(r, -EBUSY, "a balance needs a cluster on the shared inventory "
				 "(vsrv serve --cluster URL --inventory etcd)");
	dv = json_object_get(r->body, "disks");
	dr = json_object_get(r->body, "dry_run");
	if ((r->body && (!json_is_object(r->body) ||
			 json_object_size(r->body) > (size_t)(!!dv + !!dr))) ||
	    (dv && !(disks = json_string_value(dv))) || (dr && !json_is_boolean(dr)) ||
	    (strcmp(disks, "shared") && strcmp(disks, "copy")))
		return req_error(r, -EINVAL, "the body is {\"dry_run\": true or false, \"disks\": "
				 "\"shared\" (the default) or \"copy\"} or nothing");
	dry = json_is_true(dr);
	if (!dry && !auth)
		return req_error(r, -EBUSY, "a balance passes the caller's token on to the other "
				 "hosts: send it with an Authorization header");
	if (!dry && task_running(r->c, "cluster-balance", "cluster"))
		return req_error(r, -EBUSY, "a balance of the cluster runs already");
	q = calloc(1, sizeof(*q));
	if (!q)
		return req_error(r, -ENOMEM, "out of memory");
	snprintf(q->disks, sizeof(q->disks), "%s", disks);
	snprintf(q->who, sizeof(q->who), "%s", r->who.name);
	if (auth && snprintf(q->auth, sizeof(q->auth), "%s", auth) >= (int)sizeof(q->auth)) {
		free(q);
		return req_error(r, -EINVAL, "the Authorization header is too long");
	}
	rc = bal_plan(r, strcmp(disks, "copy") != 0, q, &plan);
	if (rc) {
		free(q);
		return rc;
	}
	if (dry) {
		free(q);
		r->out = json_pack("{s:b,s:s,s:o}", "dry_run", 1, "disks", disks, "plan", plan);
		return r->out ? 200 : req_error(r, -ENOMEM, "out of memory");
	}
	emit(r->srv, "cluster-balance-started", r->who.name,
	     json_pack("{s:O,s:s}", "moves", json_object_get(plan, "moves"), "disks", disks),
	     "the cluster's balance started: %s", q->n ? "VMs to move" : "nothing to move");
	rc = task_start(r->srv, "cluster-balance", "cluster", r->who.name, bal_run, q, free, &task);
	if (rc) {
		json_decref(plan);
		return req_error(r, rc, "cannot start the task");
	}
	r->out = json_pack("{s:b,s:s,s:o,s:I}", "dry_run", 0, "disks", disks, "plan", plan, "task",
			   (json_int_t)task);
	r->status = 202;
	return 202;
}
