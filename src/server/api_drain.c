/* A host's drain (docs/cluster.md "Drain"): POST /api/v1/hosts/{name}/drain marks the host
 * draining (its alive key: placement and failover choose it no more) and starts the task
 * "host-drain", which live-migrates each VM running there, one at a time, to the host the
 * placement rule picks among the others, through the task "vm-migrate" the migrate endpoint
 * starts (migrate.h); DELETE .../drain clears the mark. Both need control and modify on the
 * server, a cluster and the shared inventory (etcd); sent to another host, they are passed
 * to it with the caller's Authorization header. */
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
#include <unistd.h>

#define DRAIN_FWD_MS 15000
#define DRAIN_MAX_HOSTS 64

/* What the task needs: the disks' mode and the caller's name. */
struct drain_req {
	char disks[8];
	char who[128];
};

/* Pass the request on to host (not this one): its answer is the answer. */
static int forward(struct req *r, const char *host)
{
	const char *auth = req_header(r, "Authorization");
	char url[1024], path[160], err[300] = "";
	json_t *ans = NULL;
	long st = 0;
	int rc = cluster_host_api_url(r->srv->cluster, host, url, sizeof(url));

	if (rc == -ENOENT)
		return req_error(r, -ENOENT, "no host %s in the cluster", host);
	if (rc == -EHOSTDOWN)
		return req_error(r, -EBUSY, "host %s is not alive (its lease is gone)", host);
	if (rc)
		return req_error(r, 503, "the cluster's store (etcd) does not answer: %s",
				 etcd_errmsg());
	if (!auth)
		return req_error(r, -EBUSY, "this request carries no token to pass on to host %s: "
				 "send it there (%s)", host, url);
	snprintf(path, sizeof(path), "/api/v1/hosts/%s/drain", host);
	rc = migrate_peer_call(url, r->method, path, auth, r->body, DRAIN_FWD_MS, &st, &ans, err,
			       sizeof(err));
	if (rc || !ans || st < 200 || st > 599) {
		json_decref(ans);
		return req_error(r, 503, "host %s does not answer at %s: %s", host, url,
				 rc ? err : "not a JSON answer");
	}
	r->out = ans;
	r->status = (int)st;
	return r->status;
}

/* An event about this host (its own transaction). */
static void emit(struct server *srv, const char *type, const char *who, json_t *data,
		 const char *fmt, const char *arg)
{
	struct dbc *c = inv_get(srv->db);

	if (!c || events_emit(srv, c, type, "host", cluster_name(srv->cluster), who, data, fmt,
			      cluster_name(srv->cluster), arg))
		vsrv_log("host drain: cannot record %s", type);
	if (c)
		inv_put(c);
}

struct owned {
	const char *me;
	json_t *names;
};

/* The VMs whose ownership key is this host's, as names. */
static int list_owned(struct server *srv, json_t **out)
{
	const char *me = cluster_name(srv->cluster), *vm;
	json_t *owners = NULL, *h;
	int rc = cluster_vm_owners(srv->cluster, &owners, NULL);

	if (rc)
		return rc;
	*out = json_array();
	json_object_foreach(owners, vm, h)
		if (*out && !strcmp(json_string_value(h) ?: "", me))
			json_array_append_new(*out, json_string(vm));
	json_decref(owners);
	return *out ? 0 : -ENOMEM;
}

/* Move VM name away: 0, or -errno with why (n bytes). *skipped: it is not running here. */
static int drain_one(struct server *srv, const struct drain_req *d, const char *name,
		     bool *skipped, char *to, char *why, size_t n)
{
	struct cluster_fo_host h[DRAIN_MAX_HOSTS];
	struct cluster_need need;
	const char *me = cluster_name(srv->cluster);
	char owner[64] = "", whynot[1024];
	struct inv_vm v;
	struct dbc *c;
	bool undo, running;
	int64_t id;
	size_t nh = 0, i, fit;
	int rc;

	*skipped = false;
	c = inv_get(srv->db);
	if (!c)
		return snprintf(why, n, "the inventory does not answer"), -EIO;
	rc = inv_vm_id(c, name, &id);
	if (!rc)
		rc = inv_vm_get(c, id, &v);
	if (rc) {
		inv_put(c);
		*skipped = rc == -ENOENT;   /* of another inventory sharing the etcd */
		return snprintf(why, n, "cannot read it: %s", strerror(-rc)), rc;
	}
	running = !strcmp(v.state, INV_VM_RUNNING);
	undo = strcmp(v.undo_disks, "off") != 0;
	inv_vm_clear(&v);
	if (running && task_running(c, "vm-migrate", name)) {
		inv_put(c);
		return snprintf(why, n, "a migration of it runs already"), -EBUSY;
	}
	/* with disks copy, the destination makes its writable disks */
	rc = running ? placement_need(c, id, strcmp(d->disks, "copy"), &need) : 0;
	inv_put(c);
	if (rc)
		return snprintf(why, n, "cannot read what it needs: %s", strerror(-rc)), rc;
	if (!running || cluster_vm_owner(srv->cluster, name, owner, sizeof(owner)) ||
	    strcmp(owner, me)) {
		*skipped = true;
		return 0;
	}
	if (undo)
		return snprintf(why, n, "a VM with undo disks does not migrate"), -EBUSY;
	rc = cluster_alive_hosts(srv->cluster, h, DRAIN_MAX_HOSTS, &nh);
	if (rc)
		return snprintf(why, n, "the cluster's store (etcd) does not answer"), rc;
	for (i = 0; i < nh; i++)
		if (!strcmp(h[i].name, me))
			h[i].draining = true;
	fit = cluster_failover_order(h, nh, &need, whynot, sizeof(whynot));
	snprintf(to, 64, "%s", fit ? h[0].name : "");
	cluster_fo_hosts_clear(h, nh);
	if (!fit)
		return snprintf(why, n, "no other host can run it: %.600s", whynot), -ENOSPC;
	return migrate_move(srv, NULL, d->who, d->disks, id, name, me, to, why, n);
}

