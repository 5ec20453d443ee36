/* libvhd: creating images (fixed, dynamic, differencing with parent locators). */
#include "vhd/vhd_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Relative path from directory `from` to file `to` (both absolute, canonical). */
static int relpath(const char *from, const char *to, char *out, size_t len)
{
	size_t common = 0, i = 0;
	size_t o = 0;

	/* longest common prefix ending at a '/' boundary */
	while (from[i] && to[i] && from[i] == to[i]) {
		i++;
		if (to[i] == '/' && (from[i] == '/' || from[i] == 0))
			common = i;
	}
	if (from[i] == 0 && to[i] == '/')
		common = i;
	if (!strcmp(from, "/"))
		common = 0;
	/* one ".." per component of from after the common prefix */
	for (const char *p = from + common; *p; p++) {
		if (*p == '/' && p[1]) {
			if (o + 3 >= len)
				return -ENAMETOOLONG;
			memcpy(out + o, "../", 3);
			o += 3;
		}
	}
	const char *rest = to + common;
	while (*rest == '/')
		rest++;
	if (o == 0) {
		if (o + 2 >= len)
			return -ENAMETOOLONG;
		memcpy(out, "./", 2);
		o = 2;
	}
	if (o + strlen(rest) + 1 > len)
		return -ENAMETOOLONG;
	strcpy(out + o, rest);
	return 0;
}

static int child_dir(const char *path, char *out)
{
	char tmp[PATH_MAX];
	const char *s = strrchr(path, '/');

	if (!s)
		snprintf(tmp, sizeof(tmp), ".");
	else if (s == path)
		snprintf(tmp, sizeof(tmp), "/");
	else
		snprintf(tmp, sizeof(tmp), "%.*s", (int)(s - path), path);
	return realpath(tmp, out) ? 0 : -errno;
}

struct loc_data {
	uint32_t code;
	uint8_t buf[2 * PATH_MAX];
	long len;
};

/* A differencing image: open its parent (*parent, the caller closes it) and take its size,
 * which o->size may only repeat. Returns 0 or -errno with the message set. */
static int diff_open_parent(const char *path, const struct vhd_create_opts *o, struct vhd **parent,
			    uint64_t *size)
{
	struct stat st;
	int ret;

	if (!o->parent || !o->parent[0]) {
		vhd_seterr("%s: a differencing image needs a parent", path);
		return -EINVAL;
	}
	ret = vhd_open(o->parent, VHD_RDONLY | (o->parent_nolock ? VHD_NOLOCK : 0), parent);
	if (ret)
		return ret; /* message set by vhd_open */
	*size = (*parent)->size;
	if (stat(path, &st) == 0 && st.st_dev == (*parent)->dev && st.st_ino == (*parent)->ino) {
		vhd_seterr("%s: the image would overwrite its own parent", path);
		return -EINVAL;
	}
	if (o->size && o->size != *size && vhd_round_size(o->size, o->force_size) != *size) {
		vhd_seterr("%s: size %llu differs from the parent's %llu", path,
			   (unsigned long long)o->size, (unsigned long long)*size);
		return -EINVAL;
	}
	return 0;
}

/* A fixed or dynamic image: its size, o->size rounded up to a CHS geometry (unless
 * force_size). Returns 0 or -errno with the message set. */
static int plain_size(const char *path, const struct vhd_create_opts *o, uint64_t *size)
{
	if (o->size == 0) {
		vhd_seterr("%s: image size must not be zero", path);
		return -EINVAL;
	}
	if (o->size > VHD_MAX_SIZE) {
		vhd_seterr("%s: size %llu exceeds the VHD maximum of 2040 GiB", path,
			   (unsigned long long)o->size);
		return -EFBIG;
	}
	*size = vhd_round_size(o->size, o->force_size);
	if (*size > VHD_MAX_SIZE)
		*size = o->size / 512 * 512; /* rounding past the limit: keep as asked */
	return 0;
}

/* The footer of a new image of the given size (a differencing one copies its parent's size
 * and geometry), built into fb. */
