/* `vsrv hosts`: the cluster's hosts (GET /api/v1/hosts; docs/cluster.md). */
#include "client/client.h"
#include "client/client_opt.h"

#include <stdio.h>
#include <string.h>

static int hosts_run(struct client *cl, struct opt_res *r)
{
	static const char *const cols[] = { "name", "alive", "api_url", "cpus", "memory_mib",
					    "free_memory_mib", "draining", "vms", "kvm", NULL };
	json_t *out = NULL, *hosts, *h;
	size_t i;
	int rc;

	(void)r;
	rc = client_call(cl, "GET", "/api/v1/hosts", NULL, &out);
	if (!rc && cl->json) {
		client_print_json(out);
	} else if (!rc) {
		hosts = json_object_get(out, "hosts");
		/* the VMs as a count in the table */
		json_array_foreach(hosts, i, h)
			json_object_set_new(h, "vms", json_integer((json_int_t)json_array_size(
						json_object_get(h, "vms"))));
		client_print_table(hosts, cols);
	}
	json_decref(out);
	return rc;
}

/* `vsrv hosts drain NAME [--copy-disks] [--no-wait]` and `vsrv hosts undrain NAME`
 * (docs/cluster.md "Drain"). */
static int drain_run(struct client *cl, struct opt_res *r)
{
	bool undrain = !strcmp(r->cmd->name, "undrain");
	char seg[256], path[600];
	json_t *out = NULL, *body = NULL;
	json_int_t task;
	int rc;

	snprintf(path, sizeof(path), "/api/v1/hosts/%s/drain",
		 client_seg(r->args[0], seg, sizeof(seg)));
	if (!undrain)
		body = json_pack("{s:s}", "disks", opt_get(r, "copy-disks") ? "copy" : "shared");
	rc = client_call(cl, undrain ? "DELETE" : "POST", path, body, &out);
	json_decref(body);
	if (rc)
		return rc;
	task = json_integer_value(json_object_get(out, "task"));
	if (cl->json)
		client_print_json(out);
	else if (undrain)
		printf("host %s: not draining\n", r->args[0]);
	else
		printf("host %s: draining, its VMs moving away (task %lld)\n", r->args[0],
		       (long long)task);
	json_decref(out);
	if (undrain || opt_get(r, "no-wait"))
		return 0;
	rc = client_task_wait(cl, task);
	if (!rc && !cl->json)
		printf("host %s: drained (no VM runs there; it stays marked draining)\n",
		       r->args[0]);
	return rc;
}

/* `vsrv hosts balance [--dry-run] [--copy-disks] [--no-wait]` (docs/cluster.md "Balance"):
 * the plan, then the task that carries it out. */
static int balance_run(struct client *cl, struct opt_res *r)
{
	static const char *const cols[] = { "vm", "from", "to", "memory_mib", NULL };
	bool dry = opt_get(r, "dry-run") != NULL;
	json_t *out = NULL, *body, *plan, *moves;
	json_int_t task;
	int rc;

	body = json_pack("{s:b,s:s}", "dry_run", dry, "disks",
			 opt_get(r, "copy-disks") ? "copy" : "shared");
	rc = client_call(cl, "POST", "/api/v1/cluster/balance", body, &out);
	json_decref(body);
	if (rc)
		return rc;
	plan = json_object_get(out, "plan");
	moves = json_object_get(plan, "moves");
	task = json_integer_value(json_object_get(out, "task"));
	if (cl->json) {
		client_print_json(out);
	} else {
		if (json_array_size(moves))
			client_print_table(moves, cols);
		printf("%zu move(s); spread of free memory %lld MiB, %lld MiB after%s\n",
		       json_array_size(moves),
		       (long long)json_integer_value(json_object_get(plan, "spread_mib")),
		       (long long)json_integer_value(json_object_get(plan, "spread_after_mib")),
		       dry ? " (dry run: nothing moved)" : "");
		if (!dry)
			printf("the moves run as task %lld\n", (long long)task);
	}
	json_decref(out);
	if (dry || opt_get(r, "no-wait"))
		return 0;
	rc = client_task_wait(cl, task);
	if (!rc && !cl->json)
		printf("balanced\n");
	return rc;
}

static const struct opt balance_opts[] = {
	{ "dry-run", 0, OPT_FLAG, NULL, "show the plan, move nothing", NULL, false },
	{ "copy-disks", 0, OPT_FLAG, NULL, "copy the disks' contents too (no shared storage)",
	  NULL, false },
	{ "no-wait", 0, OPT_FLAG, NULL, "return once the task is started", NULL, false },
	{ NULL },
};

static const struct opt drain_opts[] = {
	{ "copy-disks", 0, OPT_FLAG, NULL, "copy the disks' contents too (no shared storage)",
	  NULL, false },
	{ "no-wait", 0, OPT_FLAG, NULL, "return once the task is started", NULL, false },
	{ NULL },
};

static const struct opt_cmd hosts_cmds[] = {
	{ "", NULL, 0, 0, "Show the hosts of the server's cluster (just this one without "
	  "--cluster): alive or not, capacity, draining or not, how many VMs each runs and "
	  "whether each has KVM (no: its GET /api/v1/host says why); JSON "
	  "with --json.", "Also 'vsrv hosts drain NAME [--copy-disks] [--no-wait]' "
	  "(move every VM of host NAME to the others and mark it draining) and 'vsrv hosts "
	  "undrain NAME' (clear the mark) and 'vsrv hosts balance [--dry-run] [--copy-disks] "
	  "[--no-wait]' (even out the hosts' memory); see 'vsrv hosts drain --help'.", NULL,
	  hosts_run },
	{ "drain", "NAME", 1, 1, "Mark host NAME draining (placement and failover choose it no "
	  "more) and live-migrate every VM it runs to the other hosts, one at a time; waits for "
	  "the task unless --no-wait.", NULL, drain_opts, drain_run },
	{ "undrain", "NAME", 1, 1, "Clear host NAME's draining mark.", NULL, NULL, drain_run },
	{ "balance", NULL, 0, 0, "Even out the hosts' free memory: live-migrate running VMs from "
	  "the most loaded hosts to the least loaded one, one at a time, while a move narrows "
	  "the gap (never onto a draining host; the placement rule applies). Prints the plan; "
	  "--dry-run moves nothing; waits for the task unless --no-wait.", NULL, balance_opts,
	  balance_run },
	{ NULL },
};

const struct opt_group hosts_group = { "hosts", "show the hosts of the cluster", NULL, hosts_cmds };
