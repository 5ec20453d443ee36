/* The source's side of a live migration (migrate.h): the task "vm-migrate". */
#include "server/migrate.h"
#include "server/sup_int.h"
#include "server/cluster.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/snaplive.h"
#include "server/tasks.h"
#include "server/vmctl.h"
#include "server/vmdir.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIG_PEER_MS 30000           /* one call to the other host */
#define MIG_VMM_MS (3600 * 1000)    /* the VMM's migrate answers within this */

/* The error message of a peer's answer, or what happened. */
static const char *answer_message(json_t *ans, const char *err)
{
	const char *m = json_string_value(json_object_get(json_object_get(ans, "error"),
							  "message"));
	return m ? m : err;
}

/* One call to the destination's .../incoming[suffix]: 0 and *ans, or -errno with why set. */
static int call_dest(const struct migrate_req *q, const char *method, const char *suffix,
		     json_t *body, json_t **ans, char *why, size_t n)
{
	char path[256], err[300] = "";
	long st = 0;
	int rc;

	snprintf(path, sizeof(path), "/api/v1/vms/%s/incoming%s", q->name, suffix);
	rc = migrate_peer_call_by(q->url, method, path, q->cred, q->who, body, MIG_PEER_MS, &st,
				  ans, err, sizeof(err));
	if (!rc && (st < 200 || st > 299))
		rc = st == 404 ? -ENOENT : -EREMOTEIO;
	if (rc)
		snprintf(why, n, "host %s (%.200s): %.400s", q->to, q->url, answer_message(*ans, err));
	return rc;
}

/* Kill the destination's VMM (it has not taken over): logged when that fails. */
static void abort_dest(const struct migrate_req *q)
{
	char why[600];
	json_t *ans = NULL;
	int rc = call_dest(q, "DELETE", "", NULL, &ans, why, sizeof(why));

	if (rc && rc != -ENOENT)
		vsrv_log("vm %s: cannot abort the incoming migration on %s", q->name, why);
	json_decref(ans);
}

/* An event (and a state, when not NULL) of the VM under one transaction. */
static void record(struct server *srv, const struct migrate_req *q, const char *state,
		   const char *type, json_t *data, const char *fmt, const char *arg)
{
	struct dbc *c = inv_get(srv->db);
	int rc = c ? inv_begin(c) : -EIO;

	if (!rc && state)
		rc = inv_vm_set_state(c, q->id, state, 0, NULL);
	if (!rc)
		rc = events_emit(srv, c, type, "vm", q->name, q->who, data, fmt, q->name, arg);
	else
		json_decref(data);
	if (!rc)
		rc = inv_commit(c);
	else if (c)
		inv_rollback(c);
	if (rc)
		vsrv_log("vm %s: cannot record %s: %s", q->name, type, strerror(-rc));
	if (c)
		inv_put(c);
}

/* Whether VM id's run here has ended with status 0 (its monitor gone and recorded, the exit
 * file saying so), waiting up to wait_ms for the supervisor to see it. */
static bool ended_handed_over(struct server *srv, int64_t id, int wait_ms)
{
	char dir[4096], p[4200], ex[64] = "";
	int ms;

	for (ms = 0; ms < wait_ms && sup_incoming_add(srv, id, "", 0, false); ms += 50)
		usleep(50000);
	if (sup_incoming_add(srv, id, "", 0, false) || vmdir_path(srv, id, dir, sizeof(dir)))
		return false;
	snprintf(p, sizeof(p), "%s/exit", dir);
	return !sup_read_small(p, ex, sizeof(ex)) && !strncmp(ex, "exited 0", 8) &&
	       (ex[8] == '\n' || !ex[8]);
}

static int fail(struct task *t, const struct migrate_req *q, bool dest, const char *why)
{
	if (dest)
		abort_dest(q);
	record(task_server(t), q, NULL, "vm-migrate-failed",
	       json_pack("{s:s,s:s,s:s}", "from", cluster_name(task_server(t)->cluster), "to",
			 q->to, "reason", why),
	       "%s: the migration failed (it runs on here): %s", why);
	task_error(t, "%s", why);
	return -EIO;
}

