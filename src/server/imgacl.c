/* Images' owners. See imgacl.h. */
#include "server/imgacl.h"
#include "server/cluster.h"
#include "server/imgstore.h"
#include "server/inv.h"
#include "server/quota.h"

#include "util/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool may_see(const struct caller *who, int64_t owner, bool public)
{
	return public || who->admin || (who->user_id && owner == who->user_id);
}

static bool has_host(const char *list, const char *h);

/* Whether host's (NULL: a server alone) file of image i's name is a copy of i: its hosts
 * name host, or name none (a stale row: its owner's file back, imgacl_sweep). A row of
 * other hosts only is another image of the name (the name was taken after this host's copy
 * was gone, imgacl_upload): the file here is nobody's to see through it. */
static bool copy_here(const char *hosts, const char *host)
{
	return !host || !hosts[0] || has_host(hosts, host);
}

const char *imgacl_host(const struct server *srv)
{
	return srv->cluster ? cluster_name(srv->cluster) : NULL;
}

int imgacl_visible(struct dbc *c, const struct caller *who, const char *name, const char *host)
{
	struct inv_image i;
	int rc = inv_image_get(c, name, &i);

	if (rc == -ENOENT)
		return 1;       /* the host's: public */
	if (rc)
		return -EIO;
	if (!copy_here(i.hosts, host))
		return who->admin;
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
	return json_object_set_new(arg, i->name, json_pack("{s:I,s:b,s:s}", "owner",
							   (json_int_t)i->owner, "public", i->public,
							   "hosts", i->hosts)) ? -ENOMEM : 0;
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

bool imgacl_rows_visible(const json_t *rows, const struct caller *who, const char *name,
			 const char *host)
{
	const json_t *i = json_object_get(rows, name);
	const char *hosts = json_string_value(json_object_get(i, "hosts"));

	if (i && !copy_here(hosts ? hosts : "", host))
		return who->admin;
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

/* A row's hosts (inv_image.hosts, a shared inventory's): "HOST=BYTES,..." each host that
 * holds a copy with its copy's size ("HOST" alone: a row from before the sizes were kept,
 * size unknown). No host: no store of the cluster is known to hold the image (every host
 * that held one found it gone at its start, or an imported row before its host's start): a
 * stale row, which the next upload of the name on any host replaces (imgacl_upload), and
 * which a host whose store has the file adopts at its start (imgacl_sweep). The row's bytes
 * count the biggest copy. */

/* The length of list's entry at p up to its end (',') and of its name (up to '='). */
static size_t entry_len(const char *p, size_t *name_len)
{
	size_t n = strcspn(p, ",");
	const char *eq = memchr(p, '=', n);

	*name_len = eq ? (size_t)(eq - p) : n;
	return n;
}

/* The next entry after p (its end: the list's end). */
static const char *next_entry(const char *p)
{
	size_t nl, n = entry_len(p, &nl);

	return p[n] ? p + n + 1 : p + n;
}

/* Host h's entry in list, NULL when it has none. */
static const char *find_host(const char *list, const char *h)
{
	size_t n = strlen(h), nl;

	for (const char *p = list; *p; p = next_entry(p)) {
		entry_len(p, &nl);
		if (nl == n && !strncmp(p, h, n))
			return p;
	}
	return NULL;
}

static bool has_host(const char *list, const char *h)
{
	return find_host(list, h) != NULL;
}

/* The size of the entry at p, -1 when it records none. */
static int64_t entry_bytes(const char *p)
{
	size_t nl, n = entry_len(p, &nl);

	return nl < n ? strtoll(p + nl + 1, NULL, 10) : -1;
}

/* Host h (NULL: none) taken out of i's hosts. */
static void drop_host(struct inv_image *i, const char *h)
{
	char out[sizeof(i->hosts)] = "";
	size_t l = 0, n, nl;

	if (!h)
		return;
	for (const char *p = i->hosts; *p; p = next_entry(p)) {
		n = entry_len(p, &nl);
		if (nl != strlen(h) || strncmp(p, h, nl))
			l += snprintf(out + l, sizeof(out) - l, "%s%.*s", l ? "," : "", (int)n, p);
	}
	memcpy(i->hosts, out, sizeof(out));
}

/* Host h (NULL: none) in i's hosts with a copy of bytes (-1: not known). */
static void add_host(struct inv_image *i, const char *h, int64_t bytes)
{
	size_t l;

	if (!h)
		return;
	drop_host(i, h);
	l = strlen(i->hosts);
	if (bytes < 0)
		snprintf(i->hosts + l, sizeof(i->hosts) - l, "%s%s", l ? "," : "", h);
	else
		snprintf(i->hosts + l, sizeof(i->hosts) - l, "%s%s=%lld", l ? "," : "", h,
			 (long long)bytes);
}

/* i's bytes after its hosts changed: its biggest copy's; with a host whose size is not
 * known (an old row), no less than before (what it counted may be that copy). */
static void count_biggest(struct inv_image *i)
{
	int64_t most = 0, b;
	bool unknown = false;

	for (const char *p = i->hosts; *p; p = next_entry(p)) {
		b = entry_bytes(p);
		unknown |= b < 0;
		if (b > most)
			most = b;
	}
	i->bytes = unknown && i->bytes > most ? i->bytes : most;
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
	/* In a cluster, a row another host holds a copy of keeps its owner: the same one's
	 * upload joins it. Else (none; alone; a stale row that no host holds a copy of; or one
	 * of only this host, which has no file of that name, imgup_begin) the row is the
	 * upload's: its owner and visibility the uploader's, as a new image's. */
	if (!rc && host) {
		drop_host(&o, host);
		held = o.hosts[0];
	}
	if (held) {
		if (o.owner != i.owner || o.public != i.public)
			return -EEXIST;
		i = o;
	}
	snprintf(i.name, sizeof(i.name), "%s", name);
	add_host(&i, host, 0);
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
	struct inv_image i, was;
	int rc = inv_image_get(c, name, &i);

	if (rc)
		return rc == -ENOENT ? rc : -EIO;
	was = i;
	if (host) {
		/* this host's copy recorded; the row counts the biggest of the cluster's copies
		 * (a small copy here must not free a big one there of its owner's quota) */
		add_host(&i, host, bytes);
		count_biggest(&i);
	} else {
		i.bytes = bytes;
	}
	if (i.bytes == was.bytes && !strcmp(i.hosts, was.hosts))
		return 0;
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
	/* a row whose copies are on other hosts only: this host's file of that name is no copy
	 * of it (imgacl_visible), and must not become one */
	if (host && i.hosts[0] && !has_host(i.hosts, host))
		return -EEXIST;
	i.public = public;
	if (host && !has_host(i.hosts, host))
		add_host(&i, host, -1);
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
	count_biggest(&i);  /* the copies left: their owner's usage right away */
	return inv_image_put(c, &i) ? -EIO : 0;
}

/* inv_image_each: the names of the rows of this host (arg: [host or null, names]), and of
 * the stale rows (no host) for a host to adopt when its store has the file. */
static int sweep_row(const struct inv_image *i, void *arg)
{
	json_t *a = arg;
	const char *host = json_string_value(json_array_get(a, 0));

	if (host && i->hosts[0] && !has_host(i->hosts, host))
		return 0;
	return json_array_append_new(json_array_get(a, 1), json_string(i->name)) ? -ENOMEM : 0;
}

/* imgacl_sweep: image name has no file here. This host leaves the row (the copies left
 * counted, imgacl_release); the last host's row stays, owner and visibility with it (a
 * file away at the start, back later, must not come back public: an image without a row
 * is), but counts nothing of its owner's quota (an upload a crash cut held some) and,
 * holding no host, is stale: the next upload of the name replaces it (imgacl_upload), on
 * any host. 0 or -EIO. */
static int sweep_missing(struct dbc *c, const char *name, const char *host)
{
	struct inv_image i, others;
	int rc = inv_image_get(c, name, &i);

	if (rc)
		return rc == -ENOENT ? 0 : -EIO;
	if (host && !has_host(i.hosts, host))
		return 0;       /* a stale row, not this host's */
	others = i;
	drop_host(&others, host);
	if (host && others.hosts[0])
		return imgacl_release(c, name, host);
	if (!i.bytes && !strcmp(i.hosts, others.hosts))
		return 0;
	others.bytes = 0;
	if (inv_image_put(c, &others))
		return -EIO;
	vsrv_log("image %s: no file in the image store: what its row held of its owner's quota "
		 "released (the row keeps its owner%s)", name, host ? "; no host holds a copy: the "
		 "next upload of the name, on any host, replaces it" : "");
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
		} else if (inv_image_get(c, name, &i) == 0 &&
			   (host ? (!has_host(i.hosts, host) ||
				    entry_bytes(find_host(i.hosts, host)) != (int64_t)info.size)
				 : i.bytes != (int64_t)info.size)) {
			/* a row from before its bytes were kept, an end cut before it set them, or
			 * a stale row (imported: no host yet) of a file here: this host's copy */
			rc = imgacl_set_bytes(c, name, (int64_t)info.size, host);
		}
	}
	json_decref(a);
	return rc ? -EIO : 0;
}
