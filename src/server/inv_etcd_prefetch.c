/* Fewer sequential etcd round trips per request, without weaker reads (issue 17;
 * docs/cluster.md "Latency").
 *
 * A VM's name key (u/vms.name/NAME) is read fresh by every lookup, but the id it held last
 * time is remembered per store (a hint, never an answer): the lookup reads the name key
 * together with that id's rows vms/ID and vm_status/ID in one Txn of range requests (one
 * linearizable read of the three at one revision). When the name still holds that id,
 * the two rows are kept on the session, and the session's next read of either key is
 * answered from them once (a read made during this request, after its start: it sees
 * every write committed before the request began); any other read of the session drops
 * them, so they answer only the reads that follow the name's at once. When the name now
 * holds another id
 * (deleted and made again, renamed), the rows are dropped and the id is the name's.
 * Kept rows go at the session's first write or transaction, and when it ends. */
#include "server/etcd.h"
#include "server/inv_etcd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The hint table: name key's hash -> id (a wrong hint costs a few bytes, never a read). */
static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int64_t hint_get(struct inv_etcd *st, const char *key)
{
	uint64_t h = hash(key);
	struct ie_hint *e = &st->hints[h % IE_HINTS];
	int64_t id = 0;

	pthread_mutex_lock(&st->hint_mu);
	if (e->hash == h)
		id = e->id;
	pthread_mutex_unlock(&st->hint_mu);
	return id;
}

static void hint_set(struct inv_etcd *st, const char *key, int64_t id)
{
	uint64_t h = hash(key);
	struct ie_hint *e = &st->hints[h % IE_HINTS];

	pthread_mutex_lock(&st->hint_mu);
	e->hash = id ? h : 0;
	e->id = id;
	pthread_mutex_unlock(&st->hint_mu);
}

void ie_pre_drop(struct dbc *c)
{
	struct inv_etcd_sess *s = ie_sess(c);
	int i;

	for (i = 0; i < IE_PRE; i++) {
		free(s->pre_key[i]);
		s->pre_key[i] = NULL;
		etcd_kv_clear(&s->pre[i]);
	}
}

bool ie_pre_take(struct dbc *c, const char *key, struct etcd_kv *kv, int *rc)
{
	struct inv_etcd_sess *s = ie_sess(c);
	int i;

	if (s->t)
		return false;
	for (i = 0; i < IE_PRE; i++) {
		if (!s->pre_key[i] || strcmp(s->pre_key[i], key))
			continue;
		free(s->pre_key[i]);
		s->pre_key[i] = NULL;
		*kv = s->pre[i];                /* moved: the caller clears it */
		memset(&s->pre[i], 0, sizeof(s->pre[i]));
		*rc = kv->key ? 0 : -ENOENT;
		if (*rc)
			etcd_kv_clear(kv);
		return true;
	}
	ie_pre_drop(c);     /* kept only for the reads that follow the name's at once */
	return false;
}

int ie_vm_name_get(struct dbc *c, const char *key, int64_t *id)
{
	struct inv_etcd *st = ie_store(c);
	struct inv_etcd_sess *s = ie_sess(c);
	int64_t hint = hint_get(st, key);
	char *keys[3] = { (char *)key, NULL, NULL }, idk[24];
	struct etcd_kv kv[3];
	bool found[3];
	int rc, i, n = 1;

	if (hint > 0) {
		ie_id_key(hint, idk);
		if (asprintf(&keys[1], "%st/vms/%s", st->prefix, idk) < 0)
			keys[1] = NULL;
		if (asprintf(&keys[2], "%st/vm_status/%s", st->prefix, idk) < 0)
			keys[2] = NULL;
		n = keys[1] && keys[2] ? 3 : 1;
	}
	rc = ie_etcd_err(etcd_get_many(st->e, (const char *const *)keys, n, kv, found),
			 "read", key);
	if (rc)
		goto out;
	if (!found[0]) {
		rc = -ENOENT;
		hint_set(st, key, 0);
	} else {
		*id = strtoll(kv[0].value, NULL, 10);
		hint_set(st, key, *id);
	}
	etcd_kv_clear(&kv[0]);
	ie_pre_drop(c);
	for (i = 1; i < n; i++) {
		if (!rc && *id == hint) {
			s->pre_key[i - 1] = keys[i];    /* kv[i] zeroed when absent: a kept -ENOENT */
			s->pre[i - 1] = kv[i];
			keys[i] = NULL;
		} else {
			etcd_kv_clear(&kv[i]);
		}
	}
out:
	free(keys[1]);
	free(keys[2]);
	return rc;
}
