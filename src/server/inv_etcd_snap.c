/* The inventory's snapshots on etcd: snapshots/VM/ID rows, a name unique per VM
 * (u/snapshots.name "VM/NAME"), and snapshot_images/SNAP/DISK rows (inv_etcd_attach.h).
 * See inv.h. */
#include "server/inv_etcd_attach.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NAMES "snapshots.name"

/* The name index's value of VM vm's snapshot name: 0, or -EINVAL when too long. */
static int name_value(int64_t vm, const char *name, char *buf, size_t n)
{
	int len = snprintf(buf, n, "%" PRId64 "/%s", vm, name);

	return len < 0 || (size_t)len >= n ? -EINVAL : 0;
}

static void snap_fill(json_t *row, struct inv_snapshot *o)
{
	memset(o, 0, sizeof(*o));
	o->id = ie_int(row, "id");
	o->vm_id = ie_int(row, "vm_id");
	o->parent_id = ie_int(row, "parent_id");
	o->current = ie_bool(row, "current");
	o->created = ie_int(row, "created");
	ie_str_copy(row, "name", o->name, sizeof(o->name));
	ie_str_copy(row, "description", o->description, sizeof(o->description));
	o->memory_bytes = ie_int(row, "memory_bytes");   /* missing (older rows): 0 */
}

/* Make snapshot id (0: none) VM vm's current one: write the rows whose mark changes. */
static int set_current(struct dbc *c, int64_t vm, int64_t id)
{
	char pfx[22], key[42];
	json_t *rows, *row;
	size_t i;
	int rc = iea_rows(c, "snapshots", iea_prefix(vm, pfx), NULL, NULL, &rows);

	json_array_foreach(rows, i, row) {
		bool cur = ie_int(row, "id") == id;
		json_t *copy;

		if (rc)
			break;
		if (ie_bool(row, "current") == cur)
			continue;
		copy = json_copy(row);
		rc = copy ? ie_set_bool(copy, "current", cur) : -ENOMEM;
		if (!rc)
			rc = ie_row_put(c, "snapshots", iea_key2(vm, ie_int(row, "id"), key), copy, 0);
		json_decref(copy);
	}
	json_decref(rows);
	return rc;
}

struct create {
	const struct inv_snapshot *s;
	int64_t id;
};

static int snap_create(struct dbc *c, void *arg)
{
	struct create *a = arg;
	const struct inv_snapshot *s = a->s;
	char name[128], key[42];
	int64_t holder, id;
	json_t *row;
	int rc = name_value(s->vm_id, s->name, name, sizeof(name));

	if (rc)
		return rc;
	rc = ie_unique_get(c, NAMES, name, &holder);
	if (!rc)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	rc = ie_new_id(c, "snapshots", &id);
	if (!rc)
		rc = ie_unique_claim(c, NAMES, name, id);
	if (rc)
		return rc;
	/* current at once: set_current then leaves it be (one write of the key) */
	row = json_pack("{s:I,s:I,s:I,s:b,s:I,s:s,s:s,s:I}", "id", (json_int_t)id, "vm_id",
			(json_int_t)s->vm_id, "parent_id", (json_int_t)s->parent_id, "current", 1,
			"created", (json_int_t)time(NULL), "name", s->name, "description",
			s->description, "memory_bytes", (json_int_t)s->memory_bytes);
	if (!row)
		return -ENOMEM;
	rc = ie_row_put(c, "snapshots", iea_key2(s->vm_id, id, key), row, IE_ABSENT);
	json_decref(row);
	if (!rc)
		rc = set_current(c, s->vm_id, id);
	if (!rc)
		a->id = id;
	return rc;
}

int inv_etcd_snap_create(struct dbc *c, const struct inv_snapshot *s, int64_t *id)
{
	struct create a = { s, 0 };
	int rc = ie_write(c, snap_create, &a);

	if (!rc)
		*id = a.id;
	return rc;
}

int inv_etcd_snap_get(struct dbc *c, int64_t vm, const char *name, struct inv_snapshot *out)
{
	char value[128], key[42];
	int64_t id;
	json_t *row;
	int rc = name_value(vm, name, value, sizeof(value));

	if (rc)
		return -ENOENT;
	rc = ie_unique_get(c, NAMES, value, &id);
	if (!rc)
		rc = ie_row_get(c, "snapshots", iea_key2(vm, id, key), &row, NULL);
	if (rc)
		return rc;
	snap_fill(row, out);
	json_decref(row);
	return 0;
}

int inv_etcd_snap_each(struct dbc *c, int64_t vm,
		       int (*fn)(const struct inv_snapshot *s, void *arg), void *arg)
{
	char pfx[22];
	json_t *rows, *row;
	size_t i;
	int rc = iea_rows(c, "snapshots", iea_prefix(vm, pfx), NULL, NULL, &rows);

	json_array_foreach(rows, i, row) {
		struct inv_snapshot o;

		if (rc)
			break;
		snap_fill(row, &o);
		rc = fn(&o, arg);
	}
	json_decref(rows);
	return rc;
}

