/* The inventory's disk layers on etcd: layers/ID rows, their paths unique (u/layers.path)
 * and at most one top per VM's disk (u/layers.top "VM/DISK", the SQLite schema's partial
 * unique index layers_top); what goes with a deleted disk (ie_disk_drop_children) and
 * what a deleted VM's tops become (iea_layer_freeze_vm). See inv.h, inv_etcd_attach.h. */
#include "server/inv_etcd_attach.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PATHS "layers.path"
#define TOPS "layers.top"

/* The top index's value of VM vm's disk disk_id (buf of at least 48 bytes). */
static char *top_value(int64_t vm, int64_t disk_id, char *buf)
{
	snprintf(buf, 48, "%" PRId64 "/%" PRId64, vm, disk_id);
	return buf;
}

static bool is_top(json_t *row)
{
	const char *k = ie_str(row, "kind");

	return k && !strcmp(k, "top");
}

static void layer_fill(json_t *row, struct inv_layer *l)
{
	*l = (struct inv_layer){
		.id = ie_int(row, "id"),
		.path = ie_str(row, "path"),
		.parent = ie_str(row, "parent"),
		.kind = ie_str(row, "kind"),
		.vm_id = ie_int(row, "vm_id"),
		.disk_id = ie_int(row, "disk_id"),
		.created = ie_int(row, "created"),
	};
}

/* -EEXIST when value is held in index, 0 when not, or the read's error. */
static int value_free(struct dbc *c, const char *index, const char *value)
{
	int64_t holder;
	int rc = ie_unique_get(c, index, value, &holder);

	return !rc ? -EEXIST : rc == -ENOENT ? 0 : rc;
}

static int layer_add(struct dbc *c, void *arg)
{
	const struct inv_layer *l = arg;
	char top[48], key[21];
	bool top_kind = !strcmp(l->kind, "top");
	json_t *row;
	int64_t id;
	int rc = value_free(c, PATHS, l->path);

	if (!rc && top_kind)
		rc = value_free(c, TOPS, top_value(l->vm_id, l->disk_id, top));
	if (!rc)
		rc = ie_new_id(c, "layers", &id);
	if (!rc)
		rc = ie_unique_claim(c, PATHS, l->path, id);
	if (!rc && top_kind)
		rc = ie_unique_claim(c, TOPS, top, id);
	if (rc)
		return rc;
	row = json_pack("{s:I,s:s,s:s*,s:s,s:I,s:I,s:I}", "id", (json_int_t)id, "path", l->path,
			"parent", l->parent, "kind", l->kind, "vm_id", (json_int_t)l->vm_id,
			"disk_id", (json_int_t)l->disk_id, "created", (json_int_t)time(NULL));
	if (!row)
		return -ENOMEM;
	rc = ie_set_str(row, "parent", l->parent);      /* NULL: null, not left out */
	if (!rc)
		rc = ie_row_put(c, "layers", ie_id_key(id, key), row, IE_ABSENT);
	json_decref(row);
	return rc;
}

int inv_etcd_layer_add(struct dbc *c, const struct inv_layer *l)
{
	if (!l->path || !l->kind)
		return -EINVAL;
	return ie_write(c, layer_add, (void *)l);
}

/* The row of the layer that holds value in index: 0 and *row, -ENOENT or -errno. */
static int layer_by(struct dbc *c, const char *index, const char *value, json_t **row)
{
	int64_t id;
	int rc = ie_unique_get(c, index, value, &id);

	return rc ? rc : ie_row_get_id(c, "layers", id, row, NULL);
}

/* fn (NULL: none) for the layer that holds value in index: fn's value, 0, -ENOENT. */
static int layer_one(struct dbc *c, const char *index, const char *value,
		     int (*fn)(const struct inv_layer *l, void *arg), void *arg)
{
	struct inv_layer l;
	json_t *row;
	int rc = layer_by(c, index, value, &row);

	if (rc)
		return rc;
	layer_fill(row, &l);
	rc = fn ? fn(&l, arg) : 0;
	json_decref(row);
	return rc;
}

int inv_etcd_layer_get(struct dbc *c, const char *path,
		       int (*fn)(const struct inv_layer *l, void *arg), void *arg)
{
	if (!path)
		return -ENOENT;
	return layer_one(c, PATHS, path, fn, arg);
}

