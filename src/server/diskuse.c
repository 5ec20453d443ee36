/* Who uses a disk. See diskuse.h. */
#include "server/diskuse.h"
#include "server/inv.h"
#include "server/layers.h"

#include "vhd/vhd.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* What held_by_vm finds: the first user in conflict, writers before readers, by name. */
struct holder {
	struct dbc *c;
	int64_t id;                 /* the VM starting */
	bool writes;                /* it writes the disk */
	bool found, they_write;
	char *who;
	size_t len;
};

static int find_holder(const struct inv_vm *v, const struct inv_vm_disk *d, void *arg)
{
	struct holder *h = arg;
	/* A VM with undo disks only reads the disks under them. */
	bool they_write = !d->readonly && !strcmp(v->undo_disks, "off");
	char top[4400];
	bool is_top = false;

	/* nor does a VM that runs on a top layer over the disk (layers.h) */
	if (they_write && !layers_top_path(h->c, v->id, d->disk_id, d->path, top, sizeof(top),
					   &is_top) && is_top)
		they_write = false;

	/* a saved VM holds its disks as it did running: its saved state goes on from them */
	if (v->id == h->id || (!inv_vm_state_up(v->state) && strcmp(v->state, INV_VM_SAVED)) ||
	    !(h->writes || they_write))
		return 0;
	if (!h->found || (they_write && !h->they_write)) {
		snprintf(h->who, h->len, "'%s' (%s)", v->name, they_write ? "read-write" : "read-only");
		h->found = true;
		h->they_write = they_write;
	}
	return 0;
}

/* Another of the server's VMs holding disk_id in a way that conflicts with a user that
 * writes it (writes) or reads it: its name into who. 1 found, 0 none, -errno. */
static int held_by_vm(struct dbc *c, int64_t id, int64_t disk_id, bool writes, char *who,
		      size_t len)
{
	struct holder h = { .c = c, .id = id, .writes = writes, .who = who, .len = len };
	int rc = inv_disk_users(c, disk_id, find_holder, &h);

	return rc < 0 ? rc : h.found;
}

/* What diskuse_check_start carries from disk to disk. */
struct start_check {
	struct dbc *c;
	int64_t id;
	bool undo;                  /* the VM runs on undo disks: it only reads its disks */
	char *why;
	size_t len;
};

static int check_disk(const struct inv_vm_disk *d, void *arg)
{
	struct start_check *sc = arg;
	bool writes = !d->readonly && !sc->undo, is_top = false;
	char who[128], top[4400];
	int r = layers_top_path(sc->c, sc->id, d->disk_id, d->path, top, sizeof(top), &is_top);

	if (r < 0)
		return r;
	if (is_top)
		writes = false; /* it writes its top layer, only reads the disk */
	else if (writes && (r = layers_frozen(sc->c, d->path)) != 0) {
		if (r < 0)
			return r;
		snprintf(sc->why, sc->len, "disk '%s' is frozen: snapshots or linked clones of "
			 "another VM sit over it (attach it read-only, or clone that VM)", d->disk);
		return -EBUSY;
	}
	r = held_by_vm(sc->c, sc->id, d->disk_id, writes, who, sizeof(who));
	if (r < 0)
		return r;
	if (r) {
		snprintf(sc->why, sc->len, "disk '%s' is in use by VM %s", d->disk, who);
		return -EBUSY;
	}
	if (vhd_lock_path_test(d->path, writes ? VHD_LOCK_EXCL : VHD_LOCK_SHARED) == -EBUSY) {
		snprintf(sc->why, sc->len, "disk '%s' is in use by another process (its image is "
			 "locked: a VM started by hand, or another program)", d->disk);
		return -EBUSY;
	}
	return 0;
}

int diskuse_check_start(struct server *srv, struct dbc *c, int64_t id, char *why, size_t len)
{
	struct start_check sc = { .c = c, .id = id, .why = why, .len = len };
	struct inv_vm v;
	int rc;

	(void)srv;
	rc = inv_vm_get(c, id, &v);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	/* a VM that runs holds its disks itself: its start is refused for its state */
	if (inv_vm_state_up(v.state)) {
		inv_vm_clear(&v);
		return 0;
	}
	sc.undo = strcmp(v.undo_disks, "off") != 0;
	inv_vm_clear(&v);
	return inv_vm_disks(c, id, check_disk, &sc);
}
