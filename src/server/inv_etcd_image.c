/* The inventory's images' owners on etcd: rows images/NAME {owner, public, hosts}. See inv.h. */
#include "server/inv_etcd.h"

#include <errno.h>
#include <stdio.h>

static void image_row(const char *name, json_t *row, struct inv_image *i)
{
	snprintf(i->name, sizeof(i->name), "%s", name);
	i->owner = ie_int(row, "owner");
	i->public = json_is_true(json_object_get(row, "public"));
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

static int image_put(struct dbc *c, void *arg)
{
	const struct inv_image *i = arg;
	json_t *row = json_pack("{s:I,s:b,s:s}", "owner", (json_int_t)i->owner, "public", i->public,
				"hosts", i->hosts);
	int rc;

	if (!row)
		return -ENOMEM;
	rc = ie_row_put(c, "images", i->name, row, 0);
	json_decref(row);
	return rc;
}

int inv_etcd_image_put(struct dbc *c, const struct inv_image *i)
{
	return ie_write(c, image_put, (void *)i);
}

static int image_delete(struct dbc *c, void *arg)
{
	int rc = ie_row_delete(c, "images", arg, false);

	return rc == -ENOENT ? 0 : rc;
}

int inv_etcd_image_delete(struct dbc *c, const char *name)
{
	return ie_write(c, image_delete, (void *)name);
}
