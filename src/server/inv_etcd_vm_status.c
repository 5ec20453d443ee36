/* The inventory's VM status on etcd: the supervisor's row vm_status/ID (state, monitor
 * pid, started, last exit, restarts), a key of its own so that a user's edit of the
 * configuration (vms/ID) and the supervisor's write never conflict. A status write does
 * not raise the VM's rev, which is vms/ID's mod_revision (docs/cluster.md). See inv.h. */
#include "server/inv_etcd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int inv_etcd_vm_get_status(struct dbc *c, int64_t id, struct inv_vm_status *out)
{
	json_t *r = NULL, *st = NULL;
	bool oom = false;
	int rc;

	memset(out, 0, sizeof(*out));
	/* the status row alone (it has the name); a VM without one reads as stopped */
	rc = ie_row_get_id(c, "vm_status", id, &st, NULL);
	if ((rc == -ENOENT || (!rc && !ie_str(st, "name"))) &&
	    (rc = ie_row_get_id(c, "vms", id, &r, NULL)))
		goto out;
	if (!rc) {
		ie_str_copy(r ? r : st, "name", out->name, sizeof(out->name));
		if (st && ie_str(st, "state"))
			ie_str_copy(st, "state", out->state, sizeof(out->state));
		else
			snprintf(out->state, sizeof(out->state), "%s", INV_VM_STOPPED);
		out->monitor_pid = (pid_t)ie_int(st, "monitor_pid");
		out->started = ie_int(st, "started");
		out->restarts = (int)ie_int(st, "restarts");
		out->last_exit = ie_str_dup(st, "last_exit", &oom);
		if (oom)
			rc = -ENOMEM;
	}
out:
	json_decref(st);
	json_decref(r);
	return rc;
}

/* One status write: change(row, arg) edits VM id's status row (it exists), returning 0 to
 * write it, 1 to leave it as it is, or -errno. */
struct status_write {
	int64_t id;
	int (*change)(json_t *st, const void *arg);
	const void *arg;
	bool want_row;              /* a missing VM is -ENOENT (else no error) */
};

static int status_body(struct dbc *c, void *arg)
{
	struct status_write *w = arg;
	json_t *st = NULL;
	char key[24];
	int rc;

	/* the status row lives as long as the VM's configuration row (inv_etcd_vm.c) */
	rc = ie_row_get(c, "vm_status", ie_id_key(w->id, key), &st, NULL);
	if (rc == -ENOENT)
		return w->want_row ? -ENOENT : 0;
	if (rc)
		return rc;
	rc = w->change(st, w->arg);
	if (!rc)
		rc = ie_row_put(c, "vm_status", key, st, 0);
	json_decref(st);
	return rc == 1 ? 0 : rc;
}

static int status_write(struct dbc *c, int64_t id, int (*change)(json_t *st, const void *arg),
			const void *arg, bool want_row)
{
	struct status_write w = { id, change, arg, want_row };

	return ie_write(c, status_body, &w);
}

struct set_state {
	const char *state;
	pid_t pid;
	const char *last_exit;
};

static int set_state(json_t *st, const void *arg)
{
	const struct set_state *a = arg;
	const char *old = ie_str(st, "state");
	int rc;

	/* entering running from anything but paused starts the clock */
	if (!strcmp(a->state, INV_VM_RUNNING) && !(old && !strcmp(old, INV_VM_PAUSED))) {
		rc = ie_set_int(st, "started", time(NULL));
		if (rc)
			return rc;
	}
	rc = ie_set_str(st, "state", a->state);
	if (!rc)
		rc = ie_set_int(st, "monitor_pid", a->pid);
	if (!rc && a->last_exit)
		rc = ie_set_str(st, "last_exit", a->last_exit);
	return rc;
}

int inv_etcd_vm_set_state(struct dbc *c, int64_t id, const char *state, pid_t pid,
			  const char *last_exit)
{
	struct set_state a = { state, pid, last_exit };

	return status_write(c, id, set_state, &a, false);
}

static int set_pid(json_t *st, const void *arg)
{
	return ie_set_int(st, "monitor_pid", *(const pid_t *)arg);
}

int inv_etcd_vm_set_pid(struct dbc *c, int64_t id, pid_t pid)
{
	return status_write(c, id, set_pid, &pid, false);
}

static int count_restart(json_t *st, const void *arg)
{
	(void)arg;
	return ie_set_int(st, "restarts", ie_int(st, "restarts") + 1);
}

int inv_etcd_vm_count_restart(struct dbc *c, int64_t id)
{
	return status_write(c, id, count_restart, NULL, false);
}

static int promote(json_t *st, const void *arg)
{
	const char *state = ie_str(st, "state");
	int rc;

	if (!state || strcmp(state, INV_VM_STARTING) ||
	    ie_int(st, "monitor_pid") != *(const pid_t *)arg)
		return -ESRCH;
	rc = ie_set_str(st, "state", INV_VM_RUNNING);
	if (!rc)
		rc = ie_set_int(st, "started", time(NULL));
	return rc;
}

int inv_etcd_vm_promote(struct dbc *c, int64_t id, pid_t pid)
{
	return status_write(c, id, promote, &pid, true);
}

static int mark_stopping(json_t *st, const void *arg)
{
	const char *state = ie_str(st, "state");

	(void)arg;
	if (!state || !strcmp(state, INV_VM_STOPPED) || !strcmp(state, INV_VM_CRASHED) ||
	    !strcmp(state, INV_VM_SAVED))
		return 1;
	return ie_set_str(st, "state", INV_VM_STOPPING);
}

int inv_etcd_vm_mark_stopping(struct dbc *c, int64_t id)
{
	return status_write(c, id, mark_stopping, NULL, false);
}
