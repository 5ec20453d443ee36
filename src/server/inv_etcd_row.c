/* The etcd inventory's row layer: rows (a JSON object per key), unique values, ids, and the
 * writes of one function committed together (inv_etcd.h; docs/cluster.md has the keys). */
#include "server/etcd.h"
#include "server/inv_etcd.h"
#include "util/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *ie_id_key(int64_t id, char *buf)
{
	snprintf(buf, 21, "%020" PRId64, id);
	return buf;
}

/* PREFIX part "/" table "/" key, malloc'd (NULL: ENOMEM). */
char *ie_full_key(struct dbc *c, const char *part, const char *table, const char *key)
{
	char *k;

	if (asprintf(&k, "%s%s/%s/%s", ie_store(c)->prefix, part, table, key) < 0)
		return NULL;
	return k;
}

/* An etcd failure as the inventory's errors: -ENOENT, -EEXIST, -EAGAIN and -ENOMEM stay,
 * anything else is -EIO, logged with what failed. */
int ie_etcd_err(int rc, const char *what, const char *key)
{
	if (!rc || rc == -ENOENT || rc == -EEXIST || rc == -EAGAIN || rc == -ENOMEM)
		return rc;
	vsrv_log("inventory: etcd: %s %s: %s", what, key ? key : "", etcd_errmsg());
	return -EIO;
}

/* Read key as the session sees it. */
static int kv_get(struct dbc *c, const char *key, struct etcd_kv *kv)
{
	struct etcd_txn *t = ie_sess(c)->t;
	int rc;

	if (ie_pre_take(c, key, kv, &rc))
		return rc;
	rc = t ? etcd_txn_get(t, key, kv) : etcd_get(ie_store(c)->e, key, kv);
	return ie_etcd_err(rc, "read", key);
}

int ie_row_get(struct dbc *c, const char *table, const char *key, json_t **row,
	       uint64_t *rev)
{
	char *k = ie_full_key(c, "t", table, key);
	struct etcd_kv kv;
	int rc;

	if (!k)
		return -ENOMEM;
	rc = kv_get(c, k, &kv);
	if (!rc) {
		rc = ie_row_parse(k, kv.value, kv.value_len, row);
		if (!rc && rev)
			*rev = (uint64_t)kv.mod_rev;
		etcd_kv_clear(&kv);
	}
	free(k);
	return rc;
}

int ie_row_get_id(struct dbc *c, const char *table, int64_t id, json_t **row, uint64_t *rev)
{
	char key[24];

	return ie_row_get(c, table, ie_id_key(id, key), row, rev);
}

struct each {
	size_t skip;                /* the length of PREFIX "t/" TABLE "/" */
	int (*fn)(const char *key, json_t *row, uint64_t rev, void *arg);
	void *arg;
};

static int each_one(const struct etcd_kv *kv, void *arg)
{
	struct each *e = arg;
	json_t *row;
	int rc;

	if (strlen(kv->key) < e->skip)
		return 0;
	rc = ie_row_parse(kv->key, kv->value, kv->value_len, &row);
	if (rc)
		return rc;
	rc = e->fn(kv->key + e->skip, row, (uint64_t)kv->mod_rev, e->arg);
	json_decref(row);
	return rc;
}

int ie_row_each(struct dbc *c, const char *table, const char *key_prefix,
		int (*fn)(const char *key, json_t *row, uint64_t rev, void *arg), void *arg)
{
	char *k = ie_full_key(c, "t", table, key_prefix);
	struct etcd_txn *t = ie_sess(c)->t;
	struct each e = { .fn = fn, .arg = arg };
	struct etcd_kvs kvs;
	size_t i;
	int rc;

	if (!k)
		return -ENOMEM;
	e.skip = strlen(k) - strlen(key_prefix);
	if (!t && ie_pre_take_range(c, k, &kvs)) {
		/* read ahead (inv_etcd_prefetch.c) */
		for (i = 0, rc = 0; !rc && i < kvs.n; i++)
			rc = each_one(&kvs.kv[i], &e);
		etcd_kvs_clear(&kvs);
		free(k);
		return rc;
	}
	/* etcd's own errors are negative errnos: a callback's value passes unchanged unless
	 * it is one of those the range call itself may return */
	rc = t ? etcd_txn_range(t, k, each_one, &e) : etcd_range(ie_store(c)->e, k, each_one, &e,
								  NULL);
	if (rc == -ECONNREFUSED || rc == -ETIMEDOUT || rc == -ENOTCONN || rc == -ECONNRESET ||
	    rc == -EHOSTUNREACH)
		rc = ie_etcd_err(rc, "range", k);
	free(k);
	return rc;
}

