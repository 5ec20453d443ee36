/* `vsrv image ...`: the server's image store (ISOs, disk images, kernels) through the API. */
#include "client/client_opt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void print_out(struct client *cl, json_t *out)
{
	if (out)
		cl->json ? client_print_json(out) : client_print_object(out);
}

static int image_list(struct client *cl, struct opt_res *r)
{
	static const char *const cols[] = { "name", "kind", "size", "owner", "public", "sha256",
					    "used_by", NULL };
	json_t *out = NULL;
	int rc;

	(void)r;
	rc = client_call(cl, "GET", "/api/v1/images", NULL, &out);
	if (!rc)
		cl->json ? client_print_json(out) : client_print_table(json_object_get(out, "images"), cols);
	json_decref(out);
	return rc;
}

/* show and delete */
static int image_call(struct client *cl, struct opt_res *r, const char *method)
{
	char seg[800], path[900];
	json_t *out = NULL;
	int rc;

	snprintf(path, sizeof(path), "/api/v1/images/%s", client_seg(r->args[0], seg, sizeof(seg)));
	rc = client_call(cl, method, path, NULL, &out);
	if (!rc)
		print_out(cl, out);
	json_decref(out);
	return rc;
}

static int image_show(struct client *cl, struct opt_res *r)
{
	return image_call(cl, r, "GET");
}

static int image_delete(struct client *cl, struct opt_res *r)
{
	return image_call(cl, r, "DELETE");
}

/* edit NAME --public yes|no (administrators) */
static int image_edit(struct client *cl, struct opt_res *r)
{
	const struct opt_val *pv = opt_get(r, "public");
	char seg[800], path[900];
	json_t *out = NULL, *body;
	int rc;

	if (!pv)
		return opt_usage_error(r, "nothing to change: give --public yes|no");
	body = json_pack("{s:b}", "public", pv->on);
	snprintf(path, sizeof(path), "/api/v1/images/%s", client_seg(r->args[0], seg, sizeof(seg)));
	rc = body ? client_call(cl, "PATCH", path, body, &out) : 1;
	if (!rc)
		print_out(cl, out);
	json_decref(body);
	json_decref(out);
	return rc;
}

static int image_upload(struct client *cl, struct opt_res *r)
{
	const struct opt_val *nv = opt_get(r, "name"), *sv = opt_get(r, "sha256");
	const char *file = r->args[0], *name, *slash;
	char seg[800], path[1000];
	json_t *out = NULL;
	long long size = -1;
	struct stat st;
	FILE *f;
	int rc;

	slash = strrchr(file, '/');
	name = nv ? nv->str : slash ? slash + 1 : file;
	if (!*name)
		return opt_usage_error(r, "'%s' names no file: give --name", file);
	if (sv && strlen(sv->str) != 64)
		return opt_usage_error(r, "--sha256: '%s' is not 64 hexadecimal digits", sv->str);
	f = !strcmp(file, "-") ? stdin : fopen(file, "rb");
	if (!f) {
		fprintf(stderr, "vsrv: cannot open %s: %s\n", file, strerror(errno));
		return 1;
	}
	if (f == stdin && !nv) {
		return opt_usage_error(r, "uploading standard input (-) needs --name");
	}
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
		size = st.st_size;
	snprintf(path, sizeof(path), "/api/v1/images/%s%s%s", client_seg(name, seg, sizeof(seg)),
		 sv ? "?sha256=" : "", sv ? sv->str : "");
	rc = client_upload(cl, path, f, size, &out);
	if (f != stdin)
		fclose(f);
	if (!rc)
		print_out(cl, out);
	json_decref(out);
	return rc;
}

static const struct opt upload_opts[] = {
	{ "name", 'n', OPT_STR, "NAME", "the image's name in the store (default: the file's name)", NULL, false },
	{ "sha256", 0, OPT_STR, "HEX", "the SHA-256 the file must have: the server refuses (and keeps "
	  "nothing of) an upload whose checksum differs", NULL, false },
	{ NULL },
};

static const struct opt edit_opts[] = {
	{ "public", 0, OPT_BOOL, "yes|no", "yes: every user may list and use the image; no: only its "
	  "owner and the administrators", NULL, false },
	{ NULL },
};

static const struct opt_cmd image_cmds[] = {
	{ "list", NULL, 0, 0, "List the server's images: kind, size, owner, SHA-256, the VMs that use them.",
	  "kind is iso, vhd, qcow2, vmdk, vhdx, kernel or raw, from the file's content. The SHA-256 of "
	  "a file copied into the images directory by hand is computed in the background: '-' until "
	  "then. An image a user uploads is private to that user (and the administrators); one an "
	  "administrator uploads, or a file copied in by hand, is public. Only the images you may "
	  "see are listed.", NULL, image_list },
	{ "edit", "NAME", 1, 1, "Make an image public or private (administrators).", NULL, edit_opts,
	  image_edit },
	{ "show", "NAME", 1, 1, "Show one image.", NULL, NULL, image_show },
	{ "upload", "FILE", 1, 1, "Upload FILE (- for standard input, with --name) into the image store.",
	  "The file is streamed (never read whole into memory) and appears on the server only "
	  "whole; the server computes its SHA-256 as it arrives and prints it. An image is never "
	  "replaced: delete it first. The server's size limit is vsrv serve --image-max-size. It is "
	  "yours: private, unless you are an administrator (then public).",
	  upload_opts, image_upload },
	{ "delete", "NAME", 1, 1, "Delete an image no VM uses as its kernel or initrd.", NULL, NULL,
	  image_delete },
	{ NULL },
};

const struct opt_group image_group = { "image", "Manage the server's image store (ISOs, disk images, "
	"kernels).", "A disk made from an image: vsrv disk create NAME --from-image IMAGE.", image_cmds };
