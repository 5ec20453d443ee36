/* The inventory's events on SQLite: the events table. See inv.h. */
#include "server/inv_sqlite.h"
#include "server/db.h"

#include <errno.h>

int inv_sqlite_event_add(struct dbc *c, const struct inv_event *e, int64_t *id,
			 inv_event_fn *then, void *arg)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO events (time, type, object_type, object_name, "
				     "user, message, data) VALUES (?, ?, ?, ?, ?, ?, ?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_double(s, 1, e->time);
	sqlite3_bind_text(s, 2, e->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, e->object_type, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, e->object, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, e->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, e->message, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, e->data, -1, SQLITE_STATIC);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc)
		*id = sqlite3_last_insert_rowid(db_handle(c));
	if (!rc && then)
		then(*id, arg);
	return rc;
}

int inv_sqlite_event_exists(struct dbc *c, int64_t id)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT 1 FROM events WHERE id = ?");
	int found;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	found = sqlite3_step(s) == SQLITE_ROW;
	db_done(s);
	return found;
}

int inv_sqlite_event_last(struct dbc *c, int64_t *id)
{
	return db_int64(c, "SELECT coalesce(max(id), 0) FROM events", id);
}

#define EVENT_SQL "SELECT id, time, type, object_type, object_name, user, message, data FROM events "

int inv_sqlite_event_each(struct dbc *c, int64_t after, int64_t limit,
		   int (*fn)(const struct inv_event *e, void *arg), void *arg)
{
	sqlite3_stmt *s = after < 0 ?
		db_stmt(c, "SELECT * FROM (" EVENT_SQL "ORDER BY id DESC LIMIT ?2) ORDER BY id") :
		db_stmt(c, EVENT_SQL "WHERE id > ?1 ORDER BY id LIMIT ?2");
	int rc = 0, st;

	if (!s)
		return -EIO;
	if (after >= 0)
		sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int64(s, 2, limit);
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		struct inv_event e = {
			.id = sqlite3_column_int64(s, 0),
			.time = sqlite3_column_double(s, 1),
			.type = (const char *)sqlite3_column_text(s, 2),
			.object_type = (const char *)sqlite3_column_text(s, 3),
			.object = (const char *)sqlite3_column_text(s, 4),
			.user = (const char *)sqlite3_column_text(s, 5),
			.message = (const char *)sqlite3_column_text(s, 6),
			.data = (const char *)sqlite3_column_text(s, 7),
		};

		rc = fn(&e, arg);
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}

/* A name's events_born row goes INV_BORN_MARGIN ids after its creation event (inv_log.h):
 * every event of that name older than its creation is dropped by then (ids only grow), so
 * the row hides nothing any more, and the name's next creation writes a new one. So the
 * rows of names deleted long ago do not pile up. */
int inv_sqlite_event_drop_upto(struct dbc *c, int64_t upto)
{
	int rc = db_exec_id(c, "DELETE FROM events WHERE id <= ?", upto);

	return rc || upto <= INV_BORN_MARGIN ? rc :
	       db_exec_id(c, "DELETE FROM events_born WHERE event_id <= ?", upto - INV_BORN_MARGIN);
}

int inv_sqlite_event_drop_before(struct dbc *c, double before)
{
	static const char *const sql[2] = {
		"DELETE FROM events WHERE id < (SELECT id FROM events WHERE time >= ?1 ORDER BY "
		"id LIMIT 1)",
		"DELETE FROM events_born WHERE event_id < (SELECT id FROM events WHERE time >= ?1 "
		"ORDER BY id LIMIT 1) - ?2",
	};
	int rc = 0;

	for (int i = 0; !rc && i < 2; i++) {
		sqlite3_stmt *s = db_stmt(c, sql[i]);

		if (!s)
			return -EIO;
		sqlite3_bind_double(s, 1, before);
		if (i)
			sqlite3_bind_int(s, 2, INV_BORN_MARGIN);
		rc = db_rc(c, sqlite3_step(s));
		db_done(s);
	}
	return rc;
}

/* events_born (migration 16) is kept by its trigger on every insert of events. */
int inv_sqlite_event_born(struct dbc *c, struct inv_born *names, size_t n)
{
	sqlite3_stmt *s;
	size_t i;
	int rc = 0, st;

	if (!n)
		return 0;
	s = db_stmt(c, "SELECT event_id FROM events_born WHERE object_type = ? AND object_name = ?");
	if (!s)
		return -EIO;
	for (i = 0; !rc && i < n; i++) {
		names[i].born = 0;
		sqlite3_bind_text(s, 1, names[i].object_type, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, names[i].object, -1, SQLITE_STATIC);
		st = sqlite3_step(s);
		if (st == SQLITE_ROW)
			names[i].born = sqlite3_column_int64(s, 0);
		else if (st != SQLITE_DONE)
			rc = db_rc(c, st);
		sqlite3_reset(s);
	}
	db_done(s);
	return rc;
}
