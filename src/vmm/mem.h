/* Guest RAM: one anonymous host mapping (MAP_NORESERVE: untouched memory costs nothing),
 * split around the 32-bit device hole when RAM is large:
 *   GPA [0, low_size)                    -> host [0, low_size)
 *   GPA [4 GiB, 4 GiB + size - low_size) -> host [low_size, size)
 * Devices translate guest addresses only through guest_mem_ptr(), which checks bounds.
 * A restore may map parts of it privately from a save file instead (guest_mem_map_file:
 * the same host addresses, so KVM's memory slots and every pointer stay valid). */
#ifndef VSRV_VMM_MEM_H
#define VSRV_VMM_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEM_HOLE_START 0xC0000000ULL  /* 3 GiB: PCI/MMIO hole up to 4 GiB */
#define MEM_HIGH_START 0x100000000ULL /* 4 GiB */

struct guest_mem {
	uint8_t *host;     /* the mapping, size bytes */
	uint64_t size;     /* total RAM bytes */
	uint64_t low_size; /* RAM below the hole */
	/* Pages written by devices (host threads, which KVM's dirty log does not see), for
	 * live migration (vmm/migrate.h): one bit per 4 KiB page of the mapping, allocated by
	 * guest_mem_track_start and kept until guest_mem_destroy; marked while tracking. */
	uint64_t *track;
	int tracking;      /* atomic */
	/* Pages that are a private mapping of a file (guest_mem_map_file: a lazily restored
	 * save), one bit per 4 KiB page, NULL until the first such mapping. A discard replaces
	 * them with anonymous memory and clears their bits (atomically: any thread). */
	uint64_t *filemap;
	int merge;         /* offered to KSM (guest_mem_merge): new mappings are offered too */
};

/* Offer m's RAM to KSM, the kernel's same-page merging (MADV_MERGEABLE), or take it back
 * (MADV_UNMERGEABLE: merged pages are copied again). Pages that are the same in every guest
 * (a kernel, an initramfs, zeroed memory) are then kept once when the host runs KSM
 * (/sys/kernel/mm/ksm/run). 0, or -EINVAL when the host kernel has no KSM, or -errno. */
int guest_mem_merge(struct guest_mem *m, int on);

/* Start recording device writes into m->track (cleared first). Returns 0 or -ENOMEM.
 * guest_mem_track_stop ends it; the bitmap stays valid for reading. Any thread. */
int guest_mem_track_start(struct guest_mem *m);
void guest_mem_track_stop(struct guest_mem *m);

/* A device will write (or may have written) host range [p, p + len) of m: mark its pages
 * while tracking. Cheap when not tracking (one atomic load). Ranges outside RAM are
 * ignored. Any thread. */
static inline void guest_mem_track(const struct guest_mem *m, const volatile void *p,
				   uint64_t len)
{
	uint64_t off, first, last;

	if (!__atomic_load_n(&m->tracking, __ATOMIC_ACQUIRE) || !len)
		return;
	off = (uint64_t)((const volatile uint8_t *)p - m->host);
	if (off >= m->size || len > m->size - off)
		return;
	first = off >> 12;
	last = (off + len - 1) >> 12;
	for (uint64_t i = first; i <= last; i++)
		__atomic_fetch_or(&m->track[i / 64], 1ULL << (i % 64), __ATOMIC_RELAXED);
}

/* Map size bytes of guest RAM (size a multiple of 4 KiB, at least 1 MiB).
 * Returns 0 and *out (owned by the caller, free with guest_mem_destroy), or -errno. */
int guest_mem_create(uint64_t size, struct guest_mem **out);

/* The same with RAM below 4 GiB ending at hole_start (1 MiB..4 GiB, 4 KiB aligned) instead
 * of MEM_HOLE_START: the firmware layout (arch/x86/firmware.h) ends it at 0xB0000000. */
int guest_mem_create_hole(uint64_t size, uint64_t hole_start, struct guest_mem **out);

/* Give the host memory behind [p, p + len) of m back (p and len 4 KiB aligned, inside the
 * mapping): the guest reads zeros there at its next touch, which costs a fresh page. On
 * anonymous memory this is MADV_DONTNEED. Pages that are a private file mapping
 * (guest_mem_map_file) would read the file's contents again after MADV_DONTNEED, so they
 * are replaced by fresh anonymous memory (mmap MAP_FIXED) instead; when the kernel refuses
 * the new mapping (vm.max_map_count) they are zeroed by writing (the memory is then not
 * given back, but the guest still reads zeros). The pages count as written for migration's
 * tracking. Any thread. 0, -EINVAL for a range outside m or misaligned, or -errno. */
int guest_mem_discard(struct guest_mem *m, void *p, uint64_t len);

/* Map [off, off + len) of m's RAM (host offsets, 4 KiB aligned, inside RAM) privately
 * from fd's bytes [file_off, file_off + len) (4 KiB aligned, inside the file): pages are
 * read from the page cache at their first touch, writes go to private copies and never
 * reach the file. fd may be closed afterwards (the mapping holds the file), but the file
 * must not be truncated while m lives (a touch beyond its end is a SIGBUS). 0, -EINVAL, or
 * mmap's -errno (ENOMEM: too many mappings, ENODEV: the file system cannot map); on an
 * error the range is anonymous memory as before (its contents are then undefined: zero it
 * or fill it otherwise). After the last one, guest_mem_map_done gives the new mappings
 * what the rest of the RAM has (kept out of core dumps, offered to KSM when m is): one
 * system call for all of them. Before the guest runs (not against guest accesses). */
int guest_mem_map_file(struct guest_mem *m, uint64_t off, uint64_t len, int fd,
		       uint64_t file_off);
void guest_mem_map_done(struct guest_mem *m);

/* Is any page of host range [off, off + len) of m a file mapping? */
bool guest_mem_file_backed(const struct guest_mem *m, uint64_t off, uint64_t len);

/* Unmap and free. NULL is allowed. */
void guest_mem_destroy(struct guest_mem *m);

/* Host address of guest range [gpa, gpa + len), or NULL unless the whole range lies in
 * one RAM region. len may be 0 (then gpa itself must be inside or at the end of RAM).
 * The pointer stays valid for the life of m. Safe against overflowing gpa + len. */
static inline void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	if (gpa < m->low_size) {
		if (len > m->low_size - gpa)
			return NULL;
		return m->host + gpa;
	}
	if (gpa >= MEM_HIGH_START) {
		uint64_t off = gpa - MEM_HIGH_START, high = m->size - m->low_size;
		if (off > high || len > high - off)
			return NULL;
		return m->host + m->low_size + off;
	}
	if (gpa == m->low_size && len == 0)
		return m->host + gpa;
	return NULL;
}

#endif
