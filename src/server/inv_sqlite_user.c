/* The inventory's users and groups on SQLite: the users, groups and group_members tables.
 * See inv.h. */
#include "server/inv.h"
#include "server/db.h"

#include <errno.h>

int inv_user_admin(struct dbc *c, int64_t id)
{
	sqlite3_stmt *s = db_stmt(c, "SELECT admin FROM users WHERE id = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		rc = sqlite3_column_int(s, 0) != 0;
		break;
	case SQLITE_DONE:
		rc = -ENOENT;
		break;
	default:
		rc = -EIO;
		break;
	}
	db_done(s);
	return rc;
}