int inv_etcd_layer_top(struct dbc *c, int64_t vm, int64_t disk_id,
		       int (*fn)(const struct inv_layer *l, void *arg), void *arg)
{
	char top[48];

	return layer_one(c, TOPS, top_value(vm, disk_id, top), fn, arg);
}

/* fn for every layer of rows (by id) until it returns non-zero; frees rows. */
static int layer_walk(json_t *rows, int (*fn)(const struct inv_layer *l, void *arg), void *arg)
{
	json_t *row;
	size_t i;
	int rc = 0;

	json_array_foreach(rows, i, row) {
		struct inv_layer l;

		if (rc)
			break;
		layer_fill(row, &l);
		rc = fn ? fn(&l, arg) : 0;
	}
	json_decref(rows);
	return rc;
}

static bool parent_is(json_t *row, const void *path)
{
	const char *p = ie_str(row, "parent");

	return p && !strcmp(p, path);
}

int inv_etcd_layer_children(struct dbc *c, const char *path,
			    int (*fn)(const struct inv_layer *l, void *arg), void *arg)
{
	json_t *rows;
	int rc;

	if (!path)              /* "parent = NULL" holds for no layer */
		return 0;
	rc = iea_rows(c, "layers", "", parent_is, path, &rows);
	return rc ? rc : layer_walk(rows, fn, arg);
}

int inv_etcd_layer_each(struct dbc *c, int (*fn)(const struct inv_layer *l, void *arg), void *arg)
{
	json_t *rows;
	int rc = iea_rows(c, "layers", "", NULL, NULL, &rows);

	return rc ? rc : layer_walk(rows, fn, arg);
}

int inv_etcd_layer_unused(struct dbc *c, int (*fn)(const struct inv_layer *l, void *arg),
			  void *arg)
{
	json_t *rows = NULL, *images = NULL, *used = json_object(), *row, *unused = json_array();
	size_t i;
	int rc = used && unused ? 0 : -ENOMEM;

	if (!rc)
		rc = iea_rows(c, "layers", "", NULL, NULL, &rows);
	if (!rc)
		rc = iea_rows(c, "snapshot_images", "", NULL, NULL, &images);
	/* used: the paths some layer sits over or some snapshot's state is in */
	json_array_foreach(rows, i, row)
		if (!rc && ie_str(row, "parent"))
			rc = json_object_set(used, ie_str(row, "parent"), json_true()) ? -ENOMEM : 0;
	json_array_foreach(images, i, row)
		if (!rc && ie_str(row, "path"))
			rc = json_object_set(used, ie_str(row, "path"), json_true()) ? -ENOMEM : 0;
	json_array_foreach(rows, i, row) {
		const char *kind = ie_str(row, "kind"), *path = ie_str(row, "path");

		if (!rc && kind && !strcmp(kind, "frozen") && path &&
		    !json_object_get(used, path))
			rc = json_array_append(unused, row) ? -ENOMEM : 0;
	}
	json_decref(rows);
	json_decref(images);
	json_decref(used);
	if (rc) {
		json_decref(unused);
		return rc;
	}
	return layer_walk(unused, fn, arg);
}

/* Give the layer row (its id's) kind, vm and disk_id, moving its claim on the top index;
 * row is the caller's. 0, -EEXIST (a second top of the VM's disk) or -errno. */
static int set_kind(struct dbc *c, json_t *row, const char *kind, int64_t vm, int64_t disk_id)
{
	char old[48], top[48], key[21];
	bool was_top = is_top(row), now_top = !strcmp(kind, "top");
	int64_t id = ie_int(row, "id");
	json_t *copy;
	int rc = 0;

	top_value(ie_int(row, "vm_id"), ie_int(row, "disk_id"), old);
	top_value(vm, disk_id, top);
	/* checked before anything is written: a refused change leaves the layer as it was */
	if (now_top && (!was_top || strcmp(old, top)))
		rc = value_free(c, TOPS, top);
	if (!rc && was_top && (!now_top || strcmp(old, top)))
		rc = ie_unique_release(c, TOPS, old);
	if (!rc && now_top && (!was_top || strcmp(old, top)))
		rc = ie_unique_claim(c, TOPS, top, id);
	if (rc)
		return rc;
	copy = json_copy(row);
	if (!copy)
		return -ENOMEM;
	rc = ie_set_str(copy, "kind", kind);
	if (!rc)
		rc = ie_set_int(copy, "vm_id", vm);
	if (!rc)
		rc = ie_set_int(copy, "disk_id", disk_id);
	if (!rc)
		rc = ie_row_put(c, "layers", ie_id_key(id, key), copy, 0);
	json_decref(copy);
	return rc;
}

