/* Snapshot trees. See snapshot.h. */
#include "server/snapshot.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/layers.h"
#include "server/quota.h"
#include "server/snaplive.h"
#include "server/snapmem.h"
#include "server/space.h"
#include "server/sup.h"
#include "server/tasks.h"
#include "server/undo.h"
#include "server/vmsave.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* snapshot_check_off, where saved_ok lets a saved VM pass too (a snapshot with memory takes
 * its saved state; a revert to one replaces it). */
static int check_off(struct server *srv, struct dbc *c, int64_t id, const char *name,
		     bool saved_ok, char *why, size_t len)
{
	struct inv_vm_status st;
	bool off;
	int rc = inv_vm_get_status(c, id, &st);

	if (rc)
		return rc;
	off = !strcmp(st.state, INV_VM_STOPPED) || !strcmp(st.state, INV_VM_CRASHED) ||
	      (saved_ok && !strcmp(st.state, INV_VM_SAVED));
	if (!off && !strcmp(st.state, INV_VM_SAVED))
		snprintf(why, len, "%s is saved: its saved state goes on from its disks as they "
			 "are, so snapshots without memory, reverts to them and clones need it off "
			 "(start it and turn it off, or discard the saved state; or take a snapshot "
			 "with memory: \"memory\": true)", name);
	else if (!off)
		snprintf(why, len, "%s is %s: snapshots without memory, reverts to them and "
			 "clones need it off", name, st.state);
	inv_vm_status_clear(&st);
	if (!off)
		return -EBUSY;
	if (undo_pending(srv, id)) {
		snprintf(why, len, "%s has undo disks on the host, which sit over the images a "
			 "snapshot would change: commit or discard them first (vsrv-server vm "
			 "undo-disks %s --commit or --discard)", name, name);
		return -EBUSY;
	}
	if (task_images_busy(c, name)) {
		snprintf(why, len, "an undo-disk commit, a snapshot delete or a clone of %s is "
			 "running", name);
		return -EBUSY;
	}
	/* a live snapshot's window, on any server of the inventory (snaplive.h): it may undo */
	rc = inv_claim_get(c, SNAPLIVE_CLAIM, id, NULL, 0);
	if (rc != -ENOENT) {
		snprintf(why, len, rc ? "inventory error" : "a live snapshot of %s is being taken, "
			 "or a migration of it starting: try again after", name);
		return rc ? -EIO : -EBUSY;
	}
	return 0;
}

int snapshot_check_off(struct server *srv, struct dbc *c, int64_t id, const char *name,
		       char *why, size_t len)
{
	return check_off(srv, c, id, name, false, why, len);
}

/* inv_snap_each: the current snapshot's id into the int64_t arg. */
static int find_current(const struct inv_snapshot *s, void *arg)
{
	if (s->current)
		*(int64_t *)arg = s->id;
	return 0;
}

/* Begin a transaction and check VM id is off. 0, or -errno with err (rolled back). */
static int begin_off(struct server *srv, struct dbc *c, int64_t id, const char *name,
		     bool saved_ok, char *err, size_t errlen)
{
	int rc;

	if (inv_begin(c)) {
		snprintf(err, errlen, "inventory busy");
		return -EIO;
	}
	rc = check_off(srv, c, id, name, saved_ok, err, errlen);
	if (rc)
		inv_rollback(c);
	return rc;
}

/* Begin a transaction and check VM id runs or is paused, for a live snapshot (snaplive.h):
 * no undo disks, no task on its images. 0, or -errno with err (rolled back). */
