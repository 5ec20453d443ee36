/* The inventory's CD/DVD drives on SQLite: the vm_cdroms table (migration 6). See inv.h. */
#include "server/db.h"
#include "server/inv_sqlite.h"

#include <errno.h>

int inv_sqlite_vm_cdroms(struct dbc *c, int64_t id, int (*fn)(const struct inv_vm_cdrom *d, void *arg),
		  void *arg)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT idx, image, bus FROM vm_cdroms WHERE vm_id = ? ORDER BY idx");
	int rc = 0, st;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		struct inv_vm_cdrom d = {
			.idx = sqlite3_column_int(s, 0),
			.image = (const char *)sqlite3_column_text(s, 1),
			.bus = (const char *)sqlite3_column_text(s, 2),
		};

		rc = fn(&d, arg);
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}

int inv_sqlite_vm_cdroms_clear(struct dbc *c, int64_t id)
{
	return db_exec_id(c, "DELETE FROM vm_cdroms WHERE vm_id = ?", id);
}

/* Bind image (NULL: SQL NULL) as parameter i of s. */
static void bind_image(sqlite3_stmt *s, int i, const char *image)
{
	if (image)
		sqlite3_bind_text(s, i, image, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

int inv_sqlite_vm_cdrom_add(struct dbc *c, int64_t id, int idx, const char *image)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO vm_cdroms (vm_id, idx, image) VALUES (?, ?, ?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, idx);
	bind_image(s, 3, image);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_sqlite_vm_cdrom_set(struct dbc *c, int64_t id, int idx, const char *image)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE vm_cdroms SET image = ? WHERE vm_id = ? AND idx = ?");
	int rc;

	if (!s)
		return -EIO;
	bind_image(s, 1, image);
	sqlite3_bind_int64(s, 2, id);
	sqlite3_bind_int(s, 3, idx);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc && sqlite3_changes(db_handle(c)) != 1)
		rc = -ENOENT;
	return rc;
}

int inv_sqlite_image_cdrom_users(struct dbc *c, const char *image,
			  int (*fn)(const struct inv_vm *v, int idx, void *arg), void *arg)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT v." VM_COLUMNS_V ", vc.idx FROM vm_cdroms vc JOIN vms v "
				     "ON v.id = vc.vm_id WHERE vc.image = ? ORDER BY v.name, vc.idx");
	struct inv_vm v;
	int rc = 0, st;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, image, -1, SQLITE_TRANSIENT);
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		rc = inv_sqlite_vm_row(s, &v);
		if (rc)
			break;
		rc = fn(&v, sqlite3_column_int(s, VM_NCOLUMNS), arg);
		inv_vm_clear(&v);
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}
