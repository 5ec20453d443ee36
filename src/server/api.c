/* The route table and the small endpoints: health, login, whoami, openapi, host, metrics. */
#include "server/api.h"
#include "server/auth.h"
#include "server/events.h"
#include "server/hostkvm.h"
#include "server/metrics.h"
#include "server/sup.h"
#include "server/throttle.h"
#include "server/valid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct route api_routes[] = {
	{ "GET", "/api/v1/health", api_health, ROUTE_NOAUTH },
	{ "POST", "/api/v1/login", api_login, ROUTE_NOAUTH },
	{ "POST", "/api/v1/logout", api_logout, 0 },
	{ "GET", "/api/v1/whoami", api_whoami, 0 },
	{ "GET", "/api/v1/openapi.yaml", api_openapi, 0 },
	{ "GET", "/api/v1/host", api_host, 0 },
	{ "GET", "/api/v1/hosts", api_hosts, 0 },
	{ "POST", "/api/v1/hosts/{}/drain", api_host_drain, 0 },
	{ "DELETE", "/api/v1/hosts/{}/drain", api_host_drain, 0 },
	{ "POST", "/api/v1/cluster/balance", api_cluster_balance, 0 },
	{ "GET", "/api/v1/images", api_image_list, 0 },
	{ "GET", "/api/v1/images/{}", api_image_get, 0 },
	{ "PUT", "/api/v1/images/{}", api_image_put, ROUTE_UPLOAD },
	{ "DELETE", "/api/v1/images/{}", api_image_delete, 0 },
	{ "PATCH", "/api/v1/images/{}", api_image_update, 0 },
	{ "GET", "/metrics", api_metrics, 0 },
	{ "GET", "/api/v1/vms", api_vm_list, 0 },
	{ "POST", "/api/v1/vms", api_vm_create, 0 },
	{ "GET", "/api/v1/vms/{}", api_vm_get, 0 },
	{ "PATCH", "/api/v1/vms/{}", api_vm_update, 0 },
	{ "DELETE", "/api/v1/vms/{}", api_vm_delete, 0 },
	{ "GET", "/api/v1/vms/{}/status", api_vm_status, 0 },
	{ "GET", "/api/v1/vms/{}/undo-disks", api_vm_undo_list, 0 },
	{ "POST", "/api/v1/vms/{}/undo-disks", api_vm_undo_action, 0 },
	{ "GET", "/api/v1/vms/{}/snapshots", api_vm_snapshot_list, 0 },
	{ "POST", "/api/v1/vms/{}/snapshots", api_vm_snapshot_create, 0 },
	{ "POST", "/api/v1/vms/{}/snapshots/{}/{}", api_vm_snapshot_revert, 0 },
	{ "DELETE", "/api/v1/vms/{}/snapshots/{}", api_vm_snapshot_delete, 0 },
	{ "POST", "/api/v1/vms/{}/clone", api_vm_clone, 0 },
	{ "POST", "/api/v1/vms/{}/migrate", api_vm_migrate, 0 },
	{ "POST", "/api/v1/vms/{}/incoming", api_vm_incoming, ROUTE_PEER },
	{ "DELETE", "/api/v1/vms/{}/incoming", api_vm_incoming, ROUTE_PEER },
	{ "POST", "/api/v1/vms/{}/incoming/commit", api_vm_incoming_commit, ROUTE_PEER },
	{ "POST", "/api/v1/vms/{}/media", api_vm_media, 0 },
	{ "GET", "/api/v1/vms/{}/balloon", api_vm_balloon_get, 0 },
	{ "PUT", "/api/v1/vms/{}/balloon", api_vm_balloon_put, 0 },
	{ "GET", "/api/v1/vms/{}/agent", api_vm_agent_get, 0 },
	{ "POST", "/api/v1/vms/{}/agent", api_vm_agent_post, 0 },
	{ "POST", "/api/v1/vms/{}/{}", api_vm_action, 0 },
	{ "GET", "/api/v1/vms/{}/console", api_vm_console_get, 0 },
	{ "GET", "/api/v1/vms/{}/console/serial", api_vm_console_serial, ROUTE_WS },
	{ "GET", "/api/v1/vms/{}/console/vnc", api_vm_console_vnc, ROUTE_WS },
	{ "GET", "/api/v1/vms/{}/screenshot", api_vm_screenshot, 0 },
	{ "POST", "/api/v1/vms/{}/console", api_vm_console_put, 0 },
	{ "GET", "/api/v1/permissions", api_perm_get, 0 },
	{ "PUT", "/api/v1/permissions", api_perm_set, 0 },
	{ "GET", "/api/v1/{}/{}/permissions", api_perm_get, 0 },
	{ "PUT", "/api/v1/{}/{}/permissions", api_perm_set, 0 },
	{ "GET", "/api/v1/users", api_user_list, 0 },
	{ "POST", "/api/v1/users", api_user_create, 0 },
	{ "GET", "/api/v1/users/{}", api_user_get, 0 },
	{ "PATCH", "/api/v1/users/{}", api_user_update, 0 },
	{ "DELETE", "/api/v1/users/{}", api_user_delete, 0 },
	{ "PUT", "/api/v1/users/{}/quota", api_user_quota_put, 0 },
	{ "GET", "/api/v1/groups", api_group_list, 0 },
	{ "POST", "/api/v1/groups", api_group_create, 0 },
	{ "GET", "/api/v1/groups/{}", api_group_get, 0 },
	{ "PATCH", "/api/v1/groups/{}", api_group_update, 0 },
	{ "DELETE", "/api/v1/groups/{}", api_group_delete, 0 },
	{ "GET", "/api/v1/disks", api_disk_list, 0 },
	{ "POST", "/api/v1/disks", api_disk_create, 0 },
	{ "GET", "/api/v1/disks/{}", api_disk_get, 0 },
	{ "PATCH", "/api/v1/disks/{}", api_disk_update, 0 },
	{ "DELETE", "/api/v1/disks/{}", api_disk_delete, 0 },
	{ "POST", "/api/v1/disks/{}/{}", api_disk_action, 0 },
	{ "GET", "/api/v1/networks", api_net_list, 0 },
	{ "POST", "/api/v1/networks", api_net_create, 0 },
	{ "GET", "/api/v1/networks/{}", api_net_get, 0 },
	{ "DELETE", "/api/v1/networks/{}", api_net_delete, 0 },
	{ "GET", "/api/v1/events", api_event_list, 0 },
	{ "GET", "/api/v1/tasks", api_task_list, 0 },
	{ "GET", "/api/v1/tasks/{}", api_task_get, 0 },
	{ "GET", "/api/v1/hooks", api_hook_list, 0 },
	{ "POST", "/api/v1/hooks", api_hook_create, 0 },
	{ "GET", "/api/v1/hooks/{}", api_hook_get, 0 },
	{ "DELETE", "/api/v1/hooks/{}", api_hook_delete, 0 },
	{ NULL, NULL, NULL, 0 },
};