static void footer_init(struct vhd_footer *f, const struct vhd_create_opts *o,
			const struct vhd *parent, uint64_t size, uint8_t fb[512])
{
	memset(f, 0, sizeof(*f));
	f->features = 2;
	f->version = 0x00010000;
	f->data_offset = o->type == VHD_TYPE_FIXED ? ~0ULL : 512;
	f->timestamp = o->timestamp ? o->timestamp : vhd_now();
	if (o->creator[0] || o->creator[1] || o->creator[2] || o->creator[3])
		memcpy(f->creator_app, o->creator, 4);
	else if (parent)
		memcpy(f->creator_app, parent->f.creator_app, 4); /* same size rule as the parent */
	else
		memcpy(f->creator_app, o->force_size ? "win " : "vsrv", 4);
	f->creator_version = 0x00010000;
	memcpy(f->creator_os, "Wi2k", 4);
	if (parent) {
		f->current_size = parent->f.current_size;
		f->original_size = parent->f.current_size;
		f->cyls = parent->f.cyls;
		f->heads = parent->f.heads;
		f->spt = parent->f.spt;
	} else {
		f->current_size = f->original_size = size;
		vhd_geometry(size / 512, &f->cyls, &f->heads, &f->spt);
	}
	f->type = o->type;
	if (o->uuid)
		memcpy(f->uuid, o->uuid, 16);
	else
		vhd_uuid_random(f->uuid);
	vhd_footer_build(f, fb);
}

/* A fixed image: the data (sparse) and the footer after it. Returns 0 or -errno. */
static int create_fixed(int fd, const uint8_t fb[512], uint64_t size)
{
	if (ftruncate(fd, (off_t)size))
		return -errno;
	return vhd_pwrite_full(fd, fb, 512, size);
}

/* A differencing image's parent fields in h: the parent's UUID, time stamp and name, and
 * its locators (relative W2ru when there is one, absolute W2ku) placed from *pos on, which
 * moves past them. The locators' data goes into *loc (calloc'd, the caller frees it) and
 * their count into *nloc. Returns 0 or -errno with the message set. */
static int diff_locators(const char *path, const char *parent_path, const struct vhd *parent,
			 struct vhd_dynhdr *h, uint64_t *pos, struct loc_data **loc, int *nloc)
{
	char pabs[PATH_MAX], cdir[PATH_MAX], rel[PATH_MAX];
	struct loc_data *l;
	int n = 0;

	memcpy(h->parent_uuid, parent->f.uuid, 16);
	h->parent_ts = parent->f.timestamp;
	if (!realpath(parent_path, pabs) || child_dir(path, cdir)) {
		int err = -errno;

		vhd_seterr("%s: cannot resolve the parent path %s", path, parent_path);
		return err;
	}
	if (vhd_utf8_to_utf16(pabs, true, h->parent_name, sizeof(h->parent_name)) < 0) {
		const char *base = strrchr(pabs, '/') + 1;
		memset(h->parent_name, 0, sizeof(h->parent_name));
		vhd_utf8_to_utf16(base, true, h->parent_name, sizeof(h->parent_name));
	}
	l = *loc = calloc(2, sizeof(*l));
	if (!l)
		return -ENOMEM;
	if (relpath(cdir, pabs, rel, sizeof(rel)) == 0) {
		for (char *p = rel; *p; p++)
			if (*p == '/')
				*p = '\\';
		l[n].code = 0x57327275; /* W2ru */
		l[n].len = vhd_utf8_to_utf16(rel, false, l[n].buf, sizeof(l[n].buf));
		if (l[n].len > 0)
			n++;
	}
	l[n].code = 0x57326b75; /* W2ku */
	l[n].len = vhd_utf8_to_utf16(pabs, false, l[n].buf, sizeof(l[n].buf));
	if (l[n].len > 0)
		n++;
	for (int i = 0; i < n; i++) {
		uint32_t space = (uint32_t)((l[i].len + 511) / 512);
		h->loc[i].code = l[i].code;
		h->loc[i].space = space;
		h->loc[i].length = (uint32_t)l[i].len;
		h->loc[i].offset = *pos;
		*pos += (uint64_t)space * 512;
	}
	*nloc = n;
	return 0;
}

