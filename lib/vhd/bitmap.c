/* libvhd: the sector bitmap cache and the metadata flush. Bitmaps of allocated blocks are
 * cached (v->lock held for every call here); changed bits and BAT entries stay in memory until
 * vhd_flush_meta, which syncs the data, then writes bitmaps and BAT sectors, then syncs again
 * (docs/vhd.md, write ordering). */
#include "vhd/vhd_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- bitmap cache (v->lock held) ---- */

struct vhd_bm *vhd_bm_find(struct vhd *v, uint32_t b)
{
	for (struct vhd_bm *m = v->bm_hash[b % VHD_BM_HASH]; m; m = m->next)
		if (m->block == b)
			return m;
	return NULL;
}

void vhd_bm_trim_clean(struct vhd *v)
{
	for (int i = 0; i < VHD_BM_HASH; i++) {
		struct vhd_bm **pp = &v->bm_hash[i];
		while (*pp) {
			struct vhd_bm *m = *pp;
			if (!m->dirty) {
				*pp = m->next;
				free(m);
				v->bm_clean--;
			} else {
				pp = &m->next;
			}
		}
	}
}

void vhd_bm_drop_all(struct vhd *v)
{
	for (int i = 0; i < VHD_BM_HASH; i++) {
		while (v->bm_hash[i]) {
			struct vhd_bm *m = v->bm_hash[i];
			v->bm_hash[i] = m->next;
			free(m);
		}
	}
	v->bm_clean = v->bm_dirty = 0;
}

struct vhd_bm *vhd_bm_insert(struct vhd *v, uint32_t b)
{
	struct vhd_bm *m;

	if (v->bm_clean >= VHD_BM_CLEAN_MAX)
		vhd_bm_trim_clean(v);
	m = calloc(1, sizeof(*m) + v->bm_bytes);
	if (!m)
		return NULL;
	m->block = b;
	m->next = v->bm_hash[b % VHD_BM_HASH];
	v->bm_hash[b % VHD_BM_HASH] = m;
	v->bm_clean++;
	return m;
}

/* The bitmap of allocated block b, loaded if needed. */
int vhd_bm_get(struct vhd *v, uint32_t b, struct vhd_bm **out)
{
	struct vhd_bm *m = vhd_bm_find(v, b);
	int ret;

	if (!m) {
		m = vhd_bm_insert(v, b);
		if (!m)
			return -ENOMEM;
		ret = vhd_pread_full(v->fd, m->bits, v->bm_bytes, (uint64_t)v->bat[b] * 512);
		if (ret) {
			v->bm_hash[b % VHD_BM_HASH] = m->next;
			v->bm_clean--;
			free(m);
			return ret;
		}
	}
	*out = m;
	return 0;
}

void vhd_bm_mark_dirty(struct vhd *v, struct vhd_bm *m)
{
	if (!m->dirty) {
		m->dirty = true;
		v->bm_clean--;
		v->bm_dirty++;
	}
}

bool vhd_bit_get(const uint8_t *bits, uint32_t i)
{
	return bits[i >> 3] & (0x80 >> (i & 7));
}

bool vhd_bits_all_set(const uint8_t *bits, uint32_t n)
{
	for (uint32_t i = 0; i < n / 8; i++)
		if (bits[i] != 0xff)
			return false;
	for (uint32_t i = n / 8 * 8; i < n; i++)
		if (!vhd_bit_get(bits, i))
			return false;
	return true;
}

