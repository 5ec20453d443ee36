/* The etcd client's optimistic transactions (etcd.h); its counters are in etcd_counter.c. */
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

/* What the session read (or was given: etcd_txn_seed): a key (kvs.n 0 or 1) or the keys
 * under a prefix, as etcd answered; a later read of them is answered from here. */
struct txn_seen {
	char *key;
	bool prefix;
	bool offered;               /* a seed the session has not read yet: not compared */
	struct etcd_kvs kvs;
};

struct etcd_txn {
	struct etcd *e;
	json_t *reads;              /* key -> the mod_revision read (0: absent) */
	json_t *ranges;             /* prefix -> the revision a range under it was read at */
	struct txn_op *ops;
	size_t nops, cap;
	struct txn_seen *seen;
	size_t nseen, capseen;
	char *ctr, *ctr_prefix;     /* etcd_txn_take_ids (ctr NULL: none) */
	char **ctr_vals;
	char **ctr_idkeys;          /* per row: a key given {"id": its id}, or NULL */
	size_t nctr, nidkeys;       /* rows; their id keys that are not NULL */
	int64_t *ctr_first;
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
	for (i = 0; i < t->nseen; i++) {
		free(t->seen[i].key);
		etcd_kvs_clear(&t->seen[i].kvs);
	}
	free(t->seen);
	for (i = 0; i < t->nctr; i++) {
		free(t->ctr_vals[i]);
		if (t->ctr_idkeys)
			free(t->ctr_idkeys[i]);
	}
	free(t->ctr_vals);
	free(t->ctr_idkeys);
	free(t->ctr);
	free(t->ctr_prefix);
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

/* The read that answers key (with prefix: every key under it), or NULL: the key itself,
 * or a prefix read that key starts with. */
static struct txn_seen *seen_find(struct etcd_txn *t, const char *key, bool prefix)
{
	size_t i;

