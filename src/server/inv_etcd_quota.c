/* The inventory's quotas and owners on etcd (what migration 14 adds to SQLite):
 *   quotas/USER             {vms, cpus, memory_mib, disks, disk_bytes, snapshots} (a missing
 *                           or null field: unlimited)
 *   owners/USER/KIND/ID     {kind, id}    what USER owns, under one prefix per user (KIND
 *                           "user": a user USER manages, not counted in its own usage)
 *   owned/KIND/ID           {user}        the object's owner (to drop it with the object)
 *   owners/USER/image/NAME  {kind, bytes} a private image of USER (inv_etcd_image.c: written
 *                           with its images/NAME row; counted without a read of it)
 *   owners/USER/undo/ID/HOST {kind, bytes} the undo disks of USER's VM ID on host HOST
 *                           (inv_vm_set_undo_bytes: one row per host, so that a dead
 *                           host's stay counted when the VM runs again elsewhere after a
 *                           failover; dropped with the VM's owner, every host's)
 * USER and ID are ie_id_key's. A usage read costs three round trips, not one per object:
 * the quota row (the stamp below), the user's owners/ prefix (one range read), then every
 * object's row and each VM's count of snapshots in one Txn of range requests
 * (etcd_probe_many: one round trip holds 128 reads, 63 VMs or 127 disks; a tenant past
 * that pays one more per 128). Inside a transaction it is atomic with the write that
 * follows the check by a stamp: the read writes the user's quotas/USER row back unchanged
 * in the session's Txn. Every usage read of the user in a transaction (every quota check
 * that can pass a limit: quota.c reads it only when a limit applies) so reads and writes
 * that one row, and of two that ran at once the second to commit fails its compare of the
 * row with -EAGAIN (nothing written), to run again from the check: the per-user
 * serialisation SQLite gets from BEGIN IMMEDIATE. The rows read need not join the compares then (etcd takes 128 at
 * most, which a tenant's 200 VMs would pass); the owners/ range still does. What changes
 * usage without a check (deletes, a shrink, an object of an administrator) only lowers it
 * or counts for nobody. A manager's check (inv_usage_tree) reads, besides its own usage as
 * above, its users' owners/ rows beside the transaction, one Txn per level of its tree
 * (per 128 users of a level: the links to the next level and what they own; their rows
 * are not compared, the stamp of the manager's row keeps the check atomic; never the whole
 * owners/ table, every tenant's rows), then their VMs' and disks' rows with its own in the
 * same Txns of 128 reads: round trips that do not grow with the number of users (issue
 * 18: they were two range reads per user). See inv.h. */
#include "server/inv_etcd.h"
#include "server/inv_etcd_attach.h"
#include "server/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fields[] = { "vms", "cpus", "memory_mib", "disks", "disk_bytes",
				      "snapshots" };

/* The fields of q in fields' order. */
static int64_t *field(struct inv_quota *q, size_t i)
{
	int64_t *f[] = { &q->vms, &q->cpus, &q->memory_mib, &q->disks, &q->disk_bytes,
			 &q->snapshots };

	return f[i];
}

int inv_etcd_quota_get(struct dbc *c, int64_t uid, struct inv_quota *out)
{
	json_t *row;
	size_t i;
	int rc = ie_row_get_id(c, "quotas", uid, &row, NULL);

	*out = (struct inv_quota){ -1, -1, -1, -1, -1, -1 };
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (json_is_integer(json_object_get(row, fields[i])))
			*field(out, i) = ie_int(row, fields[i]);
	json_decref(row);
	return 0;
}

struct quota_put {
	int64_t uid;
	struct inv_quota q;
};