static int begin_up(struct server *srv, struct dbc *c, int64_t id, const char *name, char *err,
		    size_t errlen)
{
	struct inv_vm_status st;
	bool up;
	int rc;

	if (inv_begin(c))
		return snprintf(err, errlen, "inventory busy"), -EIO;
	rc = inv_vm_get_status(c, id, &st);
	if (!rc) {
		up = !strcmp(st.state, INV_VM_RUNNING) || !strcmp(st.state, INV_VM_PAUSED);
		if (!up)
			snprintf(err, errlen, "%s is %s now: a live snapshot needs it running or "
				 "paused", name, st.state);
		inv_vm_status_clear(&st);
		rc = up ? 0 : -EBUSY;
	} else {
		snprintf(err, errlen, "inventory error");
	}
	if (!rc && undo_pending(srv, id)) {
		snprintf(err, errlen, "%s runs on undo disks, which sit over the images a snapshot "
			 "would change: a snapshot needs them committed or discarded (after the VM "
			 "is off)", name);
		rc = -EBUSY;
	}
	if (!rc && task_images_busy(c, name)) {
		snprintf(err, errlen, "an undo-disk commit, a snapshot delete or a clone of %s is "
			 "running", name);
		rc = -EBUSY;
	}
	/* its destination may run on the chain the inventory names, opened without a lock
	 * until it takes over: an undo could not see it there */
	if (!rc && task_running(c, "vm-migrate", name)) {
		snprintf(err, errlen, "a migration of %s runs: a live snapshot waits for its end",
			 name);
		rc = -EBUSY;
	}
	if (rc)
		inv_rollback(c);
	return rc;
}

/* Commit with event type about snapshot snap of VM name (or roll back when rc is set);
 * end f. Returns rc, or with err set -EAGAIN when the commit met a concurrent write (etcd:
 * nothing was written) and -EIO when it fails otherwise. */
static int finish(struct server *srv, struct dbc *c, struct layer_files *f, int rc,
		  const char *type, const char *verb, const char *name, const char *snap,
		  const char *who, char *err, size_t errlen)
{
	int crc = 0;

	if (!rc && (events_emit(srv, c, type, "vm", name, who, json_pack("{s:s}", "snapshot",
				snap), "snapshot %s of %s %s by %s", snap, name, verb, who) ||
		    (crc = inv_commit(c)))) {
		snprintf(err, errlen, "inventory error; nothing was changed");
		rc = crc == -EAGAIN ? -EAGAIN : -EIO;
	}
	if (rc)
		inv_rollback(c);
	layer_files_end(f, !rc);
	return rc;
}

/* A live snapshot's new top of disk d (the i-th; the disk's image it freezes at frozen, a
 * layer when was_top) into t: for the VMM's disk-switch, which numbers the disks in the
 * order the supervisor gives them (sup_spawn.c: inv_vm_disks' order, as layers_vm_disks'),
 * the i-th "disk<i>"; and for its undo (snaplive_undo). 0 or -errno with err. */
static int switch_add(struct dbc *c, struct snaplive_tops *t, int64_t id,
		      const struct layer_disk *d, int i, const char *frozen, bool was_top,
		      char *err, size_t errlen)
{
	char top[4400], drive[16];

	if (layers_top_path(c, id, d->disk_id, d->path, top, sizeof(top), NULL))
		return snprintf(err, errlen, "inventory error"), -EIO;
	snprintf(drive, sizeof(drive), "disk%d", i);
	if (json_array_append_new(t->sw, json_pack("{s:s,s:s}", "drive", drive, "path", top)) ||
	    json_array_append_new(t->undo, json_pack("{s:I,s:s,s:s,s:b}", "disk_id",
				  (json_int_t)d->disk_id, "path", top, "frozen", frozen,
				  "was_top", was_top)))
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	return 0;
}

/* snapshot_create's one attempt (-EAGAIN when its commit met a concurrent write), or with
 * live (t set) a snapshot of a VM that runs or is paused, without memory: the new tops
 * made and committed, the VM's disks on them in the inventory, and what its VMM is to
 * switch to into t (snaplive_tops_clear it): the switch comes after the commit
 * (snapshot_take's take_live), so that the inventory never names images older than those
 * the VMM writes. */
