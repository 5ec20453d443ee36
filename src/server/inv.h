/* The inventory interface: what the services (supervisor, VM lifecycle, disks, networks,
 * tasks, events, hooks) and the HTTP handlers know of the server's stored state. Typed
 * objects and functions, no SQL. Two backends implement it (inv_ops.h, dispatched by inv.c):
 * SQLite (inv_sqlite*.c, on the connection pool of db.c), a single host's default, and etcd
 * (inv_etcd*.c), a cluster's; the callers never know which they have. See docs/server.md.
 *
 * Sessions and transactions. A struct dbc is an inventory session: one connection of the
 * pool, taken per request (struct req's c) or per thread, opaque above this layer. Reads
 * outside a transaction see the last committed state. inv_begin/inv_commit/inv_rollback
 * bracket a write transaction: everything written between them (and the events recorded
 * through the same session, events.h) commits together or not at all. SQLite serialises
 * writers (BEGIN IMMEDIATE), so a check made inside the transaction still holds at the
 * commit. etcd has no long transactions: its implementation keeps the writes of the session
 * and commits them as one Txn whose compare list holds the revision of every object read for
 * the writes (below), failing the commit with -EAGAIN when one changed; callers already
 * treat a failed commit as "nothing was changed".
 *
 * Revisions. Every object carries rev: a number that every committed write of the object
 * raises (SQLite: a column bumped by each write through this interface; etcd: the key's
 * mod_revision). A write may name the revision it read (expect_rev, 0 for "any"): when the
 * object has since changed the write fails with -EAGAIN and changes nothing, so a
 * read-modify-write cycle across two servers cannot lose an update.
 *
 * Watching. A cache or a follower learns of changes from inv_generation() (any committed
 * write, SQLite) and from the event hub (events.h: every change a user sees is an event,
 * committed with it). On etcd both are a watch on the inventory's prefix from a revision;
 * the events table already is that log (id = revision order), so followers need no change.
 *
 * Status and configuration. A VM's configuration (what a user edits: hardware, policy) and
 * its status (what the supervisor records: state, monitor pid, last exit, restarts) are
 * written by different functions, so a user's edit and the supervisor's state change never
 * overwrite each other (on etcd: two keys, /vms/ID/config and /vms/ID/status).
 *
 * Errors: 0, -ENOENT (no such object), -EEXIST (a name or a unique field is taken),
 * -EAGAIN (expect_rev differs), -EINVAL (a value the store refuses), -EIO (the store failed;
 * logged once where it happened), -ENOMEM. */
#ifndef VSRV_SERVER_INV_H
#define VSRV_SERVER_INV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define INV_MEMORY_BUFFER_PCT 20   /* memory_buffer_pct's default (Hyper-V's) */

struct db;
struct dbc;
struct etcd_kv;

/* --- the store and its sessions --------------------------------------------------------- */

/* Open (creating when missing) the store at path (SQLite: a file, its schema brought to the
 * newest version). 0 and *out (close with inv_close), or -errno. */
int inv_open(const char *path, struct db **out);
void inv_close(struct db *db);

/* Open the inventory kept in etcd (a cluster's: docs/cluster.md), under the key prefix
 * (NULL: "/vsrv/inv/") of the members in endpoints (etcd_open's list), each etcd call
 * bounded by timeout_ms. 0 and *out (close with inv_close), -EINVAL, -ENOMEM, or the
 * etcd client's error when no member answers (logged). */
int inv_etcd_open(const char *endpoints, const char *prefix, unsigned timeout_ms,
		  struct db **out);
#define INV_ETCD_TIMEOUT_MS 5000

/* Take a session (NULL when none can be opened, logged) and give it back. A session is for
 * one thread at a time: a request's, a task's, the supervisor's. */
struct dbc *inv_get(struct db *db);
void inv_put(struct dbc *c);

/* A counter raised by every committed write: a cache read under one value is valid while
 * the counter keeps it (SQLite: db_generation; etcd: the store's revision). */
uint64_t inv_generation(struct db *db);

/* The backend of db: "sqlite" or "etcd" (static text). */
const char *inv_backend(struct db *db);

/* --- transactions ------------------------------------------------------------------- */

/* Begin a write transaction on c (waiting for other writers), commit it, or roll it back.
 * inv_begin and inv_commit return 0 or -EIO (inv_commit: -EAGAIN on a revision conflict);
 * a commit that fails has rolled everything back. */
int inv_begin(struct dbc *c);
int inv_commit(struct dbc *c);
void inv_rollback(struct dbc *c);

/* A write transaction whose commit failed with -EAGAIN (etcd: something it read changed
 * meanwhile; nothing was written) is run again from its reads and checks: at most this
 * many attempts in all, the same for every caller. */
#define INV_COMMIT_TRIES 10

/* --- every object ------------------------------------------------------------------- */

/* The id of the object of kind ("vm", "disk", "network": the kinds grants name) named name.
 * 0 and *id, -ENOENT (also for another kind) or -EIO. */
int inv_object_id(struct dbc *c, const char *kind, const char *name, int64_t *id);

/* --- VMs ------------------------------------------------------------------------------ */