int api_nroutes(void)
{
	return sizeof(api_routes) / sizeof(api_routes[0]) - 1;
}

void api_route_name(int idx, const char **method, const char **pattern)
{
	*method = api_routes[idx].method;
	*pattern = api_routes[idx].pattern;
}

/* Match path against pattern segment by segment; {} captures one non-empty segment. */
static int match(const char *pat, const char *path, const char **args, char *store, size_t cap)
{
	int na = 0;
	size_t used = 0;

	while (*pat && *path) {
		if (*pat != '/' || *path != '/')
			return 0;
		pat++;
		path++;
		size_t pl = strcspn(pat, "/"), sl = strcspn(path, "/");
		if (pl == 2 && pat[0] == '{' && pat[1] == '}') {
			if (sl == 0 || na >= 4 || used + sl + 1 > cap)
				return 0;
			memcpy(store + used, path, sl);
			store[used + sl] = '\0';
			args[na++] = store + used;
			used += sl + 1;
		} else if (pl != sl || memcmp(pat, path, sl)) {
			return 0;
		}
		pat += pl;
		path += sl;
	}
	return !*pat && !*path;
}

int api_route(const char *method, const char *path, struct req *r)
{
	static __thread char store[1024];
	int i, found = -1, literal_best = -1;

	for (i = 0; api_routes[i].method; i++) {
		const char *args[4] = { NULL };
		if (!match(api_routes[i].pattern, path, args, store, sizeof(store)))
			continue;
		if (strcmp(api_routes[i].method, method)) {
			if (found == -1)
				found = -2;
			continue;
		}
		/* The first matching route wins: literal routes come before {} routes in the
		 * table where both could match (console before the action catch-all). */
		if (!strcmp(api_routes[i].pattern, "/api/v1/vms/{}/{}") &&
		    args[1] && !strcmp(args[1], "console"))
			continue;
		memcpy(r->args, args, sizeof(args));
		literal_best = i;
		break;
	}
	if (literal_best >= 0)
		return literal_best;
	return found == -2 ? -2 : -1;
}

int api_health(struct req *r)
{
	/* whether a VM can start here (GET /api/v1/host says why not) */
	r->out = json_pack("{s:s,s:s,s:b}", "status", "ok", "version", "1", "kvm",
			   !hostkvm_check(NULL, 0));
	return 200;
}

