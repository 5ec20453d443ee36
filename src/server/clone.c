/* Clones and templates. See clone.h. */
#include "server/clone.h"
#include "server/diskimg.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/layers.h"
#include "server/network.h"
#include "server/quota.h"
#include "server/snapshot.h"
#include "server/space.h"
#include "server/tasks.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One disk of the clone: a new file (path set) or the source's disk shared read-only. */
struct clone_disk {
	struct layer_disk d;        /* the source's disk */
	char name[64];              /* the new disk's */
	char src[4400];             /* what it is copied from (full) */
	char src_fmt[16];
	char path[4400];            /* the new file, "" when shared */
	char parent[4400];          /* linked: the frozen image under it */
	int64_t size;
};

struct clone_job {
	struct clone_req q;
	char src_name[64], name[64], who[64], description[1028];
	bool has_description;
	int n;
	struct clone_disk disks[16];
};

static void job_free(void *arg)
{
	free(arg);
}

/* What the clone adds to its owner's usage (quota.h): the VM (cpus, memory: vm's) and
 * every new disk; checked through c (in the caller's transaction). 0, -EDQUOT or -EIO with
 * err. */
static int clone_quota(struct dbc *c, const struct clone_job *j, const struct inv_vm *vm,
		       char *err, size_t errlen)
{
	struct inv_quota ask = { .vms = 1, .cpus = vm->cpus, .memory_mib = vm->memory_mib };

	for (int i = 0; i < j->n; i++)
		if (!j->disks[i].d.readonly) {
			ask.disks++;
			ask.disk_bytes += j->disks[i].size;
		}
	return quota_admit(c, j->q.owner, &ask, err, errlen);
}

/* The VM, its disks, NICs and grants, and the vm-created event, through c in the caller's
 * transaction. 0 and *id, or -errno with err. */
static int clone_rows(struct server *srv, struct dbc *c, struct clone_job *j, int64_t *id,
		      char *err, size_t errlen)
{
	struct inv_vm vm;
	int rc = inv_vm_get(c, j->q.src, &vm);
	char *desc;

	if (rc) {
		snprintf(err, errlen, rc == -ENOENT ? "the source VM %s was deleted meanwhile" :
			 "inventory error", j->src_name);
		return rc == -ENOENT ? -ENOENT : -EIO;
	}
	rc = clone_quota(c, j, &vm, err, errlen);
	if (rc) {
		inv_vm_clear(&vm);
		return rc;
	}
	desc = vm.description;
	snprintf(vm.name, sizeof(vm.name), "%s", j->name);
	if (j->has_description)
		vm.description = j->description;
	rc = inv_vm_create(c, &vm, id);
	vm.description = desc;
	inv_vm_clear(&vm);
	if (rc) {
		snprintf(err, errlen, rc == -EEXIST ? "a VM named '%s' exists" : "inventory error",
			 j->name);
		return rc;
	}
	for (int i = 0; !rc && i < j->n; i++) {
		struct clone_disk *cd = &j->disks[i];
		int64_t did = cd->d.disk_id;

		if (cd->path[0]) {
			struct inv_disk *d = calloc(1, sizeof(*d));

			if (!d)
				return -ENOMEM;
			snprintf(d->name, sizeof(d->name), "%s", cd->name);
			snprintf(d->format, sizeof(d->format), "%s", cd->parent[0] ? "vhd" :
				 cd->d.format);
			d->size = cd->size;
			snprintf(d->path, sizeof(d->path), "%s", cd->path);
			rc = inv_disk_create(c, d, &did);
			free(d);
			if (rc == -EEXIST) {
				snprintf(err, errlen, "a disk named '%s' exists", cd->name);
				return rc;
			}
			if (!rc && cd->parent[0]) {
				struct inv_layer l = { .path = cd->path, .parent = cd->parent,
						       .kind = "disk", .disk_id = did };

				rc = inv_layer_add(c, &l);
			}
			if (!rc && j->q.owner)
				rc = inv_grant_add(c, "disk", did, "user", j->q.owner, PERM_FULL);
			if (!rc && j->q.owner)
				rc = inv_owner_set(c, "disk", did, j->q.owner);
			if (!rc)
				rc = events_emit(srv, c, "disk-created", "disk", cd->name, j->who, NULL,
						 "disk %s created by %s (for the clone %s of %s)",
						 cd->name, j->who, j->name, j->src_name);
		}
		if (!rc)
			rc = inv_vm_disk_add(c, *id, cd->d.idx, did, cd->d.bus, cd->d.readonly);
	}
	return rc;
}

