/* The inventory's grants on etcd. A grant is two rows written together:
 *   acl/OTYPE/OID/PTYPE/PID      {perms, name: the principal's, null when it has none}
 *   acl_by/PTYPE/PID/OTYPE/OID   {perms}
 * (OID, PID: ie_id_key's). The grants on an object are one range (acl/OTYPE/OID/), those of
 * a principal another (acl_by/PTYPE/PID/). A permission check (inv_perms, inv_named, called
 * per object of a list) is one etcd round trip: a Txn reading three ranges at one revision,
 * the grants on the object, the grants on the server and the user's groups (member_of/UID/,
 * inv_etcd_group.c); inside a transaction the same three ranges through the row layer. See
 * inv.h. */
#include "server/inv_etcd_direct.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The keys of the grant of (otype, oid) to (ptype, pid); and the prefix of the object's. */
struct gkeys {
	char acl[96], by[96];
};

static int gkeys(const char *otype, int64_t oid, const char *ptype, int64_t pid,
		 struct gkeys *k)
{
	char o[21], p[21];

	if (strchr(otype, '/') || strchr(ptype, '/') || !*otype || !*ptype ||
	    strlen(otype) > 24 || strlen(ptype) > 24)
		return -EINVAL;
	ie_id_key(oid, o);
	ie_id_key(pid, p);
	snprintf(k->acl, sizeof(k->acl), "%s/%s/%s/%s", otype, o, ptype, p);
	snprintf(k->by, sizeof(k->by), "%s/%s/%s/%s", ptype, p, otype, o);
	return 0;
}

static int object_prefix(const char *otype, int64_t oid, char *buf, size_t size)
{
	char o[21];

	if (strchr(otype, '/') || strlen(otype) > 24)
		return -EINVAL;
	snprintf(buf, size, "%s/%s/", otype, ie_id_key(oid, o));
	return 0;
}

/* Write the grant with perms (the principal's name: pname, NULL none). */
static int grant_put(struct dbc *c, const struct gkeys *k, int perms, const char *pname,
		     uint64_t expect)
{
	json_t *a = json_pack("{s:i,s:s?}", "perms", perms, "name", pname);
	json_t *b = json_pack("{s:i}", "perms", perms);
	int rc = a && b ? ie_row_put(c, "acl", k->acl, a, expect) : -ENOMEM;

	if (!rc)
		rc = ie_row_put(c, "acl_by", k->by, b, 0);
	json_decref(a);
	json_decref(b);
	return rc;
}

/* The name of principal (ptype, pid), NULL when there is none: *row holds it. */
static const char *principal_name(struct dbc *c, const char *ptype, int64_t pid, json_t **row,
				  int *rc)
{
	bool user = !strcmp(ptype, "user");

	*row = NULL;
	*rc = 0;
	if (!user && strcmp(ptype, "group"))
		return NULL;
	*rc = ie_row_get_id(c, user ? "users" : "groups", pid, row, NULL);
	if (*rc == -ENOENT)
		*rc = 0;
	return *row ? ie_str(*row, "name") : NULL;
}

/* A grant to write: on (otype, oid) to (ptype, pid or pname), perms. */
struct grant_w {
	const char *otype, *ptype, *pname;
	int64_t oid, pid;
	int perms;
};

static int add_body(struct dbc *c, void *arg)
{
	struct grant_w *a = arg;
	json_t *prow = NULL;
	struct gkeys k;
	const char *pname;
	int rc = gkeys(a->otype, a->oid, a->ptype, a->pid, &k);

	if (rc)
		return rc;
	pname = principal_name(c, a->ptype, a->pid, &prow, &rc);
	if (!rc)
		rc = grant_put(c, &k, a->perms, pname, IE_ABSENT);
	json_decref(prow);
	return rc;
}

int inv_etcd_grant_add(struct dbc *c, const char *otype, int64_t oid, const char *ptype,
		       int64_t pid, int perms)
{
	struct grant_w a = { .otype = otype, .oid = oid, .ptype = ptype, .pid = pid,
			     .perms = perms };

	return ie_write(c, add_body, &a);
}

