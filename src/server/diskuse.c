/* Who uses a disk. See diskuse.h. */
#include "server/diskuse.h"
#include "server/db.h"

#include "vhd/vhd.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The states in which a VM's VMM may hold its disks. */
#define HOLDING "('running', 'paused', 'starting', 'stopping')"

/* Another of the server's VMs holding disk_id in a way that conflicts with a user that
 * writes it (writes) or reads it: its name into who. 1 found, 0 none, -errno. */
static int held_by_vm(struct dbc *c, int64_t id, int64_t disk_id, bool writes, char *who,
		      size_t len)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT v.name, vd.readonly = 0 AND v.undo_disks = 'off' "
				     "FROM vm_disks vd JOIN vms v ON v.id = vd.vm_id "
				     "WHERE vd.disk_id = ? AND v.id != ? AND v.state IN " HOLDING
				     " ORDER BY vd.readonly = 0 AND v.undo_disks = 'off' DESC, v.name");
	int rc = 0;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, disk_id);
	sqlite3_bind_int64(s, 2, id);
	while (!rc && sqlite3_step(s) == SQLITE_ROW) {
		bool they_write = sqlite3_column_int(s, 1);

		if (writes || they_write) {
			snprintf(who, len, "'%s' (%s)", sqlite3_column_text(s, 0),
				 they_write ? "read-write" : "read-only");
			rc = 1;
		}
	}
	db_done(s);
	return rc;
}

/* Whether VM id itself is in a state that holds its disks. 1, 0 or -errno. */
static int holds_own(struct dbc *c, int64_t id)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT 1 FROM vms WHERE id = ? AND state IN " HOLDING);
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s) == SQLITE_ROW;
	db_done(s);
	return rc;
}

int diskuse_check_start(struct server *srv, struct dbc *c, int64_t id, char *why, size_t len)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT d.id, d.name, d.path, vd.readonly = 0 AND "
				     "v.undo_disks = 'off' FROM vm_disks vd JOIN disks d ON "
				     "d.id = vd.disk_id JOIN vms v ON v.id = vd.vm_id "
				     "WHERE vd.vm_id = ? ORDER BY vd.idx");
	char who[128];
	int rc = 0;

	(void)srv;
	if (!s)
		return -EIO;
	/* a VM that runs holds its disks itself: its start is refused for its state */
	rc = holds_own(c, id);
	if (rc) {
		db_done(s);
		return rc < 0 ? rc : 0;
	}
	sqlite3_bind_int64(s, 1, id);
	while (!rc && sqlite3_step(s) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 1);
		const char *path = (const char *)sqlite3_column_text(s, 2);
		bool writes = sqlite3_column_int(s, 3);
		int r = held_by_vm(c, id, sqlite3_column_int64(s, 0), writes, who, sizeof(who));

		if (r < 0) {
			rc = r;
		} else if (r) {
			snprintf(why, len, "disk '%s' is in use by VM %s", name, who);
			rc = -EBUSY;
		} else if (vhd_lock_path_test(path, writes ? VHD_LOCK_EXCL : VHD_LOCK_SHARED) ==
			   -EBUSY) {
			snprintf(why, len, "disk '%s' is in use by another process (its image is "
				 "locked: a VM started by hand, or another program)", name);
			rc = -EBUSY;
		}
	}
	db_done(s);
	return rc;
}
