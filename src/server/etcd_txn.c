/* The etcd client's optimistic transactions and counters (etcd.h). */
#include "server/etcd_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* etcd's default --max-txn-ops */
#define ETCD_TXN_MAX_COMPARES 128

struct txn_op {
	char *key;
	char *value;                /* NULL: a delete */
	size_t len;
	int64_t lease;
};

struct etcd_txn {
	struct etcd *e;
	json_t *reads;              /* key -> the mod_revision read (0: absent) */
	json_t *ranges;             /* prefix -> the revision a range under it was read at */
	struct txn_op *ops;
	size_t nops, cap;
};

int etcd_txn_begin(struct etcd *e, struct etcd_txn **out)
{
	struct etcd_txn *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->e = e;
	t->reads = json_object();
	t->ranges = json_object();
	if (!t->reads || !t->ranges) {
		json_decref(t->reads);
		json_decref(t->ranges);
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void etcd_txn_abort(struct etcd_txn *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nops; i++) {
		free(t->ops[i].key);
		free(t->ops[i].value);
	}
	free(t->ops);
	json_decref(t->reads);
	json_decref(t->ranges);
	free(t);
}

/* The last queued write of key, or NULL. */
static struct txn_op *written(struct etcd_txn *t, const char *key)
{
	size_t i;

	for (i = t->nops; i-- > 0;)
		if (!strcmp(t->ops[i].key, key))
			return &t->ops[i];
	return NULL;
}

int etcd_txn_get(struct etcd_txn *t, const char *key, struct etcd_kv *out)
{
	struct txn_op *w = written(t, key);
	int rc;

	memset(out, 0, sizeof(*out));
	if (w) {
		if (!w->value)
			return -ENOENT;
		out->key = strdup(key);
		out->value = malloc(w->len + 1);
		if (!out->key || !out->value) {
			etcd_kv_clear(out);
			return -ENOMEM;
		}
		memcpy(out->value, w->value, w->len);
		out->value[w->len] = '\0';
		out->value_len = w->len;
		out->lease = w->lease;
		return 0;
	}
	rc = etcd_get(t->e, key, out);
	if (rc && rc != -ENOENT)
		return rc;
	/* the first read of a key is what the commit compares against */
	if (!json_object_get(t->reads, key) &&
	    json_object_set_new(t->reads, key, json_integer(rc ? 0 : out->mod_rev))) {
		etcd_kv_clear(out);
		return -ENOMEM;
	}
	return rc;
}

static int queue(struct etcd_txn *t, const char *key, const void *value, size_t len,
		 int64_t lease)
{
	struct txn_op *op = written(t, key);
	char *copy = NULL;

	/* etcd refuses a key twice in one Txn ("duplicate key given in txn request"): a
	 * second write of a key replaces the first (the last one is what the session sees) */
	if (op) {
		if (value) {
			copy = malloc(len + 1);
			if (!copy)
				return -ENOMEM;
			memcpy(copy, value, len);
		}
		free(op->value);
		op->value = copy;
		op->len = len;
		op->lease = lease;
		return 0;
	}
	if (t->nops == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct txn_op *p = realloc(t->ops, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->ops = p;
		t->cap = cap;
	}
	op = &t->ops[t->nops];
	*op = (struct txn_op){ .key = strdup(key), .len = len, .lease = lease };
	if (value) {
		op->value = malloc(len + 1);
		if (op->value)
			memcpy(op->value, value, len);
	}
	if (!op->key || (value && !op->value)) {
		free(op->key);
		free(op->value);
		return -ENOMEM;
	}
	t->nops++;
	return 0;
}

int etcd_txn_put(struct etcd_txn *t, const char *key, const void *value, size_t len,
		 int64_t lease)
{
	return queue(t, key, value ? value : "", len, lease);
}

int etcd_txn_delete(struct etcd_txn *t, const char *key)
{
	return queue(t, key, NULL, 0, 0);
}

/* The keys of a range as the session sees them. */
struct range_acc {
	struct etcd_kv *kv;
	size_t n, cap;
};

static int range_add(struct range_acc *a, const char *key, const char *value, size_t len,
		     int64_t mod_rev, int64_t create_rev, int64_t version, int64_t lease)
{
	struct etcd_kv *kv;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct etcd_kv *p = realloc(a->kv, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		a->kv = p;
		a->cap = cap;
	}
	kv = &a->kv[a->n];
	*kv = (struct etcd_kv){ .key = strdup(key), .value = malloc(len + 1), .value_len = len,
				.mod_rev = mod_rev, .create_rev = create_rev,
				.version = version, .lease = lease };
	if (!kv->key || !kv->value) {
		etcd_kv_clear(kv);
		return -ENOMEM;
	}
	memcpy(kv->value, value, len);
	kv->value[len] = '\0';
	a->n++;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	return strcmp(((const struct etcd_kv *)a)->key, ((const struct etcd_kv *)b)->key);
}

int etcd_txn_range(struct etcd_txn *t, const char *prefix,
		   int (*fn)(const struct etcd_kv *kv, void *arg), void *arg)
{
	json_t *req = json_pack("{s:o*,s:o*}", "key", etcd_b64s(prefix), "range_end",
				etcd_prefix_end(prefix));
	json_t *ans = NULL, *o;
	struct range_acc a = { 0 };
	size_t i, j, plen = strlen(prefix);
	int64_t rev;
	int rc;

	if ((rc = etcd_call_req(t->e, "/v3/kv/range", req, &ans)))
		return rc;
	rev = etcd_num(json_object_get(ans, "header"), "revision");
	json_array_foreach(json_object_get(ans, "kvs"), i, o) {
		struct etcd_kv kv;

		if ((rc = etcd_kv_parse(o, &kv)))
			break;
		if (!json_object_get(t->reads, kv.key) &&
		    json_object_set_new(t->reads, kv.key, json_integer(kv.mod_rev)))
			rc = -ENOMEM;
		if (!rc)
			rc = range_add(&a, kv.key, kv.value, kv.value_len, kv.mod_rev,
				       kv.create_rev, kv.version, kv.lease);
		etcd_kv_clear(&kv);
		if (rc)
			break;
	}
	json_decref(ans);
	/* the oldest read of the range is what the commit compares against */
	if (!rc && !json_object_get(t->ranges, prefix) &&
	    json_object_set_new(t->ranges, prefix, json_integer(rev)))
		rc = -ENOMEM;
	/* the session's own writes, in order */
	for (i = 0; !rc && i < t->nops; i++) {
		struct txn_op *op = &t->ops[i];

		if (strncmp(op->key, prefix, plen))
			continue;
		for (j = 0; j < a.n && strcmp(a.kv[j].key, op->key); j++)
			;
		if (j < a.n) {
			etcd_kv_clear(&a.kv[j]);
			a.kv[j] = a.kv[--a.n];
		}
		if (op->value)
			rc = range_add(&a, op->key, op->value, op->len, 0, 0, 0, op->lease);
	}
	if (!rc) {
		if (a.n)
			qsort(a.kv, a.n, sizeof(*a.kv), range_cmp);
		for (i = 0; !rc && i < a.n; i++)
			rc = fn(&a.kv[i], arg);
	}
	for (i = 0; i < a.n; i++)
		etcd_kv_clear(&a.kv[i]);
	free(a.kv);
	return rc;
}

/* Whether key is under a prefix the session read as a range. */
static bool in_range(struct etcd_txn *t, const char *key)
{
	const char *prefix;
	json_t *v;

	json_object_foreach(t->ranges, prefix, v)
		if (!strncmp(key, prefix, strlen(prefix)))
			return true;
	return false;
}

int etcd_txn_commit(struct etcd_txn *t, int64_t *rev)
{
	json_t *req = json_pack("{s:[],s:[]}", "compare", "success"), *ans = NULL, *v;
	json_t *cmp = json_object_get(req, "compare"), *ops = json_object_get(req, "success");
	const char *key;
	size_t i;
	int rc = req ? 0 : -ENOMEM;

	/* etcd refuses a Txn of more than --max-txn-ops compares (128 by default): past that,
	 * the keys a range read covers keep only the range's compare (a change or a new key
	 * under it still fails the commit; one deleted by another client no longer does) */
	bool collapse = json_object_size(t->reads) + json_object_size(t->ranges) >
			ETCD_TXN_MAX_COMPARES;

	json_object_foreach(t->reads, key, v) {
		if (rc)
			break;
		if (collapse && in_range(t, key))
			continue;
		rc = json_array_append_new(cmp, json_pack("{s:o*,s:s,s:s,s:o*}", "key",
					   etcd_b64s(key), "target", "MOD", "result", "EQUAL",
					   "mod_revision", json_sprintf("%lld", (long long)
					   json_integer_value(v)))) ? -ENOMEM : 0;
	}
	/* a range read: no key under it changed or created since (a deleted one fails the
	 * compare of its own key above) */
	json_object_foreach(t->ranges, key, v) {
		if (rc)
			break;
		rc = json_array_append_new(cmp, json_pack("{s:o*,s:o*,s:s,s:s,s:o*}", "key",
					   etcd_b64s(key), "range_end", etcd_prefix_end(key),
					   "target", "MOD", "result", "LESS", "mod_revision",
					   json_sprintf("%lld", (long long)json_integer_value(v) + 1)))
					   ? -ENOMEM : 0;
	}
	for (i = 0; !rc && i < t->nops; i++) {
		struct txn_op *op = &t->ops[i];
		json_t *o;

		if (op->value) {
			o = json_pack("{s:o*,s:o*}", "key", etcd_b64s(op->key), "value",
				      etcd_b64(op->value, op->len));
			if (o && op->lease)
				json_object_set_new(o, "lease", json_sprintf("%lld",
						    (long long)op->lease));
			o = o ? json_pack("{s:o}", "request_put", o) : NULL;
		} else {
			o = json_pack("{s:{s:o*}}", "request_delete_range", "key", etcd_b64s(op->key));
		}
		rc = json_array_append_new(ops, o) ? -ENOMEM : 0;
	}
	if (!rc)
		rc = etcd_call(t->e, "/v3/kv/txn", req, &ans);
	if (!rc && !json_is_true(json_object_get(ans, "succeeded")))
		rc = etcd_fail(-EAGAIN, "etcd: a key this transaction read has changed");
	if (!rc && rev)
		*rev = etcd_num(json_object_get(ans, "header"), "revision");
	json_decref(ans);
	json_decref(req);
	etcd_txn_abort(t);
	return rc;
}

int etcd_next_id(struct etcd *e, const char *key, int64_t *id)
{
	int tries;

	for (tries = 0; tries < 1000; tries++) {
		struct etcd_kv kv = { 0 };
		int64_t next, expect = 0;
		char buf[32];
		int rc = etcd_get(e, key, &kv);

		if (rc && rc != -ENOENT)
			return rc;
		next = rc ? 1 : strtoll(kv.value, NULL, 10) + 1;
		if (!rc)
			expect = kv.mod_rev;
		etcd_kv_clear(&kv);
		snprintf(buf, sizeof(buf), "%lld", (long long)next);
		rc = etcd_cas(e, key, expect, buf, strlen(buf), 0, NULL, NULL);
		if (!rc) {
			*id = next;
			return 0;
		}
		if (rc != -EAGAIN && rc != -EEXIST)
			return rc;
	}
	return etcd_fail(-EAGAIN, "etcd: counter %s: too many conflicts", key);
}