static int quota_put_body(struct dbc *c, void *arg)
{
	struct quota_put *a = arg;
	json_t *row;
	char key[24];
	bool any = false;
	size_t i;
	int rc = ie_row_get_id(c, "users", a->uid, &row, NULL);

	if (rc)
		return rc;
	json_decref(row);
	ie_id_key(a->uid, key);
	row = json_object();
	if (!row)
		return -ENOMEM;
	for (i = 0; !rc && i < sizeof(fields) / sizeof(fields[0]); i++) {
		int64_t v = *field(&a->q, i);

		if (v >= 0) {
			any = true;
			rc = ie_set_int(row, fields[i], v);
		}
	}
	if (!rc && any)
		rc = ie_row_put(c, "quotas", key, row, 0);
	else if (!rc && (rc = ie_row_delete(c, "quotas", key, false)) == -ENOENT)
		rc = 0;
	json_decref(row);
	return rc;
}

int inv_etcd_quota_put(struct dbc *c, int64_t uid, const struct inv_quota *q)
{
	struct quota_put a = { uid, *q };

	return ie_write(c, quota_put_body, &a);
}

/* The length of a usage read's key under the store's prefix pfx: PREFIX "t/snapshots/" ID
 * "/" at most. */
#define KEYLEN(pfx) (strlen(pfx) + 64)

/* A usage read's sum: the bytes counted from owners/ rows, the object rows queued. */
struct usage_acc {
	struct inv_quota *out;
	struct etcd_probe *r;   /* n queued reads (their keys set by acc_finish) */
	char *keys;             /* n keys of klen bytes */
	size_t n, cap, klen;
	const char *pfx;
};

/* Add the objects read to *out: r[0..n) as acc_row queues them, per owned VM its row then
 * the count of its snapshots (a prefix read), per disk its row. */
static int usage_sum(struct etcd_probe *r, size_t n, struct inv_quota *out)
{
	size_t j;

	for (j = 0; j < n; j++) {
		bool vm = j + 1 < n && r[j + 1].prefix;     /* a VM's row is followed by its count */
		json_t *row;

		if (!r[j].count) {                          /* gone meanwhile: not counted */
			j += vm;
			continue;
		}
		if (ie_row_parse(r[j].kv.key, r[j].kv.value, r[j].kv.value_len, &row))
			return -EIO;
		if (vm) {
			out->vms++;
			out->cpus += ie_int(row, "cpus");
			out->memory_mib += ie_int(row, "memory_mib");
			out->snapshots += r[++j].count;
		} else {
			out->disks++;
			out->disk_bytes += ie_int(row, "size");
		}
		json_decref(row);
	}
	return 0;
}

/* Queue one more read into a: its key's buffer (klen bytes), or NULL on ENOMEM. */
static char *acc_key(struct usage_acc *a, bool prefix)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 32;
		struct etcd_probe *r = realloc(a->r, cap * sizeof(*r));
		char *k;

		if (!r)
			return NULL;
		a->r = r;
		k = realloc(a->keys, cap * a->klen);
		if (!k)
			return NULL;
		a->keys = k;
		a->cap = cap;
	}
	a->r[a->n] = (struct etcd_probe){ .prefix = prefix };
	return a->keys + a->n++ * a->klen;
}

/* Count one owners/ row o into a: a private image's or a VM's undo disks' bytes at once (in
 * the row), a VM's or a disk's row queued (a VM's with the count of its snapshots); a user
 * it manages is not its own usage. */
static int acc_row(struct usage_acc *a, json_t *o)
{
	const char *kind = ie_str(o, "kind");
	char id[24], *k;
	bool vm;

	if (!kind || !strcmp(kind, "user"))
		return 0;
	if (!strcmp(kind, "image") || !strcmp(kind, "undo")) {
		a->out->disk_bytes += ie_int(o, "bytes");
		return 0;
	}
	vm = !strcmp(kind, "vm");
	ie_id_key(ie_int(o, "id"), id);
	k = acc_key(a, false);
	if (!k)
		return -ENOMEM;
	snprintf(k, a->klen, "%st/%s/%s", a->pfx, vm ? "vms" : "disks", id);
	if (vm) {
		k = acc_key(a, true);
		if (!k)
			return -ENOMEM;
		snprintf(k, a->klen, "%st/snapshots/%s/", a->pfx, id);
	}
	return 0;
}