static int merge_body(struct dbc *c, void *arg)
{
	struct grant_w *a = arg;
	json_t *row = NULL;
	struct gkeys k;
	uint64_t rev = IE_ABSENT;
	int64_t pid;
	int perms = a->perms, rc = inv_etcd_principal_id(c, a->ptype, a->pname, &pid);

	if (!rc)
		rc = gkeys(a->otype, a->oid, a->ptype, pid, &k);
	if (!rc) {
		rc = ie_row_get(c, "acl", k.acl, &row, &rev);
		if (!rc)
			perms |= (int)ie_int(row, "perms");
		else if (rc == -ENOENT)
			rc = 0;
	}
	if (!rc)
		rc = grant_put(c, &k, perms, a->pname, rev);
	/* absent when read, there at the write: another session's merge came first */
	if (rc == -EEXIST)
		rc = -EAGAIN;
	json_decref(row);
	return rc;
}

int inv_etcd_grant_merge(struct dbc *c, const char *otype, int64_t oid, const char *ptype,
			 const char *pname, int perms)
{
	struct grant_w a = { .otype = otype, .oid = oid, .ptype = ptype, .pname = pname,
			     .perms = perms };

	return ie_write(c, merge_body, &a);
}

/* The grants on an object: a growing array of [ptype, pid, name or null, perms]. */
static int collect_grant(const char *key, json_t *row, uint64_t rev, void *arg)
{
	char ptype[32];
	long long pid;

	(void)rev;
	/* key: OTYPE/OID/PTYPE/PID */
	key = strchr(key, '/');
	key = key ? strchr(key + 1, '/') : NULL;
	if (!key || sscanf(key + 1, "%31[^/]/%lld", ptype, &pid) != 2)
		return 0;
	return json_array_append_new(arg, json_pack("[s,I,s?,i]", ptype, (json_int_t)pid,
						     ie_str(row, "name"),
						     (int)ie_int(row, "perms"))) ? -ENOMEM : 0;
}

/* ORDER BY principal_type, name (NULL first, as SQLite sorts it). */
static int grant_order(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	const char *nx = json_string_value(json_array_get(x, 2));
	const char *ny = json_string_value(json_array_get(y, 2));
	int d = strcmp(json_string_value(json_array_get(x, 0)), json_string_value(json_array_get(y, 0)));

	if (d)
		return d;
	if (!nx || !ny)
		return !!nx - !!ny;
	return strcmp(nx, ny);
}

int inv_etcd_grant_each(struct dbc *c, const char *otype, int64_t oid,
			int (*fn)(const struct inv_grant *g, void *arg), void *arg)
{
	json_t *a = json_array(), **v = NULL;
	char pfx[64];
	size_t n = 0, i;
	int rc = a ? 0 : -ENOMEM;

	if (object_prefix(otype, oid, pfx, sizeof(pfx))) {
		json_decref(a);
		return 0;       /* no grant is on an object of such a type */
	}
	if (!rc)
		rc = ie_row_each(c, "acl", pfx, collect_grant, a);
	n = json_array_size(a);
	if (!rc && n && !(v = malloc(n * sizeof(*v))))
		rc = -ENOMEM;
	for (i = 0; !rc && i < n; i++) {
		v[i] = json_array_get(a, i);
		/* a grant made before its principal existed: named now, as SQLite's join */
		if (json_is_null(json_array_get(v[i], 2))) {
			json_t *prow;
			const char *pname = principal_name(c, json_string_value(json_array_get(v[i], 0)),
							   json_integer_value(json_array_get(v[i], 1)),
							   &prow, &rc);

			if (pname)
				json_array_set_new(v[i], 2, json_string(pname));
			json_decref(prow);
		}
	}
	if (!rc && n)
		qsort(v, n, sizeof(*v), grant_order);
	for (i = 0; !rc && i < n; i++) {
		struct inv_grant g = {
			.ptype = json_string_value(json_array_get(v[i], 0)),
			.pid = json_integer_value(json_array_get(v[i], 1)),
			.pname = json_string_value(json_array_get(v[i], 2)),
			.perms = (int)json_integer_value(json_array_get(v[i], 3)),
		};

		rc = fn(&g, arg);
	}
	free(v);
	json_decref(a);
	return rc;
}

