/* `vsrv user ...` through the API. */
#include "client/client_opt.h"
#include "util/size.h"

#include <stdint.h>
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

/* The limits of a quota: the API's field, the option, whether it takes a size (memory: a
 * bare number is MiB, as `vm create --memory`; disk-size: bytes). */
static const struct { const char *field, *opt; int size; } limits[] = {
	{ "vms", "vms", 0 }, { "cpus", "cpus", 0 }, { "memory_mib", "memory", 1 },
	{ "disks", "disks", 0 }, { "disk_bytes", "disk-size", 2 }, { "snapshots", "snapshots", 0 },
};
#define NLIMITS (sizeof(limits) / sizeof(limits[0]))

/* A user's quota and usage (from GET /users/NAME), one limit a line; a delegated manager's
 * also with what it and the users it manages own together (total_usage: what its limits
 * bound), when that differs. */
static void print_quota(const json_t *u)
{
	const json_t *q = json_object_get(u, "quota"), *use = json_object_get(u, "usage"),
		     *tot = json_object_get(u, "total_usage");
	bool managed = false;
	size_t i;

	for (i = 0; tot && i < NLIMITS; i++)
		managed |= !json_equal(json_object_get(tot, limits[i].field),
				       json_object_get(use, limits[i].field));
	if (managed)
		printf("%-12s %-14s %-14s %s\n", "limit", "usage", "with users", "quota");
	else
		printf("%-12s %-14s %s\n", "limit", "usage", "quota");
	for (i = 0; i < NLIMITS; i++) {
		const json_t *l = json_object_get(q, limits[i].field);
		char lim[32] = "unlimited";

		if (json_is_integer(l))
			snprintf(lim, sizeof(lim), "%lld", (long long)json_integer_value(l));
		if (managed)
			printf("%-12s %-14lld %-14lld %s\n", limits[i].field,
			       (long long)json_integer_value(json_object_get(use, limits[i].field)),
			       (long long)json_integer_value(json_object_get(tot, limits[i].field)),
			       lim);
		else
			printf("%-12s %-14lld %s\n", limits[i].field,
			       (long long)json_integer_value(json_object_get(use, limits[i].field)),
			       lim);
	}
}

/* `user quota NAME [--vms N] ... [--clear]`: the given limits change ("none": unlimited),
 * the others stay (read first); --clear drops them all first. */
static int user_quota(struct client *cl, struct opt_res *r)
{
	json_t *out = NULL, *body = NULL, *cur;
	char seg[256], path[512];
	size_t i;
	int rc;

	for (i = 0; i < NLIMITS; i++) {
		const struct opt_val *v = opt_get(r, limits[i].opt);
		uint64_t n;

		if (!v || !strcmp(v->str, "none"))
			continue;
		if (!*v->str || (!limits[i].size && strspn(v->str, "0123456789") != strlen(v->str)) ||
		    size_parse(v->str, &n) || n > INT64_MAX)
			return opt_usage_error(r, "--%s: '%s' is not %s, nor none", limits[i].opt, v->str,
					       limits[i].size ? "a size" : "a whole number");
	}
	snprintf(path, sizeof(path), "/api/v1/users/%s", client_seg(r->args[0], seg, sizeof(seg)));
	rc = client_call(cl, "GET", path, NULL, &out);
	if (rc)
		return rc;
	cur = json_object_get(out, "quota");
	body = opt_get(r, "clear") || !json_is_object(cur) ? json_object() : json_deep_copy(cur);
	json_decref(out);
	out = NULL;
	for (i = 0; body && i < NLIMITS; i++) {
		const struct opt_val *v = opt_get(r, limits[i].opt);
		uint64_t n = 0;

		if (!v)
			continue;
		if (!strcmp(v->str, "none")) {
			json_object_set_new(body, limits[i].field, json_null());
			continue;
		}
		size_parse(v->str, &n);
		if (limits[i].size == 1 && strspn(v->str, "0123456789") != strlen(v->str))
			n >>= 20;
		json_object_set_new(body, limits[i].field, json_integer((json_int_t)n));
	}
	if (!body)
		return 1;
	snprintf(path, sizeof(path), "/api/v1/users/%s/quota", seg);
	rc = client_call(cl, "PUT", path, body, &out);
	if (!rc && out)
		cl->json ? client_print_json(out) : print_quota(out);
	json_decref(out);
	json_decref(body);
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
		if (!pw || !*pw)
			return opt_usage_error(r, "no password given: --password P, VSRV_PASSWORD, or "
					       "type it on a terminal (else one line of stdin)");
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
	if (!rc && out && !cl->json && json_object_get(out, "quota")) {
		/* show: the user, then its quota and usage one limit a line */
		json_t *u = json_deep_copy(out);

		json_object_del(u, "quota");
		json_object_del(u, "usage");
		json_object_del(u, "total_usage");
		client_print_object(u);
		json_decref(u);
		printf("\n");
		print_quota(out);
	} else if (!rc && out) {
		cl->json ? client_print_json(out) : client_print_object(out);
	}
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

static const struct opt quota_opts[] = {
	{ "vms", 0, OPT_STR, "N", "at most N VMs (none: unlimited)", NULL, false },
	{ "cpus", 0, OPT_STR, "N", "at most N vCPUs over the user's VMs", NULL, false },
	{ "memory", 0, OPT_STR, "SIZE", "at most SIZE of memory over the user's VMs: 512M, 4G; "
	  "a bare number is MiB", NULL, false },
	{ "disks", 0, OPT_STR, "N", "at most N disks", NULL, false },
	{ "disk-size", 0, OPT_STR, "SIZE", "at most SIZE of disk (virtual sizes): 100G, 2T", NULL,
	  false },
	{ "snapshots", 0, OPT_STR, "N", "at most N snapshots over the user's VMs", NULL, false },
	{ "clear", 0, OPT_FLAG, NULL, "drop every limit first (alone: the user is unlimited)",
	  NULL, false },
	{ NULL },
};

static const struct opt_cmd user_cmds[] = {
	{ "list", NULL, 0, 0, "List the users.", NULL, NULL, user_list },
	{ "show", "NAME", 1, 1, "Show a user.", NULL, NULL, user_call },
	{ "create", "NAME", 1, 1, "Create a user.", NULL, create_opts, user_call },
	{ "passwd", "NAME", 1, 1, "Set a user's password.", NULL, passwd_opts, user_call },
	{ "delete", "NAME", 1, 1, "Delete a user.", NULL, NULL, user_call },
	{ "quota", "NAME", 1, 1, "Set a user's quota (administrators only).",
	  "The limits given change, the others stay; none makes one unlimited. A user's VMs, "
	  "disks and snapshots count against its own quota (groups have none); administrators "
	  "are never limited. `vsrv user show NAME` shows the quota with the usage.", quota_opts,
	  user_quota },
	{ NULL },
};

const struct opt_group user_group = { "user", "Manage the server's users.", NULL, user_cmds };
