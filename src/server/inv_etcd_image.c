/* The inventory's images' owners on etcd: rows images/NAME {owner, public, hosts, bytes}; a
 * private image of a user is also under its owner's prefix of the quotas' owners/ rows,
 * owners/USER/image/NAME {kind: "image", bytes} (inv_etcd_quota.c), so that its usage read
 * counts the image's bytes without reading the images. See inv.h. */
#include "server/inv_etcd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static void image_row(const char *name, json_t *row, struct inv_image *i)
{
	snprintf(i->name, sizeof(i->name), "%s", name);
	i->owner = ie_int(row, "owner");
	i->public = json_is_true(json_object_get(row, "public"));
	i->bytes = ie_int(row, "bytes");
	snprintf(i->hosts, sizeof(i->hosts), "%s", json_string_value(json_object_get(row, "hosts")) ?
		 json_string_value(json_object_get(row, "hosts")) : "");
}

int inv_etcd_image_get(struct dbc *c, const char *name, struct inv_image *out)
{
	json_t *row;
	int rc = ie_row_get(c, "images", name, &row, NULL);

	if (rc)
		return rc;
	image_row(name, row, out);
	json_decref(row);
	return 0;
}

struct walk {
	int (*fn)(const struct inv_image *i, void *arg);
	void *arg;
};

static int each_row(const char *key, json_t *row, uint64_t rev, void *arg)
{
	struct walk *w = arg;
	struct inv_image i;

	(void)rev;
	image_row(key, row, &i);
	return w->fn(&i, w->arg);
}

int inv_etcd_image_each(struct dbc *c, int (*fn)(const struct inv_image *i, void *arg), void *arg)
{
	struct walk w = { fn, arg };

	return ie_row_each(c, "images", "", each_row, &w);
}

/* The owners/ row's key of image name of user uid (malloc'd), NULL on ENOMEM. */
static char *owners_key(int64_t uid, const char *name)
{
	char u[24], *k;

	return asprintf(&k, "%s/image/%s", ie_id_key(uid, u), name) < 0 ? NULL : k;
}

/* The image's owners/ row goes (row: its images/ row; none when it had none). */
static int owners_drop(struct dbc *c, const char *name, json_t *row)
{
	char *k;
	int rc;

	if (!ie_int(row, "owner") || json_is_true(json_object_get(row, "public")))
		return 0;
	k = owners_key(ie_int(row, "owner"), name);
	rc = k ? ie_row_delete(c, "owners", k, false) : -ENOMEM;
	free(k);
	return rc == -ENOENT ? 0 : rc;
}

static int image_put(struct dbc *c, void *arg)
{
	const struct inv_image *i = arg;
	json_t *old = NULL, *row = json_pack("{s:I,s:b,s:s,s:I}", "owner", (json_int_t)i->owner,
					     "public", i->public, "hosts", i->hosts, "bytes",
					     (json_int_t)i->bytes), *o;
	char *k = NULL;
	int rc = row ? ie_row_get(c, "images", i->name, &old, NULL) : -ENOMEM;

	if (rc == -ENOENT)
		rc = 0;
	if (!rc && old)
		rc = owners_drop(c, i->name, old);
	if (!rc)
		rc = ie_row_put(c, "images", i->name, row, 0);
	if (!rc && i->owner && !i->public) {
		k = owners_key(i->owner, i->name);
		o = json_pack("{s:s,s:I}", "kind", "image", "bytes", (json_int_t)i->bytes);
		rc = k && o ? ie_row_put(c, "owners", k, o, 0) : -ENOMEM;
		json_decref(o);
	}
	free(k);
	json_decref(old);
	json_decref(row);
	return rc;
}

int inv_etcd_image_put(struct dbc *c, const struct inv_image *i)
{
	return ie_write(c, image_put, (void *)i);
}

static int image_delete(struct dbc *c, void *arg)
{
	json_t *old = NULL;
	int rc = ie_row_get(c, "images", arg, &old, NULL);

	if (rc == -ENOENT)
		return 0;
	if (!rc)
		rc = owners_drop(c, arg, old);
	if (!rc)
		rc = ie_row_delete(c, "images", arg, false);
	json_decref(old);
	return rc == -ENOENT ? 0 : rc;
}

int inv_etcd_image_delete(struct dbc *c, const char *name)
{
	return ie_write(c, image_delete, (void *)name);
}
