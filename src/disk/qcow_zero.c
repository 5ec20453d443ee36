/* Zero clusters of a qcow2 v3 image (qcow_zero.h): the header's L1 table, each L2 table
 * it names, each entry's zero flag (bit 0 of a standard cluster's entry; a compressed
 * cluster's entry, bit 62, has no such flag). All big-endian, as QEMU's
 * docs/interop/qcow2.txt lays them out. */
#include "disk/qcow_zero.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define QZ_OFFSET_MASK   0x00fffffffffffe00ull   /* L1 and L2 entries: bits 9-55 */
#define QZ_COMPRESSED    (1ull << 62)
#define QZ_ZERO          1ull
#define QZ_L1_MAX        (32u << 20)             /* QEMU's limit: 32 Mi entries */

static uint64_t be64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* n bytes at off, all there: 0, -EINVAL (past the end of the file) or -EIO. */
static int read_at(int fd, void *buf, size_t n, uint64_t off, uint64_t fsize)
{
	size_t got = 0;

	if (off > fsize || n > fsize - off)
		return -EINVAL;
	while (got < n) {
		ssize_t k = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -EIO;
		if (k == 0)
			return -EINVAL;
		got += (size_t)k;
	}
	return 0;
}

int qcow_zero_find(int fd, uint64_t *guest)
{
	uint8_t h[72], e[8], *l2 = NULL;
	uint32_t version, bits, l1_size;
	uint64_t fsize, l1_off, csize, per_l2;
	struct stat st;
	int rc;

	if (fstat(fd, &st))
		return -EIO;
	fsize = (uint64_t)st.st_size;
	rc = read_at(fd, h, sizeof(h), 0, fsize);
	if (rc)
		return rc;
	if (be32(h) != 0x514649fbu)          /* "QFI\xfb" */
		return -EINVAL;
	version = be32(h + 4);
	if (version < 3)
		return 0;
	bits = be32(h + 20);
	if (bits < 9 || bits > 21)
		return -EINVAL;
	csize = 1ull << bits;
	per_l2 = csize / 8;
	l1_size = be32(h + 36);
	l1_off = be64(h + 40);
	if (l1_size > QZ_L1_MAX || l1_off % 512)
		return -EINVAL;
	if (l1_size && (l1_off > fsize || (uint64_t)l1_size * 8 > fsize - l1_off))
		return -EINVAL;
	l2 = malloc(csize);
	if (!l2)
		return -ENOMEM;
	for (uint32_t i = 0; i < l1_size; i++) {
		uint64_t l2_off;

		rc = read_at(fd, e, 8, l1_off + (uint64_t)i * 8, fsize);
		if (rc)
			goto out;
		l2_off = be64(e) & QZ_OFFSET_MASK;
		if (!l2_off)
			continue;       /* no L2 table: all its clusters unallocated */
		if (l2_off % csize) {
			rc = -EINVAL;
			goto out;
		}
		rc = read_at(fd, l2, csize, l2_off, fsize);
		if (rc)
			goto out;
		for (uint64_t j = 0; j < per_l2; j++) {
			uint64_t v = be64(l2 + j * 8);

			if (!(v & QZ_COMPRESSED) && (v & QZ_ZERO)) {
				*guest = ((uint64_t)i * per_l2 + j) << bits;
				rc = 1;
				goto out;
			}
		}
	}
	rc = 0;
out:
	free(l2);
	return rc;
}
