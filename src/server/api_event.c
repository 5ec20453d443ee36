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
 * own logins. */
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
	size_t cap;
};

/* inv_event_each: append event ev to the stream's pending text, when its caller may see it.
 * 1 (the end) without memory. */
static int sse_add(const struct inv_event *ev, void *arg)
{
	struct sse_fill *f = arg;
	struct sse *x = f->x;
	json_t *e;
	char *js;

	x->last = ev->id;
	if (!event_visible(f->c, &x->who, x->all, ev))
		return 0;
	e = event_json(ev);
	js = e ? json_dumps(e, JSON_COMPACT) : NULL;
	if (js) {
		size_t need = strlen(js) + 128;
		if (x->plen + need > f->cap) {
			char *b = realloc(x->pending, x->plen + need + 4096);
			if (!b) {
				free(js);
				json_decref(e);
				return 1;
			}
			x->pending = b;
			f->cap = x->plen + need + 4096;
		}
		x->plen += sprintf(x->pending + x->plen, "id: %lld\nevent: %s\ndata: %s\n\n",
				   (long long)ev->id, ev->type, js);
	}
	free(js);
	json_decref(e);
	return 0;
}

/* Fill x->pending with the events after x->last (at most 50). */
static void sse_fetch(struct sse *x)
{
	struct sse_fill f = { .x = x, .c = inv_get(x->srv->db) };

	if (!f.c)
		return;
	sse_refresh(f.c, x);
	inv_event_each(f.c, x->last, 50, sse_add, &f);
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

/* What list_add appends the events a caller may see to. */
struct list_fill {
	struct req *r;
	bool all;
	json_t *a;
};

static int list_add(const struct inv_event *e, void *arg)
{
	struct list_fill *f = arg;

	if (event_visible(f->r->c, &f->r->who, f->all, e))
		json_array_append_new(f->a, event_json(e));
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
	a = json_array();
	if (inv_event_each(r->c, after, limit, list_add, &(struct list_fill){ r, all, a })) {
		json_decref(a);
		return req_error(r, -EIO, "inventory error");
	}
	r->out = json_pack("{s:o}", "events", a);
	return 200;
}
