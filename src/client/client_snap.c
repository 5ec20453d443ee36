/* `vsrv vm snapshot ...` and `vsrv vm clone`: a VM's snapshot tree and its clones through
 * the API (docs/api.yaml: /api/v1/vms/{name}/snapshots, /clone). */
#include "client/client_opt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Print the snapshots whose parent is parent (NULL: the roots) of tree a, indented by
 * depth, and theirs below each. */
static void print_tree(const json_t *a, const char *parent, int depth)
{
	const json_t *s;
	size_t i;

	json_array_foreach(a, i, s) {
		const char *p = json_string_value(json_object_get(s, "parent"));
		const char *desc = json_string_value(json_object_get(s, "description")) ?: "";
		time_t t = (time_t)json_integer_value(json_object_get(s, "created"));
		char when[32] = "";
		struct tm tm;

		if (parent ? !p || strcmp(p, parent) : p != NULL)
			continue;
		if (t > 0 && localtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%*s%s%s%s  %s%s%s\n", depth * 2, "",
		       json_string_value(json_object_get(s, "name")),
		       json_is_true(json_object_get(s, "memory")) ? " [memory]" : "",
		       json_is_true(json_object_get(s, "current")) ? " (current)" : "", when,
		       *desc ? "  " : "", desc);
		print_tree(a, json_string_value(json_object_get(s, "name")), depth + 1);
	}
}

int client_vm_snapshot(struct client *cl, struct opt_res *r)
{
	static const char *const acts[] = { "list", "create", "revert", "delete", NULL };
	const char *act = r->args[0], *vm = r->args[1], *snap = r->nargs > 2 ? r->args[2] : NULL;
	const struct opt_val *desc = opt_get(r, "description"), *mem = opt_get(r, "memory");
	const struct opt_val *nomem = opt_get(r, "no-memory");
	char seg[256], sseg[256], path[800];
	json_t *out = NULL, *body = NULL;
	const char *method = "GET";
	int i, rc;

	for (i = 0; acts[i] && strcmp(acts[i], act); i++)
		;
	if (!acts[i])
		return opt_usage_error(r, "'%s': the actions are list, create, revert and delete", act);
	if (!strcmp(act, "list") ? snap != NULL : snap == NULL)
		return opt_usage_error(r, "%s takes %s", act, !strcmp(act, "list") ? "the VM's name only"
				       : "the VM's name and the snapshot's");
	if ((desc || mem || nomem) && strcmp(act, "create"))
		return opt_usage_error(r, "--description, --memory and --no-memory are for create");
	if (mem && nomem)
		return opt_usage_error(r, "--memory or --no-memory, not both");
	client_seg(vm, seg, sizeof(seg));
	if (snap)
		client_seg(snap, sseg, sizeof(sseg));
	if (!strcmp(act, "list")) {
		snprintf(path, sizeof(path), "/api/v1/vms/%s/snapshots", seg);
	} else if (!strcmp(act, "create")) {
		method = "POST";
		snprintf(path, sizeof(path), "/api/v1/vms/%s/snapshots", seg);
		body = json_pack("{s:s}", "name", snap);
		if (desc)
			json_object_set_new(body, "description", json_string(desc->str));
		if (mem || nomem)
			json_object_set_new(body, "memory", json_boolean(mem != NULL));
	} else if (!strcmp(act, "revert")) {
		method = "POST";
		snprintf(path, sizeof(path), "/api/v1/vms/%s/snapshots/%s/revert", seg, sseg);
	} else {
		method = "DELETE";
		snprintf(path, sizeof(path), "/api/v1/vms/%s/snapshots/%s", seg, sseg);
	}
	rc = client_call(cl, method, path, body, &out);
	json_decref(body);
	if (rc)
		return rc;
	/* a delete is a task (its merges copy data): wait for it */
	if (!strcmp(act, "delete") &&
	    client_task_wait(cl, json_integer_value(json_object_get(out, "task")))) {
		json_decref(out);
		return 1;
	}
	if (cl->json && out)
		client_print_json(out);
	else if (!strcmp(act, "delete"))
		printf("%s: snapshot %s deleted\n", vm, snap);
	else if (!json_array_size(json_object_get(out, "snapshots")))
		printf("%s has no snapshots\n", vm);
	else
		print_tree(json_object_get(out, "snapshots"), NULL, 0);
	json_decref(out);
	return 0;
}

int client_vm_clone(struct client *cl, struct opt_res *r)
{
	const struct opt_val *desc = opt_get(r, "description"), *linked = opt_get(r, "linked");
	char seg[256], path[600];
	json_t *out = NULL, *body = json_pack("{s:s,s:b}", "name", r->args[1], "linked",
					     linked != NULL);
	int rc;

	if (desc)
		json_object_set_new(body, "description", json_string(desc->str));
	snprintf(path, sizeof(path), "/api/v1/vms/%s/clone", client_seg(r->args[0], seg, sizeof(seg)));
	rc = client_call(cl, "POST", path, body, &out);
	json_decref(body);
	if (rc)
		return rc;
	if (cl->json)
		client_print_json(out);
	else if (json_object_get(out, "task"))
		printf("%s: copying the disks of %s into it (task %lld)\n", r->args[1], r->args[0],
		       (long long)json_integer_value(json_object_get(out, "task")));
	else
		printf("%s: a linked clone of %s\n", r->args[1], r->args[0]);
	json_decref(out);
	return 0;
}

const struct opt client_snapshot_opts[] = {
	{ "description", 0, OPT_STR, "TEXT", "create: a description for people", NULL, false },
	{ "memory", 0, OPT_FLAG, NULL, "create: with the VM's memory and device state (the "
	  "default for a VM that runs or is paused; a saved VM gives its saved state)", NULL,
	  false },
	{ "no-memory", 0, OPT_FLAG, NULL, "create: disks only (a VM that runs or is paused: "
	  "live, the guest going on; file systems frozen when its agent answers)", NULL, false },
	{ NULL },
};

const struct opt client_clone_opts[] = {
	{ "linked", 0, OPT_FLAG, NULL, "a linked clone: a differencing disk over a frozen image of "
	  "each writable disk, made at once (else a full copy, a server task)", NULL, false },
	{ "description", 0, OPT_STR, "TEXT", "the clone's description (else the source's)", NULL,
	  false },
	{ NULL },
};
