/* Images' owners. See imgacl.h. */
#include "server/imgacl.h"
#include "server/imgstore.h"
#include "server/inv.h"
#include "server/quota.h"

#include "util/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static bool may_see(const struct caller *who, int64_t owner, bool public)
{
	return public || who->admin || (who->user_id && owner == who->user_id);
}

int imgacl_visible(struct dbc *c, const struct caller *who, const char *name)
{
	struct inv_image i;
	int rc = inv_image_get(c, name, &i);

	if (rc == -ENOENT)
		return 1;       /* the host's: public */
	if (rc)
		return -EIO;
	return may_see(who, i.owner, i.public);
}

int imgacl_may_delete(struct dbc *c, const struct caller *who, const char *name)
{
	struct inv_image i;
	int rc;

	if (who->admin)
		return 1;
	rc = inv_image_get(c, name, &i);
	if (rc == -ENOENT)
		return 0;       /* the host's */
	if (rc)
		return -EIO;
	return who->user_id && i.owner == who->user_id;
}

static int add_row(const struct inv_image *i, void *arg)
{
	return json_object_set_new(arg, i->name, json_pack("{s:I,s:b}", "owner", (json_int_t)i->owner,
							   "public", i->public)) ? -ENOMEM : 0;
}

/* The name of user id (null: none, or deleted since), through names (id -> name, filled
 * as it goes). NULL on an inventory error. */
static json_t *owner_name(struct dbc *c, int64_t id, json_t *names)
{
	char key[24];
	struct inv_user u;
	json_t *n;
	int rc;

	snprintf(key, sizeof(key), "%lld", (long long)id);
	if ((n = json_object_get(names, key)))
		return json_incref(n);
	rc = id ? inv_user_get(c, id, &u) : -ENOENT;
	if (rc && rc != -ENOENT)
		return NULL;
	n = rc ? json_null() : json_string(u.name);
	json_object_set(names, key, n);
	return n;
}

json_t *imgacl_rows(struct dbc *c)
{
	json_t *o = json_object(), *names = json_object(), *r, *n;
	const char *k;

	if (!o || !names || inv_image_each(c, add_row, o))
		goto err;
	/* each owner's name once (a listing names many images of few users) */
	json_object_foreach(o, k, r) {
		n = owner_name(c, json_integer_value(json_object_get(r, "owner")), names);
		if (!n || json_object_set_new(r, "owner_name", n))
			goto err;
	}
	json_decref(names);
	return o;
err:
	json_decref(names);
	json_decref(o);
	return NULL;
}

bool imgacl_rows_visible(const json_t *rows, const struct caller *who, const char *name)
{
	const json_t *i = json_object_get(rows, name);

	return !i || may_see(who, json_integer_value(json_object_get(i, "owner")),
			     json_is_true(json_object_get(i, "public")));
}

int imgacl_json(struct dbc *c, const json_t *rows, const char *name, json_t *o)
{
	struct inv_image i = { .public = true };
	struct inv_user u;
	int rc;

	if (rows) {
		const json_t *r = json_object_get(rows, name), *n = json_object_get(r, "owner_name");

		json_object_set_new(o, "owner", n ? json_incref((json_t *)n) : json_null());
		json_object_set_new(o, "public", json_boolean(!r || json_is_true(json_object_get(
			r, "public"))));
		return 0;
	}
	rc = inv_image_get(c, name, &i);
	if (rc == -ENOENT) {
		i = (struct inv_image){ .public = true };   /* the host's */
		rc = 0;
	}
	if (rc)
		return -EIO;
	rc = i.owner ? inv_user_get(c, i.owner, &u) : -ENOENT;
	if (rc && rc != -ENOENT)
		return -EIO;
	json_object_set_new(o, "owner", rc ? json_null() : json_string(u.name));
	json_object_set_new(o, "public", json_boolean(i.public));
	return 0;
}

