/* Who uses a disk: before a VM starts, the server makes sure none of its disks is held by
 * another of its VMs, or locked by a process it does not know (a `vsrv run` started by
 * hand, QEMU), in a way that conflicts: a writer excludes every other user, readers share
 * (read-only attachments, and the disks a VM with undo disks runs over). The VMM's own
 * image locks (lib/vhd) hold whatever happens here; this check names the VM in the way. */
#ifndef VSRV_SERVER_DISKUSE_H
#define VSRV_SERVER_DISKUSE_H

#include "server/server.h"

#include <stddef.h>
#include <stdint.h>

/* Whether VM id may start on its disks now. 0, or -EBUSY with why set to a message naming
 * the disk and the VM that holds it ("disk 'd1' is in use by VM 'web' (read-write)") or
 * saying that another process has it locked; -errno for a database error. A VM that runs
 * (or is starting, paused, stopping) is not checked: 0 (its own VMM holds its disks; the
 * start is for the caller to refuse). Under the caller's transaction or not. */
int diskuse_check_start(struct server *srv, struct dbc *c, int64_t id, char *why, size_t len);

#endif
