/* Fewer sequential etcd round trips per request, without weaker reads (issue 17;
 * docs/cluster.md "Latency").
 *
 * A VM's name key (u/vms.name/NAME) is read fresh by every lookup, but the id it held last
 * time is remembered per store (a hint, never an answer): the lookup reads the name key
 * together with that id's rows vms/ID, vm_status/ID and vm_hw/ID in one Txn of range
 * requests (one linearizable read of them at one revision). When the name still holds
 * that id, the rows are kept on the session, and the session's next read of each key is
 * answered from them once (a read made during this request, after its start: it sees every
 * write committed before the request began); any other read of the session drops them, so
 * they answer only the reads that follow the name's at once. When the name now holds
 * another id (deleted and made again, renamed), the rows are dropped and the id is the
 * name's. inv_vm_read_ahead keeps a VM's rows the same way for the reads that render it.
 *
 * A transaction that begins takes the kept rows as its own reads (etcd_txn_seed): those it
 * reads join its compare list with the mod_revision they were read at, so its commit
 * fails, writing nothing, when one of them changed since, as when the transaction had read
 * them itself (one it never reads is not compared: no conflict over a row it ignored).
 * Kept rows go at the session's first write and when it ends. */
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

int64_t ie_hint_get(struct inv_etcd *st, struct ie_hint *table, const char *key)
{
	uint64_t h = hash(key);
	struct ie_hint *e = &table[h % IE_HINTS];
	int64_t id = 0;

	pthread_mutex_lock(&st->hint_mu);
	if (e->hash == h)
		id = e->id;
	pthread_mutex_unlock(&st->hint_mu);
	return id;
}

void ie_hint_set(struct inv_etcd *st, struct ie_hint *table, const char *key, int64_t id)
{
	uint64_t h = hash(key);
	struct ie_hint *e = &table[h % IE_HINTS];

	pthread_mutex_lock(&st->hint_mu);
	e->hash = id ? h : 0;
	e->id = id;
	pthread_mutex_unlock(&st->hint_mu);
}

static void pre_clear(struct ie_pre *p)
{
	free(p->key);
	p->key = NULL;
	etcd_kvs_clear(&p->kvs);
}

void ie_pre_drop(struct dbc *c)
{
	struct inv_etcd_sess *s = ie_sess(c);
	int i;

	for (i = 0; i < IE_PRE; i++)
		pre_clear(&s->pre[i]);
}

/* The kept read of key (prefix: a range), or NULL (then every kept read is dropped: they
 * answer only the reads that follow theirs at once). */
static struct ie_pre *pre_find(struct dbc *c, const char *key, bool prefix)
{
	struct inv_etcd_sess *s = ie_sess(c);
	int i;

	if (s->t)
		return NULL;
	for (i = 0; i < IE_PRE; i++)
		if (s->pre[i].key && s->pre[i].prefix == prefix && !strcmp(s->pre[i].key, key))
			return &s->pre[i];
	ie_pre_drop(c);
	return NULL;
}

bool ie_pre_take(struct dbc *c, const char *key, struct etcd_kv *kv, int *rc)
{
	struct ie_pre *p = pre_find(c, key, false);

	if (!p)
		return false;
	memset(kv, 0, sizeof(*kv));
	*rc = -ENOENT;
	if (p->kvs.n) {
		*kv = p->kvs.kv[0];             /* moved: the caller clears it */
		memset(&p->kvs.kv[0], 0, sizeof(p->kvs.kv[0]));
		*rc = 0;
	}
	pre_clear(p);
	return true;
}

bool ie_pre_take_range(struct dbc *c, const char *prefix, struct etcd_kvs *kvs)
{
	struct ie_pre *p = pre_find(c, prefix, true);

	if (!p)
		return false;
	*kvs = p->kvs;                          /* moved */
	memset(&p->kvs, 0, sizeof(p->kvs));
	pre_clear(p);
	return true;
}

bool ie_pre_kept(struct dbc *c, const char *table, const char *key)
{
	struct inv_etcd_sess *s = ie_sess(c);
	char *k = ie_full_key(c, "t", table, key);
	bool kept = false;
	int i;

	if (!k)
		return false;
	for (i = 0; i < IE_PRE && !kept; i++)
		kept = s->pre[i].key && !s->pre[i].prefix && !strcmp(s->pre[i].key, k);
	free(k);
	return kept;
}