static int add_net(const struct inv_vm_nic *n, void *arg)
{
	struct { int64_t net[8]; int n; } *a = arg;

	if (a->n < 8)
		a->net[a->n++] = n->network_id;
	return 0;
}

/* The source's CD/DVD drives, added to the clone arg->id as they come (the same media). */
struct cd_copy {
	struct dbc *c;
	int64_t id;
};

static int add_cdrom(const struct inv_vm_cdrom *d, void *arg)
{
	struct cd_copy *cc = arg;

	return inv_vm_cdrom_add(cc->c, cc->id, d->idx, d->image);
}

/* The NICs (same networks, new MACs), the CD/DVD drives, the grant and the event; then
 * commit. */
static int clone_finish(struct server *srv, struct dbc *c, struct clone_job *j, int64_t id,
			char *err, size_t errlen)
{
	struct { int64_t net[8]; int n; } nics = { { 0 }, 0 };
	int rc = inv_vm_nics(c, j->q.src, add_net, &nics);

	if (!rc)
		rc = inv_vm_cdroms(c, j->q.src, add_cdrom, &(struct cd_copy){ c, id });

	for (int i = 0; !rc && i < nics.n; i++) {
		char mac[18];

		rc = network_new_mac(c, mac);
		if (!rc)
			rc = inv_vm_nic_add(c, id, i, nics.net[i], mac);
	}
	if (!rc)
		rc = inv_vm_hw_copy(c, j->q.src, id);
	if (!rc && j->q.owner)
		rc = inv_grant_add(c, "vm", id, "user", j->q.owner, PERM_FULL);
	if (!rc && j->q.owner)
		rc = inv_owner_set(c, "vm", id, j->q.owner);
	if (!rc)
		rc = events_emit(srv, c, "vm-created", "vm", j->name, j->who,
				 json_pack("{s:s,s:b}", "clone_of", j->src_name, "linked",
					   j->q.linked), "%s created by %s (a %s clone of %s)",
				 j->name, j->who, j->q.linked ? "linked" : "full", j->src_name);
	if (!rc)
		rc = inv_commit(c);
	if (rc)
		snprintf(err, errlen, "inventory error; nothing was created");
	return rc;
}

static void copy_progress(void *arg, double f)
{
	struct { struct task *t; int i, n; } *p = arg;

	task_progress(p->t, (p->i + f) / p->n);
}

/* The full clone's task: copy each disk, then record the VM. A failure leaves no file. */
static int full_run(struct task *t, void *arg)
{
	struct clone_job *j = arg;
	struct server *srv = task_server(t);
	struct { struct task *t; int i, n; } p = { t, 0, j->n };
	char err[600] = "";
	struct dbc *c = NULL;
	int64_t id;
	int rc = 0;

	for (int i = 0; !rc && i < j->n; i++) {
		p.i = i;
		if (j->disks[i].path[0])
			rc = diskimg_copy(j->disks[i].src, j->disks[i].src_fmt, j->disks[i].path,
					  j->disks[i].d.format, copy_progress, &p, err, sizeof(err));
	}
	if (!rc) {
		c = inv_get(srv->db);
		rc = c ? inv_begin(c) : -EIO;
		if (rc)
			snprintf(err, sizeof(err), "inventory busy");
	}
	for (int tries = 0; !rc; ) {
		rc = clone_rows(srv, c, j, &id, err, sizeof(err));
		if (!rc)
			rc = clone_finish(srv, c, j, id, err, sizeof(err));
		if (rc)
			inv_rollback(c);
		/* etcd: the commit lost to another write of the owner (the quota's usage read):
		 * nothing was written; again, from the check */
		if (rc != -EAGAIN || ++tries >= INV_COMMIT_TRIES || (rc = inv_begin(c)))
			break;
	}
	if (c)
		inv_put(c);
	if (rc) {
		task_error(t, "%s", err[0] ? err : strerror(-rc));
		for (int i = 0; i < j->n; i++)
			if (j->disks[i].path[0])
				unlink(j->disks[i].path);
	}
	return rc;
}

