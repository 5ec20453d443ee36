/* Unit tests of lib/vhd: bad input, check, compact, resize, commit, QEMU interop. */
#include "check.h"
#include "scratch.h"
#include "vhd/vhd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int mk(const char *name, enum vhd_type t, uint64_t size, const char *parent)
{
	struct vhd_create_opts o = { .type = t, .size = size, .parent = parent };
	return vhd_create(P(name), &o, NULL);
}

/* An 8 MiB dynamic image with blocks 0 and 2 written. */
static void make_sample(const char *name)
{
	struct vhd *v;
	uint8_t buf[4096];

	mk(name, VHD_TYPE_DYNAMIC, 8 << 20, NULL);
	if (vhd_open(P(name), 0, &v))
		return;
	pattern_fill(buf, sizeof(buf), 5, 1);
	vhd_write(v, 10, buf, 8);
	vhd_write(v, 2 * 4096 + 3, buf, 8);
	vhd_close(v);
}

static void poke(const char *name, uint64_t off, const void *data, size_t len)
{
	int fd = open(P(name), O_RDWR);
	if (fd >= 0) {
		if (pwrite(fd, data, len, (off_t)off) != (ssize_t)len) {}
		close(fd);
	}
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

/* Re-checksum the dynamic header at 512 after a poke. */
static void fix_hdr_csum(const char *name)
{
	uint8_t h[1024];
	uint32_t s = 0;
	int fd = open(P(name), O_RDWR);
	if (fd < 0 || pread(fd, h, 1024, 512) != 1024)
		return;
	memset(h + 36, 0, 4);
	for (int i = 0; i < 1024; i++)
		s += h[i];
	be32(h + 36, ~s);
	if (pwrite(fd, h, 1024, 512) != 1024) {}
	close(fd);
}

static int corrupt_count(const char *name)
{
	struct vhd_check_result r;
	int ret = vhd_check(P(name), 0, NULL, NULL, &r);
	return ret ? ret : (int)r.corruptions;
}

static void expect_bad(const char *name)
{
	struct vhd *v = NULL;
	CHECK(vhd_open(P(name), VHD_RDONLY, &v) < 0);
	CHECK(v == NULL);
	CHECK(strstr(vhd_errmsg(), name) != NULL);
	CHECK(corrupt_count(name) > 0);
}

static void test_clean(void)
{
	struct vhd_check_result r;

	make_sample("s.vhd");
	CHECK_EQ(vhd_check(P("s.vhd"), 0, NULL, NULL, &r), 0);
	CHECK_EQ(r.corruptions, 0);
	CHECK_EQ(r.leaks, 0);
	CHECK_EQ(r.allocated_blocks, 2);
	CHECK_EQ(r.type, VHD_TYPE_DYNAMIC);
}

static void test_bad_input(void)
{
	uint8_t x[8] = "garbage!", ff[4];

	make_sample("b1.vhd");
	poke("b1.vhd", 512, x, 8); /* header cookie */
	expect_bad("b1.vhd");

	make_sample("b2.vhd");
	poke("b2.vhd", 512 + 100, x, 1); /* header checksum */
	expect_bad("b2.vhd");

	make_sample("b3.vhd");
	be32(ff, 0x7fffff00); /* BAT entry past the end */
	poke("b3.vhd", 1536, ff, 4);
	expect_bad("b3.vhd");

	make_sample("b4.vhd");
	be32(ff, 3); /* into the metadata */
	poke("b4.vhd", 1536, ff, 4);
	expect_bad("b4.vhd");

	make_sample("b5.vhd");
	uint8_t e0[4];
	int fd = open(P("b5.vhd"), O_RDONLY);
	if (pread(fd, e0, 4, 1536) != 4) {}
	close(fd);
	poke("b5.vhd", 1536 + 4, e0, 4); /* block 1 overlaps block 0 */
	expect_bad("b5.vhd");

	make_sample("b6.vhd");
	be32(ff, 3 << 20); /* block size not a power of two */
	poke("b6.vhd", 512 + 32, ff, 4);
	fix_hdr_csum("b6.vhd");
	expect_bad("b6.vhd");

	make_sample("b7.vhd");
	be32(ff, 0x40000000); /* absurd entry count */
	poke("b7.vhd", 512 + 28, ff, 4);
	fix_hdr_csum("b7.vhd");
	expect_bad("b7.vhd");

	make_sample("b8.vhd"); /* truncated */
	CHECK_EQ(truncate(P("b8.vhd"), 3000), 0);
	expect_bad("b8.vhd");

	mk("b9.vhd", VHD_TYPE_FIXED, 1 << 20, NULL); /* footer checksum */
	poke("b9.vhd", vhd_round_size(1 << 20, false) + 70, x, 1);
	expect_bad("b9.vhd");

	/* not a VHD at all */
	fd = open(P("empty"), O_CREAT | O_WRONLY, 0644);
	close(fd);
	expect_bad("empty");
}

static void test_footer_copy(void)
{
	struct vhd *v;
	struct vhd_check_result r;
	uint8_t z[512] = { 0 }, buf[4096], exp[4096];
	struct stat st;

	make_sample("fc.vhd");
	stat(P("fc.vhd"), &st);
	poke("fc.vhd", (uint64_t)st.st_size - 512, z, 512); /* trailing footer lost */
	CHECK_EQ(vhd_check(P("fc.vhd"), 0, NULL, NULL, &r), 0);
	CHECK_EQ(r.corruptions, 0);
	CHECK(r.leaks > 0);
	/* read-only open works and never writes */
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "cp %s %s", P("fc.vhd"), P("fc.orig"));
	CHECK_EQ(system(cmd), 0);
	CHECK_EQ(vhd_open(P("fc.vhd"), VHD_RDONLY, &v), 0);
	if (v) {
		pattern_fill(exp, sizeof(exp), 5, 1);
		CHECK_EQ(vhd_read(v, 10, buf, 8), 0);
		CHECK(!memcmp(buf, exp, sizeof(exp)));
		vhd_close(v);
	}
	CHECK_EQ(vhd_check(P("fc.vhd"), 0, NULL, NULL, &r), 0);
	CHECK(r.leaks > 0);
	snprintf(cmd, sizeof(cmd), "cmp -s %s %s", P("fc.vhd"), P("fc.orig"));
	CHECK_EQ(system(cmd), 0);
	CHECK_EQ(vhd_check(P("fc.vhd"), VHD_CHECK_REPAIR_LEAKS, NULL, NULL, &r), 0);
	CHECK_EQ(vhd_check(P("fc.vhd"), 0, NULL, NULL, &r), 0);
	CHECK_EQ(r.corruptions + r.leaks, 0);
}

