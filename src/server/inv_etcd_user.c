/* The inventory's users on etcd: rows users/ID {name, password, admin, created}, the name
 * claimed in the unique index users.name. A user's memberships (inv_etcd_group.c), sessions
 * (inv_etcd_session.c) and grants (inv_etcd_grant.c) go with it. See inv.h. */
#include "server/inv_etcd_direct.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void user_fill(int64_t id, json_t *row, struct inv_user *out)
{
	const char *pw = ie_str(row, "password");

	memset(out, 0, sizeof(*out));
	out->id = id;
	ie_str_copy(row, "name", out->name, sizeof(out->name));
	out->admin = ie_bool(row, "admin");
	snprintf(out->password, sizeof(out->password), "%s", pw ? pw : "");
	out->created = ie_int(row, "created");
}

int inv_etcd_user_get(struct dbc *c, int64_t id, struct inv_user *out)
{
	json_t *row;
	int rc = ie_row_get_id(c, "users", id, &row, NULL);

	if (rc)
		return rc;
	user_fill(id, row, out);
	json_decref(row);
	return 0;
}

int inv_etcd_user_admin(struct dbc *c, int64_t id)
{
	json_t *row;
	int rc = ie_row_get_id(c, "users", id, &row, NULL);

	if (rc)
		return rc;
	rc = ie_bool(row, "admin");
	json_decref(row);
	return rc;
}

int inv_etcd_user_by_name(struct dbc *c, const char *name, struct inv_user *out)
{
	int64_t id;
	int rc = ie_unique_get(c, "users.name", name, &id);

	return rc ? rc : inv_etcd_user_get(c, id, out);
}

int inv_etcd_principal_id(struct dbc *c, const char *ptype, const char *name, int64_t *id)
{
	return ie_unique_get(c, strcmp(ptype, "user") ? "groups.name" : "users.name", name, id);
}

/* Count the users (admins: those that are administrators). */
struct count {
	bool admins;
	int64_t n;
};

static int count_row(const char *key, json_t *row, uint64_t rev, void *arg)
{
	struct count *n = arg;

	(void)key;
	(void)rev;
	if (!n->admins || ie_bool(row, "admin"))
		n->n++;
	return 0;
}

int inv_etcd_user_count(struct dbc *c, int64_t *n)
{
	struct count cnt = { .admins = false };
	int rc = ie_row_each(c, "users", "", count_row, &cnt);

	if (!rc)
		*n = cnt.n;
	return rc;
}

int inv_etcd_admin_count(struct dbc *c, int64_t *n)
{
	struct count cnt = { .admins = true };
	int rc = ie_row_each(c, "users", "", count_row, &cnt);

	if (!rc)
		*n = cnt.n;
	return rc;
}

int inv_etcd_user_create(struct dbc *c, const char *name, const char *password, bool admin,
			 int64_t *id)
{
	json_t *row = json_object();
	int64_t nid = 0;
	char key[21];
	bool own;
	int rc;

	if (!row)
		return -ENOMEM;
	if (ie_set_str(row, "name", name) || ie_set_str(row, "password", password) ||
	    ie_set_bool(row, "admin", admin) || ie_set_int(row, "created", time(NULL))) {
		json_decref(row);
		return -ENOMEM;
	}
	/* a taken name costs no id (as SQLite's: ids stay dense when nothing fails) */
	rc = ie_unique_get(c, "users.name", name, &nid);
	if (!rc)
		rc = -EEXIST;
	else if (rc == -ENOENT)
		rc = ie_new_id(c, "users", &nid);
	if (rc)
		goto out;
	rc = ie_write_begin(c, &own);
	if (rc)
		goto out;
	rc = ie_unique_claim(c, "users.name", name, nid);
	if (!rc)
		rc = ie_row_put(c, "users", ie_id_key(nid, key), row, IE_ABSENT);
	rc = ie_write_end(c, own, rc);
	if (!rc && id)
		*id = nid;
out:
	json_decref(row);
	return rc;
}

