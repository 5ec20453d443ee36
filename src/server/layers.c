/* Disk layers through lib/vhd. See layers.h. */
#include "server/layers.h"
#include "server/inv.h"
#include "util/log.h"

#include "vhd/vhd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int layer_files_init(struct layer_files *f)
{
	f->created = json_array();
	f->gone = json_array();
	f->parent_nolock = false;
	if (f->created && f->gone)
		return 0;
	json_decref(f->created);
	json_decref(f->gone);
	f->created = f->gone = NULL;
	return -ENOMEM;
}

void layer_files_end(struct layer_files *f, bool ok)
{
	json_t *v;
	size_t i;

	json_array_foreach(ok ? f->gone : f->created, i, v)
		if (unlink(json_string_value(v)) && errno != ENOENT)
			vsrv_log("cannot remove the disk layer %s: %m", json_string_value(v));
	json_decref(f->created);
	json_decref(f->gone);
	f->created = f->gone = NULL;
}

/* inv_layer_*: the layer's path into the buffer arg (4400 bytes). */
static int copy_path(const struct inv_layer *l, void *arg)
{
	snprintf(arg, 4400, "%s", l->path);
	return 1;
}

int layers_top_path(struct dbc *c, int64_t vm, int64_t disk_id, const char *disk_path,
		    char *out, size_t n, bool *is_top)
{
	char top[4400];
	int rc = inv_layer_top(c, vm, disk_id, copy_path, top);

	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (is_top)
		*is_top = rc == 1;
	if ((size_t)snprintf(out, n, "%s", rc == 1 ? top : disk_path) >= n)
		return -ENAMETOOLONG;
	return 0;
}

static int count_one(const struct inv_layer *l, void *arg)
{
	(void)l;
	(*(int *)arg)++;
	return 0;
}

int layers_frozen(struct dbc *c, const char *path)
{
	int n = 0, rc = inv_layer_children(c, path, count_one, &n);

	return rc < 0 ? rc : n > 0;
}

int layers_new_image(struct server *srv, struct layer_files *f, const char *dir,
		     const char *stem, const char *parent, char *out, size_t n, char *err,
		     size_t errlen)
{
	struct vhd_create_opts o = { .type = VHD_TYPE_DIFF, .excl = true, .parent = parent,
				     .parent_nolock = f->parent_nolock };
	char ldir[4200];
	uint32_t r = 0;
	int rc;

	if (!dir) {
		snprintf(ldir, sizeof(ldir), "%s/layers", srv->data_dir);
		if (mkdir(ldir, 0700) && errno != EEXIST) {
			rc = -errno;
			snprintf(err, errlen, "cannot create %s: %s", ldir, strerror(-rc));
			return rc;
		}
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (uint32_t)rand();
		rc = snprintf(out, n, "%s/%s-%08x.vhd", ldir, stem, r);
	} else {
		rc = snprintf(out, n, "%s/%s.vhd", dir, stem);
	}
	if (rc < 0 || (size_t)rc >= n) {
		snprintf(err, errlen, "the path of a new disk layer is too long");
		return -ENAMETOOLONG;
	}
	rc = vhd_create(out, &o, NULL);
	if (rc) {
		snprintf(err, errlen, "cannot create a differencing image over %s: %s", parent,
			 vhd_errmsg());
		return rc;
	}
	json_array_append_new(f->created, json_string(out));
	return 0;
}

/* Whether the differencing image at path holds no data (reads as its parent). */
static bool layer_empty(const char *path)
{
	struct vhd_info in;
	struct vhd *v;

	if (vhd_open(path, VHD_RDONLY | VHD_NOPARENT | VHD_NOLOCK, &v))
		return false;
	vhd_get_info(v, &in);
	vhd_close(v);
	return in.type == VHD_TYPE_DIFF && in.allocated_blocks == 0;
}