static void test_parent_loop(void)
{
	/* a -> b -> a: make b's locator point at a after creating both */
	struct vhd_check_result r;
	struct vhd *v;
	char cmd[1024];

	mk("la.vhd", VHD_TYPE_DYNAMIC, 4 << 20, NULL);
	mk("lb.vhd", VHD_TYPE_DIFF, 0, P("la.vhd"));
	mk("lc.vhd", VHD_TYPE_DIFF, 0, P("lb.vhd"));
	/* lb's parent becomes lc (same name length): lc -> lb -> lc */
	snprintf(cmd, sizeof(cmd), "cd %s && mv la.vhd la.old && cp lc.vhd la.vhd", scratch_dir);
	CHECK_EQ(system(cmd), 0);
	int ret = vhd_open(P("lc.vhd"), VHD_RDONLY, &v);
	CHECK(ret == -ELOOP || ret == -EINVAL); /* the copy has lc's id: either is refused */
	CHECK_EQ(vhd_check(P("lb.vhd"), 0, NULL, NULL, &r), 0);
	CHECK(r.corruptions > 0);
}

static void test_compact(void)
{
	struct vhd *v;
	uint8_t *buf = malloc(2 << 20), exp[4096];
	uint32_t freed = 0;
	struct stat a, b;
	struct vhd_check_result r;

	mk("c.vhd", VHD_TYPE_DYNAMIC, 16 << 20, NULL);
	CHECK_EQ(vhd_open(P("c.vhd"), 0, &v), 0);
	if (!v)
		return;
	pattern_fill(buf, 2 << 20, 1, 1);
	for (int blk = 0; blk < 8; blk++)
		CHECK_EQ(vhd_write(v, (uint64_t)blk * 4096, buf, 4096), 0);
	memset(buf, 0, 2 << 20);
	for (int blk = 0; blk < 8; blk += 2) /* zero blocks 0, 2, 4, 6 with real zero writes */
		CHECK_EQ(vhd_write(v, (uint64_t)blk * 4096, buf, 4096), 0);
	CHECK_EQ(vhd_flush(v), 0);
	stat(P("c.vhd"), &a);
	CHECK_EQ(vhd_compact(v, &freed, NULL, NULL), 0);
	CHECK_EQ(freed, 4);
	pattern_fill(buf, 2 << 20, 1, 1);
	for (int blk = 0; blk < 8; blk++) {
		CHECK_EQ(vhd_read(v, (uint64_t)blk * 4096, exp, 8), 0);
		CHECK(!memcmp(exp, blk % 2 ? buf : (uint8_t[4096]){ 0 }, 4096));
	}
	CHECK_EQ(vhd_close(v), 0);
	stat(P("c.vhd"), &b);
	CHECK(b.st_size < a.st_size - 4 * (2 << 20) + 4096);
	CHECK_EQ(vhd_check(P("c.vhd"), 0, NULL, NULL, &r), 0);
	CHECK_EQ(r.corruptions + r.leaks, 0);
	free(buf);
}