/* Drop the snapshot row with its images and its name's claim. */
static int drop_snap(struct dbc *c, json_t *row)
{
	char key[42], pfx[22], name[128];
	int64_t vm = ie_int(row, "vm_id"), id = ie_int(row, "id");
	int rc = ie_row_delete(c, "snapshot_images", iea_prefix(id, pfx), true);

	if (!rc)
		rc = ie_row_delete(c, "snapshots", iea_key2(vm, id, key), false);
	if (!rc && !name_value(vm, ie_str(row, "name") ? ie_str(row, "name") : "", name,
			       sizeof(name)))
		rc = ie_unique_release(c, NAMES, name);
	return rc;
}

static bool id_or_child(json_t *row, const void *arg)
{
	int64_t id = *(const int64_t *)arg;

	return ie_int(row, "id") == id || ie_int(row, "parent_id") == id;
}

static int snap_delete(struct dbc *c, void *arg)
{
	int64_t id = *(int64_t *)arg;
	json_t *rows, *row, *gone = NULL;
	size_t i;
	/* The snapshot's key names its VM, which only the row knows: look at all of them. */
	int rc = iea_rows(c, "snapshots", "", id_or_child, &id, &rows);

	if (rc)
		return rc;
	json_array_foreach(rows, i, row)
		if (ie_int(row, "id") == id)
			gone = row;
	if (!gone)
		rc = -ENOENT;
	/* its children become children of its parent */
	json_array_foreach(rows, i, row) {
		char key[42];
		json_t *copy;

		if (rc)
			break;
		if (row == gone)
			continue;
		copy = json_copy(row);
		rc = copy ? ie_set_int(copy, "parent_id", ie_int(gone, "parent_id")) : -ENOMEM;
		if (!rc)
			rc = ie_row_put(c, "snapshots", iea_key2(ie_int(row, "vm_id"), ie_int(row, "id"),
								 key), copy, 0);
		json_decref(copy);
	}
	if (!rc)
		rc = drop_snap(c, gone);
	json_decref(rows);
	return rc;
}

int inv_etcd_snap_delete(struct dbc *c, int64_t id)
{
	return ie_write(c, snap_delete, &id);
}

static int snap_set_current(struct dbc *c, void *arg)
{
	return set_current(c, ((int64_t *)arg)[0], ((int64_t *)arg)[1]);
}

int inv_etcd_snap_set_current(struct dbc *c, int64_t vm, int64_t id)
{
	int64_t a[2] = { vm, id };

	return ie_write(c, snap_set_current, a);
}

struct image {
	int64_t snap, disk_id;
	const char *path;
};

static int image_add(struct dbc *c, void *arg)
{
	struct image *a = arg;
	char key[42];
	json_t *row = json_pack("{s:I,s:I,s:s}", "snapshot_id", (json_int_t)a->snap, "disk_id",
				(json_int_t)a->disk_id, "path", a->path);
	int rc;

	if (!row)
		return -ENOMEM;
	rc = ie_row_put(c, "snapshot_images", iea_key2(a->snap, a->disk_id, key), row, IE_ABSENT);
	json_decref(row);
	return rc;
}

int inv_etcd_snap_image_add(struct dbc *c, int64_t snap, int64_t disk_id, const char *path)
{
	struct image a = { snap, disk_id, path };

	if (!path)
		return -EINVAL;
	return ie_write(c, image_add, &a);
}

int inv_etcd_snap_images(struct dbc *c, int64_t snap,
			 int (*fn)(int64_t disk_id, const char *path, void *arg), void *arg)
{
	char pfx[22];
	json_t *rows, *row;
	size_t i;
	int rc = iea_rows(c, "snapshot_images", iea_prefix(snap, pfx), NULL, NULL, &rows);

	json_array_foreach(rows, i, row)
		if (!rc)
			rc = fn(ie_int(row, "disk_id"), ie_str(row, "path"), arg);
	json_decref(rows);
	return rc;
}

static bool path_is(json_t *row, const void *path)
{
	const char *p = ie_str(row, "path");

	return p && !strcmp(p, path);
}

struct repath {
	const char *old, *new_path;
};

static int image_repath(struct dbc *c, void *arg)
{
	struct repath *a = arg;
	json_t *rows, *row;
	size_t i;
	int rc = iea_rows(c, "snapshot_images", "", path_is, a->old, &rows);

	json_array_foreach(rows, i, row) {
		char key[42];
		json_t *copy;

		if (rc)
			break;
		copy = json_copy(row);
		rc = copy ? ie_set_str(copy, "path", a->new_path) : -ENOMEM;
		if (!rc)
			rc = ie_row_put(c, "snapshot_images", iea_key2(ie_int(row, "snapshot_id"),
				       ie_int(row, "disk_id"), key), copy, 0);
		json_decref(copy);
	}
	json_decref(rows);
	return rc;
}

int inv_etcd_snap_image_repath(struct dbc *c, const char *old, const char *new_path)
{
	struct repath a = { old, new_path };

	if (!old)
		return 0;
	if (!new_path)
		return -EINVAL;
	return ie_write(c, image_repath, &a);
}

int iea_snap_drop_vm(struct dbc *c, int64_t vm)
{
	char pfx[22];
	json_t *rows, *row;
	size_t i;
	int rc = iea_rows(c, "snapshots", iea_prefix(vm, pfx), NULL, NULL, &rows);

	json_array_foreach(rows, i, row)
		if (!rc)
			rc = drop_snap(c, row);
	json_decref(rows);
	return rc;
}