static int clear_body(struct dbc *c, void *arg)
{
	struct grant_w *o = arg;
	json_t *a = json_array(), *g;
	char pfx[64];
	size_t i;
	int rc = a ? 0 : -ENOMEM;

	object_prefix(o->otype, o->oid, pfx, sizeof(pfx));
	if (!rc)
		rc = ie_row_each(c, "acl", pfx, collect_grant, a);
	json_array_foreach(a, i, g) {
		struct gkeys k;

		if (rc)
			break;
		rc = gkeys(o->otype, o->oid, json_string_value(json_array_get(g, 0)),
			   json_integer_value(json_array_get(g, 1)), &k);
		if (!rc)
			rc = ie_row_delete(c, "acl_by", k.by, false);
		if (rc == -ENOENT || rc == -EINVAL)
			rc = 0;
	}
	if (!rc)
		rc = ie_row_delete(c, "acl", pfx, true);
	json_decref(a);
	return rc;
}

int inv_etcd_grants_clear(struct dbc *c, const char *otype, int64_t oid)
{
	struct grant_w a = { .otype = otype, .oid = oid };
	char pfx[64];

	if (object_prefix(otype, oid, pfx, sizeof(pfx)))
		return 0;       /* no grant is on an object of such a type */
	return ie_write(c, clear_body, &a);
}

/* A principal's grants: a growing array of [otype, oid, perms] from acl_by/PTYPE/PID/. */
static int collect_by(const char *key, json_t *row, uint64_t rev, void *arg)
{
	char otype[32];
	long long oid;

	(void)rev;
	/* key: PTYPE/PID/OTYPE/OID */
	key = strchr(key, '/');
	key = key ? strchr(key + 1, '/') : NULL;
	if (!key || sscanf(key + 1, "%31[^/]/%lld", otype, &oid) != 2)
		return 0;
	return json_array_append_new(arg, json_pack("[s,I,i]", otype, (json_int_t)oid,
						     (int)ie_int(row, "perms"))) ? -ENOMEM : 0;
}

static int principal_rows(struct dbc *c, const char *ptype, int64_t pid, json_t *a)
{
	char pfx[64], p[21];

	if (strchr(ptype, '/'))
		return 0;
	snprintf(pfx, sizeof(pfx), "%s/%s/", ptype, ie_id_key(pid, p));
	return ie_row_each(c, "acl_by", pfx, collect_by, a);
}

int ieb_grants_drop_principal(struct dbc *c, const char *ptype, int64_t pid)
{
	json_t *a = json_array(), *g;
	char pfx[64], p[21];
	size_t i;
	int rc = a ? principal_rows(c, ptype, pid, a) : -ENOMEM;

	json_array_foreach(a, i, g) {
		struct gkeys k;

		if (rc)
			break;
		rc = gkeys(json_string_value(json_array_get(g, 0)),
			   json_integer_value(json_array_get(g, 1)), ptype, pid, &k);
		if (!rc)
			rc = ie_row_delete(c, "acl", k.acl, false);
		if (rc == -ENOENT || rc == -EINVAL)
			rc = 0;
	}
	json_decref(a);
	if (!rc) {
		snprintf(pfx, sizeof(pfx), "%s/%s/", ptype, ie_id_key(pid, p));
		rc = ie_row_delete(c, "acl_by", pfx, true);
	}
	return rc;
}

/* The user's groups (member_of/UID/GID): whether group gid is one. */
struct check {
	int64_t uid;
	size_t obj_len;             /* the object's prefix in acl keys */
	int64_t *groups;
	size_t ngroups, cap;
	int perms;
	bool named;
	int rc;
};

static bool in_groups(const struct check *k, int64_t gid)
{
	size_t i;

	for (i = 0; i < k->ngroups; i++)
		if (k->groups[i] == gid)
			return true;
	return false;
}

