/* A VM's kernel and initrd as requests name them: a name in the image store or, for an
 * administrator, a host path (vmrow.h). */
#include "server/api.h"
#include "arch/x86/boot_probe.h"
#include "server/imgacl.h"
#include "server/imgstore.h"
#include "server/vmrow.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int vm_resolve_path(struct req *r, const char *field, const char *path, char *out, size_t n,
		    char *err, size_t errlen)
{
	struct imgstore_info img;
	struct stat st;

	if (path[0] == '/') {
		if (!r->who.admin) {
			snprintf(err, errlen, "%s: absolute paths are for administrators; name a "
				 "file in the server's images directory", field);
			return -EACCES;
		}
		snprintf(out, n, "%s", path);
	} else if ((size_t)snprintf(out, n, "%s/%s", r->srv->images_dir, path) >= n) {
		snprintf(err, errlen, "%s: path too long", field);
		return -EINVAL;
	}
	/* Not a file; for a non-administrator, not an image of the store (a plain name of a
	 * regular file: no hidden one, its uploads in flight or its cache, no subdirectory, no
	 * symbolic link, which may lead anywhere), or another user's private image (imgacl.h):
	 * the same answer. */
	if (stat(out, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (!r->who.admin && (imgstore_get(r->srv->images, path, &img) ||
			       imgacl_visible(r->c, &r->who, path, imgacl_host(r->srv)) != 1))) {
		snprintf(err, errlen, "%s: %s is not a readable regular file", field, path);
		return -EINVAL;
	}
	return 0;
}

int vm_check_kernel(const char *path, const char *given, char *err, size_t errlen)
{
	char why[160];
	int kind = x86_boot_probe_file(path, why, sizeof(why));

	if (kind > 0)
		return 0;
	snprintf(err, errlen, "kernel: %s is not a kernel vsrv can boot: %s", given, why);
	return -EINVAL;
}

json_t *vm_event_body(const struct server *srv, json_t *b)
{
	static const char *const keys[] = { "kernel", "initrd" };
	size_t n = strlen(srv->images_dir);
	json_t *e = NULL;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = json_string_value(json_object_get(b, keys[i]));

		if (!v || v[0] != '/')
			continue;
		if (!e && !(e = json_copy(b)))
			return NULL;
		json_object_set_new(e, keys[i], !strncmp(v, srv->images_dir, n) && v[n] == '/' &&
				    v[n + 1] && !strchr(v + n + 1, '/') ? json_string(v + n + 1) :
				    json_null());
	}
	return e ? e : json_incref(b);
}

