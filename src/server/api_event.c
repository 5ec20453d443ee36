/* Events: the list and the Server-Sent Events stream. Tasks are api_task.c, the VM console
 * api_console.c. */
#include "server/api.h"
#include "server/auth.h"
#include "server/events.h"
#include "server/inv.h"

#include <errno.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* May the caller see this event? Server viewers see all; others the events of VMs, disks
 * and networks they may view (looked up by name, as events name their object) and their
 * own logins. A name may have been used before, by an object since deleted: born_filter()
 * drops the events older than the current object's creation. */
static json_t *event_json(const struct inv_event *e);

static bool event_visible(struct dbc *c, const struct caller *who, bool all,
			  const struct inv_event *e)
{
	const char *ot = e->object_type, *on = e->object, *user = e->user;
	int64_t id = -1;

	if (!who->authenticated)
		return false;
	if (all)
		return true;
	if (user && !strcmp(user, who->name) && ot && !strcmp(ot, "user"))
		return true;
	if (!ot || !on)
		return false;
	if (inv_object_id(c, ot, on, &id))
		return false;
	return id >= 0 && (auth_perms(c, who, ot, id) & PERM_VIEW);
}

/* The events a caller may see by their object's name, gathered before they are sent: the
 * names' newest creation events (inv_event_born, one lookup per name, not a read of the
 * history) say which are of an object deleted since (an event older than its name's last
 * creation). */
struct born {
	json_t *seen;               /* [[id, "TYPE/NAME" or null, event], ...] */
};

static int born_init(struct born *b)
{
	b->seen = json_array();
	return b->seen ? 0 : -ENOMEM;
}

static void born_clear(struct born *b)
{
	json_decref(b->seen);
}

/* Keep visible event e; by_name: its caller sees it by its object's name (not as a server
 * viewer; a user's own logins by its name too). 0 or -ENOMEM. */
static int born_keep(struct born *b, const struct inv_event *e, bool by_name)
{
	char key[160];
	json_t *o = event_json(e);

	snprintf(key, sizeof(key), "%s/%s", e->object_type ? e->object_type : "",
		 e->object ? e->object : "");
	if (!o || json_array_append_new(b->seen, json_pack("[I,s?,o]", (json_int_t)e->id,
							   by_name ? key : NULL, o)))
		return -ENOMEM;
	return 0;
}

/* The events of b->seen older than their name's last creation dropped: the creation of
 * each name seen by name asked once. 0, -EIO or -ENOMEM. */
static int born_filter(struct dbc *c, struct born *b)
{
	json_t *s, *keep, *created = json_object();
	struct inv_born *names = calloc(json_array_size(b->seen) + 1, sizeof(*names));
	size_t i, n = 0;
	int rc = created && names ? 0 : -ENOMEM;

	/* the names, each once: created maps "TYPE/NAME" to its index in names */
	json_array_foreach(b->seen, i, s) {
		const char *key = json_string_value(json_array_get(s, 1));
		json_t *e = json_array_get(s, 2);

		if (rc || !key || json_object_get(created, key))
			continue;
		names[n].object_type = json_string_value(json_object_get(e, "object_type"));
		names[n].object = json_string_value(json_object_get(e, "object"));
		if (!names[n].object_type || !names[n].object)
			continue;     /* (not seen by name: event_visible needs both) */
		if (json_object_set_new(created, key, json_integer((json_int_t)n)))
			rc = -ENOMEM;
		n++;
	}
	if (!rc && n)
		rc = inv_event_born(c, names, n);
	keep = rc ? NULL : json_array();
	if (!rc && !keep)
		rc = -ENOMEM;
	json_array_foreach(b->seen, i, s) {
		const char *key = json_string_value(json_array_get(s, 1));
		json_t *at = key ? json_object_get(created, key) : NULL;
		int64_t born = at ? names[json_integer_value(at)].born : 0;

		if (rc)
			break;
		if (json_integer_value(json_array_get(s, 0)) >= born &&
		    json_array_append(keep, s))
			rc = -ENOMEM;
	}
	if (!rc) {
		json_decref(b->seen);
		b->seen = keep;
	} else {
		json_decref(keep);
	}
	json_decref(created);
	free(names);
	return rc;
}

