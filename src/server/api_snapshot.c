/* A VM's snapshot tree (snapshot.h): GET /api/v1/vms/{name}/snapshots lists it (view),
 * POST takes one, POST .../snapshots/{snap}/revert goes back to one, DELETE
 * .../snapshots/{snap} starts the task that deletes one (control on the VM for the
 * three). */
#include "server/api.h"
#include "server/auth.h"
#include "server/inv.h"
#include "server/snapshot.h"
#include "server/valid.h"
#include "server/vmrow.h"

#include <errno.h>
#include <string.h>

static json_t *tree(struct req *r, int64_t id)
{
	json_t *o = snapshot_list_json(r->c, id);

	if (o)
		json_object_set_new(o, "vm", json_string(r->args[0]));
	return o;
}

int api_vm_snapshot_list(struct req *r)
{
	int64_t id;

	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_VIEW))
		return r->status;
	r->out = tree(r, id);
	return r->out ? 200 : req_error(r, -EIO, "inventory error");
}

int api_vm_snapshot_create(struct req *r)
{
	static const struct valid_field f[] = {
		{ "name", V_STR, 1, 0, 63, K_NAME, NULL },
		{ "description", V_STR, 0, 0, 1024, K_TEXT, NULL },
		{ "memory", V_BOOL, 0, 0, 0, 0, NULL },
		{ NULL, 0, 0, 0, 0, 0, NULL },
	};
	char err[600];
	json_t *mem;
	int64_t id;
	int rc;

	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_CONTROL))
		return r->status;
	if (!r->body || valid_object(r->body, f, err, sizeof(err)))
		return req_error(r, -EINVAL, "%s", r->body ? err : "the body must be {\"name\": ...}");
	mem = json_object_get(r->body, "memory");
	rc = snapshot_take(r->srv, r->c, id, r->args[0],
			   json_string_value(json_object_get(r->body, "name")),
			   json_string_value(json_object_get(r->body, "description")),
			   mem ? json_is_true(mem) : -1, r->who.name, err, sizeof(err));
	if (rc)
		return req_error(r, rc == -ENOSPC ? 507 : rc, "%s", err);
	r->out = tree(r, id);
	r->status = 201;
	return 201;
}

int api_vm_snapshot_revert(struct req *r)
{
	char err[600];
	int64_t id;
	int rc;

	if (strcmp(r->args[2], "revert"))
		return req_error(r, -ENOENT, "no such action (a snapshot has revert)");
	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_CONTROL))
		return r->status;
	if (r->body && !(json_is_object(r->body) && json_object_size(r->body) == 0))
		return req_error(r, -EINVAL, "revert takes no body (or {})");
	rc = snapshot_revert(r->srv, r->c, id, r->args[0], r->args[1], r->who.name, err,
			     sizeof(err));
	if (rc)
		return req_error(r, rc, "%s", err);
	r->out = tree(r, id);
	return 200;
}

int api_vm_snapshot_delete(struct req *r)
{
	char err[600];
	int64_t id, task = 0;
	int rc;

	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_CONTROL))
		return r->status;
	rc = snapshot_delete(r->srv, r->c, id, r->args[0], r->args[1], r->who.name, &task, err,
			     sizeof(err));
	if (rc)
		return req_error(r, rc, "%s", err);
	r->out = json_pack("{s:I,s:s,s:s}", "task", (json_int_t)task, "vm", r->args[0],
			   "snapshot", r->args[1]);
	r->status = 202;
	return 202;
}
