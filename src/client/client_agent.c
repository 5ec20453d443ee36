/* `vsrv vm agent NAME`: a VM's guest agent (GET /api/v1/vms/NAME/agent), or one of its
 * commands (--run COMMAND [--args JSON]: POST /api/v1/vms/NAME/agent). */
#include "client/client.h"
#include "client/client_opt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

const struct opt client_agent_opts[] = {
	{ "run", 0, OPT_STR, "COMMAND", "run one guest agent command (guest-get-time, guest-exec...: "
	  "which ones, and the permission each needs, see the API's POST /api/v1/vms/{name}/agent) "
	  "and print its answer as JSON", NULL, false },
	{ "args", 0, OPT_STR, "JSON", "with --run: the command's arguments, a JSON object", NULL,
	  false },
	{ "timeout", 0, OPT_INT, "MS", "with --run: how long the agent may take (default 10000)",
	  NULL, false },
	{ NULL },
};

static void when(json_t *t, char *b, size_t n)
{
	time_t sec = json_is_integer(t) ? (time_t)json_integer_value(t) : 0;
	struct tm tm;

	b[0] = '\0';
	if (sec > 0 && localtime_r(&sec, &tm))
		strftime(b, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key)) ?: "";
}

/* The agent for people: status, then what it says of the guest. */
static void agent_print(json_t *a)
{
	json_t *os = json_object_get(a, "os"), *e, *ip;
	char b[64];
	size_t i, j;

	when(json_object_get(a, "last_seen"), b, sizeof(b));
	printf("agent:       %s%s%s%s\n", str(a, "status"), b[0] ? " (last seen " : "", b,
	       b[0] ? ")" : "");
	if (json_is_object(os))
		printf("os:          %s%s%s%s%s\n", *str(os, "pretty_name") ? str(os, "pretty_name") :
		       str(os, "name"), *str(os, "kernel_release") ? ", kernel " : "",
		       str(os, "kernel_release"), *str(os, "machine") ? " " : "", str(os, "machine"));
	if (json_is_string(json_object_get(a, "hostname")))
		printf("hostname:    %s\n", str(a, "hostname"));
	json_array_foreach(json_object_get(a, "interfaces"), i, e) {
		printf("%s %s%s%s", i ? "            " : "interfaces: ", str(e, "name"),
		       *str(e, "hardware_address") ? " " : "", str(e, "hardware_address"));
		json_array_foreach(json_object_get(e, "ip_addresses"), j, ip)
			printf(" %s/%lld", str(ip, "address"),
			       (long long)json_integer_value(json_object_get(ip, "prefix")));
		printf("\n");
	}
	json_array_foreach(json_object_get(a, "users"), i, e) {
		when(json_object_get(e, "login_time"), b, sizeof(b));
		printf("%s %s%s%s%s%s\n", i ? "            " : "users:      ", str(e, "user"),
		       *str(e, "domain") ? "@" : "", str(e, "domain"), b[0] ? " since " : "", b);
	}
}

int client_vm_agent(struct client *cl, struct opt_res *r)
{
	const struct opt_val *run = opt_get(r, "run"), *args = opt_get(r, "args"),
			     *timeout = opt_get(r, "timeout");
	char seg[256], path[600];
	json_t *out = NULL, *body = NULL;
	int rc;

	if ((args || timeout) && !run)
		return opt_usage_error(r, "--args and --timeout are for --run");
	if (run) {
		json_t *a = NULL;

		if (args) {
			a = json_loads(args->str, 0, NULL);
			if (!json_is_object(a)) {
				json_decref(a);
				return opt_usage_error(r, "--args: a JSON object, e.g. '{\"path\": "
						       "\"/bin/uname\"}'");
			}
		}
		body = json_pack("{s:s}", "command", run->str);
		if (a)
			json_object_set_new(body, "arguments", a);
		if (timeout)
			json_object_set_new(body, "timeout_ms", json_integer(timeout->num));
	}
	snprintf(path, sizeof(path), "/api/v1/vms/%s/agent", client_seg(r->args[0], seg, sizeof(seg)));
	rc = client_call(cl, run ? "POST" : "GET", path, body, &out);
	if (!rc && out) {
		if (run)
			client_print_json(json_object_get(out, "return"));
		else
			cl->json ? client_print_json(out) : agent_print(out);
	}
	json_decref(body);
	json_decref(out);
	return rc;
}
