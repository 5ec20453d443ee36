/* Snapshot trees of a VM's disks, and its memory with them (snapmem.h). Taking one freezes the image each
 * writable VHD disk runs on and puts a new top layer over it (layers.h); the snapshot
 * records the frozen image per disk and is the VM's current one. Revert gives the VM new
 * empty tops over a snapshot's images (the state since the current snapshot is dropped, as
 * Hyper-V's apply does; the abandoned branch stays while snapshots need it). Delete merges
 * the images around it: its image per disk takes in the one image over it (vhd_commit) when
 * that is the only one, and what sat over that one is pointed at it; a snapshot with two or
 * more children (snapshots, or its child snapshot and the current state) is refused, as
 * libvirt refuses and QEMU can merge into a single child only. Each call is one inventory
 * transaction with its event; the VM must be stopped or crashed (or saved, for memory),
 * without undo disks on the host (-EBUSY). */
#ifndef VSRV_SERVER_SNAPSHOT_H
#define VSRV_SERVER_SNAPSHOT_H

#include "server/server.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether VM id (named name) may have its disk layers changed now: 0, or -EBUSY with the
 * reason in why (it is not off; it has undo disks; an undo commit or a clone of it runs),
 * -errno. Under the caller's transaction. */
int snapshot_check_off(struct server *srv, struct dbc *c, int64_t id, const char *name,
		       char *why, size_t len);

/* Take snapshot snap (description desc, may be NULL) of VM id named name, off; with memory,
 * of the VM saved, its saved state becoming the snapshot's too (snapmem.h; -EBUSY when it is
 * not saved). 0, -EEXIST (the name is taken), -EINVAL (a writable disk is not VHD), -EBUSY,
 * -ENOSPC (error 507), -EIO, with a message in err. */
int snapshot_create(struct server *srv, struct dbc *c, int64_t id, const char *name,
		    const char *snap, const char *desc, bool memory, const char *who, char *err,
		    size_t errlen);

/* Take snapshot snap as the API asks: memory 1 (with memory), 0 (disks only) or -1 (with
 * memory when the VM runs or is paused: the default). A VM that runs or is paused, with
 * memory, is saved (sup_save: its VMM writes the state and ends, the disks closed), gets
 * the snapshot while saved, and starts again from that state over its new tops (a paused
 * one is paused again); a saved VM gives its saved state and stays saved. Without memory
 * one that runs or is paused gets a live snapshot (snaplive.h): committed with its disks
 * on the new tops, then its VMM switched onto them; -EIO when the switch failed, err
 * saying whether the snapshot was undone or stays (the inventory names images that hold
 * every write either way). Errors as snapshot_create's, or sup_save's (no snapshot then),
 * or -EIO when the VM did not start again (it is saved then). The caller holds no
 * transaction. */
/* A VM saved to take its snapshot with memory, to start again (snapshot_take's 1). */
struct snapshot_again {
	int taken;          /* the snapshot's result: 0, or -errno (its message in err) */
	bool paused;        /* it was paused: paused again once it runs */
};

/* With again, the start again of a VM saved for its snapshot is the caller's (1 returned,
 * *again set): sup_start, or sup_start_held with the start lock, then
 * snapshot_take_started with its result; again NULL: made here (sup_start). */
int snapshot_take(struct server *srv, struct dbc *c, int64_t id, const char *name,
		  const char *snap, const char *desc, int memory, const char *who,
		  struct snapshot_again *again, char *err, size_t errlen);

/* The end of snapshot_take once the VM saved for it was started again (started: that
 * start's result): snapshot_take's returns but 1 (err set by snapshot_take kept when
 * again->taken < 0). The caller holds no transaction nor the start lock. */
int snapshot_take_started(struct server *srv, struct dbc *c, int64_t id, const char *name,
			  const char *snap, const char *who, const struct snapshot_again *again,
			  int started, char *err, size_t errlen);

/* Revert VM id to its snapshot snap. Without memory the VM must be off and stays off (0);
 * with memory (snapmem.h) the VM's hardware must be the one the snapshot ran on (-EBUSY),
 * its run if any is turned off, its saved state if any replaced, and 1 returned: the
 * caller starts it (sup_start, or sup_start_held with the start lock: its start restores
 * the snapshot's state; when that start fails the VM stays saved at the snapshot).
 * -ENOENT (no such snapshot), -EBUSY, -EIO, with a message in err. The caller holds no
 * transaction. */
int snapshot_revert(struct server *srv, struct dbc *c, int64_t id, const char *name,
		    const char *snap, const char *who, char *err, size_t errlen);

/* Delete snapshot snap of VM id: checked and planned now, done by a task (kind
 * "vm-snapshot-delete", object the VM's name: the merges copy data, outside any inventory
 * transaction; then the rows and the event vm-snapshot-deleted in one). 0 and *task, or
 * -ENOENT, -EBUSY (two or more children; the VM not off), -EIO, with a message in err. */
int snapshot_delete(struct server *srv, struct dbc *c, int64_t id, const char *name,
		    const char *snap, const char *who, int64_t *task, char *err, size_t errlen);

/* VM id's snapshot tree as {"current": NAME|null, "snapshots": [{"name", "description",
 * "parent", "children", "current", "created", "memory", "memory_bytes" (null without),
 * "disks": [{"disk", "image", "allocated"}]}]}, oldest first. NULL when out of memory or on
 * an inventory error. */
json_t *snapshot_list_json(struct dbc *c, int64_t id);

/* How many snapshots VM id has (>= 0) or -EIO. */
int snapshot_count(struct dbc *c, int64_t id);

/* May VM id's disk list become disks (an edit's validated "disks" array)? A VM with
 * snapshots keeps its list (it is part of them); a disk it runs on a top layer for stays
 * attached writable (its data since the first snapshot or clone is in the layer). 0, or
 * -EBUSY with the reason in why, -errno. */
int snapshot_check_disks(struct dbc *c, int64_t id, const json_t *disks, char *why, size_t len);

#endif
