/* The inventory's attachments on SQLite: the vm_disks table (and vm_nics, later). See
 * inv.h. */
#include "server/inv.h"
#include "server/db.h"
#include "server/inv_sqlite.h"

#include <errno.h>

/* Fill d from the row of s whose columns first..first+6 are DISK_COLUMNS. */
#define DISK_COLUMNS "vd.idx, vd.disk_id, d.name, d.path, d.format, vd.bus, vd.readonly"
static void disk_row(sqlite3_stmt *s, int first, struct inv_vm_disk *d)
{
	d->idx = sqlite3_column_int(s, first);
	d->disk_id = sqlite3_column_int64(s, first + 1);
	d->disk = (const char *)sqlite3_column_text(s, first + 2);
	d->path = (const char *)sqlite3_column_text(s, first + 3);
	d->format = (const char *)sqlite3_column_text(s, first + 4);
	d->bus = (const char *)sqlite3_column_text(s, first + 5);
	d->readonly = sqlite3_column_int(s, first + 6);
}

int inv_vm_disks(struct dbc *c, int64_t id, int (*fn)(const struct inv_vm_disk *d, void *arg),
		 void *arg)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT " DISK_COLUMNS " FROM vm_disks vd JOIN disks d ON "
				     "d.id = vd.disk_id WHERE vd.vm_id = ? ORDER BY vd.idx");
	struct inv_vm_disk d;
	int rc = 0, st;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		disk_row(s, 0, &d);
		rc = fn(&d, arg);
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}

int inv_disk_users(struct dbc *c, int64_t disk_id,
		   int (*fn)(const struct inv_vm *v, const struct inv_vm_disk *d, void *arg),
		   void *arg)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT v." VM_COLUMNS_V ", " DISK_COLUMNS " FROM vm_disks vd "
				     "JOIN vms v ON v.id = vd.vm_id JOIN disks d ON d.id = vd.disk_id "
				     "WHERE vd.disk_id = ? ORDER BY v.name, vd.idx");
	struct inv_vm_disk d;
	struct inv_vm v;
	int rc = 0, st;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, disk_id);
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		rc = inv_sqlite_vm_row(s, &v);
		if (rc)
			break;
		disk_row(s, VM_NCOLUMNS, &d);
		rc = fn(&v, &d, arg);
		inv_vm_clear(&v);
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}
