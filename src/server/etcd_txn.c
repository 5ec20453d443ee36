/* The etcd client's optimistic transactions and counters (etcd.h). */
#include "server/etcd_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct txn_op {
	char *key;
	char *value;                /* NULL: a delete */
	size_t len;
	int64_t lease;
};

struct etcd_txn {
	struct etcd *e;
	json_t *reads;              /* key -> the mod_revision read (0: absent) */
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
	if (!t->reads) {
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
	struct txn_op *op;

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

int etcd_txn_commit(struct etcd_txn *t, int64_t *rev)
{
	json_t *req = json_pack("{s:[],s:[]}", "compare", "success"), *ans = NULL, *v;
	json_t *cmp = json_object_get(req, "compare"), *ops = json_object_get(req, "success");
	const char *key;
	size_t i;
	int rc = req ? 0 : -ENOMEM;

	json_object_foreach(t->reads, key, v) {
		if (rc)
			break;
		rc = json_array_append_new(cmp, json_pack("{s:o*,s:s,s:s,s:o*}", "key",
					   etcd_b64s(key), "target", "MOD", "result", "EQUAL",
					   "mod_revision", json_sprintf("%lld", (long long)
					   json_integer_value(v)))) ? -ENOMEM : 0;
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