/* The states of a VM (docs/server.md has the machine and the events that move it). */
#define INV_VM_STOPPED "stopped"
#define INV_VM_STARTING "starting"
#define INV_VM_RUNNING "running"
#define INV_VM_PAUSED "paused"
#define INV_VM_STOPPING "stopping"
#define INV_VM_CRASHED "crashed"
/* Off, with its memory and devices in its saved-state file (vmsave.h): a start restores it. */
#define INV_VM_SAVED "saved"

/* One VM. The strings are the struct's own (malloc'd by inv_vm_get, freed by inv_vm_clear);
 * a caller filling one for inv_vm_create/inv_vm_put sets them to strings it owns and does
 * not call inv_vm_clear. NULL initrd: none; NULL last_exit: the VM never ran. */
struct inv_vm {
	int64_t id;
	uint64_t rev;
	char name[64];
	/* configuration */
	char *description;
	int cpus;
	int64_t memory_mib;
	char *kernel;
	char *initrd;
	char *cmdline;
	char restart_policy[16];    /* never, on-failure, always */
	bool autostart;
	char undo_disks[16];        /* off, keep, commit, discard (undo.h) */
	int cpu_limit;              /* percent of one CPU, 0: none (cgroup.h) */
	int cpu_weight;
	int64_t memory_reserve_mib; /* 0: memory_mib is reserved */
	int64_t created, updated;   /* Unix time */
	/* status (the supervisor's) */
	char state[16];             /* INV_VM_* */
	pid_t monitor_pid;
	int64_t started;            /* Unix time it last became running */
	char *last_exit;            /* sup_exit.h's record, JSON text */
	int restarts;
};

/* Free the strings of v (from inv_vm_get) and zero it. NULL-safe. */
void inv_vm_clear(struct inv_vm *v);

/* Whether state is an up state: a VMM of the VM may run (starting, running, paused,
 * stopping). */
bool inv_vm_state_up(const char *state);

/* The memory a VM holds from admission control while up: its reservation, or all of
 * memory_mib without one. */
int64_t inv_vm_reserved_mib(const struct inv_vm *v);

/* The id of the VM named name: 0 and *id, -ENOENT or -EIO. */
int inv_vm_id(struct dbc *c, const char *name, int64_t *id);

/* Read VM id into *out (free its strings with inv_vm_clear). 0, -ENOENT or -EIO. */
int inv_vm_get(struct dbc *c, int64_t id, struct inv_vm *out);

/* A hint: the session's next reads are VM id's rows (inv_vm_get, inv_vm_template,
 * inv_vm_disks, inv_vm_nics, inv_vm_cdroms, inv_vm_hw_get: a VM's rendering), to be made at
 * once (in a transaction: at once after its commit). On etcd they are read now in one
 * round trip (in a transaction: in its commit's, after its writes) and answer those reads
 * once (any other read or a write drops them); elsewhere nothing. 0, -EIO. */
int inv_vm_read_ahead(struct dbc *c, int64_t id);

/* A hint, in a transaction: the reads of VM id's start come next (its rows, drives, NICs
 * and CD/DVD drives, every VM's row and status, which the host's reservation sums, and the
 * running tasks: sup.c's start_locked, placement_need and the start's checks). On etcd
 * they are read now in one round trip and answer the transaction's reads of them (compared
 * at its commit as its own reads would be); outside a transaction, and elsewhere, nothing.
 * 0, -EIO or -ENOMEM. */
int inv_vm_start_read(struct dbc *c, int64_t id);

/* A hint, in a transaction: the reads of VM id's delete come next (its status, the running
 * tasks and the layers, which DELETE /api/v1/vms/NAME checks, and what inv_vm_delete's
 * cascades read). On etcd they are read now in one round trip and answer the
 * transaction's reads of them, compared at its commit as its own reads would be (a task
 * started or a layer made meanwhile fails the commit: -EAGAIN); outside a transaction,
 * and elsewhere, nothing. 0, -EIO or -ENOMEM. */
int inv_vm_delete_read(struct dbc *c, int64_t id);

/* A key outside the inventory in the same etcd (the cluster's: a VM's ownership key,
 * cluster.h) that the request reads later: on etcd it is read with the session's next read
 * of a VM's rows (the name's lookup, inv_vm_read_ahead, the commit's read), in their round
 * trip, and inv_side_take answers it once; elsewhere nothing. One key per session (a new
 * one replaces it); it goes with the session. key is copied. */
int inv_side_want(struct dbc *c, const char *key);

/* The value of the key inv_side_want named, as read with the rows (taken: a second call
 * says -ENODATA): 0, *value (malloc'd, NUL-terminated: free it) and *len; -ENOENT when it
 * was absent; -ENODATA when it was not read (another key, or no such read came: read it
 * yourself); -ENOMEM. */
int inv_side_take(struct dbc *c, const char *key, char **value, size_t *len);

/* Keys outside the inventory in the same etcd (the cluster's: its hosts, its VMs'
 * ownership and placement keys, cluster.h) that a transaction's request reads later
 * (a VM's start: its placement and reservation): on etcd every key under prefix is read
 * with the transaction's next read of rows (inv_vm_start_read), in its round trip and at
 * its revision, but not as the transaction's own read (not compared at its commit, as a
 * read of them alone would not be); inv_side_take_range answers it once. Up to two
 * prefixes a transaction; they go with its end. prefix is copied. Elsewhere nothing.
 * 0, -ENOMEM or -E2BIG (a third). */
int inv_side_want_range(struct dbc *c, const char *prefix);

