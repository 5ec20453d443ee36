/* Users, groups and permissions. */
#include "server/api.h"
#include "server/auth.h"
#include "server/inv.h"
#include "server/events.h"
#include "server/quota.h"
#include "server/valid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fields of users and groups, by name (an edit request changes what is required). */
enum user_field { UF_NAME, UF_PASSWORD, UF_ADMIN, UF_GROUPS, UF_END };
static const struct valid_field user_fields[UF_END + 1] = {
	[UF_NAME] = { "name", V_STR, 1, 0, 63, K_NAME, NULL },
	[UF_PASSWORD] = { "password", V_STR, 1, 0, 1024, K_SECRET, NULL },
	[UF_ADMIN] = { "admin", V_BOOL, 0, 0, 0, 0, NULL },
	[UF_GROUPS] = { "groups", V_ARRAY, 0, 0, 64, 0, NULL },
	[UF_END] = { NULL, 0, 0, 0, 0, 0, NULL },
};
enum group_field { GF_NAME, GF_MEMBERS, GF_END };
static const struct valid_field group_fields[GF_END + 1] = {
	[GF_NAME] = { "name", V_STR, 1, 0, 63, K_NAME, NULL },
	[GF_MEMBERS] = { "members", V_ARRAY, 0, 0, 4096, 0, NULL },
	[GF_END] = { NULL, 0, 0, 0, 0, 0, NULL },
};

/* The id of the user or group (ptype) named name: the id, 0 when missing, -EIO. */
static int64_t lookup(struct dbc *c, const char *ptype, const char *name)
{
	int64_t id = 0;
	int rc = inv_principal_id(c, ptype, name, &id);

	return rc == -ENOENT ? 0 : rc ? rc : id;
}
#define USER_ID(c, n) lookup(c, "user", n)
#define GROUP_ID(c, n) lookup(c, "group", n)

static int names_ok(const json_t *a, const char *field, char *err, size_t n)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		if (!json_is_string(v) || valid_name(json_string_value(v), NULL, 0)) {
			snprintf(err, n, "%s[%zu]: must be a name", field, i);
			return -EINVAL;
		}
	return 0;
}

/* inv_members: the name, appended to the array arg. */
static int name_add(int64_t other, const char *name, void *arg)
{
	(void)other;
	json_array_append_new(arg, json_string(name));
	return 0;
}

static json_t *user_row_json(struct dbc *c, const struct inv_user *u)
{
	json_t *o = json_pack("{s:s,s:b,s:I}", "name", u->name, "admin", u->admin, "created",
			      (json_int_t)u->created), *g;

	if (!o)
		return NULL;
	g = json_array();
	inv_members(c, true, u->id, name_add, g);
	json_object_set_new(o, "groups", g);
	return o;
}

static json_t *user_json(struct dbc *c, int64_t id)
{
	struct inv_user u;

	return inv_user_get(c, id, &u) ? NULL : user_row_json(c, &u);
}

/* Users and groups are the server's: a caller that holds neither view nor change-permissions
 * (which manages them) on the server sees none of them but itself, and one it may not see
 * answers exactly as a missing one (404). id is the looked-up id (0: missing, <0: inventory
 * error). 0 when visible, else -ENOENT or -EIO with the response set. */
static int principal_visible(struct req *r, const char *what, int64_t id)
{
	if (id < 0)
		return req_error(r, -EIO, "inventory error"), -EIO;
	if (id > 0 && ((!strcmp(what, "user") && id == r->who.user_id) ||
		       (auth_perms(r->c, &r->who, "server", 0) & (PERM_VIEW | PERM_CHANGE_PERMS))))
		return 0;
	return auth_missing(r, what, r->args[0]);
}

/* Managing users and groups is for holders of change-permissions on the server. */
static int require_admin(struct req *r)
{
	return auth_require(r, "server", 0, PERM_CHANGE_PERMS);
}

/* What user_add appends users to. */
struct user_fill {
	struct dbc *c;
	json_t *a;
};

static int user_add(const struct inv_user *u, void *arg)
{
	struct user_fill *f = arg;

	json_array_append_new(f->a, user_row_json(f->c, u));
	return 0;
}

int api_user_list(struct req *r)
{
	json_t *a;

	if (auth_require(r, "server", 0, PERM_VIEW))
		return r->status;
	a = json_array();
	if (inv_user_each(r->c, user_add, &(struct user_fill){ r->c, a })) {
		json_decref(a);
		return req_error(r, -EIO, "inventory error");
	}
	r->out = json_pack("{s:o}", "users", a);
	return 200;
}