static int create(struct server *srv, struct dbc *c, int64_t id, const char *name,
		  const char *snap, const char *desc, bool memory, struct snaplive_tops *t,
		  const char *who, char *err, size_t errlen)
{
	struct inv_snapshot s = { .vm_id = id };
	struct layer_files f;
	struct layer_disk *d = NULL;
	bool live = t != NULL;
	char frozen[4400];
	int64_t sid = 0, grow = 0;
	bool kept = false;
	int n = 0, rc;

	if (layer_files_init(&f))
		return -ENOMEM;
	if (live && snaplive_tops_init(t)) {
		layer_files_end(&f, false);
		return -ENOMEM;
	}
	f.parent_nolock = live; /* the VMM holds the images the new tops go over */
	rc = live ? begin_up(srv, c, id, name, err, errlen) :
		    begin_off(srv, c, id, name, memory, err, errlen);
	/* a snapshot counts for its VM's owner (quota.h) */
	if (!rc && (rc = quota_admit_owner(c, "vm", id, &(struct inv_quota){ .snapshots = 1 },
					   err, errlen)))
		inv_rollback(c);
	if (!rc && memory && !vmsave_state_saved(c, id)) {
		inv_rollback(c);
		snprintf(err, errlen, "%s is off: a snapshot with memory needs its memory (a VM "
			 "running, paused or saved); take one without memory", name);
		rc = -EBUSY;
	}
	if (!rc && memory) {
		struct stat st;

		if (!vmsave_exists(srv, id, &st) || st.st_size <= 0) {
			inv_rollback(c);
			snprintf(err, errlen, "%s is saved, but its saved state is missing here", name);
			rc = -EIO;
		} else {
			s.memory_bytes = st.st_size;
		}
	}
	if (rc) {
		layer_files_end(&f, false);
		if (live)
			snaplive_tops_clear(t);
		return rc;
	}
	rc = layers_vm_disks(c, id, &d, &n);
	for (int i = 0; !rc && i < n; i++) {
		if (d[i].readonly)
			continue;
		if (strcmp(d[i].format, "vhd")) {
			snprintf(err, errlen, "snapshots need VHD disks: disk %s is %s (convert it "
				 "into a new VHD disk and attach that one instead: vsrv disk convert %s "
				 "NEW --format vhd, or POST /api/v1/disks/%s/convert)", d[i].name,
				 d[i].format, d[i].name, d[i].name);
			rc = -EINVAL;
		}
		grow += d[i].size;
	}
	if (!rc && (rc = space_admit(srv, c, (uint64_t)grow, err, errlen)) == -EIO)
		snprintf(err, errlen, "inventory error");
	if (!rc && (rc = inv_snap_each(c, id, find_current, &s.parent_id)))
		snprintf(err, errlen, "inventory error");
	if (!rc) {
		snprintf(s.name, sizeof(s.name), "%s", snap);
		snprintf(s.description, sizeof(s.description), "%s", desc ? desc : "");
		rc = inv_snap_create(c, &s, &sid);
		if (rc == -EEXIST)
			snprintf(err, errlen, "%s has a snapshot named '%s'", name, snap);
		else if (rc)
			snprintf(err, errlen, "inventory error");
	}
	for (int i = 0; !rc && i < n; i++) {
		bool was_top = false;
		char top[4400];

		if (d[i].readonly)
			continue;
		if (live && layers_top_path(c, id, d[i].disk_id, d[i].path, top, sizeof(top),
					    &was_top)) {
			snprintf(err, errlen, "inventory error");
			rc = -EIO;
			break;
		}
		rc = layers_push(srv, c, &f, id, d[i].disk_id, d[i].path, frozen, sizeof(frozen),
				 err, errlen);
		if (!rc && (rc = inv_snap_image_add(c, sid, d[i].disk_id, frozen)))
			snprintf(err, errlen, "inventory error");
		if (!rc && live)
			rc = switch_add(c, t, id, &d[i], i, frozen, was_top, err, errlen);
	}
	free(d);
	/* the saved state becomes the snapshot's too (snapmem.h): a second name, no copy */
	if (!rc && memory)
		kept = !(rc = snapmem_keep(srv, c, id, sid, err, errlen));
	rc = finish(srv, c, &f, rc, "vm-snapshot-created", memory ? "taken with memory" :
		    !live ? "taken" : "taken live", name, snap, who, err, errlen);
	if (rc && kept)
		snapmem_drop(srv, id, sid);
	if (live && rc)
		snaplive_tops_clear(t);
	else if (live)
		t->sid = sid;
	return rc;
}

