/* Failover (cluster.h, docs/cluster.md "Failover"): the VMs' placement keys, which record
 * where each VM was started and whether it is meant to run, and the thread that restarts on
 * a surviving host the VMs a dead host was meant to run. */
#include "server/cluster_int.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int placement_key(const char *vm, char *key, size_t n)
{
	if (!*vm || strchr(vm, '/'))
		return -EINVAL;
	return snprintf(key, n, "%s%s/placement", CLUSTER_VMS, vm) >= (int)n ? -ENAMETOOLONG : 0;
}

/* {"host","lease","intent","since","inventory"} as compact JSON text (free it), NULL without memory. */
static char *placement_text(const char *host, const char *lease, const char *intent,
			    const char *inventory)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:s}", "host", host, "lease", lease, "intent",
			      intent, "since", (json_int_t)time(NULL), "inventory", inventory);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

int cluster_vm_placement(struct cluster *cl, const char *vm, char *key, size_t n,
			 char **text)
{
	char lease_hex[32];
	int64_t lease;
	bool fenced;
	int rc = placement_key(vm, key, n);

	if (rc)
		return rc;
	fenced = cluster_lease_now(cl, &lease);
	if (fenced || !lease)
		return -ENOLINK;
	snprintf(lease_hex, sizeof(lease_hex), "%llx", (long long)lease);
	*text = placement_text(cl->name, lease_hex, "running", cl->inventory);
	return *text ? 0 : -ENOMEM;
}

int cluster_vm_place(struct cluster *cl, const char *vm)
{
	char key[160], *text;
	int rc = cluster_vm_placement(cl, vm, key, sizeof(key), &text);

	if (rc)
		return rc;
	/* no lease: the record outlives its host, that is its point */
	rc = etcd_put(cl->etcd, key, text, strlen(text), 0, NULL);
	free(text);
	if (rc)
		vsrv_log("cluster: vm %s: cannot record its placement on %s (no failover for it "
			 "until its next start): %s", vm, cl->name, etcd_errmsg());
	return rc;
}

/* cluster_vm_unplace of the placement key; first (when not NULL): the key as read already
 * (first_rc 0, or -ENOENT: absent), for the first try. */
static int unplace(struct cluster *cl, const char *key, struct etcd_kv *first, int first_rc,
		   bool *was_running)
{
	int rc = 0, tries;

	/* compare-and-swap on the revision read: a placement written meanwhile (a start
	 * elsewhere) is read again */
	for (tries = 0; tries < 5; tries++) {
		struct etcd_kv kv = { 0 };
		json_t *val;
		const char *intent, *host, *lease;
		char *text;

		if (first && !tries) {
			rc = first_rc;
			kv = *first;
			memset(first, 0, sizeof(*first));
		} else {
			rc = etcd_get(cl->etcd, key, &kv);
		}
		if (rc == -ENOENT)
			return 0;
		if (rc)
			return rc;
		val = json_loadb(kv.value, kv.value_len, 0, NULL);
		intent = json_string_value(json_object_get(val, "intent"));
		host = json_string_value(json_object_get(val, "host"));
		lease = json_string_value(json_object_get(val, "lease"));
		if (!intent || strcmp(intent, "running")) {
			json_decref(val);
			etcd_kv_clear(&kv);
			return 0;
		}
		*was_running = true;
		text = placement_text(host ? host : "", lease ? lease : "", "stopped",
				      json_string_value(json_object_get(val, "inventory")) ?: "");
		json_decref(val);
		rc = text ? etcd_cas(cl->etcd, key, kv.mod_rev, text, strlen(text), 0, NULL, NULL) :
			    -ENOMEM;
		free(text);
		etcd_kv_clear(&kv);
		if (rc != -EAGAIN)
			return rc;
	}
	return rc;
}

int cluster_vm_unplace(struct cluster *cl, const char *vm, bool *was_running)
{
	char key[160];
	int rc = placement_key(vm, key, sizeof(key));

	*was_running = false;
	return rc ? rc : unplace(cl, key, NULL, 0, was_running);
}