/* Set bits [s, s+n) of block b (allocated). Returns 0 or -errno. */
int vhd_bm_set_range(struct vhd *v, uint32_t b, uint32_t s, uint32_t n)
{
	struct vhd_bm *m;
	int ret;

	if (__atomic_load_n(&v->full[b], __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&v->lock);
	ret = vhd_bm_get(v, b, &m);
	if (ret == 0) {
		bool changed = false;
		for (uint32_t i = s; i < s + n; i++) {
			if ((i & 7) == 0 && i + 8 <= s + n) {
				if (m->bits[i >> 3] != 0xff) {
					m->bits[i >> 3] = 0xff;
					changed = true;
				}
				i += 7;
				continue;
			}
			if (!vhd_bit_get(m->bits, i)) {
				m->bits[i >> 3] |= (uint8_t)(0x80 >> (i & 7));
				changed = true;
			}
		}
		if (changed)
			vhd_bm_mark_dirty(v, m);
		if (vhd_bits_all_set(m->bits, v->spb))
			__atomic_store_n(&v->full[b], 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&v->lock);
	return ret;
}


/* ---- flush ---- */

struct wr {
	uint64_t off;
	uint32_t len;
	uint32_t block; /* for bitmaps: block; BAT: UINT32_MAX */
	uint8_t *buf;
};

int vhd_flush_meta(struct vhd *v, bool sync)
{
	struct wr *w = NULL;
	size_t nw = 0, cap = 0;
	int ret = 0;

	pthread_mutex_lock(&v->flush_lock);
	pthread_mutex_lock(&v->lock);
	cap = v->bm_dirty + (v->bat_any_dirty ? v->bat_sectors : 0);
	if (cap) {
		w = calloc(cap, sizeof(*w));
		if (!w) {
			pthread_mutex_unlock(&v->lock);
			ret = -ENOMEM;
			goto out;
		}
	}
	for (int i = 0; i < VHD_BM_HASH && v->bm_dirty; i++)
		for (struct vhd_bm *m = v->bm_hash[i]; m; m = m->next) {
			if (!m->dirty)
				continue;
			uint8_t *copy = malloc(v->bm_bytes);
			if (!copy)
				continue; /* stays dirty */
			memcpy(copy, m->bits, v->bm_bytes);
			w[nw++] = (struct wr){ (uint64_t)v->bat[m->block] * 512, v->bm_bytes, m->block, copy };
			m->dirty = false;
			v->bm_dirty--;
			v->bm_clean++;
		}
	if (v->bat_any_dirty) {
		for (uint32_t sct = 0; sct < v->bat_sectors; sct++) {
			if (!v->bat_dirty[sct])
				continue;
			/* coalesce runs of dirty sectors into one write */
			uint32_t e = sct;
			while (e + 1 < v->bat_sectors && v->bat_dirty[e + 1])
				e++;
			uint32_t len = (e - sct + 1) * 512;
			uint8_t *buf = malloc(len);
			if (!buf)
				break;
			for (uint32_t k = 0; k < len / 4; k++)
				vhd_put32(buf + 4 * k, v->bat[sct * 128 + k]);
			for (uint32_t k = sct; k <= e; k++)
				v->bat_dirty[k] = 0;
			w[nw++] = (struct wr){ v->h.bat_offset + (uint64_t)sct * 512, len, UINT32_MAX, buf };
			sct = e;
		}
		v->bat_any_dirty = false;
		for (uint32_t sct = 0; sct < v->bat_sectors; sct++)
			if (v->bat_dirty[sct])
				v->bat_any_dirty = true;
	}
	pthread_mutex_unlock(&v->lock);

	/* data (and the bitmaps of new blocks) durable before the metadata pointing at it */
	if (sync && fdatasync(v->fd))
		ret = -errno;
	for (size_t i = 0; i < nw && ret == 0; i++)
		ret = vhd_pwrite_full(v->fd, w[i].buf, w[i].len, w[i].off);
	if (ret == 0 && nw && sync && fdatasync(v->fd))
		ret = -errno;
	if (ret) {
		/* mark everything we took dirty again: a later flush retries */
		pthread_mutex_lock(&v->lock);
		for (size_t i = 0; i < nw; i++) {
			if (w[i].block == UINT32_MAX) {
				uint32_t s0 = (uint32_t)((w[i].off - v->h.bat_offset) / 512);
				for (uint32_t k = 0; k < w[i].len / 512; k++)
					v->bat_dirty[s0 + k] = 1;
				v->bat_any_dirty = true;
			} else {
				struct vhd_bm *m = vhd_bm_find(v, w[i].block);
				if (!m && (m = vhd_bm_insert(v, w[i].block)))
					memcpy(m->bits, w[i].buf, v->bm_bytes);
				if (m)
					vhd_bm_mark_dirty(v, m);
			}
		}
		pthread_mutex_unlock(&v->lock);
		vhd_seterr("%s: flush failed: %s", v->path, strerror(-ret));
	}
	for (size_t i = 0; i < nw; i++)
		free(w[i].buf);
	free(w);
out:
	pthread_mutex_unlock(&v->flush_lock);
	return ret;
}

int vhd_flush(struct vhd *v)
{
	if (v->rdonly)
		return 0;
	if (v->type == VHD_TYPE_FIXED) {
		if (!(v->flags & VHD_NOSYNC) && fdatasync(v->fd))
			return -errno;
		return 0;
	}
	return vhd_flush_meta(v, !(v->flags & VHD_NOSYNC));
}
