/* The inventory's disks on SQLite: the disks table. See inv.h. */
#include "server/inv_sqlite.h"
#include "server/db.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <time.h>

#define DISK_SQL "SELECT id, name, format, size, path, created FROM disks "

static void disk_row(sqlite3_stmt *s, struct inv_disk *d)
{
	d->id = sqlite3_column_int64(s, 0);
	snprintf(d->name, sizeof(d->name), "%s", sqlite3_column_text(s, 1));
	snprintf(d->format, sizeof(d->format), "%s", sqlite3_column_text(s, 2));
	d->size = sqlite3_column_int64(s, 3);
	snprintf(d->path, sizeof(d->path), "%s", sqlite3_column_text(s, 4));
	d->created = sqlite3_column_int64(s, 5);
}

int inv_sqlite_disk_get(struct dbc *c, int64_t id, struct inv_disk *out)
{
	sqlite3_stmt *s = db_stmt(c, DISK_SQL "WHERE id = ?");
	int rc = -ENOENT;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		disk_row(s, out);
		rc = 0;
	}
	db_done(s);
	return rc;
}

int inv_sqlite_disk_each(struct dbc *c, int (*fn)(const struct inv_disk *d, void *arg), void *arg)
{
	sqlite3_stmt *s = db_stmt(c, DISK_SQL "ORDER BY name");
	struct inv_disk *d = malloc(sizeof(*d));
	int rc = 0, st;

	if (!s || !d) {
		free(d);
		if (s)
			db_done(s);
		return s ? -ENOMEM : -EIO;
	}
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		disk_row(s, d);
		rc = fn(d, arg);
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	free(d);
	return rc;
}

int inv_sqlite_disk_create(struct dbc *c, const struct inv_disk *d, int64_t *id)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO disks (name, format, size, path, created) "
				     "VALUES (?, ?, ?, ?, ?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, d->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, d->format, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, d->size);
	sqlite3_bind_text(s, 4, d->path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, time(NULL));
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc)
		*id = sqlite3_last_insert_rowid(db_handle(c));
	return rc;
}

int inv_sqlite_disk_set_size(struct dbc *c, int64_t id, int64_t size)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE disks SET size = ? WHERE id = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, size);
	sqlite3_bind_int64(s, 2, id);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_sqlite_disk_delete(struct dbc *c, int64_t id)
{
	int rc = db_exec_id(c, "DELETE FROM disks WHERE id = ?", id);

	if (!rc && sqlite3_changes(db_handle(c)) != 1)
		return -ENOENT;
	/* The grants go with it (a trigger does it too, since migration 3). */
	if (!rc)
		rc = db_exec_id(c, "DELETE FROM acl WHERE object_type = 'disk' AND object_id = ?", id);
	return rc;
}
