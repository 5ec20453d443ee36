/* Guest RAM: one anonymous host mapping (MAP_NORESERVE: untouched memory costs nothing),
 * split around the 32-bit device hole when RAM is large:
 *   GPA [0, low_size)                    -> host [0, low_size)
 *   GPA [4 GiB, 4 GiB + size - low_size) -> host [low_size, size)
 * Devices translate guest addresses only through guest_mem_ptr(), which checks bounds. */
#ifndef VSRV_VMM_MEM_H
#define VSRV_VMM_MEM_H

#include <stddef.h>
#include <stdint.h>

#define MEM_HOLE_START 0xC0000000ULL  /* 3 GiB: PCI/MMIO hole up to 4 GiB */
#define MEM_HIGH_START 0x100000000ULL /* 4 GiB */

struct guest_mem {
	uint8_t *host;     /* the mapping, size bytes */
	uint64_t size;     /* total RAM bytes */
	uint64_t low_size; /* RAM below the hole */
};

/* Map size bytes of guest RAM (size a multiple of 4 KiB, at least 1 MiB).
 * Returns 0 and *out (owned by the caller, free with guest_mem_destroy), or -errno. */
int guest_mem_create(uint64_t size, struct guest_mem **out);

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
