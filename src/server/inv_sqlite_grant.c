/* The inventory's grants on SQLite: the acl table. See inv.h. */
#include "server/inv_sqlite.h"
#include "server/db.h"

#include <errno.h>
#include <string.h>

int inv_sqlite_grant_add(struct dbc *c, const char *otype, int64_t oid, const char *ptype, int64_t pid,
		  int perms)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO acl VALUES (?, ?, ?, ?, ?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, otype, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, oid);
	sqlite3_bind_text(s, 3, ptype, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, pid);
	sqlite3_bind_int(s, 5, perms);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_sqlite_grant_each(struct dbc *c, const char *otype, int64_t oid,
		   int (*fn)(const struct inv_grant *g, void *arg), void *arg)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT a.principal_type, a.principal_id, coalesce(u.name, "
				     "g.name), a.perms FROM acl a LEFT JOIN users u ON "
				     "a.principal_type = 'user' AND u.id = a.principal_id LEFT JOIN "
				     "groups g ON a.principal_type = 'group' AND g.id = a.principal_id "
				     "WHERE a.object_type = ? AND a.object_id = ? ORDER BY 1, 3");
	int rc = 0, st;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, otype, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, oid);
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		struct inv_grant g = {
			.ptype = (const char *)sqlite3_column_text(s, 0),
			.pid = sqlite3_column_int64(s, 1),
			.pname = (const char *)sqlite3_column_text(s, 2),
			.perms = sqlite3_column_int(s, 3),
		};

		rc = fn(&g, arg);
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}

int inv_sqlite_grants_clear(struct dbc *c, const char *otype, int64_t oid)
{
	sqlite3_stmt *s = db_stmt(c, "DELETE FROM acl WHERE object_type = ? AND object_id = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, otype, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, oid);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_sqlite_grant_merge(struct dbc *c, const char *otype, int64_t oid, const char *ptype,
		    const char *pname, int perms)
{
	bool user = !strcmp(ptype, "user");
	sqlite3_stmt *s = user ?
		db_stmt(c, "INSERT INTO acl SELECT ?, ?, 'user', id, ? FROM users WHERE name = ? "
			   "ON CONFLICT DO UPDATE SET perms = perms | excluded.perms") :
		db_stmt(c, "INSERT INTO acl SELECT ?, ?, 'group', id, ? FROM groups WHERE name = ? "
			   "ON CONFLICT DO UPDATE SET perms = perms | excluded.perms");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, otype, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, oid);
	sqlite3_bind_int(s, 3, perms);
	sqlite3_bind_text(s, 4, pname, -1, SQLITE_STATIC);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc && sqlite3_changes(db_handle(c)) != 1)
		rc = -ENOENT;
	return rc;
}

/* The grants on (otype, oid) or on the server to user ?3 or its groups. */
#define USER_GRANTS "((principal_type = 'user' AND principal_id = ?3) OR (principal_type = " \
	"'group' AND principal_id IN (SELECT group_id FROM group_members WHERE user_id = ?3)))"

int inv_sqlite_perms(struct dbc *c, int64_t uid, const char *otype, int64_t oid)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT perms FROM acl WHERE ((object_type = ?1 AND "
				     "object_id = ?2) OR (object_type = 'server' AND object_id = 0)) "
				     "AND " USER_GRANTS);
	int perms = 0;

	if (!s)
		return 0;
	sqlite3_bind_text(s, 1, otype, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, oid);
	sqlite3_bind_int64(s, 3, uid);
	while (sqlite3_step(s) == SQLITE_ROW)
		perms |= sqlite3_column_int(s, 0);
	db_done(s);
	return perms;
}

int inv_sqlite_named(struct dbc *c, int64_t uid, const char *otype, int64_t oid)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT EXISTS (SELECT 1 FROM acl WHERE object_type = ?1 AND "
				     "object_id = ?2 AND " USER_GRANTS ")");
	int named = -EIO;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, otype, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, oid);
	sqlite3_bind_int64(s, 3, uid);
	if (sqlite3_step(s) == SQLITE_ROW)
		named = sqlite3_column_int(s, 0) != 0;
	db_done(s);
	return named;
}

int inv_sqlite_principal_grants(struct dbc *c, const char *ptype, int64_t pid,
			 int (*fn)(const char *otype, int64_t oid, int perms, void *arg),
			 void *arg)
{
	sqlite3_stmt *s = !strcmp(ptype, "user")
		? db_stmt(c, "SELECT object_type, object_id, perms FROM acl WHERE "
			     "(principal_type = 'user' AND principal_id = ?1) OR (principal_type = 'group' "
			     "AND principal_id IN (SELECT group_id FROM group_members WHERE user_id = ?1))")
		: db_stmt(c, "SELECT object_type, object_id, perms FROM acl WHERE "
			     "principal_type = 'group' AND principal_id = ?1");
	int rc = 0;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, pid);
	while (!rc && sqlite3_step(s) == SQLITE_ROW)
		rc = fn((const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1),
			sqlite3_column_int(s, 2), arg);
	db_done(s);
	return rc;
}
