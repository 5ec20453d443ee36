/* The inventory's VM hardware on etcd: the vm_hw/VM row, a NIC's model and a CD/DVD
 * drive's bus (inv_etcd_attach.h). See inv.h. The vm_hw row of a VM is written by
 * inv_etcd_vm_create (a fresh UUID); a field it leaves out reads as the SQLite column's
 * default for a new VM (firmware none, balloon on, the rest empty or off). */
#include "server/inv_etcd_attach.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* field of row into buf (size n): "" for null, def for a missing field. */
static void hw_str(json_t *row, const char *field, const char *def, char *buf, size_t n)
{
	json_t *v = json_object_get(row, field);

	if (!v)
		snprintf(buf, n, "%s", def);
	else
		snprintf(buf, n, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static bool hw_bool(json_t *row, const char *field, bool def)
{
	json_t *v = json_object_get(row, field);

	if (!v)
		return def;
	return json_is_integer(v) ? json_integer_value(v) != 0 : json_is_true(v);
}

static void hw_fill(json_t *row, struct inv_vm_hw *out)
{
	memset(out, 0, sizeof(*out));
	hw_str(row, "firmware", "none", out->firmware, sizeof(out->firmware));
	hw_str(row, "boot", "", out->boot, sizeof(out->boot));
	hw_str(row, "uuid", "", out->uuid, sizeof(out->uuid));
	hw_str(row, "os_type", "", out->os_type, sizeof(out->os_type));
	out->balloon = hw_bool(row, "balloon", true);
	hw_str(row, "display", "", out->display, sizeof(out->display));
	hw_str(row, "enlightenments", "", out->enlightenments, sizeof(out->enlightenments));
	out->mem_merge = hw_bool(row, "mem_merge", false);
	/* migration 12's columns: null or missing, the defaults of a VM that existed */
	out->memory_min_mib = json_is_integer(json_object_get(row, "memory_min_mib")) ?
			      ie_int(row, "memory_min_mib") : 0;
	out->memory_buffer_pct = json_is_integer(json_object_get(row, "memory_buffer_pct")) ?
				 (int)ie_int(row, "memory_buffer_pct") : INV_MEMORY_BUFFER_PCT;
}

int inv_etcd_vm_hw_get(struct dbc *c, int64_t id, struct inv_vm_hw *out)
{
	json_t *row;
	int rc = ie_row_get_id(c, "vm_hw", id, &row, NULL);

	if (rc)
		return rc;
	hw_fill(row, out);
	json_decref(row);
	return 0;
}

/* Set the fields of hw that inv_vm_hw_put writes (all but the UUID) in row; "" of os_type,
 * display and enlightenments, and a memory_min_mib of 0, are stored as null (SQLite: NULL). */
static int hw_set(json_t *row, const struct inv_vm_hw *hw)
{
	int rc = ie_set_str(row, "firmware", hw->firmware);

	if (!rc)
		rc = ie_set_str(row, "boot", hw->boot);
	if (!rc)
		rc = ie_set_str(row, "os_type", hw->os_type[0] ? hw->os_type : NULL);
	if (!rc)
		rc = ie_set_bool(row, "balloon", hw->balloon);
	if (!rc)
		rc = ie_set_str(row, "display", hw->display[0] ? hw->display : NULL);
	if (!rc)
		rc = ie_set_str(row, "enlightenments",
				hw->enlightenments[0] ? hw->enlightenments : NULL);
	if (!rc)
		rc = ie_set_bool(row, "mem_merge", hw->mem_merge);
	if (!rc && hw->memory_min_mib > 0)
		rc = ie_set_int(row, "memory_min_mib", hw->memory_min_mib);
	else if (!rc)
		rc = ie_set_str(row, "memory_min_mib", NULL);
	if (!rc)
		rc = ie_set_int(row, "memory_buffer_pct", hw->memory_buffer_pct);
	return rc;
}

/* Write hw (NULL: none of it) and uuid (NULL: not it) over the vm_hw row of VM id. 0,
 * -ENOENT or -errno. */
static int hw_write(struct dbc *c, int64_t id, const struct inv_vm_hw *hw, const char *uuid)
{
	char key[21];
	json_t *row, *copy;
	int rc = ie_row_get(c, "vm_hw", ie_id_key(id, key), &row, NULL);

	if (rc)
		return rc;
	copy = json_copy(row);
	json_decref(row);
	if (!copy)
		return -ENOMEM;
	rc = hw ? hw_set(copy, hw) : 0;
	if (!rc && uuid)
		rc = ie_set_str(copy, "uuid", uuid);
	if (!rc)
		rc = ie_row_put(c, "vm_hw", key, copy, 0);
	json_decref(copy);
	return rc;
}

struct hw_put {
	int64_t id;
	const struct inv_vm_hw *hw;
	const char *uuid;
};

static int hw_put(struct dbc *c, void *arg)
{
	struct hw_put *a = arg;

	return hw_write(c, a->id, a->hw, a->uuid);
}

int inv_etcd_vm_hw_put(struct dbc *c, int64_t id, const struct inv_vm_hw *hw)
{
	struct hw_put a = { id, hw, NULL };

	return ie_write(c, hw_put, &a);
}

int inv_etcd_vm_hw_set_uuid(struct dbc *c, int64_t id, const char *uuid)
{
	struct hw_put a = { id, NULL, uuid };

	return ie_write(c, hw_put, &a);
}

/* Give every row of table of VM dst the field of the row of VM src at the same idx (where
 * there is one). */
static int copy_field(struct dbc *c, const char *table, const char *field, int64_t src,
		      int64_t dst)
{
	char pfx[22], key[42];
	json_t *rows, *row;
	size_t i;
	int rc = iea_rows(c, table, iea_prefix(dst, pfx), NULL, NULL, &rows);

	json_array_foreach(rows, i, row) {
		int idx = (int)ie_int(row, "idx");
		json_t *from;
		const char *v;

		if (rc)
			break;
		rc = ie_row_get(c, table, iea_key2(src, idx, key), &from, NULL);
		if (rc == -ENOENT) {
			rc = 0;
			continue;
		}
		if (rc)
			break;
		v = ie_str(from, field);
		if (v && (!ie_str(row, field) || strcmp(v, ie_str(row, field))))
			rc = iea_attach_set(c, table, dst, idx, field, v);
		json_decref(from);
	}
	json_decref(rows);
	return rc;
}

static int hw_copy(struct dbc *c, void *arg)
{
	int64_t src = ((int64_t *)arg)[0], dst = ((int64_t *)arg)[1];
	struct inv_vm_hw hw;
	int rc = inv_etcd_vm_hw_get(c, src, &hw);

	if (!rc)
		rc = hw_write(c, dst, &hw, NULL);
	if (rc == -ENOENT)      /* either has no row: the hardware stays */
		rc = 0;
	if (!rc)
		rc = copy_field(c, "vm_nics", "model", src, dst);
	if (!rc)
		rc = copy_field(c, "vm_cdroms", "bus", src, dst);
	return rc;
}

int inv_etcd_vm_hw_copy(struct dbc *c, int64_t src, int64_t dst)
{
	int64_t ids[2] = { src, dst };

	return ie_write(c, hw_copy, ids);
}

struct attach_set {
	const char *table, *field, *value;
	int64_t id;
	int idx;
};

static int attach_set(struct dbc *c, void *arg)
{
	struct attach_set *a = arg;

	return iea_attach_set(c, a->table, a->id, a->idx, a->field, a->value);
}

int inv_etcd_vm_nic_set_model(struct dbc *c, int64_t id, int idx, const char *model)
{
	struct attach_set a = { "vm_nics", "model", model, id, idx };

	if (!model)
		return -EINVAL;
	return ie_write(c, attach_set, &a);
}

int inv_etcd_vm_cdrom_set_bus(struct dbc *c, int64_t id, int idx, const char *bus)
{
	struct attach_set a = { "vm_cdroms", "bus", bus, id, idx };

	if (!bus)
		return -EINVAL;
	return ie_write(c, attach_set, &a);
}