void ie_vm_name_hint(struct dbc *c, const char *name, int64_t id)
{
	struct inv_etcd *st = ie_store(c);
	char *k = ie_full_key(c, "u", "vms.name", name);

	if (!k)
		return;
	ie_hint_set(st, st->hints, k, id);
	free(k);
}

int ie_pre_seed(struct dbc *c)
{
	struct inv_etcd_sess *s = ie_sess(c);
	int i, rc = 0;

	for (i = 0; !rc && i < IE_PRE; i++)
		if (s->pre[i].key && !s->pre[i].prefix)
			rc = etcd_txn_seed(s->t, s->pre[i].key, s->pre[i].kvs.n ?
					   &s->pre[i].kvs.kv[0] : NULL);
	ie_pre_drop(c);
	return rc;
}

int ie_pre_keep(struct dbc *c, const struct etcd_read *r, struct etcd_kvs *kvs, size_t n)
{
	struct inv_etcd_sess *s = ie_sess(c);
	size_t i;
	int rc = 0;

	ie_pre_drop(c);
	for (i = 0; i < n; i++) {
		if (!rc && i < IE_PRE) {
			s->pre[i].key = strdup(r[i].key);
			s->pre[i].prefix = r[i].prefix;
			s->pre[i].kvs = kvs[i];
			memset(&kvs[i], 0, sizeof(kvs[i]));
			if (!s->pre[i].key)
				rc = -ENOMEM;
		}
		etcd_kvs_clear(&kvs[i]);
	}
	if (rc)
		ie_pre_drop(c);
	return rc;
}

int inv_etcd_side_want(struct dbc *c, const char *key)
{
	struct inv_etcd_sess *s = ie_sess(c);

	ie_side_drop(c);
	s->side_key = strdup(key);
	return s->side_key ? 0 : -ENOMEM;
}

int inv_etcd_side_take(struct dbc *c, const char *key, char **value, size_t *len)
{
	struct inv_etcd_sess *s = ie_sess(c);
	int rc = -ENODATA;

	if (s->side_key && s->side_got && !strcmp(s->side_key, key)) {
		rc = -ENOENT;
		if (s->side.n) {
			*value = s->side.kv[0].value;   /* moved */
			*len = s->side.kv[0].value_len;
			s->side.kv[0].value = NULL;
			rc = 0;
		}
	}
	ie_side_drop(c);
	return rc;
}

void ie_side_add(struct dbc *c, struct etcd_read *r, size_t *n)
{
	struct inv_etcd_sess *s = ie_sess(c);

	if (s->side_key && !s->side_got)
		r[(*n)++] = (struct etcd_read){ s->side_key, false };
}

void ie_side_keep(struct dbc *c, struct etcd_kvs *kvs)
{
	struct inv_etcd_sess *s = ie_sess(c);

	etcd_kvs_clear(&s->side);
	s->side = *kvs;
	memset(kvs, 0, sizeof(*kvs));
	s->side_got = true;
}

void ie_side_drop(struct dbc *c)
{
	struct inv_etcd_sess *s = ie_sess(c);

	free(s->side_key);
	s->side_key = NULL;
	s->side_got = false;
	etcd_kvs_clear(&s->side);
}

int inv_etcd_side_want_range(struct dbc *c, const char *prefix)
{
	struct inv_etcd_sess *s = ie_sess(c);
	int i;

	for (i = 0; i < IE_SIDE_RANGES; i++)
		if (s->side_rng[i].prefix && !strcmp(s->side_rng[i].prefix, prefix))
			return 0;
	for (i = 0; i < IE_SIDE_RANGES && s->side_rng[i].prefix; i++)
		;
	if (i == IE_SIDE_RANGES)
		return -E2BIG;
	s->side_rng[i].prefix = strdup(prefix);
	return s->side_rng[i].prefix ? 0 : -ENOMEM;
}