/* Each key read under prefix (inv_side_want_range), in key order, to fn (a non-zero
 * return stops the walk and is returned; kv valid during the call), taken (a second call
 * says -ENODATA): 0; -ENODATA when it was not read (read it yourself). */
int inv_side_take_range(struct dbc *c, const char *prefix,
			int (*fn)(const struct etcd_kv *kv, void *arg), void *arg);

/* In a transaction on etcd: the put of key (outside the inventory: the cluster's, as a
 * VM's placement) = value (len bytes, copied) joins the transaction's commit, written only
 * when it commits. 0 or -ENOMEM; -ENOTSUP outside a transaction and elsewhere (write it
 * yourself). */
int inv_side_put(struct dbc *c, const char *key, const char *value, size_t len);

/* In a transaction on etcd: key (outside the inventory: a VM's ownership key, claimed
 * before the commit by a call of its own) must still be at mod_rev when the transaction
 * commits, else the commit fails (-EAGAIN) as when a key it read had changed. 0 or -ENOMEM;
 * -ENOTSUP outside a transaction and elsewhere (nothing to compare it with). */
int inv_side_compare(struct dbc *c, const char *key, int64_t mod_rev);

/* A VM's status alone (what inv_vm_get reads under "status", with the name), for the
 * frequent readers that need no configuration (GET .../status, state checks; on etcd the
 * status key alone). last_exit is the struct's own: free with inv_vm_status_clear. */
struct inv_vm_status {
	char name[64];
	char state[16];
	pid_t monitor_pid;
	int64_t started;
	char *last_exit;
	int restarts;
};

/* Read VM id's status into *out: 0, -ENOENT, -ENOMEM or -EIO. */
int inv_vm_get_status(struct dbc *c, int64_t id, struct inv_vm_status *out);
void inv_vm_status_clear(struct inv_vm_status *st);

/* Call fn for every VM, oldest first (by id), until it returns non-zero (that value is returned). The
 * struct is valid during the call only. 0, fn's value, or -EIO. */
int inv_vm_each(struct dbc *c, int (*fn)(const struct inv_vm *v, void *arg), void *arg);

/* A page of the VMs by name (offset, at most limit), fn called for each as for inv_vm_each:
 * every VM when viewer < 0, else those that user viewer (with its groups) holds view on
 * through a grant on the VM itself (a grant on the server is the caller's to check: then
 * pass -1). *total: how many VMs the whole list has. 0, fn's value, or -EIO. */
int inv_vm_page(struct dbc *c, int64_t viewer, int64_t offset, int64_t limit, int64_t *total,
		int (*fn)(const struct inv_vm *v, void *arg), void *arg);

/* Create a VM from v's name and configuration (its status starts stopped; created and
 * updated are set to now; id and rev are ignored). 0 and *id, -EEXIST (the name is taken),
 * -EIO. */
int inv_vm_create(struct dbc *c, const struct inv_vm *v, int64_t *id);

/* Write v's configuration (not its name, id or status) over VM v->id and set updated to
 * now. expect_rev: v->rev must still be the stored revision (else -EAGAIN); 0: any.
 * 0, -ENOENT, -EAGAIN, -EIO. */
int inv_vm_put(struct dbc *c, const struct inv_vm *v, bool expect_rev);

/* Delete VM id with its attachments (disks and NICs stay) and its grants. 0, -ENOENT, -EIO. */
int inv_vm_delete(struct dbc *c, int64_t id);

/* The supervisor's writes of a VM's status. inv_vm_set_state: state and monitor pid, and
 * last_exit unless NULL; entering running from anything but paused sets started to now.
 * inv_vm_set_pid: the monitor pid only. inv_vm_count_restart: restarts + 1.
 * inv_vm_promote: starting -> running (started now) only when the VM is still starting
 * under monitor pid; 0 when it was, -ESRCH when the VM moved on (-ENOENT: deleted).
 * inv_vm_mark_stopping: stopping, unless the VM is stopped, crashed or saved (a final state stays;
 * 0 either way). Each returns 0 or -EIO besides what is named; a write of a missing VM is
 * no error but for inv_vm_promote. Each raises the VM's rev. */
int inv_vm_set_state(struct dbc *c, int64_t id, const char *state, pid_t pid,
		     const char *last_exit);
int inv_vm_set_pid(struct dbc *c, int64_t id, pid_t pid);
int inv_vm_count_restart(struct dbc *c, int64_t id);
int inv_vm_promote(struct dbc *c, int64_t id, pid_t pid);
int inv_vm_mark_stopping(struct dbc *c, int64_t id);

/* --- attachments: a VM's disks ----------------------------------------------------- */

/* Disk number idx of a VM (its place in the VM's list, the VMM's order). The strings are
 * valid during the callback only. */
struct inv_vm_disk {
	int idx;
	int64_t disk_id;
	const char *disk;           /* the disk's name */
	const char *path;           /* its image */
	const char *format;         /* raw, vhd */
	const char *bus;            /* virtio-blk, scsi */
	bool readonly;
};

/* Call fn for every disk attached to VM id, by idx, until it returns non-zero (that value
 * is returned). 0, fn's value or -EIO. */
int inv_vm_disks(struct dbc *c, int64_t id, int (*fn)(const struct inv_vm_disk *d, void *arg),
		 void *arg);

