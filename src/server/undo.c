/* Undo disks through lib/vhd. See undo.h. */
#include "server/undo.h"
#include "server/cluster.h"
#include "server/inv.h"
#include "server/events.h"
#include "server/tasks.h"
#include "server/vmdir.h"
#include "util/log.h"

#include "vhd/vhd.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNDO_MAX 16

int undo_prepare(struct server *srv, int64_t id, int idx, const char *path, const char *format,
		 char *out, size_t n, char *err, size_t errlen)
{
	struct vhd_create_opts o = { .type = VHD_TYPE_DIFF, .excl = true };
	char dir[4096];
	int rc;

	if (strcmp(format, "vhd")) {
		snprintf(err, errlen, "undo disks need VHD disks (disk %d is %s)", idx, format);
		return -EINVAL;
	}
	rc = vmdir_path(srv, id, dir, sizeof(dir));
	if (rc)
		return rc;
	if (snprintf(out, n, "%s/undo-%d.vhd", dir, idx) >= (int)n)
		return -ENAMETOOLONG;
	if (access(out, F_OK) == 0)
		return 0; /* kept from the last run: continue on it */
	o.parent = path;
	rc = vhd_create(out, &o, NULL);
	if (rc)
		snprintf(err, errlen, "cannot create the undo disk: %s", vhd_errmsg());
	return rc;
}

/* The undo disks of a VM, by index. */
static int list_undo(struct server *srv, int64_t id, char paths[UNDO_MAX][4200])
{
	char dir[4096];
	int n = 0;

	if (vmdir_path(srv, id, dir, sizeof(dir)))
		return 0;
	for (int i = 0; i < UNDO_MAX; i++) {
		snprintf(paths[n], sizeof(paths[n]), "%s/undo-%d.vhd", dir, i);
		if (access(paths[n], F_OK) == 0)
			n++;
	}
	return n;
}

int64_t undo_bytes(struct server *srv, int64_t id)
{
	char dir[4096];
	int64_t sum = 0;
	struct dirent *e;
	struct stat st;
	DIR *d;
	int i, end;

	/* one walk of the VM's directory (a quota decision stats every running VM's: not
	 * UNDO_MAX lookups each) */
	if (vmdir_path(srv, id, dir, sizeof(dir)) || !(d = opendir(dir)))
		return 0;
	while ((e = readdir(d)))
		if (sscanf(e->d_name, "undo-%d.vhd%n", &i, &end) == 1 && !e->d_name[end] &&
		    i >= 0 && i < UNDO_MAX && !fstatat(dirfd(d), e->d_name, &st, 0))
			sum += (int64_t)st.st_size;
	closedir(d);
	return sum;
}

int undo_account(struct server *srv, struct dbc *c, int64_t id, int64_t *recorded)
{
	struct dbc *own = c ? NULL : inv_get(srv->db);
	int64_t bytes = undo_bytes(srv, id);
	int rc;

	if (!c && !own)
		return -EIO;
	/* (this host's record: another host's, as one that died, is its own: inv.h) */
	rc = inv_vm_set_undo_bytes(c ? c : own, id, srv->cluster ? cluster_name(srv->cluster) : NULL,
				   bytes);
	if (own)
		inv_put(own);
	if (!rc && recorded)
		*recorded = bytes;
	return rc;
}

bool undo_pending(struct server *srv, int64_t id)
{
	char p[UNDO_MAX][4200];

	return list_undo(srv, id, p) > 0;
}

int undo_check_start(struct server *srv, struct dbc *c, int64_t id, const char *name, char *why,
		     size_t len)
{
	struct inv_vm vm;
	bool off;
	int rc = inv_vm_get(c, id, &vm);

	if (rc)
		return rc;
	off = !strcmp(vm.undo_disks, "off");
	inv_vm_clear(&vm);
	if (!off || !undo_pending(srv, id))
		return 0;
	snprintf(why, len, "it has undo disks kept from an earlier run, and its undo_disks setting "
		 "is now off: commit or discard them first (vsrv vm undo-disks %s --commit or "
		 "--discard)", name);
	return -EBUSY;
}

struct commit_job {
	struct server *srv;
	int64_t id;
	int n;
	char paths[UNDO_MAX][4200];
	struct task *t;
	int i;
};