static int mig_run(struct task *t, void *arg)
{
	const struct migrate_req *q = arg;
	struct server *srv = task_server(t);
	const char *me = cluster_name(srv->cluster), *addr;
	char why[700], owner[64] = "";
	json_t *ans = NULL, *msg, *rep = NULL, *data, *body;
	int rc, tries;

	/* 1. the destination prepares it: a VMM listening, not recorded there */
	body = json_pack("{s:s,s:s}", "from", me, "disks", q->disks);
	rc = call_dest(q, "POST", "", body, &ans, why, sizeof(why));
	json_decref(body);
	addr = json_string_value(json_object_get(ans, "address"));
	if (!rc && !addr) {
		snprintf(why, sizeof(why), "host %s answered no address", q->to);
		rc = -EPROTO;
	}
	if (rc) {
		json_decref(ans);
		return fail(t, q, rc == -ETIMEDOUT, why);
	}
	task_progress(t, 0.1);
	/* 2. this host's VMM sends it there; its end is not recorded as an exit (sup.c) */
	if (sup_mark_migrate(srv, q->id, 1) < 0) {
		json_decref(ans);
		snprintf(why, sizeof(why), "%s does not run under this host's supervisor (or is "
			 "being stopped, saved or migrated)", q->name);
		return fail(t, q, true, why);
	}
	msg = json_pack("{s:s,s:s,s:s}", "cmd", "migrate", "to", addr, "disks", q->disks);
	json_decref(ans);
	if (msg && q->max_downtime_ms >= 0)
		json_object_set_new(msg, "max_downtime_ms", json_integer(q->max_downtime_ms));
	rc = msg ? vmctl_send(srv, q->id, msg, MIG_VMM_MS, &rep) : -ENOMEM;
	json_decref(msg);
	if (rc == -EPROTO || (rc && !ended_handed_over(srv, q->id, 10000))) {
		const char *e = json_string_value(json_object_get(rep, "error"));

		snprintf(why, sizeof(why), "its VMM: %s", rc == -EPROTO && e ? e : strerror(-rc));
		json_decref(rep);
		if (sup_mark_migrate(srv, q->id, 0) < 0 && ended_handed_over(srv, q->id, 0)) {
			/* it ended here meanwhile with status 0 (the guest powered off): not
			 * recorded as an exit (sup.c), so here */
			abort_dest(q);
			record(srv, q, INV_VM_STOPPED, "vm-migrate-failed",
			       json_pack("{s:s,s:s,s:s}", "from", me, "to", q->to, "reason", why),
			       "%s: the migration failed and the VM has ended: %s", why);
			cluster_vm_release(srv->cluster, q->name);
			task_error(t, "%s", why);
			return -EIO;
		}
		return fail(t, q, true, why);
	}
	task_progress(t, 0.9);
	/* 3. the hand-over: the key and the placement to the destination, in one Txn */
	rc = cluster_vm_move(srv->cluster, q->name, q->to);
	if (rc == -ETIMEDOUT && !cluster_vm_owner(srv->cluster, q->name, owner, sizeof(owner)) &&
	    !strcmp(owner, q->to))
		rc = 0;
	if (rc) {
		/* The guest left this host's VMM (it handed over) but the key stays here: the
		 * destination's VMM is killed, so it runs nowhere rather than unrecorded. */
		json_decref(rep);
		snprintf(why, sizeof(why), "its ownership key could not move to host %s (%s): the "
			 "VM has ended", q->to, rc == -EHOSTDOWN ? "that host's lease is gone" :
			 rc == -EAGAIN ? "it changed meanwhile" : strerror(-rc));
		abort_dest(q);
		record(srv, q, INV_VM_CRASHED, "vm-migrate-failed",
		       json_pack("{s:s,s:s,s:s}", "from", me, "to", q->to, "reason", why),
		       "%s: the migration failed: %s", why);
		cluster_vm_release(srv->cluster, q->name);
		task_error(t, "%s", why);
		return -EIO;
	}
	/* 4. the destination records its run (its status: running there) */
	for (tries = 0; tries < 5; tries++) {
		ans = NULL;
		body = json_object();
		rc = call_dest(q, "POST", "/commit", body, &ans, why, sizeof(why));
		json_decref(body);
		json_decref(ans);
		if (!rc || rc == -ENOENT || rc == -EREMOTEIO)
			break;
		sleep(1);
	}
	if (rc)
		vsrv_log("vm %s: host %s holds it now but did not record its run: %s", q->name,
			 q->to, why);
	data = json_pack("{s:s,s:s,s:s}", "from", me, "to", q->to, "disks", q->disks);
	if (data && rep)
		json_object_update_missing(data, rep);
	json_object_del(data, "ok");
	json_object_del(data, "state");
	json_decref(rep);
	record(srv, q, NULL, "vm-migrated", data, "%s migrated to host %s", q->to);
	return 0;
}

int migrate_task_start(struct server *srv, const struct migrate_req *q, int64_t *task)
{
	struct migrate_req *j = malloc(sizeof(*j));
	int rc;

	if (!j)
		return -ENOMEM;
	*j = *q;
	/* not while a live snapshot of it runs (snaplive.h): claimed while the task starts, so
	 * that a live snapshot starting meanwhile sees either the claim or the task */
	rc = snaplive_claim(srv, q->id);
	if (rc) {
		free(j);
		return rc;
	}
	if (cluster_peer_auth(srv->cluster, j->cred, sizeof(j->cred))) {
		snaplive_release(srv, q->id);
		free(j);
		return -EINVAL;
	}
	rc = task_start(srv, "vm-migrate", q->name, q->who, mig_run, j, free, task);
	snaplive_release(srv, q->id);
	return rc;
}