/* A dynamic or differencing image (parent non-NULL): footer copy, dynamic header, an empty
 * BAT, the parent locators and the footer. Returns 0 or -errno (the message set when there
 * is one to say). */
static int create_dynamic(int fd, const char *path, const struct vhd_create_opts *o,
			  const struct vhd *parent, const uint8_t fb[512], uint64_t size, uint32_t bs)
{
	struct vhd_dynhdr h;
	struct loc_data *loc = NULL;
	uint8_t hb[1024], *bat = NULL;
	uint64_t bat_bytes, pos;
	int ret, nloc = 0;

	memset(&h, 0, sizeof(h));
	h.data_offset = ~0ULL;
	h.bat_offset = 1536;
	h.version = 0x00010000;
	h.max_entries = (uint32_t)((size + bs - 1) / bs);
	h.block_size = bs;
	bat_bytes = ((uint64_t)h.max_entries * 4 + 511) / 512 * 512;
	pos = h.bat_offset + bat_bytes;
	if (parent && (ret = diff_locators(path, o->parent, parent, &h, &pos, &loc, &nloc)))
		goto out;
	vhd_dynhdr_build(&h, hb);
	bat = malloc(bat_bytes);
	if (!bat) {
		ret = -ENOMEM;
		goto out;
	}
	memset(bat, 0xff, bat_bytes);
	if ((ret = vhd_pwrite_full(fd, fb, 512, 0)) || (ret = vhd_pwrite_full(fd, hb, 1024, 512)) ||
	    (ret = vhd_pwrite_full(fd, bat, bat_bytes, h.bat_offset)))
		goto out;
	for (int i = 0; i < nloc; i++) {
		uint8_t *sec = calloc(h.loc[i].space, 512);
		if (!sec) {
			ret = -ENOMEM;
			goto out;
		}
		memcpy(sec, loc[i].buf, (size_t)loc[i].len);
		ret = vhd_pwrite_full(fd, sec, (size_t)h.loc[i].space * 512, h.loc[i].offset);
		free(sec);
		if (ret)
			goto out;
	}
	ret = vhd_pwrite_full(fd, fb, 512, pos);
out:
	free(bat);
	free(loc);
	return ret;
}

int vhd_create(const char *path, const struct vhd_create_opts *o, struct vhd **out)
{
	struct vhd_footer f;
	struct vhd *parent = NULL;
	uint8_t fb[512];
	uint64_t size;
	uint32_t bs = o->block_size ? o->block_size : VHD_DEFAULT_BLOCK_SIZE;
	int fd = -1, ret;

	if (out)
		*out = NULL;
	vhd_seterr("%s", "");
	if (o->type != VHD_TYPE_FIXED && o->type != VHD_TYPE_DYNAMIC && o->type != VHD_TYPE_DIFF) {
		vhd_seterr("%s: unknown image type %d", path, (int)o->type);
		return -EINVAL;
	}
	if (o->type != VHD_TYPE_FIXED && (bs < 4096 || bs > VHD_MAX_BLOCK || (bs & (bs - 1)))) {
		vhd_seterr("%s: block size %u is not a power of two between 4 KiB and 256 MiB", path, bs);
		return -EINVAL;
	}
	if (o->type == VHD_TYPE_DIFF)
		ret = diff_open_parent(path, o, &parent, &size);
	else
		ret = plain_size(path, o, &size);
	if (ret)
		goto err;
	if (o->type != VHD_TYPE_FIXED && (size + bs - 1) / bs > VHD_MAX_ENTRIES) {
		vhd_seterr("%s: too many blocks (size %llu, block size %u)", path,
			   (unsigned long long)size, bs);
		ret = -EINVAL;
		goto err;
	}
	footer_init(&f, o, parent, size, fb);
	if (parent && vhd_footer_vsize(&f) != size) {
		vhd_seterr("%s: creator '%.4s' would change the size seen by other tools", path,
			   f.creator_app);
		ret = -EINVAL;
		goto err;
	}

	/* An existing file is truncated only once it is ours alone (no VM uses it). */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (o->excl ? O_EXCL : 0), 0644);
	if (fd < 0) {
		ret = -errno;
		vhd_seterr("%s: %s", path, strerror(errno));
		goto err;
	}
	ret = vhd_lock_fd(fd, VHD_LOCK_EXCL, path);
	if (ret) {
		close(fd);
		goto err; /* someone else's file: left as it is */
	}
	if (!o->excl && ftruncate(fd, 0)) {
		ret = -errno;
		goto err_unlink;
	}
	if (o->type == VHD_TYPE_FIXED)
		ret = create_fixed(fd, fb, size);
	else
		ret = create_dynamic(fd, path, o, parent, fb, size, bs);
	if (ret)
		goto err_unlink;
	if (fsync(fd)) {
		ret = -errno;
		goto err_unlink;
	}
	close(fd);
	fd = -1;
	vhd_close(parent);
	parent = NULL;
	if (out) {
		ret = vhd_open(path, 0, out);
		if (ret)
			goto err_unlink;
	}
	return 0;
