/* libvhd: vhd_check: verify an image without trusting it, report each problem with its
 * file offset, optionally repair leaks. */
#include "vhd/vhd_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ctx {
	vhd_problem_fn fn;
	void *opaque;
	struct vhd_check_result *res;
	int fd;
	struct vhd_footer f;	/* the footer in use (its copy at 0 when the trailing one is damaged) */
	uint64_t end;		/* where the data ends (the trailing footer's offset) */
	uint64_t vsize;		/* the disk's size */
	bool repairable_footer;
};

static void report(struct ctx *c, enum vhd_problem_kind k, uint64_t off, uint64_t leaked,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void report(struct ctx *c, enum vhd_problem_kind k, uint64_t off, uint64_t leaked,
		   const char *fmt, ...)
{
	struct vhd_problem p = { .kind = k, .offset = off };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p.message, sizeof(p.message), fmt, ap);
	va_end(ap);
	if (k == VHD_PROBLEM_CORRUPT) {
		c->res->corruptions++;
	} else {
		c->res->leaks++;
		c->res->leaked_bytes += leaked;
	}
	if (c->fn)
		c->fn(c->opaque, &p);
}

struct iv {
	uint64_t s, e;
	long idx;
};

static int iv_cmp(const void *a, const void *b)
{
	const struct iv *x = a, *y = b;

	if (x->s != y->s)
		return x->s < y->s ? -1 : 1;
	return x->e < y->e ? -1 : x->e > y->e;
}

/* A fixed image: the data in front of the footer covers the disk. */
static void check_fixed(struct ctx *c)
{
	if (c->vsize > c->end)
		report(c, VHD_PROBLEM_CORRUPT, c->end, 0,
		       "fixed image truncated: %llu data bytes for a %llu-byte disk",
		       (unsigned long long)c->end, (unsigned long long)c->vsize);
}

/* A dynamic or differencing image: its footer copy at offset 0 is the footer (fb, f0b: the
 * raw sectors; tail_ok, head_ok: whether they parse; why0: what is wrong with the copy). */
static void check_footer_copy(struct ctx *c, const uint8_t *fb, const uint8_t *f0b, bool tail_ok,
			      bool head_ok, const char *why0)
{
	if (tail_ok && head_ok && memcmp(fb, f0b, 512)) {
		report(c, VHD_PROBLEM_LEAK, 0, 0, "footer copy at offset 0 differs from the footer (repairable)");
		c->repairable_footer = true;
	} else if (tail_ok && !head_ok) {
		report(c, VHD_PROBLEM_LEAK, 0, 0, "footer copy at offset 0 damaged: %s (repairable)", why0);
		c->repairable_footer = true;
	}
}

/* The regions of a dynamic image's file (the footer copy, the header, the BAT, the parent
 * locators and every allocated block, in iv, room for max_entries + 12): each inside the
 * file, none overlapping another, no block-sized gap between them (a leak). */
