/* The etcd client's key calls: range, put, delete, the compare-and-swap Txns (etcd.h). */
#include "server/etcd_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int etcd_get(struct etcd *e, const char *key, struct etcd_kv *out)
{
	json_t *req = json_pack("{s:o*}", "key", etcd_b64s(key)), *ans = NULL, *kvs;
	int rc;

	if ((rc = etcd_call_req(e, "/v3/kv/range", req, &ans)))
		return rc;
	kvs = json_object_get(ans, "kvs");
	if (json_array_size(kvs) < 1)
		rc = -ENOENT;
	else
		rc = etcd_kv_parse(json_array_get(kvs, 0), out);
	json_decref(ans);
	return rc;
}

int etcd_range_pages(struct etcd *e, json_t *req, int64_t limit,
		     int (*page)(json_t *kvs, void *arg), void *arg, int64_t *rev)
{
	int64_t at = rev ? *rev : 0, got = 0;
	json_t *ans = NULL;
	int rc = req ? 0 : -ENOMEM;

	while (!rc) {
		int64_t want = limit > 0 && limit - got < (int64_t)e->page ? limit - got : e->page;
		json_t *kvs, *last;
		struct etcd_kv kv;

		if (json_object_set_new(req, "limit", json_integer(want)) ||
		    (at && json_object_set_new(req, "revision", json_sprintf("%lld",
									(long long)at)))) {
			rc = -ENOMEM;
			break;
		}
		json_decref(ans);
		ans = NULL;
		if ((rc = etcd_call(e, "/v3/kv/range", req, &ans)))
			break;
		if (!at)
			at = etcd_num(json_object_get(ans, "header"), "revision");
		kvs = json_object_get(ans, "kvs");
		got += (int64_t)json_array_size(kvs);
		if ((rc = page(kvs, arg)) || !json_is_true(json_object_get(ans, "more")) ||
		    !json_array_size(kvs) || (limit > 0 && got >= limit))
			break;
		/* the next page: from the key just after the last one (the key and a NUL) */
		last = json_array_get(kvs, json_array_size(kvs) - 1);
		if ((rc = etcd_kv_parse(last, &kv)))
			break;
		rc = json_object_set_new(req, "key", etcd_b64(kv.key, strlen(kv.key) + 1)) ? -ENOMEM
											   : 0;
		etcd_kv_clear(&kv);
	}
	if (rev && at)
		*rev = at;      /* (also when page stopped the walk, as etcd_range always said) */
	json_decref(ans);
	json_decref(req);
	return rc;
}

/* What etcd_range's pages carry: its callback. */
struct range_cb {
	int (*fn)(const struct etcd_kv *kv, void *arg);
	void *arg;
};

static int range_page(json_t *kvs, void *arg)
{
	struct range_cb *cb = arg;
	json_t *kv;
	size_t i;
	int rc = 0;

	json_array_foreach(kvs, i, kv) {
		struct etcd_kv one;

		rc = etcd_kv_parse(kv, &one);
		if (!rc)
			rc = cb->fn(&one, cb->arg);
		etcd_kv_clear(&one);
		if (rc)
			break;
	}
	return rc;
}

int etcd_range(struct etcd *e, const char *prefix,
	       int (*fn)(const struct etcd_kv *kv, void *arg), void *arg, int64_t *rev)
{
	struct range_cb cb = { fn, arg };
	int64_t at = 0;
	int rc = etcd_range_pages(e, json_pack("{s:o*,s:o*}", "key", etcd_b64s(prefix),
					       "range_end", etcd_prefix_end(prefix)),
				  0, range_page, &cb, &at);

	if (rev)
		*rev = at;
	return rc;
}

int etcd_revision(struct etcd *e, int64_t *rev)
{
	/* the header of any read has it: count one key, transfer nothing */
	json_t *req = json_pack("{s:o*,s:b}", "key", etcd_b64s("\x01"), "count_only", 1);
	json_t *ans = NULL;
	int rc;

	if ((rc = etcd_call_req(e, "/v3/kv/range", req, &ans)))
		return rc;
	*rev = etcd_num(json_object_get(ans, "header"), "revision");
	json_decref(ans);
	return *rev > 0 ? 0 : etcd_fail(-EIO, "etcd: an answer without a revision");
}

/* A put request (for /v3/kv/put or a Txn's request_put). */
static json_t *put_req(const char *key, const void *value, size_t len, int64_t lease)
{
	json_t *req = json_pack("{s:o*,s:o*}", "key", etcd_b64s(key), "value", etcd_b64(value, len));

	if (req && lease)
		json_object_set_new(req, "lease", json_sprintf("%lld", (long long)lease));
	return req;
}