/* Read the rows queued in a and add them to its sum: in one Txn per 128 (etcd_probe_many),
 * not compared: the stamp of the checked user's quota row keeps the check and the write
 * atomic. Frees a's buffers. */
static int acc_finish(struct dbc *c, struct usage_acc *a, int rc)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		a->r[i].key = a->keys + i * a->klen;
	if (!rc && a->n) {
		rc = ie_etcd_err(etcd_probe_many(ie_store(c)->e, a->r, a->n), "read",
				 "the usage's rows");
		if (!rc) {
			rc = usage_sum(a->r, a->n, a->out);
			for (i = 0; i < a->n; i++)
				etcd_kv_clear(&a->r[i].kv);
		}
	}
	free(a->keys);
	free(a->r);
	a->keys = NULL;
	a->r = NULL;
	a->n = a->cap = 0;
	return rc;
}

/* Inside a transaction, write the user's quota row back as the session sees it: another
 * usage read of the same user in a transaction does the same, so of two the second to
 * commit fails its compare of the row (-EAGAIN): see the file's comment. */
static int usage_stamp(struct dbc *c, int64_t uid)
{
	json_t *row;
	char key[24];
	int rc;

	if (!ie_sess(c)->t)
		return 0;
	rc = ie_row_get(c, "quotas", ie_id_key(uid, key), &row, NULL);
	if (rc == -ENOENT)
		return 0;   /* no limits: nothing to keep atomic */
	if (!rc) {
		rc = ie_row_put(c, "quotas", key, row, 0);
		json_decref(row);
	}
	return rc;
}

/* The users of a manager's tree: ids[0] the manager, each user once. */
struct tree_ids {
	int64_t *ids;
	size_t n, cap;
};

static int tree_add(struct tree_ids *t, int64_t id)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->ids[i] == id)
			return 0;
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		int64_t *p = realloc(t->ids, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->ids = p;
		t->cap = cap;
	}
	t->ids[t->n++] = id;
	return 0;
}

/* The user the owners/ row o names as managed (kind "user"), added to t. */
static int tree_managed(struct tree_ids *t, json_t *o)
{
	const char *kind = ie_str(o, "kind");

	return kind && !strcmp(kind, "user") ? tree_add(t, ie_int(o, "id")) : 0;
}

/* etcd's default --max-txn-ops: the most reads one Txn may hold */
#define LEVEL_TXN 128

/* The owners/ rows of the users t->ids[from..to) (one level of the tree), beside the
 * transaction, in one Txn per 128 users: the users they manage added to t when expand,
 * their objects to a. Only these users' rows: not the whole owners/ table, which holds
 * every tenant's rows (an answer growing with the cluster's objects, up to the client's
 * limit, that no manager's check should need). */
static int level_rows(struct dbc *c, struct tree_ids *t, size_t from, size_t to, bool expand,
		      struct usage_acc *a)
{
	struct etcd_read r[LEVEL_TXN];
	struct etcd_kvs kvs[LEVEL_TXN];
	char *keys = malloc(LEVEL_TXN * a->klen), id[24];
	size_t i, j, k, n;
	int rc = keys ? 0 : -ENOMEM;