int inv_etcd_side_take_range(struct dbc *c, const char *prefix,
			     int (*fn)(const struct etcd_kv *kv, void *arg), void *arg)
{
	struct inv_etcd_sess *s = ie_sess(c);
	struct ie_side_range *g = NULL;
	size_t i;
	int rc = 0;

	for (i = 0; i < IE_SIDE_RANGES && !g; i++)
		if (s->side_rng[i].prefix && !strcmp(s->side_rng[i].prefix, prefix))
			g = &s->side_rng[i];
	if (!g || !g->got)
		return -ENODATA;
	for (i = 0; !rc && i < g->kvs.n; i++)
		rc = fn(&g->kvs.kv[i], arg);
	/* taken: a later read of them is made anew */
	free(g->prefix);
	etcd_kvs_clear(&g->kvs);
	*g = (struct ie_side_range){ 0 };
	return rc;
}

int inv_etcd_side_put(struct dbc *c, const char *key, const char *value, size_t len)
{
	struct inv_etcd_sess *s = ie_sess(c);

	if (!s->t)
		return -ENOTSUP;
	return etcd_txn_put(s->t, key, value, len, 0);
}

int inv_etcd_side_compare(struct dbc *c, const char *key, int64_t mod_rev)
{
	struct inv_etcd_sess *s = ie_sess(c);

	if (!s->t)
		return -ENOTSUP;
	return etcd_txn_compare(s->t, key, mod_rev);
}

void ie_side_ranges_add(struct dbc *c, struct etcd_read *r, size_t *n)
{
	struct inv_etcd_sess *s = ie_sess(c);
	int i;

	for (i = 0; i < IE_SIDE_RANGES; i++)
		if (s->side_rng[i].prefix && !s->side_rng[i].got)
			r[(*n)++] = (struct etcd_read){ s->side_rng[i].prefix, true };
}

void ie_side_ranges_keep(struct dbc *c, struct etcd_kvs *kvs)
{
	struct inv_etcd_sess *s = ie_sess(c);
	int i, k = 0;

	for (i = 0; i < IE_SIDE_RANGES; i++)
		if (s->side_rng[i].prefix && !s->side_rng[i].got) {
			s->side_rng[i].kvs = kvs[k];
			memset(&kvs[k++], 0, sizeof(kvs[0]));
			s->side_rng[i].got = true;
		}
}

void ie_side_ranges_drop(struct dbc *c)
{
	struct inv_etcd_sess *s = ie_sess(c);
	int i;

	for (i = 0; i < IE_SIDE_RANGES; i++) {
		free(s->side_rng[i].prefix);
		etcd_kvs_clear(&s->side_rng[i].kvs);
		s->side_rng[i] = (struct ie_side_range){ 0 };
	}
}

int ie_vm_name_get(struct dbc *c, const char *key, int64_t *id)
{
	static const char *const tables[] = { "vms", "vm_status", "vm_hw" };
	struct inv_etcd *st = ie_store(c);
	int64_t hint = ie_hint_get(st, st->hints, key);
	char *keys[4] = { (char *)key, NULL, NULL, NULL }, idk[24];
	struct etcd_read r[5] = { { key, false } };
	struct etcd_kvs kvs[5];
	size_t n = 1, side;
	int rc, i;

	if (hint > 0) {
		ie_id_key(hint, idk);
		for (i = 1; i < 4; i++)
			r[i].key = keys[i] = ie_full_key(c, "t", tables[i - 1], idk);
		n = keys[1] && keys[2] && keys[3] ? 4 : 1;
	}
	/* (the side key last: the rows are r[1..n)) */
	side = n;
	ie_side_add(c, r, &side);
	rc = ie_etcd_err(etcd_read_many(st->e, r, side, kvs, NULL), "read", key);
	if (rc)
		goto out;
	if (side > n)
		ie_side_keep(c, &kvs[n]);
	if (!kvs[0].n) {
		rc = -ENOENT;
		ie_hint_set(st, st->hints, key, 0);
	} else {
		*id = strtoll(kvs[0].kv[0].value, NULL, 10);
		ie_hint_set(st, st->hints, key, *id);
	}
	etcd_kvs_clear(&kvs[0]);
	if (!rc && n > 1 && *id == hint) {
		/* kept: an absent row is a kept -ENOENT */
		rc = ie_pre_keep(c, r + 1, kvs + 1, (size_t)n - 1);
	} else {
		ie_pre_drop(c);
		for (i = 1; i < (int)n; i++)
			etcd_kvs_clear(&kvs[i]);
	}
out:
	for (i = 1; i < 4; i++)
		free(keys[i]);
	return rc;
}

