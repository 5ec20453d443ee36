/* The /api/v1/hooks endpoints (administrators only): the hooks hooks.c runs. */
#include "server/api.h"
#include "server/inv.h"
#include "server/valid.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *hook_json(const struct inv_hook *h)
{
	return json_pack("{s:I,s:s,s:s?,s:s?,s:i,s:I}", "id", (json_int_t)h->id, "event", h->event,
			 "command", h->url ? NULL : h->command, "url", h->url,
			 "timeout", h->timeout, "created", (json_int_t)h->created);
}

/* inv_hook_each/get: h as JSON, appended to the array arg. */
static int hook_add(const struct inv_hook *h, void *arg)
{
	json_array_append_new(arg, hook_json(h));
	return 0;
}

static int admin_only(struct req *r)
{
	if (r->who.admin)
		return 0;
	req_error(r, -EACCES, "hooks are for administrators");
	return -EACCES;
}

int api_hook_list(struct req *r)
{
	json_t *a;

	if (admin_only(r))
		return r->status;
	a = json_array();
	if (inv_hook_each(r->c, NULL, hook_add, a)) {
		json_decref(a);
		return req_error(r, -EIO, "inventory error");
	}
	r->out = json_pack("{s:o}", "hooks", a);
	return 200;
}

static int64_t hook_id(struct req *r)
{
	char *end;
	long long v = strtoll(r->args[0], &end, 10);

	return *end || v <= 0 ? -1 : v;
}

int api_hook_get(struct req *r)
{
	int64_t id = hook_id(r);
	json_t *a;
	int rc;

	if (admin_only(r))
		return r->status;
	a = json_array();
	rc = inv_hook_get(r->c, id, hook_add, a);
	if (rc == -EIO) {
		json_decref(a);
		return req_error(r, -EIO, "inventory error");
	}
	r->out = json_incref(json_array_get(a, 0));
	json_decref(a);
	if (!r->out)
		return req_error(r, -ENOENT, "no such hook");
	return 200;
}

int api_hook_create(struct req *r)
{
	static const struct valid_field f[] = {
		{ "event", V_STR, 1, 0, 63, K_TEXT, NULL },
		{ "command", V_STR, 0, 0, 4000, K_TEXT, NULL },
		{ "url", V_STR, 0, 0, 2000, K_TEXT, NULL },
		{ "timeout", V_INT, 0, 1, 300, 0, NULL },
		{ NULL, 0, 0, 0, 0, 0, NULL },
	};
	const char *ev, *cmd, *url;
	char err[256];
	int64_t id;
	int rc;

	if (admin_only(r))
		return r->status;
	if (!r->body || valid_object(r->body, f, err, sizeof(err)))
		return req_error(r, -EINVAL, "%s", r->body ? err : "the body must be a hook object");
	ev = json_string_value(json_object_get(r->body, "event"));
	cmd = json_string_value(json_object_get(r->body, "command"));
	url = json_string_value(json_object_get(r->body, "url"));
	if (!cmd == !url)
		return req_error(r, -EINVAL, "exactly one of command and url");
	if (!*ev || strspn(ev, "abcdefghijklmnopqrstuvwxyz-*") != strlen(ev) ||
	    (strchr(ev, '*') && strcmp(ev, "*")))
		return req_error(r, -EINVAL, "event: an event type (vm-crashed, ...) or \"*\" for all");
	if (cmd && !*cmd)
		return req_error(r, -EINVAL, "command: empty");
	if (url && strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return req_error(r, -EINVAL, "url: an http:// or https:// URL");
	if (url) {
		CURLU *u = curl_url();
		int bad = !u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK;

		curl_url_cleanup(u);
		if (bad)
			return req_error(r, -EINVAL, "url: not a valid URL");
	}
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	rc = inv_hook_create(r->c, &(struct inv_hook){ .event = ev, .command = cmd, .url = url,
		.timeout = json_object_get(r->body, "timeout") ?
			   (int)json_integer_value(json_object_get(r->body, "timeout")) : 5 }, &id);
	if (rc || inv_commit(r->c))
		goto err_io;
	{
		char num[24];

		snprintf(num, sizeof(num), "%lld", (long long)id);
		r->args[0] = num;
		return api_hook_get(r) == 200 ? (r->status = 201) : r->status;
	}
err_io:
	inv_rollback(r->c);
	return req_error(r, -EIO, "inventory error; nothing was created");
}

int api_hook_delete(struct req *r)
{
	int64_t id = hook_id(r);
	int rc;

	if (admin_only(r))
		return r->status;
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	rc = inv_hook_delete(r->c, id);
	if (rc == -ENOENT) {
		inv_rollback(r->c);
		return req_error(r, -ENOENT, "no such hook");
	}
	if (rc || inv_commit(r->c)) {
		inv_rollback(r->c);
		return req_error(r, -EIO, "inventory error; nothing was deleted");
	}
	r->status = 204;
	return 204;
}