/* One row of a check's spans: span 0 the user's groups, then grants (OTYPE/OID/PTYPE/PID). */
static int check_row(int span, const char *key, json_t *row, void *arg)
{
	struct check *k = arg;
	char ptype[32];
	long long pid;

	if (span == 0) {
		const char *slash = strchr(key, '/');

		if (!slash)
			return 0;
		if (k->ngroups == k->cap) {
			size_t cap = k->cap ? k->cap * 2 : 16;
			int64_t *g = realloc(k->groups, cap * sizeof(*g));

			if (!g)
				return -ENOMEM;
			k->groups = g;
			k->cap = cap;
		}
		k->groups[k->ngroups++] = strtoll(slash + 1, NULL, 10);
		return 0;
	}
	key = strchr(key, '/');
	key = key ? strchr(key + 1, '/') : NULL;
	if (!key || sscanf(key + 1, "%31[^/]/%lld", ptype, &pid) != 2)
		return 0;
	if ((!strcmp(ptype, "user") && pid == k->uid) ||
	    (!strcmp(ptype, "group") && in_groups(k, pid))) {
		k->perms |= (int)ie_int(row, "perms");
		if (span == 1)
			k->named = true;
	}
	return 0;
}

/* Read the user's groups, the grants on (otype, oid) and, with server, those on the
 * server, in one go (ied_spans). */
static int check(struct dbc *c, int64_t uid, const char *otype, int64_t oid, bool server,
		 struct check *k)
{
	char ukey[32], obj[64], srv[64];
	struct ied_span spans[3];
	int n = 2, rc;

	memset(k, 0, sizeof(*k));
	k->uid = uid;
	if (object_prefix(otype, oid, obj, sizeof(obj)))
		return -EINVAL;
	ie_id_key(uid, ukey);
	strcat(ukey, "/");
	spans[0] = (struct ied_span){ "member_of", ukey };
	spans[1] = (struct ied_span){ "acl", obj };
	object_prefix("server", 0, srv, sizeof(srv));
	if (server && strcmp(obj, srv))
		spans[n++] = (struct ied_span){ "acl", srv };
	rc = ied_spans(c, spans, n, check_row, k);
	free(k->groups);
	return rc;
}

int inv_etcd_perms(struct dbc *c, int64_t uid, const char *otype, int64_t oid)
{
	struct check k;

	return check(c, uid, otype, oid, true, &k) ? 0 : k.perms;
}

int inv_etcd_named(struct dbc *c, int64_t uid, const char *otype, int64_t oid)
{
	struct check k;
	int rc = check(c, uid, otype, oid, false, &k);

	if (rc == -EINVAL)
		return 0;
	return rc ? -EIO : k.named;
}

/* inv_etcd_principal_grants: the user's groups (member_of/UID/GID). */
static int collect_gid(const char *key, json_t *row, uint64_t rev, void *arg)
{
	const char *slash = strchr(key, '/');

	(void)row;
	(void)rev;
	return slash && json_array_append_new(arg, json_integer(strtoll(slash + 1, NULL, 10))) ?
	       -ENOMEM : 0;
}

int inv_etcd_principal_grants(struct dbc *c, const char *ptype, int64_t pid,
			      int (*fn)(const char *otype, int64_t oid, int perms, void *arg),
			      void *arg)
{
	bool user = !strcmp(ptype, "user");
	json_t *a = json_array(), *groups = json_array(), *g;
	char ukey[32];
	size_t i;
	int rc = a && groups ? 0 : -ENOMEM;

	if (!rc)
		rc = principal_rows(c, user ? "user" : "group", pid, a);
	if (!rc && user) {
		ie_id_key(pid, ukey);
		strcat(ukey, "/");
		rc = ie_row_each(c, "member_of", ukey, collect_gid, groups);
		json_array_foreach(groups, i, g) {
			if (rc)
				break;
			rc = principal_rows(c, "group", json_integer_value(g), a);
		}
	}
	json_array_foreach(a, i, g) {
		if (rc)
			break;
		rc = fn(json_string_value(json_array_get(g, 0)), json_integer_value(json_array_get(g, 1)),
			(int)json_integer_value(json_array_get(g, 2)), arg);
	}
	json_decref(a);
	json_decref(groups);
	return rc;
}
