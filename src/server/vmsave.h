/* A VM's saved state (Virtual Server's "save state", docs/server.md "Saved state"): the file
 * DIR/save/saved.vsav in its directory (vmdir.h), written by its VMM's save (docs/savestate.md:
 * memory, devices and the VM's configuration), which a start restores (`vsrv run --restore`)
 * and removes once the VM runs again. The VM's state is "saved" (INV_VM_SAVED) while it has
 * one; discarding it or deleting the VM drops the file. The flows are sup_save.c's. */
#ifndef VSRV_SERVER_VMSAVE_H
#define VSRV_SERVER_VMSAVE_H

#include "server/server.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* DIR/save: the VMM writes there, as the user VMs run as (runas.h): the only part of the
 * VM's directory it may write. */
#define VMSAVE_DIR  "save"
#define VMSAVE_FILE "saved.vsav"

/* The saved state's path of VM id, into buf. 0 or -ENAMETOOLONG. */
int vmsave_path(struct server *srv, int64_t id, char *buf, size_t n);

/* Before a save: DIR/save (0700) owned by the user VMs run as (srv->run_as, when it is not
 * the server's own), and the data directory's vms/ and DIR passable by its group (search
 * only, as images_share does for the data directory), so that the sandboxed VMM can create
 * the file there. 0 or -errno. */
int vmsave_prepare(struct server *srv, int64_t id);

/* Whether VM id has a saved-state file (*st filled when st is not NULL). */
bool vmsave_exists(struct server *srv, int64_t id, struct stat *st);

/* {"bytes": N, "saved_at": UNIX-TIME} of VM id's saved state as a new object, or NULL when
 * it has none. */
json_t *vmsave_json(struct server *srv, int64_t id);

/* Remove VM id's saved-state file and DIR/save with what a save cut short left in it (none
 * is no error). 0 or -errno. */
int vmsave_remove(struct server *srv, int64_t id);

/* Whether VM id's state is saved (reads its status; false when it cannot be read). */
bool vmsave_state_saved(struct dbc *c, int64_t id);

/* Save VM id (running or paused) into its directory: its VMM writes the file and ends, the
 * supervisor records the state saved and the event vm-saved. Waits for both (up to the
 * save's own time and some seconds more). *out gets the VMM's reply (bytes, seconds: a new
 * reference) on success. 0, -EBUSY (not running or paused, or ending), -EIO with the VMM's
 * reason in err, -ETIMEDOUT, or -errno; err holds a one-line reason for every error. */
int sup_save(struct server *srv, struct dbc *c, int64_t id, const char *who, json_t **out,
	     char *err, size_t errlen);

/* Drop VM id's saved state: the file goes, the state becomes stopped (the VM starts afresh
 * next time), its undo disks get the VM's setting as after a power-off, event
 * vm-saved-discarded. 0, -EBUSY (the VM has no saved state) or -errno; err as above. */
int sup_discard_saved(struct server *srv, struct dbc *c, int64_t id, const char *who,
		      char *err, size_t errlen);

#endif