/* inv_layer_*: the layer's parent (or "") into the buffer arg (4400 bytes). */
static int copy_parent(const struct inv_layer *l, void *arg)
{
	snprintf(arg, 4400, "%s", l->parent ? l->parent : "");
	return 1;
}

int layers_frozen_image(struct server *srv, struct dbc *c, struct layer_files *f, int64_t vm,
			int64_t disk_id, const char *disk_path, char *frozen, size_t n, char *err,
			size_t errlen)
{
	char top[4400], parent[4400] = "";
	bool is_top;
	int rc = layers_top_path(c, vm, disk_id, disk_path, top, sizeof(top), &is_top);

	if (!rc && is_top && inv_layer_get(c, top, copy_parent, parent) == 1 && parent[0] &&
	    layer_empty(top)) {
		/* the top is empty: its parent, frozen already, reads the same */
		if ((size_t)snprintf(frozen, n, "%s", parent) >= n)
			return -ENAMETOOLONG;
		return 0;
	}
	return layers_push(srv, c, f, vm, disk_id, disk_path, frozen, n, err, errlen);
}

/* A new empty top layer of the VM's disk over parent, recorded in the inventory. */
static int new_top(struct server *srv, struct dbc *c, struct layer_files *f, int64_t vm,
		   int64_t disk_id, const char *parent, char *err, size_t errlen)
{
	struct inv_layer l = { .kind = "top", .vm_id = vm, .disk_id = disk_id };
	char stem[64], top[4400];
	int rc;

	snprintf(stem, sizeof(stem), "vm%lld-disk%lld", (long long)vm, (long long)disk_id);
	rc = layers_new_image(srv, f, NULL, stem, parent, top, sizeof(top), err, errlen);
	if (rc)
		return rc;
	l.path = top;
	l.parent = parent;
	rc = inv_layer_add(c, &l);
	if (rc)
		snprintf(err, errlen, "inventory error recording the layer %s", top);
	return rc;
}

int layers_push(struct server *srv, struct dbc *c, struct layer_files *f, int64_t vm,
		int64_t disk_id, const char *disk_path, char *frozen, size_t n, char *err,
		size_t errlen)
{
	bool is_top;
	int rc = layers_top_path(c, vm, disk_id, disk_path, frozen, n, &is_top);

	if (!rc && is_top)
		rc = inv_layer_set_kind(c, frozen, "frozen", vm, disk_id);
	if (rc) {
		snprintf(err, errlen, "inventory error");
		return rc;
	}
	return new_top(srv, c, f, vm, disk_id, frozen, err, errlen);
}

int layers_retop(struct server *srv, struct dbc *c, struct layer_files *f, int64_t vm,
		 int64_t disk_id, const char *parent, char *err, size_t errlen)
{
	char old[4400];
	int rc = inv_layer_top(c, vm, disk_id, copy_path, old);

	if (rc == 1) {
		rc = inv_layer_delete(c, old);
		if (!rc)
			json_array_append_new(f->gone, json_string(old));
	} else if (rc == -ENOENT) {
		rc = 0;
	}
	if (rc) {
		snprintf(err, errlen, "inventory error");
		return rc;
	}
	return new_top(srv, c, f, vm, disk_id, parent, err, errlen);
}

/* The layers over an image, copied out of the walk. */
struct kids {
	int n;
	char path[LAYER_MERGE_MAX][4400];
	char kind[LAYER_MERGE_MAX][16];
	int64_t vm[LAYER_MERGE_MAX], disk[LAYER_MERGE_MAX];
};

static int add_kid(const struct inv_layer *l, void *arg)
{
	struct kids *k = arg;

	if (k->n < LAYER_MERGE_MAX) {
		snprintf(k->path[k->n], sizeof(k->path[0]), "%s", l->path);
		snprintf(k->kind[k->n], sizeof(k->kind[0]), "%s", l->kind);
		k->vm[k->n] = l->vm_id;
		k->disk[k->n] = l->disk_id;
	}
	k->n++;
	return k->n > LAYER_MERGE_MAX;
}

