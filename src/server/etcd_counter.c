/* The etcd client's counters (etcd.h): ids from a counter key raised by compare-and-swap,
 * and the last value and revision this client saw of each, the hint a transaction's
 * etcd_txn_take_ids compares against (etcd_txn.c). */
#include "server/etcd_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool etcd_counter_hint(struct etcd *e, const char *key, int64_t *value, int64_t *rev)
{
	bool found = false;
	int i;

	pthread_mutex_lock(&e->counter_mu);
	for (i = 0; i < ETCD_COUNTERS && !found; i++)
		if (e->counter[i].key && !strcmp(e->counter[i].key, key)) {
			*value = e->counter[i].value;
			*rev = e->counter[i].rev;
			found = true;
		}
	pthread_mutex_unlock(&e->counter_mu);
	return found;
}

void etcd_counter_seen(struct etcd *e, const char *key, int64_t value, int64_t rev)
{
	int i, slot = -1;

	pthread_mutex_lock(&e->counter_mu);
	for (i = 0; i < ETCD_COUNTERS; i++) {
		if (e->counter[i].key && !strcmp(e->counter[i].key, key)) {
			slot = i;
			break;
		}
		if (!e->counter[i].key && slot < 0)
			slot = i;
	}
	if (slot >= 0 && !rev) {
		if (e->counter[slot].key && !strcmp(e->counter[slot].key, key)) {
			free(e->counter[slot].key);
			e->counter[slot].key = NULL;
		}
	} else if (slot >= 0) {
		if (!e->counter[slot].key)
			e->counter[slot].key = strdup(key);
		e->counter[slot].value = value;
		e->counter[slot].rev = rev;
	}
	pthread_mutex_unlock(&e->counter_mu);
}

/* The counter's value as last seen (its hint), else read: 0 and *value, *rev (0, 0: the
 * counter does not exist yet), or -errno. */
static int counter_now(struct etcd *e, const char *key, bool hinted, int64_t *value,
		       int64_t *rev)
{
	struct etcd_kv kv = { 0 };
	int rc;

	if (hinted && etcd_counter_hint(e, key, value, rev))
		return 0;
	rc = etcd_get(e, key, &kv);
	if (rc && rc != -ENOENT)
		return rc;
	*value = rc ? 0 : strtoll(kv.value, NULL, 10);
	*rev = rc ? 0 : kv.mod_rev;
	etcd_kv_clear(&kv);
	return 0;
}

/* The first kv of a Txn's response i, into *kv: true when there is one. */
static bool resp_kv(json_t *ans, size_t i, struct etcd_kv *kv)
{
	json_t *kvs = json_object_get(json_object_get(json_array_get(json_object_get(ans,
				      "responses"), i), "response_range"), "kvs");

	memset(kv, 0, sizeof(*kv));
	if (!json_array_size(kvs) || etcd_kv_parse(json_array_get(kvs, 0), kv)) {
		memset(kv, 0, sizeof(*kv));
		return false;
	}
	return true;
}

/* The compare-and-swap starts from the value this client saw last (no read: one round
 * trip); when another client has taken numbers since, the failed swap's answer has the
 * counter as it is, and the next try starts from that. also (NULL: none) is read in the
 * same Txn, on either branch. */
int etcd_next_id_read(struct etcd *e, const char *key, const char *also, int64_t *id,
		      struct etcd_kv *also_kv, bool *found)
{
	int64_t cur = 0, rev = 0;
	bool hinted = true;
	int tries;

	for (tries = 0; tries < 1000; tries++) {
		struct etcd_kv holder;
		json_t *req, *ans = NULL;
		char buf[32];
		int rc = counter_now(e, key, hinted, &cur, &rev);

		if (rc)
			return rc;
		snprintf(buf, sizeof(buf), "%lld", (long long)(cur + 1));
		req = json_pack("{s:[{s:o*,s:s,s:s,s:o*}],s:[{s:{s:o*,s:o*}}],s:[{s:{s:o*}}]}",
				"compare", "key", etcd_b64s(key), "target", rev ? "MOD" : "CREATE",
				"result", "EQUAL", rev ? "mod_revision" : "create_revision",
				json_sprintf("%lld", (long long)rev),
				"success", "request_put", "key", etcd_b64s(key), "value", etcd_b64s(buf),
				"failure", "request_range", "key", etcd_b64s(key));
		if (req && also &&
		    (json_array_append_new(json_object_get(req, "success"),
					   etcd_range_op(&(struct etcd_read){ also, false }, 0)) ||
		     json_array_append_new(json_object_get(req, "failure"),
					   etcd_range_op(&(struct etcd_read){ also, false }, 0)))) {
			json_decref(req);
			req = NULL;
		}
		if ((rc = etcd_call_req(e, "/v3/kv/txn", req, &ans))) {
			etcd_counter_seen(e, key, 0, 0);
			return rc;
		}
		if (json_is_true(json_object_get(ans, "succeeded"))) {
			etcd_counter_seen(e, key, cur + 1, etcd_num(json_object_get(ans, "header"),
								    "revision"));
			if (also)
				*found = resp_kv(ans, 1, also_kv);
			*id = cur + 1;
			json_decref(ans);
			return 0;
		}
		/* the counter as it is now (gone: read it again) */
		hinted = resp_kv(ans, 0, &holder);
		etcd_counter_seen(e, key, hinted ? strtoll(holder.value, NULL, 10) : 0,
				  hinted ? holder.mod_rev : 0);
		etcd_kv_clear(&holder);
		json_decref(ans);
	}
	return etcd_fail(-EAGAIN, "etcd: counter %s: too many conflicts", key);
}

int etcd_next_id(struct etcd *e, const char *key, int64_t *id)
{
	return etcd_next_id_read(e, key, NULL, id, NULL, NULL);
}