	for (i = 0; i < t->nseen; i++) {
		struct txn_seen *s = &t->seen[i];

		if (s->prefix ? !strncmp(key, s->key, strlen(s->key)) :
				!prefix && !strcmp(key, s->key))
			return s;
	}
	return NULL;
}

/* Keep a read of key (kvs moved in: cleared). 0 or -ENOMEM (kvs cleared too). */
static int seen_add(struct etcd_txn *t, const char *key, bool prefix, struct etcd_kvs *kvs)
{
	struct txn_seen *s;

	if (t->nseen == t->capseen) {
		size_t cap = t->capseen ? t->capseen * 2 : 8;
		struct txn_seen *p = realloc(t->seen, cap * sizeof(*p));

		if (!p) {
			etcd_kvs_clear(kvs);
			return -ENOMEM;
		}
		t->seen = p;
		t->capseen = cap;
	}
	s = &t->seen[t->nseen];
	*s = (struct txn_seen){ .key = strdup(key), .prefix = prefix, .kvs = *kvs };
	memset(kvs, 0, sizeof(*kvs));
	if (!s->key) {
		etcd_kvs_clear(&s->kvs);
		return -ENOMEM;
	}
	t->nseen++;
	return 0;
}

/* A copy of src into *dst. 0 or -ENOMEM. */
static int kv_copy(struct etcd_kv *dst, const struct etcd_kv *src)
{
	*dst = *src;
	dst->key = strdup(src->key);
	dst->value = malloc(src->value_len + 1);
	if (!dst->key || !dst->value) {
		etcd_kv_clear(dst);
		return -ENOMEM;
	}
	memcpy(dst->value, src->value, src->value_len);
	dst->value[src->value_len] = '\0';
	return 0;
}

/* A read's keys into the compare list (each key's first read is what the commit compares
 * against; a prefix's range too, at the revision rev it was read at). */
static int seen_compare(struct etcd_txn *t, const char *key, bool prefix,
			const struct etcd_kvs *kvs, int64_t rev)
{
	size_t i;

	if (!prefix)
		return json_object_get(t->reads, key) ||
		       !json_object_set_new(t->reads, key, json_integer(kvs->n ?
					    kvs->kv[0].mod_rev : 0)) ? 0 : -ENOMEM;
	for (i = 0; i < kvs->n; i++)
		if (!json_object_get(t->reads, kvs->kv[i].key) &&
		    json_object_set_new(t->reads, kvs->kv[i].key, json_integer(kvs->kv[i].mod_rev)))
			return -ENOMEM;
	return json_object_get(t->ranges, key) ||
	       !json_object_set_new(t->ranges, key, json_integer(rev)) ? 0 : -ENOMEM;
}

int etcd_txn_seed(struct etcd_txn *t, const char *key, const struct etcd_kv *kv)
{
	struct etcd_kvs kvs = { 0 };
	int rc;

	if (json_object_get(t->reads, key) || seen_find(t, key, false))
		return 0;
	if (kv) {
		kvs.kv = calloc(1, sizeof(*kvs.kv));
		if (!kvs.kv || kv_copy(kvs.kv, kv)) {
			free(kvs.kv);
			return -ENOMEM;
		}
		kvs.n = 1;
	}
	rc = seen_add(t, key, false, &kvs);
	if (!rc)
		t->seen[t->nseen - 1].offered = true;
	return rc;
}

int etcd_txn_compare(struct etcd_txn *t, const char *key, int64_t mod_rev)
{
	return json_object_set_new(t->reads, key, json_integer(mod_rev)) ? -ENOMEM : 0;
}

/* A key's read s is used: a seed joins the compares now, with the revision it was read
 * at. 0 or -ENOMEM. */
static int seen_use(struct etcd_txn *t, struct txn_seen *s)
{
	if (!s->offered)
		return 0;
	s->offered = false;
	return seen_compare(t, s->key, false, &s->kvs, 0);
}

/* Drop the seeds under prefix that the session has not read (a range read of the prefix
 * answers them now, at its revision, which the commit compares). */
static void seeds_drop(struct etcd_txn *t, const char *prefix)
{
	size_t i = 0;

	while (i < t->nseen) {
		struct txn_seen *s = &t->seen[i];

		if (!s->offered || strncmp(s->key, prefix, strlen(prefix))) {
			i++;
			continue;
		}
		free(s->key);
		etcd_kvs_clear(&s->kvs);
		memmove(s, s + 1, (t->nseen - i - 1) * sizeof(*s));     /* (in order) */
		t->nseen--;
	}
}

int etcd_txn_read_side(struct etcd_txn *t, const struct etcd_read *r, size_t n,
		       const struct etcd_read *side, size_t nside, struct etcd_kvs *side_out)
{
	size_t all = n + nside ? n + nside : 1, i, m = 0, mr;
	struct etcd_read *want = calloc(all, sizeof(*want));
	struct etcd_kvs *got = calloc(all, sizeof(*got));
	int64_t rev = 0;
	int rc = want && got ? 0 : -ENOMEM;

	for (i = 0; i < nside; i++)
		memset(&side_out[i], 0, sizeof(side_out[i]));
	for (i = 0; !rc && i < n; i++) {
		struct txn_seen *s = seen_find(t, r[i].key, r[i].prefix);

		if (s && !s->prefix)
			rc = seen_use(t, s);
		else if (!s && (r[i].prefix || !written(t, r[i].key)))
			want[m++] = r[i];
	}
	/* (the side reads last: want[mr..m)) */
	mr = m;
	for (i = 0; !rc && i < nside; i++)
		want[m++] = side[i];
	if (!rc && m)
		rc = etcd_read_many(t->e, want, m, got, &rev);
	for (i = 0; !rc && i < mr; i++) {
		if (want[i].prefix)
			seeds_drop(t, want[i].key);
		rc = seen_compare(t, want[i].key, want[i].prefix, &got[i], rev);
		if (!rc)
			rc = seen_add(t, want[i].key, want[i].prefix, &got[i]);
	}
	for (i = 0; !rc && i < nside; i++) {
		side_out[i] = got[mr + i];      /* moved */
		memset(&got[mr + i], 0, sizeof(got[mr + i]));
	}
	for (i = 0; got && i < m; i++)
		etcd_kvs_clear(&got[i]);
	free(got);
	free(want);
	return rc;
}

int etcd_txn_read(struct etcd_txn *t, const struct etcd_read *r, size_t n)
{
	return etcd_txn_read_side(t, r, n, NULL, 0, NULL);
}

int etcd_txn_get(struct etcd_txn *t, const char *key, struct etcd_kv *out)
{
	struct txn_op *w = written(t, key);
	struct txn_seen *s;
	struct etcd_kvs kvs = { 0 };
	size_t i;
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
	/* read already: as it was (the commit compares the first read) */
	if ((s = seen_find(t, key, false))) {
		if (seen_use(t, s))
			return -ENOMEM;
		for (i = 0; i < s->kvs.n; i++)
			if (!strcmp(s->kvs.kv[i].key, key))
				return kv_copy(out, &s->kvs.kv[i]);
		return -ENOENT;
	}
	rc = etcd_get(t->e, key, out);
	if (rc && rc != -ENOENT)
		return rc;
	if (!rc) {
		kvs.kv = calloc(1, sizeof(*kvs.kv));
		if (!kvs.kv || kv_copy(kvs.kv, out)) {
			free(kvs.kv);
			etcd_kv_clear(out);
			return -ENOMEM;
		}
		kvs.n = 1;
	}
	/* the first read of a key is what the commit compares against */
	if (seen_compare(t, key, false, &kvs, 0) || seen_add(t, key, false, &kvs)) {
		etcd_kvs_clear(&kvs);
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
	struct range_acc a = { 0 };
	struct txn_seen *s = seen_find(t, prefix, true);
	size_t i, j, plen = strlen(prefix);
	int rc = 0;

	if (!s) {
		/* read now: its keys and the range join the compares (the oldest read of the
		 * range is what the commit compares against) */
		struct etcd_read r = { prefix, true };

		if ((rc = etcd_txn_read(t, &r, 1)))
			return rc;
		s = seen_find(t, prefix, true);
	}
	for (i = 0; !rc && s && i < s->kvs.n; i++) {
		struct etcd_kv *kv = &s->kvs.kv[i];

		if (!strncmp(kv->key, prefix, plen))
			rc = range_add(&a, kv->key, kv->value, kv->value_len, kv->mod_rev,
				       kv->create_rev, kv->version, kv->lease);
	}
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

int etcd_txn_take_ids(struct etcd_txn *t, const char *counter, const char *key_prefix,
		      char *const *values, char *const *id_keys, size_t n, int64_t *first)
{
	size_t i;

	if (t->ctr || !n)
		return -EINVAL;
	t->ctr = strdup(counter);
	t->ctr_prefix = strdup(key_prefix);
	t->ctr_vals = calloc(n, sizeof(*t->ctr_vals));
	t->ctr_idkeys = id_keys ? calloc(n, sizeof(*t->ctr_idkeys)) : NULL;
	if (!t->ctr || !t->ctr_prefix || !t->ctr_vals || (id_keys && !t->ctr_idkeys))
		return -ENOMEM;     /* (freed with t) */
	for (i = 0; i < n; i++) {
		t->ctr_vals[i] = strdup(values[i]);
		t->nctr = i + 1;
		if (!t->ctr_vals[i])
			return -ENOMEM;
		if (id_keys && id_keys[i]) {
			t->ctr_idkeys[i] = strdup(id_keys[i]);
			if (!t->ctr_idkeys[i])
				return -ENOMEM;
			t->nidkeys++;
		}
	}
	t->ctr_first = first;
	return 0;
}

/* The ids' part of a commit (etcd_txn_take_ids) from counter value cur at revision rev
 * (0: absent) into a copy of base: the counter's compare and put, the rows' puts, the
 * counter's read on failure; then the reads r. NULL on ENOMEM. */
static json_t *with_ids(struct etcd_txn *t, json_t *base, int64_t cur, int64_t rev,
			const struct etcd_read *r, size_t n)
{
	json_t *req = json_deep_copy(base), *ops = json_object_get(req, "success");
	char num[40], *key;
	size_t i;
	int rc = req ? 0 : -ENOMEM;

	if (!rc && t->ctr) {
		snprintf(num, sizeof(num), "%lld", (long long)(cur + (int64_t)t->nctr));
		rc = json_array_append_new(json_object_get(req, "compare"),
					   json_pack("{s:o*,s:s,s:s,s:o*}", "key", etcd_b64s(t->ctr),
						     "target", rev ? "MOD" : "CREATE", "result", "EQUAL",
						     rev ? "mod_revision" : "create_revision",
						     json_sprintf("%lld", (long long)rev))) ||
		     json_array_append_new(ops, json_pack("{s:{s:o*,s:o*}}", "request_put", "key",
							  etcd_b64s(t->ctr), "value",
							  etcd_b64s(num))) ||
		     json_object_set_new(req, "failure", json_pack("[{s:{s:o*}}]", "request_range",
								   "key", etcd_b64s(t->ctr)))
		     ? -ENOMEM : 0;
		for (i = 0; !rc && i < t->nctr; i++) {
			if (asprintf(&key, "%s%020lld", t->ctr_prefix,
				     (long long)(cur + 1 + (int64_t)i)) < 0) {
				rc = -ENOMEM;
				break;
			}
			rc = json_array_append_new(ops, json_pack("{s:{s:o*,s:o*}}", "request_put",
								  "key", etcd_b64s(key), "value",
								  etcd_b64s(t->ctr_vals[i])))
			     ? -ENOMEM : 0;
			free(key);
			if (rc || !t->ctr_idkeys || !t->ctr_idkeys[i])
				continue;
			snprintf(num, sizeof(num), "{\"id\":%lld}", (long long)(cur + 1 + (int64_t)i));
			rc = json_array_append_new(ops, json_pack("{s:{s:o*,s:o*}}", "request_put",
								  "key", etcd_b64s(t->ctr_idkeys[i]),
								  "value", etcd_b64s(num)))
			     ? -ENOMEM : 0;
		}
	}
	for (i = 0; !rc && i < n; i++)
		rc = json_array_append_new(ops, etcd_range_op(&r[i], t->e->page)) ? -ENOMEM : 0;
	if (rc) {
		json_decref(req);
		return NULL;
	}
	return req;
}

int etcd_txn_commit(struct etcd_txn *t, int64_t *rev)
{
	return etcd_txn_commit_read(t, NULL, 0, NULL, NULL, rev);
}

int etcd_txn_commit_read(struct etcd_txn *t, const struct etcd_read *r, size_t n,
			 struct etcd_kvs *out, bool *got, int64_t *rev)
{
	json_t *req = json_pack("{s:[],s:[]}", "compare", "success"), *ans = NULL, *v;
	json_t *cmp = json_object_get(req, "compare"), *ops = json_object_get(req, "success");
	const char *key;
	size_t i, base;
	int64_t cur = 0, crev = 0;
	int tries, rc = req ? 0 : -ENOMEM;

	/* etcd refuses a Txn of more than --max-txn-ops compares (128 by default): past that,
	 * the keys a range read covers keep only the range's compare (a change or a new key
	 * under it still fails the commit; one deleted by another client no longer does) */
	bool collapse = json_object_size(t->reads) + json_object_size(t->ranges) +
			(t->ctr ? 1 : 0) > ETCD_TXN_MAX_COMPARES;

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
	if (n)
		memset(out, 0, n * sizeof(*out));
	/* the ids' counter as last seen (else read) */
	if (!rc && t->ctr && !etcd_counter_hint(t->e, t->ctr, &cur, &crev)) {
		struct etcd_kv kv = { 0 };

		rc = etcd_get(t->e, t->ctr, &kv);
		cur = rc ? 0 : strtoll(kv.value, NULL, 10);
		crev = rc ? 0 : kv.mod_rev;
		rc = rc == -ENOENT ? 0 : rc;
		etcd_kv_clear(&kv);
	}
	/* the reads after the writes: etcd's Txn reads see its own writes */
	for (tries = 0; !rc; tries++) {
		json_t *send = with_ids(t, req, cur, crev, r, n);
		struct etcd_kvs now = { 0 };

		json_decref(ans);
		ans = NULL;
		rc = send ? etcd_call(t->e, "/v3/kv/txn", send, &ans) : -ENOMEM;
		json_decref(send);
		if (rc || json_is_true(json_object_get(ans, "succeeded")))
			break;
		rc = -EAGAIN;
		if (!t->ctr || tries >= 100)
			break;
		/* the counter as it is now: moved, the commit again from it; not, a key read
		 * has changed */
		if (!etcd_range_resp(json_array_get(json_object_get(ans, "responses"), 0), &now)) {
			int64_t v = now.n ? strtoll(now.kv[0].value, NULL, 10) : 0;
			int64_t mr = now.n ? now.kv[0].mod_rev : 0;

			if (mr != crev) {
				cur = v;
				crev = mr;
				rc = 0;
			}
		}
		etcd_kvs_clear(&now);
	}
	if (rc == -EAGAIN)
		rc = etcd_fail(-EAGAIN, "etcd: a key this transaction read has changed");
	/* (refused: the counter as it was compared, unmoved; failed: read it next time) */
	if (t->ctr && !rc)
		etcd_counter_seen(t->e, t->ctr, cur + (int64_t)t->nctr,
				  etcd_num(json_object_get(ans, "header"), "revision"));
	else if (t->ctr)
		etcd_counter_seen(t->e, t->ctr, cur, rc == -EAGAIN ? crev : 0);
	if (!rc && t->ctr_first)
		*t->ctr_first = cur + 1;
	if (!rc && rev)
		*rev = etcd_num(json_object_get(ans, "header"), "revision");
	if (got)
		*got = !rc;
	base = t->nops + (t->ctr ? 1 + t->nctr + t->nidkeys : 0);
	for (i = 0; !rc && i < n && *got; i++) {
		json_t *resp = json_array_get(json_object_get(ans, "responses"), base + i);

		/* (a prefix past a page: the rest at the commit's revision) */
		if (etcd_range_resp(resp, &out[i]) ||
		    etcd_range_rest(t->e, &r[i], resp, etcd_num(json_object_get(ans, "header"),
								 "revision"), &out[i]))
			*got = false;       /* committed all the same: the reads are left out */
	}
	if (n && !*got)
		for (i = 0; i < n; i++)
			etcd_kvs_clear(&out[i]);
	json_decref(ans);
	json_decref(req);
	etcd_txn_abort(t);
	return rc;
}