/* The reads of VM id's rendering: r[VM_READS] (keys[] malloc'd: free them). 0, -ENOMEM. */
enum { VM_READS = 7 };

static int vm_reads(struct dbc *c, int64_t id, struct etcd_read *r, char **keys)
{
	static const struct { const char *table; bool prefix; } rows[VM_READS] = {
		{ "vms", false }, { "vm_status", false }, { "vm_templates", false },
		{ "vm_disks", true }, { "vm_nics", true }, { "vm_cdroms", true }, { "vm_hw", false },
	};
	char idk[24];
	int i, rc = 0;

	ie_id_key(id, idk);
	for (i = 0; i < VM_READS; i++) {
		if (asprintf(&keys[i], "%st/%s/%s%s", ie_store(c)->prefix, rows[i].table, idk,
			     rows[i].prefix ? "/" : "") < 0) {
			keys[i] = NULL;
			rc = -ENOMEM;
		}
		r[i] = (struct etcd_read){ keys[i], rows[i].prefix };
	}
	return rc;
}

int inv_etcd_vm_read_ahead(struct dbc *c, int64_t id)
{
	struct inv_etcd_sess *s = ie_sess(c);
	struct etcd_read r[VM_READS + 1];
	struct etcd_kvs kvs[VM_READS + 1];
	char *keys[VM_READS] = { NULL };
	size_t n = VM_READS;
	int i, rc;

	/* in a transaction: read with its commit, after its writes */
	if (s->t) {
		s->commit_vm = id;
		return 0;
	}
	rc = vm_reads(c, id, r, keys);
	/* read with the commit just made: kept already */
	if (!rc && s->pre[0].key && s->pre[2].key && !strcmp(s->pre[0].key, keys[0]) &&
	    !strcmp(s->pre[2].key, keys[2]))
		goto out;
	ie_side_add(c, r, &n);
	if (!rc)
		rc = ie_etcd_err(etcd_read_many(ie_store(c)->e, r, n, kvs, NULL), "read",
				 keys[0]);
	if (!rc && n > VM_READS)
		ie_side_keep(c, &kvs[VM_READS]);
	if (!rc)
		rc = ie_pre_keep(c, r, kvs, VM_READS);
out:
	for (i = 0; i < VM_READS; i++)
		free(keys[i]);
	return rc;
}

int inv_etcd_vm_start_read(struct dbc *c, int64_t id)
{
	char idk[24], sub[32];
	/* (every VM's row and status as ranges: the VM's own are in them) */
	const struct ie_read r[] = {
		{ "vms", "", true }, { "vm_status", "", true }, { "vm_hw", idk, false },
		{ "vm_templates", idk, false }, { "vm_disks", sub, true }, { "vm_nics", sub, true },
		{ "vm_cdroms", sub, true }, { "task_running", "", true },
	};

	if (!ie_sess(c)->t)
		return 0;
	ie_id_key(id, idk);
	snprintf(sub, sizeof(sub), "%s/", idk);
	return ie_rows_read(c, r, sizeof(r) / sizeof(r[0]));
}

int ie_pre_commit(struct dbc *c, struct etcd_txn *t)
{
	struct inv_etcd_sess *s = ie_sess(c);
	struct etcd_read r[VM_READS + 1];
	struct etcd_kvs kvs[VM_READS + 1];
	char *keys[VM_READS] = { NULL };
	size_t n = VM_READS;
	bool got = false;
	int i, rc;

	ie_pre_drop(c);
	if (!s->commit_vm)
		return etcd_txn_commit(t, NULL);
	rc = vm_reads(c, s->commit_vm, r, keys);
	s->commit_vm = 0;
	ie_side_add(c, r, &n);
	if (rc) {
		etcd_txn_abort(t);
	} else {
		rc = etcd_txn_commit_read(t, r, n, kvs, &got, NULL);
		if (!rc && got && n > VM_READS)
			ie_side_keep(c, &kvs[VM_READS]);
		if (!rc && got)
			ie_pre_keep(c, r, kvs, VM_READS);  /* (a failure: read again when asked) */
	}
	for (i = 0; i < VM_READS; i++)
		free(keys[i]);
	return rc;
}
