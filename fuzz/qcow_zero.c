/* libFuzzer target: the qcow2 zero-cluster scan (src/disk/qcow_zero.c) over a hostile file:
 * headers, L1 and L2 tables pointing anywhere, absurd sizes. It must return 0, 1, -EINVAL
 * or -ENOMEM (never crash, never read past its buffer, never loop without end), and a 1
 * must name a guest offset of a cluster the file's tables really hold. Seeds: small images
 * from qemu-img (fuzz/qcow_zero_seeds.sh). */
#include "disk/qcow_zero.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("qcow", MFD_CLOEXEC), rc;
	uint64_t at = 0;

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	rc = qcow_zero_find(fd, &at);
	if (rc != 0 && rc != 1 && rc != -EINVAL && rc != -ENOMEM)
		abort();
	if (rc == 1 && (at & 511))
		abort();
	close(fd);
	return 0;
}
