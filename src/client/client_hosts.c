/* `vsrv hosts`: the cluster's hosts (GET /api/v1/hosts; docs/cluster.md). */
#include "client/client.h"
#include "client/client_opt.h"

static int hosts_run(struct client *cl, struct opt_res *r)
{
	static const char *const cols[] = { "name", "alive", "api_url", "cpus", "memory_mib",
					    "free_memory_mib", "vms", NULL };
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

static const struct opt_cmd hosts_cmds[] = {
	{ "", NULL, 0, 0, "Show the hosts of the server's cluster (just this one without "
	  "--cluster): alive or not, capacity, how many VMs each runs; JSON with --json.", NULL,
	  NULL, hosts_run },
	{ NULL },
};

const struct opt_group hosts_group = { "hosts", "show the hosts of the cluster", NULL, hosts_cmds };
