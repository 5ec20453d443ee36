/* The inventory's disks and grants on SQLite: the disks and acl tables. See inv.h. */
#include "server/inv.h"
#include "server/db.h"

#include <errno.h>

int inv_disk_delete(struct dbc *c, int64_t id)
{
	int rc = db_exec_id(c, "DELETE FROM disks WHERE id = ?", id);

	if (!rc && sqlite3_changes(c->c) != 1)
		return -ENOENT;
	/* The grants go with it (a trigger does it too, since migration 3). */
	if (!rc)
		rc = db_exec_id(c, "DELETE FROM acl WHERE object_type = 'disk' AND object_id = ?", id);
	return rc;
}

int inv_grant_add(struct dbc *c, const char *otype, int64_t oid, const char *ptype, int64_t pid,
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
