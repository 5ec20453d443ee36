/* The inventory on SQLite: transactions and what all objects share. See inv.h. */
#include "server/inv_sqlite.h"
#include "server/db.h"

#include <errno.h>
#include <string.h>

#define OP(name, params, args) INV_OPS_TABLE_ONE(inv_sqlite, name)
const struct inv_ops inv_sqlite_ops = {
	.name = "sqlite",
	.close = db_close,
	.get = db_get,
	.put = db_put,
	.generation = db_generation,
	.rollback = db_rollback,
	INV_OPS(OP)
};
#undef OP

int inv_open(const char *path, struct db **out)
{
	int rc = db_open(path, out);

	if (!rc)
		(*out)->ops = &inv_sqlite_ops;
	return rc;
}

int inv_sqlite_begin(struct dbc *c)
{
	return db_begin(c);
}

int inv_sqlite_commit(struct dbc *c)
{
	return db_commit(c);
}

int inv_sqlite_object_id(struct dbc *c, const char *kind, const char *name, int64_t *id)
{
	sqlite3_stmt *s;
	int rc = -ENOENT;

	if (!strcmp(kind, "vm"))
		return inv_vm_id(c, name, id);
	if (!strcmp(kind, "disk"))
		s = db_stmt(c, "SELECT id FROM disks WHERE name = ?");
	else if (!strcmp(kind, "network"))
		s = db_stmt(c, "SELECT id FROM networks WHERE name = ?");
	else
		return -ENOENT;
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
