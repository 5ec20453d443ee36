/* The inventory's VMs on SQLite: the vms table. See inv.h. */
#include "server/db.h"
#include "server/inv_sqlite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int inv_sqlite_vm_id(struct dbc *c, const char *name, int64_t *id)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT id FROM vms WHERE name = ?");
	int rc = -ENOENT;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*id = sqlite3_column_int64(s, 0);
		rc = 0;
	}
	db_done(s);
	return rc;
}

static char *col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? strdup((const char *)t) : NULL;
}

static void col_copy(sqlite3_stmt *s, int i, char *out, size_t n)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	snprintf(out, n, "%s", t ? (const char *)t : "");
}

int inv_sqlite_vm_row(sqlite3_stmt *s, struct inv_vm *v)
{
	memset(v, 0, sizeof(*v));
	v->id = sqlite3_column_int64(s, 0);
	v->rev = (uint64_t)sqlite3_column_int64(s, 1);
	col_copy(s, 2, v->name, sizeof(v->name));
	v->description = col_dup(s, 3);
	v->cpus = sqlite3_column_int(s, 4);
	v->memory_mib = sqlite3_column_int64(s, 5);
	v->kernel = col_dup(s, 6);
	v->initrd = col_dup(s, 7);
	v->cmdline = col_dup(s, 8);
	col_copy(s, 9, v->restart_policy, sizeof(v->restart_policy));
	v->autostart = sqlite3_column_int(s, 10);
	col_copy(s, 11, v->undo_disks, sizeof(v->undo_disks));
	v->cpu_limit = sqlite3_column_int(s, 12);
	v->cpu_weight = sqlite3_column_int(s, 13);
	v->memory_reserve_mib = sqlite3_column_int64(s, 14);
	v->created = sqlite3_column_int64(s, 15);
	v->updated = sqlite3_column_int64(s, 16);
	col_copy(s, 17, v->state, sizeof(v->state));
	v->monitor_pid = sqlite3_column_int(s, 18);
	v->started = sqlite3_column_int64(s, 19);
	v->last_exit = col_dup(s, 20);
	v->restarts = sqlite3_column_int(s, 21);
	if (!v->description || !v->kernel || !v->cmdline ||
	    (!v->initrd && sqlite3_column_type(s, 7) != SQLITE_NULL) ||
	    (!v->last_exit && sqlite3_column_type(s, 20) != SQLITE_NULL)) {
		inv_vm_clear(v);
		return -ENOMEM;
	}
	return 0;
}

/* SQLite reads each row in microseconds: nothing to read ahead. */
int inv_sqlite_vm_read_ahead(struct dbc *c, int64_t id)
{
	(void)c;
	(void)id;
	return 0;
}

int inv_sqlite_vm_start_read(struct dbc *c, int64_t id)
{
	(void)c;
	(void)id;
	return 0;
}

int inv_sqlite_vm_delete_read(struct dbc *c, int64_t id)
{
	(void)c;
	(void)id;
	return 0;
}

/* No other store beside SQLite's: nothing to read with its rows. */
int inv_sqlite_side_want(struct dbc *c, const char *key)
{
	(void)c;
	(void)key;
	return 0;
}

int inv_sqlite_side_take(struct dbc *c, const char *key, char **value, size_t *len)
{
	(void)c;
	(void)key;
	(void)value;
	(void)len;
	return -ENODATA;
}

int inv_sqlite_side_want_range(struct dbc *c, const char *prefix)
{
	(void)c;
	(void)prefix;
	return 0;
}

int inv_sqlite_side_take_range(struct dbc *c, const char *prefix,
			       int (*fn)(const struct etcd_kv *kv, void *arg), void *arg)
{
	(void)c;
	(void)prefix;
	(void)fn;
	(void)arg;
	return -ENODATA;
}

int inv_sqlite_side_put(struct dbc *c, const char *key, const char *value, size_t len)
{
	(void)c;
	(void)key;
	(void)value;
	(void)len;
	return -ENOTSUP;
}

int inv_sqlite_side_compare(struct dbc *c, const char *key, int64_t mod_rev)
{
	(void)c;
	(void)key;
	(void)mod_rev;
	return -ENOTSUP;
}

int inv_sqlite_vm_get(struct dbc *c, int64_t id, struct inv_vm *out)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT " VM_COLUMNS " FROM vms WHERE id = ?");
	int rc = -ENOENT;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW)
		rc = inv_sqlite_vm_row(s, out);
	db_done(s);
	return rc;
}

