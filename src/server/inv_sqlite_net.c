/* The inventory's networks on SQLite: the networks table. See inv.h. */
#include "server/inv_sqlite.h"
#include "server/db.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#define NET_SQL "SELECT id, name, kind, bridge, subnet, dhcp_start, dhcp_end FROM networks "

static void col(sqlite3_stmt *s, int i, char *out, size_t n)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	snprintf(out, n, "%s", t ? (const char *)t : "");
}

static void net_row(sqlite3_stmt *s, struct inv_net *n)
{
	n->id = sqlite3_column_int64(s, 0);
	col(s, 1, n->name, sizeof(n->name));
	col(s, 2, n->kind, sizeof(n->kind));
	col(s, 3, n->bridge, sizeof(n->bridge));
	col(s, 4, n->subnet, sizeof(n->subnet));
	col(s, 5, n->dhcp_start, sizeof(n->dhcp_start));
	col(s, 6, n->dhcp_end, sizeof(n->dhcp_end));
}

int inv_sqlite_net_get(struct dbc *c, int64_t id, struct inv_net *out)
{
	sqlite3_stmt *s = db_stmt(c, NET_SQL "WHERE id = ?");
	int rc = -ENOENT;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		net_row(s, out);
		rc = 0;
	}
	db_done(s);
	return rc;
}

int inv_sqlite_net_each(struct dbc *c, int (*fn)(const struct inv_net *n, void *arg), void *arg)
{
	sqlite3_stmt *s = db_stmt(c, NET_SQL "ORDER BY name");
	struct inv_net n;
	int rc = 0, st;

	if (!s)
		return -EIO;
	while (!rc && (st = sqlite3_step(s)) == SQLITE_ROW) {
		net_row(s, &n);
		rc = fn(&n, arg);
	}
	if (!rc && st != SQLITE_DONE)
		rc = db_rc(c, st);
	db_done(s);
	return rc;
}

/* Bind text, or NULL for "". */
static void bind_opt(sqlite3_stmt *s, int i, const char *t)
{
	if (*t)
		sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

int inv_sqlite_net_create(struct dbc *c, const struct inv_net *n, int64_t *id)
{
	sqlite3_stmt *s = db_stmt(c, "INSERT INTO networks (name, kind, bridge, subnet, dhcp_start, "
				     "dhcp_end, created) VALUES (?, ?, ?, ?, ?, ?, ?)");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, n->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, n->kind, -1, SQLITE_STATIC);
	bind_opt(s, 3, n->bridge);
	bind_opt(s, 4, n->subnet);
	bind_opt(s, 5, n->dhcp_start);
	bind_opt(s, 6, n->dhcp_end);
	sqlite3_bind_int64(s, 7, time(NULL));
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	if (!rc)
		*id = sqlite3_last_insert_rowid(db_handle(c));
	return rc;
}

int inv_sqlite_net_set_bridge(struct dbc *c, int64_t id, const char *bridge)
{
	sqlite3_stmt *s = db_stmt(c, "UPDATE networks SET bridge = ? WHERE id = ?");
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, bridge, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int inv_sqlite_net_delete(struct dbc *c, int64_t id)
{
	int rc = db_exec_id(c, "DELETE FROM networks WHERE id = ?", id);

	if (!rc && sqlite3_changes(db_handle(c)) != 1)
		return -ENOENT;
	return rc;
}
