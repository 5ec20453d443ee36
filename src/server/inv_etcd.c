/* The inventory on etcd: the store, its sessions and their transactions (inv_etcd.h;
 * docs/cluster.md has the key layout). */
#include "server/etcd.h"
#include "server/inv_etcd.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ie_close(struct db *db)
{
	struct inv_etcd *s = (struct inv_etcd *)db;

	etcd_close(s->e);
	pthread_mutex_destroy(&s->hint_mu);
	free(s->prefix);
	free(s);
}

static struct dbc *ie_get(struct db *db)
{
	struct inv_etcd_sess *s = calloc(1, sizeof(*s));

	if (!s) {
		vsrv_log("inventory: etcd: no memory for a session");
		return NULL;
	}
	s->base.ops = db->ops;
	s->base.db = db;
	return &s->base;
}

static void ie_put(struct dbc *c)
{
	struct inv_etcd_sess *s;

	if (!c)
		return;
	s = ie_sess(c);
	ie_pre_drop(c);
	ie_side_drop(c);
	ie_side_ranges_drop(c);
	etcd_txn_abort(s->t);       /* a transaction left open is rolled back */
	s->t = NULL;
	ie_events_unreserve(c, false);
	ie_events_done(c, -EAGAIN);
	free(s);
}

/* The store's revision: every write to etcd raises it, this host's or another's, so a
 * cache read under one value (api_vmlist.c) is stale once another host has written. When
 * etcd cannot be asked, a value never given before (high bit set, from gen), so that no
 * cache is trusted meanwhile. */
static uint64_t ie_generation(struct db *db)
{
	struct inv_etcd *s = (struct inv_etcd *)db;
	int64_t rev = 0;

	if (!etcd_revision(s->e, &rev))
		return (uint64_t)rev;
	return (1ULL << 63) | atomic_fetch_add(&s->gen, 1);
}

static void ie_rollback(struct dbc *c)
{
	struct inv_etcd_sess *s = ie_sess(c);

	etcd_txn_abort(s->t);
	s->t = NULL;
	s->commit_vm = 0;
	ie_side_ranges_drop(c);     /* (a transaction's, as its reads) */
	ie_events_unreserve(c, false);
	ie_events_done(c, -EAGAIN);
}

#define OP(name, params, args) INV_OPS_TABLE_ONE(inv_etcd, name)
const struct inv_ops inv_etcd_ops = {
	.name = "etcd",
	.close = ie_close,
	.get = ie_get,
	.put = ie_put,
	.generation = ie_generation,
	.rollback = ie_rollback,
	INV_OPS(OP)
};
#undef OP

int inv_etcd_open(const char *endpoints, const char *prefix, unsigned timeout_ms,
		  struct db **out)
{
	struct inv_etcd *s;
	struct etcd_kv kv;
	size_t n;
	char *probe = NULL;
	int rc;

	if (!prefix)
		prefix = "/vsrv/inv/";
	n = strlen(prefix);
	if (!n || n > 200 || strchr(prefix, '\n'))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base.ops = &inv_etcd_ops;
	pthread_mutex_init(&s->hint_mu, NULL);
	/* every key is PREFIX "t/", "u/" or "id/": the prefix ends with a slash */
	if (asprintf(&s->prefix, "%s%s", prefix, prefix[n - 1] == '/' ? "" : "/") < 0) {
		s->prefix = NULL;
		rc = -ENOMEM;
		goto err_free;
	}
	rc = etcd_open(endpoints, timeout_ms, &s->e);
	if (rc)
		goto err_free;
	/* reachable: one read (of a key that need not exist) */
	if (asprintf(&probe, "%sid/", s->prefix) < 0) {
		rc = -ENOMEM;
		goto err_close;
	}
	rc = etcd_get(s->e, probe, &kv);
	if (!rc)
		etcd_kv_clear(&kv);
	if (rc == -ENOENT)
		rc = 0;
	if (rc) {
		vsrv_log("inventory: %s", etcd_errmsg());
		goto err_close;
	}
	free(probe);
	/* an inventory from before quotas: its owners from the grants, once */
	{
		struct dbc *c = inv_get(&s->base);

		if (!c || ie_owners_backfill(c))
			vsrv_log("inventory: the owners of objects from before quotas were not all "
				 "recorded (again at the next start)");
		if (!c || ie_born_backfill(c))
			vsrv_log("inventory: the newest creation event of each object name was not "
				 "all read from the events' history (again at the next start)");
		if (c)
			inv_put(c);
	}
	*out = &s->base;
	return 0;
err_close:
	free(probe);
	etcd_close(s->e);
err_free:
	free(s->prefix);
	free(s);
	return rc;
}

int inv_etcd_begin(struct dbc *c)
{
	struct inv_etcd_sess *s = ie_sess(c);
	int rc;

	if (s->t) {
		vsrv_log("inventory: etcd: a transaction is already open on this session");
		return -EIO;
	}
	s->commit_vm = 0;
	rc = etcd_txn_begin(ie_store(c)->e, &s->t);
	if (!rc)
		rc = ie_pre_seed(c);
	return rc;
}

int inv_etcd_commit(struct dbc *c)
{
	struct inv_etcd_sess *s = ie_sess(c);
	struct etcd_txn *t = s->t;
	int rc;

	if (!t) {
		vsrv_log("inventory: etcd: commit without a transaction");
		return -EIO;
	}
	s->t = NULL;
	ie_side_ranges_drop(c);
	rc = ie_events_commit(c, t);
	if (rc)
		etcd_txn_abort(t);
	else
		rc = ie_etcd_err(ie_pre_commit(c, t), "commit", ie_store(c)->prefix);
	ie_events_unreserve(c, rc != -EAGAIN);      /* refused: nothing of it was written */
	ie_events_done(c, rc);
	if (!rc)
		atomic_fetch_add(&ie_store(c)->gen, 1);
	return rc;
}
