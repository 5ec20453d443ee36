/* A guest's writes through a struct disk, and their checks, for the tests of disks switched
 * under a running VM (unit-control_switch, unit-server-snaplive): 4 KiB of scratch.h's
 * pattern for seed at a sector. Everything here is static to the including test program. */
#ifndef VSRV_TESTS_UNIT_DISKPAT_H
#define VSRV_TESTS_UNIT_DISKPAT_H

#include "scratch.h"
#include "disk/disk.h"

#include <string.h>
#include <sys/uio.h>

/* Write seed's pattern at sector through d and flush it: 0, or non-zero on failure. */
static inline int diskpat_put(struct disk *d, uint64_t sector, uint8_t seed)
{
	uint8_t b[4096];
	struct iovec v = { b, sizeof(b) };

	pattern_fill(b, sizeof(b), seed, 0);
	return disk_writev(d, sector, &v, 1) || disk_flush(d);
}

/* Whether d holds seed's pattern at sector: 1, 0, or -1 when it cannot be read. */
static inline int diskpat_holds(struct disk *d, uint64_t sector, uint8_t seed)
{
	uint8_t b[4096], want[4096];
	struct iovec v = { b, sizeof(b) };

	if (disk_readv(d, sector, &v, 1))
		return -1;
	pattern_fill(want, sizeof(want), seed, 0);
	return !memcmp(b, want, sizeof(b));
}

#endif
