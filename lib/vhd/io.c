/* libvhd: reads, writes, zeroing and map, and block allocation (the bitmap cache and the
 * metadata flush are in bitmap.c). Write ordering (docs/vhd.md): a new block gets its footer moved past it and
 * its initial bitmap written first (the block is not referenced yet); data goes to the
 * block; the BAT entry and changed bitmap bits stay in memory until vhd_flush, which
 * syncs the data, then writes bitmaps and BAT sectors, then syncs again. */
#include "vhd/vhd_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IOV_STACK 32

static uint32_t bat_get(struct vhd *v, uint32_t b)
{
	return __atomic_load_n(&v->bat[b], __ATOMIC_ACQUIRE);
}

/* ---- iovec cursor ---- */

struct cur {
	const struct iovec *iov;
	int cnt, idx;
	size_t off;
};

/* Take len bytes from the cursor into dst (at most max entries); returns count or -1. */
static int cur_take(struct cur *c, size_t len, struct iovec *dst, int max)
{
	int n = 0;

	while (len) {
		if (c->idx >= c->cnt || n >= max)
			return -1;
		size_t room = c->iov[c->idx].iov_len - c->off;
		if (room == 0) {
			c->idx++;
			c->off = 0;
			continue;
		}
		size_t k = room < len ? room : len;
		dst[n].iov_base = (uint8_t *)c->iov[c->idx].iov_base + c->off;
		dst[n].iov_len = k;
		n++;
		c->off += k;
		len -= k;
		if (c->off == c->iov[c->idx].iov_len) {
			c->idx++;
			c->off = 0;
		}
	}
	return n;
}

