/* Object permissions: GET/PUT /api/v1/{vms|disks|networks}/{name}/permissions and
 * /api/v1/permissions (the server object, whose grants apply to every object). */
#include "server/api.h"
#include "server/auth.h"
#include "server/events.h"
#include "server/valid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Resolve the object of the request: type for the acl table and its id. */
static int object_of(struct req *r, const char **type, int64_t *id)
{
	static const struct { const char *seg, *type, *sql; } objs[] = {
		{ "vms", "vm", "SELECT id FROM vms WHERE name = ?" },
		{ "disks", "disk", "SELECT id FROM disks WHERE name = ?" },
		{ "networks", "network", "SELECT id FROM networks WHERE name = ?" },
	};
	sqlite3_stmt *s;
	size_t i;

	if (!r->args[0]) {
		*type = "server";
		*id = 0;
		return 0;
	}
	for (i = 0; i < sizeof(objs) / sizeof(objs[0]); i++)
		if (!strcmp(r->args[0], objs[i].seg))
			break;
	if (i == sizeof(objs) / sizeof(objs[0]))
		return req_error(r, -ENOENT, "no such endpoint"), -ENOENT;
	*type = objs[i].type;
	s = db_stmt(r->c, objs[i].sql);
	if (!s)
		return req_error(r, -EIO, "inventory error"), -EIO;
	sqlite3_bind_text(s, 1, r->args[1], -1, SQLITE_STATIC);
	*id = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
	db_done(s);
	if (*id < 0)
		return req_error(r, -ENOENT, "no %s named '%.63s'", *type, r->args[1]), -ENOENT;
	return 0;
}

int api_perm_get(struct req *r)
{
	const char *type;
	int64_t id;
	sqlite3_stmt *s;
	json_t *a;

	if (object_of(r, &type, &id) || auth_require(r, type, id, PERM_VIEW))
		return r->status;
	s = db_stmt(r->c, "SELECT a.principal_type, coalesce(u.name, g.name), a.perms FROM acl a "
		       "LEFT JOIN users u ON a.principal_type = 'user' AND u.id = a.principal_id "
		       "LEFT JOIN groups g ON a.principal_type = 'group' AND g.id = a.principal_id "
		       "WHERE a.object_type = ? AND a.object_id = ? ORDER BY 1, 2");
	if (!s)
		return req_error(r, -EIO, "inventory error");
	sqlite3_bind_text(s, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	a = json_array();
	while (sqlite3_step(s) == SQLITE_ROW)
		if (sqlite3_column_text(s, 1))
			json_array_append_new(a, json_pack("{s:s,s:o}",
				(const char *)sqlite3_column_text(s, 0), sqlite3_column_text(s, 1),
				"permissions", auth_perm_names(sqlite3_column_int(s, 2))));
	db_done(s);
	r->out = json_pack("{s:o}", "grants", a);
	return 200;
}

int api_perm_set(struct req *r)
{
	const char *type;
	int64_t id;
	sqlite3_stmt *s;
	json_t *grants, *g, *p;
	size_t i, j;
	int rc;

	if (object_of(r, &type, &id) || auth_require(r, type, id, PERM_CHANGE_PERMS))
		return r->status;
	if (!json_is_object(r->body) || json_object_size(r->body) != 1 ||
	    !json_is_array(grants = json_object_get(r->body, "grants")) || json_array_size(grants) > 256)
		return req_error(r, -EINVAL, "the body must be {\"grants\": [{\"user\"|\"group\": NAME, "
				 "\"permissions\": [...]}, ...]} (at most 256)");
	/* Validate everything before writing anything. */
	json_array_foreach(grants, i, g) {
		json_t *u = json_object_get(g, "user"), *gr = json_object_get(g, "group");
		p = json_object_get(g, "permissions");
		if (!json_is_object(g) || json_object_size(g) != 2 || !!u == !!gr || !json_is_array(p) ||
		    !json_is_string(u ? u : gr) || valid_name(json_string_value(u ? u : gr), NULL, 0))
			return req_error(r, -EINVAL, "grants[%zu]: must be {\"user\" or \"group\": NAME, "
					 "\"permissions\": [...]}", i);
		json_array_foreach(p, j, u)
			if (!json_is_string(u) || auth_perm_parse(json_string_value(u)) < 0)
				return req_error(r, -EINVAL, "grants[%zu].permissions[%zu]: one of view, "
						 "control, modify, remove, change-permissions, full", i, j);
	}
	if (db_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	s = db_stmt(r->c, "DELETE FROM acl WHERE object_type = ? AND object_id = ?");
	if (!s)
		goto err_io;
	sqlite3_bind_text(s, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	rc = db_rc(r->c, sqlite3_step(s));
	db_done(s);
	if (rc)
		goto err_io;
	json_array_foreach(grants, i, g) {
		json_t *u = json_object_get(g, "user");
		const char *ptype = u ? "user" : "group";
		const char *pname = json_string_value(u ? u : json_object_get(g, "group"));
		int bits = 0;

		json_array_foreach(json_object_get(g, "permissions"), j, p)
			bits |= auth_perm_parse(json_string_value(p));
		s = u ? db_stmt(r->c, "INSERT INTO acl SELECT ?, ?, 'user', id, ? FROM users WHERE name = ? "
				   "ON CONFLICT DO UPDATE SET perms = perms | excluded.perms")
		      : db_stmt(r->c, "INSERT INTO acl SELECT ?, ?, 'group', id, ? FROM groups WHERE name = ? "
				   "ON CONFLICT DO UPDATE SET perms = perms | excluded.perms");
		if (!s)
			goto err_io;
		sqlite3_bind_text(s, 1, type, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, id);
		sqlite3_bind_int(s, 3, bits);
		sqlite3_bind_text(s, 4, pname, -1, SQLITE_STATIC);
		rc = db_rc(r->c, sqlite3_step(s));
		db_done(s);
		if (rc)
			goto err_io;
		if (sqlite3_changes(r->c->c) != 1) {
			db_rollback(r->c);
			return req_error(r, -EINVAL, "grants[%zu]: no %s named '%s'", i, ptype, pname);
		}
	}
	if (events_emit(r->srv, r->c, "permissions-changed", type, r->args[1] ? r->args[1] : "server",
			r->who.name, json_incref(grants), "permissions of %s %s changed by %s", type,
			r->args[1] ? r->args[1] : "", r->who.name) || db_commit(r->c))
		goto err_io;
	return api_perm_get(r);
err_io:
	db_rollback(r->c);
	return req_error(r, -EIO, "inventory error; nothing was changed");
}