int cluster_vm_unplace_mine(struct cluster *cl, const char *vm, bool *was_running)
{
	char key[160], okey[160];
	const char *keys[2] = { key, okey };
	struct etcd_kv kv[2];
	bool found[2];
	int rc = placement_key(vm, key, sizeof(key));

	*was_running = false;
	if (!rc && snprintf(okey, sizeof(okey), "%s%s/owner", CLUSTER_VMS, vm) >=
		   (int)sizeof(okey))
		rc = -ENAMETOOLONG;
	if (rc)
		return rc;
	/* the owner and the placement in one round trip (one revision) */
	if (etcd_get_many(cl->etcd, keys, 2, kv, found))
		return unplace(cl, key, NULL, 0, was_running);
	if (found[1]) {
		json_t *val = json_loadb(kv[1].value, kv[1].value_len, 0, NULL);
		const char *host = json_string_value(json_object_get(val, "host"));

		/* the host that runs it is the one to stop it */
		rc = strcmp(host ? host : "?", cl->name) ? -EADDRINUSE : 0;
		json_decref(val);
		etcd_kv_clear(&kv[1]);
		if (rc) {
			etcd_kv_clear(&kv[0]);
			return rc;
		}
	}
	return unplace(cl, key, &kv[0], found[0] ? 0 : -ENOENT, was_running);
}

/* /vsrv/vms/NAME/owner into the object arg: NAME -> host */
static int add_owner(const struct etcd_kv *kv, void *arg)
{
	const char *rest = kv->key + strlen(CLUSTER_VMS), *slash = strchr(rest, '/');
	json_t *val;
	const char *host;
	char name[128];

	if (!slash || strcmp(slash + 1, "owner") || (size_t)(slash - rest) >= sizeof(name))
		return 0;
	snprintf(name, sizeof(name), "%.*s", (int)(slash - rest), rest);
	val = json_loadb(kv->value, kv->value_len, 0, NULL);
	host = json_string_value(json_object_get(val, "host"));
	if (host)
		json_object_set_new(arg, name, json_string(host));
	json_decref(val);
	return 0;
}

