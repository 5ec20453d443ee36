/* The inventory's VMs on etcd: a VM's configuration (vms/ID), its name's claim
 * (u/vms.name/NAME), templates (vm_templates/ID), object ids by name. The status row
 * (vm_status/ID) is inv_etcd_vm_status.c's. See inv.h, inv_etcd.h. */
#include "server/inv_etcd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

/* Fill v's status fields from the status row st (NULL: a VM that has none reads as
 * stopped). 0 or -ENOMEM. */
int iev_status_fill(json_t *st, struct inv_vm *v)
{
	bool oom = false;

	if (st && ie_str(st, "state"))
		ie_str_copy(st, "state", v->state, sizeof(v->state));
	else
		snprintf(v->state, sizeof(v->state), "%s", INV_VM_STOPPED);
	v->monitor_pid = (pid_t)ie_int(st, "monitor_pid");
	v->started = ie_int(st, "started");
	v->restarts = (int)ie_int(st, "restarts");
	v->last_exit = ie_str_dup(st, "last_exit", &oom);
	return oom ? -ENOMEM : 0;
}

/* v from the configuration row r (revision rev) and the status row st. 0 or -ENOMEM (v
 * cleared). */
static int vm_fill(json_t *r, uint64_t rev, json_t *st, struct inv_vm *v)
{
	bool oom = false;
	int rc;

	memset(v, 0, sizeof(*v));
	v->id = ie_int(r, "id");
	v->rev = rev;
	ie_str_copy(r, "name", v->name, sizeof(v->name));
	v->description = ie_str_dup(r, "description", &oom);
	v->cpus = (int)ie_int(r, "cpus");
	v->memory_mib = ie_int(r, "memory_mib");
	v->kernel = ie_str_dup(r, "kernel", &oom);
	v->initrd = ie_str_dup(r, "initrd", &oom);
	v->cmdline = ie_str_dup(r, "cmdline", &oom);
	ie_str_copy(r, "restart_policy", v->restart_policy, sizeof(v->restart_policy));
	v->autostart = ie_bool(r, "autostart");
	ie_str_copy(r, "undo_disks", v->undo_disks, sizeof(v->undo_disks));
	v->cpu_limit = (int)ie_int(r, "cpu_limit");
	v->cpu_weight = (int)ie_int(r, "cpu_weight");
	v->memory_reserve_mib = ie_int(r, "memory_reserve_mib");
	v->created = ie_int(r, "created");
	v->updated = ie_int(r, "updated");
	/* NOT NULL columns read as "" when missing */
	if (!oom && !v->description)
		oom = !(v->description = strdup(""));
	if (!oom && !v->kernel)
		oom = !(v->kernel = strdup(""));
	if (!oom && !v->cmdline)
		oom = !(v->cmdline = strdup(""));
	rc = oom ? -ENOMEM : iev_status_fill(st, v);
	if (rc)
		inv_vm_clear(v);
	return rc;
}

/* v's configuration into row (what inv_vm_put writes; name, id, created are the caller's). */
static int config_set(json_t *row, const struct inv_vm *v)
{
	int rc = ie_set_str(row, "description", v->description ? v->description : "");

	if (!rc)
		rc = ie_set_int(row, "cpus", v->cpus);
	if (!rc)
		rc = ie_set_int(row, "memory_mib", v->memory_mib);
	if (!rc)
		rc = ie_set_str(row, "kernel", v->kernel ? v->kernel : "");
	if (!rc)
		rc = ie_set_str(row, "initrd", v->initrd);
	if (!rc)
		rc = ie_set_str(row, "cmdline", v->cmdline ? v->cmdline : "");
	if (!rc)
		rc = ie_set_str(row, "restart_policy", v->restart_policy);
	if (!rc)
		rc = ie_set_bool(row, "autostart", v->autostart);
	if (!rc)
		rc = ie_set_str(row, "undo_disks", v->undo_disks);
	if (!rc)
		rc = ie_set_int(row, "cpu_limit", v->cpu_limit);
	if (!rc)
		rc = ie_set_int(row, "cpu_weight", v->cpu_weight);
	if (!rc)
		rc = ie_set_int(row, "memory_reserve_mib", v->memory_reserve_mib);
	return rc;
}

int inv_etcd_vm_id(struct dbc *c, const char *name, int64_t *id)
{
	return ie_unique_get(c, "vms.name", name, id);
}

