/* What the SQLite implementation's files (inv_sqlite*.c) share; nothing above the inventory
 * includes it. */
#ifndef VSRV_SERVER_INV_SQLITE_H
#define VSRV_SERVER_INV_SQLITE_H

#include "server/inv_ops.h"

#include <sqlite3.h>

/* The backend: its table, and inv_sqlite_<name> for every operation of INV_OPS. */
extern const struct inv_ops inv_sqlite_ops;
#define INV_SQLITE_DECLARE(name, params, args) INV_OPS_DECLARE_ONE(inv_sqlite, name, params)
INV_OPS(INV_SQLITE_DECLARE)
#undef INV_SQLITE_DECLARE

/* The columns of the vms table that make a struct inv_vm, in the order
 * inv_sqlite_vm_row reads them (the first column of the row is id). */
#define VM_COLUMNS "id, rev, name, description, cpus, memory_mib, kernel, initrd, cmdline, " \
	"restart_policy, autostart, undo_disks, cpu_limit, cpu_weight, memory_reserve_mib, " \
	"created, updated, state, monitor_pid, started, last_exit, restarts"
#define VM_NCOLUMNS 22
/* VM_COLUMNS after "v." in a join: every column of the vms table v. */
#define VM_COLUMNS_V "id, v.rev, v.name, v.description, v.cpus, v.memory_mib, v.kernel, " \
	"v.initrd, v.cmdline, v.restart_policy, v.autostart, v.undo_disks, v.cpu_limit, " \
	"v.cpu_weight, v.memory_reserve_mib, v.created, v.updated, v.state, v.monitor_pid, " \
	"v.started, v.last_exit, v.restarts"

/* Fill v from the row of s that starts with VM_COLUMNS. 0 or -ENOMEM (v cleared). */
int inv_sqlite_vm_row(sqlite3_stmt *s, struct inv_vm *v);

/* The hardware row of the new VM id (inv_vm_hw): defaults and a fresh random UUID. 0 or -EIO. */
int inv_sqlite_vm_hw_init(struct dbc *c, int64_t id);

#endif