static int drain_run(struct task *t, void *arg)
{
	const struct drain_req *d = arg;
	struct server *srv = task_server(t);
	json_t *names = NULL, *failed = json_array(), *moved = json_object(), *nm;
	char why[700], to[64], *list;
	size_t i, total, done = 0;
	int rc = list_owned(srv, &names);

	if (rc || !failed || !moved) {
		json_decref(names);
		json_decref(failed);
		json_decref(moved);
		task_error(t, "cannot list this host's VMs: %s", rc ? etcd_errmsg() : "no memory");
		emit(srv, "host-drain-failed", d->who, NULL, "host %s: the drain failed: %s",
		     "cannot list its VMs");
		return -EIO;
	}
	total = json_array_size(names);
	json_array_foreach(names, i, nm) {
		const char *vm = json_string_value(nm);
		bool skipped = false;

		*to = '\0';
		rc = drain_one(srv, d, vm, &skipped, to, why, sizeof(why));
		if (rc && !skipped)
			json_array_append_new(failed, json_pack("{s:s,s:s}", "vm", vm, "reason", why));
		else if (!skipped)
			json_object_set_new(moved, vm, json_string(to));
		task_progress(t, total ? (double)++done / (double)total : 1.0);
	}
	json_decref(names);
	if (json_array_size(failed)) {
		list = json_dumps(failed, JSON_COMPACT);
		task_error(t, "%zu VM(s) could not move: %s", json_array_size(failed),
			   list ?: "?");
		emit(srv, "host-drain-failed", d->who, json_pack("{s:o,s:o}", "failed", failed,
								 "moved", moved),
		     "host %s: the drain failed: %s", list ?: "?");
		free(list);
		return -EIO;
	}
	json_decref(failed);
	emit(srv, "host-drain-done", d->who, json_pack("{s:o}", "moved", moved),
	     "host %s: drained%s", "");
	return 0;
}

int api_host_drain(struct req *r)
{
	static const char *what = "a drain needs a cluster on the shared inventory (vsrv serve "
				  "--cluster URL --inventory etcd)";
	const char *me, *disks = "shared";
	struct drain_req *d;
	json_t *dv;
	int64_t task = 0;
	int rc;

	if (auth_require(r, "server", 0, PERM_CONTROL | PERM_MODIFY))
		return r->status;
	if (!r->srv->cluster || strcmp(inv_backend(r->srv->db), "etcd"))
		return req_error(r, -EBUSY, "%s", what);
	me = cluster_name(r->srv->cluster);
	if (strcmp(r->args[0], me))
		return forward(r, r->args[0]);
	if (!strcmp(r->method, "DELETE")) {
		rc = cluster_set_draining(r->srv->cluster, false);
		if (rc)
			return req_error(r, 503, "the cluster's store (etcd) does not answer");
		emit(r->srv, "host-undrained", r->who.name, NULL, "host %s: not draining any more%s",
		     "");
		r->out = json_pack("{s:s,s:b}", "host", me, "draining", 0);
		return 200;
	}
	dv = json_object_get(r->body, "disks");
	if ((r->body && (!json_is_object(r->body) || json_object_size(r->body) > (dv ? 1 : 0))) ||
	    (dv && !(disks = json_string_value(dv))) ||
	    (strcmp(disks, "shared") && strcmp(disks, "copy")))
		return req_error(r, -EINVAL, "the body is {\"disks\": \"shared\" (the default: "
				 "every host sees the same image files) or \"copy\"} or nothing");
	if (task_running(r->c, "host-drain", me))
		return req_error(r, -EBUSY, "host %s: a drain of it runs already", me);
	d = calloc(1, sizeof(*d));
	if (!d)
		return req_error(r, -ENOMEM, "out of memory");
	snprintf(d->disks, sizeof(d->disks), "%s", disks);
	snprintf(d->who, sizeof(d->who), "%s", r->who.name);
	rc = cluster_set_draining(r->srv->cluster, true);
	if (rc) {
		free(d);
		return req_error(r, 503, "the cluster's store (etcd) does not answer");
	}
	emit(r->srv, "host-drain-started", r->who.name, json_pack("{s:s}", "disks", disks),
	     "host %s: drain started%s", "");
	rc = task_start(r->srv, "host-drain", me, r->who.name, drain_run, d, free, &task);
	if (rc)
		return req_error(r, rc, "cannot start the task");
	r->out = json_pack("{s:I,s:s,s:b,s:s}", "task", (json_int_t)task, "host", me, "draining",
			   1, "disks", disks);
	r->status = 202;
	return 202;
}