int inv_etcd_object_id(struct dbc *c, const char *kind, const char *name, int64_t *id)
{
	if (!strcmp(kind, "vm"))
		return ie_unique_get(c, "vms.name", name, id);
	if (!strcmp(kind, "disk"))
		return ie_unique_get(c, "disks.name", name, id);
	if (!strcmp(kind, "network"))
		return ie_unique_get(c, "networks.name", name, id);
	return -ENOENT;
}

int inv_etcd_vm_get(struct dbc *c, int64_t id, struct inv_vm *out)
{
	json_t *r = NULL, *st = NULL;
	uint64_t rev = 0;
	char key[24];
	const struct ie_read rows[] = { { "vms", key, false }, { "vm_status", key, false } };
	int rc = 0;

	/* both rows in one round trip (unless read ahead already) */
	ie_id_key(id, key);
	if (!ie_pre_kept(c, "vms", key))
		rc = ie_rows_read(c, rows, 2);
	if (!rc)
		rc = ie_row_get_id(c, "vms", id, &r, &rev);

	if (rc)
		return rc;
	rc = ie_row_get_id(c, "vm_status", id, &st, NULL);
	if (rc == -ENOENT)
		rc = 0;
	if (!rc)
		rc = vm_fill(r, rev, st, out);
	json_decref(st);
	json_decref(r);
	return rc;
}

/* --- lists ------------------------------------------------------------------------------- */

/* Every VM, by id (the rows of vms/ with the status rows of vm_status/). */
struct vms {
	struct inv_vm *v;
	size_t n, cap;
	json_t *status;             /* KEY -> status row */
};

static int status_one(const char *key, json_t *row, uint64_t rev, void *arg)
{
	(void)rev;
	return json_object_set(arg, key, row) ? -ENOMEM : 0;
}

static int vm_one(const char *key, json_t *row, uint64_t rev, void *arg)
{
	struct vms *l = arg;
	int rc;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct inv_vm *p = realloc(l->v, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->v = p;
		l->cap = cap;
	}
	rc = vm_fill(row, rev, json_object_get(l->status, key), &l->v[l->n]);
	if (!rc)
		l->n++;
	return rc;
}

static void vms_free(struct vms *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		inv_vm_clear(&l->v[i]);
	free(l->v);
	json_decref(l->status);
}

static int vms_load(struct dbc *c, struct vms *l)
{
	int rc;

	memset(l, 0, sizeof(*l));
	l->status = json_object();
	if (!l->status)
		return -ENOMEM;
	/* both tables in one round trip (one revision) */
	rc = ie_rows_read(c, (const struct ie_read[]){ { "vm_status", "", true },
						      { "vms", "", true } }, 2);
	if (!rc)
		rc = ie_row_each(c, "vm_status", "", status_one, l->status);
	if (!rc)
		rc = ie_row_each(c, "vms", "", vm_one, l);
	if (rc)
		vms_free(l);
	return rc;
}

int inv_etcd_vm_each(struct dbc *c, int (*fn)(const struct inv_vm *v, void *arg), void *arg)
{
	struct vms l;
	size_t i;
	int rc = vms_load(c, &l);

	if (rc)
		return rc;
	for (i = 0; !rc && i < l.n; i++)
		rc = fn(&l.v[i], arg);
	vms_free(&l);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct inv_vm *)a)->name, ((const struct inv_vm *)b)->name);
}

/* Whether a grant on the VM gives view (bit 1) to the user or one of its groups. */
struct viewer {
	int64_t uid;
	json_t *groups;             /* [gid, ...] */
	bool yes;
};

static int group_one(int64_t gid, const char *name, void *arg)
{
	(void)name;
	return json_array_append_new(arg, json_integer(gid)) ? -ENOMEM : 0;
}

static int grant_one(const struct inv_grant *g, void *arg)
{
	struct viewer *w = arg;
	json_t *gid;
	size_t i;

	if (!(g->perms & 1))
		return 0;
	if (!strcmp(g->ptype, "user") && g->pid == w->uid)
		w->yes = true;
	if (!strcmp(g->ptype, "group"))
		json_array_foreach(w->groups, i, gid)
			if (json_integer_value(gid) == g->pid)
				w->yes = true;
	return 0;
}