int cluster_vm_owners(struct cluster *cl, json_t **out, int64_t *rev)
{
	json_t *o = json_object();
	int rc;

	if (!o)
		return -ENOMEM;
	rc = etcd_range(cl->etcd, CLUSTER_VMS, add_owner, o, rev);
	if (rc) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

int cluster_vm_owners_in(struct cluster *cl, cluster_read_fn *read, void *arg, json_t **out)
{
	json_t *o = json_object();
	int rc;

	if (!o)
		return -ENOMEM;
	rc = read ? read(arg, CLUSTER_VMS, add_owner, o) : -ENODATA;
	if (rc == -ENODATA) {
		json_object_clear(o);
		rc = etcd_range(cl->etcd, CLUSTER_VMS, add_owner, o, NULL);
	}
	if (rc) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

/* --- the failover thread ------------------------------------------------------------------ */

#define FO_MAX_HOSTS 64

/* One round's view: the alive hosts, and per VM its owner and placement. */
struct fo_view {
	struct cluster_fo_host hosts[FO_MAX_HOSTS];
	char leases[FO_MAX_HOSTS][32];
	size_t nhosts;
	const char *inventory;      /* the hosts of this inventory only (cl->inventory) */
	json_t *vms;                /* NAME -> {"owner": bool, "placement": {...}, "rev": n} */
};

static int add_alive(const struct etcd_kv *kv, void *arg)
{
	struct fo_view *v = arg;
	const char *rest = kv->key + strlen(CLUSTER_HOSTS), *slash = strchr(rest, '/');
	json_t *val;

	if (!slash || strcmp(slash + 1, "alive") || v->nhosts == FO_MAX_HOSTS ||
	    (size_t)(slash - rest) >= sizeof(v->hosts[0].name))
		return 0;
	val = json_loadb(kv->value, kv->value_len, 0, NULL);
	/* only the hosts of this host's inventory can run its VMs */
	if (strcmp(json_string_value(json_object_get(val, "inventory")) ?: "", v->inventory)) {
		json_decref(val);
		return 0;
	}
	snprintf(v->hosts[v->nhosts].name, sizeof(v->hosts[0].name), "%.*s", (int)(slash - rest),
		 rest);
	cluster_fo_host_read(&v->hosts[v->nhosts], val);
	snprintf(v->leases[v->nhosts], sizeof(v->leases[0]), "%s",
		 json_string_value(json_object_get(val, "lease")) ?: "");
	v->nhosts++;
	json_decref(val);
	return 0;
}

static int add_vm_key(const struct etcd_kv *kv, void *arg)
{
	struct fo_view *v = arg;
	const char *rest = kv->key + strlen(CLUSTER_VMS), *slash = strchr(rest, '/');
	char name[128];
	json_t *o;

	if (!slash || (size_t)(slash - rest) >= sizeof(name))
		return 0;
	snprintf(name, sizeof(name), "%.*s", (int)(slash - rest), rest);
	o = json_object_get(v->vms, name);
	if (!o) {
		o = json_object();
		if (!o || json_object_set_new(v->vms, name, o))
			return -ENOMEM;
	}
	if (!strcmp(slash + 1, "owner")) {
		json_object_set_new(o, "owner", json_true());
	} else if (!strcmp(slash + 1, "placement")) {
		json_object_set_new(o, "placement", json_loadb(kv->value, kv->value_len, 0, NULL));
		json_object_set_new(o, "rev", json_integer(kv->mod_rev));
	}
	return 0;
}

/* The alive host named name's index in v, or -1. */
static int alive_index(const struct fo_view *v, const char *name)
{
	for (size_t i = 0; i < v->nhosts; i++)
		if (!strcmp(v->hosts[i].name, name))
			return (int)i;
	return -1;
}

int cluster_alive_hosts(struct cluster *cl, struct cluster_fo_host *h, size_t max, size_t *n)
{
	return cluster_alive_hosts_in(cl, NULL, NULL, h, max, n);
}

int cluster_alive_hosts_in(struct cluster *cl, cluster_read_fn *read, void *arg,
			   struct cluster_fo_host *h, size_t max, size_t *n)
{
	struct fo_view v = { .inventory = cl->inventory };
	int rc = read ? read(arg, CLUSTER_HOSTS, add_alive, &v) : -ENODATA;

	if (rc == -ENODATA) {
		cluster_fo_hosts_clear(v.hosts, v.nhosts);
		v.nhosts = 0;
		rc = etcd_range(cl->etcd, CLUSTER_HOSTS, add_alive, &v, NULL);
	}
	if (rc) {
		cluster_fo_hosts_clear(v.hosts, v.nhosts);
		return rc;
	}
	*n = v.nhosts < max ? v.nhosts : max;
	memcpy(h, v.hosts, *n * sizeof(*h));
	cluster_fo_hosts_clear(v.hosts + *n, v.nhosts - *n);
	return 0;
}

int cluster_host_api_url(struct cluster *cl, const char *host, char *url, size_t n)
{
	struct etcd_kv kv = { 0 };
	char key[160];
	json_t *info;
	const char *u;
	int rc;

	if (!*host || strchr(host, '/') || strlen(host) > 63)
		return -ENOENT;
	snprintf(key, sizeof(key), "%s%s/info", CLUSTER_HOSTS, host);
	rc = etcd_get(cl->etcd, key, &kv);
	if (rc)
		return rc;
	info = json_loadb(kv.value, kv.value_len, 0, NULL);
	u = json_string_value(json_object_get(info, "api_url"));
	rc = u && snprintf(url, n, "%s", u) < (int)n ? 0 : -EIO;
	json_decref(info);
	etcd_kv_clear(&kv);
	if (rc)
		return rc;
	snprintf(key, sizeof(key), "%s%s/alive", CLUSTER_HOSTS, host);
	rc = etcd_get(cl->etcd, key, &kv);
	etcd_kv_clear(&kv);
	return rc == -ENOENT ? -EHOSTDOWN : rc;
}

/* One VM whose host is gone: decide, and act when this host is the one. seen: NAME ->
 * {"rev" (its placement's), "since" (ms this host first saw it orphaned), "tried" (this
 * host took it), "cleaned" (this host had its end recorded)}. */
static void fo_vm(struct cluster *cl, struct fo_view *v, const char *vm, json_t *pl,
		  int64_t rev, json_t *seen)
{
	const char *from = json_string_value(json_object_get(pl, "host")) ?: "?";
	bool meant = !strcmp(json_string_value(json_object_get(pl, "intent")) ?: "", "running");
	struct cluster_fo_host h[FO_MAX_HOSTS];
	struct cluster_need need = { 0 }, none = { 0 };
	json_t *s = json_object_get(seen, vm);
	int64_t now = cluster_now_ms(), bound = (int64_t)cl->cfg.ttl * 1000;
	char why[1024] = "";
	size_t fit, i;
	bool moving;
	int rank = -1, rc;

	if (s && json_is_true(json_object_get(s, "tried")) &&
	    json_integer_value(json_object_get(s, "rev")) == rev)
		return;
	/* a VM not meant to run is not moved; its end may still need recording */
	rc = meant ? cl->cfg.vm_need(cl->cfg.arg, vm, &need) : 0;
	if (rc > 0) {
		/* (h borrows the view's references) */
		memcpy(h, v->hosts, v->nhosts * sizeof(h[0]));
		fit = cluster_failover_order(h, v->nhosts, &need, why, sizeof(why));
	} else {
		fit = 0;
	}
	moving = rc > 0 && fit;
	if (!s || json_integer_value(json_object_get(s, "rev")) != rev) {
		/* first seen orphaned (this placement): said once */
		s = json_pack("{s:I,s:I,s:b}", "rev", (json_int_t)rev, "since", (json_int_t)now,
			      "tried", 0);
		if (!s || json_object_set_new(seen, vm, s))
			return;
		if (!meant)
			;       /* stopped by its user: nothing to say */
		else if (rc > 0 && fit)
			vsrv_log("cluster: failover: vm %s was placed on host %s, whose lease is gone: "
				 "to be restarted on host %s (%lld MiB free of the %lld it needs)", vm,
				 from, h[0].name, (long long)h[0].free_mib, (long long)need.mib);
		else if (rc > 0)
			vsrv_log("cluster: failover: vm %s was placed on host %s, whose lease is gone: "
				 "no surviving host can run it (%s): left alone", vm, from, why);
		else
			vsrv_log("cluster: failover: vm %s was placed on host %s, whose lease is gone: "
				 "%s: left alone", vm, from, rc == 0 ?
				 "its restart policy does not restart it (or it is deleted)" :
				 "it cannot be read from the inventory");
	}
	if (rc < 0)
		return;
	if (!moving) {
		/* not moved: its end on the dead host is still to be recorded (its state there
		 * stays up otherwise), once, by the first of every alive host in the same order */
		if (json_is_true(json_object_get(s, "cleaned")))
			return;
		memcpy(h, v->hosts, v->nhosts * sizeof(h[0]));
		fit = cluster_failover_order(h, v->nhosts, &none, NULL, 0);
	}
	for (i = 0; i < fit; i++)
		if (!strcmp(h[i].name, cl->name))
			rank = (int)i;
	/* what the first choice takes, the next VMs of this round cannot count on */
	if (moving && need.mib) {
		int k = alive_index(v, h[0].name);

		if (k >= 0)
			v->hosts[k].free_mib -= need.mib;
	}
	if (rank < 0)
		return;
	/* the first choice acts at once; the next one only when the first has not claimed the
	 * VM within T (it is dead too, or refused), and so on */
	if (now - json_integer_value(json_object_get(s, "since")) < rank * bound)
		return;
	if (!moving) {
		json_object_set_new(s, "cleaned", json_true());
		cl->cfg.vm_take(cl->cfg.arg, vm, from, false, meant);
		return;
	}
	json_object_set_new(s, "tried", json_true());
	vsrv_log("cluster: failover: vm %s (%lld MiB) of host %s: this host is choice %d of %zu "
		 "(the placement rule: most free memory that fits, ties by name): taking it", vm,
		 (long long)need.mib, from,
		 rank + 1, fit);
	cl->cfg.vm_take(cl->cfg.arg, vm, from, true, true);
}

/* One round; *rev: etcd's revision at its read of the VMs' keys (0: not read). */
static void fo_round(struct cluster *cl, json_t *seen, int64_t *rev)
{
	struct fo_view v = { .vms = json_object(), .inventory = cl->inventory };
	const char *vm;
	json_t *o, *keep = json_object();
	int rc;

	if (!v.vms || !keep)
		goto out;
	/* the hosts first: a VM placed on a host that registered after this read is not
	 * judged against a stale list of the living */
	rc = etcd_range(cl->etcd, CLUSTER_HOSTS, add_alive, &v, NULL);
	if (!rc)
		rc = etcd_range(cl->etcd, CLUSTER_VMS, add_vm_key, &v, rev);
	if (rc)
		goto out;
	json_object_foreach(v.vms, vm, o) {
		json_t *pl = json_object_get(o, "placement");
		const char *host = json_string_value(json_object_get(pl, "host"));
		const char *lease = json_string_value(json_object_get(pl, "lease"));
		const char *intent = json_string_value(json_object_get(pl, "intent"));

		const char *inv = json_string_value(json_object_get(pl, "inventory"));
		int k;

		/* held by no host, of this host's inventory (several inventories may share one
		 * etcd: their VMs are not this host's to judge); meant to run or not (the end of
		 * one that is not is still to be recorded) */
		if (!host || !lease || !intent || json_is_true(json_object_get(o, "owner")) ||
		    !inv || strcmp(inv, cl->inventory))
			continue;
		/* its host lives under the lease it was placed with: not orphaned */
		k = alive_index(&v, host);
		if (k >= 0 && !strcmp(v.leases[k], lease))
			continue;
		fo_vm(cl, &v, vm, pl, json_integer_value(json_object_get(o, "rev")), seen);
		if (json_object_get(seen, vm))
			json_object_set(keep, vm, json_object_get(seen, vm));
	}
	/* forget the VMs that are not orphaned any more */
	json_object_clear(seen);
	json_object_update(seen, keep);
out:
	json_decref(keep);
	json_decref(v.vms);
	cluster_fo_hosts_clear(v.hosts, v.nhosts);
}

void *cluster_failover_thread(void *arg)
{
	struct cluster *cl = arg;
	json_t *seen = json_object();
	int64_t next = cluster_now_ms() + cl->renew_ms;

	pthread_mutex_lock(&cl->lock);
	while (!cl->stop) {
		bool ok;

		while (!cl->stop && cluster_now_ms() < next)
			cluster_wait_until(cl, next);
		if (cl->stop)
			break;
		ok = !cl->fenced && !cl->expired && cl->lease;
		pthread_mutex_unlock(&cl->lock);
		next = cluster_now_ms() + cl->renew_ms;
		if (ok) {
			int64_t rev = 0;

			if (seen)
				fo_round(cl, seen, &rev);
			/* (the round's revision saves the facts a read of their own) */
			cluster_refresh_facts(cl, rev);
		}
		pthread_mutex_lock(&cl->lock);
	}
	pthread_mutex_unlock(&cl->lock);
	json_decref(seen);
	return NULL;
}
