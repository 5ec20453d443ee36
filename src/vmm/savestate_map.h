/* Lazy restore of guest memory from a save file (docs/savestate.md "Restoring memory"):
 * instead of reading every stored page, each run of consecutive stored pages is mapped
 * privately from the file over the guest RAM (guest_mem_map_file). Pages are then read by
 * the page cache at their first touch (by the guest through KVM, or by a device), guest
 * writes go to private copies, and the file is never written. Pages the file does not
 * store stay anonymous zero memory.
 *
 * Every mapping is a VMA of its own, which costs time (an mmap) and counts against
 * vm.max_map_count; so at most max_runs runs are mapped, the longest, and the others are
 * read at once.
 *
 * The memory section's CRC covers every page, so checking it means reading the file:
 * savestate_check_memory does that from the file (not from guest memory, which the guest
 * changes), for a caller that runs it beside the guest (vmm/savestate.c: a thread that stops
 * the VM on a mismatch) or before it. */
#ifndef VSRV_VMM_SAVESTATE_MAP_H
#define VSRV_VMM_SAVESTATE_MAP_H

#include <stdint.h>

#include "vmm/mem.h"
#include "vmm/savestate_file.h"

/* Runs shorter than this are read, not mapped. 1: every run is worth its mapping (an mmap
 * costs about what reading one page costs, a system call and a page fault; measured with
 * bench/savestate_file.c), and a mapped page costs no memory until it is touched. */
#define SAVESTATE_MAP_MIN_PAGES 1
/* Mappings at most by default, and at most this share of vm.max_map_count (each mapping
 * splits the RAM's one anonymous mapping: up to two more VMAs). */
#define SAVESTATE_MAP_MAX_RUNS 8192
#define SAVESTATE_MAP_MAP_COUNT_SHARE 8

struct savestate_map_stats {
	uint64_t runs;          /* runs of consecutive stored pages in the file */
	uint64_t mapped_runs;   /* of them mapped from the file */
	uint64_t mapped_pages;
	uint64_t read_pages;    /* read at once (short runs, past the budget, mmap refused) */
};

/* The default budget of mappings: SAVESTATE_MAP_MAX_RUNS, less when vm.max_map_count
 * divided by SAVESTATE_MAP_MAP_COUNT_SHARE is less (at least 1). */
uint32_t savestate_map_budget(void);

/* Put the pages of s's memory section (s from savestate_read on fd) into m (s's RAM size,
 * all zero and never touched): the longest runs (at most max_runs, 0 for
 * savestate_map_budget(); none shorter than SAVESTATE_MAP_MIN_PAGES) mapped from fd, the
 * other runs read. A run the kernel refuses to map (too many mappings, a file system that
 * cannot map: ENODEV) is read instead, and so are the runs after an ENODEV. The CRC is not
 * checked (savestate_check_memory). fd may be closed afterwards; the file must not be
 * truncated or written in place while m lives (deleting or renaming it is fine). Before the
 * guest runs. 0 and *st (may be NULL), or -EINVAL (*why: truncated, misplaced) / -EIO /
 * -ENOMEM. */
int savestate_map_memory(int fd, const struct savestate *s, struct guest_mem *m,
			 uint32_t max_runs, struct savestate_map_stats *st, const char **why);

/* Compare the CRC of s's memory section with the section's bytes in fd, read in order (1
 * MiB at a time). With stop not NULL, another thread setting *stop ends it early with
 * -ECANCELED. 0, -EINVAL (*why: "the guest memory is corrupt (CRC mismatch)" or
 * truncated), -EIO, -ENOMEM. Any thread. */
int savestate_check_memory(int fd, const struct savestate *s, const int *stop,
			   const char **why);

#endif
