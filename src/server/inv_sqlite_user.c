/* The inventory's users and groups on SQLite: the users, groups and group_members tables.
 * See inv.h. */
#include "server/inv_sqlite.h"
#include "server/db.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int inv_sqlite_user_admin(struct dbc *c, int64_t id)
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

#define USER_SQL "SELECT id, name, admin, password, created FROM users "

static void user_fill(sqlite3_stmt *s, struct inv_user *out)
{
	const unsigned char *pw;

	out->id = sqlite3_column_int64(s, 0);
	snprintf(out->name, sizeof(out->name), "%s", sqlite3_column_text(s, 1));
	out->admin = sqlite3_column_int(s, 2) != 0;
	pw = sqlite3_column_text(s, 3);
	snprintf(out->password, sizeof(out->password), "%s", pw ? (const char *)pw : "");
	out->created = sqlite3_column_int64(s, 4);
}

static int user_row(sqlite3_stmt *s, struct inv_user *out)
{
	int st = sqlite3_step(s);

	if (st == SQLITE_DONE)
		return -ENOENT;
	if (st != SQLITE_ROW)
		return -EIO;
	user_fill(s, out);
	return 0;
}

int inv_sqlite_user_by_name(struct dbc *c, const char *name, struct inv_user *out)
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

int inv_sqlite_user_get(struct dbc *c, int64_t id, struct inv_user *out)
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

int inv_sqlite_user_count(struct dbc *c, int64_t *n)
{
	return db_int64(c, "SELECT count(*) FROM users", n);
}

int inv_sqlite_user_create(struct dbc *c, const char *name, const char *password, bool admin,
		    int64_t *id)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO users (name, password, admin, created) "
				     "VALUES (?, ?, ?, ?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, password, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, admin);
	sqlite3_bind_int64(s, 4, time(NULL));
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc && id)
		*id = sqlite3_last_insert_rowid(db_handle(c));
	return rc;
}

int inv_sqlite_user_each(struct dbc *c, int (*fn)(const struct inv_user *u, void *arg), void *arg)
{
	sqlite3_stmt *s = db_stmt(c, USER_SQL "ORDER BY name");
	struct inv_user u;
	int rc = 0, st;

	if (!s)
		return -EIO;
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		user_fill(s, &u);
		rc = fn(&u, arg);
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}

/* Run s (two parameters bound: a value and an id). */
static int step_done(struct dbc *c, sqlite3_stmt *s)
{
	int rc = db_rc(c, sqlite3_step(s));

	db_done(s);
	return rc;
}

int inv_sqlite_user_set_password(struct dbc *c, int64_t id, const char *password)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE users SET password = ? WHERE id = ?");

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, password, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	return step_done(c, s);
}

int inv_sqlite_user_set_admin(struct dbc *c, int64_t id, bool admin)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE users SET admin = ? WHERE id = ?");

	if (!s)
		return -EIO;
	sqlite3_bind_int(s, 1, admin);
	sqlite3_bind_int64(s, 2, id);
	return step_done(c, s);
}

int inv_sqlite_admin_count(struct dbc *c, int64_t *n)
{
	return db_int64(c, "SELECT count(*) FROM users WHERE admin = 1", n);
}