	for (i = from; !rc && i < to; i += n) {
		n = to - i < LEVEL_TXN ? to - i : LEVEL_TXN;
		for (j = 0; j < n; j++) {
			snprintf(keys + j * a->klen, a->klen, "%st/owners/%s/", a->pfx,
				 ie_id_key(t->ids[i + j], id));
			r[j] = (struct etcd_read){ .key = keys + j * a->klen, .prefix = true };
		}
		rc = ie_etcd_err(etcd_read_many(ie_store(c)->e, r, n, kvs, NULL), "read",
				 "the managed users' owners rows");
		if (rc)
			break;
		for (j = 0; j < n; j++) {
			for (k = 0; !rc && k < kvs[j].n; k++) {
				json_t *row;

				rc = ie_row_parse(kvs[j].kv[k].key, kvs[j].kv[k].value,
						  kvs[j].kv[k].value_len, &row);
				if (rc)
					break;
				rc = expand ? tree_managed(t, row) : 0;
				if (!rc)
					rc = acc_row(a, row);
				json_decref(row);
			}
			etcd_kvs_clear(&kvs[j]);
		}
	}
	free(keys);
	return rc;
}

/* What the users uid manages (depth levels down; uid's own owners/ rows: the array top)
 * own, added to a (their objects' rows queued), and how many users that is with uid into
 * *users. Breadth first: one read of its users' owners/ rows per level (per 128 users of
 * a level), levels 0 .. depth - 1 expanded, the users of level depth counted. */
static int tree_rest(struct dbc *c, int64_t uid, json_t *top, int depth,
		     struct usage_acc *a, size_t *users)
{
	struct tree_ids t = { 0 };
	size_t j, start, end;
	int level, rc = tree_add(&t, uid);
	json_t *o;

	json_array_foreach(top, j, o)
		if (!rc)
			rc = tree_managed(&t, o);
	for (start = 1, level = 1; !rc && start < t.n; start = end, level++) {
		end = t.n;
		rc = level_rows(c, &t, start, end, level < depth, a);
	}
	*users = t.n;
	free(t.ids);
	return rc;
}

static int usage_tree(struct dbc *c, int64_t uid, int depth, struct inv_quota *out,
		      size_t *users)
{
	struct usage_acc a = { .out = out, .pfx = ie_store(c)->prefix };
	char upfx[24];
	json_t *rows = NULL, *o;
	bool manages = false;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	*users = 1;
	a.klen = KEYLEN(a.pfx);
	rc = usage_stamp(c, uid);
	/* uid's own rows in the transaction (compared) */
	if (!rc)
		rc = iea_rows(c, "owners", iea_prefix(uid, upfx), NULL, NULL, &rows);
	json_array_foreach(rows, i, o) {
		const char *kind = ie_str(o, "kind");

		if (rc)
			break;
		manages |= kind && !strcmp(kind, "user");
		rc = acc_row(&a, o);
	}
	if (!rc && manages && depth > 0)
		rc = tree_rest(c, uid, rows, depth, &a, users);
	json_decref(rows);
	return acc_finish(c, &a, rc);
}

int inv_etcd_usage(struct dbc *c, int64_t uid, struct inv_quota *out)
{
	size_t users;

	return usage_tree(c, uid, 0, out, &users);
}

int inv_etcd_usage_tree(struct dbc *c, int64_t uid, int depth, struct inv_quota *out,
			size_t *users)
{
	return usage_tree(c, uid, depth, out, users);
}

/* owners/USER/KIND/ID's KEY (buf of at least 64 bytes). */
static char *owners_key(int64_t uid, const char *kind, int64_t id, char *buf)
{
	char u[24], i[24];

	snprintf(buf, 64, "%s/%s/%s", ie_id_key(uid, u), kind, ie_id_key(id, i));
	return buf;
}

/* owned/KIND/ID's KEY (buf of at least 40 bytes). */
static char *owned_key(const char *kind, int64_t id, char *buf)
{
	char i[24];

	snprintf(buf, 40, "%s/%s", kind, ie_id_key(id, i));
	return buf;
}

