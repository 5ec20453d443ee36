/* The etcd inventory's direct reads and writes (inv_etcd_direct.h). */
#include "server/inv_etcd_direct.h"
#include "server/etcd_int.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ied_fail(int rc, const char *what)
{
	if (rc == -ENOMEM)
		return rc;
	vsrv_log("inventory (etcd): %s: %s", what, etcd_errmsg());
	return -EIO;
}

char *ied_key(struct dbc *c, const char *table, const char *key)
{
	char *k;

	if (asprintf(&k, "%st/%s/%s", ie_store(c)->prefix, table, key ? key : "") < 0)
		return NULL;
	return k;
}

/* A range request of table's keys from from to to (NULL: the table's end). */
static json_t *range_req(struct dbc *c, const char *table, const char *from, const char *to)
{
	char *kf = ied_key(c, table, from), *kt = to ? ied_key(c, table, to) : ied_key(c, table, NULL);
	json_t *req = NULL;

	if (kf && kt)
		req = json_pack("{s:o*,s:o*}", "key", etcd_b64s(kf), "range_end",
				to ? etcd_b64s(kt) : etcd_prefix_end(kt));
	free(kf);
	free(kt);
	return req;
}

/* Call fn for kv, its key made relative to the table's prefix (keys_only: no value, fn's
 * row NULL). */
static int one_kv(const struct etcd_kv *kv, size_t skip, bool keys_only, ied_fn fn, void *arg)
{
	json_t *row = keys_only ? NULL : json_loadb(kv->value, kv->value_len, 0, NULL);
	int rc;

	if ((!keys_only && !json_is_object(row)) || strlen(kv->key) < skip) {
		vsrv_log("inventory (etcd): %s is not a row", kv->key);
		rc = -EIO;
	} else {
		rc = fn(kv->key + skip, row, (uint64_t)kv->mod_rev, kv->lease, arg);
	}
	json_decref(row);
	return rc;
}

/* one_kv for each kv of an answer's kvs. */
static int each_kv(json_t *kvs, size_t skip, bool keys_only, ied_fn fn, void *arg)
{
	json_t *o;
	size_t i;
	int rc = 0;

	json_array_foreach(kvs, i, o) {
		struct etcd_kv kv;

		rc = etcd_kv_parse(o, &kv);
		if (rc)
			return ied_fail(rc, "a range's answer");
		rc = one_kv(&kv, skip, keys_only, fn, arg);
		etcd_kv_clear(&kv);
		if (rc)
			break;
	}
	return rc;
}

static size_t table_skip(struct dbc *c, const char *table)
{
	return strlen(ie_store(c)->prefix) + 2 + strlen(table) + 1;
}

/* What range's pages carry to each_kv. */
struct range_walk {
	size_t skip;
	bool keys_only;
	ied_fn fn;
	void *arg;
	bool stopped;               /* each_kv's value ended the walk (fn's, or logged) */
};

static int range_page(json_t *kvs, void *arg)
{
	struct range_walk *w = arg;
	int rc = each_kv(kvs, w->skip, w->keys_only, w->fn, w->arg);

	w->stopped = rc != 0;
	return rc;
}

/* Page by page (etcd_range_pages): a table of many rows (events) is never one answer. */
static int range(struct dbc *c, const char *table, const char *from, const char *to,
		 int64_t limit, bool keys_only, ied_fn fn, void *arg)
{
	struct range_walk w = { table_skip(c, table), keys_only, fn, arg, false };
	json_t *req = range_req(c, table, from, to);
	int rc;

	if (req && keys_only)
		json_object_set_new(req, "keys_only", json_true());
	rc = etcd_range_pages(ie_store(c)->e, req, limit, range_page, &w, NULL);
	return rc && !w.stopped ? ied_fail(rc, table) : rc;
}

int ied_range(struct dbc *c, const char *table, const char *from, const char *to,
	      int64_t limit, ied_fn fn, void *arg)
{
	return range(c, table, from, to, limit, false, fn, arg);
}

