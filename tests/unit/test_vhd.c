/* Unit tests of lib/vhd: create, read/write, chains, zero handling, geometry. */
#include "check.h"
#include "scratch.h"
#include "vhd/vhd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int mk(const char *name, enum vhd_type t, uint64_t size, uint32_t bs, const char *parent,
	      struct vhd **out)
{
	struct vhd_create_opts o = { .type = t, .size = size, .block_size = bs, .parent = parent };
	return vhd_create(P(name), &o, out);
}

static void test_geometry(void)
{
	uint16_t c;
	uint8_t h, s;

	vhd_geometry(204816, &c, &h, &s); /* qemu: 100 MiB rounds to 1004/12/17 */
	CHECK_EQ(c, 1004);
	CHECK_EQ(h, 12);
	CHECK_EQ(s, 17);
	CHECK_EQ(vhd_round_size(100 << 20, false), 104865792);
	CHECK_EQ(vhd_round_size(10000001, false), 10027008); /* qemu-img -f vpc agrees */
	CHECK_EQ(vhd_round_size(100 << 20, true), 100 << 20);
	CHECK_EQ(vhd_round_size(1000, true), 1024);
	vhd_geometry(65535ULL * 16 * 255 + 100, &c, &h, &s);
	CHECK_EQ(c, 65535);
	CHECK_EQ(h, 16);
	CHECK_EQ(s, 255);
	CHECK_EQ(vhd_round_size(2040ULL << 30, false), 2040ULL << 30);
}

static void test_dynamic_rw(void)
{
	struct vhd *v;
	uint64_t size = 10 << 20;
	uint8_t *w = malloc(3 << 20), *r = malloc(3 << 20);
	struct vhd_info in;

	CHECK_EQ(mk("d.vhd", VHD_TYPE_DYNAMIC, size, 0, NULL, &v), 0);
	if (!v)
		return;
	vhd_get_info(v, &in);
	CHECK_EQ(in.type, VHD_TYPE_DYNAMIC);
	CHECK_EQ(in.virtual_size, vhd_round_size(size, false));
	CHECK_EQ(in.block_size, 2 << 20);
	CHECK_EQ(in.allocated_blocks, 0);
	/* a write spanning two blocks, unaligned to blocks */
	pattern_fill(w, 3 << 20, 1, 0);
	CHECK_EQ(vhd_write(v, 3000, w, (3 << 20) / 512), 0);
	memset(r, 0xaa, 3 << 20);
	CHECK_EQ(vhd_read(v, 3000, r, (3 << 20) / 512), 0);
	CHECK(!memcmp(w, r, 3 << 20));
	/* unwritten space reads zeros */
	CHECK_EQ(vhd_read(v, 0, r, 8), 0);
	CHECK(r[0] == 0 && r[4095] == 0);
	/* zeros to an unallocated block stay unallocated */
	memset(w, 0, 1 << 20);
	CHECK_EQ(vhd_write(v, 16384, w, 2048), 0);
	vhd_get_info(v, &in);
	CHECK_EQ(in.allocated_blocks, 3);
	CHECK_EQ(vhd_write_zeroes(v, 16384, 2048), 0);
	vhd_get_info(v, &in);
	CHECK_EQ(in.allocated_blocks, 3);
	/* out of range */
	CHECK_EQ(vhd_read(v, in.virtual_size / 512, r, 1), -EINVAL);
	CHECK_EQ(vhd_close(v), 0);
	/* reopen and read back */
	CHECK_EQ(vhd_open(P("d.vhd"), VHD_RDONLY, &v), 0);
	if (!v)
		return;
	pattern_fill(w, 3 << 20, 1, 0);
	CHECK_EQ(vhd_read(v, 3000, r, (3 << 20) / 512), 0);
	CHECK(!memcmp(w, r, 3 << 20));
	CHECK_EQ(vhd_write(v, 0, w, 1), -EROFS);
	vhd_close(v);
	free(w);
	free(r);
}

static void test_fixed(void)
{
	struct vhd *v;
	uint8_t w[4096], r[4096];
	uint64_t off;

	CHECK_EQ(mk("f.vhd", VHD_TYPE_FIXED, 5 << 20, 0, NULL, &v), 0);
	if (!v)
		return;
	CHECK(vhd_fixed_fd(v, &off) >= 0);
	pattern_fill(w, sizeof(w), 3, 0);
	CHECK_EQ(vhd_write(v, 100, w, 8), 0);
	CHECK_EQ(vhd_read(v, 100, r, 8), 0);
	CHECK(!memcmp(w, r, sizeof(w)));
	CHECK_EQ(vhd_close(v), 0);
	struct stat st;
	CHECK_EQ(stat(P("f.vhd"), &st), 0);
	CHECK_EQ(st.st_size, (long long)vhd_round_size(5 << 20, false) + 512);
}

