/* The inventory's disk layers, snapshots and templates on SQLite: the layers, snapshots,
 * snapshot_images and vm_templates tables (migration 5). See inv.h. */
#include "server/inv_sqlite.h"
#include "server/db.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LAYER_SQL "SELECT id, path, parent, kind, vm_id, disk_id, created FROM layers "

/* Step s and call fn for each layer row until it returns non-zero. once: -ENOENT when
 * there is no row. fn's value, 0 or -EIO. Finishes s. */
static int layer_rows(struct dbc *c, sqlite3_stmt *s, bool once,
		      int (*fn)(const struct inv_layer *l, void *arg), void *arg)
{
	int rc = 0, st = SQLITE_DONE, n = 0;

	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		struct inv_layer l = {
			.id = sqlite3_column_int64(s, 0),
			.path = (const char *)sqlite3_column_text(s, 1),
			.parent = (const char *)sqlite3_column_text(s, 2),
			.kind = (const char *)sqlite3_column_text(s, 3),
			.vm_id = sqlite3_column_int64(s, 4),
			.disk_id = sqlite3_column_int64(s, 5),
			.created = sqlite3_column_int64(s, 6),
		};

		n++;
		rc = fn ? fn(&l, arg) : 0;
	}
	if (!rc && st != SQLITE_DONE && st != SQLITE_ROW)
		rc = db_rc(c, st);
	db_done(s);
	if (!rc && once && !n)
		return -ENOENT;
	return rc;
}

int inv_sqlite_layer_add(struct dbc *c, const struct inv_layer *l)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO layers (path, parent, kind, vm_id, disk_id, "
				     "created) VALUES (?, ?, ?, ?, ?, ?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, l->path, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, l->parent, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, l->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, l->vm_id);
	sqlite3_bind_int64(s, 5, l->disk_id);
	sqlite3_bind_int64(s, 6, time(NULL));
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_sqlite_layer_get(struct dbc *c, const char *path,
		  int (*fn)(const struct inv_layer *l, void *arg), void *arg)
{
	sqlite3_stmt *s = db_stmt(c, LAYER_SQL "WHERE path = ?");

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	return layer_rows(c, s, true, fn, arg);
}

int inv_sqlite_layer_top(struct dbc *c, int64_t vm, int64_t disk_id,
		  int (*fn)(const struct inv_layer *l, void *arg), void *arg)
{
	sqlite3_stmt *s = db_stmt(c, LAYER_SQL "WHERE kind = 'top' AND vm_id = ? AND disk_id = ?");

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, vm);
	sqlite3_bind_int64(s, 2, disk_id);
	return layer_rows(c, s, true, fn, arg);
}

int inv_sqlite_layer_children(struct dbc *c, const char *path,
		       int (*fn)(const struct inv_layer *l, void *arg), void *arg)
{
	sqlite3_stmt *s = db_stmt(c, LAYER_SQL "WHERE parent = ? ORDER BY id");

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	return layer_rows(c, s, false, fn, arg);
}

int inv_sqlite_layer_each(struct dbc *c, int (*fn)(const struct inv_layer *l, void *arg), void *arg)
{
	sqlite3_stmt *s = db_stmt(c, LAYER_SQL "ORDER BY id");

	return s ? layer_rows(c, s, false, fn, arg) : -EIO;
}

int inv_sqlite_layer_unused(struct dbc *c, int (*fn)(const struct inv_layer *l, void *arg), void *arg)
{
	sqlite3_stmt *s = db_stmt(c, LAYER_SQL "WHERE kind = 'frozen' AND NOT EXISTS "
				     "(SELECT 1 FROM layers k WHERE k.parent = layers.path) AND NOT "
				     "EXISTS (SELECT 1 FROM snapshot_images i WHERE i.path = "
				     "layers.path) ORDER BY id");

	return s ? layer_rows(c, s, false, fn, arg) : -EIO;
}

int inv_sqlite_layer_set_kind(struct dbc *c, const char *path, const char *kind, int64_t vm,
		       int64_t disk_id)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE layers SET kind = ?, vm_id = ?, disk_id = ? "
				     "WHERE path = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, vm);
	sqlite3_bind_int64(s, 3, disk_id);
	sqlite3_bind_text(s, 4, path, -1, SQLITE_STATIC);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc && sqlite3_changes(db_handle(c)) != 1)
		return -ENOENT;
	return rc;
}