/* The users or groups (name order): a growing array of [id, row]. */
static int collect_row(const char *key, json_t *row, uint64_t rev, void *arg)
{
	(void)rev;
	return json_array_append_new(arg, json_pack("[I,O]", (json_int_t)strtoll(key, NULL, 10),
						     row)) ? -ENOMEM : 0;
}

static int by_name(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	const char *nx = ie_str(json_array_get(x, 1), "name"), *ny = ie_str(json_array_get(y, 1), "name");

	return strcmp(nx ? nx : "", ny ? ny : "");
}

int ieb_rows_by_name(struct dbc *c, const char *table, json_t ***rows, size_t *n, json_t **hold)
{
	json_t *a = json_array();
	size_t i;
	int rc;

	*rows = NULL;
	*n = 0;
	*hold = a;
	if (!a)
		return -ENOMEM;
	rc = ie_row_each(c, table, "", collect_row, a);
	if (rc)
		return rc;
	if (!json_array_size(a))
		return 0;
	*rows = malloc(json_array_size(a) * sizeof(**rows));
	if (!*rows)
		return -ENOMEM;
	for (i = 0; i < json_array_size(a); i++)
		(*rows)[i] = json_array_get(a, i);
	*n = i;
	qsort(*rows, *n, sizeof(**rows), by_name);
	return 0;
}

int inv_etcd_user_each(struct dbc *c, int (*fn)(const struct inv_user *u, void *arg), void *arg)
{
	json_t **rows, *hold;
	size_t n, i;
	int rc = ieb_rows_by_name(c, "users", &rows, &n, &hold);

	for (i = 0; !rc && i < n; i++) {
		struct inv_user u;

		user_fill(json_integer_value(json_array_get(rows[i], 0)), json_array_get(rows[i], 1),
			  &u);
		rc = fn(&u, arg);
	}
	free(rows);
	json_decref(hold);
	return rc;
}

/* Set one field of user id (a missing user: nothing, as an UPDATE of no row). */
static int user_set(struct dbc *c, int64_t id, const char *field, json_t *v)
{
	json_t *row = NULL;
	uint64_t rev;
	char key[21];
	bool own;
	int rc;

	if (!v)
		return -ENOMEM;
	rc = ie_write_begin(c, &own);
	if (rc)
		goto out;
	rc = ie_row_get(c, "users", ie_id_key(id, key), &row, &rev);
	if (!rc)
		rc = json_object_set(row, field, v) ? -ENOMEM : ie_row_put(c, "users", key, row, rev);
	else if (rc == -ENOENT)
		rc = 0;
	rc = ie_write_end(c, own, rc);
out:
	json_decref(row);
	json_decref(v);
	return rc;
}

int inv_etcd_user_set_password(struct dbc *c, int64_t id, const char *password)
{
	return user_set(c, id, "password", password ? json_string(password) : json_null());
}

int inv_etcd_user_set_admin(struct dbc *c, int64_t id, bool admin)
{
	return user_set(c, id, "admin", json_boolean(admin));
}

int inv_etcd_principal_delete(struct dbc *c, const char *ptype, int64_t id)
{
	bool user = !strcmp(ptype, "user"), own;
	const char *table = user ? "users" : "groups";
	json_t *row = NULL;
	char key[21];
	int rc = ie_write_begin(c, &own);

	if (rc)
		return rc;
	rc = ie_row_get(c, table, ie_id_key(id, key), &row, NULL);
	if (!rc) {
		const char *name = ie_str(row, "name");

		rc = name ? ie_unique_release(c, user ? "users.name" : "groups.name", name) : 0;
		if (!rc)
			rc = ie_row_delete(c, table, key, false);
		if (!rc)
			rc = inv_etcd_members_clear(c, user, id);
		if (!rc && user)
			rc = inv_etcd_session_drop_user(c, id);
	} else if (rc == -ENOENT) {
		rc = 0;
	}
	if (!rc)
		rc = ieb_grants_drop_principal(c, user ? "user" : "group", id);
	json_decref(row);
	return ie_write_end(c, own, rc);
}
