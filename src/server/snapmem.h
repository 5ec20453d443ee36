/* A snapshot's memory and device state (docs/server.md "Snapshots with memory"): the file
 * DIR/snapshots/SNAPID.vsav in the VM's directory (vmdir.h), the save the VMM wrote
 * (vmsave.h) taken over by the snapshot, read-only from then on, and beside it
 * DIR/snapshots/SNAPID.hw, the VM's hardware as its VMM's options said at the snapshot (a
 * revert to the memory refuses hardware that changed since: the saved devices need theirs).
 * The inventory records the file's size with the snapshot (memory_bytes, 0: disks only), so
 * that every host of a cluster lists it alike; the file is on the host where it was taken.
 * A revert hands the file to the next start as the VM's saved state (a second name of the
 * same file: the restore reads it and maps it privately, never writes it). The file goes
 * with the snapshot. */
#ifndef VSRV_SERVER_SNAPMEM_H
#define VSRV_SERVER_SNAPMEM_H

#include "server/server.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Snapshot snap of VM vm's state file into buf. 0 or -ENAMETOOLONG. */
int snapmem_path(struct server *srv, int64_t vm, int64_t snap, char *buf, size_t n);

/* The size of snapshot snap's state file, or -1 when it has none (no memory). */
int64_t snapmem_bytes(struct server *srv, int64_t vm, int64_t snap);

/* Give snapshot snap of saved VM vm (a save file in DIR/save, vmsave.h) that state: the
 * file gets a second name DIR/snapshots/SNAPID.vsav (no copy) and loses its write
 * permissions (mode 0400; its owner stays the user the VMM runs as), and the VM's hardware
 * goes to SNAPID.hw. 0, or -errno with a message in err (nothing is left behind). */
int snapmem_keep(struct server *srv, struct dbc *c, int64_t vm, int64_t snap, char *err,
		 size_t errlen);

/* Whether VM vm's hardware now is the one snapshot snap's memory ran on: 0, -EBUSY with
 * what differs in err, or -errno with err. */
int snapmem_check_hw(struct server *srv, struct dbc *c, int64_t vm, int64_t snap, char *err,
		     size_t errlen);

/* Make snapshot snap's state file VM vm's saved state (DIR/save/saved.vsav, replacing any),
 * for the next start to restore; a saved state the VM had is kept aside (saved.vsav.prev)
 * until snapmem_install_end says whether the revert committed. 0 (then call
 * snapmem_install_end), or -errno with a message in err (nothing changed). */
int snapmem_install(struct server *srv, int64_t vm, int64_t snap, char *err, size_t errlen);

/* The end of snapmem_install's revert: committed, the VM's old saved state goes; not, it
 * comes back (or, when the VM had none, the snapshot's link goes). */
void snapmem_install_end(struct server *srv, int64_t vm, bool committed);

/* Remove snapshot snap's state and hardware files (none is no error). */
void snapmem_drop(struct server *srv, int64_t vm, int64_t snap);

/* Remove DIR/snapshots of VM vm with everything in it (its VM deleted). */
void snapmem_remove_all(struct server *srv, int64_t vm);

#endif