static void check_layout(struct ctx *c, const struct vhd_dynhdr *h, const uint8_t *batraw,
			 uint64_t bat_bytes, struct iv *iv)
{
	uint64_t bb = ((uint64_t)h->block_size / 512 + (h->block_size / 512 / 8 + 511) / 512) * 512;
	uint64_t data_offset = c->f.data_offset, end = c->end, used = 0;
	long used_idx = -1;
	size_t n = 0;

	iv[n++] = (struct iv){ 0, 512, -1 };
	iv[n++] = (struct iv){ data_offset, data_offset + 1024, -1 };
	iv[n++] = (struct iv){ h->bat_offset, h->bat_offset + bat_bytes, -1 };
	for (int i = 0; i < 8; i++) {
		const struct vhd_locator *l = &h->loc[i];
		if (!l->code || !l->length)
			continue;
		uint64_t sp = (uint64_t)l->space * 512;
		if (sp < l->length)
			sp = l->space >= l->length ? l->space : l->length; /* space in bytes */
		sp = (sp + 511) / 512 * 512;
		if (l->offset % 512 || l->offset + sp > end) {
			report(c, VHD_PROBLEM_CORRUPT, data_offset + 576 + 24 * (uint64_t)i, 0,
			       "parent locator %d lies outside the file", i);
			continue;
		}
		iv[n++] = (struct iv){ l->offset, l->offset + sp, -2 - i };
	}
	for (uint32_t i = 0; i < h->max_entries; i++) {
		uint32_t e = vhd_be32(batraw + 4 * (size_t)i);
		if (e == VHD_BAT_FREE)
			continue;
		uint64_t off = (uint64_t)e * 512;
		if (off + bb > end) {
			report(c, VHD_PROBLEM_CORRUPT, h->bat_offset + 4 * (uint64_t)i, 0,
			       "BAT entry %u points past the end of the file (block at %llu)", i,
			       (unsigned long long)off);
			continue;
		}
		c->res->allocated_blocks++;
		iv[n++] = (struct iv){ off, off + bb, i };
	}
	qsort(iv, n, sizeof(*iv), iv_cmp);
	for (size_t k = 0; k < n; k++) {
		if (iv[k].s < used) {
			if (iv[k].idx >= 0 && used_idx >= 0)
				report(c, VHD_PROBLEM_CORRUPT, iv[k].s, 0,
				       "blocks %ld and %ld overlap", used_idx, iv[k].idx);
			else if (iv[k].idx >= 0 || used_idx >= 0)
				report(c, VHD_PROBLEM_CORRUPT, iv[k].s, 0,
				       "BAT entry %ld points into the metadata",
				       iv[k].idx >= 0 ? iv[k].idx : used_idx);
			else
				report(c, VHD_PROBLEM_CORRUPT, iv[k].s, 0, "metadata regions overlap");
		} else if (iv[k].s - used >= bb && used) {
			report(c, VHD_PROBLEM_LEAK, used, iv[k].s - used,
			       "%llu bytes not referenced by the BAT",
			       (unsigned long long)(iv[k].s - used));
		}
		if (iv[k].e > used) {
			used = iv[k].e;
			used_idx = iv[k].idx;
		}
	}
	if (end > used) {
		report(c, VHD_PROBLEM_LEAK, used, end - used,
		       "%llu bytes at the end not referenced by the BAT",
		       (unsigned long long)(end - used));
	}
}

/* A dynamic or differencing image: its header, its BAT and the layout of its file. Returns 0
 * (problems reported) or -errno. */
static int check_dynamic(struct ctx *c)
{
	struct vhd_dynhdr h;
	uint8_t hb[1024], *batraw = NULL;
	struct iv *iv = NULL;
	const char *why = "";
	uint64_t data_offset = c->f.data_offset;
	int ret = 0;

	if (data_offset % 512 || data_offset < 512 || data_offset + 1024 > c->end ||
	    vhd_pread_full(c->fd, hb, 1024, data_offset)) {
		report(c, VHD_PROBLEM_CORRUPT, c->end + 16, 0, "dynamic header offset %llu out of range",
		       (unsigned long long)data_offset);
		return 0;
	}
	if (vhd_dynhdr_parse(hb, &h, &why)) {
		report(c, VHD_PROBLEM_CORRUPT, data_offset, 0, "dynamic header: %s", why);
		return 0;
	}
	uint32_t spb = h.block_size / 512;
	uint64_t bat_bytes = ((uint64_t)h.max_entries * 4 + 511) / 512 * 512;
	c->res->total_blocks = h.max_entries;
	if ((uint64_t)h.max_entries * spb < c->vsize / 512)
		report(c, VHD_PROBLEM_CORRUPT, data_offset + 28, 0,
		       "BAT of %u entries does not cover the disk size", h.max_entries);
	if (h.bat_offset + bat_bytes > c->end) {
		report(c, VHD_PROBLEM_CORRUPT, data_offset + 16, 0, "BAT lies past the end of the file");
		return 0;
	}
	batraw = malloc(bat_bytes);
	iv = malloc(sizeof(*iv) * ((size_t)h.max_entries + 12));
	if (!batraw || !iv) {
		ret = -ENOMEM;
		goto out;
	}
	if ((ret = vhd_pread_full(c->fd, batraw, bat_bytes, h.bat_offset)))
		goto out;
	check_layout(c, &h, batraw, bat_bytes, iv);
out:
	free(batraw);
	free(iv);
	return ret;
}

/* A differencing image without corruption of its own: its parent chain opens. Returns 0
 * (a broken chain reported) or -errno. */
static int check_parent(struct ctx *c, const char *path, unsigned flags)
{
	struct vhd *v;
	int r = vhd_open(path, VHD_RDONLY | (flags & VHD_CHECK_NOLOCK ? VHD_NOLOCK : 0), &v);

	if (r == -ENOENT || r == -ELOOP || r == -EINVAL)
		report(c, VHD_PROBLEM_CORRUPT, c->f.data_offset + 40, 0, "%s", vhd_errmsg());
	else if (r)
		return r;
	else
		vhd_close(v);
	return 0;
}

