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

/* Call fn for each kv of an answer's kvs, the key made relative to the table's prefix
 * (keys_only: no values, fn's row NULL). */
static int each_kv(json_t *kvs, size_t skip, bool keys_only, ied_fn fn, void *arg)
{
	json_t *o;
	size_t i;
	int rc = 0;

	json_array_foreach(kvs, i, o) {
		struct etcd_kv kv;
		json_t *row;

		rc = etcd_kv_parse(o, &kv);
		if (rc)
			return ied_fail(rc, "a range's answer");
		row = keys_only ? NULL : json_loadb(kv.value, kv.value_len, 0, NULL);
		if ((!keys_only && !json_is_object(row)) || strlen(kv.key) < skip) {
			vsrv_log("inventory (etcd): %s is not a row", kv.key);
			rc = -EIO;
		} else {
			rc = fn(kv.key + skip, row, (uint64_t)kv.mod_rev, kv.lease, arg);
		}
		json_decref(row);
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

static int range(struct dbc *c, const char *table, const char *from, const char *to,
		 int64_t limit, bool keys_only, ied_fn fn, void *arg)
{
	json_t *req = range_req(c, table, from, to), *ans = NULL;
	int rc;

	if (req && limit > 0)
		json_object_set_new(req, "limit", json_integer(limit));
	if (req && keys_only)
		json_object_set_new(req, "keys_only", json_true());
	rc = etcd_call_req(ie_store(c)->e, "/v3/kv/range", req, &ans);
	if (rc)
		return ied_fail(rc, table);
	rc = each_kv(json_object_get(ans, "kvs"), table_skip(c, table), keys_only, fn, arg);
	json_decref(ans);
	return rc;
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
	json_t *req, *ans = NULL, *resp;
	int i, rc = 0;

	if (ie_sess(c)->t) {
		for (i = 0; !rc && i < n; i++) {
			struct span_walk w = { .span = i, .fn = fn, .arg = arg };

			rc = ie_row_each(c, spans[i].table, spans[i].prefix, span_row, &w);
		}
		return rc;
	}
	req = json_pack("{s:[],s:[]}", "compare", "success");
	for (i = 0; req && i < n; i++) {
		char *k = ied_key(c, spans[i].table, spans[i].prefix);
		json_t *r = k ? json_pack("{s:{s:o*,s:o*}}", "request_range", "key", etcd_b64s(k),
					  "range_end", etcd_prefix_end(k)) : NULL;

		free(k);
		if (json_array_append_new(json_object_get(req, "success"), r)) {
			json_decref(req);
			return -ENOMEM;
		}
	}
	if (!req)
		return -ENOMEM;
	rc = etcd_call_req(ie_store(c)->e, "/v3/kv/txn", req, &ans);
	if (rc)
		return ied_fail(rc, "a read of grants");
	resp = json_object_get(ans, "responses");
	for (i = 0; !rc && i < n; i++) {
		json_t *rr = json_object_get(json_array_get(resp, i), "response_range");
		struct span_walk w = { .span = i, .fn = fn, .arg = arg };

		rc = each_kv(json_object_get(rr, "kvs"), table_skip(c, spans[i].table), false,
			     span_kv, &w);
	}
	json_decref(ans);
	return rc;
}
