/* DELETE /api/v1/vms/{name}: the VM (off or saved: its saved state goes with its directory)
 * with its grants, snapshots and undo disks; with
 * ?disks=true also the disks no other VM has that the caller may delete. Disk layers (layers.h) go with it, but for
 * what a linked clone still needs: a frozen image stays while anything sits over it, also
 * a deleted disk's own file. */
#include "server/api.h"
#include "server/auth.h"
#include "server/cgroup.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/layers.h"
#include "server/snapmem.h"
#include "server/snapshot.h"
#include "server/sup.h"
#include "server/tasks.h"
#include "server/vmrow.h"
#include "server/vmdir.h"
#include "server/vmsave.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool vm_is_off(struct req *r, int64_t id)
{
	struct inv_vm_status v;
	bool off;

	if (inv_vm_get_status(r->c, id, &v))
		return false;
	/* a saved VM's state file goes with its directory (vmsave.h) */
	off = !strcmp(v.state, INV_VM_STOPPED) || !strcmp(v.state, INV_VM_CRASHED) ||
	      !strcmp(v.state, INV_VM_SAVED);
	inv_vm_status_clear(&v);
	return off;
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[4400];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* What add_path appends the disks to go to. */
struct sole {
	struct req *r;
	json_t *paths;
};

/* inv_vm_sole_disks: the disk as {"id", "path"}, appended to the array arg->paths when the
 * caller may delete it (as DELETE /api/v1/disks/NAME: it sees it and holds remove on it);
 * another disk stays, without the VM. */
static int add_path(int64_t disk_id, const char *path, void *arg)
{
	struct sole *s = arg;

	if (!auth_visible(s->r->c, &s->r->who, "disk", disk_id) ||
	    !(auth_perms(s->r->c, &s->r->who, "disk", disk_id) & PERM_REMOVE))
		return 0;
	json_array_append_new(s->paths, json_pack("{s:I,s:s}", "id", (json_int_t)disk_id, "path",
						  path));
	return 0;
}

int api_vm_delete(struct req *r)
{
	const char *wd = req_query(r, "disks");
	bool with_disks = wd && (!strcmp(wd, "true") || !strcmp(wd, "1"));
	char dir[4096];
	json_t *paths = json_array();
	struct layer_files lf = { NULL, NULL, false };
	int64_t id;
	int rc;

	if (!paths || layer_files_init(&lf)) {
		json_decref(paths);
		return req_error(r, -ENOMEM, "out of memory");
	}

	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_REMOVE))
		goto out;
	if (with_disks && auth_require(r, "server", 0, PERM_REMOVE))
		goto out;
	if (inv_begin(r->c)) {
		req_error(r, -EIO, "inventory busy");
		goto out;
	}
	/* the checks' reads and the delete's in one round trip on etcd, compared at the commit
	 * (a task started on the VM or a layer made meanwhile fails it: 409 below) */
	if (inv_vm_delete_read(r->c, id))
		goto err_io;
	if (!vm_is_off(r, id)) {
		inv_rollback(r->c);
		req_error(r, -EBUSY, "%s is running: turn it off first", r->args[0]);
		goto out;
	}
	if (task_images_busy(r->c, r->args[0])) {
		inv_rollback(r->c);
		req_error(r, -EBUSY, "a task works on the disks of %s (an undo-disk commit, a "
			  "snapshot delete or a full clone)", r->args[0]);
		goto out;
	}
	if (with_disks) {
		/* Disks used by this VM only go with it. */
		if (inv_vm_sole_disks(r->c, id, add_path, &(struct sole){ r, paths }))
			goto err_io;
	} else if ((rc = layers_vm_tops(r->c, id)) != 0) {
		if (rc < 0)
			goto err_io;
		inv_rollback(r->c);
		req_error(r, -EBUSY, "%s runs on snapshot or linked-clone layers over its disks, "
			  "which hold its data since the first snapshot or clone and go with it: "
			  "delete it with ?disks=true, or delete its snapshots first", r->args[0]);
		goto out;
	}
	rc = inv_vm_delete(r->c, id);
	if (rc)
		goto err_io;
	{
		size_t i;
		json_t *v;
		json_array_foreach(paths, i, v) {
			/* A file that layers (a linked clone) sit over stays as a frozen base. */
			rc = layers_keep_base(r->c, json_string_value(json_object_get(v, "path")));
			if (rc < 0)
				goto err_io;
			if (rc)
				json_object_set_new(v, "kept", json_true());
			/* -ENOENT: a disk the VM had twice, deleted already */
			rc = inv_disk_delete(r->c, json_integer_value(json_object_get(v, "id")));
			if (rc && rc != -ENOENT)
				goto err_io;
		}
	}
	if (layers_collect(r->c, &lf))
		goto err_io;
	if (events_emit(r->srv, r->c, "vm-deleted", "vm", r->args[0], r->who.name, NULL,
			"%s deleted by %s%s", r->args[0], r->who.name, with_disks ? " with its disks" : ""))
		goto err_io;
	rc = inv_commit(r->c);
	if (rc == -EAGAIN) {
		/* what it read changed before its commit: another request changed the VM */
		req_error(r, -EBUSY, "%s changed meanwhile; nothing was deleted: try again",
			  r->args[0]);
		goto out;
	}
	if (rc)
		goto err_io;
	/* No failover restarts a VM of that name any more (a new one may be created). */
	{
		bool was;
		char name[64];

		sup_cluster_unplace(r->srv, r->args[0], &was);
		/* nor does a restart of it that waited for the start lock */
		sup_restart_cancel(r->srv, id, name, sizeof(name));
	}
	/* Files go after the commit: a crash in between leaves files, never rows without. */
	{
		size_t i;
		json_t *v;
		json_array_foreach(paths, i, v)
			if (!json_object_get(v, "kept"))
				unlink(json_string_value(json_object_get(v, "path")));
	}
	layer_files_end(&lf, true);
	lf.gone = NULL;
	vmsave_remove(r->srv, id); /* subdirectories: remove_tree takes files only */
	snapmem_remove_all(r->srv, id);
	if (!vmdir_path(r->srv, id, dir, sizeof(dir)))
		remove_tree(dir);
	cgroup_remove(r->srv, id);
	r->status = 204;
	goto out;
err_io:
	inv_rollback(r->c);
	req_error(r, -EIO, "inventory error; nothing was deleted");
out:
	if (lf.gone)
		layer_files_end(&lf, false); /* nothing was committed: nothing was created */
	json_decref(paths);
	return r->status;
}

