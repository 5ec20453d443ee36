/* A VM's snapshot tree (snapshot.h): GET /api/v1/vms/{name}/snapshots lists it (view),
 * POST takes one, POST .../snapshots/{snap}/revert goes back to one, DELETE
 * .../snapshots/{snap} starts the task that deletes one (control on the VM for the
 * three). A take or revert with memory that starts the VM waits for the host's start
 * lock parked (api_start_locked), holding no HTTP thread. */
#include "server/api.h"
#include "server/auth.h"
#include "server/inv.h"
#include "server/snapshot.h"
#include "server/sup.h"
#include "server/valid.h"
#include "server/vmrow.h"

#include <errno.h>
#include <stdlib.h>
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

/* The answer to a snapshot's take (rc, err). */
static int take_answer(struct req *r, int64_t id, int rc, const char *err)
{
	if (rc)
		return req_error(r, rc == -ENOSPC ? 507 : rc, "%s", err);
	r->out = tree(r, id);
	r->status = 201;
	return 201;
}

/* A snapshot with memory of a VM that ran: saved for it, to start again. */
struct take_again {
	struct snapshot_again a;
	char err[600];
};

/* The start again of VM id saved for its snapshot (api_start_locked's locked). */
static int take_start(struct req *r, int64_t id, void *arg)
{
	struct take_again *t = arg;
	int rc = sup_start_held(r->srv, r->c, id, r->who.name);

	sup_start_unlock(r->srv);
	rc = snapshot_take_started(r->srv, r->c, id, r->args[0],
				   json_string_value(json_object_get(r->body, "name")),
				   r->who.name, &t->a, rc, t->err, sizeof(t->err));
	return take_answer(r, id, rc, t->err);
}

int api_vm_snapshot_create(struct req *r)
{
	static const struct valid_field f[] = {
		{ "name", V_STR, 1, 0, 63, K_NAME, NULL },
		{ "description", V_STR, 0, 0, 1024, K_TEXT, NULL },
		{ "memory", V_BOOL, 0, 0, 0, 0, NULL },
		{ NULL, 0, 0, 0, 0, 0, NULL },
	};
	struct take_again *t;
	json_t *mem;
	int64_t id;
	int rc;

	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_CONTROL))
		return r->status;
	t = calloc(1, sizeof(*t));
	if (!t)
		return req_error(r, -ENOMEM, "out of memory");
	if (!r->body || valid_object(r->body, f, t->err, sizeof(t->err))) {
		req_error(r, -EINVAL, "%s", r->body ? t->err : "the body must be {\"name\": ...}");
		free(t);
		return r->status;
	}
	mem = json_object_get(r->body, "memory");
	rc = snapshot_take(r->srv, r->c, id, r->args[0],
			   json_string_value(json_object_get(r->body, "name")),
			   json_string_value(json_object_get(r->body, "description")),
			   mem ? json_is_true(mem) : -1, r->who.name, &t->a, t->err, sizeof(t->err));
	if (rc == 1) {  /* saved for it: its start again waits for the start lock parked */
		r->resume_must = true;      /* (and is made whatever its client does) */
		return api_start_locked(r, id, take_start, t);
	}
	rc = take_answer(r, id, rc, t->err);
	free(t);
	return rc;
}

/* The start of VM id that restores the snapshot it was reverted to (api_start_locked's
 * locked). */
static int revert_start(struct req *r, int64_t id, void *arg)
{
	int rc = sup_start_held(r->srv, r->c, id, r->who.name);

	(void)arg;
	sup_start_unlock(r->srv);
	if (rc)
		return req_error(r, -EIO, "reverted to %s, but %s did not start: %s; it is saved at "
				 "the snapshot: start it again", r->args[1], r->args[0], strerror(-rc));
	r->out = tree(r, id);
	return 200;
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
	if (rc == 1) {  /* with memory: its start waits for the start lock parked */
		r->resume_must = true;      /* (reverted: it is made whatever its client does) */
		return api_start_locked(r, id, revert_start, NULL);
	}
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