struct set_kind {
	const char *path, *kind;
	int64_t vm, disk_id;
};

static int layer_set_kind(struct dbc *c, void *arg)
{
	struct set_kind *a = arg;
	json_t *row;
	int rc = layer_by(c, PATHS, a->path, &row);

	if (rc)
		return rc;
	rc = set_kind(c, row, a->kind, a->vm, a->disk_id);
	json_decref(row);
	return rc;
}

int inv_etcd_layer_set_kind(struct dbc *c, const char *path, const char *kind, int64_t vm,
			    int64_t disk_id)
{
	struct set_kind a = { path, kind, vm, disk_id };

	if (!kind)
		return -EINVAL;
	if (!path)
		return -ENOENT;
	return ie_write(c, layer_set_kind, &a);
}

struct reparent {
	const char *old, *new_parent;
};

static int layer_reparent(struct dbc *c, void *arg)
{
	struct reparent *a = arg;
	json_t *rows, *row;
	size_t i;
	int rc = iea_rows(c, "layers", "", parent_is, a->old, &rows);

	json_array_foreach(rows, i, row) {
		char key[21];
		json_t *copy;

		if (rc)
			break;
		copy = json_copy(row);
		rc = copy ? ie_set_str(copy, "parent", a->new_parent) : -ENOMEM;
		if (!rc)
			rc = ie_row_put(c, "layers", ie_id_key(ie_int(row, "id"), key), copy, 0);
		json_decref(copy);
	}
	json_decref(rows);
	return rc;
}

int inv_etcd_layer_reparent(struct dbc *c, const char *old, const char *new_parent)
{
	struct reparent a = { old, new_parent };

	if (!old)
		return 0;
	return ie_write(c, layer_reparent, &a);
}

/* Delete the layer row with its claims. */
static int drop_layer(struct dbc *c, json_t *row)
{
	char key[21], top[48];
	int rc = ie_row_delete(c, "layers", ie_id_key(ie_int(row, "id"), key), false);

	if (!rc && ie_str(row, "path"))
		rc = ie_unique_release(c, PATHS, ie_str(row, "path"));
	if (!rc && is_top(row))
		rc = ie_unique_release(c, TOPS, top_value(ie_int(row, "vm_id"),
							  ie_int(row, "disk_id"), top));
	return rc;
}

static int layer_delete(struct dbc *c, void *arg)
{
	json_t *row;
	int rc = layer_by(c, PATHS, arg, &row);

	if (rc)
		return rc;
	rc = drop_layer(c, row);
	json_decref(row);
	return rc;
}

int inv_etcd_layer_delete(struct dbc *c, const char *path)
{
	if (!path)
		return -ENOENT;
	return ie_write(c, layer_delete, (void *)path);
}

/* --- cascades ------------------------------------------------------------------------- */

struct owner {
	const char *kind;
	int64_t field_id;
	const char *field;
};

static bool owned(json_t *row, const void *arg)
{
	const struct owner *o = arg;
	const char *kind = ie_str(row, "kind");

	return kind && !strcmp(kind, o->kind) && ie_int(row, o->field) == o->field_id;
}

static int disk_drop(struct dbc *c, void *arg)
{
	struct owner o = { "disk", *(int64_t *)arg, "disk_id" };
	json_t *rows, *row;
	size_t i;
	int rc = iea_rows(c, "layers", "", owned, &o, &rows);

	json_array_foreach(rows, i, row)
		if (!rc)
			rc = drop_layer(c, row);
	json_decref(rows);
	return rc;
}

int ie_disk_drop_children(struct dbc *c, int64_t disk)
{
	return ie_write(c, disk_drop, &disk);
}

int iea_layer_freeze_vm(struct dbc *c, int64_t vm)
{
	struct owner o = { "top", vm, "vm_id" };
	json_t *rows, *row;
	size_t i;
	int rc = iea_rows(c, "layers", "", owned, &o, &rows);

	json_array_foreach(rows, i, row)
		if (!rc)
			rc = set_kind(c, row, "frozen", 0, 0);
	json_decref(rows);
	return rc;
}