static void test_resize(void)
{
	struct vhd *v;
	uint8_t buf[4096], exp[4096];
	struct vhd_info in;
	struct vhd_check_result r;

	pattern_fill(exp, sizeof(exp), 9, 1);
	/* 4 MiB with 4 KiB blocks: 1024 entries = 8 BAT sectors; grow to 64 MiB (needs 32) */
	struct vhd_create_opts o = { .type = VHD_TYPE_DYNAMIC, .size = 4 << 20, .block_size = 4096,
				     .force_size = true };
	CHECK_EQ(vhd_create(P("r.vhd"), &o, &v), 0);
	if (!v)
		return;
	for (int i = 0; i < 64; i++)
		CHECK_EQ(vhd_write(v, (uint64_t)i * 64, exp, 8), 0);
	CHECK_EQ(vhd_resize(v, 64 << 20, true, 0), 0);
	CHECK_EQ(vhd_write(v, (60 << 20) / 512, exp, 8), 0);
	CHECK_EQ(vhd_close(v), 0);
	CHECK_EQ(vhd_open(P("r.vhd"), VHD_RDONLY, &v), 0);
	if (!v)
		return;
	vhd_get_info(v, &in);
	CHECK_EQ(in.virtual_size, 64 << 20);
	for (int i = 0; i < 64; i++) {
		CHECK_EQ(vhd_read(v, (uint64_t)i * 64, buf, 8), 0);
		CHECK(!memcmp(buf, exp, sizeof(buf)));
	}
	CHECK_EQ(vhd_read(v, (60 << 20) / 512, buf, 8), 0);
	CHECK(!memcmp(buf, exp, sizeof(buf)));
	vhd_close(v);
	CHECK_EQ(vhd_check(P("r.vhd"), 0, NULL, NULL, &r), 0);
	CHECK_EQ(r.corruptions, 0);
	/* shrink needs the flag */
	CHECK_EQ(vhd_open(P("r.vhd"), 0, &v), 0);
	if (!v)
		return;
	CHECK_EQ(vhd_resize(v, 1 << 20, true, 0), -EINVAL);
	CHECK_EQ(vhd_resize(v, 1 << 20, true, VHD_RESIZE_SHRINK), 0);
	vhd_close(v);
	CHECK_EQ(vhd_check(P("r.vhd"), 0, NULL, NULL, &r), 0);
	CHECK_EQ(r.corruptions, 0);
	/* fixed grows */
	CHECK_EQ(mk("rf.vhd", VHD_TYPE_FIXED, 1 << 20, NULL), 0);
	CHECK_EQ(vhd_open(P("rf.vhd"), 0, &v), 0);
	if (!v)
		return;
	CHECK_EQ(vhd_write(v, 0, exp, 8), 0);
	CHECK_EQ(vhd_resize(v, 3 << 20, false, 0), 0);
	vhd_get_info(v, &in);
	CHECK_EQ(in.virtual_size, vhd_round_size(3 << 20, false));
	CHECK_EQ(vhd_read(v, vhd_round_size(1 << 20, false) / 512, buf, 1), 0);
	CHECK(buf[0] == 0 && buf[511] == 0);
	vhd_close(v);
}