/* Drop the owner of (kind, id), when it has one. */
static int owner_drop(struct dbc *c, const char *kind, int64_t id)
{
	char k1[40], k2[64];
	json_t *row;
	int rc = ie_row_get(c, "owned", owned_key(kind, id, k1), &row, NULL);

	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	rc = ie_row_delete(c, "owned", k1, false);
	if (!rc) {
		rc = ie_row_delete(c, "owners", owners_key(ie_int(row, "user"), kind, id, k2), false);
		if (rc == -ENOENT)
			rc = 0;
	}
	/* a VM's undo disks' bytes (inv_etcd_vm_set_undo_bytes) go with its owner: every
	 * host's owners/USER/undo/ID/HOST (and a row from before hosts were named) */
	if (!rc && !strcmp(kind, "vm")) {
		rc = ie_row_delete(c, "owners", owners_key(ie_int(row, "user"), "undo", id, k2),
				   false);
		if (rc == -ENOENT)
			rc = 0;
		if (!rc && strlen(k2) + 2 <= sizeof(k2)) {
			strcat(k2, "/");
			rc = ie_row_delete(c, "owners", k2, true);
		}
	}
	json_decref(row);
	return rc;
}

struct owner_set {
	const char *kind;
	int64_t id, uid;
};

static int owner_set_body(struct dbc *c, void *arg)
{
	struct owner_set *a = arg;
	char k1[40], k2[64];
	json_t *r1, *r2;
	int rc = owner_drop(c, a->kind, a->id);

	if (rc || !a->uid)
		return rc;
	r1 = json_pack("{s:I}", "user", (json_int_t)a->uid);
	r2 = json_pack("{s:s,s:I}", "kind", a->kind, "id", (json_int_t)a->id);
	rc = r1 && r2 ? ie_row_put(c, "owned", owned_key(a->kind, a->id, k1), r1, 0) : -ENOMEM;
	if (!rc)
		rc = ie_row_put(c, "owners", owners_key(a->uid, a->kind, a->id, k2), r2, 0);
	json_decref(r1);
	json_decref(r2);
	return rc;
}

int inv_etcd_owner_set(struct dbc *c, const char *kind, int64_t id, int64_t uid)
{
	struct owner_set a = { kind, id, uid };

	if (strcmp(kind, "vm") && strcmp(kind, "disk") && strcmp(kind, "user"))
		return -EINVAL;
	return ie_write(c, owner_set_body, &a);
}

int inv_etcd_owner_get(struct dbc *c, const char *kind, int64_t id, int64_t *uid)
{
	char k[40];
	json_t *row;
	int rc = ie_row_get(c, "owned", owned_key(kind, id, k), &row, NULL);

	*uid = 0;
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	*uid = ie_int(row, "user");
	json_decref(row);
	return 0;
}

struct undo_set {
	int64_t id, bytes;
	const char *host;
};

static int undo_set_body(struct dbc *c, void *arg)
{
	struct undo_set *a = arg;
	char k1[40], k2[64], k3[160];
	json_t *row, *o;
	int rc = ie_row_get(c, "owned", owned_key("vm", a->id, k1), &row, NULL);

	if (rc == -ENOENT)
		return 0;       /* nobody's: counts for nobody */
	if (rc)
		return rc;
	owners_key(ie_int(row, "user"), "undo", a->id, k2);
	json_decref(row);
	/* this host's row (a row of before hosts were named: this host's, as then) */
	rc = ie_row_delete(c, "owners", k2, false);
	if (rc && rc != -ENOENT)
		return rc;
	if (snprintf(k3, sizeof(k3), "%s/%s", k2, a->host) >= (int)sizeof(k3))
		return -ENAMETOOLONG;
	if (a->bytes <= 0) {
		rc = ie_row_delete(c, "owners", k3, false);
		return rc == -ENOENT ? 0 : rc;
	}
	o = json_pack("{s:s,s:I}", "kind", "undo", "bytes", (json_int_t)a->bytes);
	rc = o ? ie_row_put(c, "owners", k3, o, 0) : -ENOMEM;
	json_decref(o);
	return rc;
}

int inv_etcd_vm_set_undo_bytes(struct dbc *c, int64_t id, const char *host, int64_t bytes)
{
	struct undo_set a = { id, bytes, host && *host ? host : "-" };

	if (strchr(a.host, '/'))
		return -EINVAL;

	return ie_write(c, undo_set_body, &a);
}

