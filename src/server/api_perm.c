/* Object permissions: GET/PUT /api/v1/{vms|disks|networks}/{name}/permissions and
 * /api/v1/permissions (the server object, whose grants apply to every object). */
#include "server/api.h"
#include "server/auth.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/valid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Resolve the object of the request: type for the acl table and its id. */
static int object_of(struct req *r, const char **type, int64_t *id)
{
	static const struct { const char *seg, *type; } objs[] = {
		{ "vms", "vm" },
		{ "disks", "disk" },
		{ "networks", "network" },
	};
	size_t i;
	int rc;

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
	rc = inv_object_id(r->c, *type, r->args[1], id);
	if (rc == -EIO)
		return req_error(r, -EIO, "inventory error"), -EIO;
	if (rc)
		return auth_missing(r, *type, r->args[1]);
	return 0;
}

/* auth_require on the object of the request: the server's, or an object, which a caller
 * that may not see it (auth_visible) finds missing. */
static int require(struct req *r, const char *type, int64_t id, int need)
{
	return r->args[0] ? auth_require_object(r, type, id, r->args[1], need)
			  : auth_require(r, type, id, need);
}

/* inv_grant_each: g as {"user"|"group": NAME, "permissions": [...]}, appended to the
 * array arg (a grant to a principal that no longer exists is left out). */
static int grant_add(const struct inv_grant *g, void *arg)
{
	if (g->pname)
		json_array_append_new(arg, json_pack("{s:s,s:o}", g->ptype, g->pname,
						     "permissions", auth_perm_names(g->perms)));
	return 0;
}

static json_t *grants_json(struct dbc *c, const char *type, int64_t id)
{
	json_t *a = json_array();

	if (inv_grant_each(c, type, id, grant_add, a)) {
		json_decref(a);
		return NULL;
	}
	return json_pack("{s:o}", "grants", a);
}

int api_perm_get(struct req *r)
{
	const char *type;
	int64_t id;

	if (object_of(r, &type, &id) || require(r, type, id, PERM_VIEW))
		return r->status;
	r->out = grants_json(r->c, type, id);
	if (!r->out)
		return req_error(r, -EIO, "inventory error");
	return 200;
}

/* The grants of (type, id) as {"user:ID" or "group:ID": bits}. */
static int bits_add(const struct inv_grant *g, void *arg)
{
	char key[40];

	snprintf(key, sizeof(key), "%.8s:%lld", g->ptype, (long long)g->pid);
	json_object_set_new(arg, key, json_integer(g->perms));
	return 0;
}

static json_t *grant_bits(struct dbc *c, const char *type, int64_t id)
{
	json_t *o = json_object();

	if (inv_grant_each(c, type, id, bits_add, o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The permission bits changed (granted or revoked, to anyone) between two grant_bits. */
static int changed_bits(json_t *before, json_t *after)
{
	const char *k;
	json_t *v;
	int changed = 0;

	json_object_foreach(before, k, v)
		changed |= json_integer_value(v) ^ json_integer_value(json_object_get(after, k));
	json_object_foreach(after, k, v)
		changed |= json_integer_value(v) ^ json_integer_value(json_object_get(before, k));
	return changed;
}

int api_perm_set(struct req *r)
{
	const char *type;
	int64_t id;
	json_t *grants, *g, *p, *before = NULL, *after = NULL;
	size_t i, j;
	int rc, have;

	if (object_of(r, &type, &id) || require(r, type, id, PERM_CHANGE_PERMS))
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
						 "control, modify, remove, change-permissions, full, "
						 "guest-agent", i, j);
	}
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	/* Nobody grants or takes away a permission it does not hold itself. */
	have = auth_perms(r->c, &r->who, type, id);
	before = grant_bits(r->c, type, id);
	if (!before)
		goto err_io;
	if (inv_grants_clear(r->c, type, id))
		goto err_io;
	json_array_foreach(grants, i, g) {
		json_t *u = json_object_get(g, "user");
		const char *ptype = u ? "user" : "group";
		const char *pname = json_string_value(u ? u : json_object_get(g, "group"));
		int bits = 0;

		json_array_foreach(json_object_get(g, "permissions"), j, p)
			bits |= auth_perm_parse(json_string_value(p));
		rc = inv_grant_merge(r->c, type, id, ptype, pname, bits);
		if (rc && rc != -ENOENT)
			goto err_io;
		if (rc == -ENOENT) {
			inv_rollback(r->c);
			req_error(r, -EINVAL, "grants[%zu]: no %s named '%s'", i, ptype, pname);
			goto out;
		}
	}
	after = grant_bits(r->c, type, id);
	if (!after)
		goto err_io;
	if (changed_bits(before, after) & ~have) {
		json_t *names = auth_perm_names(changed_bits(before, after) & ~have);
		char *lack = json_dumps(names, JSON_COMPACT);

		inv_rollback(r->c);
		req_error(r, -EACCES, "%s may grant or revoke only permissions it holds on %s %s; it "
			  "lacks %s", r->who.name, type, r->args[1] ? r->args[1] : "", lack ? lack : "?");
		free(lack);
		json_decref(names);
		goto out;
	}
	if (events_emit(r->srv, r->c, "permissions-changed", type, r->args[1] ? r->args[1] : "server",
			r->who.name, json_incref(grants), "permissions of %s %s changed by %s", type,
			r->args[1] ? r->args[1] : "", r->who.name) || inv_commit(r->c))
		goto err_io;
	/* The grants now (the caller may change them without viewing the object). */
	r->out = grants_json(r->c, type, id);
	r->status = r->out ? 200 : req_error(r, -EIO, "inventory error");
	goto out;
err_io:
	inv_rollback(r->c);
	req_error(r, -EIO, "inventory error; nothing was changed");
out:
	json_decref(before);
	json_decref(after);
	return r->status;
}
