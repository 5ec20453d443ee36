/* POST /api/v1/vms/NAME/start (api_vm_action's): one start at a time on this host (the
 * start lock, sup.h), a request waiting for it parked (struct req's resume), holding none of
 * the HTTP threads. */
#include "server/api.h"
#include "server/cluster.h"
#include "server/clone.h"
#include "server/diskuse.h"
#include "server/hostkvm.h"
#include "server/inv.h"
#include "server/sup.h"
#include "server/undo.h"
#include "server/vmrow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* POST .../start here or on the host it is placed on: the placement, the checks and the
 * start in one transaction (on etcd their reads in one round trip, inv_vm_start_read, each
 * compared at the commit). sup_start_begun's return, or with *answered the request's
 * answer (an error, or the other host's). Called with sup_start_lock held; -EINPROGRESS
 * when it gave it up (the start sent to another host: its answer set). */
static int vm_start_locked(struct req *r, int64_t id, bool *answered)
{
	char why[300], target[64];
	bool local;
	int rc;

	*answered = true;
	rc = inv_begin(r->c);
	if (rc)
		return req_error(r, -EIO, "inventory error; nothing was changed");
	/* with them, the cluster's keys its placement and reservation read */
	sup_cluster_start_want(r->srv, r->c, !json_object_get(r->body, "host"));
	rc = inv_vm_start_read(r->c, id);
	if (rc) {
		inv_rollback(r->c);
		return req_error(r, -EIO, "inventory error; nothing was changed");
	}
	rc = api_vm_start_placed(r, id, json_string_value(json_object_get(r->body, "host")),
				 &local, target, sizeof(target));
	if (!local) {
		inv_rollback(r->c);
		if (!rc && target[0]) {
			/* sent there without this host's start lock */
			sup_start_unlock(r->srv);
			api_vm_start_forward(r, target);
			return -EINPROGRESS;
		}
		return rc;
	}
	rc = diskuse_check_start(r->srv, r->c, id, why, sizeof(why));
	if (!rc)
		rc = undo_check_start(r->srv, r->c, id, r->args[0], why, sizeof(why));
	if (!rc)
		rc = clone_check_start(r->c, id, r->args[0], why, sizeof(why));
	if (rc) {
		inv_rollback(r->c);
		return req_error(r, rc, "%s: cannot start: %s", r->args[0],
				 rc == -EBUSY ? why : strerror(-rc));
	}
	inv_vm_read_ahead(r->c, id);        /* (on etcd: with the commit) for vm_json */
	sup_cluster_owner_want(r->srv, r->c, r->args[0]);
	*answered = false;
	return sup_start_begun(r->srv, r->c, id, r->who.name);
}

/* vm_start_locked, giving the start lock up. */
static int vm_start(struct req *r, int64_t id, bool *answered)
{
	int rc = vm_start_locked(r, id, answered);

	if (rc != -EINPROGRESS)
		sup_start_unlock(r->srv);
	return rc == -EINPROGRESS ? r->status : rc;
}

int api_vm_action_answer(struct req *r, const char *a, int64_t id, int rc, bool meant)
{
	/* not running here but meant to (its start failed, given up after failures): no
	 * failover restarts it any more, which is what was asked */
	if (rc == -EBUSY && meant)
		rc = 0;
	if (rc == -EBUSY)
		return req_error(r, rc, "%s: cannot %s in its current state", r->args[0], a);
	if (rc == -ENODEV)
		return req_error(r, -EBUSY, "%s: the bridge of one of its networks does not exist (the "
				 "administrator creates a bridged network's bridge)", r->args[0]);
	if (rc == -EADDRINUSE) {
		char host[64] = "another host";

		if (r->srv->cluster)
			cluster_vm_owner(r->srv->cluster, r->args[0], host, sizeof(host));
		return req_error(r, -EBUSY, "%s: runs on host %s of the cluster (it holds the VM's "
				 "ownership key)", r->args[0], host);
	}
	if (rc == -ENOLINK)
		return req_error(r, 503, "%s: this host has lost its cluster lease (fenced): no VM "
				 "starts here until it has registered again", r->args[0]);
	if (rc == -ESHUTDOWN)
		return req_error(r, 503, "%s: not started: this host is turning its VMs off (fenced, "
				 "or its daemon stops)", r->args[0]);
	if (rc == -ENOSPC)
		return req_error(r, rc, "%s: its memory reservation exceeds what the host has left "
				 "(see /api/v1/host)", r->args[0]);
	if (rc == -EIO && !strcmp(a, "start"))
		return req_error(r, 503, "%s: not started: the inventory did not answer (its start "
				 "is not recorded, and no VMM of it runs here)", r->args[0]);
	if (rc == -ENXIO) {
		char why[400];

		if (!hostkvm_check(why, sizeof(why)))
			snprintf(why, sizeof(why), "%s was not usable at the start: try again",
				 hostkvm_path());
		/* the cluster learns it now (its alive key's kvm), not at the next T/3 */
		if (r->srv->cluster)
			cluster_facts_again(r->srv->cluster);
		return req_error(r, 503, "%s: not started: %s", r->args[0], why);
	}
	if (rc == -EDQUOT)
		return req_error(r, rc, "%s: not started: quota exceeded: its owner (or a manager "
				 "above it) has no room left in disk_bytes for its undo disks to grow "
				 "(commit or discard kept undo disks, or free disk)", r->args[0]);
	if (rc == -ESTALE)
		return req_error(r, -EBUSY, "%s: its saved state's file is missing: discard the "
				 "saved state (discard-saved) to start it afresh", r->args[0]);
	if (rc)
		return req_error(r, rc, "%s: %s failed: %s", r->args[0], a, strerror(-rc));
	r->out = vm_json(r->srv, r->c, id, 0);
	r->status = 202;
	return 202;
}

/* A request waiting for this host's start lock (sup.h): its place in the lock's queue while
 * it is parked (struct req's resume), and what it runs once the lock is its. */
struct start_wait {
	struct sup_start_wait w;
	int64_t id;                 /* the VM r->args[0] named when the handler ran */
	char uuid[40];              /* its UUID, read when r parked */
	bool parked;
	int (*locked)(struct req *r, int64_t id, void *arg);
	void *arg;
};

static void start_wake(void *arg)
{
	req_unpark(arg);
}

static void start_wait_free(struct req *r)
{
	struct start_wait *sw = r->resume_state;

	sup_start_wait_cancel(r->srv, &sw->w);
	free(sw->arg);
	free(sw);
	r->resume_state = NULL;
}

/* The UUID of VM id (given at its creation) into uuid (40 bytes): 0, -ENOENT or -EIO. */
static int vm_uuid(struct dbc *c, int64_t id, char *uuid)
{
	struct inv_vm_hw hw;
	int rc = inv_vm_hw_get(c, id, &hw);

	if (rc)
		return rc == -ENOENT ? rc : -EIO;
	memcpy(uuid, hw.uuid, sizeof(hw.uuid));
	return 0;
}

/* After a park: whether r->args[0] still names the VM r was parked for (its id and its
 * UUID: one deleted meanwhile and made again under its name, even with its id again as
 * SQLite may give it, is not it). 0, -ENOENT or -EIO. */
static int same_vm(struct req *r, const struct start_wait *sw)
{
	char uuid[40];
	int64_t id;
	int rc = inv_vm_id(r->c, r->args[0], &id);

	if (!rc && id != sw->id)
		return -ENOENT;
	if (!rc)
		rc = vm_uuid(r->c, id, uuid);
	if (!rc && strcmp(uuid, sw->uuid))
		return -ENOENT;
	return rc == -ENOENT ? rc : rc ? -EIO : 0;
}

/* sw->locked once r has the start lock; until then r is parked, holding none of the HTTP
 * threads while another start (its commit: etcd may be slow) holds the lock. */
static int start_try(struct req *r)
{
	struct start_wait *sw = r->resume_state;
	int rc;

	if (sup_start_trylock(r->srv, &sw->w)) {
		if (!sw->parked) {
			rc = vm_uuid(r->c, sw->id, sw->uuid);
			if (rc)
				return req_error(r, rc, rc == -ENOENT ? "%s: no such VM" :
						 "%s: inventory error; nothing was changed", r->args[0]);
			sw->parked = true;
		}
		r->resume = start_try;
		return 0;
	}
	if (sw->parked) {
		rc = same_vm(r, sw);
		if (rc) {
			sup_start_unlock(r->srv);
			return req_error(r, rc, rc == -ENOENT ? "%s: no such VM (deleted while this "
					 "request waited for the host's start lock; nothing was done)" :
					 "%s: inventory error; nothing was changed", r->args[0]);
		}
	}
	return sw->locked(r, sw->id, sw->arg);
}

int api_start_locked(struct req *r, int64_t id, int (*locked)(struct req *r, int64_t id,
							     void *arg), void *arg)
{
	struct start_wait *sw = calloc(1, sizeof(*sw));

	if (!sw) {
		free(arg);
		return req_error(r, -ENOMEM, "out of memory");
	}
	sw->id = id;
	sw->locked = locked;
	sw->arg = arg;
	sw->w.wake = start_wake;
	sw->w.arg = r;
	r->resume_state = sw;
	r->resume_free = start_wait_free;
	return start_try(r);
}

/* The start of VM id, the start lock held (api_start_locked's locked). */
static int start_locked(struct req *r, int64_t id, void *arg)
{
	bool answered = false;
	int rc = vm_start(r, id, &answered);

	(void)arg;
	return answered ? rc : api_vm_action_answer(r, "start", id, rc, false);
}

int api_vm_start_action(struct req *r, int64_t id)
{
	return api_start_locked(r, id, start_locked, NULL);
}
