#include "vmm/mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Guest RAM from this address up may use transparent huge pages. Below it live what every
 * guest touches sparsely at start-up (the real-mode area, the boot data, a small kernel and
 * the test guests' stacks): huge pages there would zero and count 2 MiB per first touch
 * (the hello guest: 6 MiB RSS instead of 2, and a slower start). Above it, guests keep their
 * large buffers and page cache: 2 MiB pages make the host's O_DIRECT I/O into them cheaper
 * (one page to pin and one block-layer segment per 2 MiB instead of 512: a 1 MiB request no
 * longer exceeds a disk's segment limit and splits), and KVM can map them 2 MiB at a time. */
#define MEM_HUGE_FROM (4ULL << 20)
#define MEM_HUGE_SIZE (2ULL << 20)

int guest_mem_create(uint64_t size, struct guest_mem **out)
{
	return guest_mem_create_hole(size, MEM_HOLE_START, out);
}

int guest_mem_create_hole(uint64_t size, uint64_t hole_start, struct guest_mem **out)
{
	struct guest_mem *m;
	uint8_t *map, *host;
	uintptr_t a;

	if (size < (1ULL << 20) || (size & 4095) || size > UINT64_MAX - MEM_HUGE_SIZE ||
	    hole_start < (1ULL << 20) || hole_start > MEM_HIGH_START || (hole_start & 4095))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	/* Map 2 MiB more and trim, so that guest-physical 2 MiB frames are host huge pages. */
	map = mmap(NULL, size + MEM_HUGE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED) {
		free(m);
		return -ENOMEM;
	}
	a = ((uintptr_t)map + MEM_HUGE_SIZE - 1) & ~(uintptr_t)(MEM_HUGE_SIZE - 1);
	host = (uint8_t *)a;
	if (host > map)
		munmap(map, host - map);
	if (map + MEM_HUGE_SIZE > host)
		munmap(host + size, map + MEM_HUGE_SIZE - host);
	m->host = host;
	/* Guest RAM is never part of a host core dump. */
	madvise(m->host, size, MADV_DONTDUMP);
	if (size > MEM_HUGE_FROM)
		madvise(m->host + MEM_HUGE_FROM, size - MEM_HUGE_FROM, MADV_HUGEPAGE);
	m->size = size;
	m->low_size = size > hole_start ? hole_start : size;
	*out = m;
	return 0;
}

int guest_mem_merge(struct guest_mem *m, int on)
{
	if (madvise(m->host, m->size, on ? MADV_MERGEABLE : MADV_UNMERGEABLE) < 0)
		return -errno;
	m->merge = on;
	return 0;
}

/* Give anonymous memory mapped over [off, off + len) of the RAM later (in place of a file
 * mapping) what the rest of the RAM has: out of core dumps, offered to KSM when the RAM
 * is, huge pages where the rest has them (so that it merges with its neighbours again). */
static void mem_advise(struct guest_mem *m, uint64_t off, uint64_t len)
{
	madvise(m->host + off, len, MADV_DONTDUMP);
	if (m->size > MEM_HUGE_FROM && off + len > MEM_HUGE_FROM) {
		uint64_t a = off > MEM_HUGE_FROM ? off : MEM_HUGE_FROM;

		madvise(m->host + a, off + len - a, MADV_HUGEPAGE);
	}
	if (m->merge)
		madvise(m->host + off, len, MADV_MERGEABLE);
}

static void filemap_mark(struct guest_mem *m, uint64_t off, uint64_t len, bool on)
{
	for (uint64_t i = off / 4096; i < (off + len) / 4096; i++) {
		if (on)
			__atomic_fetch_or(&m->filemap[i / 64], 1ULL << (i % 64), __ATOMIC_RELAXED);
		else
			__atomic_fetch_and(&m->filemap[i / 64], ~(1ULL << (i % 64)),
					   __ATOMIC_RELAXED);
	}
}

bool guest_mem_file_backed(const struct guest_mem *m, uint64_t off, uint64_t len)
{
	if (!m->filemap || off >= m->size)
		return false;
	if (len > m->size - off)
		len = m->size - off;
	for (uint64_t i = off / 4096; i < (off + len + 4095) / 4096; i++)
		if (__atomic_load_n(&m->filemap[i / 64], __ATOMIC_RELAXED) & (1ULL << (i % 64)))
			return true;
	return false;
}

/* Anonymous zero memory at [off, off + len) again. MAP_FIXED may have unmapped the range
 * before failing (an allocation failure after the unmap): MAP_FIXED_NOREPLACE then fills
 * the hole, and fails harmlessly (EEXIST) when the old mapping is still there. */
static int mem_anon(struct guest_mem *m, uint64_t off, uint64_t len, int flag)
{
	void *want = m->host + off;
	void *p = mmap(want, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | flag, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	if (p != want) { /* a kernel without MAP_FIXED_NOREPLACE took it as a hint */
		munmap(p, len);
		return -EEXIST;
	}
	mem_advise(m, off, len);
	return 0;
}

int guest_mem_map_file(struct guest_mem *m, uint64_t off, uint64_t len, int fd,
		       uint64_t file_off)
{
	void *p;
	int ret;

	if (((off | len | file_off) & 4095) || !len || off >= m->size || len > m->size - off ||
	    file_off > (uint64_t)INT64_MAX - len)
		return -EINVAL;
	if (!m->filemap) {
		m->filemap = calloc((size_t)((m->size / 4096 + 63) / 64), sizeof(uint64_t));
		if (!m->filemap)
			return -ENOMEM;
	}
	p = mmap(m->host + off, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, (off_t)file_off);
	if (p == MAP_FAILED) {
		ret = -errno;
		mem_anon(m, off, len, MAP_FIXED_NOREPLACE);
		return ret;
	}
	filemap_mark(m, off, len, true);
	return 0;
}

void guest_mem_map_done(struct guest_mem *m)
{
	madvise(m->host, m->size, MADV_DONTDUMP);
	if (m->merge)
		madvise(m->host, m->size, MADV_MERGEABLE);
}

/* The 2 MiB frames that [off, off + len) covers only in part lose MADV_HUGEPAGE. With it,
 * khugepaged may collapse such a frame again as soon as one of its 4 KiB pages is present
 * (max_ptes_none is 511 by default): the whole 2 MiB would come back, zero-filled, and a
 * balloon that inflates page by page would give nothing back. Frames covered whole keep it:
 * with no page present khugepaged leaves them alone, and a guest that uses one again gets
 * a huge page. Failing (vm.max_map_count: each such frame may split the mapping) only
 * leaves the frame as it was. */
static void mem_nohuge_frame(struct guest_mem *m, uint64_t frame)
{
	uint64_t len = m->size - frame < MEM_HUGE_SIZE ? m->size - frame : MEM_HUGE_SIZE;

	if (frame >= MEM_HUGE_FROM)
		madvise(m->host + frame, len, MADV_NOHUGEPAGE);
}

static void mem_nohuge_partial(struct guest_mem *m, uint64_t off, uint64_t len)
{
	uint64_t mask = MEM_HUGE_SIZE - 1, end = off + len;

	if (off & mask)
		mem_nohuge_frame(m, off & ~mask);
	if ((end & mask) && !((off & mask) && (end & ~mask) == (off & ~mask)))
		mem_nohuge_frame(m, end & ~mask); /* not the frame done just above */
}

int guest_mem_discard(struct guest_mem *m, void *p, uint64_t len)
{
	uint64_t off = (uint64_t)((uint8_t *)p - m->host);

	if ((uint8_t *)p < m->host || off >= m->size || len > m->size - off || (off & 4095) ||
	    (len & 4095))
		return -EINVAL;
	if (!len)
		return 0;
	if (guest_mem_file_backed(m, off, len)) {
		/* MADV_DONTNEED would bring the file's contents back */
		if (mem_anon(m, off, len, MAP_FIXED) == 0 ||
		    mem_anon(m, off, len, MAP_FIXED_NOREPLACE) == 0) {
			filemap_mark(m, off, len, false);
			mem_nohuge_partial(m, off, len);
		} else { /* refused before anything changed (vm.max_map_count): zero by hand */
			memset(p, 0, len);
		}
	} else {
		mem_nohuge_partial(m, off, len);
		if (madvise(p, len, MADV_DONTNEED) < 0)
			return -errno;
	}
	guest_mem_track(m, p, len);
	return 0;
}

void guest_mem_destroy(struct guest_mem *m)
{
	if (!m)
		return;
	munmap(m->host, m->size);
	free(m->track);
	free(m->filemap);
	free(m);
}

int guest_mem_track_start(struct guest_mem *m)
{
	size_t words = (size_t)((m->size / 4096 + 63) / 64);

	if (!m->track) {
		m->track = calloc(words, sizeof(uint64_t));
		if (!m->track)
			return -ENOMEM;
	} else {
		for (size_t i = 0; i < words; i++)
			__atomic_store_n(&m->track[i], 0, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&m->tracking, 1, __ATOMIC_RELEASE);
	return 0;
}

void guest_mem_track_stop(struct guest_mem *m)
{
	__atomic_store_n(&m->tracking, 0, __ATOMIC_RELEASE);
}
