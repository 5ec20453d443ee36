/* libvhd: commit, resize, compact (and the block relocation shared with check's repair).
 * Every step keeps the image valid: copies go to unreferenced space, a BAT entry is
 * switched only after its data is durable, the footer moves last. */
#include "vhd/vhd_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COPY_CHUNK (4u << 20)

static int dsync(struct vhd *v)
{
	if (v->flags & VHD_NOSYNC)
		return 0;
	return fdatasync(v->fd) ? -errno : 0;
}

int vhd_commit(struct vhd *v, vhd_progress_fn progress, void *opaque)
{
	struct vhd *p = v->parent;
	uint8_t *buf;
	uint64_t s = 0;
	int ret = 0;

	if (v->type != VHD_TYPE_DIFF || !p) {
		vhd_seterr("%s: commit needs a differencing image opened with its parent", v->path);
		return -EINVAL;
	}
	if (p->rdonly) {
		vhd_seterr("%s: parent %s is open read-only (use VHD_PARENT_RW)", v->path, p->path);
		return -EROFS;
	}
	buf = malloc(COPY_CHUNK);
	if (!buf)
		return -ENOMEM;
	while (s < v->nsectors && ret == 0) {
		struct vhd_extent e;
		uint64_t n = v->nsectors - s;
		if (n > COPY_CHUNK / 512)
			n = COPY_CHUNK / 512;
		ret = vhd_map(v, s, n, &e);
		if (ret)
			break;
		if (e.depth == 0) {
			ret = vhd_read(v, s, buf, e.nsectors);
			if (ret == 0)
				ret = vhd_write(p, s, buf, e.nsectors);
		}
		s += e.nsectors;
		if (progress)
			progress(opaque, s, v->nsectors);
	}
	free(buf);
	if (ret == 0)
		ret = vhd_flush(p);
	if (ret && !vhd_errmsg()[0])
		vhd_seterr("%s: commit into %s failed: %s", v->path, p->path, strerror(-ret));
	return ret;
}

/* Rewrite both footers from v->f (trailing first, then the copy at 0). */
static int write_footers(struct vhd *v)
{
	int ret;

	vhd_footer_build(&v->f, v->footer_raw);
	ret = vhd_write_footer_at(v, v->end);
	if (ret == 0)
		ret = dsync(v);
	if (ret == 0 && v->type != VHD_TYPE_FIXED)
		ret = vhd_pwrite_full(v->fd, v->footer_raw, 512, 0);
	if (ret == 0)
		ret = dsync(v);
	return ret;
}

static uint64_t blk_bytes(struct vhd *v)
{
	return (uint64_t)(v->bm_sectors + v->spb) * 512;
}

static int copy_range(struct vhd *v, uint64_t from, uint64_t to, uint64_t len)
{
	uint8_t *buf = malloc(COPY_CHUNK);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	while (len && ret == 0) {
		size_t k = len < COPY_CHUNK ? (size_t)len : COPY_CHUNK;
		ret = vhd_pread_full(v->fd, buf, k, from);
		if (ret == 0)
			ret = vhd_pwrite_full(v->fd, buf, k, to);
		from += k;
		to += k;
		len -= k;
	}
	free(buf);
	return ret;
}

/* Point BAT entry b at sector off and make it durable (one BAT sector). */
static int bat_set_durable(struct vhd *v, uint32_t b, uint32_t val)
{
	uint8_t sec[512];
	uint32_t s = b / 128;

	__atomic_store_n(&v->bat[b], val, __ATOMIC_RELEASE);
	for (int k = 0; k < 128; k++)
		vhd_put32(sec + 4 * k, v->bat[s * 128 + k]);
	v->bat_dirty[s] = 0;
	int ret = vhd_pwrite_full(v->fd, sec, 512, v->h.bat_offset + (uint64_t)s * 512);
	return ret ? ret : dsync(v);
}

/* End of the metadata (header, BAT, locators): where blocks may start. */
static uint64_t meta_end(struct vhd *v)
{
	uint64_t e = v->f.data_offset + 1024;
	uint64_t be = v->h.bat_offset + (uint64_t)v->bat_sectors * 512;

	if (be > e)
		e = be;
	for (int i = 0; i < 8; i++) {
		const struct vhd_locator *l = &v->h.loc[i];
		if (!l->code || !l->length)
			continue;
		uint64_t sp = (uint64_t)l->space * 512 >= l->length ? (uint64_t)l->space * 512 : l->space;
		if (sp < l->length)
			sp = l->length;
		uint64_t le = l->offset + (sp + 511) / 512 * 512;
		if (le > e && le <= v->end)
			e = le;
	}
	return (e + 511) / 512 * 512;
}

