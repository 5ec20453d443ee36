/* Clones and templates. A clone is a new VM with the source's configuration (its name and
 * description aside), new MACs on the same networks, and its own disks: a full clone copies
 * the data each writable disk of the source runs on (its chain read through) into a new
 * disk, as a task (kind "vm-clone", object the source's name; the new VM appears when it
 * is done); a linked clone is made at once: each writable disk's current image is frozen
 * (layers.h: the source gets a new top over it) and the clone's new disk is a differencing
 * VHD over it, kept while either needs it. Read-only disks are shared, attached read-only.
 * A template is a VM marked so (it cannot start); new VMs are made from it as clones. */
#ifndef VSRV_SERVER_CLONE_H
#define VSRV_SERVER_CLONE_H

#include "server/server.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct clone_req {
	int64_t src;                /* the source VM */
	const char *src_name;
	const char *name;           /* the new VM */
	const char *description;    /* NULL: the source's */
	bool linked;
	int64_t owner;              /* a user given every permission on what is made, or 0 */
	const char *who;
	/* Whether the caller may read disk disk_id (what GET /api/v1/disks/NAME needs): asked
	 * for every disk of the source, copied or shared, in the clone's transaction; NULL:
	 * every one. */
	bool (*may_read)(void *arg, int64_t disk_id);
	void *may_read_arg;
};

/* Clone q->src. Linked: 0 and *id (the new VM). Full: 0 and *task (the task that makes
 * it). -EACCES when q->may_read refuses one of the source's disks (err names its index,
 * not the disk: the caller may not see it), -EEXIST (the name, or a new disk's, is taken), -EBUSY (the source is not off, or
 * has undo disks), -EINVAL (a linked clone of a disk that is not VHD), -ENOSPC (answer
 * 507), -EIO; with a message in err. */
int clone_vm(struct server *srv, struct dbc *c, const struct clone_req *q, int64_t *id,
	     int64_t *task, char *err, size_t errlen);

/* Before VM id (named name) starts: -EBUSY with why when it is a template or a clone of
 * it is being copied; 0, or -EIO. */
int clone_check_start(struct dbc *c, int64_t id, const char *name, char *why, size_t len);

#endif