static json_t *event_json(const struct inv_event *e)
{
	json_t *o = json_pack("{s:I,s:f,s:s,s:s?,s:s?,s:s?,s:s}", "id", (json_int_t)e->id,
			      "time", e->time, "type", e->type, "object_type", e->object_type,
			      "object", e->object, "user", e->user, "message", e->message);

	if (o && e->data)
		json_object_set_new(o, "data", json_loads(e->data, 0, NULL));
	return o;
}

struct sse {
	struct server *srv;
	struct caller who;
	char token[65];            /* the bearer token it was opened with ("" on the socket) */
	bool all;
	int64_t last;
	char *pending;
	size_t plen, poff;
	time_t idle;               /* when the last keep-alive or data went (monotonic s) */
};

static void sse_free(void *p)
{
	struct sse *x = p;

	if (x) {
		free(x->pending);
		explicit_bzero(x->token, sizeof(x->token));
		free(x);
	}
}

/* A stream outlives the grants and the session it started with: before each batch the
 * caller is found again, from its token (logged out, expired, its user deleted or its
 * password changed: no longer authenticated, and the stream ends) or, on the Unix socket,
 * its user's administrator flag; then its server view. */
static void sse_refresh(struct dbc *c, struct sse *x)
{
	struct caller *who = &x->who;

	if (x->token[0]) {
		struct caller now = { .local = who->local };

		auth_token_caller(c, x->token, &now);
		*who = now;
	} else if (who->user_id && who->authenticated) {
		int admin = inv_user_admin(c, who->user_id);

		if (admin >= 0)
			who->admin = admin;
		else if (admin == -ENOENT)
			who->authenticated = false;
		/* -EIO (busy): keep what we knew */
	}
	x->all = who->authenticated && (auth_perms(c, who, "server", 0) & PERM_VIEW);
}

/* What sse_add carries from event to event. */
struct sse_fill {
	struct sse *x;
	struct dbc *c;
	struct born b;
};

/* inv_event_each: keep event ev for the stream when its caller may see it. */
static int sse_add(const struct inv_event *ev, void *arg)
{
	struct sse_fill *f = arg;
	struct sse *x = f->x;

	x->last = ev->id;
	if (!event_visible(f->c, &x->who, x->all, ev))
		return 0;
	return born_keep(&f->b, ev, !x->all) ? 1 : 0;
}

/* Append the kept events to the stream's pending text. */
static void sse_put(struct sse *x, json_t *seen)
{
	size_t i, cap = x->plen;
	json_t *s;

	json_array_foreach(seen, i, s) {
		json_t *e = json_array_get(s, 2);
		char *js;

		if (!x->who.admin)
			http_scrub_paths(x->srv, e);
		js = json_dumps(e, JSON_COMPACT);

		if (js) {
			size_t need = strlen(js) + 128;
			if (x->plen + need > cap) {
				char *b = realloc(x->pending, x->plen + need + 4096);
				if (!b) {
					free(js);
					return;
				}
				x->pending = b;
				cap = x->plen + need + 4096;
			}
			x->plen += sprintf(x->pending + x->plen, "id: %lld\nevent: %s\ndata: %s\n\n",
					   (long long)json_integer_value(json_array_get(s, 0)),
					   json_string_value(json_object_get(e, "type")), js);
		}
		free(js);
	}
}

/* Fill x->pending with the events after x->last (at most 50). */
static void sse_fetch(struct sse *x)
{
	struct sse_fill f = { .x = x, .c = inv_get(x->srv->db) };
	int64_t from = x->last;

	if (!f.c)
		return;
	if (born_init(&f.b) == 0) {
		sse_refresh(f.c, x);
		if (inv_event_each(f.c, x->last, 50, sse_add, &f) == 0 &&
		    (x->all || born_filter(f.c, &f.b) == 0))
			sse_put(x, f.b.seen);
		else
			x->last = from;   /* again, next time */
	}
	born_clear(&f.b);
	inv_put(f.c);
}

