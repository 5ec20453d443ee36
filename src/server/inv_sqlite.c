/* The inventory on SQLite: transactions and what all objects share. See inv.h. */
#include "server/inv.h"
#include "server/db.h"

#include <errno.h>
#include <string.h>

int inv_open(const char *path, struct db **out)
{
	return db_open(path, out);
}

void inv_close(struct db *db)
{
	db_close(db);
}

struct dbc *inv_get(struct db *db)
{
	return db_get(db);
}

void inv_put(struct dbc *c)
{
	db_put(c);
}

uint64_t inv_generation(struct db *db)
{
	return db_generation(db);
}

int inv_begin(struct dbc *c)
{
	return db_begin(c);
}

int inv_commit(struct dbc *c)
{
	return db_commit(c);
}

void inv_rollback(struct dbc *c)
{
	db_rollback(c);
}

int inv_object_id(struct dbc *c, const char *kind, const char *name, int64_t *id)
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
