/* Snapshot trees: the list (with each snapshot's images), the count, and which disk
 * changes a VM's snapshots allow. See snapshot.h. */
#include "server/snapshot.h"
#include "server/inv.h"
#include "server/layers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct listing {
	struct dbc *c;
	json_t *a;
	json_t *current;
};

static int image_json(int64_t disk_id, const char *path, void *arg)
{
	struct listing *l = arg;
	struct inv_disk *d = malloc(sizeof(*d));
	const char *base = strrchr(path, '/');
	struct stat st;
	json_t *o;

	o = json_pack("{s:o,s:s,s:I}", "disk", d && !inv_disk_get(l->c, disk_id, d) ?
		      json_string(d->name) : json_null(), "image", base ? base + 1 : path,
		      "allocated", (json_int_t)(stat(path, &st) ? 0 : st.st_blocks * 512));
	free(d);
	json_array_append_new(l->current, o); /* the disks array of the snapshot being built */
	return 0;
}

static int snap_json(const struct inv_snapshot *s, void *arg)
{
	struct listing *l = arg;
	json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:b,s:I,s:[],s:b,s:o}", "name", s->name,
			      "description", s->description, "id", (json_int_t)s->id, "parent_id",
			      (json_int_t)s->parent_id, "current", s->current, "created",
			      (json_int_t)s->created, "children", "memory", s->memory_bytes > 0,
			      "memory_bytes", s->memory_bytes > 0 ? json_integer(s->memory_bytes) :
			      json_null());

	if (!o)
		return -ENOMEM;
	json_array_append_new(l->a, o);
	return 0;
}

json_t *snapshot_list_json(struct dbc *c, int64_t id)
{
	struct listing l = { c, json_array(), NULL };
	json_t *cur = json_null(), *s, *t;
	size_t i, j;

	if (!l.a || inv_snap_each(c, id, snap_json, &l)) {
		json_decref(l.a);
		return NULL;
	}
	/* parents and children by name (the ids stay inside), and each one's images */
	json_array_foreach(l.a, i, s) {
		json_int_t pid = json_integer_value(json_object_get(s, "parent_id"));
		json_t *parent = json_null();

		json_array_foreach(l.a, j, t) {
			if (json_integer_value(json_object_get(t, "id")) == pid)
				parent = json_incref(json_object_get(t, "name"));
			if (json_integer_value(json_object_get(t, "parent_id")) ==
			    json_integer_value(json_object_get(s, "id")))
				json_array_append(json_object_get(s, "children"),
						  json_object_get(t, "name"));
		}
		json_object_set_new(s, "parent", parent);
		if (json_is_true(json_object_get(s, "current")))
			cur = json_object_get(s, "name");
		l.current = json_array();
		inv_snap_images(c, json_integer_value(json_object_get(s, "id")), image_json, &l);
		json_object_set_new(s, "disks", l.current);
	}
	json_array_foreach(l.a, i, s) {
		json_object_del(s, "id");
		json_object_del(s, "parent_id");
	}
	return json_pack("{s:O,s:o}", "current", cur, "snapshots", l.a);
}

static int count_snap(const struct inv_snapshot *s, void *arg)
{
	(void)s;
	(*(int *)arg)++;
	return 0;
}

int snapshot_count(struct dbc *c, int64_t id)
{
	int n = 0, rc = inv_snap_each(c, id, count_snap, &n);

	return rc ? rc : n;
}

int snapshot_check_disks(struct dbc *c, int64_t id, const json_t *disks, char *why, size_t len)
{
	struct layer_disk *d = NULL;
	int n = 0, snaps = snapshot_count(c, id), rc;

	if (snaps < 0)
		return snaps;
	rc = layers_vm_disks(c, id, &d, &n);
	if (rc)
		return rc;
	for (int i = 0; !rc && i < n; i++) {
		char top[4400];
		bool is_top = false, kept = false;
		json_t *v;
		size_t k;

		json_array_foreach(disks, k, v) {
			const char *name = json_string_value(json_object_get(v, "disk"));

			if (name && !strcmp(name, d[i].name) &&
			    json_is_true(json_object_get(v, "readonly")) == d[i].readonly &&
			    (!snaps || (int)k == i))
				kept = true;
		}
		if (snaps && (!kept || json_array_size(disks) != (size_t)n)) {
			snprintf(why, len, "the VM has snapshots, and its disk list is part of them: "
				 "delete its snapshots before changing its disks");
			rc = -EBUSY;
		} else if (!kept && !d[i].readonly &&
			   !(rc = layers_top_path(c, id, d[i].disk_id, d[i].path, top, sizeof(top),
						  &is_top)) && is_top) {
			snprintf(why, len, "disk %s runs on a layer that holds its data since it was "
				 "cloned or snapshotted: it stays attached writable", d[i].name);
			rc = -EBUSY;
		}
	}
	if (snaps && !rc && json_array_size(disks) != (size_t)n) {
		snprintf(why, len, "the VM has snapshots, and its disk list is part of them: delete "
			 "its snapshots before changing its disks");
		rc = -EBUSY;
	}
	free(d);
	return rc;
}