int ied_range_keys(struct dbc *c, const char *table, const char *from, const char *to,
		   int64_t limit, ied_fn fn, void *arg)
{
	return range(c, table, from, to, limit, true, fn, arg);
}

int ied_delete_range(struct dbc *c, const char *table, const char *from, const char *to)
{
	json_t *ans = NULL;
	int rc = etcd_call_req(ie_store(c)->e, "/v3/kv/deleterange", range_req(c, table, from, to),
			       &ans);

	json_decref(ans);
	return rc ? ied_fail(rc, table) : 0;
}

int ied_delete_keys(struct dbc *c, char *const *keys, size_t n)
{
	size_t at = 0;

	while (at < n) {
		json_t *req = json_pack("{s:[],s:[]}", "compare", "success"), *ans = NULL;
		json_t *ops = json_object_get(req, "success");
		int rc = req ? 0 : -ENOMEM;
		size_t i;

		for (i = 0; !rc && i < 100 && at + i < n; i++)
			rc = json_array_append_new(ops, json_pack("{s:{s:o*}}", "request_delete_range",
						   "key", etcd_b64s(keys[at + i]))) ? -ENOMEM : 0;
		if (rc) {
			json_decref(req);
			return rc;
		}
		at += i;
		rc = etcd_call_req(ie_store(c)->e, "/v3/kv/txn", req, &ans);
		json_decref(ans);
		if (rc)
			return ied_fail(rc, "a deletion");
	}
	return 0;
}

/* ied_spans inside a transaction: ie_row_each of each span. */
struct span_walk {
	int span;
	int (*fn)(int span, const char *key, json_t *row, void *arg);
	void *arg;
};

static int span_row(const char *key, json_t *row, uint64_t rev, void *arg)
{
	struct span_walk *w = arg;

	(void)rev;
	return w->fn(w->span, key, row, w->arg);
}

static int span_kv(const char *key, json_t *row, uint64_t rev, int64_t lease, void *arg)
{
	(void)lease;
	return span_row(key, row, rev, arg);
}

int ied_spans(struct dbc *c, const struct ied_span *spans, int n,
	      int (*fn)(int span, const char *key, json_t *row, void *arg), void *arg)
{
	struct etcd_read *r;
	struct etcd_kvs *kvs;
	char **keys;
	bool got = false;
	size_t j;
	int i, rc = 0;

	if (ie_sess(c)->t) {
		for (i = 0; !rc && i < n; i++) {
			struct span_walk w = { .span = i, .fn = fn, .arg = arg };

			rc = ie_row_each(c, spans[i].table, spans[i].prefix, span_row, &w);
		}
		return rc;
	}
	/* one Txn of range reads (etcd_read_many: past a page, the rest at its revision) */
	r = calloc((size_t)n, sizeof(*r));
	kvs = calloc((size_t)n, sizeof(*kvs));
	keys = calloc((size_t)n, sizeof(*keys));
	rc = r && kvs && keys ? 0 : -ENOMEM;
	for (i = 0; !rc && i < n; i++) {
		keys[i] = ied_key(c, spans[i].table, spans[i].prefix);
		r[i] = (struct etcd_read){ keys[i], true };
		rc = keys[i] ? 0 : -ENOMEM;
	}
	if (!rc && (rc = etcd_read_many(ie_store(c)->e, r, (size_t)n, kvs, NULL)))
		rc = ied_fail(rc, "a read of grants");
	else
		got = !rc;
	for (i = 0; !rc && i < n; i++) {
		struct span_walk w = { .span = i, .fn = fn, .arg = arg };

		for (j = 0; !rc && j < kvs[i].n; j++)
			rc = one_kv(&kvs[i].kv[j], table_skip(c, spans[i].table), false, span_kv, &w);
	}
	for (i = 0; got && i < n; i++)
		etcd_kvs_clear(&kvs[i]);
	for (i = 0; keys && i < n; i++)
		free(keys[i]);
	free(keys);
	free(kvs);
	free(r);
	return rc;
}
