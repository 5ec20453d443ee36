#include "vmm/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

int guest_mem_create(uint64_t size, struct guest_mem **out)
{
	struct guest_mem *m;

	if (size < (1ULL << 20) || (size & 4095))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->host = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->host == MAP_FAILED) {
		free(m);
		return -ENOMEM;
	}
	/* Guest RAM is never part of a host core dump. No MADV_HUGEPAGE: a first touch would
	 * then zero (and count in RSS) 2 MiB at a time, which slows VM start-up. */
	madvise(m->host, size, MADV_DONTDUMP);
	m->size = size;
	m->low_size = size > MEM_HOLE_START ? MEM_HOLE_START : size;
	*out = m;
	return 0;
}

void guest_mem_destroy(struct guest_mem *m)
{
	if (!m)
		return;
	munmap(m->host, m->size);
	free(m);
}
