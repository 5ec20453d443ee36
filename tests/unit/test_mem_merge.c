/* Unit tests of same-page merging for guest RAM (vmm/mem.c guest_mem_merge, `vsrv run
 * --mem-merge`): the kernel's own record of the mapping (/proc/self/smaps VmFlags "mg") shows
 * the RAM offered to KSM and taken back; a host kernel without KSM is reported as such. */
#include "check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/mem.h"

/* Is every VMA of [p, p + len) marked mergeable? 1, 0, or -1 when smaps has no such range. */
static int mergeable(const void *p, size_t len)
{
	uintptr_t lo = (uintptr_t)p, hi = lo + len, a, b, covered = 0;
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, all = 1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = a < hi && b > lo;
			if (in)
				covered += (b < hi ? b : hi) - (a > lo ? a : lo);
		} else if (in && !strncmp(line, "VmFlags:", 8)) {
			if (!strstr(line, " mg"))
				all = 0;
		}
	}
	fclose(f);
	return covered == len ? all : -1;
}

static void test_merge_on_off(void)
{
	struct guest_mem *m = NULL;
	int ret;

	CHECK_EQ(guest_mem_create(64ULL << 20, &m), 0);
	if (!m)
		return;
	CHECK_EQ(mergeable(m->host, m->size), 0);
	ret = guest_mem_merge(m, 1);
	CHECK_EQ(ret, 0);
	CHECK_EQ(mergeable(m->host, m->size), 1);
	memset(m->host, 0x5a, 1 << 20);               /* touched pages stay offered */
	CHECK_EQ(mergeable(m->host, m->size), 1);
	CHECK_EQ(guest_mem_merge(m, 0), 0);
	CHECK_EQ(mergeable(m->host, m->size), 0);
	CHECK_EQ(((uint8_t *)m->host)[4095], 0x5a);   /* contents kept */
	guest_mem_destroy(m);
}

int main(void)
{
	if (access("/sys/kernel/mm/ksm", F_OK)) {
		printf("SKIP test_merge_on_off: this kernel has no KSM (/sys/kernel/mm/ksm)\n");
		return 0;
	}
	RUN(test_merge_on_off);
	return check_done();
}
