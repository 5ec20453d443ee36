/* Unit tests of guest RAM's transparent huge pages around a discard (vmm/mem.c
 * guest_mem_discard, what the balloon calls): a 2 MiB frame a discard covers only in part
 * loses MADV_HUGEPAGE, so that khugepaged cannot collapse it again and bring the discarded
 * pages back (zero-filled, but resident: a balloon inflating page by page would give nothing
 * back). The kernel's own record of the mapping (/proc/self/smaps VmFlags: "hg" huge pages
 * advised, "nh" refused) says which frames are which; where the kernel has MADV_COLLAPSE,
 * a collapse asked for at once (what khugepaged would do later) must leave the discarded
 * pages out. */
#include "check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/mem.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define MIB (1ULL << 20)
#define PG 4096ULL

/* The VmFlags of the VMA holding p: 'h' (hg), 'n' (nh), '-' (neither), '?' (not found). */
static char thp_flag(const void *p)
{
	uintptr_t at = (uintptr_t)p, a, b;
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512], r = '?';
	int in = 0;

	if (!f)
		return '?';
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = at >= a && at < b;
		} else if (in && !strncmp(line, "VmFlags:", 8)) {
			r = strstr(line, " hg") ? 'h' : strstr(line, " nh") ? 'n' : '-';
			break;
		}
	}
	fclose(f);
	return r;
}

static unsigned resident(const uint8_t *p, uint64_t len)
{
	unsigned char vec[512];
	unsigned n = 0;

	if (len / PG > sizeof(vec) || mincore((void *)p, len, vec))
		return ~0u;
	for (uint64_t i = 0; i < len / PG; i++)
		n += vec[i] & 1;
	return n;
}

static void test_partial_frames_lose_hugepage(void)
{
	struct guest_mem *m = NULL;

	CHECK_EQ(guest_mem_create(64 * MIB, &m), 0);
	if (!m)
		return;
	memset(m->host, 0x11, m->size);
	CHECK_EQ(thp_flag(m->host + 16 * MIB), 'h');
	CHECK_EQ(thp_flag(m->host + 1 * MIB), '-'); /* below MEM_HUGE_FROM: never advised */

	/* one page inside a frame: that frame only */
	CHECK_EQ(guest_mem_discard(m, m->host + 17 * MIB, PG), 0);
	CHECK_EQ(thp_flag(m->host + 16 * MIB), 'n');
	CHECK_EQ(thp_flag(m->host + 18 * MIB - PG), 'n');
	CHECK_EQ(thp_flag(m->host + 16 * MIB - PG), 'h');
	CHECK_EQ(thp_flag(m->host + 18 * MIB), 'h');
	CHECK_EQ(m->host[17 * MIB], 0);
	CHECK_EQ(m->host[17 * MIB + PG], 0x11);

	/* whole frames keep their huge pages */
	CHECK_EQ(guest_mem_discard(m, m->host + 20 * MIB, 4 * MIB), 0);
	CHECK_EQ(thp_flag(m->host + 20 * MIB), 'h');
	CHECK_EQ(thp_flag(m->host + 23 * MIB), 'h');
	CHECK_EQ(resident(m->host + 20 * MIB, 4 * MIB / 4), 0);

	/* across a frame boundary: both partial frames, nothing else */
	CHECK_EQ(guest_mem_discard(m, m->host + 31 * MIB, 2 * MIB), 0);
	CHECK_EQ(thp_flag(m->host + 30 * MIB), 'n');
	CHECK_EQ(thp_flag(m->host + 32 * MIB), 'n');
	CHECK_EQ(thp_flag(m->host + 29 * MIB), 'h');
	CHECK_EQ(thp_flag(m->host + 34 * MIB), 'h');

	/* a whole frame and a part of the next: the part's frame only */
	CHECK_EQ(guest_mem_discard(m, m->host + 40 * MIB, 3 * MIB), 0);
	CHECK_EQ(thp_flag(m->host + 40 * MIB), 'h');
	CHECK_EQ(thp_flag(m->host + 42 * MIB), 'n');
	CHECK_EQ(thp_flag(m->host + 44 * MIB), 'h');

	/* below MEM_HUGE_FROM nothing changes */
	CHECK_EQ(guest_mem_discard(m, m->host + 1 * MIB, PG), 0);
	CHECK_EQ(thp_flag(m->host + 1 * MIB), '-');
	guest_mem_destroy(m);
}

/* What khugepaged would do, asked for now: a frame with one page discarded must not come
 * back whole. Kernels without MADV_COLLAPSE (before 6.1) or without THP skip this. */
static void test_collapse_keeps_discarded_out(void)
{
	struct guest_mem *m = NULL;
	uint8_t *frame;
	int ret;

	CHECK_EQ(guest_mem_create(64 * MIB, &m), 0);
	if (!m)
		return;
	frame = m->host + 16 * MIB;
	memset(frame, 0x22, 2 * MIB);
	CHECK_EQ(guest_mem_discard(m, frame, PG), 0);
	CHECK_EQ(resident(frame, 2 * MIB), 511);
	ret = madvise(frame, 2 * MIB, MADV_COLLAPSE);
	/* refused (EINVAL: the frame refuses huge pages) or not done: the page stays out */
	CHECK(ret < 0);
	CHECK_EQ(resident(frame, 2 * MIB), 511);
	CHECK_EQ(frame[0], 0);
	CHECK_EQ(frame[PG], 0x22);
	guest_mem_destroy(m);
}

static int collapse_works(void)
{
	uint8_t *raw = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
	uint8_t *p = (uint8_t *)(((uintptr_t)raw + 2 * MIB - 1) & ~(uintptr_t)(2 * MIB - 1));
	int ok;

	if (raw == MAP_FAILED)
		return 0;
	madvise(p, 2 * MIB, MADV_HUGEPAGE);
	memset(p, 1, 2 * MIB);
	madvise(p, PG, MADV_DONTNEED);
	ok = madvise(p, 2 * MIB, MADV_COLLAPSE) == 0 && resident(p, 2 * MIB) == 512;
	munmap(raw, 4 * MIB);
	return ok;
}

int main(void)
{
	if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK)) {
		printf("SKIP test_partial_frames_lose_hugepage: this kernel has no transparent "
		       "huge pages\n");
		return 0;
	}
	RUN(test_partial_frames_lose_hugepage);
	if (collapse_works())
		RUN(test_collapse_keeps_discarded_out);
	else
		printf("SKIP test_collapse_keeps_discarded_out: this kernel cannot collapse a "
		       "huge page on request (MADV_COLLAPSE)\n");
	return check_done();
}