static void iov_zero(const struct iovec *iov, int n)
{
	for (int i = 0; i < n; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
}

static bool iov_is_zero(const struct iovec *iov, int n)
{
	for (int i = 0; i < n; i++)
		if (!vhd_is_zero(iov[i].iov_base, iov[i].iov_len))
			return false;
	return true;
}

/* Read (is_write false) or write all of iov[0..n) at byte offset off, retrying short transfers and
 * EINTR. The iovec array is consumed: entries are advanced in place. 0 or -errno; a read that
 * reaches the end of the file is -EIO. */
static int iov_full(int fd, struct iovec *iov, int n, uint64_t off, bool is_write)
{
	while (n > 0) {
		int cnt = n > 1024 ? 1024 : n;
		ssize_t r = is_write ? pwritev(fd, iov, cnt, (off_t)off) : preadv(fd, iov, cnt, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0 && !is_write)
			return -EIO;
		off += (uint64_t)r;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0 && r) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

/* Length of the run of sectors from s (within block b, at most n) with the same presence
 * as sector s; *present receives it. */
static int block_run(struct vhd *v, uint32_t b, uint32_t s, uint32_t n, bool *present,
		     uint32_t *len)
{
	struct vhd_bm *m;
	int ret;

	if (bat_get(v, b) == VHD_BAT_FREE) {
		*present = false;
		*len = n;
		return 0;
	}
	if (__atomic_load_n(&v->full[b], __ATOMIC_ACQUIRE)) {
		*present = true;
		*len = n;
		return 0;
	}
	pthread_mutex_lock(&v->lock);
	ret = vhd_bm_get(v, b, &m);
	if (ret == 0) {
		bool p = vhd_bit_get(m->bits, s);
		uint32_t i = s + 1;
		while (i < s + n) {
			if ((i & 7) == 0 && i + 8 <= s + n && m->bits[i >> 3] == (p ? 0xff : 0)) {
				i += 8;
				continue;
			}
			if (vhd_bit_get(m->bits, i) != p)
				break;
			i++;
		}
		*present = p;
		*len = i - s;
		if (p && *len == v->spb)
			__atomic_store_n(&v->full[b], 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&v->lock);
	return ret;
}

/* ---- allocation ---- */

int vhd_write_footer_at(struct vhd *v, uint64_t off)
{
	return vhd_pwrite_full(v->fd, v->footer_raw, 512, off);
}

/* Allocate block b at the end of the file (v->lock held). */
static int block_alloc(struct vhd *v, uint32_t b)
{
	uint64_t off = v->end;
	uint64_t new_end = off + (uint64_t)(v->bm_sectors + v->spb) * 512;
	uint8_t *bm;
	int ret;

	if (new_end / 512 > 0xFFFFFFFFull) {
		vhd_seterr("%s: file would grow past the 2 TiB the BAT can address", v->path);
		return -EFBIG;
	}
	/* 1. the footer moves past the new block: the file stays a valid VHD */
	ret = vhd_write_footer_at(v, new_end);
	if (ret)
		return ret;
	/* 2. the block's bitmap (over the old footer): all ones for a dynamic disk (the fresh
	 * space reads as zeros), empty for a differencing disk */
	bm = malloc(v->bm_bytes);
	if (!bm)
		return -ENOMEM;
	memset(bm, v->type == VHD_TYPE_DYNAMIC ? 0xff : 0, v->bm_bytes);
	ret = vhd_pwrite_full(v->fd, bm, v->bm_bytes, off);
	free(bm);
	if (ret)
		return ret;
	v->end = new_end;
	/* 3. the BAT entry, in memory until the next flush */
	__atomic_store_n(&v->bat[b], (uint32_t)(off / 512), __ATOMIC_RELEASE);
	v->bat_dirty[b / 128] = 1;
	v->bat_any_dirty = true;
	if (v->type == VHD_TYPE_DYNAMIC) {
		__atomic_store_n(&v->full[b], 1, __ATOMIC_RELEASE);
	} else {
		struct vhd_bm *m = vhd_bm_find(v, b);
		if (!m)
			m = vhd_bm_insert(v, b);
		if (m)
			memset(m->bits, 0, v->bm_bytes);
	}
	return 0;
}

static int ensure_block(struct vhd *v, uint32_t b)
{
	int ret = 0;

	if (bat_get(v, b) != VHD_BAT_FREE)
		return 0;
	pthread_mutex_lock(&v->lock);
	if (v->bat[b] == VHD_BAT_FREE)
		ret = block_alloc(v, b);
	pthread_mutex_unlock(&v->lock);
	return ret;
}

/* Does any ancestor of v hold data in [s, s+n)? 1, 0 or -errno. */
static int parent_has_data(struct vhd *v, uint64_t s, uint64_t n)
{
	struct vhd_extent e;

	if (v->type != VHD_TYPE_DIFF)
		return 0;
	if (!v->parent)
		return 1;
	while (n) {
		int ret = vhd_map(v->parent, s, n, &e);
		if (ret)
			return ret;
		if (e.depth >= 0)
			return 1;
		s += e.nsectors;
		n -= e.nsectors;
	}
	return 0;
}

/* ---- read ---- */

static int check_range(struct vhd *v, uint64_t s, uint64_t n)
{
	if (s > v->nsectors || n > v->nsectors - s) {
		vhd_seterr("%s: access to sectors %llu+%llu beyond the disk end %llu", v->path,
			   (unsigned long long)s, (unsigned long long)n,
			   (unsigned long long)v->nsectors);
		return -EINVAL;
	}
	return 0;
}

static int iov_sectors(const struct iovec *iov, int cnt, uint64_t *n)
{
	uint64_t t = 0;

	if (cnt < 0)
		return -EINVAL;
	for (int i = 0; i < cnt; i++)
		t += iov[i].iov_len;
	if (t % 512)
		return -EINVAL;
	*n = t / 512;
	return 0;
}

/* The length of a request in sectors, in *n, checked: a multiple of 512 bytes that fits on
 * the disk from sector on. 0 or -errno, with the message set. */
static int io_length(struct vhd *v, uint64_t sector, const struct iovec *iov, int cnt,
		     uint64_t *n)
{
	int ret = iov_sectors(iov, cnt, n);

	if (ret) {
		vhd_seterr("%s: I/O length is not a multiple of 512", v->path);
		return ret;
	}
	return check_range(v, sector, *n);
}

static int do_readv(struct vhd *v, uint64_t sector, const struct iovec *iov, int iovcnt,
		    uint64_t n)
{
	struct iovec stack[IOV_STACK], *sub = stack;
	struct cur c = { iov, iovcnt, 0, 0 };
	int max = iovcnt + 1, ret = 0;

	if (max > IOV_STACK) {
		sub = malloc(sizeof(*sub) * (size_t)max);
		if (!sub)
			return -ENOMEM;
	}
	if (v->type == VHD_TYPE_FIXED) {
		int k = cur_take(&c, n * 512, sub, max);
		ret = k < 0 ? -EINVAL : iov_full(v->fd, sub, k, sector * 512, false);
		goto out;
	}
	while (n && ret == 0) {
		uint32_t b = (uint32_t)(sector / v->spb), in = (uint32_t)(sector % v->spb);
		uint32_t len = v->spb - in;
		bool present;
		if (len > n)
			len = (uint32_t)n;
		ret = block_run(v, b, in, len, &present, &len);
		if (ret)
			break;
		int k = cur_take(&c, (size_t)len * 512, sub, max);
		if (k < 0) {
			ret = -EINVAL;
			break;
		}
		if (present) {
			uint64_t off = (uint64_t)bat_get(v, b) * 512 + v->bm_bytes + (uint64_t)in * 512;
			ret = iov_full(v->fd, sub, k, off, false);
		} else if (v->type == VHD_TYPE_DIFF) {
			if (!v->parent) {
				vhd_seterr("%s: read needs the parent, which is not open", v->path);
				ret = -ENOLINK;
			} else {
				ret = do_readv(v->parent, sector, sub, k, len);
			}
		} else {
			iov_zero(sub, k);
		}
		sector += len;
		n -= len;
	}
out:
	if (sub != stack)
		free(sub);
	return ret;
}

int vhd_readv(struct vhd *v, uint64_t sector, const struct iovec *iov, int iovcnt)
{
	uint64_t n;
	int ret = io_length(v, sector, iov, iovcnt, &n);

	return ret ? ret : do_readv(v, sector, iov, iovcnt, n);
}

int vhd_read(struct vhd *v, uint64_t sector, void *buf, uint64_t nsectors)
{
	struct iovec iov = { buf, nsectors * 512 };

	return vhd_readv(v, sector, &iov, 1);
}

/* ---- write ---- */

static int maybe_flush(struct vhd *v)
{
	unsigned d;

	pthread_mutex_lock(&v->lock);
	d = v->bm_dirty;
	pthread_mutex_unlock(&v->lock);
	return d > VHD_BM_DIRTY_MAX ? vhd_flush_meta(v, !(v->flags & VHD_NOSYNC)) : 0;
}

int vhd_writev(struct vhd *v, uint64_t sector, const struct iovec *iov, int iovcnt)
{
	struct iovec stack[IOV_STACK], *sub = stack;
	struct cur c = { iov, iovcnt, 0, 0 };
	uint64_t n;
	int max = iovcnt + 1, ret;

	if (v->rdonly)
		return -EROFS;
	ret = io_length(v, sector, iov, iovcnt, &n);
	if (ret)
		return ret;
	if (max > IOV_STACK) {
		sub = malloc(sizeof(*sub) * (size_t)max);
		if (!sub)
			return -ENOMEM;
	}
	if (v->type == VHD_TYPE_FIXED) {
		int k = cur_take(&c, n * 512, sub, max);
		ret = k < 0 ? -EINVAL : iov_full(v->fd, sub, k, sector * 512, true);
		goto out;
	}
	while (n && ret == 0) {
		uint32_t b = (uint32_t)(sector / v->spb), in = (uint32_t)(sector % v->spb);
		uint32_t len = v->spb - in;
		if (len > n)
			len = (uint32_t)n;
		int k = cur_take(&c, (size_t)len * 512, sub, max);
		if (k < 0) {
			ret = -EINVAL;
			break;
		}
		if (bat_get(v, b) == VHD_BAT_FREE && iov_is_zero(sub, k)) {
			int has = parent_has_data(v, sector, len);
			if (has < 0) {
				ret = has;
				break;
			}
			if (!has)
				goto next; /* reads as zeros already: stays unallocated */
			ret = ensure_block(v, b);
			if (ret == 0) /* fresh space reads as zeros: only the bits */
				ret = vhd_bm_set_range(v, b, in, len);
			goto next;
		}
		ret = ensure_block(v, b);
		if (ret)
			break;
		ret = iov_full(v->fd, sub, k,
			       (uint64_t)bat_get(v, b) * 512 + v->bm_bytes + (uint64_t)in * 512, true);
		if (ret == 0)
			ret = vhd_bm_set_range(v, b, in, len);
next:
		sector += len;
		n -= len;
	}
	if (ret == 0)
		ret = maybe_flush(v);
out:
	if (sub != stack)
		free(sub);
	return ret;
}

int vhd_write(struct vhd *v, uint64_t sector, const void *buf, uint64_t nsectors)
{
	struct iovec iov = { (void *)buf, nsectors * 512 };

	return vhd_writev(v, sector, &iov, 1);
}

/* Zero bytes [off, off+len) of the file: punch a hole, or write zeros. */
static int zero_file_range(struct vhd *v, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[65536];

	if (fallocate(v->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	while (len) {
		size_t k = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		int ret = vhd_pwrite_full(v->fd, zeros, k, off);
		if (ret)
			return ret;
		off += k;
		len -= k;
	}
	return 0;
}

int vhd_write_zeroes(struct vhd *v, uint64_t sector, uint64_t n)
{
	int ret;

	if (v->rdonly)
		return -EROFS;
	ret = check_range(v, sector, n);
	if (ret)
		return ret;
	if (v->type == VHD_TYPE_FIXED)
		return zero_file_range(v, sector * 512, n * 512);
	while (n && ret == 0) {
		uint32_t b = (uint32_t)(sector / v->spb), in = (uint32_t)(sector % v->spb);
		uint32_t len = v->spb - in;
		if (len > n)
			len = (uint32_t)n;
		if (bat_get(v, b) == VHD_BAT_FREE) {
			int has = parent_has_data(v, sector, len);
			if (has < 0)
				return has;
			if (has) {
				ret = ensure_block(v, b);
				if (ret == 0)
					ret = vhd_bm_set_range(v, b, in, len);
			}
		} else {
			ret = zero_file_range(v, (uint64_t)bat_get(v, b) * 512 + v->bm_bytes +
					      (uint64_t)in * 512, (uint64_t)len * 512);
			if (ret == 0 && v->type == VHD_TYPE_DIFF)
				ret = vhd_bm_set_range(v, b, in, len);
		}
		sector += len;
		n -= len;
	}
	if (ret == 0)
		ret = maybe_flush(v);
	return ret;
}

int vhd_discard(struct vhd *v, uint64_t sector, uint64_t n)
{
	return vhd_write_zeroes(v, sector, n);
}

/* ---- map ---- */

/* One run within one block of v (or the whole range for fixed). */
static int map_one(struct vhd *v, uint64_t s, uint64_t n, int *depth, uint64_t *off,
		   uint64_t *len)
{
	uint32_t b, in, l;
	bool present;
	int ret;

	if (v->type == VHD_TYPE_FIXED) {
		*depth = 0;
		*off = s * 512;
		*len = n;
		return 0;
	}
	b = (uint32_t)(s / v->spb);
	in = (uint32_t)(s % v->spb);
	l = v->spb - in;
	if (l > n)
		l = (uint32_t)n;
	ret = block_run(v, b, in, l, &present, &l);
	if (ret)
		return ret;
	*len = l;
	if (present) {
		*depth = 0;
		*off = (uint64_t)bat_get(v, b) * 512 + v->bm_bytes + (uint64_t)in * 512;
		return 0;
	}
	*off = 0;
	if (v->type == VHD_TYPE_DYNAMIC) {
		*depth = -1;
		return 0;
	}
	if (!v->parent) {
		*depth = 1;
		return 0;
	}
	ret = map_one(v->parent, s, l, depth, off, len);
	if (ret == 0 && *depth >= 0)
		(*depth)++;
	return ret;
}

int vhd_map(struct vhd *v, uint64_t sector, uint64_t n, struct vhd_extent *e)
{
	int ret = check_range(v, sector, n);

	if (ret)
		return ret;
	if (n == 0)
		return -EINVAL;
	e->sector = sector;
	ret = map_one(v, sector, n, &e->depth, &e->file_offset, &e->nsectors);
	while (ret == 0 && e->nsectors < n) {
		int d;
		uint64_t off, len;
		ret = map_one(v, sector + e->nsectors, n - e->nsectors, &d, &off, &len);
		if (ret)
			break;
		if (d != e->depth)
			break;
		if (d >= 0 && (!off || off != e->file_offset + e->nsectors * 512))
			break;
		e->nsectors += len;
	}
	return ret;
}