/* Replace VM id's disks: clear them, then add them one by one in order. Under the caller's
 * transaction. 0, -EEXIST (idx taken) or -EIO. */
int inv_vm_disks_clear(struct dbc *c, int64_t id);
int inv_vm_disk_add(struct dbc *c, int64_t id, int idx, int64_t disk_id, const char *bus,
		    bool readonly);

/* Call fn for every attachment of disk disk_id with the VM it belongs to, by the VM's name
 * (then idx), until fn returns non-zero (that value is returned). A VM that has the disk
 * twice comes twice. 0, fn's value, -ENOMEM or -EIO. */
int inv_disk_users(struct dbc *c, int64_t disk_id,
		   int (*fn)(const struct inv_vm *v, const struct inv_vm_disk *d, void *arg),
		   void *arg);

/* Call fn for every disk attached to VM id and to no other VM (the disks that go with it),
 * by id, with the disk's id and image path (valid during the call), until fn returns
 * non-zero (that value is returned). 0, fn's value or -EIO. */
int inv_vm_sole_disks(struct dbc *c, int64_t id,
		      int (*fn)(int64_t disk_id, const char *path, void *arg), void *arg);

/* --- attachments: a VM's NICs ------------------------------------------------------- */

/* NIC number idx of a VM with its network. The strings are valid during the callback
 * only; bridge, subnet and dhcp_start may be NULL. */
struct inv_vm_nic {
	int idx;
	int64_t network_id;
	const char *network;        /* the network's name */
	const char *kind;           /* nat, bridged, internal */
	const char *bridge;
	const char *subnet;
	const char *dhcp_start;
	const char *mac;
	const char *model;          /* virtio or e1000 (inv_vm_nic_set_model) */
};

/* Call fn for every NIC of VM id, by idx, until it returns non-zero (that value is
 * returned). 0, fn's value or -EIO. */
int inv_vm_nics(struct dbc *c, int64_t id, int (*fn)(const struct inv_vm_nic *n, void *arg),
		void *arg);

/* Replace VM id's NICs: clear them, then add them one by one in order. Under the caller's
 * transaction. 0, -EEXIST (the MAC is another NIC's, or idx is taken) or -EIO. */
int inv_vm_nics_clear(struct dbc *c, int64_t id);
int inv_vm_nic_add(struct dbc *c, int64_t id, int idx, int64_t network_id, const char *mac);

/* Whether a NIC of any VM has mac. 1, 0 or -EIO. */
int inv_mac_used(struct dbc *c, const char *mac);

/* --- a VM's hardware: firmware, boot order, UUID (migration 7) ----------------------- */

/* firmware: none (the VMM loads the VM's kernel), bios or uefi; boot: the firmware's boot
 * order, devices separated by commas ("cdrom,disk"; "" the firmware's own); uuid: the VM's
 * SMBIOS UUID, given to every VM when it is created (inv_vm_create); os_type: the preset
 * the VM was created with ("" none); balloon: the VM has a memory balloon (migration 8: on
 * for a VM created since, off for one that existed before). */
struct inv_vm_hw {
	char firmware[8];
	char boot[32];
	char uuid[40];
	char os_type[16];
	bool balloon;
	char display[8];            /* none, bochs; "": by the firmware (migration 9) */
	char enlightenments[8];     /* kvm, hyperv, xen, none; "": by the os_type (migration 10) */
	bool mem_merge;             /* KSM for its RAM: `vsrv run --mem-merge on` (migration 10) */
	/* dynamic memory (dynmem.h, migration 12): the floor the server never balloons it
	 * below, 0 for its memory_mib (dynamic memory off), and the free memory its guest
	 * should keep, in percent of what it uses (default INV_MEMORY_BUFFER_PCT) */
	int64_t memory_min_mib;
	int memory_buffer_pct;
};

/* VM id's hardware into *out. 0, -ENOENT or -EIO. */
int inv_vm_hw_get(struct dbc *c, int64_t id, struct inv_vm_hw *out);

/* Write firmware, boot, os_type, balloon, display, enlightenments, mem_merge, memory_min_mib
 * and memory_buffer_pct of hw for VM id (the UUID stays). 0,
 * -ENOENT or -EIO. */
int inv_vm_hw_put(struct dbc *c, int64_t id, const struct inv_vm_hw *hw);

/* Set VM id's SMBIOS UUID (an inventory import keeps the VM's own: a guest may tie its
 * licence or its identity to it). 0, -ENOENT or -EIO. */
int inv_vm_hw_set_uuid(struct dbc *c, int64_t id, const char *uuid);

/* Give VM dst (a clone of src, its NICs and drives added) src's firmware, boot order,
 * os_type, balloon, NIC models and drive buses (its own UUID stays). 0 or -EIO. */
int inv_vm_hw_copy(struct dbc *c, int64_t src, int64_t dst);

/* The model of NIC idx of VM id (virtio, e1000); the bus of its CD/DVD drive idx
 * (virtio-scsi, ahci). A NIC or drive added by inv_vm_nic_add/inv_vm_cdrom_add has the
 * first. Under the caller's transaction. 0, -ENOENT (no such NIC or drive) or -EIO. */
int inv_vm_nic_set_model(struct dbc *c, int64_t id, int idx, const char *model);
int inv_vm_cdrom_set_bus(struct dbc *c, int64_t id, int idx, const char *bus);

