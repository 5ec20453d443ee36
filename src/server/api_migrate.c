/* Live migration's endpoints (migrate.h; docs/cluster.md "Live migration"):
 * POST /api/v1/vms/{name}/migrate (the source: 202 with the task) and the destination's
 * POST, DELETE /api/v1/vms/{name}/incoming and POST .../incoming/commit, which only the
 * cluster's hosts call, with their own credential (cluster_peer.c; the user the source acts
 * for in X-Vsrv-By). All need a cluster and the shared inventory (etcd); migrate needs
 * control on the VM. */
#include "server/api.h"
#include "server/auth.h"
#include "server/cluster.h"
#include "server/hostkvm.h"
#include "server/inv.h"
#include "server/migrate.h"
#include "server/tasks.h"
#include "server/vmrow.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The VM (control on it; on the .../incoming endpoints, which only a host with its own
 * credential reaches (ROUTE_PEER), the source checked that) in a cluster on the shared
 * inventory: 0 and *id, or the answer's status. */
static int lookup(struct req *r, int64_t *id)
{
	if (vm_lookup(r, id) ||
	    (!r->who.host[0] && auth_require_object(r, "vm", *id, r->args[0], PERM_CONTROL)))
		return r->status;
	if (!r->srv->cluster || strcmp(inv_backend(r->srv->db), "etcd"))
		return req_error(r, -EBUSY, "live migration needs a cluster on the shared inventory "
				 "(vsrv serve --cluster URL --inventory etcd)");
	return 0;
}

static bool only_keys(json_t *o, const char *const *keys)
{
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach(o, k, v) {
		for (i = 0; keys[i] && strcmp(keys[i], k); i++)
			;
		if (!keys[i])
			return false;
	}
	return true;
}

int api_vm_migrate(struct req *r)
{
	static const char *const keys[] = { "to", "disks", "max_downtime_ms", NULL };
	struct migrate_req q = { .max_downtime_ms = -1 };
	const char *to, *disks = "shared";
	char owner[64] = "", state[16] = "";
	json_t *md;
	struct inv_vm vm;
	int64_t id, task = 0;
	bool undo;
	int rc;

	if (lookup(r, &id))
		return r->status;
	to = json_string_value(json_object_get(r->body, "to"));
	md = json_object_get(r->body, "max_downtime_ms");
	if (!json_is_object(r->body) || !only_keys(r->body, keys) || !to || !*to ||
	    (json_object_get(r->body, "disks") &&
	     !(disks = json_string_value(json_object_get(r->body, "disks")))) ||
	    (strcmp(disks, "shared") && strcmp(disks, "copy")) ||
	    (md && (!json_is_integer(md) || json_integer_value(md) < 0 ||
		    json_integer_value(md) > 600000)))
		return req_error(r, -EINVAL, "the body is {\"to\": HOST, \"disks\": \"shared\" (the "
				 "default: both hosts see the same image files) or \"copy\", "
				 "\"max_downtime_ms\": 0 to 600000 (optional)}");
	if (!strcmp(to, cluster_name(r->srv->cluster)))
		return req_error(r, -EINVAL, "to: %s runs on this host (%s) already", r->args[0], to);
	rc = inv_vm_get(r->c, id, &vm);
	if (rc)
		return req_error(r, rc, "%s: cannot read it", r->args[0]);
	snprintf(state, sizeof(state), "%s", vm.state);
	undo = strcmp(vm.undo_disks, "off") != 0;
	inv_vm_clear(&vm);
	if (undo)
		return req_error(r, -EBUSY, "%s: a VM with undo disks does not migrate (they are in "
				 "its directory on this host)", r->args[0]);
	if (strcmp(state, INV_VM_RUNNING))
		return req_error(r, -EBUSY, "%s: only a running VM migrates (it is %s)", r->args[0],
				 state);
	rc = cluster_vm_owner(r->srv->cluster, r->args[0], owner, sizeof(owner));
	if (rc == -ENOENT)
		return req_error(r, -EBUSY, "%s: no host holds its ownership key (it is not "
				 "running)", r->args[0]);
	if (rc)
		return req_error(r, 503, "the cluster's store (etcd) does not answer");
	if (strcmp(owner, cluster_name(r->srv->cluster)))
		return req_error(r, -EBUSY, "%s: runs on host %s: send the migration there",
				 r->args[0], owner);
	rc = cluster_host_api_url(r->srv->cluster, to, q.url, sizeof(q.url));
	if (rc == -ENOENT)
		return req_error(r, -EINVAL, "to: no host %s in the cluster", to);
	if (rc == -EHOSTDOWN)
		return req_error(r, -EBUSY, "to: host %s is not alive (its lease is gone)", to);
	if (rc)
		return req_error(r, 503, "the cluster's store (etcd) does not answer");
	if (task_running(r->c, "vm-migrate", r->args[0]))
		return req_error(r, -EBUSY, "%s: a migration of it runs already", r->args[0]);
	q.id = id;
	snprintf(q.name, sizeof(q.name), "%s", r->args[0]);
	snprintf(q.to, sizeof(q.to), "%s", to);
	snprintf(q.disks, sizeof(q.disks), "%s", disks);
	if (md)
		q.max_downtime_ms = json_integer_value(md);
	snprintf(q.who, sizeof(q.who), "%s", r->who.name);
	rc = migrate_task_start(r->srv, &q, &task);
	if (rc == -EBUSY)
		return req_error(r, rc, "%s: a live snapshot of it is being taken: migrate it "
				 "after", q.name);
	if (rc)
		return req_error(r, rc, "cannot start the task");
	r->out = json_pack("{s:I,s:s,s:s,s:s,s:s}", "task", (json_int_t)task, "vm", q.name,
			   "from", cluster_name(r->srv->cluster), "to", q.to, "disks", q.disks);
	r->status = 202;
	return 202;
}

