/* What an inventory backend implements (inv.h is what the services call). The inventory has
 * two backends: SQLite (inv_sqlite*.c, a single host's default) and etcd (inv_etcd*.c, a
 * cluster's). A store (struct db) and a session (struct dbc) of either begin with the
 * backend's table of operations; inv.c turns each inv_NAME call on a session into
 * c->ops->NAME, so the callers never know which backend they have.
 *
 * INV_OPS lists every operation on a session: X(name, (parameters), (arguments)). Each is
 * inv.h's function inv_<name>, which has the doc comment; a backend defines
 * inv_<backend>_<name> with the same parameters for every entry (INV_OPS_DECLARE_ONE
 * declares them, INV_OPS_TABLE_ONE fills a struct inv_ops with them: inv_sqlite.c shows
 * how), so a backend that misses one does not build. Adding an operation: inv.h, one line here, and one function in each backend.
 * Only inv.c and the backends include this file. */
#ifndef VSRV_SERVER_INV_OPS_H
#define VSRV_SERVER_INV_OPS_H

#include "server/inv.h"

#define INV_OPS(X) \
	X(begin, (struct dbc *c), (c)) \
	X(commit, (struct dbc *c), (c)) \
	X(object_id, (struct dbc *c, const char *kind, const char *name, int64_t *id), \
	  (c, kind, name, id)) \
	X(vm_id, (struct dbc *c, const char *name, int64_t *id), (c, name, id)) \
	X(vm_get, (struct dbc *c, int64_t id, struct inv_vm *out), (c, id, out)) \
	X(vm_read_ahead, (struct dbc *c, int64_t id), (c, id)) \
	X(vm_start_read, (struct dbc *c, int64_t id), (c, id)) \
	X(vm_delete_read, (struct dbc *c, int64_t id), (c, id)) \
	X(side_want, (struct dbc *c, const char *key), (c, key)) \
	X(side_take, (struct dbc *c, const char *key, char **value, size_t *len), \
	  (c, key, value, len)) \
	X(side_want_range, (struct dbc *c, const char *prefix), (c, prefix)) \
	X(side_take_range, (struct dbc *c, const char *prefix, \
	  int (*fn)(const struct etcd_kv *kv, void *arg), void *arg), (c, prefix, fn, arg)) \
	X(side_put, (struct dbc *c, const char *key, const char *value, size_t len), \
	  (c, key, value, len)) \
	X(side_compare, (struct dbc *c, const char *key, int64_t mod_rev), (c, key, mod_rev)) \
	X(vm_get_status, (struct dbc *c, int64_t id, struct inv_vm_status *out), (c, id, out)) \
	X(vm_each, (struct dbc *c, int (*fn)(const struct inv_vm *v, void *arg), void *arg), \
	  (c, fn, arg)) \
	X(vm_page, (struct dbc *c, int64_t viewer, int64_t offset, int64_t limit, \
	  int64_t *total, int (*fn)(const struct inv_vm *v, void *arg), void *arg), \
	  (c, viewer, offset, limit, total, fn, arg)) \
	X(vm_create, (struct dbc *c, const struct inv_vm *v, int64_t *id), (c, v, id)) \
	X(vm_put, (struct dbc *c, const struct inv_vm *v, bool expect_rev), (c, v, expect_rev)) \
	X(vm_delete, (struct dbc *c, int64_t id), (c, id)) \
	X(vm_set_state, (struct dbc *c, int64_t id, const char *state, pid_t pid, \
	  const char *last_exit), (c, id, state, pid, last_exit)) \
	X(vm_set_pid, (struct dbc *c, int64_t id, pid_t pid), (c, id, pid)) \
	X(vm_count_restart, (struct dbc *c, int64_t id), (c, id)) \
	X(vm_promote, (struct dbc *c, int64_t id, pid_t pid), (c, id, pid)) \
	X(vm_mark_stopping, (struct dbc *c, int64_t id), (c, id)) \
	X(vm_disks, (struct dbc *c, int64_t id, \
	  int (*fn)(const struct inv_vm_disk *d, void *arg), void *arg), (c, id, fn, arg)) \
	X(vm_disks_clear, (struct dbc *c, int64_t id), (c, id)) \
	X(vm_disk_add, (struct dbc *c, int64_t id, int idx, int64_t disk_id, const char *bus, \
	  bool readonly), (c, id, idx, disk_id, bus, readonly)) \
	X(disk_users, (struct dbc *c, int64_t disk_id, \
	  int (*fn)(const struct inv_vm *v, const struct inv_vm_disk *d, void *arg), void *arg), \
	  (c, disk_id, fn, arg)) \
	X(vm_sole_disks, (struct dbc *c, int64_t id, \
	  int (*fn)(int64_t disk_id, const char *path, void *arg), void *arg), (c, id, fn, arg)) \
	X(vm_nics, (struct dbc *c, int64_t id, \
	  int (*fn)(const struct inv_vm_nic *n, void *arg), void *arg), (c, id, fn, arg)) \
	X(vm_nics_clear, (struct dbc *c, int64_t id), (c, id)) \
	X(vm_nic_add, (struct dbc *c, int64_t id, int idx, int64_t network_id, const char *mac), \
	  (c, id, idx, network_id, mac)) \
	X(mac_used, (struct dbc *c, const char *mac), (c, mac)) \
	X(vm_hw_get, (struct dbc *c, int64_t id, struct inv_vm_hw *out), (c, id, out)) \
	X(vm_hw_put, (struct dbc *c, int64_t id, const struct inv_vm_hw *hw), (c, id, hw)) \
	X(vm_hw_copy, (struct dbc *c, int64_t src, int64_t dst), (c, src, dst)) \
	X(vm_hw_set_uuid, (struct dbc *c, int64_t id, const char *uuid), (c, id, uuid)) \
	X(vm_nic_set_model, (struct dbc *c, int64_t id, int idx, const char *model), \
	  (c, id, idx, model)) \
	X(vm_cdrom_set_bus, (struct dbc *c, int64_t id, int idx, const char *bus), \
	  (c, id, idx, bus)) \
	X(vm_cdroms, (struct dbc *c, int64_t id, \
	  int (*fn)(const struct inv_vm_cdrom *d, void *arg), void *arg), (c, id, fn, arg)) \
	X(vm_cdroms_clear, (struct dbc *c, int64_t id), (c, id)) \
	X(vm_cdrom_add, (struct dbc *c, int64_t id, int idx, const char *image), \
	  (c, id, idx, image)) \
	X(vm_cdrom_set, (struct dbc *c, int64_t id, int idx, const char *image), \
	  (c, id, idx, image)) \
	X(image_cdrom_users, (struct dbc *c, const char *image, \
	  int (*fn)(const struct inv_vm *v, int idx, void *arg), void *arg), \
	  (c, image, fn, arg)) \
	X(image_get, (struct dbc *c, const char *name, struct inv_image *out), (c, name, out)) \
	X(image_each, (struct dbc *c, int (*fn)(const struct inv_image *i, void *arg), void *arg), \
	  (c, fn, arg)) \
	X(image_put, (struct dbc *c, const struct inv_image *i), (c, i)) \
	X(image_delete, (struct dbc *c, const char *name), (c, name)) \
	X(disk_get, (struct dbc *c, int64_t id, struct inv_disk *out), (c, id, out)) \
	X(disk_each, (struct dbc *c, int (*fn)(const struct inv_disk *d, void *arg), void *arg), \
	  (c, fn, arg)) \
	X(disk_create, (struct dbc *c, const struct inv_disk *d, int64_t *id), (c, d, id)) \
	X(disk_set_size, (struct dbc *c, int64_t id, int64_t size), (c, id, size)) \
	X(disk_delete, (struct dbc *c, int64_t id), (c, id)) \
	X(grant_each, (struct dbc *c, const char *otype, int64_t oid, \
	  int (*fn)(const struct inv_grant *g, void *arg), void *arg), (c, otype, oid, fn, arg)) \
	X(grants_clear, (struct dbc *c, const char *otype, int64_t oid), (c, otype, oid)) \
	X(grant_merge, (struct dbc *c, const char *otype, int64_t oid, const char *ptype, \
	  const char *pname, int perms), (c, otype, oid, ptype, pname, perms)) \
	X(grant_add, (struct dbc *c, const char *otype, int64_t oid, const char *ptype, \
	  int64_t pid, int perms), (c, otype, oid, ptype, pid, perms)) \
	X(perms, (struct dbc *c, int64_t uid, const char *otype, int64_t oid), \
	  (c, uid, otype, oid)) \
	X(named, (struct dbc *c, int64_t uid, const char *otype, int64_t oid), \
	  (c, uid, otype, oid)) \
	X(principal_grants, (struct dbc *c, const char *ptype, int64_t pid, \
	  int (*fn)(const char *otype, int64_t oid, int perms, void *arg), void *arg), \
	  (c, ptype, pid, fn, arg)) \
	X(net_get, (struct dbc *c, int64_t id, struct inv_net *out), (c, id, out)) \
	X(net_each, (struct dbc *c, int (*fn)(const struct inv_net *n, void *arg), void *arg), \
	  (c, fn, arg)) \
	X(net_create, (struct dbc *c, const struct inv_net *n, int64_t *id), (c, n, id)) \
	X(net_set_bridge, (struct dbc *c, int64_t id, const char *bridge), (c, id, bridge)) \
	X(net_delete, (struct dbc *c, int64_t id), (c, id)) \
	X(layer_add, (struct dbc *c, const struct inv_layer *l), (c, l)) \
	X(layer_get, (struct dbc *c, const char *path, \
	  int (*fn)(const struct inv_layer *l, void *arg), void *arg), (c, path, fn, arg)) \
	X(layer_top, (struct dbc *c, int64_t vm, int64_t disk_id, \
	  int (*fn)(const struct inv_layer *l, void *arg), void *arg), \
	  (c, vm, disk_id, fn, arg)) \
	X(layer_children, (struct dbc *c, const char *path, \
	  int (*fn)(const struct inv_layer *l, void *arg), void *arg), (c, path, fn, arg)) \
	X(layer_each, (struct dbc *c, int (*fn)(const struct inv_layer *l, void *arg), void *arg), \
	  (c, fn, arg)) \
	X(layer_unused, (struct dbc *c, int (*fn)(const struct inv_layer *l, void *arg), \
	  void *arg), (c, fn, arg)) \
	X(layer_set_kind, (struct dbc *c, const char *path, const char *kind, int64_t vm, \
	  int64_t disk_id), (c, path, kind, vm, disk_id)) \
	X(layer_reparent, (struct dbc *c, const char *old, const char *new_parent), \
	  (c, old, new_parent)) \
	X(layer_delete, (struct dbc *c, const char *path), (c, path)) \
	X(snap_create, (struct dbc *c, const struct inv_snapshot *s, int64_t *id), (c, s, id)) \
	X(snap_get, (struct dbc *c, int64_t vm, const char *name, struct inv_snapshot *out), \
	  (c, vm, name, out)) \
	X(snap_each, (struct dbc *c, int64_t vm, \
	  int (*fn)(const struct inv_snapshot *s, void *arg), void *arg), (c, vm, fn, arg)) \
	X(snap_delete, (struct dbc *c, int64_t id), (c, id)) \
	X(snap_set_current, (struct dbc *c, int64_t vm, int64_t id), (c, vm, id)) \
	X(snap_image_add, (struct dbc *c, int64_t snap, int64_t disk_id, const char *path), \
	  (c, snap, disk_id, path)) \
	X(snap_images, (struct dbc *c, int64_t snap, \
	  int (*fn)(int64_t disk_id, const char *path, void *arg), void *arg), \
	  (c, snap, fn, arg)) \
	X(snap_image_repath, (struct dbc *c, const char *old, const char *new_path), \
	  (c, old, new_path)) \
	X(vm_template, (struct dbc *c, int64_t id), (c, id)) \
	X(vm_set_template, (struct dbc *c, int64_t id, bool on), (c, id, on)) \
	X(event_add, (struct dbc *c, const struct inv_event *e, int64_t *id, inv_event_fn *then, \
	  void *arg), (c, e, id, then, arg)) \
	X(event_exists, (struct dbc *c, int64_t id), (c, id)) \
	X(event_last, (struct dbc *c, int64_t *id), (c, id)) \
	X(event_each, (struct dbc *c, int64_t after, int64_t limit, \
	  int (*fn)(const struct inv_event *e, void *arg), void *arg), \
	  (c, after, limit, fn, arg)) \
	X(event_drop_upto, (struct dbc *c, int64_t upto), (c, upto)) \
	X(event_drop_before, (struct dbc *c, double before), (c, before)) \
	X(event_born, (struct dbc *c, struct inv_born *names, size_t n), (c, names, n)) \
	X(hook_each, (struct dbc *c, const char *type, \
	  int (*fn)(const struct inv_hook *h, void *arg), void *arg), (c, type, fn, arg)) \
	X(hook_get, (struct dbc *c, int64_t id, int (*fn)(const struct inv_hook *h, void *arg), \
	  void *arg), (c, id, fn, arg)) \
	X(hook_create, (struct dbc *c, const struct inv_hook *h, int64_t *id), (c, h, id)) \
	X(hook_delete, (struct dbc *c, int64_t id), (c, id)) \
	X(task_create, (struct dbc *c, const char *kind, const char *object, const char *user, \
	  const char *host, double created, int64_t *id), \
	  (c, kind, object, user, host, created, id)) \
	X(task_update, (struct dbc *c, int64_t id, const char *state, double progress, \
	  const char *error, double finished), (c, id, state, progress, error, finished)) \
	X(task_running, (struct dbc *c, const char *kind, const char *object), (c, kind, object)) \
	X(task_fail_running, (struct dbc *c, const char *host, const char *error, \
	  double finished), (c, host, error, finished)) \
	X(task_each, (struct dbc *c, int (*fn)(const struct inv_task *t, void *arg), void *arg), \
	  (c, fn, arg)) \
	X(task_get, (struct dbc *c, int64_t id, int (*fn)(const struct inv_task *t, void *arg), \
	  void *arg), (c, id, fn, arg)) \
	X(claim_take, (struct dbc *c, const char *what, int64_t id, const char *owner, \
	  int ttl_s, char *holder, size_t n), (c, what, id, owner, ttl_s, holder, n)) \
	X(claim_drop, (struct dbc *c, const char *what, int64_t id, const char *owner), \
	  (c, what, id, owner)) \
	X(claim_get, (struct dbc *c, const char *what, int64_t id, char *holder, size_t n), \
	  (c, what, id, holder, n)) \
	X(claim_sweep, (struct dbc *c, const char *prefix), (c, prefix)) \
	X(user_admin, (struct dbc *c, int64_t id), (c, id)) \
	X(user_by_name, (struct dbc *c, const char *name, struct inv_user *out), (c, name, out)) \
	X(user_get, (struct dbc *c, int64_t id, struct inv_user *out), (c, id, out)) \
	X(user_count, (struct dbc *c, int64_t *n), (c, n)) \
	X(user_create, (struct dbc *c, const char *name, const char *password, bool admin, \
	  int64_t *id), (c, name, password, admin, id)) \
	X(user_each, (struct dbc *c, int (*fn)(const struct inv_user *u, void *arg), void *arg), \
	  (c, fn, arg)) \
	X(user_set_password, (struct dbc *c, int64_t id, const char *password), (c, id, password)) \
	X(user_set_admin, (struct dbc *c, int64_t id, bool admin), (c, id, admin)) \
	X(admin_count, (struct dbc *c, int64_t *n), (c, n)) \
	X(principal_id, (struct dbc *c, const char *ptype, const char *name, int64_t *id), \
	  (c, ptype, name, id)) \
	X(principal_delete, (struct dbc *c, const char *ptype, int64_t id), (c, ptype, id)) \
	X(group_each, (struct dbc *c, int (*fn)(int64_t id, const char *name, void *arg), \
	  void *arg), (c, fn, arg)) \
	X(group_create, (struct dbc *c, const char *name, int64_t *id), (c, name, id)) \
	X(group_has_admin, (struct dbc *c, int64_t id), (c, id)) \
	X(members, (struct dbc *c, bool by_user, int64_t id, \
	  int (*fn)(int64_t other, const char *name, void *arg), void *arg), \
	  (c, by_user, id, fn, arg)) \
	X(members_clear, (struct dbc *c, bool by_user, int64_t id), (c, by_user, id)) \
	X(member_add, (struct dbc *c, int64_t gid, int64_t uid), (c, gid, uid)) \
	X(quota_get, (struct dbc *c, int64_t uid, struct inv_quota *out), (c, uid, out)) \
	X(quota_put, (struct dbc *c, int64_t uid, const struct inv_quota *q), (c, uid, q)) \
	X(usage, (struct dbc *c, int64_t uid, struct inv_quota *out), (c, uid, out)) \
	X(usage_tree, (struct dbc *c, int64_t uid, int depth, struct inv_quota *out, \
	  size_t *users), (c, uid, depth, out, users)) \
	X(vm_set_undo_bytes, (struct dbc *c, int64_t id, const char *host, int64_t bytes), \
	  (c, id, host, bytes)) \
	X(owner_set, (struct dbc *c, const char *kind, int64_t id, int64_t uid), \
	  (c, kind, id, uid)) \
	X(owner_get, (struct dbc *c, const char *kind, int64_t id, int64_t *uid), \
	  (c, kind, id, uid)) \
	X(session_drop_user, (struct dbc *c, int64_t uid), (c, uid)) \
	X(session_add, (struct dbc *c, const char *th, int64_t uid, int64_t expires), \
	  (c, th, uid, expires)) \
	X(session_sweep, (struct dbc *c, int64_t now), (c, now)) \
	X(session_drop, (struct dbc *c, const char *th), (c, th)) \
	X(session_user, (struct dbc *c, const char *th, int64_t now, struct inv_user *out), \
	  (c, th, now, out))

/* A backend: the operations on its sessions, and on the store itself. */
struct inv_ops {
	const char *name;                       /* "sqlite", "etcd" */
	void (*close)(struct db *db);
	struct dbc *(*get)(struct db *db);      /* NULL when no session can be opened */
	void (*put)(struct dbc *c);
	uint64_t (*generation)(struct db *db);
	void (*rollback)(struct dbc *c);
#define INV_OPS_FIELD(name, params, args) int (*name) params;
	INV_OPS(INV_OPS_FIELD)
#undef INV_OPS_FIELD
};

/* The first member of every backend's store and session (the backend's own struct embeds it
 * and converts back with container_of). */
struct db {
	const struct inv_ops *ops;
	/* inv_set_usage_extra's (NULL: none) */
	int (*extra)(struct dbc *c, int64_t uid, int64_t *bytes, void *arg);
	void *extra_arg;
};

struct dbc {
	const struct inv_ops *ops;
	struct db *db;          /* the store the session is of */
};

/* Declare inv_<prefix>_<name> for every operation, and make a table of them. */
#define INV_OPS_DECLARE_ONE(prefix, name, params) int prefix##_##name params;
#define INV_OPS_TABLE_ONE(prefix, name) .name = prefix##_##name,

#endif