int snapshot_create(struct server *srv, struct dbc *c, int64_t id, const char *name,
		    const char *snap, const char *desc, bool memory, const char *who, char *err,
		    size_t errlen)
{
	int tries = 0, rc;

	/* etcd: a commit that lost to a concurrent write (another snapshot of the owner, whose
	 * usage the quota check read: inv_etcd_quota.c) wrote nothing; again, from the check,
	 * so the loser gets its snapshot or a clean refusal */
	while ((rc = create(srv, c, id, name, snap, desc, memory, NULL, who, err, errlen)) ==
	       -EAGAIN && ++tries < INV_COMMIT_TRIES)
		;
	return rc == -EAGAIN ? -EIO : rc;
}

/* Snapshot snap of VM id into *s, with err set when missing. 0, -ENOENT, -EIO. */
static int get_snap(struct dbc *c, int64_t id, const char *name, const char *snap,
		    struct inv_snapshot *s, char *err, size_t errlen)
{
	int rc = inv_snap_get(c, id, snap, s);

	if (rc == -ENOENT)
		snprintf(err, errlen, "%s has no snapshot named '%s'", name, snap);
	else if (rc)
		snprintf(err, errlen, "inventory error");
	return rc;
}

struct retop {
	struct server *srv;
	struct dbc *c;
	struct layer_files *f;
	int64_t vm;
	char *err;
	size_t errlen;
};

static int retop_one(int64_t disk_id, const char *path, void *arg)
{
	struct retop *t = arg;

	return layers_retop(t->srv, t->c, t->f, t->vm, disk_id, path, t->err, t->errlen);
}

/* The revert in the inventory and on disk: new tops over snapshot snap's images, and with
 * memory (its id sid) its state file as the VM's saved state, the VM saved. */
static int revert_to(struct server *srv, struct dbc *c, int64_t id, const char *name,
		     const char *snap, int64_t sid, bool memory, const char *who, char *err,
		     size_t errlen)
{
	struct inv_snapshot *s = malloc(sizeof(*s));
	struct layer_files f;
	bool installed = false;
	int rc;

	if (!s || layer_files_init(&f)) {
		free(s);
		return -ENOMEM;
	}
	rc = begin_off(srv, c, id, name, memory, err, errlen);
	if (rc) {
		free(s);
		layer_files_end(&f, false);
		return rc;
	}
	rc = get_snap(c, id, name, snap, s, err, errlen);
	if (!rc && memory && s->id != sid) {
		snprintf(err, errlen, "snapshot %s changed meanwhile", snap);
		rc = -EBUSY;
	}
	if (!rc) {
		struct retop t = { srv, c, &f, id, err, errlen };

		rc = inv_snap_images(c, s->id, retop_one, &t);
	}
	if (!rc && (rc = inv_snap_set_current(c, id, s->id)))
		snprintf(err, errlen, "inventory error");
	if (!rc && (rc = layers_collect(c, &f)))
		snprintf(err, errlen, "inventory error");
	if (!rc && memory && (rc = inv_vm_set_state(c, id, INV_VM_SAVED, 0, NULL)))
		snprintf(err, errlen, "inventory error");
	/* the file before the commit; a commit that fails puts the VM's own back */
	if (!rc && memory && !(rc = snapmem_install(srv, id, s->id, err, errlen)))
		installed = true;
	free(s);
	rc = finish(srv, c, &f, rc, "vm-snapshot-reverted", memory ? "reverted (with memory) to" :
		    "reverted to", name, snap, who, err, errlen);
	if (installed)
		snapmem_install_end(srv, id, rc == 0);
	return rc;
}

/* VM id's state into buf (n bytes); "" when it cannot be read. */
static void state_now(struct dbc *c, int64_t id, char *buf, size_t n)
{
	struct inv_vm_status st;

	buf[0] = '\0';
	if (!inv_vm_get_status(c, id, &st)) {
		snprintf(buf, n, "%s", st.state);
		inv_vm_status_clear(&st);
	}
}

/* Wait up to ms for VM id's state to leave the up states (or, with up, to reach
 * running or end). Its state then into buf. */
