/* The cluster's view of hosts (GET /api/v1/hosts) and the VMs' ownership keys (cluster.h). */
#include "server/cluster_int.h"
#include "server/hostkvm.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hosts {
	json_t *by_name;            /* name -> host object */
	size_t plen;
};

/* The host object of name, made when missing. Borrowed. */
static json_t *host_of(struct hosts *h, const char *name)
{
	json_t *o = json_object_get(h->by_name, name);

	if (!o) {
		o = json_pack("{s:s,s:b,s:[]}", "name", name, "alive", 0, "vms");
		if (!o || json_object_set_new(h->by_name, name, o))
			return NULL;
	}
	return o;
}

/* /vsrv/hosts/NAME/info and /vsrv/hosts/NAME/alive */
static int add_host_key(const struct etcd_kv *kv, void *arg)
{
	struct hosts *h = arg;
	char name[64];
	const char *rest = kv->key + h->plen, *slash = strchr(rest, '/');
	json_t *o, *val;

	if (!slash || (size_t)(slash - rest) >= sizeof(name))
		return 0;
	snprintf(name, sizeof(name), "%.*s", (int)(slash - rest), rest);
	val = json_loadb(kv->value, kv->value_len, 0, NULL);
	o = host_of(h, name);
	if (o && json_is_object(val)) {
		if (!strcmp(slash + 1, "info")) {
			json_object_update_missing(o, val);     /* alive's cpus first */
			json_object_del(o, "peer_key");   /* the hosts' own (cluster_peer.c) */
		} else if (!strcmp(slash + 1, "alive")) {
			json_object_set_new(o, "alive", json_true());
			json_object_set(o, "since", json_object_get(val, "since"));
			json_object_set(o, "free_memory_mib", json_object_get(val, "free_memory_mib"));
			if (json_is_true(json_object_get(val, "draining")))
				json_object_set_new(o, "draining", json_true());
			else if (!json_object_get(o, "draining"))
				json_object_set_new(o, "draining", json_false());
			/* what the placement rule reads (docs/cluster.md "Placement") */
			if (json_integer_value(json_object_get(val, "cpus")) > 0)
				json_object_set(o, "cpus", json_object_get(val, "cpus"));
			if (json_is_array(json_object_get(val, "bridges")))
				json_object_set(o, "bridges", json_object_get(val, "bridges"));
			/* whether VMs can run there (an older vsrv does not say) */
			if (json_is_boolean(json_object_get(val, "kvm")))
				json_object_set(o, "kvm", json_object_get(val, "kvm"));
			if (json_is_array(json_object_get(val, "missing_disks")))
				json_object_set(o, "missing_disks",
						json_object_get(val, "missing_disks"));
		} else if (!strcmp(slash + 1, "draining")) {
			/* the lasting mark (a dead host's too) */
			json_object_set_new(o, "draining", json_true());
		}
	}
	json_decref(val);
	return o ? 0 : -ENOMEM;
}

/* /vsrv/vms/NAME/owner: the VM in its host's list */
static int add_owner_key(const struct etcd_kv *kv, void *arg)
{
	struct hosts *h = arg;
	const char *rest = kv->key + strlen(CLUSTER_VMS), *slash = strchr(rest, '/');
	json_t *val, *o;
	const char *host;
	int rc = 0;

	if (!slash || strcmp(slash + 1, "owner"))
		return 0;
	val = json_loadb(kv->value, kv->value_len, 0, NULL);
	host = json_string_value(json_object_get(val, "host"));
	if (host && (o = host_of(h, host)))
		rc = json_array_append_new(json_object_get(o, "vms"),
					   json_stringn(rest, (size_t)(slash - rest)));
	json_decref(val);
	return rc ? -ENOMEM : 0;
}

int cluster_hosts_json(struct cluster *cl, json_t **out)
{
	struct hosts h = { .by_name = json_object(), .plen = strlen(CLUSTER_HOSTS) };
	json_t *list, *o;
	const char *name;
	unsigned ttl, renew, fire;
	int rc;

	if (!h.by_name)
		return -ENOMEM;
	rc = etcd_range(cl->etcd, CLUSTER_HOSTS, add_host_key, &h, NULL);
	if (!rc)
		rc = etcd_range(cl->etcd, CLUSTER_VMS, add_owner_key, &h, NULL);
	if (rc) {
		json_decref(h.by_name);
		return rc;
	}
	list = json_array();
	json_object_foreach(h.by_name, name, o) {
		json_object_set_new(o, "this", json_boolean(!strcmp(name, cl->name)));
		/* whether VMs can run there: each alive host's key says it; the host that
		 * answers knows it now */
		if (!strcmp(name, cl->name))
			json_object_set_new(o, "kvm", json_boolean(!hostkvm_check(NULL, 0)));
		json_array_append(list, o);
	}
	json_decref(h.by_name);
	cluster_timing(cl, &ttl, &renew, &fire);
	*out = json_pack("{s:o,s:{s:s,s:s,s:i,s:i,s:i,s:i}}", "hosts", list, "cluster",
			 "endpoints", etcd_endpoints(cl->etcd), "this_host", cl->name,
			 "lease_ttl_ms", ttl, "renew_ms", renew, "watchdog_ms", fire,
			 "fences", (int)cluster_fences(cl));
	return *out ? 0 : -ENOMEM;
}