int inv_sqlite_vm_get_status(struct dbc *c, int64_t id, struct inv_vm_status *out)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT name, state, monitor_pid, started, last_exit, restarts "
				     "FROM vms WHERE id = ?");
	int rc = -ENOENT;

	if (!s)
		return -EIO;
	memset(out, 0, sizeof(*out));
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		col_copy(s, 0, out->name, sizeof(out->name));
		col_copy(s, 1, out->state, sizeof(out->state));
		out->monitor_pid = sqlite3_column_int(s, 2);
		out->started = sqlite3_column_int64(s, 3);
		out->last_exit = col_dup(s, 4);
		out->restarts = sqlite3_column_int(s, 5);
		rc = !out->last_exit && sqlite3_column_type(s, 4) != SQLITE_NULL ? -ENOMEM : 0;
	}
	db_done(s);
	return rc;
}

int inv_sqlite_vm_each(struct dbc *c, int (*fn)(const struct inv_vm *v, void *arg), void *arg)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT " VM_COLUMNS " FROM vms ORDER BY id");
	struct inv_vm v;
	int rc = 0, st;

	if (!s)
		return -EIO;
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		rc = inv_sqlite_vm_row(s, &v);
		if (!rc)
			rc = fn(&v, arg);
		inv_vm_clear(&v);
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}

/* The VMs user ?3 (with its groups) holds view on through a grant on the VM itself. */
#define VM_VIEWABLE "id IN (SELECT object_id FROM acl WHERE object_type = 'vm' AND (perms & 1) " \
	"AND ((principal_type = 'user' AND principal_id = ?3) OR (principal_type = 'group' AND " \
	"principal_id IN (SELECT group_id FROM group_members WHERE user_id = ?3))))"

int inv_sqlite_vm_page(struct dbc *c, int64_t viewer, int64_t offset, int64_t limit, int64_t *total,
		int (*fn)(const struct inv_vm *v, void *arg), void *arg)
{
	sqlite3_stmt *s;
	struct inv_vm v;
	int rc = 0, st;

	s = viewer < 0 ? db_stmt(c, "SELECT count(*) FROM vms")
		       : db_stmt(c, "SELECT count(*) FROM vms WHERE " VM_VIEWABLE);
	if (!s)
		return -EIO;
	if (viewer >= 0)
		sqlite3_bind_int64(s, 3, viewer);
	*total = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	db_done(s);
	s = viewer < 0 ? db_stmt(c, "SELECT " VM_COLUMNS " FROM vms "
				    "ORDER BY name LIMIT ?1 OFFSET ?2")
		       : db_stmt(c, "SELECT " VM_COLUMNS " FROM vms WHERE " VM_VIEWABLE
				    " ORDER BY name LIMIT ?1 OFFSET ?2");
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, limit);
	sqlite3_bind_int64(s, 2, offset);
	if (viewer >= 0)
		sqlite3_bind_int64(s, 3, viewer);
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		rc = inv_sqlite_vm_row(s, &v);
		if (!rc)
			rc = fn(&v, arg);
		inv_vm_clear(&v);
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}

/* Bind v's configuration as ?1..?12 in the order of the columns of VM_CONFIG. */
#define VM_CONFIG "description, cpus, memory_mib, kernel, initrd, cmdline, restart_policy, " \
	"autostart, undo_disks, cpu_limit, cpu_weight, memory_reserve_mib"
static void bind_config(sqlite3_stmt *s, const struct inv_vm *v)
{
	sqlite3_bind_text(s, 1, v->description ? v->description : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, v->cpus);
	sqlite3_bind_int64(s, 3, v->memory_mib);
	sqlite3_bind_text(s, 4, v->kernel ? v->kernel : "", -1, SQLITE_STATIC);
	if (v->initrd)
		sqlite3_bind_text(s, 5, v->initrd, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 5);
	sqlite3_bind_text(s, 6, v->cmdline ? v->cmdline : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, v->restart_policy, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 8, v->autostart);
	sqlite3_bind_text(s, 9, v->undo_disks, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 10, v->cpu_limit);
	sqlite3_bind_int(s, 11, v->cpu_weight);
	sqlite3_bind_int64(s, 12, v->memory_reserve_mib);
}