static void wait_state(struct dbc *c, int64_t id, bool up, int ms, char *buf, size_t n)
{
	for (int waited = 0;; waited += 20) {
		state_now(c, id, buf, n);
		if (waited >= ms || (!up && !inv_vm_state_up(buf)) ||
		    (up && (!strcmp(buf, INV_VM_RUNNING) || !inv_vm_state_up(buf))))
			return;
		usleep(20000);
	}
}

int snapshot_revert(struct server *srv, struct dbc *c, int64_t id, const char *name,
		    const char *snap, const char *who, char *err, size_t errlen)
{
	struct inv_snapshot s;
	char state[16];
	int rc = get_snap(c, id, name, snap, &s, err, errlen);

	if (rc)
		return rc;
	if (s.memory_bytes <= 0)   /* disks only: the VM stays off */
		return revert_to(srv, c, id, name, snap, s.id, false, who, err, errlen);
	if (snapmem_bytes(srv, id, s.id) != s.memory_bytes)
		return snprintf(err, errlen, "the memory of snapshot %s is not on this host (its "
				"file DATA/vms/%lld/snapshots/%lld.vsav is on the host where it was "
				"taken, or it is damaged): revert on that host, or to a snapshot "
				"without memory", snap, (long long)id, (long long)s.id), -EBUSY;
	/* With memory: the hardware it ran on (checked before anything changes), the current
	 * run ended (turned off: its state is dropped, as a revert drops the disks' since the
	 * snapshot), the revert, then a start that restores the snapshot's state. */
	rc = snapmem_check_hw(srv, c, id, s.id, err, errlen);
	if (rc)
		return rc;
	/* a live snapshot's window (check_off refuses it too, but only after the stop: asked
	 * first, so that a refused revert leaves the VM running) */
	rc = inv_claim_get(c, SNAPLIVE_CLAIM, id, NULL, 0);
	if (rc != -ENOENT)
		return snprintf(err, errlen, rc ? "inventory error" : "a live snapshot of %s is "
				"being taken, or a migration of it starting: try again after", name),
		       rc ? -EIO : -EBUSY;
	state_now(c, id, state, sizeof(state));
	if (inv_vm_state_up(state)) {
		rc = sup_stop(srv, c, id, SUP_OFF, NULL, who);
		if (rc && rc != -EBUSY)
			return snprintf(err, errlen, "cannot turn %s off: %s", name, strerror(-rc)),
			       rc;
		wait_state(c, id, false, 20000, state, sizeof(state));
		if (inv_vm_state_up(state))
			return snprintf(err, errlen, "%s did not turn off in time (%s)", name, state),
			       -EBUSY;
	}
	rc = revert_to(srv, c, id, name, snap, s.id, true, who, err, errlen);
	return rc ? rc : 1;     /* its start is the caller's */
}

/* Whether snaplive_switch's failure rc (sent: whether its command went) says the VMM
 * switched no disk for sure: nothing was sent (no VMM listens, a top not opened, out of
 * memory before the send...), or the VMM answered that it refused (all or none). Any
 * other failure once the command went (no answer in time, an answer lost, unreadable or
 * not read for want of memory) may have switched, and may still. */
static bool switched_none(int rc, bool sent)
{
	return !sent || rc == -EIO;
}

/* A live snapshot (snaplive.h): committed first, with the VM's disks on their new tops in
 * the inventory (run again from its checks when the commit met a concurrent write, as
 * snapshot_create), then the VMM switched onto them. A new top is empty until the VMM
 * writes it and reads as the image under it, so from the commit on the inventory's chains
 * hold every write whether the VMM switched or not: no failure (of the commit, of the
 * switch, of the server in between) can leave the inventory naming images older than those
 * the VMM writes. A switch the VMM refused, or never got (no VMM, nothing sent), is undone
 * (snaplive_undo); one sent but not answered in time (or whose answer was lost, or could
 * not be read) may have come or may still come, so nothing is undone. */