static bool user_is_admin(struct dbc *c, int64_t id)
{
	int admin = inv_user_admin(c, id);

	/* when in doubt (-EIO), only administrators */
	return admin == 1 || admin == -EIO;
}

/* The server keeps at least one administrator: checked inside the transaction that
 * demotes or deletes one, after the change. 0, -EBUSY (with a message on r) or -EIO. */
static int keep_an_admin(struct req *r)
{
	int64_t n = -1;

	if (inv_admin_count(r->c, &n) || n < 0)
		return -EIO;
	if (n == 0) {
		req_error(r, -EBUSY, "the server must keep an administrator: make another one first");
		return -EBUSY;
	}
	return 0;
}

#define ONLY_ADMINS "only administrators change, delete or regroup administrators"

/* May the caller change user id (act NULL: its groups; else act, such as "delete", which
 * takes over or takes away what the user holds)? Administrators may; others never an
 * administrator, and act only on a user whose permissions they all hold. 0, or -EACCES or
 * -EIO with the response set. Called inside the transaction that makes the change. */
static int may_manage_user(struct req *r, int64_t id, const char *act)
{
	int rc;

	if (r->who.admin)
		return 0;
	if (user_is_admin(r->c, id))
		return req_error(r, -EACCES, ONLY_ADMINS), -EACCES;
	if (!act)
		return 0;
	rc = auth_covers(r->c, &r->who, "user", id);
	if (rc == -EACCES)
		req_error(r, rc, "%s may not %s %s, who holds permissions %s does not", r->who.name,
			  act, r->args[0], r->who.name);
	else if (rc)
		req_error(r, -EIO, "inventory error");
	return rc;
}

static int may_delete_user(struct req *r, int64_t id)
{
	char err[256];
	int rc = may_manage_user(r, id, "delete");

	if (rc)
		return rc;
	/* what a managed user owns stays under its manager's quota (quota.h) */
	rc = quota_may_delete(r->c, &r->who, id, err, sizeof(err));
	if (rc)
		req_error(r, rc, "%s", rc == -EIO ? "inventory error" : err);
	return rc;
}

/* May who add user uid to group gid or take it out? Never an administrator (unless who is
 * one), and only for a group whose grants who holds itself. */
static int may_regroup(struct dbc *c, const struct caller *who, int64_t gid, int64_t uid,
		       char *err, size_t n)
{
	int rc;

	if (who->admin)
		return 0;
	if (user_is_admin(c, uid)) {
		snprintf(err, n, ONLY_ADMINS);
		return -EACCES;
	}
	rc = auth_covers(c, who, "group", gid);
	if (rc == -EACCES)
		snprintf(err, n, "%s may change the members of a group only when it holds every "
			 "permission the group holds", who->name);
	return rc;
}

