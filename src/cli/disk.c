/* `vsrv disk ...` and `vsrv net ...`: storage and networks through the API. */
#include "cli/client.h"
#include "util/size.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Generic list/show/delete of one collection. Returns -1 when sub is not one of them. */
static int common(struct client *cl, const char *coll, const char *sub, int argc, char **argv,
		  const char *const *cols)
{
	char seg[256], path[512];
	json_t *out = NULL;
	int rc;

	if (!strcmp(sub, "list")) {
		snprintf(path, sizeof(path), "/api/v1/%s", coll);
		rc = client_call(cl, "GET", path, NULL, &out);
		if (!rc)
			cl->json ? client_print_json(out) : client_print_table(json_object_get(out, coll), cols);
		json_decref(out);
		return rc;
	}
	if (strcmp(sub, "show") && strcmp(sub, "delete"))
		return -1;
	if (argc < 3)
		return 2;
	snprintf(path, sizeof(path), "/api/v1/%s/%s", coll, client_seg(argv[2], seg, sizeof(seg)));
	rc = client_call(cl, !strcmp(sub, "show") ? "GET" : "DELETE", path, NULL, &out);
	if (!rc && out)
		cl->json ? client_print_json(out) : client_print_object(out);
	json_decref(out);
	return rc;
}

int cmd_disk(int argc, char **argv)
{
	static const char *const cols[] = { "name", "format", "size", "allocated", "used_by", NULL };
	struct client cl;
	json_t *out = NULL, *body = NULL;
	char seg[256], path[512];
	uint64_t size;
	int rc = client_init(&argc, argv, &cl);

	if (rc)
		return rc;
	if (argc < 2)
		goto usage;
	rc = common(&cl, "disks", argv[1], argc, argv, cols);
	if (rc == 2)
		goto usage;
	if (rc >= 0)
		goto out;
	if (argc != 4 || size_parse(argv[3], &size))
		goto usage;
	if (!strcmp(argv[1], "create")) {
		body = json_pack("{s:s,s:I}", "name", argv[2], "size", (json_int_t)size);
		rc = client_call(&cl, "POST", "/api/v1/disks", body, &out);
	} else if (!strcmp(argv[1], "resize")) {
		body = json_pack("{s:I}", "size", (json_int_t)size);
		snprintf(path, sizeof(path), "/api/v1/disks/%s", client_seg(argv[2], seg, sizeof(seg)));
		rc = client_call(&cl, "PATCH", path, body, &out);
	} else {
		goto usage;
	}
	if (!rc && out)
		cl.json ? client_print_json(out) : client_print_object(out);
	goto out;
usage:
	fprintf(stderr, "usage: vsrv disk list | show NAME | create NAME SIZE | resize NAME SIZE | delete NAME\n");
	rc = 2;
out:
	json_decref(out);
	json_decref(body);
	client_close(&cl);
	return rc;
}

int cmd_net(int argc, char **argv)
{
	static const char *const cols[] = { "name", "kind", "bridge", "subnet", NULL };
	struct client cl;
	json_t *out = NULL, *body = NULL;
	int rc = client_init(&argc, argv, &cl), i;

	if (rc)
		return rc;
	if (argc < 2)
		goto usage;
	rc = common(&cl, "networks", argv[1], argc, argv, cols);
	if (rc == 2)
		goto usage;
	if (rc >= 0)
		goto out;
	if (strcmp(argv[1], "create") || argc < 4 || argc % 2)
		goto usage;
	/* vsrv net create NAME KIND [--bridge IF] [--subnet CIDR] [--dhcp-start A --dhcp-end B] */
	body = json_pack("{s:s,s:s}", "name", argv[2], "kind", argv[3]);
	for (i = 4; i + 1 < argc; i += 2) {
		const char *k = !strcmp(argv[i], "--bridge") ? "bridge" : !strcmp(argv[i], "--subnet") ? "subnet" :
				!strcmp(argv[i], "--dhcp-start") ? "dhcp_start" :
				!strcmp(argv[i], "--dhcp-end") ? "dhcp_end" : NULL;
		if (!k)
			goto usage;
		json_object_set_new(body, k, json_string(argv[i + 1]));
	}
	rc = client_call(&cl, "POST", "/api/v1/networks", body, &out);
	if (!rc && out)
		cl.json ? client_print_json(out) : client_print_object(out);
	goto out;
usage:
	fprintf(stderr, "usage: vsrv net list | show NAME | delete NAME\n"
		"       vsrv net create NAME nat|bridged|internal [--bridge IF] [--subnet CIDR]\n"
		"                        [--dhcp-start IP --dhcp-end IP]\n");
	rc = 2;
out:
	json_decref(out);
	json_decref(body);
	client_close(&cl);
	return rc;
}