static int owner_key(const char *vm, char *key, size_t n)
{
	if (!*vm || strchr(vm, '/'))
		return -EINVAL;
	return snprintf(key, n, "%s%s/owner", CLUSTER_VMS, vm) >= (int)n ? -ENAMETOOLONG : 0;
}

int cluster_vm_claim(struct cluster *cl, const char *vm, char *owner, size_t n)
{
	int64_t rev;

	return cluster_vm_claim_at(cl, vm, owner, n, &rev);
}

int cluster_vm_claim_at(struct cluster *cl, const char *vm, char *owner, size_t n,
			int64_t *rev)
{
	struct etcd_kv holder = { 0 };
	char key[160], *text;
	int64_t lease;
	bool fenced;
	json_t *val;
	int rc = owner_key(vm, key, sizeof(key));

	if (rc)
		return rc;
	fenced = cluster_lease_now(cl, &lease);
	if (fenced || !lease)
		return -ENOLINK;
	val = json_pack("{s:s,s:s}", "host", cl->name, "lease", "");
	if (!val)
		return -ENOMEM;
	json_object_set_new(val, "lease", json_sprintf("%llx", (long long)lease));
	text = json_dumps(val, JSON_COMPACT);
	json_decref(val);
	if (!text)
		return -ENOMEM;
	/* create-if-absent, bound to the lease: the key lives while this host does */
	*rev = 0;
	rc = etcd_cas(cl->etcd, key, 0, text, strlen(text), lease, rev, &holder);
	free(text);
	if (rc == -EEXIST) {
		json_t *h = json_loadb(holder.value ? holder.value : "", holder.value_len, 0, NULL);
		const char *host = json_string_value(json_object_get(h, "host"));

		if (holder.lease == lease && host && !strcmp(host, cl->name)) {
			rc = 0;         /* ours already (a restart by policy) */
			*rev = holder.mod_rev;
		} else {
			rc = -EADDRINUSE;
			if (owner)
				snprintf(owner, n, "%s", host ? host : "another host");
		}
		json_decref(h);
	} else if (rc == -ENOENT) {
		rc = -ENOLINK;          /* the lease has gone: the watchdog fences */
	}
	etcd_kv_clear(&holder);
	return rc;
}

int cluster_vm_release(struct cluster *cl, const char *vm)
{
	struct etcd_kv kv = { 0 };
	char key[160];
	int64_t lease;
	bool fenced;
	int rc = owner_key(vm, key, sizeof(key));

	if (rc)
		return rc;
	fenced = cluster_lease_now(cl, &lease);
	/* Fenced: the lease is lost or about to be, its keys go with it; no etcd round trip on
	 * the supervisor's thread for each VM the fence killed while etcd may not answer. */
	if (fenced)
		return 0;
	rc = etcd_get(cl->etcd, key, &kv);
	if (rc == -ENOENT)
		return 0;
	/* only this host's claim under its lease, and only the revision read (a claim made
	 * meanwhile by another host stays) */
	if (!rc && kv.lease == lease)
		rc = etcd_delete_if(cl->etcd, key, kv.mod_rev);
	if (rc && rc != -EAGAIN)
		vsrv_log("cluster: vm %s: cannot release its ownership key (it goes with the "
			 "lease): %s", vm, etcd_errmsg());
	etcd_kv_clear(&kv);
	return rc == -EAGAIN ? 0 : rc;
}

int cluster_vm_owner_key(const char *vm, char *key, size_t n)
{
	return owner_key(vm, key, n);
}

void cluster_vm_owner_of(const char *value, size_t len, char *host, size_t n)
{
	json_t *val = json_loadb(value, len, 0, NULL);

	snprintf(host, n, "%s", json_string_value(json_object_get(val, "host")) ?
		 json_string_value(json_object_get(val, "host")) : "?");
	json_decref(val);
}

int cluster_vm_owner(struct cluster *cl, const char *vm, char *host, size_t n)
{
	int64_t rev;

	return cluster_vm_owner_at(cl, vm, host, n, &rev);
}

int cluster_vm_owner_at(struct cluster *cl, const char *vm, char *host, size_t n, int64_t *rev)
{
	struct etcd_kv kv = { 0 };
	char key[160];
	int rc = owner_key(vm, key, sizeof(key));

	*rev = 0;
	if (!rc)
		rc = etcd_get(cl->etcd, key, &kv);
	if (rc)
		return rc;
	cluster_vm_owner_of(kv.value, kv.value_len, host, n);
	*rev = kv.mod_rev;
	etcd_kv_clear(&kv);
	return 0;
}
