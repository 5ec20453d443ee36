/* libvhd: opening images (footer, dynamic header, BAT validation, parent chain), closing,
 * probing and information. */
#include "vhd/vhd_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ival {
	uint64_t start, end;
	long idx; /* BAT index, or -1 for metadata */
};

static int ival_cmp(const void *a, const void *b)
{
	const struct ival *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Validate the BAT and metadata layout of a dynamic/differencing image. Returns 0 or
 * -EINVAL with vhd_errmsg set. */
static int check_layout(struct vhd *v, uint64_t fsize)
{
	uint64_t blk_bytes = (uint64_t)(v->bm_sectors + v->spb) * 512;
	uint64_t bat_bytes = (uint64_t)v->bat_sectors * 512;
	struct ival *iv;
	size_t n = 0;
	int ret = 0;

	if (v->f.data_offset + 1024 > v->end || v->h.bat_offset + bat_bytes > v->end) {
		vhd_seterr("%s: dynamic header or BAT lies past the end of the file", v->path);
		return -EINVAL;
	}
	iv = malloc(sizeof(*iv) * ((size_t)v->h.max_entries + 4));
	if (!iv)
		return -ENOMEM;
	iv[n++] = (struct ival){ 0, 512, -1 };
	iv[n++] = (struct ival){ v->f.data_offset, v->f.data_offset + 1024, -1 };
	iv[n++] = (struct ival){ v->h.bat_offset, v->h.bat_offset + bat_bytes, -1 };
	for (uint32_t i = 0; i < v->h.max_entries; i++) {
		uint32_t e = v->bat[i];
		if (e == VHD_BAT_FREE)
			continue;
		uint64_t off = (uint64_t)e * 512;
		if (off + blk_bytes > v->end) {
			vhd_seterr("%s: BAT entry %u points past the end of the file (offset %llu)",
				   v->path, i, (unsigned long long)off);
			ret = -EINVAL;
			goto out;
		}
		iv[n++] = (struct ival){ off, off + blk_bytes, i };
	}
	(void)fsize;
	qsort(iv, n, sizeof(*iv), ival_cmp);
	for (size_t k = 1; k < n; k++) {
		if (iv[k].start < iv[k - 1].end) {
			const struct ival *a = &iv[k - 1], *b = &iv[k];
			if (a->idx >= 0 && b->idx >= 0)
				vhd_seterr("%s: blocks %ld and %ld overlap (offset %llu)", v->path,
					   a->idx, b->idx, (unsigned long long)b->start);
			else
				vhd_seterr("%s: BAT entry %ld points into the metadata (offset %llu)",
					   v->path, a->idx >= 0 ? a->idx : b->idx,
					   (unsigned long long)b->start);
			ret = -EINVAL;
			goto out;
		}
	}
out:
	free(iv);
	return ret;
}

/* The directory part of path ("." if none), into buf. */
static void dir_of(const char *path, char *buf, size_t len)
{
	const char *s = strrchr(path, '/');

	if (!s)
		snprintf(buf, len, ".");
	else if (s == path)
		snprintf(buf, len, "/");
	else
		snprintf(buf, len, "%.*s", (int)(s - path), path);
}

/* Decode locator i into a candidate path. 0 or -errno. */
static int locator_path(struct vhd *v, const struct vhd_locator *l, char *out, size_t outlen)
{
	uint8_t raw[2048];
	char tmp[2048];
	uint32_t len = l->length;
	char dir[PATH_MAX];

	if (len == 0 || len > sizeof(raw) || l->offset % 512 || l->offset + len > v->end)
		return -EINVAL;
	if (vhd_pread_full(v->fd, raw, len, l->offset))
		return -EIO;
	if (l->code == 0x57327275 /* W2ru */ || l->code == 0x57326b75 /* W2ku */) {
		vhd_utf16_to_utf8(raw, len, false, tmp, sizeof(tmp));
	} else if (l->code == 0x4d616358 /* MacX */) {
		memcpy(tmp, raw, len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1);
		tmp[len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1] = 0;
		if (!strncmp(tmp, "file://", 7)) {
			char *p = tmp + 7;
			if (!strncmp(p, "localhost", 9))
				p += 9;
			memmove(tmp, p, strlen(p) + 1);
		}
	} else {
		return -EINVAL;
	}
	for (char *p = tmp; *p; p++)
		if (*p == '\\')
			*p = '/';
	if (!tmp[0])
		return -EINVAL;
	if (tmp[0] == '/') {
		snprintf(out, outlen, "%s", tmp);
	} else {
		const char *rel = tmp;
		if (rel[1] == ':' && l->code == 0x57326b75)
			return -EINVAL; /* a Windows drive path: not resolvable here */
		while (rel[0] == '.' && rel[1] == '/')
			rel += 2;
		dir_of(v->path, dir, sizeof(dir));
		if ((size_t)snprintf(out, outlen, "%s/%s", dir, rel) >= outlen)
			return -ENAMETOOLONG;
	}
	return 0;
}

static int find_parent(struct vhd *v, char *out, size_t outlen)
{
	static const uint32_t order[] = { 0x57327275, 0x57326b75, 0x4d616358 };
	char cand[PATH_MAX + 16];
	char tried[1024] = "";
	size_t tl = 0;

	for (int o = 0; o < 3; o++) {
		for (int i = 0; i < 8; i++) {
			const struct vhd_locator *l = &v->h.loc[i];
			if (l->code != order[o])
				continue;
			if (locator_path(v, l, cand, sizeof(cand)))
				continue;
			if (access(cand, F_OK) == 0) {
				if (strlen(cand) >= outlen)
					return -ENAMETOOLONG;
				memcpy(out, cand, strlen(cand) + 1);
				return 0;
			}
			if (tl < sizeof(tried) - 1)
				tl += (size_t)snprintf(tried + tl, sizeof(tried) - tl, "%s'%s'",
						       tl ? ", " : "", cand);
		}
	}
	char name[1024];
	vhd_utf16_to_utf8(v->h.parent_name, 512, true, name, sizeof(name));
	vhd_seterr("%s: parent '%s' not found (tried %s)", v->path, name,
		   tl ? tried : "no usable locator");
	return -ENOENT;
}

static int read_footer(struct vhd *v, uint64_t fsize, bool *used_copy)
{
	uint8_t buf[512];
	const char *why = "", *why0 = "";
	int ret;

	*used_copy = false;
	if (fsize < 512 || fsize % 512) {
		/* Old images may have a 511-byte footer; we require whole sectors. */
		if (fsize < 512) {
			vhd_seterr("%s: file too short to be a VHD (%llu bytes)", v->path,
				   (unsigned long long)fsize);
			return -EINVAL;
		}
	}
	ret = vhd_pread_full(v->fd, buf, 512, fsize - 512);
	if (ret) {
		vhd_seterr("%s: cannot read the footer: %s", v->path, strerror(-ret));
		return ret;
	}
	if (vhd_footer_parse(buf, &v->f, &why) == 0) {
		memcpy(v->footer_raw, buf, 512);
		v->end = fsize - 512;
		return 0;
	}
	/* Dynamic and differencing images keep a copy at offset 0. */
	ret = vhd_pread_full(v->fd, buf, 512, 0);
	if (ret == 0 && vhd_footer_parse(buf, &v->f, &why0) == 0 && v->f.type != VHD_TYPE_FIXED) {
		memcpy(v->footer_raw, buf, 512);
		v->end = (fsize + 511) / 512 * 512;
		*used_copy = true;
		return 0;
	}
	vhd_seterr("%s: not a valid VHD: %s at the end of the file%s%s", v->path, why,
		   memcmp(buf, "conectix", 8) ? "" : "; copy at offset 0: ",
		   memcmp(buf, "conectix", 8) ? "" : why0);
	return -EINVAL;
}

static int open_dynamic(struct vhd *v, uint64_t fsize)
{
	uint8_t hb[1024];
	const char *why = "";
	uint8_t *raw = NULL;
	int ret;

	if (v->f.data_offset % 512 || v->f.data_offset < 512 || v->f.data_offset + 1024 > v->end) {
		vhd_seterr("%s: dynamic header offset %llu out of range", v->path,
			   (unsigned long long)v->f.data_offset);
		return -EINVAL;
	}
	ret = vhd_pread_full(v->fd, hb, 1024, v->f.data_offset);
	if (ret) {
		vhd_seterr("%s: cannot read the dynamic header", v->path);
		return ret;
	}
	if (vhd_dynhdr_parse(hb, &v->h, &why)) {
		vhd_seterr("%s: %s", v->path, why);
		return -EINVAL;
	}
	v->spb = v->h.block_size / 512;
	v->bm_sectors = (v->spb / 8 + 511) / 512;
	v->bm_bytes = v->bm_sectors * 512;
	if ((uint64_t)v->h.max_entries * v->spb < v->nsectors) {
		vhd_seterr("%s: the BAT (%u entries of %u bytes) does not cover the disk size %llu",
			   v->path, v->h.max_entries, v->h.block_size, (unsigned long long)v->size);
		return -EINVAL;
	}
	v->bat_sectors = (uint32_t)(((uint64_t)v->h.max_entries * 4 + 511) / 512);
	if (v->h.bat_offset + (uint64_t)v->bat_sectors * 512 > v->end) {
		vhd_seterr("%s: BAT lies past the end of the file", v->path);
		return -EINVAL;
	}
	raw = malloc((size_t)v->bat_sectors * 512);
	v->bat = malloc((size_t)v->bat_sectors * 512);
	v->bat_dirty = calloc(v->bat_sectors, 1);
	v->full = calloc(v->h.max_entries, 1);
	if (!raw || !v->bat || !v->bat_dirty || !v->full) {
		free(raw);
		return -ENOMEM;
	}
	ret = vhd_pread_full(v->fd, raw, (size_t)v->bat_sectors * 512, v->h.bat_offset);
	if (ret) {
		free(raw);
		vhd_seterr("%s: cannot read the BAT", v->path);
		return ret;
	}
	for (uint32_t i = 0; i < v->bat_sectors * 128; i++)
		v->bat[i] = vhd_be32(raw + 4 * i);
	free(raw);
	(void)fsize;
	return check_layout(v, fsize);
}

/* Whether p (opened as ppath) is the parent v's header records: its unique id, its time
 * stamp (or its file's mtime, as QEMU writes it), its size. 0 or -EINVAL (message set). */
static int parent_check(struct vhd *v, struct vhd *p, const char *ppath)
{
	if (memcmp(p->f.uuid, v->h.parent_uuid, 16)) {
		vhd_seterr("%s: parent %s has a different unique id than the child records "
			   "(the parent was replaced or modified)", v->path, ppath);
		return -EINVAL;
	}
	if (p->f.timestamp != v->h.parent_ts) {
		struct stat st;
		bool ok = fstat(p->fd, &st) == 0 && st.st_mtime > 946684800 &&
			  (uint32_t)(st.st_mtime - 946684800) == v->h.parent_ts;
		if (!ok) {
			vhd_seterr("%s: parent %s timestamp %u does not match the child's record %u",
				   v->path, ppath, p->f.timestamp, v->h.parent_ts);
			return -EINVAL;
		}
	}
	if (p->size != v->size) {
		vhd_seterr("%s: parent %s has a different size (%llu, child %llu)", v->path,
			   ppath, (unsigned long long)p->size, (unsigned long long)v->size);
		return -EINVAL;
	}
	return 0;
}

static int open_parent(struct vhd *v, int flags)
{
	struct vhd *p;
	int pflags = VHD_RDONLY | (flags & (VHD_NOSYNC | VHD_NOLOCK));
	int ret;

	ret = find_parent(v, v->parent_path, sizeof(v->parent_path));
	if (ret)
		return ret;
	if (flags & VHD_PARENT_RW)
		pflags &= ~VHD_RDONLY;
	ret = vhd_open_depth(v->parent_path, pflags, v->depth + 1, v, &p);
	if (ret)
		return ret;
	ret = parent_check(v, p, v->parent_path);
	if (ret) {
		vhd_close(p);
		return ret;
	}
	v->parent = p;
	return 0;
}

/* A new handle for path (not opened here), or NULL. */
static struct vhd *vhd_alloc(const char *path, int flags, int depth)
{
	struct vhd *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->fd = -1;
	v->flags = flags;
	v->rdonly = flags & VHD_RDONLY;
	v->depth = depth;
	pthread_mutex_init(&v->lock, NULL);
	pthread_mutex_init(&v->flush_lock, NULL);
	v->path = strdup(path);
	if (!v->path) {
		pthread_mutex_destroy(&v->lock);
		pthread_mutex_destroy(&v->flush_lock);
		free(v);
		return NULL;
	}
	return v;
}

/* The image on v->fd (v->path its name): a regular file or block device not already in the
 * chain below child, locked unless VHD_NOLOCK, its footer and (dynamic, differencing) its
 * header and BAT read and checked. 0 or -errno (message set). */
static int open_file(struct vhd *v, struct vhd *child, bool *used_copy)
{
	struct stat st;
	int ret;

	if (fstat(v->fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		vhd_seterr("%s: not a regular file", v->path);
		return -EINVAL;
	}
	v->dev = st.st_dev;
	v->ino = st.st_ino;
	v->child = child;
	for (struct vhd *c = child; c; c = c->child) {
		if (c->dev == v->dev && c->ino == v->ino) {
			vhd_seterr("%s: parent loop: %s is already in the chain", child->path,
				   v->path);
			return -ELOOP;
		}
	}
	if (!(v->flags & VHD_NOLOCK)) {
		ret = vhd_lock_fd(v->fd, v->rdonly ? VHD_LOCK_SHARED : VHD_LOCK_EXCL, v->path);
		if (ret)
			return ret;
	}
	ret = read_footer(v, (uint64_t)st.st_size, used_copy);
	if (ret)
		return ret;
	v->type = (enum vhd_type)v->f.type;
	v->size = vhd_footer_vsize(&v->f);
	v->nsectors = v->size / 512;
	if (v->size > VHD_MAX_SIZE) {
		vhd_seterr("%s: disk size %llu is larger than the 2040 GiB a VHD can hold", v->path,
			   (unsigned long long)v->size);
		return -EINVAL;
	}
	if (v->type == VHD_TYPE_FIXED) {
		if (v->size > v->end) {
			vhd_seterr("%s: fixed image truncated: %llu data bytes for a %llu-byte disk",
				   v->path, (unsigned long long)v->end, (unsigned long long)v->size);
			return -EINVAL;
		}
		return 0;
	}
	return open_dynamic(v, (uint64_t)st.st_size);
}

/* A writable dynamic or differencing image keeps both footers the same: a damaged trailing
 * footer (used_copy) or a stale copy at 0 is rewritten. 0 or -errno (message set). */
static int footers_sync(struct vhd *v, bool used_copy)
{
	uint8_t copy[512];
	int ret = 0;

	if (v->rdonly || v->type == VHD_TYPE_FIXED)
		return 0;
	if (used_copy) {
		vhd_footer_build(&v->f, v->footer_raw);
		ret = vhd_pwrite_full(v->fd, v->footer_raw, 512, v->end);
	} else if (vhd_pread_full(v->fd, copy, 512, 0) == 0 && memcmp(copy, v->footer_raw, 512)) {
		ret = vhd_pwrite_full(v->fd, v->footer_raw, 512, 0);
	}
	if (ret)
		vhd_seterr("%s: cannot repair the footer: %s", v->path, strerror(-ret));
	return ret;
}

int vhd_open_depth(const char *path, int flags, int depth, struct vhd *child, struct vhd **out)
{
	struct vhd *v;
	bool used_copy;
	int ret;

	*out = NULL;
	if (depth > VHD_MAX_DEPTH) {
		vhd_seterr("%s: parent chain deeper than %d", path, VHD_MAX_DEPTH);
		return -ELOOP;
	}
	v = vhd_alloc(path, flags, depth);
	if (!v)
		return -ENOMEM;
	v->fd = open(path, (v->rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (v->fd < 0) {
		ret = -errno;
		vhd_seterr("%s: %s", path, strerror(errno));
		goto err;
	}
	ret = open_file(v, child, &used_copy);
	if (ret)
		goto err;
	if (v->type == VHD_TYPE_DIFF && !(flags & VHD_NOPARENT)) {
		ret = open_parent(v, flags);
		if (ret)
			goto err;
	}
	ret = footers_sync(v, used_copy);
	if (ret)
		goto err;
	*out = v;
	return 0;
err:
	vhd_close(v);
	return ret;
}

/* Whether the parent v's locators name, as a later vhd_open of v finds it (a guest reset, a
 * restart: the chain opens by names then), is parent's file. 0 or -EINVAL (message set). */
static int parent_named(struct vhd *v, struct vhd *parent)
{
	char found[sizeof(v->parent_path)];
	struct stat st;
	int ret = find_parent(v, found, sizeof(found));

	if (ret)
		return -EINVAL; /* not found: message set by find_parent */
	if (stat(found, &st) || st.st_dev != parent->dev || st.st_ino != parent->ino) {
		vhd_seterr("%s: its header names %s as its parent, another file than %s, the image "
			   "it would go over (opened again by name, at a reset or a restart, it would "
			   "read the other)", v->path, found, parent->path);
		return -EINVAL;
	}
	return 0;
}

int vhd_open_over(int fd, const char *path, int flags, struct vhd *parent, struct vhd **out)
{
	bool used_copy, locked = false;
	int mode = fcntl(fd, F_GETFL), ret;
	struct vhd *v;

	*out = NULL;
	flags &= VHD_RDONLY | VHD_NOSYNC | VHD_NOLOCK;
	if (mode < 0) {
		vhd_seterr("%s: %s", path, strerror(errno));
		return -EBADF;
	}
	if (!(flags & VHD_RDONLY) && (mode & O_ACCMODE) != O_RDWR) {
		vhd_seterr("%s: the descriptor is not open for reading and writing", path);
		return -EBADF;
	}
	for (struct vhd *p = parent; p; p = p->parent)
		if (p->depth + 1 > VHD_MAX_DEPTH) {
			vhd_seterr("%s: parent chain deeper than %d", path, VHD_MAX_DEPTH);
			return -ELOOP;
		}
	if (parent->child) {
		vhd_seterr("%s: %s is not the top of its chain", path, parent->path);
		return -EINVAL;
	}
	v = vhd_alloc(path, flags, 0);
	if (!v)
		return -ENOMEM;
	v->fd = fd;
	ret = open_file(v, NULL, &used_copy);
	locked = ret != -EBUSY && !(flags & VHD_NOLOCK);
	if (!ret && v->type != VHD_TYPE_DIFF) {
		vhd_seterr("%s: a %s image, not a differencing one: it cannot go over %s", path,
			   vhd_type_name(v->type), parent->path);
		ret = -EINVAL;
	}
	for (struct vhd *p = parent; !ret && p; p = p->parent)
		if (v->dev == p->dev && v->ino == p->ino) {
			vhd_seterr("%s: is %s, already in the chain", path, p->path);
			ret = -ELOOP;
		}
	if (!ret && memcmp(v->h.parent_uuid, parent->f.uuid, 16)) {
		vhd_seterr("%s: not a differencing image over %s: its header records another "
			   "parent (its unique id is not %s's)", path, parent->path, parent->path);
		ret = -EINVAL;
	}
	if (!ret)
		ret = parent_check(v, parent, parent->path);
	if (!ret)
		ret = parent_named(v, parent);
	if (!ret)
		ret = footers_sync(v, used_copy);
	/* the parent is read from now on, never written: its writes reach the file first */
	if (!ret && !parent->rdonly && (ret = vhd_flush(parent)))
		vhd_seterr("%s: flushing %s: %s", path, parent->path, strerror(-ret));
	if (!ret && !parent->rdonly && !(parent->flags & VHD_NOLOCK))
		ret = vhd_lock_fd(parent->fd, VHD_LOCK_SHARED, parent->path);
	if (ret) {
		if (locked)
			vhd_unlock_fd(fd);
		v->fd = -1; /* the caller's again */
		vhd_close(v);
		return ret;
	}
	v->parent_was_rw = !parent->rdonly;
	parent->rdonly = true;
	snprintf(v->parent_path, sizeof(v->parent_path), "%s", parent->path);
	/* the chain's depths count from the new top */
	for (struct vhd *p = parent; p; p = p->parent)
		p->depth++;
	parent->child = v;
	v->parent = parent;
	vhd_seterr("%s", "");
	*out = v;
	return 0;
}

int vhd_close_over(struct vhd *v, struct vhd **parent)
{
	struct vhd *p = v->parent;
	bool was_rw = v->parent_was_rw;
	int ret = 0;

	v->parent = NULL;
	*parent = p;
	vhd_close(v); /* wrote nothing: closes its fd, its lock with it */
	if (!p)
		return 0;
	p->child = NULL;
	for (struct vhd *q = p; q; q = q->parent)
		q->depth--;
	if (was_rw) {
		p->rdonly = false;
		/* a reader may have come meanwhile: p then holds no lock of its own */
		if (!(p->flags & VHD_NOLOCK) && (ret = vhd_lock_fd(p->fd, VHD_LOCK_EXCL, p->path)))
			p->flags |= VHD_NOLOCK;
	}
	return ret;
}

int vhd_open(const char *path, int flags, struct vhd **out)
{
	int ret = vhd_open_depth(path, flags, 0, NULL, out);

	if (ret == 0)
		vhd_seterr("%s", "");
	return ret;
}

int vhd_close(struct vhd *v)
{
	int ret = 0;

	if (!v)
		return 0;
	if (v->fd >= 0 && !v->rdonly && v->type != VHD_TYPE_FIXED && v->bat)
		ret = vhd_flush_meta(v, !(v->flags & VHD_NOSYNC));
	else if (v->fd >= 0 && !v->rdonly && !(v->flags & VHD_NOSYNC))
		fdatasync(v->fd);
	if (v->parent) {
		int r = vhd_close(v->parent);
		if (!ret)
			ret = r;
	}
	vhd_bm_drop_all(v);
	if (v->fd >= 0)
		close(v->fd);
	pthread_mutex_destroy(&v->lock);
	pthread_mutex_destroy(&v->flush_lock);
	free(v->bat);
	free(v->bat_dirty);
	free(v->full);
	free(v->path);
	free(v);
	return ret;
}

int vhd_probe(const char *path)
{
	uint8_t buf[512];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		ret = -errno;
		goto out;
	}
	if (vhd_pread_full(fd, buf, 512, 0) == 0 && !memcmp(buf, "conectix", 8))
		ret = 1;
	else if (st.st_size >= 512 && vhd_pread_full(fd, buf, 512, (uint64_t)st.st_size - 512) == 0 &&
		 !memcmp(buf, "conectix", 8))
		ret = 1;
out:
	close(fd);
	return ret;
}

void vhd_get_info(struct vhd *v, struct vhd_info *in)
{
	struct stat st;

	memset(in, 0, sizeof(*in));
	in->type = v->type;
	in->virtual_size = v->size;
	in->current_size = v->f.current_size;
	in->original_size = v->f.original_size;
	in->cylinders = v->f.cyls;
	in->heads = v->f.heads;
	in->sectors_per_track = v->f.spt;
	memcpy(in->creator_app, v->f.creator_app, 4);
	in->creator_version = v->f.creator_version;
	memcpy(in->creator_os, v->f.creator_os, 4);
	in->timestamp = v->f.timestamp;
	memcpy(in->uuid, v->f.uuid, 16);
	in->saved_state = v->f.saved_state;
	in->features = v->f.features;
	in->depth = v->depth;
	if (v->type != VHD_TYPE_FIXED) {
		in->block_size = v->h.block_size;
		in->max_table_entries = v->h.max_entries;
		in->bat_offset = v->h.bat_offset;
		pthread_mutex_lock(&v->lock);
		for (uint32_t i = 0; i < v->h.max_entries; i++)
			if (v->bat[i] != VHD_BAT_FREE)
				in->allocated_blocks++;
		pthread_mutex_unlock(&v->lock);
	}
	if (v->type == VHD_TYPE_DIFF) {
		memcpy(in->parent_uuid, v->h.parent_uuid, 16);
		in->parent_timestamp = v->h.parent_ts;
		vhd_utf16_to_utf8(v->h.parent_name, 512, true, in->parent_name,
				  sizeof(in->parent_name));
		snprintf(in->parent_path, sizeof(in->parent_path), "%s", v->parent_path);
	}
	if (fstat(v->fd, &st) == 0) {
		in->file_size = (uint64_t)st.st_size;
		in->file_blocks = (uint64_t)st.st_blocks * 512;
	}
}

struct vhd *vhd_parent(struct vhd *v)
{
	return v->parent;
}

const char *vhd_path(struct vhd *v)
{
	return v->path;
}

int vhd_fixed_fd(struct vhd *v, uint64_t *offset)
{
	if (v->type != VHD_TYPE_FIXED)
		return -EINVAL;
	if (offset)
		*offset = 0;
	return v->fd;
}
