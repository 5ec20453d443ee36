/* The inventory's quotas and owners on SQLite: the quotas and owners tables (migration 14).
 * See inv.h. */
#include "server/inv_sqlite.h"
#include "server/db.h"

#include <errno.h>
#include <string.h>

/* A column that may be NULL (unlimited) as -1. */
static int64_t col_limit(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, i);
}

static void bind_limit(sqlite3_stmt *s, int i, int64_t v)
{
	if (v < 0)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_int64(s, i, v);
}

int inv_sqlite_quota_get(struct dbc *c, int64_t uid, struct inv_quota *out)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT vms, cpus, memory_mib, disks, disk_bytes, snapshots "
				     "FROM quotas WHERE user_id = ?");
	int st;

	*out = (struct inv_quota){ -1, -1, -1, -1, -1, -1 };
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, uid);
	st = sqlite3_step(s);
	if (st == SQLITE_ROW) {
		out->vms = col_limit(s, 0);
		out->cpus = col_limit(s, 1);
		out->memory_mib = col_limit(s, 2);
		out->disks = col_limit(s, 3);
		out->disk_bytes = col_limit(s, 4);
		out->snapshots = col_limit(s, 5);
	}
	st = st == SQLITE_ROW || st == SQLITE_DONE ? 0 : db_rc(c, st);
	db_done(s);
	return st;
}

int inv_sqlite_quota_put(struct dbc *c, int64_t uid, const struct inv_quota *q)
{
	sqlite3_stmt *s;
	int64_t n = 0;
	int rc;

	s = db_stmt(c, "SELECT COUNT(*) FROM users WHERE id = ?");
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, uid);
	rc = sqlite3_step(s) == SQLITE_ROW ? 0 : -EIO;
	n = sqlite3_column_int64(s, 0);
	db_done(s);
	if (rc)
		return rc;
	if (!n)
		return -ENOENT;
	if (q->vms < 0 && q->cpus < 0 && q->memory_mib < 0 && q->disks < 0 && q->disk_bytes < 0 &&
	    q->snapshots < 0)
		return db_exec_id(c, "DELETE FROM quotas WHERE user_id = ?", uid);
	s = db_stmt(c, "INSERT OR REPLACE INTO quotas (user_id, vms, cpus, memory_mib, disks, "
		       "disk_bytes, snapshots) VALUES (?, ?, ?, ?, ?, ?, ?)");
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, uid);
	bind_limit(s, 2, q->vms);
	bind_limit(s, 3, q->cpus);
	bind_limit(s, 4, q->memory_mib);
	bind_limit(s, 5, q->disks);
	bind_limit(s, 6, q->disk_bytes);
	bind_limit(s, 7, q->snapshots);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

/* The users a usage read counts: ?1 and the users it manages, ?2 levels below it at most
 * (owners of type 'user': a user's manager; UNION drops a user met twice at one level),
 * then what they own, in one statement (issue 18: a manager's check costs one query, not
 * five per user). CROSS JOIN keeps the order: from the users to their owners rows by
 * owners_user, then each object by its key. (Its CTEs are materialised: in memory, db.c's
 * temp_store, measured there.) */
