/* GET /api/v1/hosts: the cluster's hosts (cluster.h), or this host alone without a cluster. */
#include "server/api.h"
#include "server/auth.h"
#include "server/cluster.h"
#include "server/etcd.h"
#include "server/inv.h"
#include "server/sup.h"

#include <errno.h>
#include <unistd.h>

static int add_up(const struct inv_vm *v, void *arg)
{
	return inv_vm_state_up(v->state) ? json_array_append_new(arg, json_string(v->name)) : 0;
}

int api_hosts(struct req *r)
{
	json_t *h, *mem, *vms;
	char name[256] = "localhost";
	int rc;

	if (auth_require(r, "server", 0, PERM_VIEW))
		return r->status;
	if (r->srv->cluster) {
		rc = cluster_hosts_json(r->srv->cluster, &r->out);
		if (rc == -ENOMEM)
			return req_error(r, rc, "out of memory");
		if (rc)
			return req_error(r, 503, "the cluster's store (etcd) does not answer: %s",
					 etcd_errmsg());
		return 200;
	}
	/* Alone: this host, always alive, with what /api/v1/host says of its capacity and the
	 * VMs that are up. */
	gethostname(name, sizeof(name) - 1);
	h = sup_host_json(r->srv, r->c);
	mem = json_object_get(h, "memory_mib");
	vms = json_array();
	if (vms && inv_vm_each(r->c, add_up, vms)) {
		json_decref(h);
		json_decref(vms);
		return req_error(r, -EIO, "cannot read the inventory");
	}
	r->out = json_pack("{s:[{s:s,s:b,s:b,s:i,s:O,s:O,s:o,s:O}],s:n}", "hosts", "name", name,
			   "alive", 1, "this", 1, "cpus", r->srv->host_cpus,
			   "memory_mib", json_object_get(mem, "allocatable"),
			   "free_memory_mib", json_object_get(mem, "free"), "vms", vms, "kvm",
			   json_object_get(json_object_get(h, "kvm"), "available"), "cluster");
	json_decref(h);
	return r->out ? 200 : req_error(r, -ENOMEM, "out of memory");
}
