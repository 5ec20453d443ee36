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

/* Run s (user id bound as ?1) and read its one row's columns into out[0..n). */
static int sums(struct dbc *c, sqlite3_stmt *s, int64_t uid, int64_t *out, int n)
{
	int st, i;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, uid);
	st = sqlite3_step(s);
	for (i = 0; st == SQLITE_ROW && i < n; i++)
		out[i] = sqlite3_column_int64(s, i);
	st = st == SQLITE_ROW ? 0 : db_rc(c, st) ? db_rc(c, st) : -EIO;
	db_done(s);
	return st;
}

int inv_sqlite_usage(struct dbc *c, int64_t uid, struct inv_quota *out)
{
	int64_t v[3] = { 0 }, d[2] = { 0 }, n = 0, img = 0, undo = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = sums(c, db_stmt(c, "SELECT COUNT(*), COALESCE(SUM(v.cpus), 0), "
			     "COALESCE(SUM(v.memory_mib), 0) FROM owners o JOIN vms v ON v.id = "
			     "o.object_id WHERE o.user_id = ?1 AND o.object_type = 'vm'"), uid, v, 3);
	if (!rc)
		rc = sums(c, db_stmt(c, "SELECT COUNT(*), COALESCE(SUM(d.size), 0) FROM owners o "
				     "JOIN disks d ON d.id = o.object_id WHERE o.user_id = ?1 AND "
				     "o.object_type = 'disk'"), uid, d, 2);
	if (!rc)
		rc = sums(c, db_stmt(c, "SELECT COUNT(*) FROM owners o JOIN snapshots s ON "
				     "s.vm_id = o.object_id WHERE o.user_id = ?1 AND "
				     "o.object_type = 'vm'"), uid, &n, 1);
	if (!rc)
		rc = sums(c, db_stmt(c, "SELECT COALESCE(SUM(bytes), 0) FROM images WHERE "
				     "owner = ?1 AND public = 0"), uid, &img, 1);
	if (!rc)
		rc = sums(c, db_stmt(c, "SELECT COALESCE(SUM(u.bytes), 0) FROM owners o JOIN vm_undo u "
				     "ON u.vm_id = o.object_id WHERE o.user_id = ?1 AND "
				     "o.object_type = 'vm'"), uid, &undo, 1);
	if (rc)
		return rc;
	*out = (struct inv_quota){ .vms = v[0], .cpus = v[1], .memory_mib = v[2], .disks = d[0],
				   .disk_bytes = d[1] + img + undo, .snapshots = n };
	return 0;
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

int inv_sqlite_usage_peek(struct dbc *c, int64_t uid, struct inv_quota *out)
{
	return inv_sqlite_usage(c, uid, out);   /* (writers are serialised: nothing to stamp) */
}

int inv_sqlite_managed_each(struct dbc *c, int64_t uid, int (*fn)(int64_t id, void *arg),
			    void *arg)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT object_id FROM owners WHERE user_id = ? AND "
				     "object_type = 'user' ORDER BY object_id");
	int rc = 0, st;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, uid);
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW)
		rc = fn(sqlite3_column_int64(s, 0), arg);
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}

int inv_sqlite_vm_set_undo_bytes(struct dbc *c, int64_t id, int64_t bytes)
{
	sqlite3_stmt *s;
	int rc;

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
