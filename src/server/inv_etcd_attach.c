/* The inventory's attachments on etcd: a VM's drives (vm_disks) and NICs (vm_nics, their
 * MACs unique), and what goes with a deleted VM (ie_vm_drop_children). See inv.h, and
 * inv_etcd_attach.h for the rows. */
#include "server/inv_etcd_attach.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *iea_key2(int64_t a, int64_t b, char *buf)
{
	ie_id_key(a, buf);
	buf[20] = '/';
	ie_id_key(b, buf + 21);
	return buf;
}

char *iea_prefix(int64_t a, char *buf)
{
	ie_id_key(a, buf);
	strcpy(buf + 20, "/");
	return buf;
}

struct rows_walk {
	json_t *rows;
	bool (*keep)(json_t *row, const void *arg);
	const void *arg;
};

static int rows_one(const char *key, json_t *row, uint64_t rev, void *arg)
{
	struct rows_walk *w = arg;

	(void)key;
	(void)rev;
	if (w->keep && !w->keep(row, w->arg))
		return 0;
	return json_array_append(w->rows, row) ? -ENOMEM : 0;
}

int iea_rows(struct dbc *c, const char *table, const char *key_prefix,
	     bool (*keep)(json_t *row, const void *arg), const void *arg, json_t **rows)
{
	struct rows_walk w = { .rows = json_array(), .keep = keep, .arg = arg };
	int rc;

	*rows = NULL;
	if (!w.rows)
		return -ENOMEM;
	rc = ie_row_each(c, table, key_prefix, rows_one, &w);
	if (rc) {
		json_decref(w.rows);
		return rc;
	}
	*rows = w.rows;
	return 0;
}

const char *iea_str(json_t *row, const char *field, bool empty_null)
{
	const char *s = ie_str(row, field);

	return s && empty_null && !*s ? NULL : s;
}

