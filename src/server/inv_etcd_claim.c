/* The inventory's claims on etcd: a key PREFIX "t/claims/" WHAT "/" ID (ie_id_key) whose
 * value is {"owner", "ttl", "taken"}, put under a lease of its own of the claim's TTL by a
 * compare-and-swap (created only where no key is), so that etcd itself ends the claim of a
 * server that died holding it. See inv_log.h. */
#include "server/inv_etcd_direct.h"
#include "util/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The claim's key within the claims table (WHAT "/" ID) into buf, or -EINVAL. */
static int claim_key(const char *what, int64_t id, char *buf, size_t n)
{
	char idk[21];

	if (!what || !*what || strchr(what, '/') ||
	    snprintf(buf, n, "%s/%s", what, ie_id_key(id, idk)) >= (int)n)
		return -EINVAL;
	return 0;
}

/* The owner named by a claim's value into holder (n bytes; NULL: none). */
static void owner_of(const struct etcd_kv *kv, char *holder, size_t n)
{
	json_t *row = NULL;

	if (!holder || !n)
		return;
	if (ie_row_parse(kv->key, kv->value, kv->value_len, &row))
		row = NULL;
	snprintf(holder, n, "%s", ie_str(row, "owner") ?: "?");
	json_decref(row);
}

int inv_etcd_claim_take(struct dbc *c, const char *what, int64_t id, const char *owner,
			int ttl_s, char *holder, size_t n)
{
	struct etcd *e = ie_store(c)->e;
	struct etcd_kv kv = { 0 };
	char k[128], *key = NULL, *val = NULL;
	int64_t lease = 0;
	json_t *row;
	int rc = claim_key(what, id, k, sizeof(k));

	if (rc || !owner || !*owner || ttl_s < 1 || ttl_s > 86400)
		return -EINVAL;
	row = json_pack("{s:s,s:i,s:f}", "owner", owner, "ttl", ttl_s, "taken", clock_real());
	val = row ? json_dumps(row, JSON_COMPACT) : NULL;
	json_decref(row);
	key = ied_key(c, "claims", k);
	if (!val || !key) {
		rc = -ENOMEM;
		goto out;
	}
	rc = etcd_lease_grant(e, ttl_s, &lease, NULL);
	if (rc) {
		rc = ied_fail(rc, "claim: lease grant");
		goto out;
	}
	/* only where no key is: a claim that ended went with its lease */
	rc = etcd_cas(e, key, 0, val, strlen(val), lease, NULL, &kv);
	if (rc == -EEXIST || rc == -EAGAIN) {
		owner_of(&kv, holder, n);
		rc = -EBUSY;
	} else if (rc) {
		rc = ied_fail(rc, "claim: put");
	}
	if (rc)
		etcd_lease_revoke(e, lease); /* when it cannot, it ends with its TTL */
	etcd_kv_clear(&kv);
out:
	free(key);
	free(val);
	return rc;
}

int inv_etcd_claim_drop(struct dbc *c, const char *what, int64_t id, const char *owner)
{
	struct etcd *e = ie_store(c)->e;
	struct etcd_kv kv = { 0 };
	char k[128], who[256] = "", *key;
	int rc = claim_key(what, id, k, sizeof(k));

	if (rc)
		return rc;
	key = ied_key(c, "claims", k);
	if (!key)
		return -ENOMEM;
	rc = etcd_get(e, key, &kv);
	if (!rc) {
		owner_of(&kv, who, sizeof(who));
		if (strcmp(who, owner))
			rc = -ENOENT;   /* another's now */
	}
	/* its lease ends it (and is ended with it); one without (none should be) by revision */
	if (!rc && kv.lease)
		rc = etcd_lease_revoke(e, kv.lease);
	else if (!rc)
		rc = etcd_delete_if(e, key, kv.mod_rev);
	if (rc == -EAGAIN)
		rc = -ENOENT;   /* changed meanwhile: no longer this one */
	if (rc && rc != -ENOENT)
		rc = ied_fail(rc, "claim: drop");
	etcd_kv_clear(&kv);
	free(key);
	return rc;
}

int inv_etcd_claim_get(struct dbc *c, const char *what, int64_t id, char *holder, size_t n)
{
	json_t *row = NULL;
	char k[128];
	int rc = claim_key(what, id, k, sizeof(k));

	if (rc)
		return rc;
	/* a row read: in a transaction, it joins its compares */
	rc = ie_row_get(c, "claims", k, &row, NULL);
	if (!rc && holder && n)
		snprintf(holder, n, "%s", ie_str(row, "owner") ?: "?");
	json_decref(row);
	return rc;
}

/* inv_etcd_claim_sweep: the claims of owners beginning with prefix, with their leases. */
struct sweep {
	const char *prefix;
	json_t *found;              /* [[key, lease, rev], ...] */
};

static int sweep_row(const char *key, json_t *row, uint64_t rev, int64_t lease, void *arg)
{
	struct sweep *w = arg;
	const char *owner = ie_str(row, "owner");

	if (!owner || strncmp(owner, w->prefix, strlen(w->prefix)))
		return 0;
	return json_array_append_new(w->found, json_pack("[s,I,I]", key, (json_int_t)lease,
							 (json_int_t)rev)) ? -ENOMEM : 0;
}

int inv_etcd_claim_sweep(struct dbc *c, const char *prefix)
{
	struct sweep w = { .prefix = prefix };
	struct etcd *e = ie_store(c)->e;
	int rc, n = 0;
	json_t *f;
	size_t i;

	if (!prefix || !*prefix)
		return -EINVAL;
	w.found = json_array();
	if (!w.found)
		return -ENOMEM;
	rc = ied_range(c, "claims", "", NULL, 0, sweep_row, &w);
	json_array_foreach(w.found, i, f) {
		int64_t lease = json_integer_value(json_array_get(f, 1));
		char *key;
		int r;

		if (rc)
			break;
		if (lease) {
			r = etcd_lease_revoke(e, lease);
		} else {
			key = ied_key(c, "claims", json_string_value(json_array_get(f, 0)));
			r = key ? etcd_delete_if(e, key, json_integer_value(json_array_get(f, 2))) :
			    -ENOMEM;
			free(key);
		}
		if (!r)
			n++;
		else if (r != -ENOENT && r != -EAGAIN) /* (ended meanwhile) */
			rc = ied_fail(r, "claim: sweep");
	}
	json_decref(w.found);
	return rc ? rc : n;
}
