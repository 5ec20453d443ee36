/* A VM's undo disks after it ended (undo.h): GET /api/v1/vms/{name}/undo-disks lists those
 * on the host (kept by a keep stop, or left by a crash), POST ...?action=commit|discard
 * does later what the stop's ?undo= would have done, through the same code (undo_apply). */
#include "server/api.h"
#include "server/auth.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/tasks.h"
#include "server/undo.h"
#include "server/vmrow.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The VM's state into buf ("" when it has no row). */
static void vm_state(struct req *r, int64_t id, char *buf, size_t n)
{
	struct inv_vm_status st;

	buf[0] = '\0';
	if (inv_vm_get_status(r->c, id, &st))
		return;
	snprintf(buf, n, "%s", st.state);
	inv_vm_status_clear(&st);
}

/* inv_disk_each: stops at the disk whose file is the real path in arg[0], its name into
 * arg[1]. */
static int disk_with_path(const struct inv_disk *d, void *arg)
{
	char **want = arg, have[PATH_MAX];

	if (!realpath(d->path, have) || strcmp(have, want[0]))
		return 0;
	snprintf(want[1], 64, "%s", d->name);
	return 1;
}

/* The name of the inventory disk whose file is path (the parent an undo disk records), or
 * null: compared as real paths, so that a symbolic link or "//" does not hide it. */
static json_t *disk_named_by_path(struct req *r, const char *path)
{
	char want[PATH_MAX], name[64];
	char *arg[2] = { want, name };

	if (!path || !realpath(path, want))
		return json_null();
	return inv_disk_each(r->c, disk_with_path, arg) == 1 ? json_string(name) : json_null();
}

/* GET /api/v1/vms/{name}/undo-disks (view): 200 {"vm", "state", "committing", "undo_disks":
 * [...]}, 404 when the VM has none (or is missing, or hidden from the caller). */
int api_vm_undo_list(struct req *r)
{
	char state[32];
	json_t *a, *o;
	size_t i;
	int64_t id;

	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_VIEW))
		return r->status;
	a = undo_list_json(r->srv, id);
	if (!a)
		return req_error(r, -ENOMEM, "out of memory");
	if (!json_array_size(a)) {
		json_decref(a);
		return req_error(r, -ENOENT, "VM '%s' has no undo disks", r->args[0]);
	}
	/* "disk": the inventory's name for the file each one sits over; the path stays here. */
	json_array_foreach(a, i, o) {
		json_t *p = json_object_get(o, "parent");

		json_object_set_new(o, "disk", disk_named_by_path(r, json_string_value(p)));
		json_object_del(o, "parent");
	}
	vm_state(r, id, state, sizeof(state));
	r->out = json_pack("{s:s,s:s,s:b,s:o}", "vm", r->args[0], "state", state, "committing",
			   task_running(r->c, "undo-commit", r->args[0]), "undo_disks", a);
	return 200;
}

/* POST /api/v1/vms/{name}/undo-disks?action=commit|discard (control): commit starts the
 * undo-commit task (202 {"vm", "action", "count", "task"}), discard deletes them (200, task
 * null). 409 while the VM runs or a commit of its undo disks runs; 404 when it has none. */
int api_vm_undo_action(struct req *r)
{
	const char *action = req_query(r, "action");
	char state[32];
	int64_t id, task = 0;
	int count = 0, rc;

	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_CONTROL))
		return r->status;
	if (r->body && !(json_is_object(r->body) && json_object_size(r->body) == 0))
		return req_error(r, -EINVAL, "this action takes no body (or {})");
	if (!action || (strcmp(action, "commit") && strcmp(action, "discard")))
		return req_error(r, -EINVAL, "action: commit or discard (?action=commit)");
	vm_state(r, id, state, sizeof(state));
	if (strcmp(state, "stopped") && strcmp(state, "crashed"))
		return req_error(r, -EBUSY, "%s is %s: its undo disks are in use (turn it off, or "
				 "use ?undo= of off and shutdown)", r->args[0], state);
	if (task_running(r->c, "undo-commit", r->args[0]))
		return req_error(r, -EBUSY, "the undo disks of %s are being committed", r->args[0]);
	rc = undo_apply(r->srv, id, r->args[0], action, r->who.name, &count, &task);
	if (rc)
		return req_error(r, rc, "%s: cannot %s its undo disks: %s", r->args[0], action,
				 strerror(-rc));
	if (!count)
		return req_error(r, -ENOENT, "VM '%s' has no undo disks", r->args[0]);
	if (!task)
		events_emit(r->srv, r->c, "vm-undo-discarded", "vm", r->args[0], r->who.name,
			    json_pack("{s:i}", "count", count), "%d undo disk(s) of %s discarded by %s",
			    count, r->args[0], r->who.name);
	r->out = json_pack("{s:s,s:s,s:i,s:o}", "vm", r->args[0], "action", action, "count", count,
			   "task", task ? json_integer(task) : json_null());
	r->status = task ? 202 : 200;
	return r->status;
}