static bool id_in(const int64_t *ids, size_t n, int64_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* A growing list of ids (inv_members: the other side of each membership). */
struct id_list {
	int64_t *ids;
	size_t n, cap;
};

static int id_add(int64_t other, const char *name, void *arg)
{
	struct id_list *l = arg;

	(void)name;
	if (l->n == l->cap) {
		int64_t *o = realloc(l->ids, 2 * l->cap * sizeof(*o));

		if (!o)
			return -ENOMEM;
		l->ids = o;
		l->cap *= 2;
	}
	l->ids[l->n++] = other;
	return 0;
}

/* Replace the memberships of user uid (by_user: names are groups) or of group gid (names
 * are users), every change checked by may_regroup. Under the caller's transaction.
 * Returns 0, -EINVAL or -EACCES with a message in err, or -EIO/-ENOMEM. */
static int set_memberships(struct dbc *c, const struct caller *who, int64_t uid, int64_t gid,
			   const json_t *names, bool by_user, char *err, size_t n)
{
	size_t i, nnew = json_array_size(names), nold = 0, cap = 16;
	int64_t *ids = calloc(nnew + 1, sizeof(*ids)), *old = calloc(cap, sizeof(*old));
	json_t *v;
	int rc = -ENOMEM;

	if (!ids || !old)
		goto out;
	json_array_foreach(names, i, v) {
		ids[i] = by_user ? GROUP_ID(c, json_string_value(v)) : USER_ID(c, json_string_value(v));
		if (ids[i] <= 0) {
			snprintf(err, n, "%s[%zu]: no %s named '%s'", by_user ? "groups" : "members", i,
				 by_user ? "group" : "user", json_string_value(v));
			rc = ids[i] < 0 ? -EIO : -EINVAL;
			goto out;
		}
	}
	{
		struct id_list l = { old, nold, cap };

		rc = inv_members(c, by_user, by_user ? uid : gid, id_add, &l);
		old = l.ids;
		nold = l.n;
		if (rc)
			goto out;
	}
	for (i = 0; !rc && i < nnew; i++)
		if (!id_in(old, nold, ids[i]))
			rc = may_regroup(c, who, by_user ? ids[i] : gid, by_user ? uid : ids[i], err, n);
	for (i = 0; !rc && i < nold; i++)
		if (!id_in(ids, nnew, old[i]))
			rc = may_regroup(c, who, by_user ? old[i] : gid, by_user ? uid : old[i], err, n);
	if (rc)
		goto out;
	rc = inv_members_clear(c, by_user, by_user ? uid : gid);
	for (i = 0; !rc && i < nnew; i++)
		rc = inv_member_add(c, by_user ? ids[i] : gid, by_user ? uid : ids[i]);
out:
	free(ids);
	free(old);
	return rc;
}

int api_user_create(struct req *r)
{
	char err[256], enc[160];
	const char *name, *pw;
	struct inv_quota q;
	bool limited;
	int64_t id;
	int rc;

	if (require_admin(r))
		return r->status;
	if (!r->body || valid_object(r->body, user_fields, err, sizeof(err)))
		return req_error(r, -EINVAL, "%s", r->body ? err : "the body must be a user object");
	if (names_ok(json_object_get(r->body, "groups"), "groups", err, sizeof(err)))
		return req_error(r, -EINVAL, "%s", err);
	name = json_string_value(json_object_get(r->body, "name"));
	pw = json_string_value(json_object_get(r->body, "password"));
	if (strlen(pw) < 8)
		return req_error(r, -EINVAL, "password: at least 8 characters");
	if (json_is_true(json_object_get(r->body, "admin")) && !r->who.admin)
		return req_error(r, -EACCES, "only administrators create administrators");
	if (auth_hash_password(pw, enc, sizeof(enc)))
		return req_error(r, -EIO, "cannot hash the password");
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	rc = inv_user_create(r->c, name, enc, json_is_true(json_object_get(r->body, "admin")), &id);
	if (rc == -EEXIST) {
		inv_rollback(r->c);
		return req_error(r, -EEXIST, "a user named '%s' exists", name);
	}
	if (rc)
		goto err_io;
	rc = set_memberships(r->c, &r->who, id, 0, json_object_get(r->body, "groups"), true, err,
			     sizeof(err));
	if (rc) {
		inv_rollback(r->c);
		return req_error(r, rc, "%s", rc == -EINVAL || rc == -EACCES ? err : "inventory error");
	}
	/* `vsrv serve --default-quota`: the new user's own quota, which administrators change;
	 * a delegated manager's new user gets no more than the manager has (quota.h) */
	if (quota_for_new_user(r->c, &r->who, r->srv->default_quota, &q, &limited) ||
	    (limited && inv_quota_put(r->c, id, &q)))
		goto err_io;
	rc = quota_manage(r->c, &r->who, id);
	if (rc == -EMLINK) {
		inv_rollback(r->c);
		return req_error(r, -EACCES, "%s has 15 delegated managers above it: a user it "
				 "created would escape their limits (at most 15 levels)", r->who.name);
	}
	if (rc)
		goto err_io;
	if (events_emit(r->srv, r->c, "user-created", "user", name, r->who.name, NULL,
			"user %s created by %s", name, r->who.name) || inv_commit(r->c))
		goto err_io;
	r->out = user_json(r->c, id);
	r->status = 201;
	return 201;
err_io:
	inv_rollback(r->c);
	return req_error(r, -EIO, "inventory error; nothing was created");
}

int api_user_get(struct req *r)
{
	int64_t id = USER_ID(r->c, r->args[0]);

	if (principal_visible(r, "user", id) ||
	    (id != r->who.user_id && auth_require(r, "server", 0, PERM_VIEW)))
		return r->status;
	r->out = user_json(r->c, id);
	if (r->out && api_quota_fill(r->c, id, r->out))
		return req_error(r, -EIO, "inventory error reading the quota");
	return 200;
}

int api_user_update(struct req *r)
{
	char err[256], enc[160];
	int64_t id = USER_ID(r->c, r->args[0]);
	struct valid_field f[UF_END + 1];
	json_t *v;
	int rc;

	if (principal_visible(r, "user", id))
		return r->status;
	/* Users change their own password; the rest is for administrators. */
	memcpy(f, user_fields, sizeof(f));
	f[UF_NAME].required = f[UF_PASSWORD].required = 0;
	if (!r->body || valid_object(r->body, f, err, sizeof(err)))
		return req_error(r, -EINVAL, "%s", r->body ? err : "the body must be an object");
	if (!(id == r->who.user_id && json_object_size(r->body) == 1 &&
	      json_object_get(r->body, "password")) && require_admin(r))
		return r->status;
	if ((v = json_object_get(r->body, "name")) && strcmp(json_string_value(v), r->args[0]))
		return req_error(r, -EINVAL, "name: a user cannot be renamed");
	if (json_object_get(r->body, "admin") && !r->who.admin)
		return req_error(r, -EACCES, "only administrators grant or revoke admin");
	if (names_ok(json_object_get(r->body, "groups"), "groups", err, sizeof(err)))
		return req_error(r, -EINVAL, "%s", err);
	if ((v = json_object_get(r->body, "password"))) {
		if (strlen(json_string_value(v)) < 8)
			return req_error(r, -EINVAL, "password: at least 8 characters");
		if (auth_hash_password(json_string_value(v), enc, sizeof(enc)))
			return req_error(r, -EIO, "cannot hash the password");
	}
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	/* Setting another's password is becoming them: only within what one holds. */
	if (may_manage_user(r, id, json_object_get(r->body, "password") && id != r->who.user_id ?
			    "set the password of" : NULL)) {
		inv_rollback(r->c);
		return r->status;
	}
	if (json_object_get(r->body, "password")) {
		if (inv_user_set_password(r->c, id, enc))
			goto err_io;
		/* A new password ends the user's other sessions. */
		inv_session_drop_user(r->c, id);
	}
	if ((v = json_object_get(r->body, "admin"))) {
		bool was_admin = user_is_admin(r->c, id);

		if (inv_user_set_admin(r->c, id, json_is_true(v)))
			goto err_io;
		rc = was_admin ? keep_an_admin(r) : 0;
		if (rc == -EBUSY) {
			inv_rollback(r->c);
			return r->status;
		}
		if (rc)
			goto err_io;
	}
	if ((v = json_object_get(r->body, "groups"))) {
		rc = set_memberships(r->c, &r->who, id, 0, v, true, err, sizeof(err));
		if (rc) {
			inv_rollback(r->c);
			return req_error(r, rc, "%s", rc == -EINVAL || rc == -EACCES ? err : "inventory error");
		}
	}
	if (events_emit(r->srv, r->c, "user-updated", "user", r->args[0], r->who.name, NULL,
			"user %s changed by %s", r->args[0], r->who.name) || inv_commit(r->c))
		goto err_io;
	r->out = user_json(r->c, id);
	return 200;
err_io:
	inv_rollback(r->c);
	return req_error(r, -EIO, "inventory error; nothing was changed");
}

/* Delete user or group id, once may(r, id) allows it (in the same transaction). */
static int delete_named(struct req *r, const char *what, int64_t id,
			int (*may)(struct req *r, int64_t id))
{
	bool was_admin;
	int rc;

	if (principal_visible(r, what, id))
		return r->status;
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	if (may(r, id)) {
		inv_rollback(r->c);
		return r->status;
	}
	was_admin = !strcmp(what, "user") && user_is_admin(r->c, id);
	rc = inv_principal_delete(r->c, what, id);
	if (!rc && was_admin)
		rc = keep_an_admin(r);
	if (rc == -EBUSY) {
		inv_rollback(r->c);
		return r->status;
	}
	if (rc)
		goto err_io;
	if (events_emit(r->srv, r->c, !strcmp(what, "user") ? "user-deleted" : "group-deleted", what,
			r->args[0], r->who.name, NULL, "%s %s deleted by %s", what, r->args[0],
			r->who.name) || inv_commit(r->c))
		goto err_io;
	r->status = 204;
	return 204;
err_io:
	inv_rollback(r->c);
	return req_error(r, -EIO, "inventory error; nothing was deleted");
}

int api_user_delete(struct req *r)
{
	int64_t id = USER_ID(r->c, r->args[0]);

	if (principal_visible(r, "user", id) || require_admin(r))
		return r->status;
	if (r->who.user_id && !strcmp(r->who.name, r->args[0]))
		return req_error(r, -EBUSY, "you cannot delete yourself");
	return delete_named(r, "user", id, may_delete_user);
}

static json_t *group_json(struct dbc *c, int64_t id, const char *name)
{
	json_t *a = json_array();

	inv_members(c, false, id, name_add, a);
	return json_pack("{s:s,s:o}", "name", name, "members", a);
}

/* What group_add appends groups to. */
static int group_add(int64_t id, const char *name, void *arg)
{
	struct user_fill *f = arg;

	json_array_append_new(f->a, group_json(f->c, id, name));
	return 0;
}

int api_group_list(struct req *r)
{
	json_t *a;

	if (auth_require(r, "server", 0, PERM_VIEW))
		return r->status;
	a = json_array();
	if (inv_group_each(r->c, group_add, &(struct user_fill){ r->c, a })) {
		json_decref(a);
		return req_error(r, -EIO, "inventory error");
	}
	r->out = json_pack("{s:o}", "groups", a);
	return 200;
}

static int group_write(struct req *r, bool create)
{
	char err[256];
	struct valid_field f[GF_END + 1];
	const char *name;
	int64_t id;
	int rc;

	if ((!create && principal_visible(r, "group", GROUP_ID(r->c, r->args[0]))) ||
	    require_admin(r))
		return r->status;
	memcpy(f, group_fields, sizeof(f));
	f[GF_NAME].required = create;
	if (!r->body || valid_object(r->body, f, err, sizeof(err)))
		return req_error(r, -EINVAL, "%s", r->body ? err : "the body must be a group object");
	if (names_ok(json_object_get(r->body, "members"), "members", err, sizeof(err)))
		return req_error(r, -EINVAL, "%s", err);
	name = create ? json_string_value(json_object_get(r->body, "name")) : r->args[0];
	if (!create && json_object_get(r->body, "name") &&
	    strcmp(json_string_value(json_object_get(r->body, "name")), name))
		return req_error(r, -EINVAL, "name: a group cannot be renamed");
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	if (create) {
		rc = inv_group_create(r->c, name, &id);
		if (rc == -EEXIST) {
			inv_rollback(r->c);
			return req_error(r, -EEXIST, "a group named '%s' exists", name);
		}
		if (rc)
			goto err_io;
	} else {
		id = GROUP_ID(r->c, name);
		if (id <= 0) {
			inv_rollback(r->c);
			return auth_missing(r, "group", name);
		}
	}
	if (json_object_get(r->body, "members")) {
		rc = set_memberships(r->c, &r->who, 0, id, json_object_get(r->body, "members"), false,
				     err, sizeof(err));
		if (rc) {
			inv_rollback(r->c);
			return req_error(r, rc, "%s", rc == -EINVAL || rc == -EACCES ? err : "inventory error");
		}
	}
	if (events_emit(r->srv, r->c, create ? "group-created" : "group-updated", "group", name,
			r->who.name, NULL, "group %s %s by %s", name, create ? "created" : "changed",
			r->who.name) || inv_commit(r->c))
		goto err_io;
	r->out = group_json(r->c, id, name);
	r->status = create ? 201 : 200;
	return r->status;
err_io:
	inv_rollback(r->c);
	return req_error(r, -EIO, "inventory error; nothing was changed");
}

int api_group_create(struct req *r) { return group_write(r, true); }
int api_group_update(struct req *r) { return group_write(r, false); }

int api_group_get(struct req *r)
{
	int64_t id = GROUP_ID(r->c, r->args[0]);

	if (principal_visible(r, "group", id) || auth_require(r, "server", 0, PERM_VIEW))
		return r->status;
	r->out = group_json(r->c, id, r->args[0]);
	return 200;
}

/* Deleting a group regroups its members and takes its grants away. */
static int may_delete_group(struct req *r, int64_t id)
{
	int rc, admins;

	if (r->who.admin)
		return 0;
	admins = inv_group_has_admin(r->c, id);
	if (admins < 0)
		return req_error(r, -EIO, "inventory error"), -EIO;
	if (admins)
		return req_error(r, -EACCES, ONLY_ADMINS), -EACCES;
	rc = auth_covers(r->c, &r->who, "group", id);
	if (rc == -EACCES)
		req_error(r, rc, "%s may not delete group %s, which holds permissions %s does not",
			  r->who.name, r->args[0], r->who.name);
	else if (rc)
		req_error(r, -EIO, "inventory error");
	return rc;
}

int api_group_delete(struct req *r)
{
	int64_t id = GROUP_ID(r->c, r->args[0]);

	if (principal_visible(r, "group", id) || require_admin(r))
		return r->status;
	return delete_named(r, "group", id, may_delete_group);
}