int api_vm_incoming(struct req *r)
{
	static const char *const keys[] = { "from", "disks", NULL };
	const char *from, *disks = "shared";
	char addr[128], err[600] = "";
	int64_t id;
	int rc;

	if (lookup(r, &id))
		return r->status;
	if (!strcmp(r->method, "DELETE")) {
		if (migrate_incoming_abort(r->srv, id))
			return req_error(r, -ENOENT, "%s: no incoming migration of it on this host",
					 r->args[0]);
		r->out = json_pack("{s:s,s:b}", "vm", r->args[0], "aborted", 1);
		return 200;
	}
	from = json_string_value(json_object_get(r->body, "from"));
	if (!json_is_object(r->body) || !only_keys(r->body, keys) || !from ||
	    (json_object_get(r->body, "disks") &&
	     !(disks = json_string_value(json_object_get(r->body, "disks")))) ||
	    (strcmp(disks, "shared") && strcmp(disks, "copy")))
		return req_error(r, -EINVAL, "the body is {\"from\": HOST, \"disks\": \"shared\" or "
				 "\"copy\"}");
	/* refused before anything is prepared: no VMM can run here */
	if (hostkvm_check(err, sizeof(err)))
		return req_error(r, 503, "%s: host %s cannot take it: %s", r->args[0],
				 cluster_name(r->srv->cluster), err);
	rc = migrate_incoming_prepare(r->srv, r->c, id, r->args[0], from, disks, addr, sizeof(addr),
				      err, sizeof(err));
	if (rc == -EIO || rc == -ETIMEDOUT)
		return req_error(r, 503, "%s", err);
	if (rc)
		return req_error(r, rc, "%s", err);
	r->out = json_pack("{s:s,s:s,s:s}", "vm", r->args[0], "host",
			   cluster_name(r->srv->cluster), "address", addr);
	return 200;
}

int api_vm_incoming_commit(struct req *r)
{
	char err[600] = "";
	int64_t id;
	int rc;

	if (lookup(r, &id))
		return r->status;
	if (r->body && !(json_is_object(r->body) && json_object_size(r->body) == 0))
		return req_error(r, -EINVAL, "commit takes no body (or {})");
	rc = migrate_incoming_commit(r->srv, r->c, id, r->args[0], r->who.name, err, sizeof(err));
	if (rc == -EADDRINUSE)
		rc = -EBUSY;
	/* not recorded (etcd did not answer): the source may try again */
	if (rc == -EIO || rc == -ETIMEDOUT || rc == -ECONNREFUSED || rc == -ENOTCONN ||
	    rc == -EHOSTUNREACH)
		return req_error(r, 503, "%s", err);
	if (rc)
		return req_error(r, rc, "%s", err);
	r->out = vm_json(r->srv, r->c, id, 0);
	return r->out ? 200 : req_error(r, -ENOENT, "the VM went away");
}
