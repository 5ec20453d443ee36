/* The inventory's attachments on SQLite: the vm_disks and vm_nics tables. See inv.h. */
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

int inv_sqlite_vm_disks(struct dbc *c, int64_t id, int (*fn)(const struct inv_vm_disk *d, void *arg),
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

int inv_sqlite_disk_users(struct dbc *c, int64_t disk_id,
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

int inv_sqlite_vm_disks_clear(struct dbc *c, int64_t id)
{
	return db_exec_id(c, "DELETE FROM vm_disks WHERE vm_id = ?", id);
}

int inv_sqlite_vm_disk_add(struct dbc *c, int64_t id, int idx, int64_t disk_id, const char *bus,
		    bool readonly)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO vm_disks (vm_id, idx, disk_id, bus, readonly) "
				     "VALUES (?, ?, ?, ?, ?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, idx);
	sqlite3_bind_int64(s, 3, disk_id);
	sqlite3_bind_text(s, 4, bus, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, readonly);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_sqlite_vm_nics(struct dbc *c, int64_t id, int (*fn)(const struct inv_vm_nic *n, void *arg),
		void *arg)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT vn.idx, n.id, n.name, n.kind, n.bridge, n.subnet, "
				     "n.dhcp_start, vn.mac, vn.model FROM vm_nics vn JOIN networks n ON "
				     "n.id = vn.network_id WHERE vn.vm_id = ? ORDER BY vn.idx");
	int rc = 0, st;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		struct inv_vm_nic n = {
			.idx = sqlite3_column_int(s, 0),
			.network_id = sqlite3_column_int64(s, 1),
			.network = (const char *)sqlite3_column_text(s, 2),
			.kind = (const char *)sqlite3_column_text(s, 3),
			.bridge = (const char *)sqlite3_column_text(s, 4),
			.subnet = (const char *)sqlite3_column_text(s, 5),
			.dhcp_start = (const char *)sqlite3_column_text(s, 6),
			.mac = (const char *)sqlite3_column_text(s, 7),
			.model = (const char *)sqlite3_column_text(s, 8),
		};

		rc = fn(&n, arg);
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}

int inv_sqlite_vm_nics_clear(struct dbc *c, int64_t id)
{
	return db_exec_id(c, "DELETE FROM vm_nics WHERE vm_id = ?", id);
}

int inv_sqlite_vm_nic_add(struct dbc *c, int64_t id, int idx, int64_t network_id, const char *mac)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO vm_nics (vm_id, idx, network_id, mac) "
				     "VALUES (?, ?, ?, ?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, idx);
	sqlite3_bind_int64(s, 3, network_id);
	sqlite3_bind_text(s, 4, mac, -1, SQLITE_TRANSIENT);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_sqlite_mac_used(struct dbc *c, const char *mac)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT EXISTS (SELECT 1 FROM vm_nics WHERE mac = ?)");
	int used = -EIO;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, mac, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		used = sqlite3_column_int(s, 0) != 0;
	db_done(s);
	return used;
}

int inv_sqlite_vm_sole_disks(struct dbc *c, int64_t id,
		      int (*fn)(int64_t disk_id, const char *path, void *arg), void *arg)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT d.id, d.path FROM disks d JOIN vm_disks vd ON "
				     "vd.disk_id = d.id WHERE vd.vm_id = ?1 AND NOT EXISTS (SELECT 1 "
				     "FROM vm_disks o WHERE o.disk_id = d.id AND o.vm_id != ?1)");
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
