/* `vsrv user ...` through the API. */
#include "client/client_opt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* A password from --password, VSRV_PASSWORD, the terminal (not echoed) or stdin. */
char *client_password(const char *given)
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

static int user_list(struct client *cl, struct opt_res *r)
{
	static const char *const cols[] = { "name", "admin", "groups", NULL };
	json_t *out = NULL;
	int rc;

	(void)r;
	rc = client_call(cl, "GET", "/api/v1/users", NULL, &out);
	if (!rc)
		cl->json ? client_print_json(out) : client_print_table(json_object_get(out, "users"), cols);
	json_decref(out);
	return rc;
}

static int user_call(struct client *cl, struct opt_res *r)
{
	const char *sub = r->cmd->name;
	const struct opt_val *g = opt_get(r, "group");
	json_t *out = NULL, *body = NULL;
	char seg[256], path[512];
	const char *pw;
	int rc, k;

	snprintf(path, sizeof(path), "/api/v1/users/%s", client_seg(r->args[0], seg, sizeof(seg)));
	if (!strcmp(sub, "show") || !strcmp(sub, "delete")) {
		rc = client_call(cl, !strcmp(sub, "show") ? "GET" : "DELETE", path, NULL, &out);
	} else {
		pw = client_password(opt_get(r, "password") ? opt_get(r, "password")->str : NULL);
		if (!pw || !*pw) {
			fprintf(stderr, "vsrv: no password given\n");
			return 1;
		}
		if (!strcmp(sub, "create")) {
			body = json_pack("{s:s,s:s,s:b}", "name", r->args[0], "password", pw, "admin",
					 opt_get(r, "admin") != NULL);
			if (g) {
				json_t *a = json_array();
				for (k = 0; k < g->count; k++)
					json_array_append_new(a, json_string(g->all[k]));
				json_object_set_new(body, "groups", a);
			}
			rc = client_call(cl, "POST", "/api/v1/users", body, &out);
		} else {
			body = json_pack("{s:s}", "password", pw);
			rc = client_call(cl, "PATCH", path, body, &out);
		}
	}
	if (!rc && out)
		cl->json ? client_print_json(out) : client_print_object(out);
	json_decref(out);
	json_decref(body);
	return rc;
}

static const struct opt create_opts[] = {
	{ "password", 'p', OPT_STR, "PASSWORD", "the password (else VSRV_PASSWORD, else asked on the "
	  "terminal, else read from stdin)", NULL, false },
	{ "admin", 0, OPT_FLAG, NULL, "an administrator", NULL, false },
	{ "group", 0, OPT_STR, "GROUP", "a group the user belongs to", NULL, true },
	{ NULL },
};

static const struct opt passwd_opts[] = {
	{ "password", 'p', OPT_STR, "PASSWORD", "the new password (else VSRV_PASSWORD, else asked on the "
	  "terminal, else read from stdin)", NULL, false },
	{ NULL },
};

static const struct opt_cmd user_cmds[] = {
	{ "list", NULL, 0, 0, "List the users.", NULL, NULL, user_list },
	{ "show", "NAME", 1, 1, "Show a user.", NULL, NULL, user_call },
	{ "create", "NAME", 1, 1, "Create a user.", NULL, create_opts, user_call },
	{ "passwd", "NAME", 1, 1, "Set a user's password.", NULL, passwd_opts, user_call },
	{ "delete", "NAME", 1, 1, "Delete a user.", NULL, NULL, user_call },
	{ NULL },
};

const struct opt_group user_group = { "user", "Manage the server's users.", NULL, user_cmds };