struct blk {
	uint64_t off;
	uint32_t idx;
};

static int blk_cmp(const void *a, const void *b)
{
	const struct blk *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

int vhd_relocate(struct vhd *v, vhd_progress_fn progress, void *opaque)
{
	uint64_t bb = blk_bytes(v), target = meta_end(v);
	struct blk *list;
	uint32_t n = 0;
	int ret = vhd_flush_meta(v, !(v->flags & VHD_NOSYNC));

	if (ret)
		return ret;
	list = malloc(sizeof(*list) * v->h.max_entries);
	if (!list)
		return -ENOMEM;
	for (uint32_t i = 0; i < v->h.max_entries; i++)
		if (v->bat[i] != VHD_BAT_FREE)
			list[n++] = (struct blk){ (uint64_t)v->bat[i] * 512, i };
	qsort(list, n, sizeof(*list), blk_cmp);
	for (uint32_t k = 0; k < n && ret == 0; k++) {
		if (list[k].off >= target + bb) { /* room below that does not overlap it */
			ret = copy_range(v, list[k].off, target, bb);
			if (ret == 0)
				ret = dsync(v);
			if (ret == 0)
				ret = bat_set_durable(v, list[k].idx, (uint32_t)(target / 512));
			target += bb;
		} else {
			target = list[k].off + bb > target ? list[k].off + bb : target;
		}
		if (progress)
			progress(opaque, k + 1, n);
	}
	free(list);
	if (ret == 0 && target < v->end) {
		v->end = target;
		ret = vhd_write_footer_at(v, v->end);
		if (ret == 0)
			ret = dsync(v);
		if (ret == 0 && ftruncate(v->fd, (off_t)(v->end + 512)))
			ret = -errno;
		if (ret == 0)
			ret = dsync(v);
	}
	return ret;
}

/* Is allocated block b releasable (reads the same without it)? 1, 0, -errno. */
static int block_releasable(struct vhd *v, uint32_t b, uint8_t *buf)
{
	uint64_t s0 = (uint64_t)b * v->spb, n = v->spb;
	int ret;

	if (s0 >= v->nsectors)
		return 1; /* past the disk end */
	if (n > v->nsectors - s0)
		n = v->nsectors - s0;
	for (uint64_t s = s0; s < s0 + n;) {
		struct vhd_extent e;
		ret = vhd_map(v, s, s0 + n - s, &e);
		if (ret)
			return ret;
		if (e.depth == 0) {
			ret = vhd_pread_full(v->fd, buf, e.nsectors * 512, e.file_offset);
			if (ret)
				return ret;
			if (!vhd_is_zero(buf, e.nsectors * 512))
				return 0;
		}
		s += e.nsectors;
	}
	if (v->type == VHD_TYPE_DIFF) {
		/* zeros that hide an ancestor's data must stay */
		if (!v->parent)
			return 0;
		for (uint64_t s = s0; s < s0 + n;) {
			struct vhd_extent e;
			ret = vhd_map(v->parent, s, s0 + n - s, &e);
			if (ret)
				return ret;
			if (e.depth >= 0)
				return 0;
			s += e.nsectors;
		}
	}
	return 1;
}

int vhd_compact(struct vhd *v, uint32_t *freed, vhd_progress_fn progress, void *opaque)
{
	uint8_t *buf;
	uint32_t nfree = 0;
	int ret;

	if (freed)
		*freed = 0;
	if (v->rdonly)
		return -EROFS;
	if (v->type == VHD_TYPE_FIXED) {
		vhd_seterr("%s: a fixed image cannot be compacted", v->path);
		return -ENOTSUP;
	}
	ret = vhd_flush_meta(v, !(v->flags & VHD_NOSYNC));
	if (ret)
		return ret;
	buf = malloc((size_t)v->spb * 512);
	if (!buf)
		return -ENOMEM;
	for (uint32_t b = 0; b < v->h.max_entries && ret == 0; b++) {
		if (v->bat[b] == VHD_BAT_FREE)
			continue;
		int r = block_releasable(v, b, buf);
		if (r < 0) {
			ret = r;
			break;
		}
		if (r) {
			/* unreferenced first (a leak at worst), reused only after relocation */
			pthread_mutex_lock(&v->lock);
			__atomic_store_n(&v->bat[b], VHD_BAT_FREE, __ATOMIC_RELEASE);
			v->bat_dirty[b / 128] = 1;
			v->bat_any_dirty = true;
			v->full[b] = 0;
			vhd_bm_drop_all(v);
			pthread_mutex_unlock(&v->lock);
			nfree++;
		}
	}
	free(buf);
	if (ret == 0)
		ret = vhd_flush_meta(v, !(v->flags & VHD_NOSYNC));
	if (ret == 0)
		ret = vhd_relocate(v, progress, opaque);
	if (freed)
		*freed = nfree;
	return ret;
}

/* A fixed image: the footer written at the new end, then the old footer's sector zeroed
 * (growing) or the file cut after the new footer (shrinking). Returns 0 or -errno. */
static int resize_fixed(struct vhd *v, const struct vhd_footer *nf, uint64_t ns)
{
	uint64_t old_end = v->end;
	int ret;

	v->f = *nf;
	v->end = ns;
	vhd_footer_build(&v->f, v->footer_raw);
	ret = vhd_write_footer_at(v, v->end);
	if (ret == 0)
		ret = dsync(v);
	if (ret == 0 && ns > old_end) {
		static const uint8_t z[512];
		ret = vhd_pwrite_full(v->fd, z, 512, old_end); /* the old footer is data now */
	} else if (ret == 0 && ftruncate(v->fd, (off_t)(ns + 512))) {
		ret = -errno;
	}
	return ret;
}

/* A BAT that must grow past its sectors (to `need` entries): grown in place, the blocks in
 * the way (and the footer) moved to the end of the file one by one, each move durable before
 * its BAT entry changes. Returns 0 or -errno (the message set when there is one to say). */
static int bat_grow_sectors(struct vhd *v, uint32_t need)
{
	uint32_t cap = v->bat_sectors * 128;
	uint32_t nsec = (need * 4 + 511) / 512;
	uint64_t bat_end = v->h.bat_offset + (uint64_t)nsec * 512;
	uint32_t *nb = realloc(v->bat, (size_t)nsec * 512);
	uint8_t *nd = realloc(v->bat_dirty, nsec);
	uint8_t *nfl = realloc(v->full, need);
	int ret;

	if (nb)
		v->bat = nb;
	if (nd)
		v->bat_dirty = nd;
	if (nfl)
		v->full = nfl;
	if (!nb || !nd || !nfl)
		return -ENOMEM;
	for (uint32_t i = cap; i < nsec * 128; i++)
		v->bat[i] = VHD_BAT_FREE;
	memset(v->bat_dirty + v->bat_sectors, 0, nsec - v->bat_sectors);
	memset(v->full + v->h.max_entries, 0, need - v->h.max_entries);
	for (int i = 0; i < 8; i++)
		if (v->h.loc[i].length && v->h.loc[i].offset < bat_end &&
		    v->h.loc[i].offset >= v->h.bat_offset) {
			vhd_seterr("%s: parent locators are in the way of a larger BAT", v->path);
			return -ENOTSUP;
		}
	if (v->end < bat_end) {
		/* the footer itself is in the way: move it past the new BAT */
		v->end = bat_end;
		ret = vhd_write_footer_at(v, v->end);
		if (ret == 0)
			ret = dsync(v);
		if (ret)
			return ret;
	}
	for (uint32_t b = 0; b < v->h.max_entries; b++) {
		uint64_t off = (uint64_t)v->bat[b] * 512;
		if (v->bat[b] == VHD_BAT_FREE || off >= bat_end)
			continue;
		uint64_t dst = v->end, bb = blk_bytes(v);
		ret = vhd_write_footer_at(v, dst + bb);
		if (ret == 0)
			ret = copy_range(v, off, dst, bb);
		if (ret == 0)
			ret = dsync(v);
		if (ret)
			return ret;
		v->end = dst + bb;
		ret = bat_set_durable(v, b, (uint32_t)(dst / 512));
		if (ret)
			return ret;
	}
	/* the new BAT sectors (all free) over the vacated space */
	uint8_t *sec = malloc((size_t)(nsec - v->bat_sectors) * 512);
	if (!sec)
		return -ENOMEM;
	memset(sec, 0xff, (size_t)(nsec - v->bat_sectors) * 512);
	ret = vhd_pwrite_full(v->fd, sec, (size_t)(nsec - v->bat_sectors) * 512,
			      v->h.bat_offset + (uint64_t)v->bat_sectors * 512);
	free(sec);
	if (ret == 0)
		ret = dsync(v);
	if (ret)
		return ret;
	v->bat_sectors = nsec;
	return 0;
}

/* A dynamic image growing to `need` BAT entries: the BAT (in its padding or grown), then
 * the header with the new entry count. Returns 0 or -errno. */
static int bat_grow(struct vhd *v, uint32_t need)
{
	uint8_t hb[1024];
	int ret;

	if (need > v->bat_sectors * 128) {
		ret = bat_grow_sectors(v, need);
		if (ret)
			return ret;
	} else {
		uint8_t *nfl = realloc(v->full, need);
		if (!nfl)
			return -ENOMEM;
		v->full = nfl;
		memset(v->full + v->h.max_entries, 0, need - v->h.max_entries);
		/* padding entries past max_entries may hold anything on disk */
		for (uint32_t i = v->h.max_entries; i < need; i++)
			v->bat[i] = VHD_BAT_FREE;
		for (uint32_t s = v->h.max_entries / 128; s <= (need - 1) / 128; s++)
			v->bat_dirty[s] = 1;
		v->bat_any_dirty = true;
		ret = vhd_flush_meta(v, !(v->flags & VHD_NOSYNC));
		if (ret)
			return ret;
	}
	v->h.max_entries = need;
	vhd_dynhdr_build(&v->h, hb);
	ret = vhd_pwrite_full(v->fd, hb, 1024, v->f.data_offset);
	if (ret == 0)
		ret = dsync(v);
	return ret;
}

/* A dynamic image shrinking to `need` BAT entries: the blocks past the new end are released
 * first (a leak at worst). Returns 0 or -errno. */
static int bat_shrink(struct vhd *v, uint32_t need)
{
	for (uint32_t b = need; b < v->h.max_entries; b++) {
		if (v->bat[b] == VHD_BAT_FREE)
			continue;
		v->bat[b] = VHD_BAT_FREE;
		v->full[b] = 0;
		v->bat_dirty[b / 128] = 1;
		v->bat_any_dirty = true;
	}
	vhd_bm_drop_all(v);
	return vhd_flush_meta(v, !(v->flags & VHD_NOSYNC));
}

int vhd_resize(struct vhd *v, uint64_t new_size, bool force_size, unsigned flags)
{
	struct vhd_footer nf = v->f;
	uint64_t ns;
	int ret;

	if (v->rdonly)
		return -EROFS;
	if (v->type == VHD_TYPE_DIFF) {
		vhd_seterr("%s: cannot resize a differencing image", v->path);
		return -ENOTSUP;
	}
	if (new_size == 0 || new_size > VHD_MAX_SIZE) {
		vhd_seterr("%s: new size %llu out of range (1 byte to 2040 GiB)", v->path,
			   (unsigned long long)new_size);
		return new_size ? -EFBIG : -EINVAL;
	}
	ns = vhd_round_size(new_size, force_size);
	if (ns > VHD_MAX_SIZE)
		ns = new_size / 512 * 512;
	if (ns < v->size && !(flags & VHD_RESIZE_SHRINK)) {
		vhd_seterr("%s: shrinking from %llu to %llu needs the shrink flag", v->path,
			   (unsigned long long)v->size, (unsigned long long)ns);
		return -EINVAL;
	}
	nf.current_size = ns;
	vhd_geometry(ns / 512, &nf.cyls, &nf.heads, &nf.spt);
	if (vhd_footer_vsize(&nf) != ns) {
		vhd_seterr("%s: size %llu cannot be expressed for creator '%.4s' (sized by geometry)",
			   v->path, (unsigned long long)ns, v->f.creator_app);
		return -EINVAL;
	}
	ret = vhd_flush_meta(v, !(v->flags & VHD_NOSYNC));
	if (ret)
		return ret;
	if (v->type == VHD_TYPE_FIXED) {
		ret = resize_fixed(v, &nf, ns);
	} else {
		uint32_t need = (uint32_t)((ns + v->h.block_size - 1) / v->h.block_size);

		if (need > v->h.max_entries)
			ret = bat_grow(v, need);
		else if (ns < v->size)
			ret = bat_shrink(v, need);
		if (ret)
			return ret; /* the footers still say the old size */
		v->f = nf;
		ret = write_footers(v);
	}
	if (ret == 0) {
		v->f = nf;
		v->size = ns;
		v->nsectors = ns / 512;
	} else {
		vhd_seterr("%s: resize failed: %s", v->path, strerror(-ret));
	}
	return ret;
}