/* --- attachments: a VM's CD/DVD drives ------------------------------------------------ */

/* CD/DVD drive number idx of a VM (the VMM's order among the drives) with the name of the
 * image-store image in it, or NULL for an empty drive. The string is valid during the
 * callback only. */
struct inv_vm_cdrom {
	int idx;
	const char *image;
	const char *bus;            /* virtio-scsi or ahci (inv_vm_cdrom_set_bus) */
};

/* Call fn for every CD/DVD drive of VM id, by idx, until it returns non-zero (that value is
 * returned). 0, fn's value or -EIO. */
int inv_vm_cdroms(struct dbc *c, int64_t id, int (*fn)(const struct inv_vm_cdrom *d, void *arg),
		  void *arg);

/* Replace VM id's drives: clear them, then add them one by one in order (image NULL: an
 * empty drive). Under the caller's transaction. 0, -EEXIST (idx taken) or -EIO. */
int inv_vm_cdroms_clear(struct dbc *c, int64_t id);
int inv_vm_cdrom_add(struct dbc *c, int64_t id, int idx, const char *image);

/* Put image (NULL: none) in drive idx of VM id. 0, -ENOENT (no such drive) or -EIO. */
int inv_vm_cdrom_set(struct dbc *c, int64_t id, int idx, const char *image);

/* Call fn for every drive of any VM that holds image, with its VM, by the VM's name (then
 * idx), until fn returns non-zero (that value is returned). 0, fn's value, -ENOMEM or
 * -EIO. */
int inv_image_cdrom_users(struct dbc *c, const char *image,
			  int (*fn)(const struct inv_vm *v, int idx, void *arg), void *arg);

/* --- images' owners --------------------------------------------------------------------- */

/* Who an image of the image store (by name) belongs to: owner, the user who uploaded it (0:
 * none, an administrator made it private), and whether every user may see it. An image
 * without a row is public (the host placed it in the images directory). */
struct inv_image {
	char name[256];
	int64_t owner;
	bool public;
	/* the image's bytes (while it uploads: what its owner's quota holds for it); a private
	 * image's count in its owner's usage (disk_bytes, inv_usage) */
	int64_t bytes;
	/* a shared inventory's (etcd; SQLite keeps none: ""): the cluster hosts whose
	 * DATA/images hold a copy, comma-separated, each with its copy's size: HOST=BYTES
	 * (imgacl.c; none: a stale row) */
	char hosts[1024];
};

/* inv_image_get: the row of image name into *out, 0 or -ENOENT; inv_image_each: fn for
 * every row, by name, until it returns non-zero (that value is returned); inv_image_put
 * writes one (replacing it); inv_image_delete drops the row of name (none: 0). -EIO. */
int inv_image_get(struct dbc *c, const char *name, struct inv_image *out);
int inv_image_each(struct dbc *c, int (*fn)(const struct inv_image *i, void *arg), void *arg);
int inv_image_put(struct dbc *c, const struct inv_image *i);
int inv_image_delete(struct dbc *c, const char *name);

/* --- disks and grants ------------------------------------------------------------------ */

/* One disk: an image file of the server's storage directory. */
struct inv_disk {
	int64_t id;
	char name[64];
	char format[16];            /* raw, vhd */
	int64_t size;               /* bytes the guest sees */
	char path[4400];
	int64_t created;            /* Unix time */
};

/* Read disk id into *out: 0, -ENOENT or -EIO. */
int inv_disk_get(struct dbc *c, int64_t id, struct inv_disk *out);

/* Call fn for every disk, by name, until it returns non-zero (that value is returned).
 * 0, fn's value or -EIO. */
int inv_disk_each(struct dbc *c, int (*fn)(const struct inv_disk *d, void *arg), void *arg);

/* Record a disk (name, format, size, path; created now). 0 and *id, -EEXIST (the name or
 * the path is taken) or -EIO. */
int inv_disk_create(struct dbc *c, const struct inv_disk *d, int64_t *id);

/* Record disk id's size. 0 or -EIO. */
int inv_disk_set_size(struct dbc *c, int64_t id, int64_t size);

/* Delete disk id (with its grants). 0, -ENOENT, -EEXIST (still attached) or -EIO. */
int inv_disk_delete(struct dbc *c, int64_t id);

/* One grant on an object: to a principal (ptype "user" or "group", pid, its name: NULL
 * when it no longer exists), the permission bits perms (server.h's PERM_*). The strings
 * are valid during the callback only. */
struct inv_grant {
	const char *ptype;
	int64_t pid;
	const char *pname;
	int perms;
};

/* Call fn for every grant on the object (otype, oid), by principal type and name, until it
 * returns non-zero (that value is returned). 0, fn's value or -EIO. */
int inv_grant_each(struct dbc *c, const char *otype, int64_t oid,
		   int (*fn)(const struct inv_grant *g, void *arg), void *arg);

/* Drop every grant on the object (otype, oid). 0 or -EIO. */
int inv_grants_clear(struct dbc *c, const char *otype, int64_t oid);

/* Add perms to what the principal named pname (ptype "user" or "group") holds on the object
 * (otype, oid). 0, -ENOENT (no such principal) or -EIO. */
int inv_grant_merge(struct dbc *c, const char *otype, int64_t oid, const char *ptype,
		    const char *pname, int perms);

