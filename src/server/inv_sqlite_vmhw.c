/* The inventory's VM hardware on SQLite: the vm_hw table, a NIC's model and a CD/DVD drive's
 * bus (migration 7). See inv.h. */
#include "server/db.h"
#include "server/inv_sqlite.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int inv_sqlite_vm_hw_init(struct dbc *c, int64_t id)
{
	return db_exec_id(c, "INSERT INTO vm_hw (vm_id, uuid) VALUES (?, " INV_SQL_UUID ")", id);
}

static void col_copy(sqlite3_stmt *s, int i, char *out, size_t n)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	snprintf(out, n, "%s", t ? (const char *)t : "");
}

int inv_sqlite_vm_hw_get(struct dbc *c, int64_t id, struct inv_vm_hw *out)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT firmware, boot, uuid, os_type, balloon, display, enlightenments, "
				     "mem_merge, memory_min_mib, memory_buffer_pct FROM vm_hw "
				     "WHERE vm_id = ?");
	int rc, st;

	if (!s)
		return -EIO;
	memset(out, 0, sizeof(*out));
	sqlite3_bind_int64(s, 1, id);
	st = sqlite3_step(s);
	if (st == SQLITE_ROW) {
		col_copy(s, 0, out->firmware, sizeof(out->firmware));
		col_copy(s, 1, out->boot, sizeof(out->boot));
		col_copy(s, 2, out->uuid, sizeof(out->uuid));
		col_copy(s, 3, out->os_type, sizeof(out->os_type));
		out->balloon = sqlite3_column_int(s, 4) != 0;
		col_copy(s, 5, out->display, sizeof(out->display));
		col_copy(s, 6, out->enlightenments, sizeof(out->enlightenments));
		out->mem_merge = sqlite3_column_int(s, 7) != 0;
		out->memory_min_mib = sqlite3_column_int64(s, 8);
		out->memory_buffer_pct = sqlite3_column_int(s, 9);
		rc = 0;
	} else {
		rc = st == SQLITE_DONE ? -ENOENT : db_rc(c, st);
	}
	db_done(s);
	return rc;
}

int inv_sqlite_vm_hw_set_uuid(struct dbc *c, int64_t id, const char *uuid)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE vm_hw SET uuid = ? WHERE vm_id = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, uuid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc && sqlite3_changes(db_handle(c)) != 1)
		rc = -ENOENT;
	return rc;
}

int inv_sqlite_vm_hw_put(struct dbc *c, int64_t id, const struct inv_vm_hw *hw)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE vm_hw SET firmware = ?, boot = ?, os_type = ?, "
				     "balloon = ?, display = ?, enlightenments = ?, mem_merge = ?, "
				     "memory_min_mib = ?, memory_buffer_pct = ? WHERE vm_id = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, hw->firmware, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, hw->boot, -1, SQLITE_STATIC);
	if (hw->os_type[0])
		sqlite3_bind_text(s, 3, hw->os_type, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 3);
	sqlite3_bind_int(s, 4, hw->balloon);
	if (hw->display[0])
		sqlite3_bind_text(s, 5, hw->display, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 5);
	if (hw->enlightenments[0])
		sqlite3_bind_text(s, 6, hw->enlightenments, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 6);
	sqlite3_bind_int(s, 7, hw->mem_merge);
	if (hw->memory_min_mib > 0)
		sqlite3_bind_int64(s, 8, hw->memory_min_mib);
	else
		sqlite3_bind_null(s, 8);
	sqlite3_bind_int(s, 9, hw->memory_buffer_pct);
	sqlite3_bind_int64(s, 10, id);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc && sqlite3_changes(db_handle(c)) != 1)
		rc = -ENOENT;
	return rc;
}

/* UPDATE sql (value ?1, vm ?2, idx ?3) of one row. 0, -ENOENT or -EIO. */
static int set_one(struct dbc *c, const char *sql, int64_t id, int idx, const char *val)
{
	sqlite3_stmt *s = db_stmt(c, sql);
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, val, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	sqlite3_bind_int(s, 3, idx);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc && sqlite3_changes(db_handle(c)) != 1)
		rc = -ENOENT;
	return rc;
}

int inv_sqlite_vm_nic_set_model(struct dbc *c, int64_t id, int idx, const char *model)
{
	return set_one(c, "UPDATE vm_nics SET model = ?1 WHERE vm_id = ?2 AND idx = ?3", id, idx,
		       model);
}

int inv_sqlite_vm_cdrom_set_bus(struct dbc *c, int64_t id, int idx, const char *bus)
{
	return set_one(c, "UPDATE vm_cdroms SET bus = ?1 WHERE vm_id = ?2 AND idx = ?3", id, idx,
		       bus);
}

int inv_sqlite_vm_hw_copy(struct dbc *c, int64_t src, int64_t dst)
{
	static const char *const sql[] = {
		"UPDATE vm_hw SET (firmware, boot, os_type, balloon, display, enlightenments, mem_merge, "
		"memory_min_mib, memory_buffer_pct) = (SELECT firmware, boot, "
		"os_type, balloon, display, enlightenments, mem_merge, memory_min_mib, "
		"memory_buffer_pct FROM "
		"vm_hw WHERE vm_id = ?1) WHERE vm_id = ?2 AND EXISTS (SELECT 1 FROM vm_hw WHERE "
		"vm_id = ?1)",
		"UPDATE vm_nics SET model = coalesce((SELECT s.model FROM vm_nics s WHERE s.vm_id = ?1 "
		"AND s.idx = vm_nics.idx), model) WHERE vm_id = ?2",
		"UPDATE vm_cdroms SET bus = coalesce((SELECT s.bus FROM vm_cdroms s WHERE s.vm_id = ?1 "
		"AND s.idx = vm_cdroms.idx), bus) WHERE vm_id = ?2",
	};
	int rc = 0;

	for (size_t i = 0; !rc && i < sizeof(sql) / sizeof(sql[0]); i++) {
		sqlite3_stmt *s = db_stmt(c, sql[i]);

		if (!s)
			return -EIO;
		sqlite3_bind_int64(s, 1, src);
		sqlite3_bind_int64(s, 2, dst);
		rc = db_rc(c, sqlite3_step(s));
		db_done(s);
	}
	return rc;
}