static void test_block_sizes(void)
{
	static const uint32_t sizes[] = { 4096, 512 << 10, 1 << 20, 8 << 20 };
	for (unsigned i = 0; i < 4; i++) {
		struct vhd *v;
		uint8_t *w = malloc(1 << 20), *r = malloc(1 << 20);
		CHECK_EQ(mk("bs.vhd", VHD_TYPE_DYNAMIC, 20 << 20, sizes[i], NULL, &v), 0);
		if (!v)
			break;
		pattern_fill(w, 1 << 20, i, 0);
		CHECK_EQ(vhd_write(v, 7, w, 2048), 0);
		CHECK_EQ(vhd_close(v), 0);
		CHECK_EQ(vhd_open(P("bs.vhd"), VHD_RDONLY, &v), 0);
		if (!v)
			break;
		CHECK_EQ(vhd_read(v, 7, r, 2048), 0);
		CHECK(!memcmp(w, r, 1 << 20));
		vhd_close(v);
		free(w);
		free(r);
	}
	struct vhd_create_opts o = { .type = VHD_TYPE_DYNAMIC, .size = 1 << 20, .block_size = 3 << 20 };
	CHECK_EQ(vhd_create(P("bad.vhd"), &o, NULL), -EINVAL);
	o.block_size = 0;
	o.size = 2041ULL << 30;
	CHECK_EQ(vhd_create(P("bad.vhd"), &o, NULL), -EFBIG);
}