/* Grant principal (ptype "user" or "group", pid) the permission bits perms on the object
 * (otype, oid), a new grant. 0, -EEXIST (there is one) or -EIO. */
int inv_grant_add(struct dbc *c, const char *otype, int64_t oid, const char *ptype, int64_t pid,
		  int perms);

/* The permission bits user uid holds on (otype, oid): the union of the grants on the object
 * and on the server ("server", 0), to the user and to each of its groups. 0 also on an
 * error. */
int inv_perms(struct dbc *c, int64_t uid, const char *otype, int64_t oid);

/* Whether a grant on (otype, oid) itself names user uid or one of its groups. 1, 0 or
 * -EIO. */
int inv_named(struct dbc *c, int64_t uid, const char *otype, int64_t oid);

/* Call fn for every grant the principal (ptype "user": with its groups' grants; "group")
 * holds, until it returns non-zero (that value is returned). 0, fn's value or -EIO. */
int inv_principal_grants(struct dbc *c, const char *ptype, int64_t pid,
			 int (*fn)(const char *otype, int64_t oid, int perms, void *arg),
			 void *arg);

/* --- networks -------------------------------------------------------------------------- */

/* One network (network.h). bridge, subnet and the DHCP range may be "" (none). */
struct inv_net {
	int64_t id;
	char name[64];
	char kind[16];              /* nat, bridged, internal */
	char bridge[16];
	char subnet[24];
	char dhcp_start[16], dhcp_end[16];
};

/* Read network id into *out: 0, -ENOENT or -EIO. */
int inv_net_get(struct dbc *c, int64_t id, struct inv_net *out);

/* Call fn for every network, by name, until it returns non-zero (that value is returned).
 * 0, fn's value or -EIO. */
int inv_net_each(struct dbc *c, int (*fn)(const struct inv_net *n, void *arg), void *arg);

/* Record network n (created now). 0 and *id, -EEXIST (the name is taken) or -EIO. */
int inv_net_create(struct dbc *c, const struct inv_net *n, int64_t *id);

/* Set network id's bridge. 0 or -EIO. */
int inv_net_set_bridge(struct dbc *c, int64_t id, const char *bridge);

/* Delete network id (with its grants). 0, -ENOENT, -EEXIST (NICs are on it) or -EIO. */
int inv_net_delete(struct dbc *c, int64_t id);

/* --- disk layers, snapshots, templates (layers.h, snapshot.h) --------------------------- */

/* One layer: a differencing image of a VM's disk chain. kind "top": the image VM vm_id
 * runs on for its disk disk_id (written); "frozen": never written again, the parent of
 * other layers, of a snapshot's state or of a linked clone's disk (vm_id: the VM it came
 * from, 0 once that is gone); "disk": an inventory disk's own file (disk_id) that is a
 * differencing image over a layer (a linked clone's disk). parent: the file under it (a
 * layer's or an inventory disk's), NULL for a base kept after its disk was deleted. The
 * strings are valid during the callback only. */
struct inv_layer {
	int64_t id;
	const char *path;
	const char *parent;
	const char *kind;
	int64_t vm_id;
	int64_t disk_id;
	int64_t created;            /* Unix time */
};

/* Record layer l (its id ignored, created now). 0, -EEXIST (the path, or a second top of
 * the VM's disk) or -EIO. */
int inv_layer_add(struct dbc *c, const struct inv_layer *l);

/* Call fn for the layer at path, for the top of VM vm's disk disk_id, for every layer
 * whose parent is path, or for every layer (by id). inv_layer_get and inv_layer_top:
 * fn's value or -ENOENT; the walks: 0 or fn's value (non-zero ends them); -EIO. */
int inv_layer_get(struct dbc *c, const char *path,
		  int (*fn)(const struct inv_layer *l, void *arg), void *arg);
int inv_layer_top(struct dbc *c, int64_t vm, int64_t disk_id,
		  int (*fn)(const struct inv_layer *l, void *arg), void *arg);
int inv_layer_children(struct dbc *c, const char *path,
		       int (*fn)(const struct inv_layer *l, void *arg), void *arg);
int inv_layer_each(struct dbc *c, int (*fn)(const struct inv_layer *l, void *arg), void *arg);

/* Frozen layers nobody needs (no layer over them, no snapshot's state): fn for each until
 * it returns non-zero. 0, fn's value or -EIO. */
int inv_layer_unused(struct dbc *c, int (*fn)(const struct inv_layer *l, void *arg),
		     void *arg);

/* Set the kind, VM and disk of the layer at path; make every layer over old sit over new
 * (inv_layer_reparent); delete the layer at path. 0 or -EIO (-ENOENT: no layer at path,
 * for inv_layer_set_kind and inv_layer_delete). */
int inv_layer_set_kind(struct dbc *c, const char *path, const char *kind, int64_t vm,
		       int64_t disk_id);
int inv_layer_reparent(struct dbc *c, const char *old, const char *new_parent);
int inv_layer_delete(struct dbc *c, const char *path);

/* One snapshot of a VM: a node of its tree (parent_id 0: a root). current: the VM's disks
 * run on layers over this snapshot's state (at most one per VM). */
struct inv_snapshot {
	int64_t id;
	int64_t vm_id;
	int64_t parent_id;
	bool current;
	int64_t created;            /* Unix time */
	int64_t memory_bytes;       /* its state file's size (snapmem.h); 0: disks only */
	char name[64];
	char description[1028];
};

