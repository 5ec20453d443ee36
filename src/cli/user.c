/* `vsrv user ...`, `vsrv events` and `vsrv login` through the API. */
#include "cli/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* A password from --password, VSRV_PASSWORD or the terminal (not echoed). */
static char *password(const char *given)
{
	static char buf[256];
	struct termios old, t;

	if (given)
		return (char *)given;
	if (getenv("VSRV_PASSWORD"))
		return getenv("VSRV_PASSWORD");
	if (!isatty(0))
		return fgets(buf, sizeof(buf), stdin) ? (buf[strcspn(buf, "\n")] = '\0', buf) : NULL;
	fprintf(stderr, "password: ");
	tcgetattr(0, &old);
	t = old;
	t.c_lflag &= ~ECHO;
	tcsetattr(0, TCSANOW, &t);
	if (!fgets(buf, sizeof(buf), stdin))
		buf[0] = '\0';
	tcsetattr(0, TCSANOW, &old);
	fputc('\n', stderr);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

int cmd_user(int argc, char **argv)
{
	static const char *const cols[] = { "name", "admin", "groups", NULL };
	struct client cl;
	json_t *out = NULL, *body = NULL, *groups = NULL;
	char seg[256], path[512];
	const char *pw = NULL;
	bool admin = false;
	int rc = client_init(&argc, argv, &cl), i;

	if (rc)
		return rc;
	if (argc < 2)
		goto usage;
	if (!strcmp(argv[1], "list")) {
		rc = client_call(&cl, "GET", "/api/v1/users", NULL, &out);
		if (!rc)
			cl.json ? client_print_json(out) : client_print_table(json_object_get(out, "users"), cols);
		goto out;
	}
	if (argc < 3)
		goto usage;
	snprintf(path, sizeof(path), "/api/v1/users/%s", client_seg(argv[2], seg, sizeof(seg)));
	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--password") && i + 1 < argc)
			pw = argv[++i];
		else if (!strcmp(argv[i], "--admin"))
			admin = true;
		else if (!strcmp(argv[i], "--group") && i + 1 < argc)
			json_array_append_new(groups ? groups : (groups = json_array()), json_string(argv[++i]));
		else
			goto usage;
	}
	if (!strcmp(argv[1], "show") || !strcmp(argv[1], "delete")) {
		rc = client_call(&cl, !strcmp(argv[1], "show") ? "GET" : "DELETE", path, NULL, &out);
	} else if (!strcmp(argv[1], "create")) {
		const char *p = password(pw);
		if (!p)
			goto usage;
		body = json_pack("{s:s,s:s,s:b}", "name", argv[2], "password", p, "admin", admin);
		if (groups)
			json_object_set(body, "groups", groups);
		rc = client_call(&cl, "POST", "/api/v1/users", body, &out);
	} else if (!strcmp(argv[1], "passwd")) {
		const char *p = password(pw);
		if (!p)
			goto usage;
		body = json_pack("{s:s}", "password", p);
		rc = client_call(&cl, "PATCH", path, body, &out);
	} else {
		goto usage;
	}
	if (!rc && out)
		cl.json ? client_print_json(out) : client_print_object(out);
	goto out;
usage:
	fprintf(stderr, "usage: vsrv user list | show NAME | delete NAME\n"
		"       vsrv user create NAME [--password P] [--admin] [--group G]...\n"
		"       vsrv user passwd NAME [--password P]\n"
		"(without --password: VSRV_PASSWORD, or asked on the terminal)\n");
	rc = 2;
out:
	json_decref(out);
	json_decref(body);
	json_decref(groups);
	client_close(&cl);
	return rc;
}

static int print_sse(const char *buf, size_t n, void *arg)
{
	(void)arg;
	/* Server-Sent Events: print the data lines, one event per line. */
	static char line[65536];
	static size_t len;
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (len + 1 < sizeof(line))
				line[len++] = buf[i];
			continue;
		}
		line[len] = '\0';
		if (!strncmp(line, "data: ", 6)) {
			puts(line + 6);
			fflush(stdout);
		}
		len = 0;
	}
	return 0;
}

int cmd_events(int argc, char **argv)
{
	struct client cl;
	json_t *out = NULL, *e;
	char path[256] = "/api/v1/events";
	bool follow = false;
	const char *since = NULL;
	size_t i;
	int rc = client_init(&argc, argv, &cl), k;

	if (rc)
		return rc;
	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--follow") || !strcmp(argv[k], "-f"))
			follow = true;
		else if (!strcmp(argv[k], "--since") && k + 1 < argc)
			since = argv[++k];
		else {
			fprintf(stderr, "usage: vsrv events [--follow] [--since ID]\n");
			client_close(&cl);
			return 2;
		}
	}
	if (follow) {
		snprintf(path, sizeof(path), "/api/v1/events?follow=1%s%s", since ? "&since=" : "",
			 since ? since : "");
		rc = client_stream(&cl, path, print_sse, NULL);
	} else {
		if (since)
			snprintf(path, sizeof(path), "/api/v1/events?since=%lld", atoll(since));
		rc = client_call(&cl, "GET", path, NULL, &out);
		if (!rc && cl.json)
			client_print_json(out);
		else if (!rc)
			json_array_foreach(json_object_get(out, "events"), i, e)
				printf("%-6lld %-20s %s\n", (long long)json_integer_value(json_object_get(e, "id")),
				       json_string_value(json_object_get(e, "type")),
				       json_string_value(json_object_get(e, "message")));
	}
	json_decref(out);
	client_close(&cl);
	return rc;
}

int cmd_login(int argc, char **argv)
{
	struct client cl;
	json_t *out = NULL, *body;
	const char *user = NULL, *pw = NULL;
	int rc = client_init(&argc, argv, &cl), k;

	if (rc)
		return rc;
	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--user") && k + 1 < argc)
			user = argv[++k];
		else if (!strcmp(argv[k], "--password") && k + 1 < argc)
			pw = argv[++k];
		else
			user = NULL, k = argc;
	}
	if (!user) {
		fprintf(stderr, "usage: vsrv login --server URL --user NAME [--password P]\n"
			"prints a token: export VSRV_TOKEN=...\n");
		client_close(&cl);
		return 2;
	}
	pw = password(pw);
	body = json_pack("{s:s,s:s}", "user", user, "password", pw ? pw : "");
	rc = client_call(&cl, "POST", "/api/v1/login", body, &out);
	if (!rc) {
		if (cl.json)
			client_print_json(out);
		else
			printf("export VSRV_TOKEN=%s\n", json_string_value(json_object_get(out, "token")));
	}
	json_decref(body);
	json_decref(out);
	client_close(&cl);
	return rc;
}
