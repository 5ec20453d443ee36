/* `vsrv events`: the server's events, as a table for people or JSON, stored or followed. */
#include "client/client_opt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EV_FMT "%-7s %-19s %-22s %-20s %-10s %s\n"

static void ev_header(void)
{
	printf(EV_FMT, "ID", "TIME", "TYPE", "OBJECT", "USER", "MESSAGE");
}

/* One event as a table line: local time, "-" for what it lacks. */
static void ev_line(const json_t *e)
{
	double t = json_number_value(json_object_get(e, "time"));
	time_t s = (time_t)t;
	struct tm tm;
	char id[24], when[32] = "-", obj[96] = "-";
	const char *otype = json_string_value(json_object_get(e, "object_type"));
	const char *oname = json_string_value(json_object_get(e, "object"));
	const char *user = json_string_value(json_object_get(e, "user"));
	const char *type = json_string_value(json_object_get(e, "type"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(e, "id")));
	if (t > 0 && localtime_r(&s, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	if (oname)
		snprintf(obj, sizeof(obj), "%s%s%s", otype ? otype : "", otype ? " " : "", oname);
	printf(EV_FMT, id, when, type ? type : "-", obj, user ? user : "-", msg ? msg : "");
}

struct sse {
	bool json;
	char line[65536];
	size_t len;
};

/* Server-Sent Events: each "data:" line is one event. */
static int ev_sse(const char *buf, size_t n, void *arg)
{
	struct sse *s = arg;
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (s->len + 1 < sizeof(s->line))
				s->line[s->len++] = buf[i];
			continue;
		}
		s->line[s->len] = '\0';
		if (!strncmp(s->line, "data: ", 6)) {
			json_t *e = json_loads(s->line + 6, 0, NULL);
			if (s->json || !e)
				puts(s->line + 6);
			else
				ev_line(e);
			json_decref(e);
			fflush(stdout);
		}
		s->len = 0;
	}
	return 0;
}

static int events_run(struct client *cl, struct opt_res *r)
{
	const struct opt_val *since = opt_get(r, "since"), *limit = opt_get(r, "limit");
	char path[256];
	json_t *out = NULL, *e;
	size_t i;
	int rc;

	if (opt_get(r, "follow")) {
		static struct sse s;
		s.json = cl->json;
		snprintf(path, sizeof(path), "/api/v1/events?follow=1");
		if (since)
			snprintf(path + strlen(path), sizeof(path) - strlen(path), "&since=%lld", since->num);
		if (!cl->json) {
			ev_header();
			fflush(stdout);
		}
		return client_stream(cl, path, ev_sse, &s);
	}
	snprintf(path, sizeof(path), "/api/v1/events?limit=%lld", limit ? limit->num : 100);
	if (since)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "&since=%lld", since->num);
	rc = client_call(cl, "GET", path, NULL, &out);
	if (!rc && cl->json) {
		client_print_json(out);
	} else if (!rc) {
		ev_header();
		json_array_foreach(json_object_get(out, "events"), i, e)
			ev_line(e);
	}
	json_decref(out);
	return rc;
}

static const struct opt events_opts[] = {
	{ "follow", 'f', OPT_FLAG, NULL, "go on printing events as they happen (Ctrl-C ends)", NULL, false },
	{ "since", 0, OPT_INT, "ID", "only the events after event ID", NULL, false },
	{ "limit", 'n', OPT_INT, "N", "at most N stored events (1 to 1000, default 100)", NULL, false },
	{ NULL },
};

static const struct opt_cmd events_cmds[] = {
	{ "", NULL, 0, 0, "Show the server's events you may see: a table with the local time, or "
	  "JSON with --json.", NULL, events_opts, events_run },
	{ NULL },
};

const struct opt_group events_group = { "events", "show or follow the server's events", NULL, events_cmds };
