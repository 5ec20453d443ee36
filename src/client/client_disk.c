/* `vsrv disk ...` and `vsrv net ...`: storage and networks through the API. */
#include "client/client_opt.h"
#include "util/size.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The collection of r's group ("disks", "networks") and /api/v1/COLL[/NAME]. */
static const char *coll(const struct opt_res *r)
{
	return !strcmp(r->group->name, "disk") ? "disks" : "networks";
}

/* VHD timestamps count from 2000-01-01 00:00 UTC (src/cli/img_info.c) */
#define VHD_EPOCH 946684800

static void print_out(struct client *cl, json_t *out)
{
	json_t *ts = json_object_get(json_object_get(out, "image"), "timestamp");
	char b[32];

	if (!out)
		return;
	if (cl->json) {
		client_print_json(out);
		return;
	}
	/* the image's timestamp (disk show) in local time, as created is */
	if (json_is_integer(ts)) {
		time_t t = (time_t)json_integer_value(ts) + VHD_EPOCH;
		struct tm tm;

		if (localtime_r(&t, &tm) && strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S", &tm))
			json_object_set_new(json_object_get(out, "image"), "timestamp", json_string(b));
	}
	client_print_object(out);
}

static int obj_list(struct client *cl, struct opt_res *r)
{
	static const char *const dcols[] = { "name", "format", "size", "allocated", "used_by", NULL };
	static const char *const ncols[] = { "name", "kind", "bridge", "subnet", NULL };
	char path[128];
	json_t *out = NULL;
	int rc;

	snprintf(path, sizeof(path), "/api/v1/%s", coll(r));
	rc = client_call(cl, "GET", path, NULL, &out);
	if (!rc)
		cl->json ? client_print_json(out)
			 : client_print_table(json_object_get(out, coll(r)), *coll(r) == 'd' ? dcols : ncols);
	json_decref(out);
	return rc;
}

/* show and delete; with a tail (/convert), a POST of body */
static int obj_call(struct client *cl, struct opt_res *r, const char *method, const char *tail, json_t *body)
{
	char seg[256], path[600];
	json_t *out = NULL;
	int rc;

	snprintf(path, sizeof(path), "/api/v1/%s/%s%s", coll(r), client_seg(r->args[0], seg, sizeof(seg)),
		 tail ? tail : "");
	rc = client_call(cl, method, path, body, &out);
	if (!rc)
		print_out(cl, out);
	json_decref(out);
	json_decref(body);
	return rc;
}

static int obj_show(struct client *cl, struct opt_res *r)
{
	return obj_call(cl, r, "GET", NULL, NULL);
}

static int obj_delete(struct client *cl, struct opt_res *r)
{
	return obj_call(cl, r, "DELETE", NULL, NULL);
}

/* The size argument (args[1]) of create and resize; 0 or a usage error. */
static int size_arg(struct opt_res *r, json_int_t *out)
{
	uint64_t b;

	if (size_parse(r->args[1], &b) || b > INT64_MAX)
		return opt_usage_error(r, "'%s' is not a size (a number with an optional K, M, G or T)",
				       r->args[1]);
	*out = (json_int_t)b;
	return 0;
}

static void set_opt(json_t *b, struct opt_res *r, const char *opt)
{
	const struct opt_val *v = opt_get(r, opt);

	if (v)
		json_object_set_new(b, opt, json_string(v->str));
}

static int disk_create(struct client *cl, struct opt_res *r)
{
	json_t *out = NULL, *body;
	json_int_t size = 0;
	int rc;

	if (opt_get(r, "from-image")) {
		/* a VHD made from an image of the store, as a server task */
		if (r->nargs > 1 || opt_get(r, "format") || opt_get(r, "subformat"))
			return opt_usage_error(r, "--from-image takes no SIZE, --format or --subformat "
					       "(the disk is a dynamic VHD of the image's size)");
		body = json_pack("{s:s,s:s}", "name", r->args[0], "from_image",
				 opt_get(r, "from-image")->str);
		rc = client_call(cl, "POST", "/api/v1/disks", body, &out);
		if (!rc)
			print_out(cl, out);
		json_decref(out);
		json_decref(body);
		return rc;
	}
	if (r->nargs < 2)
		return opt_usage_error(r, "missing SIZE (or --from-image IMAGE)");
	if (size_arg(r, &size))
		return 2;
	body = json_pack("{s:s,s:I}", "name", r->args[0], "size", size);
	set_opt(body, r, "format");
	set_opt(body, r, "subformat");
	if (opt_get(r, "subformat") && !(opt_get(r, "format") && !strcmp(opt_get(r, "format")->str, "vhd"))) {
		json_decref(body);
		return opt_usage_error(r, "--subformat is for --format vhd");
	}
	rc = client_call(cl, "POST", "/api/v1/disks", body, &out);
	if (!rc)
		print_out(cl, out);
	json_decref(out);
	json_decref(body);
	return rc;
}

static int disk_resize(struct client *cl, struct opt_res *r)
{
	json_int_t size = 0;

	if (size_arg(r, &size))
		return 2;
	return obj_call(cl, r, "PATCH", NULL, json_pack("{s:I}", "size", size));
}

static int disk_task(struct client *cl, struct opt_res *r)
{
	json_t *body = json_pack("{s:s}", "name", r->args[1]);
	char tail[32];

	set_opt(body, r, "format");
	set_opt(body, r, "subformat");
	snprintf(tail, sizeof(tail), "/%s", r->cmd->name);
	return obj_call(cl, r, "POST", tail, body);
}

static const char *const formats[] = { "vhd", "raw", NULL };
static const char *const subformats[] = { "dynamic", "fixed", NULL };

static const struct opt create_opts[] = {
	{ "format", 'f', OPT_CHOICE, "FORMAT", "raw (a sparse file, the default) or vhd", formats, false },
	{ "subformat", 0, OPT_CHOICE, "SUB", "for vhd: dynamic (the default, grows as written) or fixed",
	  subformats, false },
	{ NULL },
};

static const struct opt disk_create_opts[] = {
	{ "format", 'f', OPT_CHOICE, "FORMAT", "raw (a sparse file, the default) or vhd", formats, false },
	{ "subformat", 0, OPT_CHOICE, "SUB", "for vhd: dynamic (the default, grows as written) or fixed",
	  subformats, false },
	{ "from-image", 0, OPT_STR, "IMAGE", "make the disk from an image of the server's store (vsrv "
	  "image list): a dynamic VHD of the image's size, converted as a server task; no SIZE", NULL,
	  false },
	{ NULL },
};

static const struct opt copy_opts[] = {
	{ "subformat", 0, OPT_CHOICE, "SUB", "for a vhd: dynamic or fixed", subformats, false },
	{ NULL },
};

static const struct opt_cmd disk_cmds[] = {
	{ "list", NULL, 0, 0, "List the disks you may see.", NULL, NULL, obj_list },
	{ "show", "NAME", 1, 1, "Show a disk, with the image's own view of itself.", NULL, NULL, obj_show },
	{ "create", "NAME [SIZE]", 1, 2, "Create a disk of SIZE bytes (suffix K, M, G or T), or one "
	  "made from an image (--from-image).",
	  "A VHD's size is rounded up to a CHS geometry, as qemu-img and Hyper-V do. With --from-image "
	  "the server answers with the task that converts the image (vsrv events shows its progress).",
	  disk_create_opts, disk_create },
	{ "resize", "NAME SIZE", 2, 2, "Grow a disk no running VM uses.", NULL, NULL, disk_resize },
	{ "convert", "NAME NEW", 2, 2, "Convert a disk into a new disk NEW, as a server task.", NULL,
	  create_opts, disk_task },
	{ "copy", "NAME NEW", 2, 2, "Copy a disk into a new disk NEW of the same format, as a server task.",
	  NULL, copy_opts, disk_task },
	{ "delete", "NAME", 1, 1, "Delete a disk no VM uses.", NULL, NULL, obj_delete },
	{ NULL },
};

const struct opt_group disk_group = { "disk", "Manage disks through the server.",
	"Undo disks: see vsrv vm --help (--undo-disks, and --undo of off and shutdown).", disk_cmds };

static int net_create(struct client *cl, struct opt_res *r)
{
	static const char *const opts[][2] = { { "bridge", "bridge" }, { "subnet", "subnet" },
					       { "dhcp-start", "dhcp_start" }, { "dhcp-end", "dhcp_end" } };
	const char *const kinds[] = { "nat", "bridged", "internal", NULL };
	json_t *out = NULL, *body;
	const struct opt_val *v;
	size_t i;
	int rc;

	for (i = 0; kinds[i] && strcmp(kinds[i], r->args[1]); i++)
		;
	if (!kinds[i])
		return opt_usage_error(r, "the kind is nat, bridged or internal, not '%s'", r->args[1]);
	body = json_pack("{s:s,s:s}", "name", r->args[0], "kind", r->args[1]);
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if ((v = opt_get(r, opts[i][0])))
			json_object_set_new(body, opts[i][1], json_string(v->str));
	rc = client_call(cl, "POST", "/api/v1/networks", body, &out);
	if (!rc)
		print_out(cl, out);
	json_decref(out);
	json_decref(body);
	return rc;
}

static const struct opt net_opts[] = {
	{ "bridge", 0, OPT_STR, "IF", "the host bridge (bridged)", NULL, false },
	{ "subnet", 0, OPT_STR, "CIDR", "the network's subnet (nat, internal)", NULL, false },
	{ "dhcp-start", 0, OPT_STR, "IP", "the first address DHCP hands out", NULL, false },
	{ "dhcp-end", 0, OPT_STR, "IP", "the last address DHCP hands out", NULL, false },
	{ NULL },
};

static const struct opt_cmd net_cmds[] = {
	{ "list", NULL, 0, 0, "List the virtual networks you may see.", NULL, NULL, obj_list },
	{ "show", "NAME", 1, 1, "Show a virtual network.", NULL, NULL, obj_show },
	{ "create", "NAME KIND", 2, 2, "Create a virtual network; KIND is nat, bridged or internal.", NULL,
	  net_opts, net_create },
	{ "delete", "NAME", 1, 1, "Delete a virtual network.", NULL, NULL, obj_delete },
	{ NULL },
};

const struct opt_group net_group = { "net", "Manage virtual networks through the server.", NULL, net_cmds };