/* Whether the comma-separated list has host h. */
static bool has_host(const char *list, const char *h)
{
	size_t n = strlen(h);

	for (const char *p = list; *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p))
		if (!strncmp(p, h, n) && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

/* Host h (NULL: none) added to i's hosts, or taken out of them. */
static void add_host(struct inv_image *i, const char *h)
{
	size_t l = strlen(i->hosts);

	if (h && !has_host(i->hosts, h))
		snprintf(i->hosts + l, sizeof(i->hosts) - l, "%s%s", l ? "," : "", h);
}

static void drop_host(struct inv_image *i, const char *h)
{
	char out[sizeof(i->hosts)] = "", *save = NULL, *t;
	size_t l = 0;

	if (!h)
		return;
	for (t = strtok_r(i->hosts, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (strcmp(t, h))
			l += snprintf(out + l, sizeof(out) - l, "%s%s", l ? "," : "", t);
	memcpy(i->hosts, out, sizeof(out));
}

int imgacl_upload(struct dbc *c, const struct caller *who, const char *name, const char *host,
		  bool *wrote)
{
	struct inv_image i = { .owner = who->user_id, .public = who->admin || !who->user_id }, o;
	int rc = inv_image_get(c, name, &o);
	bool held = false;          /* another host holds the image of the row */

	*wrote = false;
	if (rc && rc != -ENOENT)
		return -EIO;
	/* In a cluster, a row another host holds the image of (its hosts say so, or say
	 * nothing: an inventory that keeps none, an imported row) keeps its owner: the same
	 * one's upload joins it. Else (none; alone or with only this host, which has no file
	 * of that name, imgup_begin: a stale one) the row is the upload's. */
	if (!rc && host) {
		held = !o.hosts[0];
		drop_host(&o, host);
		held = held || o.hosts[0];
	}
	if (held) {
		if (o.owner != i.owner || o.public != i.public)
			return -EEXIST;
		i = o;
	}
	snprintf(i.name, sizeof(i.name), "%s", name);
	add_host(&i, host);
	if (inv_image_put(c, &i))
		return -EIO;
	*wrote = true;
	return 0;
}

/* One try of imgacl_reserve, in a transaction of its own. */
static int reserve_once(struct dbc *c, int64_t uid, const char *name, int64_t want,
			int64_t need, int64_t *got, char *err, size_t errlen)
{
	struct inv_image i;
	int64_t room;
	int rc = inv_image_get(c, name, &i);

	if (!rc && (i.owner != uid || i.public))
		rc = -ENOENT;          /* not the upload's row any more */
	if (!rc && want <= i.bytes) {
		*got = i.bytes;
		return 0;
	}
	if (!rc)
		rc = quota_room(c, uid, &room);
	if (rc)
		return rc == -ENOENT ? rc : -EIO;
	if (room < 0) {
		*got = INT64_MAX;      /* no limit: the end records the bytes */
		return 0;
	}
	if (room < want - i.bytes)
		want = i.bytes + (room > 0 ? room : 0);
	if (want < need)
		return quota_admit(c, uid, &(struct inv_quota){ .disk_bytes = need - i.bytes },
				   err, errlen) == -EIO ? -EIO : -EDQUOT;
	i.bytes = want;
	if (inv_image_put(c, &i))
		return -EIO;
	*got = want;
	return 0;
}

int imgacl_reserve(struct dbc *c, const struct caller *who, const char *name, int64_t want,
		   int64_t need, int64_t *got, char *err, size_t errlen)
{
	int64_t uid = who->admin ? 0 : who->user_id;
	int tries, rc = -EAGAIN;

	*got = INT64_MAX;
	if (!uid)
		return 0;
	for (tries = 0; rc == -EAGAIN && tries < INV_COMMIT_TRIES; tries++) {
		if (inv_begin(c)) {
			rc = -EIO;
			break;
		}
		rc = reserve_once(c, uid, name, want, need, got, err, errlen);
		if (rc)
			inv_rollback(c);
		else
			rc = inv_commit(c);
	}
	if (rc == -EDQUOT && !err[0])
		snprintf(err, errlen, "quota exceeded: disk_bytes");
	if (rc && rc != -EDQUOT)
		snprintf(err, errlen, rc == -ENOENT ? "the upload's image row is gone" :
			 "inventory error reserving the upload's bytes");
	return rc == -EAGAIN ? -EIO : rc;
}

int imgacl_set_bytes(struct dbc *c, const char *name, int64_t bytes, const char *host)
{
	struct inv_image i, others;
	int rc = inv_image_get(c, name, &i);

	if (rc)
		return rc == -ENOENT ? rc : -EIO;
	/* another host of the cluster holds a copy too: the row counts the biggest (a small
	 * copy here must not free a big one there of its owner's quota) */
	others = i;
	drop_host(&others, host);
	if (host && others.hosts[0] && i.bytes > bytes)
		bytes = i.bytes;
	if (i.bytes == bytes)
		return 0;
	i.bytes = bytes;
	return inv_image_put(c, &i) ? -EIO : 0;
}

int imgacl_set_public(struct dbc *c, const char *name, bool public, const char *host)
{
	struct inv_image i;
	int rc = inv_image_get(c, name, &i);

	if (rc == -ENOENT) {
		i = (struct inv_image){ .owner = 0 };
		snprintf(i.name, sizeof(i.name), "%s", name);
		rc = 0;
	}
	if (rc)
		return -EIO;
	i.public = public;
	add_host(&i, host);
	return inv_image_put(c, &i) ? -EIO : 0;
}

int imgacl_release(struct dbc *c, const char *name, const char *host)
{
	struct inv_image i;
	int rc = inv_image_get(c, name, &i);

	if (rc == -ENOENT)
		return 0;
	if (rc)
		return -EIO;
	drop_host(&i, host);
	if (!i.hosts[0])
		return inv_image_delete(c, name) ? -EIO : 0;
	return inv_image_put(c, &i) ? -EIO : 0;
}

/* inv_image_each: the names of the rows of this host (arg: [host or null, names]). */
static int sweep_row(const struct inv_image *i, void *arg)
{
	json_t *a = arg;
	const char *host = json_string_value(json_array_get(a, 0));

	if (host && !has_host(i->hosts, host))
		return 0;
	return json_array_append_new(json_array_get(a, 1), json_string(i->name)) ? -ENOMEM : 0;
}

/* imgacl_sweep: image name has no file here. Another host holding a copy keeps the row
 * (this host out of it); else the row stays, owner and visibility with it (a file away at
 * the start, back later, must not come back public: an image without a row is), but
 * counts nothing of its owner's quota (an upload a crash cut held some); the next upload
 * of the name replaces it (imgacl_upload: a stale row). 0 or -EIO. */
static int sweep_missing(struct dbc *c, const char *name, const char *host)
{
	struct inv_image i, others;
	int rc = inv_image_get(c, name, &i);

	if (rc)
		return rc == -ENOENT ? 0 : -EIO;
	others = i;
	drop_host(&others, host);
	if (host && others.hosts[0])
		return imgacl_release(c, name, host);
	if (!i.bytes)
		return 0;
	i.bytes = 0;
	if (inv_image_put(c, &i))
		return -EIO;
	vsrv_log("image %s: no file in the image store: what its row held of its owner's quota "
		 "released (the row keeps its owner)", name);
	return 0;
}

int imgacl_sweep(struct dbc *c, struct imgstore *s, const char *host)
{
	json_t *a = json_pack("[s?,[]]", host), *n;
	struct imgstore_info info;
	struct inv_image i;
	size_t k;
	int rc = a ? inv_image_each(c, sweep_row, a) : -ENOMEM;

	json_array_foreach(json_array_get(a, 1), k, n) {
		const char *name = json_string_value(n);

		if (rc)
			break;
		if (imgstore_get(s, name, &info) == -ENOENT) {
			rc = sweep_missing(c, name, host);
		} else if (inv_image_get(c, name, &i) == 0 && i.bytes != (int64_t)info.size) {
			/* a row from before its bytes were kept, or an end cut before it set them */
			rc = imgacl_set_bytes(c, name, (int64_t)info.size, host);
		}
	}
	json_decref(a);
	return rc ? -EIO : 0;
}
