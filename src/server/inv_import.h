/* Import a host's own inventory (SQLite) into a cluster's (etcd): `vsrv serve --cluster URL
 * --inventory etcd --import-inventory` (docs/cluster.md, "A host joins a cluster"). Written
 * over the inventory interface (inv.h) on both sides, so it knows no backend's rows.
 *
 * What moves: users (with their password hashes: they log in as before) and groups with
 * their memberships, networks, disks, VMs with their hardware (the SMBIOS UUID kept), disk,
 * NIC (MAC kept) and CD/DVD attachments and template mark, disk layers, snapshot trees with
 * their images and current snapshot, grants (on the server and on each VM, disk and
 * network), hooks, images' owners (the files stay in DATA/images). What does not: events
 * and tasks (history: it stays in the SQLite file), sessions (users log in again), VMs' run
 * status (every VM arrives stopped, but a saved one stays saved: its state file moves with
 * its directory).
 *
 * Ids are the cluster's: every object gets a new one, and references follow. A VM's
 * runtime directory DATA/vms/ID (undo disks, UEFI variables, logs) is renamed to its new
 * id. A user or group whose name the cluster has already is the cluster's (its password
 * and admin flag stay; the host's memberships and grants are added to it); a network of a
 * name the cluster has is the cluster's when its kind, bridge and subnet are the same.
 * Everything else that is already taken in the cluster (a VM, disk or network name, a
 * disk or layer path, a MAC) refuses the whole import before anything is written. */
#ifndef VSRV_SERVER_INV_IMPORT_H
#define VSRV_SERVER_INV_IMPORT_H

#include "server/inv.h"

#include <stddef.h>

/* What an import did. */
struct inv_import_counts {
	int users, groups, networks, disks, vms, layers, snapshots, grants, hooks;
	int users_merged, groups_merged, networks_merged;
};

/* Import the inventory src (a host's) into dst (the cluster's); data_dir: the host's data
 * directory, whose vms/ID directories are renamed. Refuses (-EBUSY) while a VM of src is up
 * (stop them first), and (-EEXIST) when something it would create is taken in dst: then
 * nothing is written. 0 and *counts, or -errno with a one-line reason in err. An error
 * after the first write (etcd failing) leaves what was written (err says how far it got);
 * src is never written. */
int inv_import(struct db *src, struct db *dst, const char *data_dir,
	       struct inv_import_counts *counts, char *err, size_t errlen);

/* The host's inventory DATA/inventory.db into dst as inv_import does; once it is in, the
 * file (with its -wal and -shm) is renamed DATA/inventory.db.imported, so that it is never
 * imported twice and its history (events, tasks) stays readable. -ENOENT (with err) when
 * there is no such file. */
int inv_import_data_dir(struct db *dst, const char *data_dir,
			struct inv_import_counts *counts, char *err, size_t errlen);

/* What DATA/inventory.db would bring into a cluster: its VMs, disks and networks counted
 * into counts (the rest zero; all zero when there is no such file). Opening it brings its
 * schema to the newest, as any start would. 0, or -errno when it cannot be read. */
int inv_import_pending(const char *data_dir, struct inv_import_counts *counts);

#endif