int ie_owner_drop(struct dbc *c, const char *kind, int64_t id)
{
	return owner_drop(c, kind, id);
}

int ie_owner_drop_user(struct dbc *c, int64_t uid)
{
	char key[24];
	int rc = ie_row_delete(c, "quotas", ie_id_key(uid, key), false);

	/* Only the quota: the owners/USER/ and owned/ rows of its objects stay (two deletes
	 * each would pass etcd's 128 requests a Txn for a user owning a few dozen objects,
	 * and the user could not be deleted). They name an id never given again (ie_new_id),
	 * which quota_admit counts as nobody (no such user), and go with their objects
	 * (ie_owner_drop). */
	return rc == -ENOENT ? 0 : rc;
}

/* --- an inventory from before quotas (what migration 14 does on SQLite) ----------------- */

/* ie_row_each over users/: the ids of the non-administrators, appended to the array arg. */
static int backfill_user(const char *key, json_t *row, uint64_t rev, void *arg)
{
	(void)rev;
	if (ie_bool(row, "admin"))
		return 0;
	return json_array_append_new(arg, json_integer(strtoll(key, NULL, 10))) ? -ENOMEM : 0;
}

/* ie_row_each over acl_by/user/UID/: [otype, oid] of each VM and disk the user holds full
 * rights on, appended to the array arg. */
static int backfill_grant(const char *key, json_t *row, uint64_t rev, void *arg)
{
	char otype[8];
	long long uid, oid;

	(void)rev;
	/* key: user/UID/OTYPE/OID */
	if (sscanf(key, "user/%lld/%7[^/]/%lld", &uid, otype, &oid) != 3 ||
	    (strcmp(otype, "vm") && strcmp(otype, "disk")) ||
	    (ie_int(row, "perms") & PERM_FULL) != PERM_FULL)
		return 0;
	return json_array_append_new(arg, json_pack("[s,I]", otype, (json_int_t)oid)) ? -ENOMEM
										      : 0;
}

/* Make user uid the owner of each VM and disk it holds full rights on that has none yet. */
static int backfill_owner(struct dbc *c, int64_t uid)
{
	json_t *a = json_array(), *g;
	char pfx[48], k[24];
	size_t i;
	int rc = a ? 0 : -ENOMEM;

	snprintf(pfx, sizeof(pfx), "user/%s/", ie_id_key(uid, k));
	if (!rc)
		rc = ie_row_each(c, "acl_by", pfx, backfill_grant, a);
	json_array_foreach(a, i, g) {
		const char *kind = json_string_value(json_array_get(g, 0));
		int64_t id = json_integer_value(json_array_get(g, 1)), cur = 0;

		if (rc)
			break;
		rc = inv_etcd_owner_get(c, kind, id, &cur);
		if (!rc && !cur)
			rc = inv_etcd_owner_set(c, kind, id, uid);
	}
	json_decref(a);
	return rc;
}

int ie_owners_backfill(struct dbc *c)
{
	json_t *users = json_array(), *row = NULL, *u;
	size_t i;
	int rc = ie_row_get(c, "meta", "owners", &row, NULL);

	json_decref(row);
	if (rc != -ENOENT) {
		json_decref(users);
		return rc;      /* done already (or -errno) */
	}
	rc = users ? ie_row_each(c, "users", "", backfill_user, users) : -ENOMEM;
	/* by id: of several users holding full rights on an object, the oldest owns it */
	json_array_foreach(users, i, u) {
		if (rc)
			break;
		rc = backfill_owner(c, json_integer_value(u));
	}
	json_decref(users);
	if (!rc) {
		row = json_pack("{s:b}", "done", 1);
		rc = row ? ie_row_put(c, "meta", "owners", row, 0) : -ENOMEM;
		json_decref(row);
	}
	return rc;
}
