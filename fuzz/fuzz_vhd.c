/* libFuzzer target for libvhd's parsers: footer, dynamic header, BAT, parent locators and
 * the check pass. The input is an image file (kept in a memfd); it is opened read-only,
 * a few reads and map calls run across it, then vhd_check runs over it. */
#include "vhd/vhd.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	struct vhd *v;
	struct vhd_check_result res;
	int fd = memfd_create("fuzz.vhd", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (vhd_open(path, VHD_RDONLY, &v) == 0) {
		struct vhd_info in;
		static uint8_t buf[64 * 1024];
		vhd_get_info(v, &in);
		uint64_t ns = in.virtual_size / 512;
		uint64_t pts[4] = { 0, ns / 3, ns / 2, ns > 128 ? ns - 128 : 0 };
		for (int i = 0; i < 4; i++) {
			uint64_t n = ns - pts[i] < 128 ? ns - pts[i] : 128;
			if (n) {
				vhd_read(v, pts[i], buf, n);
				struct vhd_extent e;
				vhd_map(v, pts[i], n, &e);
			}
		}
		vhd_close(v);
	}
	vhd_check(path, 0, NULL, NULL, &res);
	close(fd);
	return 0;
}