static int take_live(struct server *srv, struct dbc *c, int64_t id, const char *name,
		     const char *snap, const char *desc, const char *who, char *err,
		     size_t errlen)
{
	struct snaplive_tops t = { 0 };
	char why[600];
	bool frozen = false, sent = false;
	int tries = 0, rc, urc;

	/* one at a time, and no migration meanwhile (begin_up checks one that runs) */
	rc = snaplive_claim(srv, id);
	if (rc == -EBUSY)
		return snprintf(err, errlen, "a live snapshot of %s is being taken, or a "
				"migration of it starting: try again after", name), -EBUSY;
	if (rc)
		return snprintf(err, errlen, "inventory error (the claim of %s)", name), rc;
	while ((rc = create(srv, c, id, name, snap, desc, false, &t, who, err, errlen)) ==
	       -EAGAIN && ++tries < INV_COMMIT_TRIES)
		;
	if (rc) {
		snaplive_release(srv, id);
		return rc == -EAGAIN ? -EIO : rc; /* nothing recorded, nothing switched */
	}
	if (!json_array_size(t.sw)) {
		snaplive_tops_clear(&t);
		snaplive_release(srv, id);
		return 0; /* no writable disk: nothing to switch */
	}
	rc = snaplive_switch(srv, id, name, t.sw, &frozen, &sent, err, errlen);
	if (!rc) {
		vsrv_log("vm %s: snapshot %s taken live%s", name, snap,
			 frozen ? " (file systems frozen)" : "");
	} else if (!switched_none(rc, sent)) {
		snprintf(err + strlen(err), errlen - strlen(err), "; snapshot %s is recorded with "
			 "the VM's disks on its new images (nothing is lost: they read as the "
			 "images under them), but until %s is turned off and on its VMM may still "
			 "write the images the snapshot froze", snap, name);
		rc = -EIO;
	} else {
		snprintf(why, sizeof(why), "%s", err);
		urc = snaplive_undo(srv, c, id, name, snap, &t, who, err, errlen);
		if (!urc)
			snprintf(err, errlen, "%s (no snapshot was taken)", why);
		else
			snprintf(err + strlen(err), errlen - strlen(err), " after: %s", why);
		rc = -EIO; /* refused, or no VMM (not a missing object: 500, not 404) */
	}
	snaplive_tops_clear(&t);
	snaplive_release(srv, id);
	return rc;
}

/* Before a running VM is saved for snapshot snap: what snapshot_create would refuse at
 * once (the name taken, undo disks, a task on its images, a disk not VHD), so that such a
 * request does not stop the guest for nothing. 0, or -errno with err. */
static int precheck(struct server *srv, struct dbc *c, int64_t id, const char *name,
		    const char *snap, char *err, size_t errlen)
{
	struct inv_snapshot *s = malloc(sizeof(*s));
	struct layer_disk *d = NULL;
	int n = 0, rc;

	if (!s)
		return -ENOMEM;
	rc = inv_snap_get(c, id, snap, s);
	free(s);
	if (!rc)
		return snprintf(err, errlen, "%s has a snapshot named '%s'", name, snap), -EEXIST;
	if (rc != -ENOENT)
		return snprintf(err, errlen, "inventory error"), -EIO;
	if (undo_pending(srv, id))
		return snprintf(err, errlen, "%s has undo disks on the host, which sit over the "
				"images a snapshot would change: a snapshot needs them committed or "
				"discarded (after the VM is off)", name), -EBUSY;
	if (task_images_busy(c, name))
		return snprintf(err, errlen, "an undo-disk commit, a snapshot delete or a clone of "
				"%s is running", name), -EBUSY;
	rc = layers_vm_disks(c, id, &d, &n);
	if (rc)
		return snprintf(err, errlen, "inventory error"), -EIO;
	for (int i = 0; !rc && i < n; i++)
		if (!d[i].readonly && strcmp(d[i].format, "vhd")) {
			snprintf(err, errlen, "snapshots need VHD disks: disk %s is %s (convert it "
				 "into a new VHD disk and attach that one instead: vsrv disk convert %s "
				 "NEW --format vhd, or POST /api/v1/disks/%s/convert)", d[i].name,
				 d[i].format, d[i].name, d[i].name);
			rc = -EINVAL;
		}
	free(d);
	if (!rc)
		rc = quota_admit_owner(c, "vm", id, &(struct inv_quota){ .snapshots = 1 }, err,
				       errlen);
	return rc;
}

