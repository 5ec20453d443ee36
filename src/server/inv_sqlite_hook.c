/* The inventory's hooks on SQLite: the hooks table. See inv.h. */
#include "server/inv_sqlite.h"
#include "server/db.h"

#include <errno.h>
#include <time.h>

#define HOOK_SQL "SELECT id, event_type, command, url, timeout, created FROM hooks "

/* Call fn for every row of s (HOOK_SQL with its parameters bound), then finish s. */
static int each_row(struct dbc *c, sqlite3_stmt *s,
		    int (*fn)(const struct inv_hook *h, void *arg), void *arg, int *rows)
{
	int rc = 0, st;

	*rows = 0;
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		struct inv_hook h = {
			.id = sqlite3_column_int64(s, 0),
			.event = (const char *)sqlite3_column_text(s, 1),
			.command = (const char *)sqlite3_column_text(s, 2),
			.url = (const char *)sqlite3_column_text(s, 3),
			.timeout = sqlite3_column_int(s, 4),
			.created = sqlite3_column_int64(s, 5),
		};

		(*rows)++;
		rc = fn(&h, arg);
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}

int inv_sqlite_hook_each(struct dbc *c, const char *type,
		  int (*fn)(const struct inv_hook *h, void *arg), void *arg)
{
	sqlite3_stmt *s = type ? db_stmt(c, HOOK_SQL "WHERE event_type = ? OR event_type = '*' "
					    "ORDER BY id")
			       : db_stmt(c, HOOK_SQL "ORDER BY id");
	int rows;

	if (!s)
		return -EIO;
	if (type)
		sqlite3_bind_text(s, 1, type, -1, SQLITE_STATIC);
	return each_row(c, s, fn, arg, &rows);
}

int inv_sqlite_hook_get(struct dbc *c, int64_t id, int (*fn)(const struct inv_hook *h, void *arg),
		 void *arg)
{
	sqlite3_stmt *s = db_stmt(c, HOOK_SQL "WHERE id = ?");
	int rows, rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	rc = each_row(c, s, fn, arg, &rows);
	return rc || rows ? rc : -ENOENT;
}

int inv_sqlite_hook_create(struct dbc *c, const struct inv_hook *h, int64_t *id)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO hooks (event_type, command, url, timeout, created) "
				     "VALUES (?, ?, ?, ?, ?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, h->event, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, h->command ? h->command : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, h->url, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, h->timeout);
	sqlite3_bind_int64(s, 5, time(NULL));
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc)
		*id = sqlite3_last_insert_rowid(db_handle(c));
	return rc;
}

int inv_sqlite_hook_delete(struct dbc *c, int64_t id)
{
	int rc = db_exec_id(c, "DELETE FROM hooks WHERE id = ?", id);

	return !rc && sqlite3_changes(db_handle(c)) == 0 ? -ENOENT : rc;
}
