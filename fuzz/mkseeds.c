/* Writes the seed corpus for fuzz_vhd into the directory given: small valid images of
 * every type and block size, and damaged variants. Built and run by `make fuzz-seeds`. */
#include "vhd/vhd.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char out[4096];

static const char *P(const char *n)
{
	static char b[4][4200];
	static int i;
	i = (i + 1) % 4;
	snprintf(b[i], sizeof(b[i]), "%s/%s", out, n);
	return b[i];
}

static void mk(const char *name, enum vhd_type t, uint64_t size, uint32_t bs, bool force,
	       const char *parent, int writes)
{
	static const uint8_t uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	struct vhd_create_opts o = { .type = t, .size = size, .block_size = bs, .force_size = force,
				     .parent = parent, .timestamp = 1000, .uuid = uuid };
	struct vhd *v;
	uint8_t buf[2048];

	if (parent) {
		uint8_t u2[16];
		memcpy(u2, uuid, 16);
		u2[0] = 99;
		o.uuid = u2;
		if (vhd_create(P(name), &o, &v))
			return;
	} else if (vhd_create(P(name), &o, &v)) {
		return;
	}
	for (int i = 0; i < writes; i++) {
		memset(buf, 0x40 + i, sizeof(buf));
		vhd_write(v, (uint64_t)i * 37 % (v ? 100 : 1), buf, 4);
	}
	vhd_close(v);
}

static void damage(const char *src, const char *dst, long off, const void *b, size_t n)
{
	char cmd[9000];
	snprintf(cmd, sizeof(cmd), "cp %s %s", P(src), P(dst));
	if (system(cmd))
		return;
	int fd = open(P(dst), O_RDWR);
	if (off < 0)
		off += lseek(fd, 0, SEEK_END);
	if (pwrite(fd, b, n, off) != (ssize_t)n) {}
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	snprintf(out, sizeof(out), "%s", argv[1]);
	mk("dyn-4k.vhd", VHD_TYPE_DYNAMIC, 64 << 10, 4096, false, NULL, 5);
	mk("dyn-8k-force.vhd", VHD_TYPE_DYNAMIC, 100 << 10, 8192, true, NULL, 3);
	mk("fixed-small.vhd", VHD_TYPE_FIXED, 16 << 10, 0, true, NULL, 2);
	mk("diff-4k.vhd", VHD_TYPE_DIFF, 0, 4096, false, P("dyn-4k.vhd"), 2);
	mk("empty-dyn.vhd", VHD_TYPE_DYNAMIC, 32 << 10, 4096, false, NULL, 0);
	uint8_t ff[4] = { 0xff, 0xff, 0xff, 0xf0 }, z[8] = { 0 };
	damage("dyn-4k.vhd", "bad-bat-past-end.vhd", 1536, ff, 4);
	damage("dyn-4k.vhd", "bad-hdr-cookie.vhd", 512, z, 8);
	damage("dyn-4k.vhd", "bad-footer.vhd", -512, z, 8);
	damage("dyn-4k.vhd", "bad-both-footers.vhd", 0, z, 8);
	damage("fixed-small.vhd", "bad-fixed-size.vhd", -512 + 48, ff, 4);
	uint8_t one[4] = { 0, 0, 0, 3 };
	damage("dyn-4k.vhd", "bad-bat-into-meta.vhd", 1536, one, 4);
	return 0;
}