/* Name the new disks, check they are free, and for a full clone create their files. */
static int plan_disks(struct server *srv, struct dbc *c, struct clone_job *j,
		      struct layer_disk *d, int n, char *err, size_t errlen)
{
	int64_t grow = 0, other;
	int rc;

	for (int i = 0; i < n; i++) {
		struct clone_disk *cd;

		/* A copy (or a share) of a disk is a read of it: not of one the caller may not
		 * read, such as a disk an administrator attached to the caller's VM. */
		if (j->q.may_read && !j->q.may_read(j->q.may_read_arg, d[i].disk_id)) {
			snprintf(err, errlen, "its disk %d is one you may not read (a clone reads "
				 "every disk of its source: it needs view on each)", d[i].idx);
			return -EACCES;
		}
		cd = &j->disks[j->n++];

		cd->d = d[i];
		cd->size = d[i].size;
		if (d[i].readonly)
			continue;
		if (j->q.linked && strcmp(d[i].format, "vhd")) {
			snprintf(err, errlen, "a linked clone needs VHD disks: disk %s is %s (make a "
				 "full clone, or convert it)", d[i].name, d[i].format);
			return -EINVAL;
		}
		snprintf(cd->name, sizeof(cd->name), "%.40s-%.22s", j->name, d[i].name);
		if (inv_object_id(c, "disk", cd->name, &other) == 0) {
			snprintf(err, errlen, "a disk named '%s' exists (the clone's disk %d)",
				 cd->name, d[i].idx);
			return -EEXIST;
		}
		grow += d[i].size;
	}
	rc = space_admit(srv, c, (uint64_t)grow, err, errlen);
	if (!rc) {
		/* before any file: a full clone's task checks again when it records the VM */
		struct inv_vm vm = { 0 };

		rc = inv_vm_get(c, j->q.src, &vm);
		if (rc)
			snprintf(err, errlen, "inventory error");
		else
			rc = clone_quota(c, j, &vm, err, errlen);
		inv_vm_clear(&vm);
	}
	if (rc || j->q.linked)
		return rc;
	for (int i = 0; i < j->n; i++) {
		struct clone_disk *cd = &j->disks[i];
		uint64_t actual = 0;
		bool is_top;

		if (cd->d.readonly)
			continue;
		rc = layers_top_path(c, j->q.src, cd->d.disk_id, cd->d.path, cd->src, sizeof(cd->src),
				     &is_top);
		if (rc)
			return rc;
		snprintf(cd->src_fmt, sizeof(cd->src_fmt), "%s", is_top ? "vhd" : cd->d.format);
		{
			char p[sizeof(cd->path)]; /* not into j: GCC cannot tell the fields apart */

			snprintf(p, sizeof(p), "%s/disks/%s.%s", srv->data_dir, cd->name, cd->d.format);
			memcpy(cd->path, p, sizeof(p));
		}
		rc = diskimg_create(cd->path, cd->d.format, NULL, (uint64_t)cd->size, &actual, err,
				    errlen);
		if (rc) {
			cd->path[0] = '\0';
			return rc == -EEXIST ? -EEXIST : -EIO;
		}
		cd->size = (int64_t)actual;
	}
	return 0;
}