int inv_sqlite_principal_id(struct dbc *c, const char *ptype, const char *name, int64_t *id)
{
	sqlite3_stmt *s = !strcmp(ptype, "user") ? db_stmt(c, "SELECT id FROM users WHERE name = ?")
						 : db_stmt(c, "SELECT id FROM groups WHERE name = ?");
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

int inv_sqlite_principal_delete(struct dbc *c, const char *ptype, int64_t id)
{
	bool user = !strcmp(ptype, "user");
	sqlite3_stmt *s;
	int rc = user ? db_exec_id(c, "DELETE FROM users WHERE id = ?", id)
		      : db_exec_id(c, "DELETE FROM groups WHERE id = ?", id);

	/* (the owners it had go with it, trigger users_owner; and its own link to its manager) */
	if (!rc && user)
		rc = db_exec_id(c, "DELETE FROM owners WHERE object_type = 'user' AND object_id = ?",
				id);
	if (rc)
		return rc;
	s = db_stmt(c, "DELETE FROM acl WHERE principal_type = ? AND principal_id = ?");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, user ? "user" : "group", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	return step_done(c, s);
}

int inv_sqlite_group_each(struct dbc *c, int (*fn)(int64_t id, const char *name, void *arg),
		   void *arg)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT id, name FROM groups ORDER BY name");
	int rc = 0, st;

	if (!s)
		return -EIO;
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		char name[64];

		snprintf(name, sizeof(name), "%s", sqlite3_column_text(s, 1));
		rc = fn(sqlite3_column_int64(s, 0), name, arg);
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}

int inv_sqlite_group_create(struct dbc *c, const char *name, int64_t *id)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO groups (name, created) VALUES (?, ?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, time(NULL));
	rc = step_done(c, s);
	if (!rc)
		*id = sqlite3_last_insert_rowid(db_handle(c));
	return rc;
}

int inv_sqlite_group_has_admin(struct dbc *c, int64_t id)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT EXISTS (SELECT 1 FROM group_members m JOIN users u ON "
				     "u.id = m.user_id WHERE m.group_id = ? AND u.admin = 1)");
	int rc = -EIO;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW)
		rc = sqlite3_column_int(s, 0) != 0;
	db_done(s);
	return rc;
}

int inv_sqlite_members(struct dbc *c, bool by_user, int64_t id,
		int (*fn)(int64_t other, const char *name, void *arg), void *arg)
{
	sqlite3_stmt *s = by_user ?
		db_stmt(c, "SELECT g.id, g.name FROM groups g JOIN group_members m ON "
			   "m.group_id = g.id WHERE m.user_id = ? ORDER BY g.name") :
		db_stmt(c, "SELECT u.id, u.name FROM users u JOIN group_members m ON "
			   "m.user_id = u.id WHERE m.group_id = ? ORDER BY u.name");
	int rc = 0, st;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW)
		rc = fn(sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1), arg);
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}

int inv_sqlite_members_clear(struct dbc *c, bool by_user, int64_t id)
{
	return by_user ? db_exec_id(c, "DELETE FROM group_members WHERE user_id = ?", id)
		       : db_exec_id(c, "DELETE FROM group_members WHERE group_id = ?", id);
}

int inv_sqlite_member_add(struct dbc *c, int64_t gid, int64_t uid)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT OR IGNORE INTO group_members (group_id, user_id) "
				     "VALUES (?, ?)");

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, gid);
	sqlite3_bind_int64(s, 2, uid);
	return step_done(c, s);
}

int inv_sqlite_session_drop_user(struct dbc *c, int64_t uid)
{
	return db_exec_id(c, "DELETE FROM sessions WHERE user_id = ?", uid);
}

int inv_sqlite_session_add(struct dbc *c, const char *th, int64_t uid, int64_t expires)
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

int inv_sqlite_session_sweep(struct dbc *c, int64_t now)
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

int inv_sqlite_session_drop(struct dbc *c, const char *th)
{
	sqlite3_stmt *s = db_stmt(c, "DELETE FROM sessions WHERE token_hash = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, th, -1, SQLITE_STATIC);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc && sqlite3_changes(db_handle(c)) == 0)
		rc = -ENOENT;
	return rc;
}

int inv_sqlite_session_user(struct dbc *c, const char *th, int64_t now, struct inv_user *out)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT u.id, u.name, u.admin, u.password, u.created FROM "
				     "sessions s JOIN users u ON u.id = s.user_id WHERE "
				     "s.token_hash = ? AND s.expires > ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, th, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	rc = user_row(s, out);
	db_done(s);
	return rc;
}