int snapshot_take(struct server *srv, struct dbc *c, int64_t id, const char *name,
		  const char *snap, const char *desc, int memory, const char *who,
		  struct snapshot_again *again, char *err, size_t errlen)
{
	char state[16];
	json_t *rep = NULL;
	bool up, paused;
	int rc;

	state_now(c, id, state, sizeof(state));
	up = !strcmp(state, INV_VM_RUNNING) || !strcmp(state, INV_VM_PAUSED);
	paused = !strcmp(state, INV_VM_PAUSED);
	if (memory < 0)
		memory = up;    /* as Hyper-V's checkpoints: a VM that runs, with its memory */
	if (!memory && up) /* live: the guest goes on (snaplive.h) */
		return take_live(srv, c, id, name, snap, desc, who, err, errlen);
	if (!memory || !up)
		return snapshot_create(srv, c, id, name, snap, desc, memory, who, err, errlen);
	/* Running or paused: the VMM saves the VM and ends (its disks closed, the state
	 * matching them exactly), the disks get their snapshot while the VM is saved, and the
	 * VM starts again from the same state on the new tops (the same contents). */
	rc = precheck(srv, c, id, name, snap, err, errlen);
	if (rc)
		return rc;
	rc = sup_save(srv, c, id, who, &rep, err, errlen);
	json_decref(rep);
	if (rc) {
		snprintf(err + strlen(err), errlen - strlen(err), " (no snapshot was taken)");
		return rc == -ETIMEDOUT ? -EIO : rc;
	}
	rc = snapshot_create(srv, c, id, name, snap, desc, true, who, err, errlen);
	if (!again) {   /* started again here, by a caller that may wait */
		struct snapshot_again a = { .taken = rc, .paused = paused };

		return snapshot_take_started(srv, c, id, name, snap, who, &a,
					     sup_start(srv, c, id, who), err, errlen);
	}
	again->taken = rc;
	again->paused = paused;
	return 1;       /* its start again is the caller's */
}

int snapshot_take_started(struct server *srv, struct dbc *c, int64_t id, const char *name,
			  const char *snap, const char *who, const struct snapshot_again *again,
			  int started, char *err, size_t errlen)
{
	char state[16];

	if (started && !again->taken) {
		snprintf(err, errlen, "snapshot %s taken, but %s did not start again: %s; it is "
			 "saved: start it", snap, name, strerror(-started));
		return -EIO;
	}
	if (!started && again->paused) {
		/* it was paused: paused again once its VMM answers */
		wait_state(c, id, true, 20000, state, sizeof(state));
		if (!strcmp(state, INV_VM_RUNNING) && sup_pause(srv, c, id, 1, who))
			vsrv_log("vm %s: not paused again after snapshot %s", name, snap);
	}
	return again->taken;
}

/* inv_snap_each: count the children of snapshot arg->id, their names into arg->names. */
struct kids {
	int64_t id;
	int n;
	char names[256];
};

static int count_kids(const struct inv_snapshot *s, void *arg)
{
	struct kids *k = arg;

	if (s->parent_id == k->id) {
		size_t l = strlen(k->names);

		snprintf(k->names + l, sizeof(k->names) - l, "%s%s", l ? ", " : "", s->name);
		k->n++;
	}
	return 0;
}

/* A snapshot delete's task: the merges planned at the request (layers.h), then the rows. */
struct del_job {
	int64_t vm, snap;
	char name[64], snapname[64], who[64];
	int n, i;
	struct task *t;
	struct layer_merge m[16];
};

static int plan_one(int64_t disk_id, const char *path, void *arg)
{
	struct { struct dbc *c; struct del_job *j; char *err; size_t errlen; } *p = arg;

	(void)disk_id;
	if (p->j->n >= 16)
		return -E2BIG;
	return layers_merge_plan(p->c, p->j->vm, path, &p->j->m[p->j->n++], p->err, p->errlen);
}

