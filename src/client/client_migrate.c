/* `vsrv vm migrate NAME --to HOST [--copy-disks]`: a live migration between the hosts of a
 * cluster (docs/api.yaml: /api/v1/vms/{name}/migrate; docs/cluster.md "Live migration"). */
#include "client/client.h"
#include "client/client_opt.h"

#include <stdio.h>
#include <string.h>

int client_vm_migrate(struct client *cl, struct opt_res *r)
{
	const struct opt_val *to = opt_get(r, "to"), *copy = opt_get(r, "copy-disks"),
			     *down = opt_get(r, "max-downtime"), *nowait = opt_get(r, "no-wait");
	char seg[256], path[600];
	json_t *out = NULL, *body;
	json_int_t task;
	int rc;

	if (!to)
		return opt_usage_error(r, "--to HOST is required (the host of the cluster to move to)");
	body = json_pack("{s:s,s:s}", "to", to->str, "disks", copy ? "copy" : "shared");
	if (down)
		json_object_set_new(body, "max_downtime_ms", json_integer(down->num));
	snprintf(path, sizeof(path), "/api/v1/vms/%s/migrate",
		 client_seg(r->args[0], seg, sizeof(seg)));
	rc = client_call(cl, "POST", path, body, &out);
	json_decref(body);
	if (rc)
		return rc;
	task = json_integer_value(json_object_get(out, "task"));
	if (cl->json)
		client_print_json(out);
	else
		printf("%s: migrating to host %s (task %lld)\n", r->args[0], to->str,
		       (long long)task);
	json_decref(out);
	if (nowait)
		return 0;
	rc = client_task_wait(cl, task);
	if (!rc && !cl->json)
		printf("%s: runs on host %s\n", r->args[0], to->str);
	return rc;
}

const struct opt client_migrate_opts[] = {
	{ "to", 0, OPT_STR, "HOST", "the host of the cluster to move the VM to (required)", NULL,
	  false },
	{ "copy-disks", 0, OPT_FLAG, NULL, "copy the disks' contents too (no shared storage: the "
	  "destination has images of the same virtual size at the same paths)", NULL, false },
	{ "max-downtime", 0, OPT_INT, "MS", "the longest pause of the guest to aim for (the VMM's "
	  "default 50)", NULL, false },
	{ "no-wait", 0, OPT_FLAG, NULL, "return once the task is started", NULL, false },
	{ NULL },
};
