/* Disk conversion and copy as tasks: POST /api/v1/disks/{name}/convert and /copy. The
 * target file is created (sparse) on the request's thread, which reserves its name; a task
 * then copies the source's data through the disk layer (src/disk: raw, fixed, dynamic and
 * differencing VHDs read alike), skipping zero chunks so that the target stays sparse,
 * with progress; at the end the target's inventory row is committed with its event. A
 * failed task leaves no file and no row. */
#include "server/api.h"
#include "server/auth.h"
#include "server/diskimg.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/quota.h"
#include "server/space.h"
#include "server/tasks.h"
#include "server/valid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct copy_job {
	char src[4400], dst[4400];
	char src_fmt[16], dst_fmt[16];
	char name[64];           /* the new disk */
	char src_name[64];       /* the disk copied (its path is the host's business) */
	char who[64];
	int64_t owner;           /* user id holding full rights on the new disk, or 0 */
	uint64_t size;           /* the target's virtual size */
};

static void copy_progress(void *t, double fraction)
{
	task_progress(t, fraction);
}

/* api_disk_record's one attempt: 0 (committed), or -errno with err set for a quota
 * refusal (rolled back; -EAGAIN when the commit met a concurrent write). */
static int record_once(struct task *t, struct dbc *c, const char *name, const char *format,
		       uint64_t size, const char *path, int64_t owner, const char *who,
		       const char *from, char *err, size_t errlen)
{
	struct inv_disk *d = calloc(1, sizeof(*d));
	int64_t id = 0;
	int rc = d ? 0 : -ENOMEM;

	/* the owner's quota, in this transaction: the request's check may have been overtaken
	 * by another create of the same user while the task ran */
	if (d)
		rc = quota_admit(c, owner, &(struct inv_quota){ .disks = 1, .disk_bytes = (int64_t)size },
				 err, errlen);
	if (d && !rc) {
		snprintf(d->name, sizeof(d->name), "%s", name);
		snprintf(d->format, sizeof(d->format), "%s", format);
		d->size = (int64_t)size;
		snprintf(d->path, sizeof(d->path), "%s", path);
		rc = inv_disk_create(c, d, &id);
	}
	free(d);
	if (!rc && owner)
		rc = inv_grant_add(c, "disk", id, "user", owner, PERM_FULL);
	if (!rc && owner)
		rc = inv_owner_set(c, "disk", id, owner);
	if (!rc)
		rc = events_emit(task_server(t), c, "disk-created", "disk", name, who, NULL,
				 "disk %s created by %s (from %s)", name, who, from);
	if (!rc)
		rc = inv_commit(c);
	if (rc)
		inv_rollback(c);
	return rc;
}

int api_disk_record(struct task *t, struct dbc *c, const char *name, const char *format,
		    uint64_t size, const char *path, int64_t owner, const char *who,
		    const char *from)
{
	char err[512] = "";
	int tries = 0, rc;

	/* etcd: a commit that lost to another write of the owner (the quota's usage read:
	 * inv_etcd_quota.c) wrote nothing; again, from the check */
	while ((rc = record_once(t, c, name, format, size, path, owner, who, from, err,
				 sizeof(err))) == -EAGAIN && ++tries < INV_COMMIT_TRIES && !(rc = inv_begin(c)))
		;
	if (rc) {
		if (err[0])
			task_error(t, "cannot record disk %s: %s", name, err);
		else
			task_error(t, rc == -EEXIST ? "a disk named '%s' appeared meanwhile" :
				   "inventory error recording disk %s", name);
	}
	return rc;
}

static int copy_run(struct task *t, void *arg)
{
	struct copy_job *j = arg;
	struct server *srv = task_server(t);
	struct dbc *c;
	char err[600];
	int rc = diskimg_copy(j->src, j->src_fmt, j->dst, j->dst_fmt, copy_progress, t, err,
			      sizeof(err));

	if (rc) {
		task_error(t, "%s", err);
		goto err_file;
	}
	c = inv_get(srv->db);
	if (!c) {
		rc = -EIO;
		goto err_file;
	}
	rc = inv_begin(c);
	if (!rc) {
		char from[80];

		snprintf(from, sizeof(from), "disk %s", j->src_name);
		rc = api_disk_record(t, c, j->name, j->dst_fmt, j->size, j->dst, j->owner, j->who,
				     from);
	}
	inv_put(c);
err_file:
	if (rc)
		unlink(j->dst);
	return rc;
}

/* POST /api/v1/disks/{name}/convert {"name", "format", "subformat"} and
 * /copy {"name", "subformat"}: 202 with the task. */
/* inv_disk_users: whether a VM that is not off (stopped or crashed) has the disk, writable
 * only when *(bool *)arg says so; 1 ends the walk. */
static int used_by_up_vm(const struct inv_vm *v, const struct inv_vm_disk *d, void *arg)
{
	bool writable_only = *(bool *)arg;

	if (!strcmp(v->state, INV_VM_STOPPED) || !strcmp(v->state, INV_VM_CRASHED))
		return 0;
	return writable_only && d->readonly ? 0 : 1;
}