/* Repair the leaks of an image without corruption (closed by the caller): a read-write
 * open rewrites a damaged footer or its copy, vhd_relocate packs the blocks. Returns 0 or
 * -errno. */
static int repair_leaks(struct ctx *c, const char *path)
{
	struct vhd_check_result *res = c->res, again;
	struct vhd *v;
	int ret, r2;

	ret = vhd_open(path, VHD_NOPARENT, &v);
	if (ret)
		return ret;
	if (c->repairable_footer)
		res->leaks_fixed++;
	ret = vhd_relocate(v, NULL, NULL);
	r2 = vhd_close(v);
	if (!ret)
		ret = r2;
	/* count what is left */
	if (ret == 0 && vhd_check(path, 0, NULL, NULL, &again) == 0 && again.leaks < res->leaks)
		res->leaks_fixed = res->leaks - again.leaks;
	return ret;
}

int vhd_check(const char *path, unsigned flags, vhd_problem_fn fn, void *opaque,
	      struct vhd_check_result *res)
{
	struct ctx c = { .fn = fn, .opaque = opaque, .res = res, .fd = -1 };
	struct vhd_footer f0;
	uint8_t fb[512], f0b[512];
	struct stat st;
	const char *why = "", *why0 = "";
	bool tail_ok, head_ok;
	uint64_t fsize;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	vhd_seterr("%s", "");
	c.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c.fd < 0) {
		ret = -errno;
		vhd_seterr("%s: %s", path, strerror(errno));
		return ret;
	}
	if (!(flags & VHD_CHECK_NOLOCK) && (ret = vhd_lock_fd(c.fd, VHD_LOCK_SHARED, path)))
		goto out;
	if (fstat(c.fd, &st)) {
		ret = -errno;
		goto out;
	}
	fsize = (uint64_t)st.st_size;
	if (fsize < 512) {
		report(&c, VHD_PROBLEM_CORRUPT, 0, 0, "file too short for a VHD footer (%llu bytes)",
		       (unsigned long long)fsize);
		goto out;
	}
	tail_ok = vhd_pread_full(c.fd, fb, 512, fsize - 512) == 0 &&
		  vhd_footer_parse(fb, &c.f, &why) == 0;
	head_ok = vhd_pread_full(c.fd, f0b, 512, 0) == 0 && vhd_footer_parse(f0b, &f0, &why0) == 0;
	if (!tail_ok && !(head_ok && f0.type != VHD_TYPE_FIXED)) {
		report(&c, VHD_PROBLEM_CORRUPT, fsize - 512, 0, "footer: %s", why);
		goto out;
	}
	if (tail_ok) {
		c.end = fsize - 512;
	} else {
		c.f = f0;
		c.end = (fsize + 511) / 512 * 512;
		report(&c, VHD_PROBLEM_LEAK, fsize - 512, 0,
		       "trailing footer damaged (%s); the copy at offset 0 is valid (repairable)", why);
		c.repairable_footer = true;
	}
	res->type = (enum vhd_type)c.f.type;
	if (fsize % 512)
		report(&c, VHD_PROBLEM_CORRUPT, fsize, 0, "file size %llu is not a multiple of 512",
		       (unsigned long long)fsize);
	c.vsize = vhd_footer_vsize(&c.f);
	if (c.vsize > VHD_MAX_SIZE)
		report(&c, VHD_PROBLEM_CORRUPT, c.end + 48, 0, "disk size %llu exceeds 2040 GiB",
		       (unsigned long long)c.vsize);
	if (c.f.type == VHD_TYPE_FIXED) {
		check_fixed(&c);
		goto out;
	}
	check_footer_copy(&c, fb, f0b, tail_ok, head_ok, why0);
	if ((ret = check_dynamic(&c)))
		goto out;
	if (c.f.type == VHD_TYPE_DIFF && res->corruptions == 0 && (ret = check_parent(&c, path, flags)))
		goto out;
	if ((flags & VHD_CHECK_REPAIR_LEAKS) && res->corruptions == 0 && res->leaks) {
		close(c.fd);
		c.fd = -1;
		ret = repair_leaks(&c, path);
	}
out:
	if (ret && !vhd_errmsg()[0])
		vhd_seterr("%s: check failed: %s", path, strerror(-ret));
	if (c.fd >= 0)
		close(c.fd);
	return ret;
}