static const struct valid_field login_fields[] = {
	{ "user", V_STR, 1, 0, 63, K_NAME, NULL },
	{ "password", V_STR, 1, 0, 1024, K_SECRET, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

int api_login(struct req *r)
{
	char err[256], token[65], addr[64];
	const char *user, *from;
	unsigned wait;
	int64_t exp;
	int rc;

	if (!r->body)
		return req_error(r, -EINVAL, "the body must be {\"user\": ..., \"password\": ...}");
	if (valid_object(r->body, login_fields, err, sizeof(err)))
		return req_error(r, -EINVAL, "%s", err);
	user = json_string_value(json_object_get(r->body, "user"));
	from = req_client_addr(r, addr, sizeof(addr)) ? NULL : addr;
	/* Refused before any hashing while the user or the address is backing off; throttled
	 * attempts are counted in the metrics, not stored as events. */
	wait = throttle_check(r->srv->throttle, user, from);
	if (wait) {
		metrics_login(r->srv->metrics, METRIC_LOGIN_THROTTLED);
		r->retry_after = wait;
		return req_error(r, 429, "too many failed logins for this user or from this address: "
				 "retry in %u s", wait);
	}
	rc = auth_login(r->c, user, json_string_value(json_object_get(r->body, "password")),
			r->srv->token_ttl, token, &exp);
	throttle_done(r->srv->throttle, user, from, rc);
	if (rc == -EACCES) {
		metrics_login(r->srv->metrics, METRIC_LOGIN_FAILED);
		events_emit(r->srv, r->c, "login-failed", "user", user, user, NULL,
			    "failed login for %s%s%s", user, from ? " from " : "", from ? from : "");
		return req_error(r, 401, "wrong user name or password");
	}
	if (rc)
		return req_error(r, rc, "cannot log in");
	metrics_login(r->srv->metrics, METRIC_LOGIN_OK);
	events_emit(r->srv, r->c, "login", "user", user, user, NULL, "%s logged in", user);
	r->out = json_pack("{s:s,s:I,s:I}", "token", token, "expires", (json_int_t)exp,
			   "expires_in", (json_int_t)r->srv->token_ttl);
	/* The same token as a cookie, for the WebSocket routes alone (api.h: ROUTE_WS): a
	 * browser's WebSocket cannot send the Authorization header. */
	if (asprintf(&r->set_cookie, AUTH_COOKIE "=%s; Path=/api/v1/; Max-Age=%u; HttpOnly; "
		     "SameSite=Strict", token, r->srv->token_ttl) < 0)
		r->set_cookie = NULL;
	return 200;
}

int api_logout(struct req *r)
{
	const char *h = req_header(r, "Authorization");

	if (!h || strncasecmp(h, "Bearer ", 7))
		return req_error(r, -EINVAL, "logout needs the token in 'Authorization: Bearer TOKEN'");
	auth_logout(r->c, h + 7);
	r->set_cookie = strdup(AUTH_COOKIE "=; Path=/api/v1/; Max-Age=0; HttpOnly; SameSite=Strict");
	r->status = 204;
	return 204;
}

int api_whoami(struct req *r)
{
	r->out = json_pack("{s:s,s:b,s:b,s:o}", "user", r->who.name, "admin", r->who.admin,
			   "local", r->who.local, "server_permissions",
			   auth_perm_names(auth_perms(r->c, &r->who, "server", 0)));
	return 200;
}

int api_openapi(struct req *r)
{
	if (!r->srv->openapi)
		return req_error(r, -ENOENT, "docs/api.yaml was not found at start-up");
	r->text = malloc(r->srv->openapi_len);
	if (!r->text)
		return req_error(r, -ENOMEM, "out of memory");
	memcpy(r->text, r->srv->openapi, r->srv->openapi_len);
	r->text_len = r->srv->openapi_len;
	r->content_type = "application/yaml";
	return 200;
}

int api_host(struct req *r)
{
	if (auth_require(r, "server", 0, PERM_VIEW))
		return r->status;
	r->out = sup_host_json(r->srv, r->c);
	return 200;
}

int api_metrics(struct req *r)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (auth_require(r, "server", 0, PERM_VIEW))
		return r->status;
	if (metrics_render(r->srv->metrics, &buf, &len, &cap) ||
	    sup_metrics_render(r->srv, r->c, &buf, &len, &cap)) {
		free(buf);
		return req_error(r, -ENOMEM, "out of memory");
	}
	r->text = buf;
	r->text_len = len;
	r->content_type = "text/plain; version=0.0.4";
	return 200;
}