static void test_commit(void)
{
	struct vhd *v, *p;
	uint8_t a[4096], b[4096], buf[4096];

	pattern_fill(a, sizeof(a), 20, 1);
	pattern_fill(b, sizeof(b), 21, 1);
	mk("cb.vhd", VHD_TYPE_DYNAMIC, 8 << 20, NULL);
	CHECK_EQ(vhd_open(P("cb.vhd"), 0, &p), 0);
	if (!p)
		return;
	vhd_write(p, 0, a, 8);
	vhd_write(p, 5000, a, 8);
	vhd_close(p);
	mk("cc.vhd", VHD_TYPE_DIFF, 0, P("cb.vhd"));
	CHECK_EQ(vhd_open(P("cc.vhd"), 0, &v), 0);
	if (!v)
		return;
	vhd_write(v, 4, b, 8);           /* overlaps the base's data */
	memset(buf, 0, sizeof(buf));
	vhd_write(v, 5000, buf, 8);      /* zeros over the base's data */
	vhd_close(v);
	CHECK_EQ(vhd_open(P("cc.vhd"), 0, &v), 0);
	if (!v)
		return;
	CHECK_EQ(vhd_commit(v, NULL, NULL), -EROFS);
	vhd_close(v);
	CHECK_EQ(vhd_open(P("cc.vhd"), VHD_PARENT_RW, &v), 0);
	if (!v)
		return;
	CHECK_EQ(vhd_commit(v, NULL, NULL), 0);
	CHECK_EQ(vhd_close(v), 0);
	CHECK_EQ(vhd_open(P("cb.vhd"), VHD_RDONLY, &p), 0);
	if (!p)
		return;
	CHECK_EQ(vhd_read(p, 0, buf, 8), 0);
	CHECK(!memcmp(buf, a, 2048));
	CHECK(!memcmp(buf + 2048, b, 2048));
	CHECK_EQ(vhd_read(p, 5000, buf, 8), 0);
	CHECK(buf[0] == 0 && buf[4095] == 0);
	vhd_close(p);
	/* the child still opens (parent id and timestamp kept) */
	CHECK_EQ(vhd_open(P("cc.vhd"), VHD_RDONLY, &v), 0);
	vhd_close(v);
}

/* A chain base <- mid <- top: mid committed into base, top re-pointed at base (what a
 * snapshot delete does, server/layers.c) reads as before; wrong uses refused. */
static void test_set_parent(void)
{
	struct vhd *v;
	struct vhd_info in;
	struct vhd_check_result res;
	uint8_t a[4096], b[4096], c[4096], buf[4096];
	char want[4096];

	pattern_fill(a, sizeof(a), 30, 1);
	pattern_fill(b, sizeof(b), 31, 1);
	pattern_fill(c, sizeof(c), 32, 1);
	mk("sb.vhd", VHD_TYPE_DYNAMIC, 8 << 20, NULL);
	mk("sother.vhd", VHD_TYPE_DYNAMIC, 16 << 20, NULL);
	CHECK_EQ(vhd_open(P("sb.vhd"), 0, &v), 0);
	if (!v)
		return;
	vhd_write(v, 0, a, 8);
	vhd_close(v);
	mk("sm.vhd", VHD_TYPE_DIFF, 0, P("sb.vhd"));
	CHECK_EQ(vhd_open(P("sm.vhd"), 0, &v), 0);
	if (!v)
		return;
	vhd_write(v, 4, b, 8);
	vhd_close(v);
	mk("st.vhd", VHD_TYPE_DIFF, 0, P("sm.vhd"));
	CHECK_EQ(vhd_open(P("st.vhd"), 0, &v), 0);
	if (!v)
		return;
	vhd_write(v, 100, c, 8);
	vhd_close(v);
	CHECK_EQ(vhd_set_parent(P("sb.vhd"), P("sm.vhd")), -EINVAL);      /* not differencing */
	CHECK_EQ(vhd_set_parent(P("st.vhd"), P("sother.vhd")), -EINVAL);  /* another size */
	CHECK_EQ(vhd_set_parent(P("st.vhd"), P("nosuch.vhd")), -ENOENT);
	CHECK_EQ(vhd_open(P("sm.vhd"), VHD_PARENT_RW, &v), 0);
	if (!v)
		return;
	CHECK_EQ(vhd_commit(v, NULL, NULL), 0);
	CHECK_EQ(vhd_close(v), 0);
	CHECK_EQ(vhd_set_parent(P("st.vhd"), P("sb.vhd")), 0);
	CHECK_EQ(unlink(P("sm.vhd")), 0);
	CHECK_EQ(vhd_open(P("st.vhd"), VHD_RDONLY, &v), 0);
	if (!v)
		return;
	vhd_get_info(v, &in);
	CHECK(realpath(P("sb.vhd"), want) && !strcmp(in.parent_path, want));
	CHECK_EQ(vhd_read(v, 0, buf, 8), 0);
	CHECK(!memcmp(buf, a, 2048) && !memcmp(buf + 2048, b, 2048));
	CHECK_EQ(vhd_read(v, 100, buf, 8), 0);
	CHECK(!memcmp(buf, c, 4096));
	vhd_close(v);
	CHECK_EQ(vhd_check(P("st.vhd"), 0, NULL, NULL, &res), 0);
	CHECK_EQ(res.corruptions, 0);
	CHECK_EQ(res.leaks, 0);
}