int api_disk_action(struct req *r)
{
	static const char *const formats[] = { "raw", "vhd", NULL };
	static const char *const subformats[] = { "dynamic", "fixed", NULL };
	static const struct valid_field f[] = {
		{ "name", V_STR, 1, 0, 63, K_NAME, NULL },
		{ "format", V_STR, 0, 0, 8, K_ENUM, formats },
		{ "subformat", V_STR, 0, 0, 8, K_ENUM, subformats },
		{ NULL, 0, 0, 0, 0, 0, NULL },
	};
	bool convert = !strcmp(r->args[1], "convert");
	const char *fmt, *sub;
	struct copy_job *j;
	char err[512], oname[64], dst[4400];
	uint64_t actual = 0;
	int64_t id = -1, tid = 0;
	int busy = 0, exists = 0, rc;

	if (!convert && strcmp(r->args[1], "copy"))
		return req_error(r, -ENOENT, "no such endpoint (disks have convert and copy)");
	j = calloc(1, sizeof(*j));
	if (!j)
		return req_error(r, -ENOMEM, "out of memory");
	snprintf(oname, sizeof(oname), "%s", r->args[0]);
	{
		struct inv_disk *d = malloc(sizeof(*d));

		if (d && !inv_object_id(r->c, "disk", oname, &id) && !inv_disk_get(r->c, id, d)) {
			snprintf(j->src, sizeof(j->src), "%s", d->path);
			snprintf(j->src_fmt, sizeof(j->src_fmt), "%s", d->format);
			j->size = d->size;
		} else {
			id = -1;
		}
		free(d);
	}
	if (id >= 0) {
		bool writable_only = true;

		busy = inv_disk_users(r->c, id, used_by_up_vm, &writable_only) == 1;
	}
	if (id < 0) {
		free(j);
		return auth_missing(r, "disk", oname);
	}
	/* A copy holds the disk's data: as attaching it, that needs control on it. */
	if (auth_require_object(r, "disk", id, oname, PERM_VIEW | PERM_CONTROL) ||
	    auth_require(r, "server", 0, PERM_MODIFY)) {
		free(j);
		return r->status;
	}
	if (!r->body || valid_object(r->body, f, err, sizeof(err))) {
		free(j);
		return req_error(r, -EINVAL, "%s", r->body ? err : "the body must be {\"name\": ...}");
	}
	fmt = json_string_value(json_object_get(r->body, "format"));
	sub = json_string_value(json_object_get(r->body, "subformat"));
	if (!convert && fmt) {
		free(j);
		return req_error(r, -EINVAL, "format: copy keeps the format (use convert)");
	}
	if (!fmt)
		fmt = j->src_fmt;
	if (sub && strcmp(fmt, "vhd")) {
		free(j);
		return req_error(r, -EINVAL, "subformat: only for format vhd");
	}
	if (busy) {
		free(j);
		return req_error(r, -EBUSY, "disk %s is written by a running VM: stop it first", oname);
	}
	snprintf(j->name, sizeof(j->name), "%s", json_string_value(json_object_get(r->body, "name")));
	snprintf(j->dst_fmt, sizeof(j->dst_fmt), "%s", fmt);
	snprintf(j->who, sizeof(j->who), "%s", r->who.name);
	snprintf(j->src_name, sizeof(j->src_name), "%s", oname);
	j->owner = !r->who.admin ? r->who.user_id : 0;
	{
		int64_t other;

		exists = inv_object_id(r->c, "disk", j->name, &other) == 0;
	}
	if (exists || task_running(r->c, convert ? "disk-convert" : "disk-copy", j->name)) {
		free(j);
		return req_error(r, -EEXIST, "a disk named '%s' exists", json_string_value(
					 json_object_get(r->body, "name")));
	}
	rc = space_admit(r->srv, r->c, j->size, err, sizeof(err));
	/* (the task checks again when it records the disk: api_disk_record) */
	if (!rc)
		rc = quota_admit(r->c, j->owner, &(struct inv_quota){ .disks = 1,
				 .disk_bytes = (int64_t)diskimg_rounded(fmt, j->size) }, err,
				 sizeof(err));
	if (rc) {
		free(j);
		return req_error(r, rc == -ENOSPC ? 507 : rc, "cannot copy disk %s: %s", oname, err);
	}
	/* The target file reserves the name (a disk create of it gets EEXIST meanwhile). */
	snprintf(j->dst, sizeof(j->dst), "%s/disks/%s.%s", r->srv->data_dir, j->name, fmt);
	rc = diskimg_create(j->dst, fmt, sub, j->size, &actual, err, sizeof(err));
	if (rc) {
		free(j);
		return req_error(r, rc == -EEXIST ? -EEXIST : -EIO, "cannot create %s: %s",
				 json_string_value(json_object_get(r->body, "name")), err);
	}
	j->size = actual;
	snprintf(dst, sizeof(dst), "%s", j->dst);
	rc = task_start(r->srv, convert ? "disk-convert" : "disk-copy", j->name, r->who.name, copy_run, j,
			free, &tid);
	if (rc) {
		unlink(dst);   /* j is freed by task_start, but not its file */
		return req_error(r, rc, "cannot start the task");
	}
	r->out = json_pack("{s:I,s:s,s:s}", "task", (json_int_t)tid, "disk", json_string_value(
				   json_object_get(r->body, "name")), "source", oname);
	r->status = 202;
	return 202;
}