int etcd_put(struct etcd *e, const char *key, const void *value, size_t len, int64_t lease,
	     int64_t *rev)
{
	json_t *req = put_req(key, value, len, lease), *ans = NULL;
	int rc;

	if ((rc = etcd_call_req(e, "/v3/kv/put", req, &ans)))
		return rc;
	if (rev)
		*rev = etcd_num(json_object_get(ans, "header"), "revision");
	json_decref(ans);
	return 0;
}

int etcd_delete(struct etcd *e, const char *key, bool prefix, int64_t *deleted)
{
	json_t *req = json_pack("{s:o*}", "key", etcd_b64s(key)), *ans = NULL;
	int rc;

	if (req && prefix)
		json_object_set_new(req, "range_end", etcd_prefix_end(key));
	if ((rc = etcd_call_req(e, "/v3/kv/deleterange", req, &ans)))
		return rc;
	if (deleted)
		*deleted = etcd_num(ans, "deleted");
	json_decref(ans);
	return 0;
}

/* A Txn: if key's mod_revision (create_revision when expect_rev is 0: "absent") equals
 * expect_rev, do the success request; else read the key. 0 when it succeeded, -EAGAIN
 * (holder filled when asked) when the compare failed. */
static int txn_if_rev(struct etcd *e, const char *key, int64_t expect_rev, json_t *success,
		      int64_t *rev, struct etcd_kv *holder)
{
	json_t *req, *ans = NULL, *kvs;
	int rc;

	req = json_pack("{s:[{s:o*,s:s,s:s,s:o*}],s:[o*],s:[{s:{s:o*}}]}",
			"compare", "key", etcd_b64s(key), "target", expect_rev ? "MOD" : "CREATE",
			"result", "EQUAL", expect_rev ? "mod_revision" : "create_revision",
			json_sprintf("%lld", (long long)expect_rev),
			"success", success,
			"failure", "request_range", "key", etcd_b64s(key));
	if ((rc = etcd_call_req(e, "/v3/kv/txn", req, &ans)))
		return rc;
	if (json_is_true(json_object_get(ans, "succeeded"))) {
		if (rev)
			*rev = etcd_num(json_object_get(ans, "header"), "revision");
		json_decref(ans);
		return 0;
	}
	rc = etcd_fail(-EAGAIN, "etcd: %s changed (expected revision %lld)", key,
		       (long long)expect_rev);
	kvs = json_object_get(json_object_get(json_array_get(json_object_get(ans, "responses"), 0),
					      "response_range"), "kvs");
	if (holder) {
		memset(holder, 0, sizeof(*holder));
		if (json_array_size(kvs) && etcd_kv_parse(json_array_get(kvs, 0), holder))
			memset(holder, 0, sizeof(*holder));
	}
	if (!expect_rev && json_array_size(kvs))
		rc = etcd_fail(-EEXIST, "etcd: %s exists", key);
	json_decref(ans);
	return rc;
}

int etcd_cas(struct etcd *e, const char *key, int64_t expect_rev, const void *value,
	     size_t len, int64_t lease, int64_t *rev, struct etcd_kv *holder)
{
	json_t *put = put_req(key, value, len, lease);

	if (!put || expect_rev < 0) {
		json_decref(put);
		return put ? -EINVAL : -ENOMEM;
	}
	return txn_if_rev(e, key, expect_rev, json_pack("{s:o}", "request_put", put), rev, holder);
}

int etcd_delete_if(struct etcd *e, const char *key, int64_t expect_rev)
{
	if (expect_rev <= 0)
		return -EINVAL;
	return txn_if_rev(e, key, expect_rev,
			  json_pack("{s:{s:o*}}", "request_delete_range", "key", etcd_b64s(key)),
			  NULL, NULL);
}

/* etcd_read_many of the keys alone, each answer's one kv moved into out[i]. */
int etcd_get_many(struct etcd *e, const char *const *keys, size_t n, struct etcd_kv *out,
		  bool *found)
{
	struct etcd_read *r = calloc(n ? n : 1, sizeof(*r));
	struct etcd_kvs *got = calloc(n ? n : 1, sizeof(*got));
	size_t i;
	int rc = r && got ? 0 : -ENOMEM;

	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		found[i] = false;
		if (r)
			r[i].key = keys[i];
	}
	if (!rc)
		rc = etcd_read_many(e, r, n, got, NULL);
	for (i = 0; !rc && i < n; i++) {
		if (got[i].n) {
			out[i] = got[i].kv[0];
			memset(&got[i].kv[0], 0, sizeof(got[i].kv[0]));
			found[i] = true;
		}
		etcd_kvs_clear(&got[i]);
	}
	free(got);
	free(r);
	return rc;
}

