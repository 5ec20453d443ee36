/* The etcd client's batched reads: many keys and prefix counts in a few Txns (etcd.h). */
#include "server/etcd_int.h"

#include <errno.h>
#include <string.h>

/* etcd's default --max-txn-ops: the most requests one Txn may hold */
#define ETCD_TXN_MAX_OPS 128

/* One Txn of the range requests r[0..n) (n at most ETCD_TXN_MAX_OPS). */
static int read_chunk(struct etcd *e, struct etcd_probe *r, size_t n)
{
	json_t *ops = json_array(), *ans = NULL, *resp;
	size_t i;
	int rc = ops ? 0 : -ENOMEM;

	for (i = 0; !rc && i < n; i++) {
		json_t *op = etcd_range_op(&(struct etcd_read){ r[i].key, r[i].prefix }, 0);

		/* a prefix's keys are counted, not read */
		if (op && r[i].prefix && json_object_set_new(json_object_get(op, "request_range"),
							     "count_only", json_true())) {
			json_decref(op);
			op = NULL;
		}
		rc = op && !json_array_append_new(ops, op) ? 0 : -ENOMEM;
	}
	if (rc) {
		json_decref(ops);
		return rc;
	}
	/* a Txn without compares: its success requests, all read at one revision */
	if ((rc = etcd_call_req(e, "/v3/kv/txn", json_pack("{s:o}", "success", ops), &ans)))
		return rc;
	resp = json_object_get(ans, "responses");
	for (i = 0; i < n && !rc; i++) {
		json_t *rr = json_object_get(json_array_get(resp, i), "response_range");
		json_t *kvs = json_object_get(rr, "kvs");

		if (r[i].prefix) {
			r[i].count = etcd_num(rr, "count");     /* absent when 0 */
		} else if (json_array_size(kvs) > 0) {
			rc = etcd_kv_parse(json_array_get(kvs, 0), &r[i].kv);
			r[i].count = !rc;
		}
	}
	json_decref(ans);
	return rc;
}

int etcd_probe_many(struct etcd *e, struct etcd_probe *r, size_t n)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < n; i++) {
		memset(&r[i].kv, 0, sizeof(r[i].kv));
		r[i].count = 0;
	}
	for (i = 0; !rc && i < n; i += ETCD_TXN_MAX_OPS)
		rc = read_chunk(e, r + i, n - i < ETCD_TXN_MAX_OPS ? n - i : ETCD_TXN_MAX_OPS);
	if (rc)
		for (i = 0; i < n; i++)
			etcd_kv_clear(&r[i].kv);
	return rc;
}