int inv_etcd_vm_page(struct dbc *c, int64_t viewer, int64_t offset, int64_t limit,
		     int64_t *total, int (*fn)(const struct inv_vm *v, void *arg), void *arg)
{
	struct viewer w = { .uid = viewer };
	struct vms l;
	int64_t seen = 0;
	size_t i;
	int rc;

	*total = 0;
	if (viewer >= 0) {
		w.groups = json_array();
		if (!w.groups)
			return -ENOMEM;
		rc = inv_etcd_members(c, true, viewer, group_one, w.groups);
		if (rc) {
			json_decref(w.groups);
			return rc;
		}
	}
	rc = vms_load(c, &l);
	if (rc) {
		json_decref(w.groups);
		return rc;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), by_name);
	for (i = 0; !rc && i < l.n; i++) {
		if (viewer >= 0) {
			w.yes = false;
			rc = inv_etcd_grant_each(c, "vm", l.v[i].id, grant_one, &w);
			if (rc || !w.yes)
				continue;
		}
		(*total)++;
		if (seen++ < offset || (limit >= 0 && seen > offset + limit))
			continue;
		rc = fn(&l.v[i], arg);
	}
	vms_free(&l);
	json_decref(w.groups);
	return rc;
}

/* --- writes ------------------------------------------------------------------------------ */

/* A random version-4 UUID in lower case (the SQLite backend's INV_SQL_UUID). */
static int new_uuid(char out[40])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return 0;
}

struct create {
	const struct inv_vm *v;
	int64_t id;
	int64_t now;
	char uuid[40];
};

static int create_body(struct dbc *c, void *arg)
{
	struct create *a = arg;
	json_t *row = json_object(), *st = json_object(), *hw = json_object();
	char key[24];
	int rc = row && st && hw ? 0 : -ENOMEM;

	ie_id_key(a->id, key);
	if (!rc)
		rc = ie_unique_claim(c, "vms.name", a->v->name, a->id);
	if (!rc)
		rc = ie_set_int(row, "id", a->id);
	if (!rc)
		rc = ie_set_str(row, "name", a->v->name);
	if (!rc)
		rc = config_set(row, a->v);
	if (!rc)
		rc = ie_set_int(row, "created", a->now);
	if (!rc)
		rc = ie_set_int(row, "updated", a->now);
	/* a new id: its row cannot exist (the commit checks it all the same) */
	if (!rc)
		rc = ie_row_assume_absent(c, "vms", key);
	if (!rc)
		rc = ie_row_put(c, "vms", key, row, IE_ABSENT);
	/* the name too, so that inv_vm_get_status reads this row alone */
	if (!rc)
		rc = ie_set_str(st, "name", a->v->name);
	if (!rc)
		rc = ie_set_str(st, "state", INV_VM_STOPPED);
	if (!rc)
		rc = ie_set_int(st, "monitor_pid", 0);
	if (!rc)
		rc = ie_set_int(st, "started", 0);
	if (!rc)
		rc = ie_set_str(st, "last_exit", NULL);
	if (!rc)
		rc = ie_set_int(st, "restarts", 0);
	if (!rc)
		rc = ie_row_put(c, "vm_status", key, st, 0);
	/* the hardware row (inv_etcd_vmhw.c): a fresh UUID, the rest the defaults */
	if (!rc)
		rc = ie_set_str(hw, "uuid", a->uuid);
	if (!rc)
		rc = ie_row_put(c, "vm_hw", key, hw, 0);
	json_decref(hw);
	json_decref(st);
	json_decref(row);
	return rc;
}

int inv_etcd_vm_create(struct dbc *c, const struct inv_vm *v, int64_t *id)
{
	struct create a = { .v = v, .now = time(NULL) };
	int rc;

	if ((rc = new_uuid(a.uuid)))
		return rc;
	/* the id, and the name's claim read with it (one round trip) */
	if ((rc = ie_new_id_claim(c, "vms", "vms.name", v->name, &a.id)))
		return rc;
	rc = ie_write(c, create_body, &a);
	if (!rc) {
		*id = a.id;
		ie_vm_name_hint(c, v->name, a.id);      /* (a hint: rolled back, it misses once) */
	}
	return rc;
}

struct put {
	const struct inv_vm *v;
	bool expect;
};