int ie_row_each_side(struct dbc *c, const char *table, const char *key_prefix,
		     int (*fn)(const char *key, json_t *row, uint64_t rev, void *arg),
		     void *arg)
{
	char *k = ie_full_key(c, "t", table, key_prefix);
	struct each e = { .fn = fn, .arg = arg };
	int rc;

	if (!k)
		return -ENOMEM;
	e.skip = strlen(k) - strlen(key_prefix);
	rc = etcd_range(ie_store(c)->e, k, each_one, &e, NULL);
	if (rc == -ECONNREFUSED || rc == -ETIMEDOUT || rc == -ENOTCONN || rc == -ECONNRESET ||
	    rc == -EHOSTUNREACH)
		rc = ie_etcd_err(rc, "range", k);
	free(k);
	return rc;
}

int ie_row_assume_absent(struct dbc *c, const char *table, const char *key)
{
	char *k;
	int rc;

	if (!ie_sess(c)->t)
		return 0;
	k = ie_full_key(c, "t", table, key);
	if (!k)
		return -ENOMEM;
	rc = etcd_txn_seed(ie_sess(c)->t, k, NULL);
	free(k);
	return rc;
}

int ie_rows_read(struct dbc *c, const struct ie_read *r, size_t n)
{
	struct etcd_txn *t = ie_sess(c)->t;
	struct etcd_read *er;
	struct etcd_kvs *kvs = NULL;
	size_t i;
	int rc = 0;

	if (!n || (!t && n > IE_PRE))
		return 0;
	er = calloc(n, sizeof(*er));
	if (!er)
		return -ENOMEM;
	for (i = 0; i < n && !rc; i++) {
		er[i].key = ie_full_key(c, "t", r[i].table, r[i].key);
		er[i].prefix = r[i].prefix;
		if (!er[i].key)
			rc = -ENOMEM;
	}
	if (!rc && t) {
		/* with the cluster's keys wanted beside (inv_side_want_range), not compared */
		struct etcd_read side[IE_SIDE_RANGES];
		struct etcd_kvs got[IE_SIDE_RANGES];
		size_t ns = 0;

		ie_side_ranges_add(c, side, &ns);
		rc = ie_etcd_err(etcd_txn_read_side(t, er, n, side, ns, got), "read", er[0].key);
		if (!rc)
			ie_side_ranges_keep(c, got);
	}
	if (!rc && !t) {
		kvs = calloc(n, sizeof(*kvs));
		rc = kvs ? ie_etcd_err(etcd_read_many(ie_store(c)->e, er, n, kvs, NULL), "read",
				       er[0].key) : -ENOMEM;
		if (!rc)
			rc = ie_pre_keep(c, er, kvs, n);
		free(kvs);
	}
	for (i = 0; i < n; i++)
		free((char *)er[i].key);
	free(er);
	return rc;
}

/* Queue the put of key = row in the session's transaction. */
static int queue_put(struct dbc *c, const char *key, json_t *row)
{
	char *v = json_dumps(row, JSON_COMPACT);
	int rc;

	if (!v)
		return -ENOMEM;
	rc = etcd_txn_put(ie_sess(c)->t, key, v, strlen(v), 0);
	free(v);
	return rc;
}

int ie_row_put(struct dbc *c, const char *table, const char *key, json_t *row,
	       uint64_t expect_rev)
{
	char *k = ie_full_key(c, "t", table, key);
	struct etcd_kv kv;
	bool own;
	int rc;

	if (!k)
		return -ENOMEM;
	rc = ie_write_begin(c, &own);
	if (!rc && expect_rev) {
		rc = kv_get(c, k, &kv);
		if (rc == -ENOENT)
			rc = expect_rev == IE_ABSENT ? 0 : -ENOENT;
		else if (!rc) {
			if (expect_rev == IE_ABSENT)
				rc = -EEXIST;
			else if ((uint64_t)kv.mod_rev != expect_rev)
				rc = -EAGAIN;
			etcd_kv_clear(&kv);
		}
	}
	if (!rc)
		rc = queue_put(c, k, row);
	free(k);
	return ie_write_end(c, own, rc);
}

/* Queue the deletion of each key read (a walk of etcd_txn_range). */
static int delete_one(const struct etcd_kv *kv, void *arg)
{
	return etcd_txn_delete(arg, kv->key);
}

int ie_row_delete(struct dbc *c, const char *table, const char *key, bool prefix)
{
	char *k = ie_full_key(c, "t", table, key);
	struct etcd_kv kv;
	bool own;
	int rc;

	if (!k)
		return -ENOMEM;
	rc = ie_write_begin(c, &own);
	if (!rc && prefix) {
		rc = ie_etcd_err(etcd_txn_range(ie_sess(c)->t, k, delete_one, ie_sess(c)->t),
				 "range", k);
	} else if (!rc) {
		rc = kv_get(c, k, &kv);
		if (!rc) {
			etcd_kv_clear(&kv);
			rc = etcd_txn_delete(ie_sess(c)->t, k);
		}
	}
	free(k);
	return ie_write_end(c, own, rc);
}

