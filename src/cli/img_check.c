/* vsrv img check: qemu-img's exit codes (0 clean, 1 could not check, 2 corruptions,
 * 3 leaks only, 63 format without checks) with each problem reported at its file offset. */
#include "cli/img.h"
#include "vhd/vhd.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>

struct img_check_ctx {
	bool json;
	json_t *problems;   /* json: array of problems */
};

static void img_check_problem(void *opaque, const struct vhd_problem *p)
{
	struct img_check_ctx *ctx = opaque;
	bool corrupt = p->kind == VHD_PROBLEM_CORRUPT;

	if (ctx->json) {
		json_t *o = json_object();

		json_object_set_new(o, "kind", json_string(corrupt ? "corruption" : "leak"));
		json_object_set_new(o, "offset", json_integer((json_int_t)p->offset));
		json_object_set_new(o, "message", json_string(p->message));
		json_array_append_new(ctx->problems, o);
	} else {
		printf("%s at offset %" PRIu64 " (%#" PRIx64 "): %s\n",
		       corrupt ? "ERROR" : "Leaked space", p->offset, p->offset, p->message);
	}
}

static int img_check_exit(const struct vhd_check_result *res)
{
	if (res->corruptions)
		return 2;
	if (res->leaks > res->leaks_fixed)
		return 3;
	return 0;
}

int img_cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'O' },
		{ "repair", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct img_check_ctx ctx = { 0 };
	struct vhd_check_result res = { 0 };
	const char *fmt = NULL, *path;
	unsigned flags = 0;
	bool quiet = false, share = false;
	int c, r, json = 0, rc;

	while ((c = getopt_long(argc, argv, "+f:r:qUh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			fmt = img_format_name(optarg);
			if (!fmt) {
				img_err("check: unknown format '%s'", optarg);
				return 1;
			}
			break;
		case 'O':
			json = img_parse_output(optarg);
			if (json < 0)
				return 1;
			break;
		case 'r':
			if (!strcmp(optarg, "leaks") || !strcmp(optarg, "all")) {
				flags |= VHD_CHECK_REPAIR_LEAKS;
			} else {
				img_err("check: unknown repair mode '%s' (leaks or all)", optarg);
				return 1;
			}
			break;
		case 'q': quiet = true; break;
		case 'U': share = true; break;
		case 'h':
			printf("usage: vsrv img check [-f FMT] [--output=human|json] [-r leaks|all] FILE\n");
			return 0;
		default: return 1;
		}
	}
	if (argc - optind != 1) {
		img_err("check: expecting one file name");
		return 1;
	}
	path = argv[optind];
	if (!fmt) {
		fmt = img_probe(path, &r);
		if (!fmt) {
			if (r != -EMEDIUMTYPE) /* a foreign format was named already */
				img_err("check: could not open '%s': %s", path, strerror(-r));
			return 1;
		}
	}
	if (img_format_foreign(fmt)) {
		/* read through a library that has no checker: say so, with qemu-img's code */
		img_err("check: '%s': vsrv reads %s images but does not check them "
			"(qemu-img check does)", path, fmt);
		return 63;
	}
	if (strcmp(fmt, "vhd")) {
		/* As qemu-img: raw images have nothing to check. */
		img_err("check: '%s': this image format (%s) does not support checks", path, fmt);
		return 63;
	}
	ctx.json = json;
	if (json)
		ctx.problems = json_array();
	if (share && !(flags & VHD_CHECK_REPAIR_LEAKS))
		flags |= VHD_CHECK_NOLOCK;
	r = vhd_check(path, flags, img_check_problem, &ctx, &res);
	if (r < 0) {
		img_err("check: could not check '%s': %s", path, *vhd_errmsg() ? vhd_errmsg() : strerror(-r));
		json_decref(ctx.problems);
		return 1;
	}
	rc = img_check_exit(&res);
	if (json) {
		json_t *o = json_object();

		json_object_set_new(o, "filename", json_string(path));
		json_object_set_new(o, "format", json_string("vhd"));
		json_object_set_new(o, "subformat", json_string(vhd_type_name(res.type)));
		json_object_set_new(o, "check-errors", json_integer(0));
		if (res.corruptions)
			json_object_set_new(o, "corruptions", json_integer(res.corruptions));
		if (res.leaks)
			json_object_set_new(o, "leaks", json_integer(res.leaks));
		if (res.leaks_fixed)
			json_object_set_new(o, "leaks-fixed", json_integer(res.leaks_fixed));
		json_object_set_new(o, "leaked-bytes", json_integer((json_int_t)res.leaked_bytes));
		if (res.type == VHD_TYPE_DYNAMIC || res.type == VHD_TYPE_DIFF) {
			json_object_set_new(o, "total-clusters", json_integer(res.total_blocks));
			json_object_set_new(o, "allocated-clusters", json_integer(res.allocated_blocks));
		}
		json_object_set_new(o, "problems", ctx.problems);
		json_dumpf(o, stdout, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
		printf("\n");
		json_decref(o);
	} else if (!quiet) {
		if (res.leaks_fixed)
			printf("The following inconsistencies were found and repaired:\n\n"
			       "    %u leaked clusters\n    0 corruptions\n\n", res.leaks_fixed);
		if (!res.corruptions && res.leaks <= res.leaks_fixed) {
			printf("No errors were found on the image.\n");
		} else {
			if (res.corruptions)
				printf("\n%u errors were found on the image.\n"
				       "Data may be corrupted, or further writes to the image may corrupt it.\n",
				       res.corruptions);
			if (res.leaks > res.leaks_fixed)
				printf("\n%u leaked clusters were found on the image (%" PRIu64 " bytes).\n"
				       "This means waste of disk space, but no harm to data.\n",
				       res.leaks - res.leaks_fixed, res.leaked_bytes);
		}
		if (res.total_blocks)
			printf("%u/%u = %.2f%% allocated blocks\n", res.allocated_blocks, res.total_blocks,
			       100.0 * res.allocated_blocks / res.total_blocks);
	}
	if (fflush(stdout))
		return 1;
	return rc;
}