static void del_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct del_job *j = opaque;

	task_progress(j->t, (j->i + (total ? (double)done / total : 1.0)) / (j->n ? j->n : 1));
}

static int del_run(struct task *t, void *arg)
{
	struct del_job *j = arg;
	struct server *srv = task_server(t);
	struct inv_snapshot *s = malloc(sizeof(*s));
	struct layer_files f;
	char err[600] = "";
	struct dbc *c = NULL;
	int rc = s ? layer_files_init(&f) : -ENOMEM;

	if (rc) {
		free(s);
		return rc;
	}
	j->t = t;
	for (j->i = 0; !rc && j->i < j->n; j->i++)
		rc = layers_merge_files(&j->m[j->i], del_progress, j, err, sizeof(err));
	if (!rc) {
		c = inv_get(srv->db);
		rc = c ? inv_begin(c) : -EIO;
		if (rc)
			snprintf(err, sizeof(err), "inventory busy");
	}
	if (!rc && ((rc = inv_snap_get(c, j->vm, j->snapname, s)) || s->id != j->snap)) {
		snprintf(err, sizeof(err), "the snapshot went away meanwhile");
		rc = -ENOENT;
	}
	for (int i = 0; !rc && i < j->n; i++)
		rc = layers_merge_rows(c, &f, j->vm, &j->m[i]);
	if (!rc)
		rc = inv_snap_delete(c, s->id);
	if (!rc && s->current)
		rc = inv_snap_set_current(c, j->vm, s->parent_id);
	if (!rc)
		rc = layers_collect(c, &f);
	if (rc && !err[0])
		snprintf(err, sizeof(err), "inventory error");
	if (c && !rc) {
		rc = finish(srv, c, &f, 0, "vm-snapshot-deleted", "deleted", j->name, j->snapname,
			    j->who, err, sizeof(err));
		if (!rc) /* its memory goes with it (a revert's saved state keeps its own name) */
			snapmem_drop(srv, j->vm, j->snap);
	} else {
		if (c)
			inv_rollback(c);
		layer_files_end(&f, false);
	}
	if (c)
		inv_put(c);
	if (rc)
		task_error(t, "%s", err);
	free(s);
	return rc;
}

int snapshot_delete(struct server *srv, struct dbc *c, int64_t id, const char *name,
		    const char *snap, const char *who, int64_t *task, char *err, size_t errlen)
{
	struct inv_snapshot *s = malloc(sizeof(*s));
	struct del_job *j = calloc(1, sizeof(*j));
	struct kids k = { 0 };
	int rc;

	if (!s || !j) {
		free(s);
		free(j);
		return -ENOMEM;
	}
	rc = begin_off(srv, c, id, name, false, err, errlen);
	if (rc)
		goto out;
	rc = get_snap(c, id, name, snap, s, err, errlen);
	if (!rc) {
		k.id = s->id;
		rc = inv_snap_each(c, id, count_kids, &k);
		if (rc)
			snprintf(err, errlen, "inventory error");
	}
	if (!rc && k.n + s->current > 1) {
		snprintf(err, errlen, "snapshot %s has %d children (%s%s): its images cannot merge "
			 "into more than one; delete all but one of them first", snap,
			 k.n + s->current, k.names, s->current ? k.n ? ", and the current state" :
			 "the current state" : "");
		rc = -EBUSY;
	}
	if (!rc) {
		struct { struct dbc *c; struct del_job *j; char *err; size_t errlen; } p =
			{ c, j, err, errlen };

		j->vm = id;
		j->snap = s->id;
		snprintf(j->name, sizeof(j->name), "%s", name);
		snprintf(j->snapname, sizeof(j->snapname), "%s", snap);
		snprintf(j->who, sizeof(j->who), "%s", who);
		rc = inv_snap_images(c, s->id, plan_one, &p);
	}
	inv_rollback(c);   /* nothing was written: the task does it */
	if (!rc) {
		rc = task_start(srv, "vm-snapshot-delete", name, who, del_run, j, free, task);
		j = NULL;
		if (rc)
			snprintf(err, errlen, "cannot start the task: %s", strerror(-rc));
	}
out:
	free(s);
	free(j);
	return rc;
}
