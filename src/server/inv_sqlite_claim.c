/* The inventory's claims on SQLite: the claims table (migration 18). See inv_log.h. */
#include "server/inv_sqlite.h"
#include "server/db.h"
#include "util/clock.h"

#include <errno.h>
#include <stdio.h>

/* The owner of the claim what/id that has not ended into holder (n bytes, when not NULL):
 * 0, -ENOENT or -EIO. */
static int holder_of(struct dbc *c, const char *what, int64_t id, char *holder, size_t n)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT owner FROM claims WHERE what = ? AND object_id = ? "
				     "AND expires > ?");
	int rc, st;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, what, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	sqlite3_bind_double(s, 3, clock_real());
	st = sqlite3_step(s);
	rc = st == SQLITE_ROW ? 0 : st == SQLITE_DONE ? -ENOENT : db_rc(c, st);
	if (!rc && holder && n)
		snprintf(holder, n, "%s", (const char *)sqlite3_column_text(s, 0) ?: "");
	db_done(s);
	return rc;
}

int inv_sqlite_claim_take(struct dbc *c, const char *what, int64_t id, const char *owner,
			  int ttl_s, char *holder, size_t n)
{
	/* one statement, so one step: a row whose time is over is taken over, a live one
	 * stays (no change) */
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO claims (what, object_id, owner, expires) "
				     "VALUES (?1, ?2, ?3, ?4 + ?5) ON CONFLICT (what, object_id) "
				     "DO UPDATE SET owner = excluded.owner, expires = "
				     "excluded.expires WHERE claims.expires <= ?4");
	int rc;

	if (!what || !*what || !owner || !*owner || ttl_s < 1 || ttl_s > 86400)
		return -EINVAL;
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, what, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	sqlite3_bind_text(s, 3, owner, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 4, clock_real());
	sqlite3_bind_int(s, 5, ttl_s);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (rc)
		return rc;
	if (sqlite3_changes(db_handle(c)) == 1)
		return 0;
	/* held: whose (it may have ended since, between the two reads: then nobody's) */
	rc = holder_of(c, what, id, holder, n);
	if (rc == -ENOENT && holder && n)
		snprintf(holder, n, "?");
	return rc == -EIO ? -EIO : -EBUSY;
}

int inv_sqlite_claim_drop(struct dbc *c, const char *what, int64_t id, const char *owner)
{
	sqlite3_stmt *s = db_stmt(c, "DELETE FROM claims WHERE what = ? AND object_id = ? AND "
				     "owner = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, what, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	sqlite3_bind_text(s, 3, owner, -1, SQLITE_STATIC);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc && sqlite3_changes(db_handle(c)) == 0)
		rc = -ENOENT;
	return rc;
}

int inv_sqlite_claim_sweep(struct dbc *c, const char *prefix)
{
	sqlite3_stmt *s = db_stmt(c, "DELETE FROM claims WHERE substr(owner, 1, length(?1)) = ?1");
	int rc;

	if (!prefix || !*prefix)
		return -EINVAL;
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, prefix, -1, SQLITE_STATIC);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc ? rc : sqlite3_changes(db_handle(c));
}

int inv_sqlite_claim_get(struct dbc *c, const char *what, int64_t id, char *holder, size_t n)
{
	return holder_of(c, what, id, holder, n);
}