/* The next id of table's counter, with the key u (NULL: none) read in the same call:
 * 0 and *id (and *found, *kv: etcd_kv_clear it when found), -ENOMEM or -EIO (logged). */
static int take_id(struct dbc *c, const char *table, const char *u, int64_t *id,
		   struct etcd_kv *kv, bool *found)
{
	char *k;
	int rc;

	if (asprintf(&k, "%sid/%s", ie_store(c)->prefix, table) < 0)
		return -ENOMEM;
	rc = etcd_next_id_read(ie_store(c)->e, k, u, id, kv, found);
	if (rc && rc != -ENOMEM) {
		vsrv_log("inventory: etcd: new id of %s: %s", table, etcd_errmsg());
		rc = -EIO;
	}
	free(k);
	return rc;
}

int ie_new_id(struct dbc *c, const char *table, int64_t *id)
{
	return take_id(c, table, NULL, id, NULL, NULL);
}

int ie_new_id_claim(struct dbc *c, const char *table, const char *index, const char *value,
		    int64_t *id)
{
	struct etcd_txn *t = ie_sess(c)->t;
	char *u;
	struct etcd_kv kv;
	bool found = false;
	int rc;

	if (!t)
		return ie_new_id(c, table, id);
	u = ie_full_key(c, "u", index, value);
	if (!u)
		return -ENOMEM;
	rc = take_id(c, table, u, id, &kv, &found);
	if (!rc)
		rc = etcd_txn_seed(t, u, found ? &kv : NULL);
	if (found)
		etcd_kv_clear(&kv);
	free(u);
	return rc;
}

/* --- unique values ----------------------------------------------------------------------- */

int ie_unique_get(struct dbc *c, const char *index, const char *value, int64_t *id)
{
	char *k = ie_full_key(c, "u", index, value);
	struct etcd_kv kv;
	int rc;

	if (!k)
		return -ENOMEM;
	if (!ie_sess(c)->t && !strcmp(index, "vms.name")) {
		rc = ie_vm_name_get(c, k, id);
		free(k);
		return rc;
	}
	rc = kv_get(c, k, &kv);
	if (!rc) {
		*id = strtoll(kv.value, NULL, 10);
		etcd_kv_clear(&kv);
	}
	free(k);
	return rc;
}

int ie_unique_claim(struct dbc *c, const char *index, const char *value, int64_t id)
{
	char *k = ie_full_key(c, "u", index, value), buf[24];
	struct etcd_kv kv;
	bool own;
	int rc;

	if (!k)
		return -ENOMEM;
	rc = ie_write_begin(c, &own);
	if (!rc) {
		rc = kv_get(c, k, &kv);
		if (!rc) {
			if (strtoll(kv.value, NULL, 10) != id)
				rc = -EEXIST;
			etcd_kv_clear(&kv);
		} else if (rc == -ENOENT) {
			snprintf(buf, sizeof(buf), "%" PRId64, id);
			rc = etcd_txn_put(ie_sess(c)->t, k, buf, strlen(buf), 0);
		}
	}
	free(k);
	return ie_write_end(c, own, rc);
}

int ie_unique_release(struct dbc *c, const char *index, const char *value)
{
	char *k = ie_full_key(c, "u", index, value);
	bool own;
	int rc;

	if (!k)
		return -ENOMEM;
	rc = ie_write_begin(c, &own);
	if (!rc)
		rc = etcd_txn_delete(ie_sess(c)->t, k);
	free(k);
	return ie_write_end(c, own, rc);
}

/* --- writes outside a transaction ---------------------------------------------------------- */

int ie_write_begin(struct dbc *c, bool *own)
{
	struct inv_etcd_sess *s = ie_sess(c);
	int rc;

	*own = false;
	if (s->t)
		return 0;
	rc = etcd_txn_begin(ie_store(c)->e, &s->t);
	if (!rc) {
		*own = true;
		rc = ie_pre_seed(c);    /* the rows read ahead: compared as the Txn's reads */
	}
	return rc;
}

int ie_write_end(struct dbc *c, bool own, int rc)
{
	struct inv_etcd_sess *s = ie_sess(c);
	struct etcd_txn *t = s->t;

	if (!own)
		return rc;
	s->t = NULL;
	if (rc) {
		etcd_txn_abort(t);
		return rc;
	}
	rc = ie_etcd_err(etcd_txn_commit(t, NULL), "commit", ie_store(c)->prefix);
	if (!rc)
		atomic_fetch_add(&ie_store(c)->gen, 1);
	return rc;
}

int ie_write(struct dbc *c, int (*body)(struct dbc *c, void *arg), void *arg)
{
	int tries, rc = 0;
	bool own;

	for (tries = 0; tries < 20; tries++) {
		rc = ie_write_begin(c, &own);
		if (rc)
			return rc;
		rc = ie_write_end(c, own, body(c, arg));
		if (rc != -EAGAIN || !own)
			break;
	}
	return rc;
}
