/* The inventory's groups and memberships on etcd: rows groups/ID {name, created} (the name
 * claimed in the unique index groups.name); a membership is two rows written together,
 * group_members/GID/UID {name: the user's} and member_of/UID/GID {name: the group's}, so
 * that both a group's members and a user's groups are one range read, already named
 * (users and groups are never renamed). See inv.h. */
#include "server/inv_etcd_direct.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int inv_etcd_group_each(struct dbc *c, int (*fn)(int64_t id, const char *name, void *arg),
			void *arg)
{
	json_t **rows, *hold;
	size_t n, i;
	int rc = ieb_rows_by_name(c, "groups", &rows, &n, &hold);

	for (i = 0; !rc && i < n; i++) {
		char name[64] = "";

		ie_str_copy(json_array_get(rows[i], 1), "name", name, sizeof(name));
		rc = fn(json_integer_value(json_array_get(rows[i], 0)), name, arg);
	}
	free(rows);
	json_decref(hold);
	return rc;
}

int inv_etcd_group_create(struct dbc *c, const char *name, int64_t *id)
{
	json_t *row = json_object();
	int rc;

	if (!row || ie_set_str(row, "name", name) || ie_set_int(row, "created", time(NULL)))
		rc = -ENOMEM;
	else
		rc = ieb_named_create(c, "groups", "groups.name", name, row, id);
	json_decref(row);
	return rc;
}

/* The ids (and names) of one side of memberships: a growing array of [id, name]. */
static int collect_member(const char *key, json_t *row, uint64_t rev, void *arg)
{
	const char *slash = strrchr(key, '/');

	(void)rev;
	if (!slash)
		return 0;
	return json_array_append_new(arg, json_pack("[I,s?]", (json_int_t)strtoll(slash + 1, NULL, 10),
						     ie_str(row, "name"))) ? -ENOMEM : 0;
}

/* The memberships of user id (by_user) or group id: 0 and *out (json_decref it). */
static int member_rows(struct dbc *c, bool by_user, int64_t id, json_t **out)
{
	char pfx[32];
	int rc;

	*out = json_array();
	if (!*out)
		return -ENOMEM;
	ie_id_key(id, pfx);
	strcat(pfx, "/");
	rc = ie_row_each(c, by_user ? "member_of" : "group_members", pfx, collect_member, *out);
	if (rc) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

static int by_name(const void *a, const void *b)
{
	const char *x = json_string_value(json_array_get(*(json_t *const *)a, 1));
	const char *y = json_string_value(json_array_get(*(json_t *const *)b, 1));

	return strcmp(x ? x : "", y ? y : "");
}

int inv_etcd_members(struct dbc *c, bool by_user, int64_t id,
		     int (*fn)(int64_t other, const char *name, void *arg), void *arg)
{
	json_t *a, **v = NULL;
	size_t n, i;
	int rc = member_rows(c, by_user, id, &a);

	if (rc)
		return rc;
	n = json_array_size(a);
	if (n && !(v = malloc(n * sizeof(*v)))) {
		json_decref(a);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		v[i] = json_array_get(a, i);
	if (n)
		qsort(v, n, sizeof(*v), by_name);
	for (i = 0; !rc && i < n; i++) {
		const char *name = json_string_value(json_array_get(v[i], 1));

		rc = fn(json_integer_value(json_array_get(v[i], 0)), name ? name : "", arg);
	}
	free(v);
	json_decref(a);
	return rc;
}

struct membership {
	bool by_user;
	int64_t id, gid, uid;
};

static int clear_body(struct dbc *c, void *arg)
{
	struct membership *a = arg;
	json_t *rows, *m;
	char own_key[21], other[21], key[48];
	size_t i;
	int rc = member_rows(c, a->by_user, a->id, &rows);

	ie_id_key(a->id, own_key);
	json_array_foreach(rows, i, m) {
		if (rc)
			break;
		ie_id_key(json_integer_value(json_array_get(m, 0)), other);
		snprintf(key, sizeof(key), "%s/%s", other, own_key);
		rc = ie_row_delete(c, a->by_user ? "group_members" : "member_of", key, false);
		if (rc == -ENOENT)
			rc = 0;     /* a half of a membership: the other half goes all the same */
	}
	json_decref(rows);
	if (!rc) {
		snprintf(key, sizeof(key), "%s/", own_key);
		rc = ie_row_delete(c, a->by_user ? "member_of" : "group_members", key, true);
	}
	return rc;
}

int inv_etcd_members_clear(struct dbc *c, bool by_user, int64_t id)
{
	struct membership a = { .by_user = by_user, .id = id };

	return ie_write(c, clear_body, &a);
}

static int add_body(struct dbc *c, void *arg)
{
	struct membership *a = arg;
	json_t *u = NULL, *g = NULL, *row = NULL;
	char gk[21], uk[21], key[48];
	int rc = ie_row_get(c, "users", ie_id_key(a->uid, uk), &u, NULL);

	if (!rc)
		rc = ie_row_get(c, "groups", ie_id_key(a->gid, gk), &g, NULL);
	/* SQLite's foreign keys refuse a membership of a missing user or group: a constraint,
	 * -EEXIST there. */
	if (rc == -ENOENT)
		rc = -EEXIST;
	if (!rc) {
		row = json_pack("{s:s?}", "name", ie_str(u, "name"));
		snprintf(key, sizeof(key), "%s/%s", gk, uk);
		rc = row ? ie_row_put(c, "group_members", key, row, 0) : -ENOMEM;
		json_decref(row);
	}
	if (!rc) {
		row = json_pack("{s:s?}", "name", ie_str(g, "name"));
		snprintf(key, sizeof(key), "%s/%s", uk, gk);
		rc = row ? ie_row_put(c, "member_of", key, row, 0) : -ENOMEM;
		json_decref(row);
	}
	json_decref(u);
	json_decref(g);
	return rc;
}

int inv_etcd_member_add(struct dbc *c, int64_t gid, int64_t uid)
{
	struct membership a = { .gid = gid, .uid = uid };

	return ie_write(c, add_body, &a);
}

/* inv_etcd_group_has_admin: whether a member is an administrator. */
static int member_admin(int64_t uid, const char *name, void *arg)
{
	struct dbc *c = arg;
	int admin = inv_etcd_user_admin(c, uid);

	(void)name;
	return admin == -ENOENT ? 0 : admin;
}

int inv_etcd_group_has_admin(struct dbc *c, int64_t id)
{
	int rc = inv_etcd_members(c, false, id, member_admin, c);

	return rc < 0 ? rc : rc > 0;
}
