/* The /api/v1/hooks endpoints (administrators only): the hooks hooks.c runs. */
#include "server/api.h"
#include "server/db.h"
#include "server/valid.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *hook_json(sqlite3_stmt *s)
{
	const char *url = (const char *)sqlite3_column_text(s, 3);

	return json_pack("{s:I,s:s,s:s?,s:s?,s:i,s:I}", "id", (json_int_t)sqlite3_column_int64(s, 0),
			 "event", sqlite3_column_text(s, 1),
			 "command", url ? NULL : (const char *)sqlite3_column_text(s, 2), "url", url,
			 "timeout", sqlite3_column_int(s, 4), "created",
			 (json_int_t)sqlite3_column_int64(s, 5));
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
	sqlite3_stmt *s;
	json_t *a;

	if (admin_only(r))
		return r->status;
	s = db_stmt(r->c, "SELECT id, event_type, command, url, timeout, created FROM hooks ORDER BY id");
	if (!s)
		return req_error(r, -EIO, "inventory error");
	a = json_array();
	while (sqlite3_step(s) == SQLITE_ROW)
		json_array_append_new(a, hook_json(s));
	db_done(s);
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
	sqlite3_stmt *s;

	if (admin_only(r))
		return r->status;
	s = db_stmt(r->c, "SELECT id, event_type, command, url, timeout, created FROM hooks WHERE id = ?");
	if (!s)
		return req_error(r, -EIO, "inventory error");
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW)
		r->out = hook_json(s);
	db_done(s);
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
	sqlite3_stmt *s;
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
	if (db_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	s = db_stmt(r->c, "INSERT INTO hooks (event_type, command, url, timeout, created) VALUES (?, ?, ?, ?, ?)");
	if (!s)
		goto err_io;
	sqlite3_bind_text(s, 1, ev, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, cmd ? cmd : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, url, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, json_object_get(r->body, "timeout") ?
			 (int)json_integer_value(json_object_get(r->body, "timeout")) : 5);
	sqlite3_bind_int64(s, 5, time(NULL));
	rc = db_rc(r->c, sqlite3_step(s));
	db_done(s);
	id = sqlite3_last_insert_rowid(r->c->c);
	if (rc || db_commit(r->c))
		goto err_io;
	{
		char num[24];

		snprintf(num, sizeof(num), "%lld", (long long)id);
		r->args[0] = num;
		return api_hook_get(r) == 200 ? (r->status = 201) : r->status;
	}
err_io:
	db_rollback(r->c);
	return req_error(r, -EIO, "inventory error; nothing was created");
}

int api_hook_delete(struct req *r)
{
	int64_t id = hook_id(r);
	sqlite3_stmt *s;
	int rc, n;

	if (admin_only(r))
		return r->status;
	if (db_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	s = db_stmt(r->c, "DELETE FROM hooks WHERE id = ?");
	if (!s) {
		db_rollback(r->c);
		return req_error(r, -EIO, "inventory error");
	}
	sqlite3_bind_int64(s, 1, id);
	rc = db_rc(r->c, sqlite3_step(s));
	db_done(s);
	n = sqlite3_changes(r->c->c);
	if (rc || db_commit(r->c)) {
		db_rollback(r->c);
		return req_error(r, -EIO, "inventory error; nothing was deleted");
	}
	if (!n)
		return req_error(r, -ENOENT, "no such hook");
	r->status = 204;
	return 204;
}