/* Record snapshot s (its id ignored; created now) as VM s->vm_id's current one. 0 and
 * *id, -EEXIST (the VM has one of that name) or -EIO. */
int inv_snap_create(struct dbc *c, const struct inv_snapshot *s, int64_t *id);

/* VM vm's snapshot named name into *out: 0, -ENOENT or -EIO. */
int inv_snap_get(struct dbc *c, int64_t vm, const char *name, struct inv_snapshot *out);

/* Call fn for every snapshot of VM vm, oldest first, until it returns non-zero (that value
 * is returned). 0, fn's value or -EIO. */
int inv_snap_each(struct dbc *c, int64_t vm,
		  int (*fn)(const struct inv_snapshot *s, void *arg), void *arg);

/* Delete snapshot id with its images, its children becoming children of its parent. 0,
 * -ENOENT or -EIO. */
int inv_snap_delete(struct dbc *c, int64_t id);

/* Make snapshot id (0: none) VM vm's current one. 0 or -EIO. */
int inv_snap_set_current(struct dbc *c, int64_t vm, int64_t id);

/* Snapshot images: the frozen image holding snapshot snap's state of disk disk_id. Add
 * one; call fn for each of a snapshot (by disk id); make every one at path old point to
 * new_path (a merge moved the state). 0, fn's value, -EEXIST or -EIO. */
int inv_snap_image_add(struct dbc *c, int64_t snap, int64_t disk_id, const char *path);
int inv_snap_images(struct dbc *c, int64_t snap,
		    int (*fn)(int64_t disk_id, const char *path, void *arg), void *arg);
int inv_snap_image_repath(struct dbc *c, const char *old, const char *new_path);

/* Whether VM id is a template (1, 0 or -EIO); make it one or not (0 or -EIO). */
int inv_vm_template(struct dbc *c, int64_t id);
int inv_vm_set_template(struct dbc *c, int64_t id, bool on);

/* --- users ----------------------------------------------------------------------------- */

/* Whether user id is an administrator: 1, 0, -ENOENT (no such user) or -EIO. */
int inv_user_admin(struct dbc *c, int64_t id);

/* A user as authentication sees it. password: the Argon2id encoding, "" for none. */
struct inv_user {
	int64_t id;
	char name[64];
	bool admin;
	char password[160];
	int64_t created;            /* Unix time */
};

/* Read the user named name, or of id id, into *out. 0, -ENOENT or -EIO. */
int inv_user_by_name(struct dbc *c, const char *name, struct inv_user *out);
int inv_user_get(struct dbc *c, int64_t id, struct inv_user *out);

/* How many users there are, into *n. 0 or -EIO. */
int inv_user_count(struct dbc *c, int64_t *n);

/* Create user name with the encoded password (created now). 0 and *id (may be NULL),
 * -EEXIST or -EIO. */
int inv_user_create(struct dbc *c, const char *name, const char *password, bool admin,
		    int64_t *id);

/* Call fn for every user, by name, until it returns non-zero (that value is returned).
 * 0, fn's value or -EIO. */
int inv_user_each(struct dbc *c, int (*fn)(const struct inv_user *u, void *arg), void *arg);

/* Set user id's encoded password, or its administrator flag. 0 or -EIO. */
int inv_user_set_password(struct dbc *c, int64_t id, const char *password);
int inv_user_set_admin(struct dbc *c, int64_t id, bool admin);

/* How many administrators there are, into *n. 0 or -EIO. */
int inv_admin_count(struct dbc *c, int64_t *n);

/* The id of the user or group (ptype) named name. 0 and *id, -ENOENT or -EIO. */
int inv_principal_id(struct dbc *c, const char *ptype, const char *name, int64_t *id);

/* Delete user or group (ptype) id with its memberships and the grants to it. 0 or -EIO. */
int inv_principal_delete(struct dbc *c, const char *ptype, int64_t id);

/* Groups: every group by name (fn gets its id and name); create one (0 and *id, -EEXIST);
 * whether one has an administrator among its members (1, 0 or -EIO). */
int inv_group_each(struct dbc *c, int (*fn)(int64_t id, const char *name, void *arg),
		   void *arg);
int inv_group_create(struct dbc *c, const char *name, int64_t *id);
int inv_group_has_admin(struct dbc *c, int64_t id);

/* Memberships. inv_members: fn for every member of group gid (by_user false: the users'
 * ids and names, by name) or for every group of user uid (by_user true: the groups' ids and
 * names, by name), until fn returns non-zero (that value is returned). inv_members_clear
 * drops them all; inv_member_add adds user uid to group gid (already a member: 0). */
int inv_members(struct dbc *c, bool by_user, int64_t id,
		int (*fn)(int64_t other, const char *name, void *arg), void *arg);
int inv_members_clear(struct dbc *c, bool by_user, int64_t id);
int inv_member_add(struct dbc *c, int64_t gid, int64_t uid);

/* --- quotas and owners (migration 14; quota.h is the service) ------------------------- */

/* Amounts of what a user may own: a user's quota (each field -1: unlimited) or its usage
 * (what it owns now). cpus and memory_mib sum its VMs' configurations, disk_bytes its
 * disks' virtual sizes, the bytes of its private images (inv_image) and of its VMs' undo
 * disks (inv_vm_set_undo_bytes); snapshots counts the snapshots of its VMs. */