static int put_body(struct dbc *c, void *arg)
{
	const struct inv_vm *v = ((struct put *)arg)->v;
	bool expect = ((struct put *)arg)->expect;
	json_t *row = NULL;
	uint64_t rev = 0;
	char key[24];
	int rc = ie_row_get(c, "vms", ie_id_key(v->id, key), &row, &rev);

	if (rc)
		return rc;
	if (expect && v->rev && rev != v->rev)      /* rev 0: any, as on SQLite */
		rc = -EAGAIN;
	if (!rc)
		rc = config_set(row, v);
	if (!rc)
		rc = ie_set_int(row, "updated", time(NULL));
	if (!rc)
		rc = ie_row_put(c, "vms", key, row, 0);
	json_decref(row);
	return rc;
}

int inv_etcd_vm_put(struct dbc *c, const struct inv_vm *v, bool expect_rev)
{
	struct put a = { v, expect_rev };

	return ie_write(c, put_body, &a);
}

/* What VM id's delete reads, in one call (in a transaction: compared at its commit): the
 * cascades' rows (delete_body) and, with tasks, the running tasks too (DELETE's check:
 * inv_etcd_vm_delete_read). 0 or -errno. */
static int delete_reads(struct dbc *c, int64_t id, bool tasks)
{
	char key[24], sub[26], acl[30], own[30];
	const struct ie_read rows[] = {
		{ "vms", key, false }, { "vm_status", key, false }, { "vm_hw", key, false },
		{ "vm_templates", key, false }, { "vm_disks", sub, true }, { "vm_nics", sub, true },
		{ "vm_cdroms", sub, true }, { "snapshots", sub, true }, { "snapshot_images", "", true },
		{ "layers", "", true }, { "acl", acl, true }, { "owned", own, false },
		{ "task_running", "", true }, /* (last: left out without tasks) */
	};
	size_t n = sizeof(rows) / sizeof(rows[0]);

	ie_id_key(id, key);
	snprintf(sub, sizeof(sub), "%s/", key);
	snprintf(acl, sizeof(acl), "vm/%s/", key);
	snprintf(own, sizeof(own), "vm/%s", key);   /* its owner's (inv_etcd_quota.c) */
	return ie_rows_read(c, rows, tasks ? n : n - 1);
}

int inv_etcd_vm_delete_read(struct dbc *c, int64_t id)
{
	/* (outside a transaction nothing: its reads would be kept only for the next one) */
	return ie_sess(c)->t ? delete_reads(c, id, true) : 0;
}

static int delete_body(struct dbc *c, void *arg)
{
	int64_t id = *(int64_t *)arg;
	json_t *row = NULL;
	char key[24];
	int rc;

	ie_id_key(id, key);
	/* what the cascades below read, in one call (none when inv_vm_delete_read made it) */
	rc = delete_reads(c, id, false);
	if (!rc)
		rc = ie_row_get(c, "vms", key, &row, NULL);
	if (rc)
		return rc;
	rc = ie_row_delete(c, "vms", key, false);
	if (!rc) {
		rc = ie_row_delete(c, "vm_status", key, false);
		if (rc == -ENOENT)
			rc = 0;
	}
	if (!rc && ie_str(row, "name"))
		rc = ie_unique_release(c, "vms.name", ie_str(row, "name"));
	if (!rc)
		rc = ie_vm_drop_children(c, id);
	if (!rc)
		rc = inv_etcd_grants_clear(c, "vm", id);
	if (!rc)
		rc = ie_owner_drop(c, "vm", id);
	json_decref(row);
	return rc;
}

int inv_etcd_vm_delete(struct dbc *c, int64_t id)
{
	return ie_write(c, delete_body, &id);
}

/* --- templates --------------------------------------------------------------------------- */

int inv_etcd_vm_template(struct dbc *c, int64_t id)
{
	json_t *row;
	int rc = ie_row_get_id(c, "vm_templates", id, &row, NULL);

	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	json_decref(row);
	return 1;
}

int inv_etcd_vm_set_template(struct dbc *c, int64_t id, bool on)
{
	json_t *row;
	char key[24];
	int rc;

	ie_id_key(id, key);
	if (!on) {
		rc = ie_row_delete(c, "vm_templates", key, false);
		return rc == -ENOENT ? 0 : rc;
	}
	row = json_pack("{s:I}", "vm_id", (json_int_t)id);
	if (!row)
		return -ENOMEM;
	rc = ie_row_put(c, "vm_templates", key, row, 0);
	json_decref(row);
	return rc;
}