err_unlink:
	if (ret && !vhd_errmsg()[0])
		vhd_seterr("%s: cannot create: %s", path, strerror(-ret));
	if (fd >= 0)
		close(fd);
	fd = -1;
	unlink(path);
err:
	vhd_close(parent);
	return ret;
}

int vhd_set_parent(const char *path, const char *parent_path)
{
	struct vhd *v = NULL, *p = NULL;
	struct vhd_dynhdr nh;
	struct loc_data *loc = NULL;
	uint8_t hb[1024];
	uint64_t pos = 0;
	int ret, nloc = 0, written = 0;

	ret = vhd_open(path, VHD_NOPARENT, &v);
	if (ret)
		return ret;
	if (v->type != VHD_TYPE_DIFF) {
		vhd_seterr("%s: not a differencing image", path);
		ret = -EINVAL;
		goto out;
	}
	ret = vhd_open(parent_path, VHD_RDONLY, &p);
	if (ret)
		goto out;
	if (p->size != v->size) {
		vhd_seterr("%s: the new parent %s has a different size (%llu, child %llu)", path,
			   parent_path, (unsigned long long)p->size, (unsigned long long)v->size);
		ret = -EINVAL;
		goto out;
	}
	nh = v->h;
	ret = diff_locators(path, parent_path, p, &nh, &pos, &loc, &nloc);
	if (ret)
		goto out;
	/* The new locators go into the old ones' space, code by code; a slot without a new
	 * value (or one of another code: MacX) is emptied. */
	for (int j = 0; j < 8; j++) {
		struct vhd_locator *l = &nh.loc[j];
		const struct vhd_locator *old = &v->h.loc[j];
		const struct loc_data *d = NULL;
		uint8_t *sec;

		*l = *old;
		if (!old->code || !old->space)
			continue;
		for (int i = 0; i < nloc; i++)
			if (loc[i].code == old->code)
				d = &loc[i];
		if (!d || (uint64_t)d->len > (uint64_t)old->space * 512) {
			l->length = 0;
			continue;
		}
		sec = calloc(old->space, 512);
		if (!sec) {
			ret = -ENOMEM;
			goto out;
		}
		memcpy(sec, d->buf, (size_t)d->len);
		ret = vhd_pwrite_full(v->fd, sec, (size_t)old->space * 512, old->offset);
		free(sec);
		if (ret)
			goto out;
		l->length = (uint32_t)d->len;
		written++;
	}
	if (!written) {
		vhd_seterr("%s: the path of the new parent %s does not fit the image's locator "
			   "space", path, parent_path);
		ret = -ENOSPC;
		goto out;
	}
	vhd_dynhdr_build(&nh, hb);
	ret = vhd_pwrite_full(v->fd, hb, 1024, v->f.data_offset);
	if (!ret && fdatasync(v->fd))
		ret = -errno;
	if (!ret)
		v->h = nh;
out:
	free(loc);
	vhd_close(p);
	vhd_close(v);
	return ret;
}
