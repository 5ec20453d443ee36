/* `vsrv vm balloon NAME [--target MIB | --auto]`: a running VM's memory balloon (GET
 * /api/v1/vms/NAME/balloon), or the memory its guest should keep (PUT with target_mib: the
 * VM leaves dynamic memory's policy), or the target handed back to the policy (PUT
 * {"auto": true}). */
#include "client/client.h"
#include "client/client_opt.h"

#include <stdio.h>

const struct opt client_balloon_opts[] = {
	{ "target", 0, OPT_INT, "MIB", "ask the guest to keep MIB MiB of its memory (1 up to the "
	  "VM's memory; it inflates or deflates its balloon in its own time; dynamic memory "
	  "leaves the VM alone until --auto or a change of its memory settings)", NULL, false },
	{ "auto", 0, OPT_FLAG, NULL, "hand the target back to dynamic memory (the server sets it "
	  "between the VM's --memory-min and --memory)", NULL, false },
	{ NULL },
};

static long long num(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* The balloon for people: the memory figures, then what the guest says of its own. */
static void balloon_print(const json_t *b)
{
	static const char *const mem[] = { "total", "free", "available", "caches" };
	const json_t *st = json_object_get(b, "stats");

	printf("memory:      %lld MiB, target %lld MiB, guest keeps %lld MiB (balloon %lld MiB)\n",
	       num(b, "ram_mib"), num(b, "target_mib"), num(b, "actual_mib"), num(b, "balloon_mib"));
	if (json_is_string(json_object_get(b, "mode")))
		printf("dynamic:     %s\n", json_string_value(json_object_get(b, "mode")));
	printf("driver:      %s%s%s\n", json_is_true(json_object_get(b, "driver")) ? "yes" : "no",
	       json_is_true(json_object_get(b, "deflate_on_oom")) ? ", deflate on OOM" : "",
	       json_is_true(json_object_get(b, "free_page_reporting")) ? ", free page reporting" : "");
	for (size_t i = 0; i < sizeof(mem) / sizeof(mem[0]); i++)
		if (json_is_integer(json_object_get(st, mem[i])))
			printf("guest %-9s %lld MiB\n", mem[i], num(st, mem[i]) >> 20);
	printf("reported:    %lld MiB free memory handed back; %lld bad page numbers refused\n",
	       num(b, "reported_mib"), num(b, "bad_pfns"));
}

int client_vm_balloon(struct client *cl, struct opt_res *r)
{
	const struct opt_val *target = opt_get(r, "target");
	char seg[256], path[600];
	json_t *out = NULL, *body = NULL;
	int rc;

	if (target && target->num < 1)
		return opt_usage_error(r, "--target: a size in MiB from 1");
	if (target && opt_get(r, "auto"))
		return opt_usage_error(r, "--target and --auto exclude each other");
	if (target)
		body = json_pack("{s:I}", "target_mib", (json_int_t)target->num);
	else if (opt_get(r, "auto"))
		body = json_pack("{s:b}", "auto", 1);
	snprintf(path, sizeof(path), "/api/v1/vms/%s/balloon",
		 client_seg(r->args[0], seg, sizeof(seg)));
	rc = client_call(cl, body ? "PUT" : "GET", path, body, &out);
	if (!rc && out)
		cl->json ? client_print_json(out) : balloon_print(out);
	json_decref(body);
	json_decref(out);
	return rc;
}
