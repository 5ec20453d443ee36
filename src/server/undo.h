/* Undo disks (Virtual Server's): with a VM's undo_disks setting other than "off", every
 * writable disk of the VM runs on a differencing VHD (DATA/vms/ID/undo-IDX.vhd) over the
 * disk, which is never written while the VM runs. When the VM ends (powered off, turned
 * off, shut down; not when it crashed, reset or was restarted by policy) the request's
 * choice or the setting decides: keep (the undo disks stay and the next start continues
 * on them), discard (deleted), commit (merged into the disks by a task, then deleted). */
#ifndef VSRV_SERVER_UNDO_H
#define VSRV_SERVER_UNDO_H

#include "server/server.h"

/* The image VM id runs on for its disk number idx (path, format): the undo disk, created
 * now over the disk unless it exists. Only VHD disks can have one (-EINVAL with a message
 * in err). Writes the path into out. 0 or -errno. */
int undo_prepare(struct server *srv, int64_t id, int idx, const char *path, const char *format,
		 char *out, size_t n, char *err, size_t errlen);

/* Apply action ("keep", "discard", "commit") to VM id's undo disks after it ended. A
 * commit runs as a task (kind "undo-commit", object the VM's name). Returns 0 or -errno. */
int undo_finish(struct server *srv, int64_t id, const char *name, const char *action,
		const char *who);

/* undo_finish for a caller that wants to know what was done: *count (may be NULL) receives
 * how many undo disks the action took (0: none, nothing was done), *task (may be NULL) the
 * id of the commit's task (0 for keep and discard). The VM must not run. 0 or -errno. */
int undo_apply(struct server *srv, int64_t id, const char *name, const char *action,
	       const char *who, int *count, int64_t *task);

/* VM id's undo disks on the host as a new JSON array (empty when none), by slot: for each
 * {"index" (the VM's disk slot), "parent" (the file it sits over, as its header records
 * it), "virtual_size", "file_size", "allocated" (bytes on the host), "created" (Unix time,
 * from its header), "error" (null, or why its metadata cannot be read)}. Looks without
 * taking the images' locks (as `img info -U`). NULL when out of memory. */
json_t *undo_list_json(struct server *srv, int64_t id);

/* The bytes VM id's undo disks take on the host: the sum of their files' sizes (a
 * differencing VHD's file grows as the guest writes blocks through it). */
int64_t undo_bytes(struct server *srv, int64_t id);

/* Record undo_bytes of VM id in the inventory (inv_vm_set_undo_bytes: its owner's
 * disk_bytes counts them) through c (NULL: a session of its own; never with c of a thread
 * that holds another session's transaction). *recorded (may be NULL) gets the bytes. Done
 * when the VM starts (after its undo disks are made or continued), while it runs (the
 * supervisor, as they grow), when it ends (keep: their final sizes; discard: 0) and as a
 * commit merges each. 0 or -errno. */
int undo_account(struct server *srv, struct dbc *c, int64_t id, int64_t *recorded);

/* Whether VM id has undo disks on the host (kept, or waiting for a commit). */
bool undo_pending(struct server *srv, int64_t id);

/* Before VM id (named name) starts: with its undo_disks setting off, undo disks kept from
 * an earlier run would be left behind while the disks under them change, and a later
 * commit would write their old data over the new. -EBUSY with the reason in why (len
 * bytes) then, else 0 (or -errno when the inventory cannot be read). */
int undo_check_start(struct server *srv, struct dbc *c, int64_t id, const char *name, char *why,
		     size_t len);

#endif