int inv_sqlite_vm_create(struct dbc *c, const struct inv_vm *v, int64_t *id)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO vms (" VM_CONFIG ", name, created, updated) "
				     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)");
	int rc;

	if (!s)
		return -EIO;
	bind_config(s, v);
	sqlite3_bind_text(s, 13, v->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 14, time(NULL));
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc)
		*id = sqlite3_last_insert_rowid(db_handle(c));
	if (!rc)
		rc = inv_sqlite_vm_hw_init(c, *id);
	return rc;
}

/* -ENOENT or -EAGAIN for a write of VM id that changed nothing. */
static int missed(struct dbc *c, int64_t id)
{
	struct inv_vm v = { 0 };      /* inv_vm_get leaves it as it is on -ENOENT */
	int rc = inv_vm_get(c, id, &v);

	inv_vm_clear(&v);
	return rc ? rc : -EAGAIN;
}

int inv_sqlite_vm_put(struct dbc *c, const struct inv_vm *v, bool expect_rev)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE vms SET (" VM_CONFIG ", updated, rev) = "
				     "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, rev + 1) "
				     "WHERE id = ?14 AND (?15 = 0 OR rev = ?15)");
	int rc;

	if (!s)
		return -EIO;
	bind_config(s, v);
	sqlite3_bind_int64(s, 13, time(NULL));
	sqlite3_bind_int64(s, 14, v->id);
	sqlite3_bind_int64(s, 15, expect_rev ? (int64_t)v->rev : 0);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc && sqlite3_changes(db_handle(c)) != 1)
		rc = missed(c, v->id);
	return rc;
}

int inv_sqlite_vm_delete(struct dbc *c, int64_t id)
{
	int rc = db_exec_id(c, "DELETE FROM vms WHERE id = ?", id);

	if (!rc && sqlite3_changes(db_handle(c)) != 1)
		return -ENOENT;
	/* The grants go with it (a trigger does it too, since migration 3). */
	if (!rc)
		rc = db_exec_id(c, "DELETE FROM acl WHERE object_type = 'vm' AND object_id = ?", id);
	return rc;
}

/* Step a status write s of VM id; -ENOENT when no row changed and want_row. */
static int status_write(struct dbc *c, sqlite3_stmt *s, int64_t id, bool want_row)
{
	int rc = db_rc(c, sqlite3_step(s));

	db_done(s);
	if (!rc && want_row && sqlite3_changes(db_handle(c)) != 1)
		rc = missed(c, id) == -EAGAIN ? -ESRCH : -ENOENT;
	return rc;
}

int inv_sqlite_vm_set_state(struct dbc *c, int64_t id, const char *state, pid_t pid,
		     const char *last_exit)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE vms SET state = ?1, monitor_pid = ?2, "
				     "last_exit = coalesce(?3, last_exit), rev = rev + 1, "
				     "started = CASE WHEN ?1 = 'running' AND state != 'paused' "
				     "THEN CAST(strftime('%s','now') AS INTEGER) ELSE started END "
				     "WHERE id = ?4");

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, pid);
	sqlite3_bind_text(s, 3, last_exit, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, id);
	return status_write(c, s, id, false);
}

int inv_sqlite_vm_set_pid(struct dbc *c, int64_t id, pid_t pid)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE vms SET monitor_pid = ?, rev = rev + 1 WHERE id = ?");

	if (!s)
		return -EIO;
	sqlite3_bind_int(s, 1, pid);
	sqlite3_bind_int64(s, 2, id);
	return status_write(c, s, id, false);
}

int inv_sqlite_vm_count_restart(struct dbc *c, int64_t id)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE vms SET restarts = restarts + 1, rev = rev + 1 "
				     "WHERE id = ?");

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	return status_write(c, s, id, false);
}

int inv_sqlite_vm_promote(struct dbc *c, int64_t id, pid_t pid)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE vms SET state = 'running', rev = rev + 1, "
				     "started = CAST(strftime('%s','now') AS INTEGER) "
				     "WHERE id = ? AND state = 'starting' AND monitor_pid = ?");

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, pid);
	return status_write(c, s, id, true);
}

int inv_sqlite_vm_mark_stopping(struct dbc *c, int64_t id)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE vms SET state = 'stopping', rev = rev + 1 WHERE id = ? "
				     "AND state NOT IN ('stopped', 'crashed', 'saved')");

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	return status_write(c, s, id, false);
}
