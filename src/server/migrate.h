/* Live migration between the hosts of a cluster on a shared inventory (docs/cluster.md "Live
 * migration"). The source's task (sup_migrate.c) asks the destination's API to prepare the VM
 * (POST /api/v1/vms/NAME/incoming: a VMM started with --incoming tcp:ADDR:PORT, supervised
 * but not recorded), drives its own VMM's control `migrate` to that address, moves the
 * ownership key and the placement to the destination in one etcd Txn (cluster_vm_move), and
 * tells the destination to take the VM over (POST .../incoming/commit). Before the Txn the
 * VM is the source's (its status, key and placement untouched by a failure: the destination's
 * VMM is killed, DELETE .../incoming); after it, the destination's. */
#ifndef VSRV_SERVER_MIGRATE_H
#define VSRV_SERVER_MIGRATE_H

#include "server/server.h"

#include <jansson.h>

/* What the source's task needs: the VM, the destination (its name and API URL), the
 * disks' mode ("shared" or "copy"), max_downtime_ms (< 0: the VMM's default) and who asks
 * (the user's name: the destination's events name it). The task calls the destination
 * with this host's own credential (cluster_peer.c), not the user's token. */
struct migrate_req {
	int64_t id;
	char name[64];
	char to[64];
	char url[1024];
	char disks[8];
	int64_t max_downtime_ms;
	char who[128];
	char cred[200];             /* migrate_task_start's: this host's credential */
};

/* Start the migration as a task "vm-migrate" on the VM (tasks.h): q is copied. 0 and *task,
 * or -errno: -EBUSY while a live snapshot of the VM runs (snaplive_claim: on any server
 * sharing the inventory), -EIO when its claim cannot be read. */
int migrate_task_start(struct server *srv, const struct migrate_req *q, int64_t *task);

/* One VM's live migration from host from to host to, waited for (a drain's and a balance's
 * step): a vm-migrate task started here when from is this host, else asked of from's API
 * (POST /api/v1/vms/NAME/migrate with the Authorization header auth, the caller's: NULL
 * only when from is this host, whose task calls the destination with this host's own
 * credential); its task is then
 * waited for in the shared inventory. 0 once the VM is on to, or -errno with why (n
 * bytes): the VM then runs on where it was, as a failed migration leaves it. */
int migrate_move(struct server *srv, const char *auth, const char *who, const char *disks,
		 int64_t id, const char *vm, const char *from, const char *to, char *why,
		 size_t n);

/* The destination's side. migrate_incoming_prepare: prepare VM id (name) coming from host from:
 * admission control, a VMM with --incoming on a free port of this host's API address,
 * supervised as incoming (sup_int.h), answered once it listens. 0 and addr ("tcp:A:P"),
 * -EBUSY (it runs here, or a run of it is supervised here), -ENOSPC (its reservation does
 * not fit), -EIO (its VMM ended before listening), or -errno; err holds a reason. */
int migrate_incoming_prepare(struct server *srv, struct dbc *c, int64_t id, const char *name,
			     const char *from, const char *disks, char *addr, size_t addrlen,
			     char *err, size_t errlen);

/* Kill the incoming VMM of VM id that was not handed over. 0 or -ENOENT (none here). */
int migrate_incoming_abort(struct server *srv, int64_t id);

/* The hand-over's end here: VM id's ownership key is this host's now: its incoming run is
 * recorded as its run (state running, its monitor's pid). 0, -ENOENT (no incoming run of it
 * here), -EADDRINUSE (its key is not this host's) or -errno; err holds a reason. */
int migrate_incoming_commit(struct server *srv, struct dbc *c, int64_t id, const char *name,
			    const char *who, char *err, size_t errlen);

/* One call to a peer's API: method path (under base, the peer's API URL) with body (NULL:
 * none; the caller's) and the Authorization header auth, within timeout_ms. 0 and *status
 * with *answer (the JSON answer, the caller's; NULL when none), or -errno with err set (not
 * reached, no JSON answer). */
int migrate_peer_call(const char *base, const char *method, const char *path, const char *auth,
		      json_t *body, long timeout_ms, long *status, json_t **answer, char *err,
		      size_t errlen);

/* migrate_peer_call with, when by is not NULL, the header X-Vsrv-By: by (the user a host
 * acts for when auth is its own credential, cluster_peer_auth). */
int migrate_peer_call_by(const char *base, const char *method, const char *path,
			 const char *auth, const char *by, json_t *body, long timeout_ms,
			 long *status, json_t **answer, char *err, size_t errlen);

#endif