int clone_vm(struct server *srv, struct dbc *c, const struct clone_req *q, int64_t *id,
	     int64_t *task, char *err, size_t errlen)
{
	struct clone_job *j = calloc(1, sizeof(*j));
	struct layer_files f = { NULL, NULL, false };
	struct layer_disk *d = NULL;
	int64_t other;
	int n = 0, rc;

	if (!j || layer_files_init(&f)) {
		free(j);
		return -ENOMEM;
	}
	j->q = *q;
	snprintf(j->src_name, sizeof(j->src_name), "%s", q->src_name);
	snprintf(j->name, sizeof(j->name), "%s", q->name);
	snprintf(j->who, sizeof(j->who), "%s", q->who);
	j->has_description = q->description != NULL;
	snprintf(j->description, sizeof(j->description), "%s", q->description ? q->description : "");
	j->q.src_name = j->src_name;
	j->q.name = j->name;
	j->q.who = j->who;
	j->q.description = NULL;
	if (inv_begin(c)) {
		snprintf(err, errlen, "inventory busy");
		rc = -EIO;
		goto out_files;
	}
	rc = snapshot_check_off(srv, c, q->src, q->src_name, err, errlen);
	if (!rc && inv_vm_id(c, q->name, &other) == 0) {
		snprintf(err, errlen, "a VM named '%s' exists", q->name);
		rc = -EEXIST;
	}
	if (!rc && (rc = layers_vm_disks(c, q->src, &d, &n)))
		snprintf(err, errlen, "inventory error");
	if (!rc)
		rc = plan_disks(srv, c, j, d, n, err, errlen);
	free(d);
	if (rc && !q->linked)
		for (int i = 0; i < j->n; i++)
			if (j->disks[i].path[0])
				unlink(j->disks[i].path);
	if (!rc && !q->linked) {
		/* The files reserve the names; the task records everything at its end. */
		inv_rollback(c);
		layer_files_end(&f, true);
		rc = task_start(srv, "vm-clone", j->src_name, j->who, full_run, j, job_free, task);
		if (rc)
			snprintf(err, errlen, "cannot start the task: %s", strerror(-rc));
		return rc;   /* the task frees j (and removes its files when it fails) */
	}
	for (int i = 0; !rc && i < j->n; i++) {
		struct clone_disk *cd = &j->disks[i];
		char dir[4200];

		if (cd->d.readonly)
			continue;
		rc = layers_frozen_image(srv, c, &f, q->src, cd->d.disk_id, cd->d.path, cd->parent,
					 sizeof(cd->parent), err, errlen);
		snprintf(dir, sizeof(dir), "%s/disks", srv->data_dir);
		if (!rc)
			rc = layers_new_image(srv, &f, dir, cd->name, cd->parent, cd->path,
					      sizeof(cd->path), err, errlen);
	}
	if (!rc)
		rc = clone_rows(srv, c, j, id, err, errlen);
	if (!rc)
		rc = clone_finish(srv, c, j, *id, err, errlen);
	if (rc)
		inv_rollback(c);
	layer_files_end(&f, !rc);
	free(j);
	return rc;
out_files:
	layer_files_end(&f, false);
	free(j);
	return rc;
}

int clone_check_start(struct dbc *c, int64_t id, const char *name, char *why, size_t len)
{
	int t = inv_vm_template(c, id);

	if (t < 0)
		return t;
	if (t) {
		snprintf(why, len, "%s is a template: templates do not start (make a VM from it: "
			 "vsrv vm create NEW --from-template %s, or POST /api/v1/vms with "
			 "from_template; or unmark it: --template no)", name, name);
		return -EBUSY;
	}
	if (task_running(c, "vm-clone", name) || task_running(c, "vm-snapshot-delete", name)) {
		snprintf(why, len, "a full clone of %s is copying its disks, or one of its snapshots "
			 "is being deleted", name);
		return -EBUSY;
	}
	return 0;
}
