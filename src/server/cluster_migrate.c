/* The cluster's side of a live migration (cluster.h, docs/cluster.md "Live migration"): the
 * address a destination listens on, and the hand-over of a VM's ownership key and placement
 * to the destination in one etcd Txn. */
#include "server/cluster_int.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *cluster_address(const struct cluster *cl)
{
	return cl->address;
}

/* The lease of host's alive key (its registration while it lives), and the key's revision. */
static int alive_lease(struct etcd_txn *t, const char *host, int64_t *lease)
{
	struct etcd_kv kv = { 0 };
	char key[160];
	int rc;

	if (!*host || strchr(host, '/') ||
	    snprintf(key, sizeof(key), "%s%s/alive", CLUSTER_HOSTS, host) >= (int)sizeof(key))
		return -EINVAL;
	rc = etcd_txn_get(t, key, &kv);    /* joins the compares: the host still lives */
	if (rc == -ENOENT)
		return -EHOSTDOWN;
	if (!rc && !kv.lease)
		rc = -EHOSTDOWN;
	if (!rc)
		*lease = kv.lease;
	etcd_kv_clear(&kv);
	return rc;
}

static int move_once(struct cluster *cl, const char *vm, const char *to)
{
	struct etcd_txn *t = NULL;
	struct etcd_kv kv = { 0 };
	char key[160], pkey[160], hex[32], *owner = NULL, *place = NULL;
	int64_t mine, theirs = 0;
	const char *host;
	json_t *val;
	bool fenced;
	int rc;

	if (!*vm || strchr(vm, '/') ||
	    snprintf(key, sizeof(key), "%s%s/owner", CLUSTER_VMS, vm) >= (int)sizeof(key) ||
	    snprintf(pkey, sizeof(pkey), "%s%s/placement", CLUSTER_VMS, vm) >= (int)sizeof(pkey))
		return -EINVAL;
	pthread_mutex_lock(&cl->lock);
	mine = cl->lease;
	fenced = cl->fenced || cl->expired;
	pthread_mutex_unlock(&cl->lock);
	if (fenced || !mine)
		return -ENOLINK;
	rc = etcd_txn_begin(cl->etcd, &t);
	if (rc)
		return rc;
	/* the owner key is still this host's, under its lease (read: compared at the commit) */
	rc = etcd_txn_get(t, key, &kv);
	if (rc == -ENOENT)
		rc = -ENOLINK;
	if (!rc) {
		val = json_loadb(kv.value, kv.value_len, 0, NULL);
		host = json_string_value(json_object_get(val, "host"));
		if (kv.lease != mine || !host || strcmp(host, cl->name))
			rc = -EADDRINUSE;
		json_decref(val);
	}
	etcd_kv_clear(&kv);
	if (!rc)
		rc = alive_lease(t, to, &theirs);
	if (rc)
		goto err;
	snprintf(hex, sizeof(hex), "%llx", (long long)theirs);
	val = json_pack("{s:s,s:s}", "host", to, "lease", hex);
	owner = val ? json_dumps(val, JSON_COMPACT) : NULL;
	json_decref(val);
	val = json_pack("{s:s,s:s,s:s,s:I,s:s}", "host", to, "lease", hex, "intent", "running",
			"since", (json_int_t)time(NULL), "inventory", cl->inventory);
	place = val ? json_dumps(val, JSON_COMPACT) : NULL;
	json_decref(val);
	rc = owner && place ? 0 : -ENOMEM;
	/* bound to the destination's lease: it goes if the destination dies, as its own
	 * claims do; the placement has none (failover reads it once its host is gone) */
	if (!rc)
		rc = etcd_txn_put(t, key, owner, strlen(owner), theirs);
	if (!rc)
		rc = etcd_txn_put(t, pkey, place, strlen(place), 0);
	free(owner);
	free(place);
	if (rc)
		goto err;
	rc = etcd_txn_commit(t, NULL);
	if (rc && rc != -EAGAIN)
		vsrv_log("cluster: vm %s: cannot move its ownership key to host %s: %s", vm, to,
			 etcd_errmsg());
	return rc;
err:
	etcd_txn_abort(t);
	return rc;
}

int cluster_vm_move(struct cluster *cl, const char *vm, const char *to)
{
	int rc, tries;

	/* a write meanwhile to a key read (the destination's alive key carries its free
	 * memory, rewritten as that changes) fails the Txn: read again and retry */
	for (tries = 0; (rc = move_once(cl, vm, to)) == -EAGAIN && tries < 10; tries++)
		;
	return rc;
}
