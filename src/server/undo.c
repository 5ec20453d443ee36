/* Undo disks through lib/vhd. See undo.h. */
#include "server/undo.h"
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

bool undo_pending(struct server *srv, int64_t id)
{
	char p[UNDO_MAX][4200];

	return list_undo(srv, id, p) > 0;
}

struct commit_job {
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
	}
	return 0;
}

int undo_finish(struct server *srv, int64_t id, const char *name, const char *action,
		const char *who)
{
	struct commit_job *j;

	if (!strcmp(action, "keep"))
		return 0;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->n = list_undo(srv, id, j->paths);
	if (!j->n) {
		free(j);
		return 0;
	}
	if (!strcmp(action, "discard")) {
		for (int i = 0; i < j->n; i++)
			unlink(j->paths[i]);
		vsrv_log("vm %s: %d undo disk(s) discarded", name, j->n);
		free(j);
		return 0;
	}
	return task_start(srv, "undo-commit", name, who, commit_run, j, free, NULL);
}
