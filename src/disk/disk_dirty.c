/* The block layer's dirty-block bitmap (disk.h): one bit per 64 KiB block, set by completed
 * writes on any thread, taken (read and cleared atomically) by a copier. */
#include "disk/disk.h"

#include <stdlib.h>
#include <string.h>

uint64_t disk_dirty_blocks(const struct disk *d)
{
	return (d->size + DISK_DIRTY_BLOCK - 1) >> DISK_DIRTY_SHIFT;
}

uint64_t disk_dirty_words(const struct disk *d)
{
	return (disk_dirty_blocks(d) + 63) / 64;
}

int disk_dirty_start(struct disk *d, bool all)
{
	uint64_t words = disk_dirty_words(d), blocks = disk_dirty_blocks(d);

	if (!d->dirty_map) {
		d->dirty_map = calloc(words ? words : 1, sizeof(uint64_t));
		if (!d->dirty_map)
			return -ENOMEM;
	}
	for (uint64_t w = 0; w < words; w++) {
		uint64_t v = 0;

		if (all)
			v = w + 1 < words || blocks % 64 == 0 ? ~0ULL : (1ULL << (blocks % 64)) - 1;
		__atomic_store_n(&d->dirty_map[w], v, __ATOMIC_RELAXED);
	}
	/* the map is in place before any writer sees marking on */
	__atomic_store_n(&d->dirty_on, 1, __ATOMIC_SEQ_CST);
	return 0;
}

void disk_dirty_stop(struct disk *d)
{
	__atomic_store_n(&d->dirty_on, 0, __ATOMIC_SEQ_CST);
}

void disk_dirty_mark(struct disk *d, uint64_t sector, uint64_t nsectors)
{
	uint64_t first, last, end;

	/* seq_cst: a writer that sees marking off completed its write before the start, so
	 * the copier's first pass (which begins after the start) reads its data */
	if (!nsectors || !__atomic_load_n(&d->dirty_on, __ATOMIC_SEQ_CST))
		return;
	if (sector >= d->size / DISK_SECTOR)
		return;
	end = sector + nsectors;
	if (end > d->size / DISK_SECTOR || end < sector)
		end = d->size / DISK_SECTOR;
	first = sector * DISK_SECTOR >> DISK_DIRTY_SHIFT;
	last = (end * DISK_SECTOR - 1) >> DISK_DIRTY_SHIFT;
	while (first <= last) {
		uint64_t w = first / 64, lo = first % 64;
		uint64_t hi = last / 64 == w ? last % 64 : 63;
		uint64_t bits = (hi == 63 ? ~0ULL : (1ULL << (hi + 1)) - 1) & ~((1ULL << lo) - 1);

		__atomic_fetch_or(&d->dirty_map[w], bits, __ATOMIC_SEQ_CST);
		first = w * 64 + hi + 1;
	}
}

uint64_t disk_dirty_take(struct disk *d, uint64_t w)
{
	if (!d->dirty_map || w >= disk_dirty_words(d))
		return 0;
	return __atomic_exchange_n(&d->dirty_map[w], 0, __ATOMIC_SEQ_CST);
}

uint64_t disk_dirty_count(struct disk *d)
{
	uint64_t n = 0;

	for (uint64_t w = 0; d->dirty_map && w < disk_dirty_words(d); w++)
		n += (uint64_t)__builtin_popcountll(__atomic_load_n(&d->dirty_map[w],
								    __ATOMIC_RELAXED));
	return n;
}