int inv_sqlite_layer_reparent(struct dbc *c, const char *old, const char *new_parent)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE layers SET parent = ? WHERE parent = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, new_parent, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, old, -1, SQLITE_STATIC);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_sqlite_layer_delete(struct dbc *c, const char *path)
{
	sqlite3_stmt *s = db_stmt(c, "DELETE FROM layers WHERE path = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc && sqlite3_changes(db_handle(c)) != 1)
		return -ENOENT;
	return rc;
}

/* --- snapshots ------------------------------------------------------------------------ */

#define SNAP_SQL "SELECT id, vm_id, parent_id, current, created, name, description, memory_bytes " \
		 "FROM snapshots "

static void snap_row(sqlite3_stmt *s, struct inv_snapshot *o)
{
	o->id = sqlite3_column_int64(s, 0);
	o->vm_id = sqlite3_column_int64(s, 1);
	o->parent_id = sqlite3_column_int64(s, 2);
	o->current = sqlite3_column_int(s, 3) != 0;
	o->created = sqlite3_column_int64(s, 4);
	snprintf(o->name, sizeof(o->name), "%s", sqlite3_column_text(s, 5));
	snprintf(o->description, sizeof(o->description), "%s", sqlite3_column_text(s, 6));
	o->memory_bytes = sqlite3_column_int64(s, 7);
}

int inv_sqlite_snap_create(struct dbc *c, const struct inv_snapshot *o, int64_t *id)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO snapshots (vm_id, name, description, "
				     "parent_id, current, created, memory_bytes) VALUES (?, ?, ?, ?, 0, "
				     "?, ?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, o->vm_id);
	sqlite3_bind_text(s, 2, o->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, o->description, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, o->parent_id);
	sqlite3_bind_int64(s, 5, time(NULL));
	sqlite3_bind_int64(s, 6, o->memory_bytes);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (rc)
		return rc;
	*id = sqlite3_last_insert_rowid(db_handle(c));
	return inv_snap_set_current(c, o->vm_id, *id);
}

int inv_sqlite_snap_get(struct dbc *c, int64_t vm, const char *name, struct inv_snapshot *out)
{
	sqlite3_stmt *s = db_stmt(c, SNAP_SQL "WHERE vm_id = ? AND name = ?");
	int rc = -ENOENT, st;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, vm);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	st = sqlite3_step(s);
	if (st == SQLITE_ROW) {
		snap_row(s, out);
		rc = 0;
	} else if (st != SQLITE_DONE) {
		rc = db_rc(c, st);
	}
	db_done(s);
	return rc;
}

int inv_sqlite_snap_each(struct dbc *c, int64_t vm,
		  int (*fn)(const struct inv_snapshot *s, void *arg), void *arg)
{
	sqlite3_stmt *s = db_stmt(c, SNAP_SQL "WHERE vm_id = ? ORDER BY id");
	struct inv_snapshot o;
	int rc = 0, st = SQLITE_DONE;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, vm);
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		snap_row(s, &o);
		rc = fn(&o, arg);
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}

int inv_sqlite_snap_delete(struct dbc *c, int64_t id)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE snapshots SET parent_id = (SELECT parent_id FROM "
				     "snapshots WHERE id = ?1) WHERE parent_id = ?1");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc)
		rc = db_exec_id(c, "DELETE FROM snapshot_images WHERE snapshot_id = ?", id);
	if (!rc)
		rc = db_exec_id(c, "DELETE FROM snapshots WHERE id = ?", id);
	if (!rc && sqlite3_changes(db_handle(c)) != 1)
		return -ENOENT;
	return rc;
}

int inv_sqlite_snap_set_current(struct dbc *c, int64_t vm, int64_t id)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE snapshots SET current = (id = ?) WHERE vm_id = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, vm);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_sqlite_snap_image_add(struct dbc *c, int64_t snap, int64_t disk_id, const char *path)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO snapshot_images (snapshot_id, disk_id, path) "
				     "VALUES (?, ?, ?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, snap);
	sqlite3_bind_int64(s, 2, disk_id);
	sqlite3_bind_text(s, 3, path, -1, SQLITE_STATIC);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_sqlite_snap_images(struct dbc *c, int64_t snap,
		    int (*fn)(int64_t disk_id, const char *path, void *arg), void *arg)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT disk_id, path FROM snapshot_images WHERE "
				     "snapshot_id = ? ORDER BY disk_id");
	int rc = 0, st = SQLITE_DONE;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, snap);
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW)
		rc = fn(sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1), arg);
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}

int inv_sqlite_snap_image_repath(struct dbc *c, const char *old, const char *new_path)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE snapshot_images SET path = ? WHERE path = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, new_path, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, old, -1, SQLITE_STATIC);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_sqlite_vm_template(struct dbc *c, int64_t id)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT 1 FROM vm_templates WHERE vm_id = ?");
	int st;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	st = sqlite3_step(s);
	db_done(s);
	return st == SQLITE_ROW ? 1 : st == SQLITE_DONE ? 0 : db_rc(c, st);
}

int inv_sqlite_vm_set_template(struct dbc *c, int64_t id, bool on)
{
	return db_exec_id(c, on ? "INSERT OR IGNORE INTO vm_templates (vm_id) VALUES (?)"
			     : "DELETE FROM vm_templates WHERE vm_id = ?", id);
}
