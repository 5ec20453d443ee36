/* The inventory's tasks on SQLite: the tasks table. See inv.h. */
#include "server/inv_sqlite.h"
#include "server/db.h"

#include <errno.h>

int inv_sqlite_task_create(struct dbc *c, const char *kind, const char *object, const char *user,
			   const char *host, double created, int64_t *id)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO tasks (kind, object, state, progress, user, "
				     "host, created) VALUES (?, ?, 'running', 0, ?, ?, ?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, object, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, host, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 5, created);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc)
		*id = sqlite3_last_insert_rowid(db_handle(c));
	return rc;
}

int inv_sqlite_task_update(struct dbc *c, int64_t id, const char *state, double progress,
		    const char *error, double finished)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE tasks SET state = ?, progress = ?, error = ?, "
				     "finished = ? WHERE id = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 2, progress);
	sqlite3_bind_text(s, 3, error, -1, SQLITE_STATIC);
	if (finished >= 0)
		sqlite3_bind_double(s, 4, finished);
	else
		sqlite3_bind_null(s, 4);
	sqlite3_bind_int64(s, 5, id);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_sqlite_task_running(struct dbc *c, const char *kind, const char *object)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT 1 FROM tasks WHERE kind = ? AND object = ? AND "
				     "state = 'running'");
	int r;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, object, -1, SQLITE_STATIC);
	r = sqlite3_step(s) == SQLITE_ROW;
	db_done(s);
	return r;
}

int inv_sqlite_task_fail_running(struct dbc *c, const char *host, const char *error,
				 double finished)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE tasks SET state = 'failed', error = ?, finished = ? "
				     "WHERE state = 'running' AND (?3 IS NULL OR host IS NULL OR "
				     "host = ?3)");
	int n = -EIO;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, error, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 2, finished);
	sqlite3_bind_text(s, 3, host, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_DONE)
		n = sqlite3_changes(db_handle(c));
	db_done(s);
	return n;
}

#define TASK_SQL "SELECT id, kind, object, state, progress, error, user, created, finished, " \
		 "host " \
		 "FROM tasks "

static int each_row(struct dbc *c, sqlite3_stmt *s,
		    int (*fn)(const struct inv_task *t, void *arg), void *arg, int *rows)
{
	int rc = 0, st;

	*rows = 0;
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		struct inv_task t = {
			.id = sqlite3_column_int64(s, 0),
			.kind = (const char *)sqlite3_column_text(s, 1),
			.object = (const char *)sqlite3_column_text(s, 2),
			.state = (const char *)sqlite3_column_text(s, 3),
			.progress = sqlite3_column_double(s, 4),
			.error = (const char *)sqlite3_column_text(s, 5),
			.user = (const char *)sqlite3_column_text(s, 6),
			.created = sqlite3_column_double(s, 7),
			.finished = sqlite3_column_type(s, 8) == SQLITE_NULL ? -1 :
				    sqlite3_column_double(s, 8),
			.host = (const char *)sqlite3_column_text(s, 9),
		};

		(*rows)++;
		rc = fn(&t, arg);
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}

int inv_sqlite_task_each(struct dbc *c, int (*fn)(const struct inv_task *t, void *arg), void *arg)
{
	sqlite3_stmt *s = db_stmt(c, TASK_SQL "ORDER BY id DESC");
	int rows;

	if (!s)
		return -EIO;
	return each_row(c, s, fn, arg, &rows);
}

int inv_sqlite_task_get(struct dbc *c, int64_t id, int (*fn)(const struct inv_task *t, void *arg),
		 void *arg)
{
	sqlite3_stmt *s = db_stmt(c, TASK_SQL "WHERE id = ?");
	int rows, rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	rc = each_row(c, s, fn, arg, &rows);
	return rc || rows ? rc : -ENOENT;
}