void etcd_kvs_clear(struct etcd_kvs *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		etcd_kv_clear(&k->kv[i]);
	free(k->kv);
	k->kv = NULL;
	k->n = 0;
}

json_t *etcd_range_op(const struct etcd_read *r, unsigned page)
{
	json_t *o = json_pack("{s:o*}", "key", etcd_b64s(r->key));

	if (o && r->prefix)
		json_object_set_new(o, "range_end", etcd_prefix_end(r->key));
	if (o && r->prefix && page)
		json_object_set_new(o, "limit", json_integer(page));
	return o ? json_pack("{s:o}", "request_range", o) : NULL;
}

int etcd_range_resp(json_t *resp, struct etcd_kvs *out)
{
	json_t *kvs = json_object_get(json_object_get(resp, "response_range"), "kvs"), *o;
	size_t j;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!json_array_size(kvs))
		return 0;
	out->kv = calloc(json_array_size(kvs), sizeof(*out->kv));
	if (!out->kv)
		return -ENOMEM;
	json_array_foreach(kvs, j, o) {
		if ((rc = etcd_kv_parse(o, &out->kv[j])))
			break;
		out->n++;
	}
	if (rc)
		etcd_kvs_clear(out);
	return rc;
}

/* etcd_range_pages' page: the kvs appended to the struct etcd_kvs arg. */
static int append_page(json_t *kvs, void *arg)
{
	struct etcd_kvs *out = arg;
	struct etcd_kv *kv;
	json_t *o;
	size_t j;
	int rc = 0;

	if (!json_array_size(kvs))
		return 0;
	kv = realloc(out->kv, (out->n + json_array_size(kvs)) * sizeof(*kv));
	if (!kv)
		return -ENOMEM;
	out->kv = kv;
	json_array_foreach(kvs, j, o) {
		if ((rc = etcd_kv_parse(o, &out->kv[out->n])))
			break;
		out->n++;
	}
	return rc;
}

int etcd_range_rest(struct etcd *e, const struct etcd_read *r, json_t *resp, int64_t rev,
		    struct etcd_kvs *out)
{
	json_t *rr = json_object_get(resp, "response_range");
	int rc;

	if (!r->prefix || !json_is_true(json_object_get(rr, "more")) || !out->n)
		return 0;
	rc = etcd_range_pages(e, json_pack("{s:o*,s:o*}", "key",
					   etcd_b64(out->kv[out->n - 1].key,
						    strlen(out->kv[out->n - 1].key) + 1),
					   "range_end", etcd_prefix_end(r->key)),
			      0, append_page, out, &rev);
	if (rc)
		etcd_kvs_clear(out);
	return rc;
}

int etcd_read_many(struct etcd *e, const struct etcd_read *r, size_t n, struct etcd_kvs *out,
		   int64_t *rev)
{
	json_t *ops = json_array(), *ans = NULL, *resp;
	size_t i;
	int rc = 0;

	if (!ops)
		return -ENOMEM;
	memset(out, 0, n * sizeof(*out));
	for (i = 0; i < n; i++) {
		if (json_array_append_new(ops, etcd_range_op(&r[i], e->page))) {
			json_decref(ops);
			return -ENOMEM;
		}
	}
	/* a Txn without compares: its success ops, all read at one revision (linearizable) */
	if ((rc = etcd_call_req(e, "/v3/kv/txn", json_pack("{s:o}", "success", ops), &ans)))
		return rc;
	if (rev)
		*rev = etcd_num(json_object_get(ans, "header"), "revision");
	resp = json_object_get(ans, "responses");
	for (i = 0; i < n && !rc; i++) {
		rc = etcd_range_resp(json_array_get(resp, i), &out[i]);
		/* a prefix past a page: the rest at the same revision */
		if (!rc)
			rc = etcd_range_rest(e, &r[i], json_array_get(resp, i),
					     etcd_num(json_object_get(ans, "header"), "revision"),
					     &out[i]);
	}
	if (rc)
		for (i = 0; i < n; i++)
			etcd_kvs_clear(&out[i]);
	json_decref(ans);
	return rc;
}