static int sh(const char *fmt, const char *a, const char *b)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), fmt, a, b);
	return system(cmd);
}

static void test_qemu_interop(void)
{
	struct vhd *v;
	uint8_t *buf = malloc(1 << 20);
	struct vhd_info in;

	if (system("command -v qemu-img >/dev/null 2>&1")) {
		printf("SKIP test_qemu_interop: qemu-img not installed (qemu-utils)\n");
		check_case_failed = 1; /* do not print PASS */
		check_total_failed--;
		free(buf);
		return;
	}
	/* ours -> qemu */
	static const struct { enum vhd_type t; bool force; uint64_t size; } cases[] = {
		{ VHD_TYPE_DYNAMIC, false, 10000001 }, { VHD_TYPE_DYNAMIC, true, 10 << 20 },
		{ VHD_TYPE_FIXED, false, 7654321 }, { VHD_TYPE_FIXED, true, 6 << 20 },
	};
	for (unsigned i = 0; i < 4; i++) {
		struct vhd_create_opts o = { .type = cases[i].t, .size = cases[i].size,
					     .force_size = cases[i].force };
		CHECK_EQ(vhd_create(P("q.vhd"), &o, &v), 0);
		if (!v)
			break;
		pattern_fill(buf, 1 << 20, i, 1);
		CHECK_EQ(vhd_write(v, 777, buf, 2048), 0);
		vhd_get_info(v, &in);
		CHECK_EQ(vhd_close(v), 0);
		CHECK_EQ(sh("qemu-img convert -f vpc -O raw %s %s", P("q.vhd"), P("q.raw")), 0);
		struct stat st;
		stat(P("q.raw"), &st);
		CHECK_EQ((uint64_t)st.st_size, in.virtual_size);
		if (cases[i].t == VHD_TYPE_DYNAMIC)
			CHECK_EQ(sh("qemu-img check -f vpc %s >/dev/null 2>&1; test $? -ne 2 -a $? -ne 3 %s",
				    P("q.vhd"), ""), 0);
		CHECK_EQ(sh("qemu-img compare -f vpc -F raw %s %s >/dev/null", P("q.vhd"), P("q.raw")), 0);
		int fd = open(P("q.raw"), O_RDONLY);
		uint8_t *r = malloc(1 << 20);
		CHECK(pread(fd, r, 1 << 20, 777 * 512) == 1 << 20);
		CHECK(!memcmp(r, buf, 1 << 20));
		free(r);
		close(fd);
	}
	/* qemu -> ours */
	static const char *const qc[] = { "subformat=dynamic", "subformat=dynamic,force_size=on",
					  "subformat=fixed", "subformat=fixed,force_size=on" };
	for (unsigned i = 0; i < 4; i++) {
		char cmd[1024];
		snprintf(cmd, sizeof(cmd),
			 "qemu-img create -q -f vpc -o %s %s 9999999 && "
			 "qemu-io -f vpc -c 'write -P 0x5a 1000k 300k' %s >/dev/null",
			 qc[i], P("qq.vhd"), P("qq.vhd"));
		CHECK_EQ(system(cmd), 0);
		CHECK_EQ(vhd_open(P("qq.vhd"), VHD_RDONLY, &v), 0);
		if (!v)
			continue;
		vhd_get_info(v, &in);
		snprintf(cmd, sizeof(cmd), "qemu-img info -f vpc --output=json %s | grep -q '\"virtual-size\": %llu,'",
			 P("qq.vhd"), (unsigned long long)in.virtual_size);
		CHECK_EQ(system(cmd), 0);
		CHECK_EQ(vhd_read(v, 2000, buf, 600), 0);
		CHECK(buf[0] == 0x5a && buf[600 * 512 - 1] == 0x5a);
		CHECK_EQ(vhd_read(v, 1990, buf, 1), 0);
		CHECK(buf[0] == 0);
		vhd_close(v);
	}
	free(buf);
}

int main(void)
{
	if (scratch_make("vsrv-vhdm"))
		return 1;
	RUN(test_clean);
	RUN(test_bad_input);
	RUN(test_footer_copy);
	RUN(test_parent_loop);
	RUN(test_compact);
	RUN(test_resize);
	RUN(test_commit);
	RUN(test_set_parent);
	RUN(test_qemu_interop);
	scratch_remove();
	return check_done();
}
