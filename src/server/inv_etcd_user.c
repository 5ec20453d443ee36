/* The inventory's users on etcd: rows users/ID {name, password, admin, created, sessions:
 * the session epoch of inv_etcd_session.c}, the name claimed in the unique index users.name.
 * A user's memberships (inv_etcd_group.c), sessions (inv_etcd_session.c: they end with the
 * row) and grants (inv_etcd_grant.c) go with it. See inv.h. */
#include "server/inv_etcd_direct.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void ieb_user_fill(int64_t id, json_t *row, struct inv_user *out)
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
	ieb_user_fill(id, row, out);
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

/* A named row's creation (a user's, a group's): claim the name, put the row. */
struct named_new {
	const char *table, *index, *name;
	json_t *row;
	int64_t id;
};

static int named_new_body(struct dbc *c, void *arg)
{
	struct named_new *a = arg;
	char key[21];
	int rc = ie_unique_claim(c, a->index, a->name, a->id);

	return rc ? rc : ie_row_put(c, a->table, ie_id_key(a->id, key), a->row, IE_ABSENT);
}

int ieb_named_create(struct dbc *c, const char *table, const char *index, const char *name,
		     json_t *row, int64_t *id)
{
	struct named_new a = { .table = table, .index = index, .name = name, .row = row };
	/* a taken name costs no id (as SQLite's: ids stay dense when nothing fails) */
	int rc = ie_unique_get(c, index, name, &a.id);

	if (!rc)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	rc = ie_new_id(c, table, &a.id);
	if (!rc)
		rc = ie_write(c, named_new_body, &a);
	if (!rc && id)
		*id = a.id;
	return rc;
}

int inv_etcd_user_create(struct dbc *c, const char *name, const char *password, bool admin,
			 int64_t *id)
{
	json_t *row = json_object();
	int rc;

	if (!row || ie_set_str(row, "name", name) || ie_set_str(row, "password", password) ||
	    ie_set_bool(row, "admin", admin) || ie_set_int(row, "created", time(NULL)))
		rc = -ENOMEM;
	else
		rc = ieb_named_create(c, "users", "users.name", name, row, id);
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

		ieb_user_fill(json_integer_value(json_array_get(rows[i], 0)), json_array_get(rows[i], 1),
			  &u);
		rc = fn(&u, arg);
	}
	free(rows);
	json_decref(hold);
	return rc;
}

/* Set one field of user id (a missing user: nothing, as an UPDATE of no row). */
struct user_field {
	int64_t id;
	const char *field;
	json_t *v;
};

static int user_set_body(struct dbc *c, void *arg)
{
	struct user_field *a = arg;
	json_t *row = NULL;
	uint64_t rev;
	char key[21];
	int rc = ie_row_get(c, "users", ie_id_key(a->id, key), &row, &rev);

	if (!rc)
		rc = json_object_set(row, a->field, a->v) ? -ENOMEM :
		     ie_row_put(c, "users", key, row, rev);
	else if (rc == -ENOENT)
		rc = 0;
	json_decref(row);
	return rc;
}

static int user_set(struct dbc *c, int64_t id, const char *field, json_t *v)
{
	struct user_field a = { id, field, v };
	int rc = v ? ie_write(c, user_set_body, &a) : -ENOMEM;

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

/* A user or a group goes with its name, memberships and grants. */
struct principal {
	bool user;
	int64_t id;
};

static int delete_body(struct dbc *c, void *arg)
{
	struct principal *a = arg;
	const char *table = a->user ? "users" : "groups";
	json_t *row = NULL;
	char key[21];
	int rc = ie_row_get(c, table, ie_id_key(a->id, key), &row, NULL);

	if (!rc) {
		const char *name = ie_str(row, "name");

		rc = name ? ie_unique_release(c, a->user ? "users.name" : "groups.name", name) : 0;
		if (!rc)
			rc = ie_row_delete(c, table, key, false);
		/* a user's sessions end with its row (inv_etcd_session.c) */
		if (!rc)
			rc = inv_etcd_members_clear(c, a->user, a->id);
	} else if (rc == -ENOENT) {
		rc = 0;
	}
	if (!rc)
		rc = ieb_grants_drop_principal(c, a->user ? "user" : "group", a->id);
	if (!rc && a->user)
		rc = ie_owner_drop_user(c, a->id);
	if (!rc && a->user)
		rc = ie_owner_drop(c, "user", a->id);   /* its link to its manager */
	json_decref(row);
	return rc;
}

int inv_etcd_principal_delete(struct dbc *c, const char *ptype, int64_t id)
{
	struct principal a = { !strcmp(ptype, "user"), id };

	return ie_write(c, delete_body, &a);
}