static int copy_kind(const struct inv_layer *l, void *arg)
{
	snprintf(arg, 16, "%s", l->kind);
	return 1;
}

int layers_merge_plan(struct dbc *c, int64_t vm, const char *under, struct layer_merge *m,
		      char *err, size_t errlen)
{
	struct kids *one = calloc(1, sizeof(*one)), *over = calloc(1, sizeof(*over));
	int rc = one && over ? 0 : -ENOMEM;

	memset(m, 0, sizeof(*m));
	snprintf(m->under, sizeof(m->under), "%s", under);
	if (!rc)
		rc = inv_layer_children(c, under, add_kid, one);
	if (rc < 0 || one->n != 1)
		goto out;
	rc = 0;
	if (strcmp(one->kind[0], "frozen") && !(!strcmp(one->kind[0], "top") && one->vm[0] == vm))
		goto out;   /* a linked clone's disk: it stays over under */
	rc = inv_layer_children(c, one->path[0], add_kid, over);
	if (rc < 0)
		goto out;
	rc = 0;
	if (over->n > LAYER_MERGE_MAX) {
		snprintf(err, errlen, "%s has too many images over it to merge", one->path[0]);
		rc = -EBUSY;
		goto out;
	}
	m->todo = true;
	snprintf(m->k, sizeof(m->k), "%s", one->path[0]);
	snprintf(m->kkind, sizeof(m->kkind), "%s", one->kind[0]);
	m->kdisk = one->disk[0];
	m->nover = over->n;
	for (int i = 0; i < over->n; i++)
		snprintf(m->over[i], sizeof(m->over[i]), "%s", over->path[i]);
out:
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "inventory error");
	free(one);
	free(over);
	return rc;
}

int layers_merge_files(const struct layer_merge *m, vhd_progress_fn progress, void *opaque,
		       char *err, size_t errlen)
{
	struct vhd *v;
	int rc;

	if (!m->todo)
		return 0;
	for (int i = 0; i < m->nover; i++)
		if (vhd_lock_path_test(m->over[i], VHD_LOCK_EXCL) == -EBUSY) {
			snprintf(err, errlen, "%s is in use (a running VM's disk)", m->over[i]);
			return -EBUSY;
		}
	rc = vhd_open(m->k, VHD_PARENT_RW, &v);
	if (rc) {
		snprintf(err, errlen, "%s", vhd_errmsg());
		return rc;
	}
	rc = vhd_commit(v, progress, opaque);
	if (rc)
		snprintf(err, errlen, "merging %s into %s: %s", m->k, m->under, vhd_errmsg());
	if (vhd_close(v) && !rc) {
		snprintf(err, errlen, "merging %s into %s: %s", m->k, m->under, vhd_errmsg());
		rc = -EIO;
	}
	/* From here on k is not needed: what sat over it reads the same over under. */
	for (int i = 0; !rc && i < m->nover; i++) {
		rc = vhd_set_parent(m->over[i], m->under);
		if (rc)
			snprintf(err, errlen, "%s", vhd_errmsg());
	}
	return rc;
}

int layers_merge_rows(struct dbc *c, struct layer_files *f, int64_t vm,
		      const struct layer_merge *m)
{
	char ukind[16] = "";
	int rc;

	if (!m->todo)
		return 0;
	/* What sat over k sits over under, which holds k's data and takes its place. */
	rc = inv_layer_reparent(c, m->k, m->under);
	if (!rc)
		rc = inv_snap_image_repath(c, m->k, m->under);
	if (!rc)
		rc = inv_layer_delete(c, m->k);
	if (!rc && !strcmp(m->kkind, "top")) {
		rc = inv_layer_get(c, m->under, copy_kind, ukind);
		if (rc == 1 && !strcmp(ukind, "frozen"))
			rc = inv_layer_set_kind(c, m->under, "top", vm, m->kdisk);
		else if (rc == 1 || rc == -ENOENT)
			rc = 0; /* an inventory disk's own file */
	}
	if (rc)
		return -EIO;
	json_array_append_new(f->gone, json_string(m->k));
	vsrv_log("disk layer %s merged into %s", m->k, m->under);
	return 0;
}