static void commit_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct commit_job *j = opaque;

	task_progress(j->t, (j->i + (total ? (double)done / total : 1.0)) / j->n);
}

/* The task: merge each undo disk into its parent, then delete it. A failure leaves the
 * undo disk (and those after it) in place: nothing is lost, the commit can be retried. */
static int commit_run(struct task *t, void *arg)
{
	struct commit_job *j = arg;

	j->t = t;
	for (j->i = 0; j->i < j->n; j->i++) {
		struct vhd *v;
		int rc = vhd_open(j->paths[j->i], VHD_PARENT_RW, &v);

		if (rc) {
			task_error(t, "%s", vhd_errmsg());
			return rc;
		}
		rc = vhd_commit(v, commit_progress, j);
		if (rc) {
			task_error(t, "%s", vhd_errmsg());
			vhd_close(v);
			return rc;
		}
		rc = vhd_close(v);
		if (rc) {
			task_error(t, "%s", vhd_errmsg());
			return rc;
		}
		unlink(j->paths[j->i]);
		undo_account(j->srv, NULL, j->id, NULL);   /* (one merged: its bytes go) */
	}
	return 0;
}

int undo_apply(struct server *srv, int64_t id, const char *name, const char *action,
	       const char *who, int *count, int64_t *task)
{
	struct commit_job *j;
	int n, rc;

	if (count)
		*count = 0;
	if (task)
		*task = 0;
	if (!strcmp(action, "keep"))
		return undo_account(srv, NULL, id, NULL) ? -EIO : 0;   /* their final sizes */
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->srv = srv;
	j->id = id;
	n = j->n = list_undo(srv, id, j->paths);
	if (!j->n) {
		free(j);
		return 0;
	}
	if (!strcmp(action, "discard")) {
		for (int i = 0; i < j->n; i++)
			unlink(j->paths[i]);
		vsrv_log("vm %s: %d undo disk(s) discarded", name, j->n);
		free(j);
		if (undo_account(srv, NULL, id, NULL))
			vsrv_log("vm %s: the bytes of its discarded undo disks are still counted",
				 name);
		if (count)
			*count = n;
		return 0;
	}
	rc = task_start(srv, "undo-commit", name, who, commit_run, j, free, task);
	if (rc)
		return rc;
	if (count)
		*count = n;
	return 0;
}

int undo_finish(struct server *srv, int64_t id, const char *name, const char *action,
		const char *who)
{
	return undo_apply(srv, id, name, action, who, NULL, NULL);
}

json_t *undo_list_json(struct server *srv, int64_t id)
{
	json_t *a = json_array();
	char dir[4096], p[4200];

	if (!a || vmdir_path(srv, id, dir, sizeof(dir)))
		return a;
	for (int i = 0; i < UNDO_MAX; i++) {
		struct vhd_info info;
		struct vhd *v;
		json_t *o;

		snprintf(p, sizeof(p), "%s/undo-%d.vhd", dir, i);
		if (access(p, F_OK))
			continue;
		/* The parent chain opened too (the parent's file as the locators find it);
		 * without it when the parent is gone, so the undo disk still shows. */
		if (vhd_open(p, VHD_RDONLY | VHD_NOLOCK, &v) &&
		    vhd_open(p, VHD_RDONLY | VHD_NOLOCK | VHD_NOPARENT, &v)) {
			json_array_append_new(a, json_pack("{s:i,s:n,s:I,s:I,s:I,s:I,s:s}", "index", i,
				"parent", "virtual_size", (json_int_t)0, "file_size", (json_int_t)0,
				"allocated", (json_int_t)0, "created", (json_int_t)0, "error",
				vhd_errmsg()));
			continue;
		}
		vhd_get_info(v, &info);
		o = json_pack("{s:i,s:s,s:I,s:I,s:I,s:I,s:n}", "index", i, "parent",
			      info.parent_path[0] ? info.parent_path : info.parent_name,
			      "virtual_size", (json_int_t)info.virtual_size,
			      "file_size", (json_int_t)info.file_size,
			      "allocated", (json_int_t)info.file_blocks,
			      /* VHD time counts from 2000-01-01 UTC */
			      "created", (json_int_t)info.timestamp + 946684800, "error");
		vhd_close(v);
		if (o)
			json_array_append_new(a, o);
	}
	return a;
}