static int use_cmp(const void *a, const void *b)
{
	const struct iea_use *x = a, *y = b;
	int d = strcmp(x->v.name, y->v.name);

	if (d)
		return d;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

int iea_users_load(struct dbc *c, json_t *rows, struct iea_users *out)
{
	size_t i;
	json_t *row;
	int rc = 0;

	out->n = 0;
	out->a = calloc(json_array_size(rows) + 1, sizeof(*out->a));
	if (!out->a)
		return -ENOMEM;
	json_array_foreach(rows, i, row) {
		struct iea_use *u = &out->a[out->n];

		rc = inv_etcd_vm_get(c, ie_int(row, "vm_id"), &u->v);
		if (rc == -ENOENT) {
			rc = 0;
			continue;
		}
		if (rc)
			break;
		u->idx = (int)ie_int(row, "idx");
		u->row = row;
		out->n++;
	}
	if (rc) {
		iea_users_free(out);
		return rc;
	}
	qsort(out->a, out->n, sizeof(*out->a), use_cmp);
	return 0;
}

void iea_users_free(struct iea_users *u)
{
	size_t i;

	for (i = 0; u->a && i < u->n; i++)
		inv_vm_clear(&u->a[i].v);
	free(u->a);
	u->a = NULL;
	u->n = 0;
}

/* --- drives ------------------------------------------------------------------------------ */

/* d from an attachment row and its disk's row (strings borrowed from both). */
static void disk_fill(json_t *row, json_t *disk, struct inv_vm_disk *d)
{
	*d = (struct inv_vm_disk){
		.idx = (int)ie_int(row, "idx"),
		.disk_id = ie_int(row, "disk_id"),
		.disk = ie_str(disk, "name"),
		.path = ie_str(disk, "path"),
		.format = ie_str(disk, "format"),
		.bus = ie_str(row, "bus"),
		.readonly = ie_bool(row, "readonly"),
	};
}

int inv_etcd_vm_disks(struct dbc *c, int64_t id, int (*fn)(const struct inv_vm_disk *d, void *arg),
		      void *arg)
{
	char pfx[22];
	json_t *rows, *row;
	size_t i;
	int rc = iea_rows(c, "vm_disks", iea_prefix(id, pfx), NULL, NULL, &rows);

	json_array_foreach(rows, i, row) {
		struct inv_vm_disk d;
		json_t *disk;

		if (rc)
			break;
		rc = ie_row_get_id(c, "disks", ie_int(row, "disk_id"), &disk, NULL);
		if (rc == -ENOENT) {        /* the JOIN leaves it out */
			rc = 0;
			continue;
		}
		if (rc)
			break;
		disk_fill(row, disk, &d);
		rc = fn(&d, arg);
		json_decref(disk);
	}
	json_decref(rows);
	return rc;
}

static bool on_disk(json_t *row, const void *arg)
{
	return ie_int(row, "disk_id") == *(const int64_t *)arg;
}

int inv_etcd_disk_users(struct dbc *c, int64_t disk_id,
			int (*fn)(const struct inv_vm *v, const struct inv_vm_disk *d, void *arg),
			void *arg)
{
	struct iea_users u = { 0 };
	json_t *rows = NULL, *disk = NULL;
	size_t i;
	int rc = ie_row_get_id(c, "disks", disk_id, &disk, NULL);

	if (rc)
		return rc == -ENOENT ? 0 : rc;
	rc = iea_rows(c, "vm_disks", "", on_disk, &disk_id, &rows);
	if (!rc)
		rc = iea_users_load(c, rows, &u);
	for (i = 0; !rc && i < u.n; i++) {
		struct inv_vm_disk d;

		disk_fill(u.a[i].row, disk, &d);
		rc = fn(&u.a[i].v, &d, arg);
	}
	iea_users_free(&u);
	json_decref(rows);
	json_decref(disk);
	return rc;
}

/* In the VM's order of its drives (by idx): what the SQLite backend's query gives (it has
 * no ORDER BY; its plan walks the VM's vm_disks rows by their primary key), not "by id" as
 * inv.h says. */
/* Every VM's drives (vm_disks/) and, for each disk VM id's drives name, what its
 * delete reads (its row, its grants, its owner key), in one call: the VM's drives come
 * from the delete's read already (inv_vm_delete_read). In a transaction only (its reads
 * are kept for it and compared at its commit); outside one each is read when asked. */
static int sole_reads(struct dbc *c, int64_t id)
{
	enum { PER = 3, MAX = 40 };     /* 1 + 3 x 40 reads: under etcd's 128 a Txn */
	struct ie_read r[1 + PER * MAX];
	char keys[MAX][3][40], pfx[22];
	json_t *mine = NULL, *row;
	size_t i, n = 1;
	int rc;

	if (!ie_sess(c)->t)
		return 0;
	rc = iea_rows(c, "vm_disks", iea_prefix(id, pfx), NULL, NULL, &mine);
	if (rc)
		return rc;
	r[0] = (struct ie_read){ "vm_disks", "", true };
	json_array_foreach(mine, i, row) {
		char *k = keys[i][0], *acl = keys[i][1], *own = keys[i][2];

		if (i == MAX)
			break;          /* (the rest: read when the delete asks) */
		ie_id_key(ie_int(row, "disk_id"), k);
		snprintf(acl, 40, "disk/%.24s/", k);    /* its grants (inv_etcd_grant.c) */
		snprintf(own, 40, "disk/%.24s", k);     /* its owner's (inv_etcd_quota.c) */
		r[n++] = (struct ie_read){ "disks", k, false };
		r[n++] = (struct ie_read){ "acl", acl, true };
		r[n++] = (struct ie_read){ "owned", own, false };
	}
	rc = ie_rows_read(c, r, n);
	json_decref(mine);
	return rc;
}

int inv_etcd_vm_sole_disks(struct dbc *c, int64_t id,
			   int (*fn)(int64_t disk_id, const char *path, void *arg), void *arg)
{
	int64_t *mine = NULL;
	size_t n = 0, i;
	json_t *all, *row, *shared = json_object();
	int rc = shared ? sole_reads(c, id) : -ENOMEM;

	if (!rc)
		rc = iea_rows(c, "vm_disks", "", NULL, NULL, &all);

	if (rc) {
		json_decref(shared);
		return rc;
	}
	mine = calloc(json_array_size(all) + 1, sizeof(*mine));
	if (!mine)
		rc = -ENOMEM;
	/* The disks other VMs' drives name, then the VM's disks but those. */
	json_array_foreach(all, i, row) {
		char k[24];

		snprintf(k, sizeof(k), "%" PRId64, ie_int(row, "disk_id"));
		if (!rc && ie_int(row, "vm_id") != id && json_object_set(shared, k, json_true()))
			rc = -ENOMEM;
	}
	json_array_foreach(all, i, row) {
		char k[24];

		snprintf(k, sizeof(k), "%" PRId64, ie_int(row, "disk_id"));
		if (!rc && ie_int(row, "vm_id") == id && !json_object_get(shared, k))
			mine[n++] = ie_int(row, "disk_id");
	}
	json_decref(shared);
	json_decref(all);
	for (i = 0; !rc && i < n; i++) {
		json_t *disk;

		rc = ie_row_get_id(c, "disks", mine[i], &disk, NULL);
		if (rc == -ENOENT) {
			rc = 0;
			continue;
		}
		if (!rc) {
			rc = fn(mine[i], ie_str(disk, "path"), arg);
			json_decref(disk);
		}
	}
	free(mine);
	return rc;
}

static int disks_clear(struct dbc *c, void *arg)
{
	char pfx[22];

	return ie_row_delete(c, "vm_disks", iea_prefix(*(int64_t *)arg, pfx), true);
}

int inv_etcd_vm_disks_clear(struct dbc *c, int64_t id)
{
	return ie_write(c, disks_clear, &id);
}

int iea_must_exist(struct dbc *c, const char *table, int64_t id)
{
	json_t *row;
	int rc = ie_row_get_id(c, table, id, &row, NULL);

	if (!rc)
		json_decref(row);
	return rc == -ENOENT ? -EEXIST : rc;
}

int iea_must_be_free(struct dbc *c, const char *table, const char *key)
{
	json_t *row;
	int rc = ie_row_get(c, table, key, &row, NULL);

	if (!rc) {
		json_decref(row);
		return -EEXIST;
	}
	return rc == -ENOENT ? 0 : rc;
}

struct disk_add {
	int64_t id, disk_id;
	int idx;
	const char *bus;
	bool readonly;
};

static int disk_add(struct dbc *c, void *arg)
{
	struct disk_add *a = arg;
	char key[42];
	json_t *row;
	int rc = iea_must_be_free(c, "vm_disks", iea_key2(a->id, a->idx, key));

	if (!rc)
		rc = iea_must_exist(c, "vms", a->id);
	if (!rc)
		rc = iea_must_exist(c, "disks", a->disk_id);
	if (rc)
		return rc;
	row = json_pack("{s:I,s:i,s:I,s:s,s:b}", "vm_id", (json_int_t)a->id, "idx", a->idx,
			"disk_id", (json_int_t)a->disk_id, "bus", a->bus, "readonly", a->readonly);
	if (!row)
		return -ENOMEM;
	rc = ie_row_put(c, "vm_disks", key, row, IE_ABSENT);
	json_decref(row);
	return rc;
}

int inv_etcd_vm_disk_add(struct dbc *c, int64_t id, int idx, int64_t disk_id, const char *bus,
			 bool readonly)
{
	struct disk_add a = { id, disk_id, idx, bus, readonly };

	if (idx < 0 || !bus)
		return -EINVAL;
	return ie_write(c, disk_add, &a);
}

/* --- NICs -------------------------------------------------------------------------------- */

int inv_etcd_vm_nics(struct dbc *c, int64_t id, int (*fn)(const struct inv_vm_nic *n, void *arg),
		     void *arg)
{
	char pfx[22];
	json_t *rows, *row;
	size_t i;
	int rc = iea_rows(c, "vm_nics", iea_prefix(id, pfx), NULL, NULL, &rows);

	json_array_foreach(rows, i, row) {
		struct inv_vm_nic n;
		json_t *net;

		if (rc)
			break;
		rc = ie_row_get_id(c, "networks", ie_int(row, "network_id"), &net, NULL);
		if (rc == -ENOENT) {
			rc = 0;
			continue;
		}
		if (rc)
			break;
		/* The SQLite backend stores a network's "" as NULL. */
		n = (struct inv_vm_nic){
			.idx = (int)ie_int(row, "idx"),
			.network_id = ie_int(row, "network_id"),
			.network = ie_str(net, "name"),
			.kind = ie_str(net, "kind"),
			.bridge = iea_str(net, "bridge", true),
			.subnet = iea_str(net, "subnet", true),
			.dhcp_start = iea_str(net, "dhcp_start", true),
			.mac = ie_str(row, "mac"),
			.model = ie_str(row, "model") ? ie_str(row, "model") : "virtio",
		};
		rc = fn(&n, arg);
		json_decref(net);
	}
	json_decref(rows);
	return rc;
}

/* Drop VM id's NICs and their MACs' claims. */
static int nics_clear(struct dbc *c, void *arg)
{
	char pfx[22];
	json_t *rows, *row;
	size_t i;
	int rc = iea_rows(c, "vm_nics", iea_prefix(*(int64_t *)arg, pfx), NULL, NULL, &rows);

	json_array_foreach(rows, i, row)
		if (!rc && ie_str(row, "mac"))
			rc = ie_unique_release(c, "nics.mac", ie_str(row, "mac"));
	json_decref(rows);
	if (!rc)
		rc = ie_row_delete(c, "vm_nics", pfx, true);
	return rc;
}

int inv_etcd_vm_nics_clear(struct dbc *c, int64_t id)
{
	return ie_write(c, nics_clear, &id);
}

struct nic_add {
	int64_t id, network_id;
	int idx;
	const char *mac;
};

static int nic_add(struct dbc *c, void *arg)
{
	struct nic_add *a = arg;
	char key[42];
	int64_t holder;
	json_t *row;
	int rc = iea_must_be_free(c, "vm_nics", iea_key2(a->id, a->idx, key));

	if (!rc)
		rc = iea_must_exist(c, "vms", a->id);
	if (!rc)
		rc = iea_must_exist(c, "networks", a->network_id);
	if (rc)
		return rc;
	/* Any NIC's MAC, this VM's too, is taken (SQLite: UNIQUE index vm_nics_mac). */
	rc = ie_unique_get(c, "nics.mac", a->mac, &holder);
	if (!rc)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	rc = ie_unique_claim(c, "nics.mac", a->mac, a->id);
	if (rc)
		return rc;
	row = json_pack("{s:I,s:i,s:I,s:s,s:s}", "vm_id", (json_int_t)a->id, "idx", a->idx,
			"network_id", (json_int_t)a->network_id, "mac", a->mac, "model", "virtio");
	if (!row)
		return -ENOMEM;
	rc = ie_row_put(c, "vm_nics", key, row, IE_ABSENT);
	json_decref(row);
	return rc;
}

int inv_etcd_vm_nic_add(struct dbc *c, int64_t id, int idx, int64_t network_id, const char *mac)
{
	struct nic_add a = { id, network_id, idx, mac };

	if (idx < 0 || !mac || !*mac)
		return -EINVAL;
	return ie_write(c, nic_add, &a);
}

int inv_etcd_mac_used(struct dbc *c, const char *mac)
{
	int64_t holder;
	int rc = ie_unique_get(c, "nics.mac", mac, &holder);

	return !rc ? 1 : rc == -ENOENT ? 0 : rc;
}

/* --- a deleted VM ---------------------------------------------------------------------- */

static int drop_children(struct dbc *c, void *arg)
{
	int64_t vm = *(int64_t *)arg;
	char pfx[22], key[21];
	int rc;

	iea_prefix(vm, pfx);
	ie_id_key(vm, key);
	rc = ie_row_delete(c, "vm_disks", pfx, true);

	if (!rc)
		rc = nics_clear(c, &vm);
	if (!rc)
		rc = ie_row_delete(c, "vm_cdroms", pfx, true);
	if (!rc) {
		rc = ie_row_delete(c, "vm_hw", key, false);
		if (rc == -ENOENT)
			rc = 0;
	}
	if (!rc)
		rc = iea_snap_drop_vm(c, vm);
	/* The vms_layers trigger drops the VM's template mark too (inv_etcd_vm.c's row). */
	if (!rc) {
		rc = ie_row_delete(c, "vm_templates", key, false);
		if (rc == -ENOENT)
			rc = 0;
	}
	if (!rc)
		rc = iea_layer_freeze_vm(c, vm);
	return rc;
}

int ie_vm_drop_children(struct dbc *c, int64_t vm)
{
	return ie_write(c, drop_children, &vm);
}