struct inv_quota {
	int64_t vms;
	int64_t cpus;
	int64_t memory_mib;
	int64_t disks;
	int64_t disk_bytes;
	int64_t snapshots;
};

/* User uid's quota into *out (every field -1 when none is set). 0 or -EIO. */
int inv_quota_get(struct dbc *c, int64_t uid, struct inv_quota *out);

/* Set user uid's quota to *q (every field -1: drop it). 0, -ENOENT (no such user) or
 * -EIO. */
int inv_quota_put(struct dbc *c, int64_t uid, const struct inv_quota *q);

/* What user uid owns, into *out. Inside a transaction the read joins it (SQLite: its
 * writers are serialised; etcd: the read writes the user's quota row back unchanged, so of
 * two such transactions of one user the second to commit fails with -EAGAIN), so a check
 * of the usage followed by a create cannot be overtaken by another create of the same
 * user. 0 or -EIO. */
int inv_usage(struct dbc *c, int64_t uid, struct inv_quota *out);

/* How many statements this thread has run on the SQLite inventory (each db_stmt: one
 * query or write; 0 on etcd, whose calls etcd_thread_calls counts), for tests and
 * benchmarks: the difference over a request is its number of statements (VSRV_INV_TRACE=1
 * in the environment writes it to stderr per API request, http.c). */
unsigned long inv_thread_statements(void);

/* What user uid and every user it manages (inv_owner_get "user", recursively, down to depth
 * levels below uid: 0 is uid alone) own together, into *out, and how many users that is
 * (uid included) into *users: what a manager's limits bound (quota.c). uid's own usage
 * joins the transaction as inv_usage's does; its users' is read beside it (etcd: not
 * compared), kept atomic with the write by the stamp of uid's quota row, which every create
 * checked against uid's limits writes (inv_usage). Its cost does not grow with the number
 * of users: SQLite one query; etcd, when uid manages users, besides inv_usage's reads one
 * read of its users' owners/ rows per level of the tree (per 128 users of a level: never
 * the whole owners/ table, every tenant's rows), then one read per 128 of their objects'
 * rows (inv_etcd_quota.c). 0, -ENOMEM or -EIO. */
int inv_usage_tree(struct dbc *c, int64_t uid, int depth, struct inv_quota *out,
		   size_t *users);

/* The owner of the object of kind ("vm", "disk", "user") id: set it (uid 0: none; under
 * the caller's transaction, with the object's create), read it (*uid 0 when none; on etcd
 * the id of a deleted user may remain, which no user gets again: nobody's, as quota_admit
 * counts it). Deleting the object drops its owner. A user's owner is its manager: the
 * delegated manager (no administrator) who created it, whose quota bounds what the manager
 * and its users own together (quota.h); a deleted manager's users have none. 0 or -EIO. */
int inv_owner_set(struct dbc *c, const char *kind, int64_t id, int64_t uid);
int inv_owner_get(struct dbc *c, const char *kind, int64_t id, int64_t *uid);

/* The bytes VM id's undo disks take on host (undo.h: the sizes of their files, as the
 * host last recorded them, undo_account), counted in its owner's disk_bytes (inv_usage);
 * 0 when it has none there. One record per VM and host (etcd: a VM's undo disks stay on
 * the host that made them, a dead host's too when the VM runs again on another after a
 * failover: its record counts until that host discards or commits them); SQLite (one
 * host) ignores host. A VM nobody owns records nothing. Goes with the VM (every host's
 * record). 0 or -EIO. */
int inv_vm_set_undo_bytes(struct dbc *c, int64_t id, const char *host, int64_t bytes);

/* Bytes of disk a user owns that the store does not record yet: fn (set by the server:
 * the growth of the undo disks of the VMs this host runs since their last record, sup.h)
 * answers for user uid and every user it manages, through c (in the caller's
 * transaction), 0 and *bytes or -errno. inv_usage_extra calls it (0 and *bytes 0 when none
 * is set); quota.c adds it to the disk_bytes of every usage it checks, so that a decision
 * sees the files as they are, not as last recorded. fn NULL: none. */
void inv_set_usage_extra(struct db *db,
			 int (*fn)(struct dbc *c, int64_t uid, int64_t *bytes, void *arg),
			 void *arg);
int inv_usage_extra(struct dbc *c, int64_t uid, int64_t *bytes);

/* A new password ends the user's sessions: drop every session of user uid. 0 or -EIO. */
int inv_session_drop_user(struct dbc *c, int64_t uid);

/* Sessions: a token's hash (th, 64 hex digits) for user uid until expires (Unix time).
 * inv_session_add stores one; inv_session_sweep drops those expired at now;
 * inv_session_drop drops one (-ENOENT when there is none); inv_session_user reads the
 * user of a session valid at now (-ENOENT: none). 0 or -EIO besides. */
int inv_session_add(struct dbc *c, const char *th, int64_t uid, int64_t expires);
int inv_session_sweep(struct dbc *c, int64_t now);
int inv_session_drop(struct dbc *c, const char *th);
int inv_session_user(struct dbc *c, const char *th, int64_t now, struct inv_user *out);

#include "server/inv_log.h" /* events, hooks, tasks */

#endif