static int sse_stream(struct req *r, char *buf, size_t max, uint64_t pos, ssize_t *n)
{
	struct sse *x = r->stream_state;

	(void)pos;
	for (int round = 0; round < 2 && !r->srv->stopping; round++) {
		if (x->poff < x->plen) {
			size_t k = x->plen - x->poff < max ? x->plen - x->poff : max;
			memcpy(buf, x->pending + x->poff, k);
			x->poff += k;
			if (x->poff == x->plen)
				x->poff = x->plen = 0;
			*n = k;
			return 0;
		}
		if (round)
			break;
		sse_fetch(x);
	}
	if (r->srv->stopping || !x->who.authenticated)
		return -1;   /* the end, also of a session that ended */
	{
		/* A comment every 15 s keeps proxies from closing the stream and lets us notice
		 * a client that went away. */
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (!x->idle)
			x->idle = ts.tv_sec;
		if (ts.tv_sec - x->idle >= 15) {
			x->idle = ts.tv_sec;
			*n = snprintf(buf, max, ": keep-alive\n\n");
			return 0;
		}
	}
	return 1;   /* nothing yet: parked until the next event */
}

/* What list_add keeps the events a caller may see in. */
struct list_fill {
	struct req *r;
	bool all;
	struct born b;
};

static int list_add(const struct inv_event *e, void *arg)
{
	struct list_fill *f = arg;

	if (event_visible(f->r->c, &f->r->who, f->all, e))
		return born_keep(&f->b, e, !f->all) ? -ENOMEM : 0;
	return 0;
}

int api_event_list(struct req *r)
{
	const char *since = req_query(r, "since"), *lim = req_query(r, "limit");
	const char *follow = req_query(r, "follow"), *accept = req_header(r, "Accept");
	const char *auth = req_header(r, "Authorization");
	int64_t after = since ? strtoll(since, NULL, 10) : -1;
	long limit = lim ? strtol(lim, NULL, 10) : 100;
	bool all = auth_perms(r->c, &r->who, "server", 0) & PERM_VIEW;
	json_t *a;

	if (limit < 1 || limit > 1000)
		return req_error(r, -EINVAL, "limit is 1 to 1000");
	if ((follow && !strcmp(follow, "1")) || (accept && strstr(accept, "text/event-stream"))) {
		struct sse *x = calloc(1, sizeof(*x));
		if (!x)
			return req_error(r, -ENOMEM, "out of memory");
		x->srv = r->srv;
		x->who = r->who;
		x->all = all;
		if (auth && !strncasecmp(auth, "Bearer ", 7) && strlen(auth + 7) < sizeof(x->token))
			strcpy(x->token, auth + 7);
		if (after < 0) {
			/* From now on, unless the client asks for history (?since= or Last-Event-ID). */
			const char *lei = req_header(r, "Last-Event-ID");

			if (inv_event_last(r->c, &after))
				after = -1;
			if (lei)
				after = strtoll(lei, NULL, 10);
		}
		x->last = after;
		r->stream = sse_stream;
		r->stream_state = x;
		r->stream_free = sse_free;
		r->content_type = "text/event-stream";
		return 200;
	}
	/* Without since: the newest events; with since: those after it, oldest first. */
	{
		struct list_fill f = { .r = r, .all = all };
		json_t *s;
		size_t i;

		if (born_init(&f.b) || inv_event_each(r->c, after, limit, list_add, &f) ||
		    (!all && born_filter(r->c, &f.b))) {
			born_clear(&f.b);
			return req_error(r, -EIO, "inventory error");
		}
		a = json_array();
		json_array_foreach(f.b.seen, i, s)
			json_array_append(a, json_array_get(s, 2));
		born_clear(&f.b);
	}
	r->out = json_pack("{s:o}", "events", a);
	return 200;
}
