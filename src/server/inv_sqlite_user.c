/* The inventory's users and groups on SQLite: the users, groups and group_members tables.
 * See inv.h. */
#include "server/inv.h"
#include "server/db.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

int inv_user_admin(struct dbc *c, int64_t id)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT admin FROM users WHERE id = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		rc = sqlite3_column_int(s, 0) != 0;
		break;
	case SQLITE_DONE:
		rc = -ENOENT;
		break;
	default:
		rc = -EIO;
		break;
	}
	db_done(s);
	return rc;
}

#define USER_SQL "SELECT id, name, admin, password FROM users "

static int user_row(sqlite3_stmt *s, struct inv_user *out)
{
	int st = sqlite3_step(s);
	const unsigned char *pw;

	if (st == SQLITE_DONE)
		return -ENOENT;
	if (st != SQLITE_ROW)
		return -EIO;
	out->id = sqlite3_column_int64(s, 0);
	snprintf(out->name, sizeof(out->name), "%s", sqlite3_column_text(s, 1));
	out->admin = sqlite3_column_int(s, 2) != 0;
	pw = sqlite3_column_text(s, 3);
	snprintf(out->password, sizeof(out->password), "%s", pw ? (const char *)pw : "");
	return 0;
}

int inv_user_by_name(struct dbc *c, const char *name, struct inv_user *out)
{
	sqlite3_stmt *s = db_stmt(c, USER_SQL "WHERE name = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	rc = user_row(s, out);
	db_done(s);
	return rc;
}

int inv_user_get(struct dbc *c, int64_t id, struct inv_user *out)
{
	sqlite3_stmt *s = db_stmt(c, USER_SQL "WHERE id = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	rc = user_row(s, out);
	db_done(s);
	return rc;
}

int inv_user_count(struct dbc *c, int64_t *n)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT count(*) FROM users");
	int rc = -EIO;

	if (!s)
		return -EIO;
	if (sqlite3_step(s) == SQLITE_ROW) {
		*n = sqlite3_column_int64(s, 0);
		rc = 0;
	}
	db_done(s);
	return rc;
}

int inv_user_create_admin(struct dbc *c, const char *name, const char *password)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO users (name, password, admin, created) "
				     "VALUES (?, ?, 1, ?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, password, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, time(NULL));
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_session_add(struct dbc *c, const char *th, int64_t uid, int64_t expires)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO sessions (token_hash, user_id, expires) "
				     "VALUES (?, ?, ?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, th, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int64(s, 3, expires);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_session_sweep(struct dbc *c, int64_t now)
{
	sqlite3_stmt *s = db_stmt(c, "DELETE FROM sessions WHERE expires <= ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, now);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_session_drop(struct dbc *c, const char *th)
{
	sqlite3_stmt *s = db_stmt(c, "DELETE FROM sessions WHERE token_hash = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, th, -1, SQLITE_STATIC);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc && sqlite3_changes(c->c) == 0)
		rc = -ENOENT;
	return rc;
}

int inv_session_user(struct dbc *c, const char *th, int64_t now, struct inv_user *out)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT u.id, u.name, u.admin, u.password FROM sessions s "
				     "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND "
				     "s.expires > ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, th, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	rc = user_row(s, out);
	db_done(s);
	return rc;
}
