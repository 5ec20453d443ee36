/* Where POST /api/v1/vms/{name}/start runs (docs/cluster.md "Placement on start"): on a
 * shared inventory the VM starts on the host the caller names ({"host": NAME}) or, without
 * one, on the host the placement rule chooses (cluster_failover_order: memory, CPUs,
 * bridges, disks; the most free memory, ties by name); a start meant for another host is
 * sent there with the caller's Authorization header (sessions live in the shared
 * inventory) and its answer is the answer. */
#include "server/api.h"
#include "server/cluster.h"
#include "server/etcd.h"
#include "server/inv.h"
#include "server/migrate.h"
#include "server/placement.h"
#include "server/sup.h"
#include "server/vmrow.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FWD_TIMEOUT_MS 15000

/* Send the start to host's url with {"host": host} and the caller's Authorization; its
 * status and JSON answer become r's. */
static int forward(struct req *r, const char *host, const char *base, const char *vm)
{
	const char *auth = req_header(r, "Authorization");
	char path[200], err[300];
	json_t *body, *ans = NULL;
	long status = 0;
	int rc;

	if (!auth)
		return req_error(r, -EBUSY, "%s is to start on host %s, and this request carries no "
				 "token to pass on: send it to host %s (%s) or name this host", vm, host,
				 host, base);
	/* (a VM's name is letters, digits and -_.: nothing to escape in a path) */
	if (snprintf(path, sizeof(path), "/api/v1/vms/%s/start", vm) >= (int)sizeof(path))
		return req_error(r, -EINVAL, "the VM's name is too long");
	body = json_pack("{s:s}", "host", host);
	if (!body)
		return req_error(r, -ENOMEM, "out of memory");
	rc = migrate_peer_call(base, "POST", path, auth, body, FWD_TIMEOUT_MS, &status, &ans, err,
			       sizeof(err));
	json_decref(body);
	if (rc || !ans || status < 200 || status > 599) {
		json_decref(ans);
		return req_error(r, 503, "%s is to start on host %s, which does not answer at %s: %s",
				 vm, host, base, rc ? err : "not a JSON answer");
	}
	r->out = ans;
	vsrv_log("vm %s: start sent to host %s (%s): %ld", vm, host, base, status);
	r->status = (int)status;
	return r->status;
}

int api_vm_start_placed(struct req *r, int64_t id, const char *want, bool *local,
			char *target, size_t tn)
{
	struct server *srv = r->srv;
	struct cluster_fo_host h[64];
	struct cluster_need need;
	char why[1024];
	const char *me = srv->cluster ? cluster_name(srv->cluster) : NULL;
	size_t n = 0, fit;
	int rc;

	*local = false;
	target[0] = '\0';
	if (!srv->cluster || strcmp(inv_backend(srv->db), "etcd")) {
		/* every host has its own inventory: the VM can start here only */
		if (want && (!me || strcmp(want, me)))
			return req_error(r, -EINVAL, "host: a start on another host needs a cluster on "
					 "a shared inventory (--inventory etcd)");
		*local = true;
		return 0;
	}
	if (want) {
		snprintf(target, tn, "%s", want);
	} else {
		rc = placement_need(r->c, id, true, &need);
		if (rc)
			return req_error(r, rc == -E2BIG ? -EINVAL : rc, "%s: cannot read it%s",
					 r->args[0], rc == -E2BIG ? ": too many disks or bridges" : "");
		/* (read with the start's read: sup_cluster_start_want) */
		rc = cluster_alive_hosts_in(srv->cluster, sup_cluster_side_read, r->c, h, 64, &n);
		if (rc)
			return req_error(r, 503, "the cluster's store (etcd) does not answer: %s",
					 etcd_errmsg());
		fit = cluster_failover_order(h, n, &need, why, sizeof(why));
		snprintf(target, tn, "%s", fit ? h[0].name : "");
		cluster_fo_hosts_clear(h, n);
		if (!fit)
			return req_error(r, -ENOSPC, "%s: no host of the cluster can run it: %s",
					 r->args[0], why);
	}
	if (!strcmp(target, me)) {
		*local = true;
		target[0] = '\0';
	}
	return 0;
}

int api_vm_start_forward(struct req *r, const char *target)
{
	char url[1024];
	int rc;

	rc = cluster_host_api_url(r->srv->cluster, target, url, sizeof(url));
	if (rc == -ENOENT)
		return req_error(r, -EINVAL, "host: no host %s in the cluster", target);
	if (rc == -EHOSTDOWN)
		return req_error(r, -EBUSY, "host %s is not alive (its lease is gone)", target);
	if (rc)
		return req_error(r, 503, "the cluster's store (etcd) does not answer: %s",
				 etcd_errmsg());
	return forward(r, target, url, r->args[0]);
}
