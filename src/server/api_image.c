/* GET /api/v1/images: the files in the server's images directory (DATA/images), which
 * VMs name as their kernel or initrd; the web console's create form offers them. */
#include "server/api.h"
#include "server/auth.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMAGES_MAX 1000

static int by_name(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
		      json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

/* Regular files only (symbolic links are not followed), with plain names (no leading
 * dot, no control characters): at most 1000, sorted by name. Needs server modify, as
 * creating a VM from them does. */
int api_image_list(struct req *r)
{
	json_t *items[IMAGES_MAX], *a;
	struct dirent *de;
	size_t n = 0;
	DIR *d;
	int dfd;

	if (auth_require(r, "server", 0, PERM_MODIFY))
		return r->status;
	dfd = open(r->srv->images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT) {
		r->out = json_pack("{s:[]}", "images");
		return 200;
	}
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return req_error(r, -EIO, "cannot read the images directory");
	}
	while (n < IMAGES_MAX && (de = readdir(d))) {
		struct stat st;
		bool plain = de->d_name[0] != '.';

		for (const char *p = de->d_name; plain && *p; p++)
			plain = (unsigned char)*p >= 0x20 && *p != 0x7f;
		if (!plain || fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		items[n] = json_pack("{s:s,s:I,s:I}", "name", de->d_name, "size", (json_int_t)st.st_size,
				     "modified", (json_int_t)st.st_mtime);
		if (items[n])
			n++;
	}
	closedir(d);
	qsort(items, n, sizeof(items[0]), by_name);
	a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, items[i]);
	r->out = json_pack("{s:o}", "images", a);
	return 200;
}