static int vhd_is_zero_test(const void *b, size_t n)
{
	const uint8_t *p = b;
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void test_chain(void)
{
	struct vhd *a, *b, *c;
	uint8_t *w = malloc(1 << 20), *r = malloc(1 << 20), *z = calloc(1, 1 << 20);
	struct vhd_extent e;

	CHECK_EQ(mk("base.vhd", VHD_TYPE_DYNAMIC, 8 << 20, 0, NULL, &a), 0);
	if (!a)
		return;
	pattern_fill(w, 1 << 20, 10, 0);
	CHECK_EQ(vhd_write(a, 0, w, 2048), 0); /* base: sectors 0..2047 */
	CHECK_EQ(vhd_close(a), 0);
	CHECK_EQ(mk("mid.vhd", VHD_TYPE_DIFF, 0, 0, P("base.vhd"), &b), 0);
	if (!b)
		return;
	pattern_fill(w, 4096, 11, 0);
	CHECK_EQ(vhd_write(b, 8, w, 8), 0);     /* mid: sectors 8..15 */
	CHECK_EQ(vhd_close(b), 0);
	CHECK_EQ(mk("top.vhd", VHD_TYPE_DIFF, 0, 0, P("mid.vhd"), &c), 0);
	if (!c)
		return;
	pattern_fill(w, 512, 12, 0);
	CHECK_EQ(vhd_write(c, 9, w, 1), 0);     /* top: sector 9 */
	/* zeros over base data must be stored; zeros over nothing stay unallocated */
	CHECK_EQ(vhd_write(c, 100, z, 4), 0);
	CHECK_EQ(vhd_write_zeroes(c, 10000, 16), 0);
	struct vhd_info in;
	vhd_get_info(c, &in);
	CHECK_EQ(in.allocated_blocks, 1);
	CHECK_EQ(vhd_close(c), 0);

	CHECK_EQ(vhd_open(P("top.vhd"), VHD_RDONLY, &c), 0);
	if (!c)
		return;
	uint8_t exp[512];
	CHECK_EQ(vhd_read(c, 9, r, 1), 0);
	pattern_fill(exp, 512, 12, 0);
	CHECK(!memcmp(r, exp, 512));
	CHECK_EQ(vhd_read(c, 8, r, 1), 0);
	pattern_fill(w, 4096, 11, 0);
	CHECK(!memcmp(r, w, 512));
	CHECK_EQ(vhd_read(c, 10, r, 1), 0);
	CHECK(!memcmp(r, w + 1024, 512));
	CHECK_EQ(vhd_read(c, 100, r, 4), 0);
	CHECK(vhd_is_zero_test(r, 2048));
	CHECK_EQ(vhd_read(c, 1000, r, 1), 0);
	pattern_fill(w, 1 << 20, 10, 0);
	CHECK(!memcmp(r, w + 1000 * 512, 512));
	CHECK_EQ(vhd_map(c, 0, 16384, &e), 0);
	CHECK_EQ(e.depth, 2);
	CHECK_EQ(e.nsectors, 8);
	CHECK_EQ(vhd_map(c, 9, 100, &e), 0);
	CHECK_EQ(e.depth, 0);
	CHECK_EQ(e.nsectors, 1);
	CHECK_EQ(vhd_map(c, 5000, 100, &e), 0);
	CHECK_EQ(e.depth, -1);
	vhd_get_info(c, &in);
	CHECK(strstr(in.parent_path, "mid.vhd") != NULL);
	CHECK(vhd_parent(c) && vhd_parent(vhd_parent(c)));
	vhd_close(c);
	free(w);
	free(r);
	free(z);
}

static void test_parent_errors(void)
{
	struct vhd *v;
	char cmd[1024];

	/* missing parent: error names the file */
	CHECK_EQ(mk("p1.vhd", VHD_TYPE_DYNAMIC, 4 << 20, 0, NULL, NULL), 0);
	CHECK_EQ(mk("c1.vhd", VHD_TYPE_DIFF, 0, 0, P("p1.vhd"), NULL), 0);
	snprintf(cmd, sizeof(cmd), "mv %s %s", P("p1.vhd"), P("p1-moved.vhd"));
	CHECK_EQ(system(cmd), 0);
	CHECK_EQ(vhd_open(P("c1.vhd"), VHD_RDONLY, &v), -ENOENT);
	CHECK(strstr(vhd_errmsg(), "c1.vhd") != NULL);
	CHECK_EQ(vhd_open(P("c1.vhd"), VHD_RDONLY | VHD_NOPARENT, &v), 0);
	vhd_close(v);
	/* a replaced parent (different unique id) is refused */
	CHECK_EQ(mk("p1.vhd", VHD_TYPE_DYNAMIC, 4 << 20, 0, NULL, NULL), 0);
	CHECK_EQ(vhd_open(P("c1.vhd"), VHD_RDONLY, &v), -EINVAL);
	CHECK(strstr(vhd_errmsg(), "unique id") != NULL);
	/* relative locator: the chain moves as a whole */
	CHECK_EQ(mk("sub/../p2.vhd", VHD_TYPE_DYNAMIC, 4 << 20, 0, NULL, NULL), -ENOENT);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/a/b && cd %s && true", scratch_dir, scratch_dir);
	CHECK_EQ(system(cmd), 0);
	CHECK_EQ(mk("a/p2.vhd", VHD_TYPE_DYNAMIC, 4 << 20, 0, NULL, NULL), 0);
	CHECK_EQ(mk("a/b/c2.vhd", VHD_TYPE_DIFF, 0, 0, P("a/p2.vhd"), NULL), 0);
	snprintf(cmd, sizeof(cmd), "mv %s/a %s/moved", scratch_dir, scratch_dir);
	CHECK_EQ(system(cmd), 0);
	CHECK_EQ(vhd_open(P("moved/b/c2.vhd"), VHD_RDONLY, &v), 0);
	vhd_close(v);
}

/* The largest image: 2040 GiB dynamic and fixed (sparse), last sector written and read. */
static void test_max_size(void)
{
	static const enum vhd_type t[] = { VHD_TYPE_DYNAMIC, VHD_TYPE_FIXED };
	uint8_t w[4096], r[4096];

	pattern_fill(w, sizeof(w), 77, 0);
	for (int i = 0; i < 2; i++) {
		struct vhd *v;
		struct vhd_info in;
		CHECK_EQ(mk("big.vhd", t[i], VHD_MAX_SIZE, 0, NULL, &v), 0);
		if (!v)
			continue;
		vhd_get_info(v, &in);
		CHECK_EQ(in.virtual_size, VHD_MAX_SIZE);
		CHECK_EQ(in.cylinders, 65535);
		uint64_t last = VHD_MAX_SIZE / 512 - 8;
		CHECK_EQ(vhd_write(v, last, w, 8), 0);
		CHECK_EQ(vhd_close(v), 0);
		CHECK_EQ(vhd_open(P("big.vhd"), VHD_RDONLY, &v), 0);
		if (!v)
			continue;
		CHECK_EQ(vhd_read(v, last, r, 8), 0);
		CHECK(!memcmp(w, r, sizeof(w)));
		CHECK_EQ(vhd_read(v, last + 8, r, 1), -EINVAL);
		vhd_close(v);
		unlink(P("big.vhd"));
	}
}

int main(void)
{
	if (scratch_make("vsrv-vhd"))
		return 1;
	RUN(test_geometry);
	RUN(test_dynamic_rw);
	RUN(test_fixed);
	RUN(test_block_sizes);
	RUN(test_chain);
	RUN(test_parent_errors);
	RUN(test_max_size);
	scratch_remove();
	return check_done();
}
