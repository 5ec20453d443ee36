/* The inventory's hooks on etcd: rows hooks/ID {event, command, url, timeout, created}.
 * See inv.h. */
#include "server/inv_etcd_direct.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Call fn for the hook of row (id from its key), when of type (NULL: any). */
struct walk {
	const char *type;
	int (*fn)(const struct inv_hook *h, void *arg);
	void *arg;
	int rows;
};

static int hook_row(const char *key, json_t *row, uint64_t rev, void *arg)
{
	struct walk *w = arg;
	const char *ev = ie_str(row, "event");
	struct inv_hook h = {
		.id = strtoll(key, NULL, 10),
		.event = ev,
		.command = ie_str(row, "command"),
		.url = ie_str(row, "url"),
		.timeout = (int)ie_int(row, "timeout"),
		.created = ie_int(row, "created"),
	};

	(void)rev;
	if (w->type && (!ev || (strcmp(ev, w->type) && strcmp(ev, "*"))))
		return 0;
	w->rows++;
	return w->fn(&h, w->arg);
}

int inv_etcd_hook_each(struct dbc *c, const char *type,
		       int (*fn)(const struct inv_hook *h, void *arg), void *arg)
{
	struct walk w = { .type = type, .fn = fn, .arg = arg };

	return ie_row_each(c, "hooks", "", hook_row, &w);
}

int inv_etcd_hook_get(struct dbc *c, int64_t id, int (*fn)(const struct inv_hook *h, void *arg),
		      void *arg)
{
	struct walk w = { .fn = fn, .arg = arg };
	json_t *row;
	char key[21];
	int rc = ie_row_get(c, "hooks", ie_id_key(id, key), &row, NULL);

	if (rc)
		return rc;
	rc = hook_row(key, row, 0, &w);
	json_decref(row);
	return rc;
}

int inv_etcd_hook_create(struct dbc *c, const struct inv_hook *h, int64_t *id)
{
	json_t *row;
	int64_t nid = 0;
	char key[21];
	int rc;

	/* SQLite's NOT NULL event_type */
	if (!h->event)
		return -EEXIST;
	row = json_pack("{s:s,s:s,s:s?,s:i,s:I}", "event", h->event, "command",
			h->command ? h->command : "", "url", h->url, "timeout", h->timeout,
			"created", (json_int_t)time(NULL));
	if (!row)
		return -ENOMEM;
	rc = ie_new_id(c, "hooks", &nid);
	if (!rc)
		rc = ie_row_put(c, "hooks", ie_id_key(nid, key), row, IE_ABSENT);
	if (!rc)
		*id = nid;
	json_decref(row);
	return rc;
}

int inv_etcd_hook_delete(struct dbc *c, int64_t id)
{
	char key[21];

	return ie_row_delete(c, "hooks", ie_id_key(id, key), false);
}