#define TREE_USAGE_SQL \
	"WITH RECURSIVE tree(id, depth) AS (SELECT ?1, 0 UNION SELECT o.object_id, " \
	"t.depth + 1 FROM tree t CROSS JOIN owners o WHERE o.user_id = t.id AND " \
	"o.object_type = 'user' AND t.depth < ?2), ids(id) AS (SELECT DISTINCT id FROM tree), " \
	"ovm(id) AS (SELECT o.object_id FROM ids CROSS JOIN owners o WHERE o.user_id = ids.id " \
	"AND o.object_type = 'vm'), " \
	"vagg(n, c, m) AS (SELECT COUNT(*), COALESCE(SUM(v.cpus), 0), " \
	"COALESCE(SUM(v.memory_mib), 0) FROM ovm CROSS JOIN vms v WHERE v.id = ovm.id), " \
	"dagg(n, b) AS (SELECT COUNT(*), COALESCE(SUM(d.size), 0) FROM ids CROSS JOIN owners o " \
	"CROSS JOIN disks d WHERE o.user_id = ids.id AND o.object_type = 'disk' AND " \
	"d.id = o.object_id), " \
	"sagg(n) AS (SELECT COUNT(*) FROM ovm CROSS JOIN snapshots s WHERE s.vm_id = ovm.id), " \
	"iagg(b) AS (SELECT COALESCE(SUM(i.bytes), 0) FROM ids CROSS JOIN images i WHERE " \
	"i.owner = ids.id AND i.public = 0), " \
	"uagg(b) AS (SELECT COALESCE(SUM(u.bytes), 0) FROM ovm CROSS JOIN vm_undo u WHERE " \
	"u.vm_id = ovm.id) " \
	"SELECT (SELECT COUNT(*) FROM ids), vagg.n, vagg.c, vagg.m, dagg.n, dagg.b, sagg.n, " \
	"iagg.b, uagg.b FROM vagg, dagg, sagg, iagg, uagg"

static int tree_usage(struct dbc *c, int64_t uid, int depth, struct inv_quota *out,
		      size_t *users)
{
	sqlite3_stmt *s = db_stmt(c, TREE_USAGE_SQL);
	int64_t v[9];
	int st, i;

	memset(out, 0, sizeof(*out));
	*users = 0;
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, uid);
	sqlite3_bind_int(s, 2, depth < 0 ? 0 : depth);
	st = sqlite3_step(s);
	for (i = 0; st == SQLITE_ROW && i < 9; i++)
		v[i] = sqlite3_column_int64(s, i);
	st = st == SQLITE_ROW ? 0 : db_rc(c, st) ? db_rc(c, st) : -EIO;
	db_done(s);
	if (st)
		return st;
	*users = (size_t)v[0];
	*out = (struct inv_quota){ .vms = v[1], .cpus = v[2], .memory_mib = v[3], .disks = v[4],
				   .disk_bytes = v[5] + v[7] + v[8], .snapshots = v[6] };
	return 0;
}

int inv_sqlite_usage(struct dbc *c, int64_t uid, struct inv_quota *out)
{
	size_t users;

	return tree_usage(c, uid, 0, out, &users);
}

int inv_sqlite_usage_tree(struct dbc *c, int64_t uid, int depth, struct inv_quota *out,
			  size_t *users)
{
	return tree_usage(c, uid, depth, out, users);   /* (writers are serialised) */
}

int inv_sqlite_owner_set(struct dbc *c, const char *kind, int64_t id, int64_t uid)
{
	sqlite3_stmt *s;
	int rc;

	if (!uid) {
		s = db_stmt(c, "DELETE FROM owners WHERE object_type = ? AND object_id = ?");
	} else {
		s = db_stmt(c, "INSERT OR REPLACE INTO owners (object_type, object_id, user_id) "
			       "VALUES (?, ?, ?)");
	}
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	if (uid)
		sqlite3_bind_int64(s, 3, uid);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_sqlite_owner_get(struct dbc *c, const char *kind, int64_t id, int64_t *uid)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT user_id FROM owners WHERE object_type = ? AND "
				     "object_id = ?");
	int st;

	*uid = 0;
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	st = sqlite3_step(s);
	if (st == SQLITE_ROW)
		*uid = sqlite3_column_int64(s, 0);
	st = st == SQLITE_ROW || st == SQLITE_DONE ? 0 : db_rc(c, st);
	db_done(s);
	return st;
}

int inv_sqlite_vm_set_undo_bytes(struct dbc *c, int64_t id, const char *host, int64_t bytes)
{
	sqlite3_stmt *s;
	int rc;

	(void)host;     /* one host */
	if (bytes <= 0)
		return db_exec_id(c, "DELETE FROM vm_undo WHERE vm_id = ?", id);
	s = db_stmt(c, "INSERT OR REPLACE INTO vm_undo (vm_id, bytes) SELECT id, ?2 FROM vms "
		       "WHERE id = ?1");
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, bytes);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}
