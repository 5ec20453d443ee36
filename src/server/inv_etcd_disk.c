/* The inventory's disks on etcd: disks/ID {id, name, format, size, path, created}, with
 * the claims u/disks.name/NAME and u/disks.path/PATH (the SQLite table's UNIQUE columns).
 * See inv.h, inv_etcd.h. */
#include "server/inv_etcd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void disk_fill(json_t *r, struct inv_disk *d)
{
	memset(d, 0, sizeof(*d));
	d->id = ie_int(r, "id");
	ie_str_copy(r, "name", d->name, sizeof(d->name));
	ie_str_copy(r, "format", d->format, sizeof(d->format));
	d->size = ie_int(r, "size");
	ie_str_copy(r, "path", d->path, sizeof(d->path));
	d->created = ie_int(r, "created");
}

int inv_etcd_disk_get(struct dbc *c, int64_t id, struct inv_disk *out)
{
	json_t *r;
	int rc = ie_row_get_id(c, "disks", id, &r, NULL);

	if (rc)
		return rc;
	disk_fill(r, out);
	json_decref(r);
	return 0;
}

static int row_collect(const char *key, json_t *row, uint64_t rev, void *arg)
{
	(void)key;
	(void)rev;
	return json_array_append(arg, row) ? -ENOMEM : 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(ie_str(*(json_t *const *)a, "name") ? ie_str(*(json_t *const *)a, "name") : "",
		      ie_str(*(json_t *const *)b, "name") ? ie_str(*(json_t *const *)b, "name") : "");
}

/* Every row of table, by name: 0 and *rows (n of them; free with rows_free), or -errno. */
int ie_rows_by_name(struct dbc *c, const char *table, json_t ***rows, size_t *n)
{
	json_t *all = json_array(), *r;
	json_t **a = NULL;
	size_t i;
	int rc = all ? ie_row_each(c, table, "", row_collect, all) : -ENOMEM;

	if (!rc && json_array_size(all)) {
		a = calloc(json_array_size(all), sizeof(*a));
		if (!a)
			rc = -ENOMEM;
	}
	if (!rc) {
		json_array_foreach(all, i, r)
			a[i] = json_incref(r);
		*n = json_array_size(all);
		if (*n)
			qsort(a, *n, sizeof(*a), by_name);
		*rows = a;
	}
	json_decref(all);
	return rc;
}

void ie_rows_free(json_t **rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		json_decref(rows[i]);
	free(rows);
}

int inv_etcd_disk_each(struct dbc *c, int (*fn)(const struct inv_disk *d, void *arg), void *arg)
{
	struct inv_disk *d = malloc(sizeof(*d));
	json_t **rows = NULL;
	size_t n = 0, i;
	int rc = d ? ie_rows_by_name(c, "disks", &rows, &n) : -ENOMEM;

	for (i = 0; !rc && i < n; i++) {
		disk_fill(rows[i], d);
		rc = fn(d, arg);
	}
	ie_rows_free(rows, n);
	free(d);
	return rc;
}

struct create {
	const struct inv_disk *d;
	int64_t id;
};

static int create_body(struct dbc *c, void *arg)
{
	struct create *a = arg;
	json_t *row = json_pack("{s:I,s:s,s:s,s:I,s:s,s:I}", "id", (json_int_t)a->id,
				"name", a->d->name, "format", a->d->format,
				"size", (json_int_t)a->d->size, "path", a->d->path,
				"created", (json_int_t)time(NULL));
	char key[24];
	int rc = row ? 0 : -ENOMEM;

	if (!rc)
		rc = ie_unique_claim(c, "disks.name", a->d->name, a->id);
	if (!rc)
		rc = ie_unique_claim(c, "disks.path", a->d->path, a->id);
	if (!rc)
		rc = ie_row_put(c, "disks", ie_id_key(a->id, key), row, IE_ABSENT);
	json_decref(row);
	return rc;
}

int inv_etcd_disk_create(struct dbc *c, const struct inv_disk *d, int64_t *id)
{
	struct create a = { .d = d };
	int rc = ie_new_id(c, "disks", &a.id);

	if (!rc)
		rc = ie_write(c, create_body, &a);
	if (!rc)
		*id = a.id;
	return rc;
}

struct set_size {
	int64_t id, size;
};

static int set_size_body(struct dbc *c, void *arg)
{
	struct set_size *a = arg;
	json_t *row;
	char key[24];
	int rc = ie_row_get(c, "disks", ie_id_key(a->id, key), &row, NULL);

	if (rc == -ENOENT)          /* an UPDATE of no row */
		return 0;
	if (rc)
		return rc;
	rc = ie_set_int(row, "size", a->size);
	if (!rc)
		rc = ie_row_put(c, "disks", key, row, 0);
	json_decref(row);
	return rc;
}

int inv_etcd_disk_set_size(struct dbc *c, int64_t id, int64_t size)
{
	struct set_size a = { id, size };

	return ie_write(c, set_size_body, &a);
}

/* -EEXIST when a VM has the disk (the SQLite foreign key of vm_disks.disk_id). */
static int attached(const char *key, json_t *row, uint64_t rev, void *arg)
{
	(void)key;
	(void)rev;
	return ie_int(row, "disk_id") == *(int64_t *)arg ? -EEXIST : 0;
}

static int delete_body(struct dbc *c, void *arg)
{
	int64_t id = *(int64_t *)arg;
	json_t *row;
	char key[24];
	int rc = ie_row_get(c, "disks", ie_id_key(id, key), &row, NULL);

	if (rc)
		return rc;
	rc = ie_row_each(c, "vm_disks", "", attached, &id);
	if (!rc)
		rc = ie_row_delete(c, "disks", key, false);
	if (!rc && ie_str(row, "name"))
		rc = ie_unique_release(c, "disks.name", ie_str(row, "name"));
	if (!rc && ie_str(row, "path"))
		rc = ie_unique_release(c, "disks.path", ie_str(row, "path"));
	if (!rc)
		rc = ie_disk_drop_children(c, id);
	if (!rc)
		rc = inv_etcd_grants_clear(c, "disk", id);
	if (!rc)
		rc = ie_owner_drop(c, "disk", id);
	json_decref(row);
	return rc;
}

int inv_etcd_disk_delete(struct dbc *c, int64_t id)
{
	return ie_write(c, delete_body, &id);
}
