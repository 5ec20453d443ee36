/* The inventory's images' owners on SQLite: the images table. See inv.h. */
#include "server/inv_sqlite.h"
#include "server/db.h"

#include <errno.h>
#include <stdio.h>

#define IMAGE_SQL "SELECT name, owner, public, bytes FROM images "

static void image_row(sqlite3_stmt *s, struct inv_image *i)
{
	snprintf(i->name, sizeof(i->name), "%s", (const char *)sqlite3_column_text(s, 0));
	i->owner = sqlite3_column_int64(s, 1);
	i->public = sqlite3_column_int(s, 2) != 0;
	i->bytes = sqlite3_column_int64(s, 3);
	i->hosts[0] = '\0';
}

int inv_sqlite_image_get(struct dbc *c, const char *name, struct inv_image *out)
{
	sqlite3_stmt *s = db_stmt(c, IMAGE_SQL "WHERE name = ?");
	int rc, st;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	st = sqlite3_step(s);
	if (st == SQLITE_ROW) {
		image_row(s, out);
		rc = 0;
	} else {
		rc = st == SQLITE_DONE ? -ENOENT : db_rc(c, st);
	}
	db_done(s);
	return rc;
}

int inv_sqlite_image_each(struct dbc *c, int (*fn)(const struct inv_image *i, void *arg), void *arg)
{
	sqlite3_stmt *s = db_stmt(c, IMAGE_SQL "ORDER BY name");
	struct inv_image i;
	int rc = 0, st;

	if (!s)
		return -EIO;
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		image_row(s, &i);
		rc = fn(&i, arg);
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}

int inv_sqlite_image_put(struct dbc *c, const struct inv_image *i)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT OR REPLACE INTO images (name, owner, public, bytes) "
				     "VALUES (?, ?, ?, ?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, i->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, i->owner);
	sqlite3_bind_int(s, 3, i->public);
	sqlite3_bind_int64(s, 4, i->bytes);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_sqlite_image_delete(struct dbc *c, const char *name)
{
	sqlite3_stmt *s = db_stmt(c, "DELETE FROM images WHERE name = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}
