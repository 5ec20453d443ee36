/* Tasks: GET /api/v1/tasks and /api/v1/tasks/{id}, filtered by what the caller may see. */
#include "server/api.h"
#include "server/auth.h"
#include "server/inv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static json_t *task_json(const struct inv_task *t)
{
	return json_pack("{s:I,s:s,s:s?,s:s,s:f,s:s?,s:s?,s:s?,s:f,s:o}", "id", (json_int_t)t->id,
			 "kind", t->kind, "object", t->object, "state", t->state,
			 "progress", t->progress, "error", t->error, "user", t->user,
			 "host", t->host, "created", t->created,
			 "finished", t->finished < 0 ? json_null() : json_real(t->finished));
}

/* May the caller see task t? Server viewers see all; others the tasks they started and
 * those of a VM (undo-commit) or disk (disk-copy, disk-convert: the new disk) they may
 * view (made by this VM or disk, not by an earlier one of the same name). */
static bool task_visible(struct dbc *c, const struct caller *who, bool all,
			 const struct inv_task *t)
{
	const char *kind = t->kind, *on = t->object, *user = t->user;
	bool vm = kind && !strcmp(kind, "undo-commit"), disk = kind && !strncmp(kind, "disk-", 5);
	int64_t id = -1;

	if (all || (user && who->user_id && !strcmp(user, who->name)))
		return true;
	if (!on || (!vm && !disk))
		return false;
	if (inv_object_id(c, vm ? "vm" : "disk", on, &id) || id < 0 ||
	    !(auth_perms(c, who, vm ? "vm" : "disk", id) & PERM_VIEW))
		return false;
	/* The name may have been another object's, deleted since: a task of this VM began
	 * after its creation, one that made this disk ended after it (Unix seconds). */
	if (vm) {
		struct inv_vm v = { 0 };
		bool ok = !inv_vm_get(c, id, &v) && t->created >= (double)v.created;

		inv_vm_clear(&v);
		return ok;
	} else {
		struct inv_disk *d = malloc(sizeof(*d));
		bool ok = d && !inv_disk_get(c, id, d) && t->finished >= (double)d->created;

		free(d);
		return ok;
	}
}

/* What task_add appends the tasks a caller may see to (at most 100). */
struct task_fill {
	struct req *r;
	bool all;
	json_t *a;
};

static int task_add(const struct inv_task *t, void *arg)
{
	struct task_fill *f = arg;

	if (task_visible(f->r->c, &f->r->who, f->all, t))
		json_array_append_new(f->a, task_json(t));
	return json_array_size(f->a) >= 100;
}

int api_task_list(struct req *r)
{
	struct task_fill f = { .r = r, .all = auth_perms(r->c, &r->who, "server", 0) & PERM_VIEW,
			       .a = json_array() };

	if (inv_task_each(r->c, task_add, &f) < 0) {
		json_decref(f.a);
		return req_error(r, -EIO, "inventory error");
	}
	r->out = json_pack("{s:o}", "tasks", f.a);
	return 200;
}

int api_task_get(struct req *r)
{
	char *end;
	long long id = strtoll(r->args[0], &end, 10);
	struct task_fill f = { .r = r, .all = auth_perms(r->c, &r->who, "server", 0) & PERM_VIEW };

	if (*end || id <= 0)
		return req_error(r, -EINVAL, "a task id is a positive integer");
	f.a = json_array();
	if (inv_task_get(r->c, id, task_add, &f) == -EIO) {
		json_decref(f.a);
		return req_error(r, -EIO, "inventory error");
	}
	r->out = json_incref(json_array_get(f.a, 0));
	json_decref(f.a);
	/* One the caller may not see answers as a missing one. */
	if (!r->out)
		return req_error(r, -ENOENT, "no task %lld", id);
	return 200;
}
