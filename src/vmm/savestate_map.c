/* Lazy restore of guest memory from a save file: see savestate_map.h. */
#include "vmm/savestate_map.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK_CHUNK (1u << 20) /* bytes per read of savestate_check_memory */

uint32_t savestate_map_budget(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	unsigned long n = 0;
	uint32_t b = SAVESTATE_MAP_MAX_RUNS;

	if (f) {
		if (fscanf(f, "%lu", &n) == 1 && n / SAVESTATE_MAP_MAP_COUNT_SHARE < b)
			b = (uint32_t)(n / SAVESTATE_MAP_MAP_COUNT_SHARE);
		fclose(f);
	}
	return b ? b : 1;
}

static bool stored(const uint8_t *b, uint64_t i)
{
	return b[i / 8] & (1u << (i % 8));
}

/* The next run of stored pages at or after *i: returns its length (0: none left) and its
 * first page in *first; *i goes past it. Whole bytes of the bitmap at a time where it can. */
static uint64_t next_run(const uint8_t *b, uint64_t npages, uint64_t *i, uint64_t *first)
{
	uint64_t j;

	while (*i < npages && !stored(b, *i))
		*i += (*i % 8 == 0 && !b[*i / 8]) ? 8 : 1;
	if (*i >= npages)
		return 0;
	j = *i;
	while (j < npages && stored(b, j))
		j += (j % 8 == 0 && b[j / 8] == 0xff && j + 8 <= npages) ? 8 : 1;
	*first = *i;
	*i = j;
	return j - *first;
}

static unsigned log2_floor(uint64_t v)
{
	return 63u - (unsigned)__builtin_clzll(v);
}

int savestate_map_memory(int fd, const struct savestate *s, struct guest_mem *m,
			 uint32_t max_runs, struct savestate_map_stats *st,
			 const char **why)
{
	const struct savestate_mem_hdr *h = &s->mem;
	uint64_t npages = h->mem_size / SAVESTATE_PAGE, hist[64] = { 0 }, above = 0, extra;
	uint64_t i, first, len, k = 0;
	struct savestate_map_stats z = { 0 };
	unsigned lg, t, t0 = log2_floor(SAVESTATE_MAP_MIN_PAGES);
	bool nomap = false;
	int ret;

	if (h->mem_size != m->size || (h->data_offset % SAVESTATE_PAGE))
		return *why = "the memory section does not fit this VM's memory", -EINVAL;
	if (!max_runs)
		max_runs = savestate_map_budget();
	/* The mapped runs: every run of at least 2^t pages, t the smallest (at least
	 * log2(SAVESTATE_MAP_MIN_PAGES)) that leaves no more than max_runs of them; what is
	 * left of the budget goes to the runs of 2^(t-1) to 2^t - 1 pages, first come. */
	for (i = 0; (len = next_run(s->bitmap, npages, &i, &first)); )
		hist[log2_floor(len)]++;
	t = 64;
	while (t > t0 && above + hist[t - 1] <= max_runs)
		above += hist[--t];
	extra = t > t0 ? max_runs - above : 0;
	for (i = 0; (len = next_run(s->bitmap, npages, &i, &first)); k += len) {
		uint64_t foff = h->data_offset + k * SAVESTATE_PAGE;
		bool map;

		z.runs++;
		if (k + len > h->nr_data_pages) {
			*why = "the memory bitmap does not match the page count";
			ret = -EINVAL;
			goto out;
		}
		lg = log2_floor(len);
		map = !nomap && len >= SAVESTATE_MAP_MIN_PAGES &&
		      (lg >= t || (lg + 1 == t && extra));
		if (map) {
			if (lg < t)
				extra--;
			ret = guest_mem_map_file(m, first * SAVESTATE_PAGE, len * SAVESTATE_PAGE,
						 fd, foff);
			if (ret == 0) {
				z.mapped_runs++;
				z.mapped_pages += len;
				continue;
			}
			if (ret == -EINVAL) {
				*why = "the memory section's page data is misplaced";
				goto out;
			}
			nomap = true; /* the kernel refuses: read this run and the rest */
		}
		ret = savestate_pread_all(fd, m->host + first * SAVESTATE_PAGE,
					  len * SAVESTATE_PAGE, foff);
		if (ret) {
			*why = "the memory section is truncated";
			goto out;
		}
		z.read_pages += len;
	}
	ret = 0;
	if (k != h->nr_data_pages) {
		*why = "the memory bitmap does not match the page count";
		ret = -EINVAL;
	}
	if (st)
		*st = z;
out:
	guest_mem_map_done(m);
	return ret;
}

int savestate_check_memory(int fd, const struct savestate *s, const int *stop,
			   const char **why)
{
	uint64_t off = s->mem_payload_off, left = s->mem_payload_len;
	uint8_t *buf = malloc(CHECK_CHUNK);
	uint32_t c = 0;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	while (left) {
		size_t n = left > CHECK_CHUNK ? CHECK_CHUNK : (size_t)left;

		if (stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE)) {
			ret = -ECANCELED;
			goto out;
		}
		ret = savestate_pread_all(fd, buf, n, off);
		if (ret) {
			*why = ret == -EINVAL ? "the memory section is truncated (the file changed)"
					      : "cannot read the memory section";
			goto out;
		}
		c = savestate_crc32(c, buf, n);
		off += n;
		left -= n;
	}
	if (c != s->mem_crc) {
		*why = "the guest memory is corrupt (CRC mismatch)";
		ret = -EINVAL;
	}
out:
	free(buf);
	return ret;
}
