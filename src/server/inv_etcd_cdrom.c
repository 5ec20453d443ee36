/* The inventory's CD/DVD drives on etcd: vm_cdroms/VM/IDX rows (inv_etcd_attach.h). See
 * inv.h. */
#include "server/inv_etcd_attach.h"

#include <errno.h>
#include <string.h>

/* A drive's bus when none was set (SQLite: the column's default). */
#define CDROM_BUS "virtio-scsi"

static const char *cd_bus(json_t *row)
{
	return ie_str(row, "bus") ? ie_str(row, "bus") : CDROM_BUS;
}

int inv_etcd_vm_cdroms(struct dbc *c, int64_t id,
		       int (*fn)(const struct inv_vm_cdrom *d, void *arg), void *arg)
{
	char pfx[22];
	json_t *rows, *row;
	size_t i;
	int rc = iea_rows(c, "vm_cdroms", iea_prefix(id, pfx), NULL, NULL, &rows);

	json_array_foreach(rows, i, row) {
		struct inv_vm_cdrom d = {
			.idx = (int)ie_int(row, "idx"),
			.image = ie_str(row, "image"),
			.bus = cd_bus(row),
		};

		if (rc)
			break;
		rc = fn(&d, arg);
	}
	json_decref(rows);
	return rc;
}

static int cdroms_clear(struct dbc *c, void *arg)
{
	char pfx[22];

	return ie_row_delete(c, "vm_cdroms", iea_prefix(*(int64_t *)arg, pfx), true);
}

int inv_etcd_vm_cdroms_clear(struct dbc *c, int64_t id)
{
	return ie_write(c, cdroms_clear, &id);
}

struct cd_write {
	int64_t id;
	int idx;
	const char *image;
};

static int cdrom_add(struct dbc *c, void *arg)
{
	struct cd_write *a = arg;
	char key[42];
	json_t *row;
	int rc = iea_must_be_free(c, "vm_cdroms", iea_key2(a->id, a->idx, key));

	if (!rc)
		rc = iea_must_exist(c, "vms", a->id);
	if (rc)
		return rc;
	row = json_pack("{s:I,s:i,s:s*,s:s}", "vm_id", (json_int_t)a->id, "idx", a->idx,
			"image", a->image, "bus", CDROM_BUS);
	if (!row)
		return -ENOMEM;
	/* s* leaves a NULL image out: store it as null, as the column's NULL */
	if (!a->image && json_object_set_new(row, "image", json_null())) {
		json_decref(row);
		return -ENOMEM;
	}
	rc = ie_row_put(c, "vm_cdroms", key, row, IE_ABSENT);
	json_decref(row);
	return rc;
}

int inv_etcd_vm_cdrom_add(struct dbc *c, int64_t id, int idx, const char *image)
{
	struct cd_write a = { id, idx, image };

	if (idx < 0)
		return -EINVAL;
	return ie_write(c, cdrom_add, &a);
}

int iea_attach_set(struct dbc *c, const char *table, int64_t id, int idx, const char *field,
		   const char *value)
{
	char key[42];
	json_t *row, *copy;
	int rc;

	if (idx < 0)
		return -ENOENT;
	rc = ie_row_get(c, table, iea_key2(id, idx, key), &row, NULL);
	if (rc)
		return rc;
	copy = json_copy(row);
	json_decref(row);
	if (!copy)
		return -ENOMEM;
	rc = ie_set_str(copy, field, value);
	if (!rc)
		rc = ie_row_put(c, table, key, copy, 0);
	json_decref(copy);
	return rc;
}

static int cdrom_set(struct dbc *c, void *arg)
{
	struct cd_write *a = arg;

	return iea_attach_set(c, "vm_cdroms", a->id, a->idx, "image", a->image);
}

int inv_etcd_vm_cdrom_set(struct dbc *c, int64_t id, int idx, const char *image)
{
	struct cd_write a = { id, idx, image };

	return ie_write(c, cdrom_set, &a);
}

static bool holds(json_t *row, const void *image)
{
	const char *s = ie_str(row, "image");

	return s && !strcmp(s, image);
}

int inv_etcd_image_cdrom_users(struct dbc *c, const char *image,
			       int (*fn)(const struct inv_vm *v, int idx, void *arg), void *arg)
{
	struct iea_users u = { 0 };
	json_t *rows;
	size_t i;
	int rc;

	if (!image)             /* "image = NULL" holds for no drive */
		return 0;
	rc = iea_rows(c, "vm_cdroms", "", holds, image, &rows);
	if (rc)
		return rc;
	rc = iea_users_load(c, rows, &u);
	for (i = 0; !rc && i < u.n; i++)
		rc = fn(&u.a[i].v, u.a[i].idx, arg);
	iea_users_free(&u);
	json_decref(rows);
	return rc;
}