static int add_unused(const struct inv_layer *l, void *arg)
{
	json_array_append_new(arg, json_string(l->path));
	return 0;
}

int layers_collect(struct dbc *c, struct layer_files *f)
{
	for (;;) {
		json_t *a = json_array(), *v;
		size_t i;
		int rc = a ? inv_layer_unused(c, add_unused, a) : -ENOMEM;

		if (!rc && !json_array_size(a)) {
			json_decref(a);
			return 0;
		}
		json_array_foreach(a, i, v) {
			if (!rc)
				rc = inv_layer_delete(c, json_string_value(v));
			if (!rc)
				json_array_append(f->gone, v);
		}
		json_decref(a);
		if (rc)
			return rc;
	}
}

int layers_keep_base(struct dbc *c, const char *path)
{
	struct inv_layer l = { .path = path, .kind = "frozen" };
	int rc = layers_frozen(c, path);

	if (rc <= 0)
		return rc;
	rc = inv_layer_set_kind(c, path, "frozen", 0, 0); /* a linked clone's disk */
	if (rc == -ENOENT)
		rc = inv_layer_add(c, &l);
	return rc ? rc : 1;
}

static int add_promise(const struct inv_layer *l, void *arg)
{
	struct { struct dbc *c; double *p; } *a = arg;
	struct inv_disk *d;
	struct stat st;
	double used = 0;

	if (strcmp(l->kind, "top"))
		return 0;
	d = malloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	if (!inv_disk_get(a->c, l->disk_id, d)) {
		if (stat(l->path, &st) == 0)
			used = (double)st.st_blocks * 512;
		if (d->size > used)
			*a->p += d->size - used;
	}
	free(d);
	return 0;
}

int layers_promised(struct dbc *c, double *promised)
{
	struct { struct dbc *c; double *p; } a = { c, promised };

	return inv_layer_each(c, add_promise, &a);
}

static int add_vm_disk(const struct inv_vm_disk *d, void *arg)
{
	struct { struct layer_disk *a; int n; } *l = arg;
	struct layer_disk *x;

	if (l->n >= 16)
		return 1;
	x = &l->a[l->n++];
	x->idx = d->idx;
	x->disk_id = d->disk_id;
	snprintf(x->name, sizeof(x->name), "%s", d->disk);
	snprintf(x->format, sizeof(x->format), "%s", d->format);
	snprintf(x->bus, sizeof(x->bus), "%s", d->bus);
	x->readonly = d->readonly;
	snprintf(x->path, sizeof(x->path), "%s", d->path);
	return 0;
}

int layers_vm_disks(struct dbc *c, int64_t id, struct layer_disk **out, int *n)
{
	struct { struct layer_disk *a; int n; } l = { calloc(16, sizeof(struct layer_disk)), 0 };
	struct inv_disk *d = malloc(sizeof(*d));
	int rc = l.a && d ? inv_vm_disks(c, id, add_vm_disk, &l) : -ENOMEM;

	for (int i = 0; rc >= 0 && i < l.n; i++)
		if (!inv_disk_get(c, l.a[i].disk_id, d))
			l.a[i].size = d->size;
	free(d);
	if (rc < 0) {
		free(l.a);
		return rc;
	}
	*out = l.a;
	*n = l.n;
	return 0;
}

static int count_top(const struct inv_layer *l, void *arg)
{
	struct { int64_t vm; int n; } *a = arg;

	if (!strcmp(l->kind, "top") && l->vm_id == a->vm)
		a->n++;
	return 0;
}

int layers_vm_tops(struct dbc *c, int64_t vm)
{
	struct { int64_t vm; int n; } a = { vm, 0 };
	int rc = inv_layer_each(c, count_top, &a);

	return rc ? rc : a.n;
}
