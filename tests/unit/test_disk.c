/* Unit tests of src/disk: probing, raw and VHD behind disk_ops, concurrent I/O threads. */
#include "check.h"
#include "scratch.h"
#include "disk/disk.h"
#include "vhd/vhd.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void rw_roundtrip(struct disk *d)
{
	uint8_t a[8192], b[8192];
	struct iovec wv[2] = { { a, 1024 }, { a + 1024, 7168 } };
	struct iovec rv[3] = { { b, 512 }, { b + 512, 4096 }, { b + 4608, 3584 } };

	pattern_fill(a, sizeof(a), 7, 1);
	CHECK_EQ(disk_writev(d, 33, wv, 2), 0);
	CHECK_EQ(disk_readv(d, 33, rv, 3), 0);
	CHECK(!memcmp(a, b, sizeof(a)));
	CHECK_EQ(disk_flush(d), 0);
	CHECK_EQ(d->ops->write_zeroes(d, 34, 2, true), 0);
	CHECK_EQ(disk_readv(d, 33, rv, 3), 0);
	CHECK(!memcmp(a, b, 512));
	CHECK(b[512] == 0 && b[1535] == 0);
	CHECK(!memcmp(a + 1536, b + 1536, sizeof(a) - 1536));
	CHECK_EQ(d->ops->discard(d, 40, 1), 0);
	CHECK(disk_readv(d, d->size / 512, rv, 1) < 0);
}

static void test_raw(void)
{
	struct disk *d;
	int fd = open(P("a.raw"), O_CREAT | O_RDWR, 0644);

	CHECK(fd >= 0 && ftruncate(fd, 4 << 20) == 0);
	close(fd);
	CHECK_EQ(disk_open(P("a.raw"), NULL, 0, &d), 0);
	if (!d)
		return;
	CHECK(!strcmp(d->format, "raw"));
	CHECK_EQ(d->size, 4 << 20);
	CHECK(d->direct_fd >= 0);
	rw_roundtrip(d);
	disk_close(d);
	CHECK_EQ(disk_open(P("a.raw"), "raw", DISK_RDONLY, &d), 0);
	if (d) {
		uint8_t x[512] = { 0 };
		struct iovec v = { x, 512 };
		CHECK_EQ(disk_writev(d, 0, &v, 1), -EROFS);
		disk_close(d);
	}
	CHECK(disk_open(P("a.raw"), "qcow2", 0, &d) < 0);
	CHECK(disk_open(P("missing"), NULL, 0, &d) < 0);
}

static void test_vhd_types(void)
{
	static const enum vhd_type t[] = { VHD_TYPE_FIXED, VHD_TYPE_DYNAMIC };
	for (int i = 0; i < 2; i++) {
		struct vhd_create_opts o = { .type = t[i], .size = 4 << 20 };
		struct disk *d;
		CHECK_EQ(vhd_create(P("a.vhd"), &o, NULL), 0);
		CHECK_EQ(disk_open(P("a.vhd"), NULL, 0, &d), 0);
		if (!d)
			continue;
		CHECK(!strcmp(d->format, "vhd"));
		CHECK_EQ(d->size, vhd_round_size(4 << 20, false));
		CHECK(t[i] == VHD_TYPE_FIXED ? d->direct_fd >= 0 : d->direct_fd < 0);
		rw_roundtrip(d);
		disk_close(d);
	}
}

struct job {
	struct disk *d;
	int id;
	int err;
};

#define NTHREADS 4
#define PER 24

static void *worker(void *arg)
{
	struct job *j = arg;
	uint8_t *buf = malloc(64 << 10);

	for (int k = 0; k < PER && !j->err; k++) {
		/* thread id owns blocks id, id+4, ... (2 MiB blocks = 4096 sectors) */
		uint64_t blk = (uint64_t)j->id + (uint64_t)NTHREADS * (k % 4);
		uint64_t s = blk * 4096 + (uint64_t)(k * 97 % 3000);
		struct iovec v = { buf, 64 << 10 };
		pattern_fill(buf, 64 << 10, (unsigned)(j->id * 1000 + k), 1);
		j->err = disk_writev(j->d, s, &v, 1);
		if (!j->err && k % 5 == 0)
			j->err = disk_flush(j->d);
	}
	free(buf);
	return NULL;
}

static void verify(struct disk *d, int nth)
{
	uint8_t *exp = malloc(64 << 10), *got = malloc(64 << 10);
	/* later writes to the same block may overlap earlier ones: check the last four */
	for (int id = 0; id < nth; id++)
		for (int k = PER - 4; k < PER; k++) {
			uint64_t blk = (uint64_t)id + (uint64_t)NTHREADS * (k % 4);
			uint64_t s = blk * 4096 + (uint64_t)(k * 97 % 3000);
			struct iovec v = { got, 64 << 10 };
			pattern_fill(exp, 64 << 10, (unsigned)(id * 1000 + k), 1);
			CHECK_EQ(disk_readv(d, s, &v, 1), 0);
			CHECK(!memcmp(exp, got, 64 << 10));
		}
	free(exp);
	free(got);
}

static void run_threads(const char *name)
{
	struct disk *d;
	pthread_t th[NTHREADS];
	struct job j[NTHREADS];

	CHECK_EQ(disk_open(P(name), NULL, 0, &d), 0);
	if (!d)
		return;
	for (int i = 0; i < NTHREADS; i++) {
		j[i] = (struct job){ d, i, 0 };
		pthread_create(&th[i], NULL, worker, &j[i]);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ(j[i].err, 0);
	}
	verify(d, NTHREADS);
	CHECK_EQ(disk_flush(d), 0);
	disk_close(d);
	CHECK_EQ(disk_open(P(name), NULL, DISK_RDONLY, &d), 0);
	if (!d)
		return;
	verify(d, NTHREADS);
	disk_close(d);
	struct vhd_check_result r;
	CHECK_EQ(vhd_check(P(name), 0, NULL, NULL, &r), 0);
	CHECK_EQ(r.corruptions + r.leaks, 0);
}

static void test_threads(void)
{
	struct vhd_create_opts o = { .type = VHD_TYPE_DYNAMIC, .size = 64 << 20 };
	struct vhd *v;
	uint8_t *buf = malloc(1 << 20);

	CHECK_EQ(vhd_create(P("t.vhd"), &o, NULL), 0);
	run_threads("t.vhd");
	/* differencing over a base that has data everywhere the threads write */
	CHECK_EQ(vhd_create(P("tb.vhd"), &o, &v), 0);
	if (!v)
		return;
	memset(buf, 0x33, 1 << 20);
	for (uint64_t s = 0; s < (32 << 20) / 512; s += 2048)
		CHECK_EQ(vhd_write(v, s, buf, 2048), 0);
	vhd_close(v);
	struct vhd_create_opts od = { .type = VHD_TYPE_DIFF, .parent = P("tb.vhd") };
	CHECK_EQ(vhd_create(P("td.vhd"), &od, NULL), 0);
	run_threads("td.vhd");
	free(buf);
}

/* A qcow2 image made by qemu-img (when installed) over a qcow2 backing file: a VM's disk
 * never opens it (no DISK_FOREIGN), nor anything writes it; `vsrv img`'s reader sees the
 * data of both files through libqcow, and writes are refused. */
static void test_foreign(void)
{
	char cmd[1024];
	struct disk *d;
	int n;

	snprintf(cmd, sizeof(cmd),
		 "cd %s && qemu-img create -q -f qcow2 b.qcow2 4M && "
		 "qemu-io -c 'write -P 0x61 0 1M' b.qcow2 >/dev/null && "
		 "qemu-img create -q -f qcow2 -b b.qcow2 -F qcow2 q.qcow2 && "
		 "qemu-io -c 'write -P 0x62 512k 4k' q.qcow2 >/dev/null", scratch_dir);
	if (system("command -v qemu-img >/dev/null && command -v qemu-io >/dev/null") ||
	    system(cmd)) {
		printf("SKIP foreign: qemu-img/qemu-io not installed or failed (make test-deps)\n");
		return;
	}
	CHECK_EQ(disk_open(P("q.qcow2"), NULL, 0, &d), -EMEDIUMTYPE);
	CHECK_EQ(disk_open(P("q.qcow2"), NULL, DISK_RDONLY, &d), -EMEDIUMTYPE);
	CHECK_EQ(disk_open(P("q.qcow2"), "qcow2", DISK_RDONLY, &d), -EMEDIUMTYPE);
	CHECK_EQ(disk_open(P("q.qcow2"), NULL, DISK_FOREIGN, &d), -EROFS);
	CHECK(d == NULL);
	CHECK_EQ(disk_open(P("q.qcow2"), NULL, DISK_FOREIGN | DISK_RDONLY, &d), 0);
	if (!d)
		return;
	CHECK(!strcmp(d->format, "qcow2"));
	CHECK_EQ(d->size, 4 << 20);
	const struct disk_layer *l = disk_layers(d, &n);
	CHECK_EQ(n, 2);
	CHECK(l && l[0].backing && !strcmp(l[0].backing, "b.qcow2") && !l[1].backing &&
	      !strcmp(l[1].format, "qcow2"));
	uint8_t *b = malloc(1 << 20), x[512] = { 0 };
	struct iovec v = { b, 1 << 20 }, w = { x, 512 };
	CHECK_EQ(disk_readv(d, 0, &v, 1), 0);
	CHECK(b[0] == 0x61 && b[(512 << 10) - 1] == 0x61 && b[512 << 10] == 0x62 &&
	      b[(516 << 10) - 1] == 0x62 && b[516 << 10] == 0x61 && b[(1 << 20) - 1] == 0x61);
	CHECK_EQ(disk_writev(d, 0, &w, 1), -EROFS);
	CHECK_EQ(d->ops->write_zeroes(d, 0, 1, true), -EROFS);
	CHECK_EQ(d->ops->discard(d, 0, 1), -EROFS);
	CHECK(disk_readv(d, d->size / 512, &w, 1) < 0);
	free(b);
	disk_close(d);
}

int main(void)
{
	if (scratch_make("vsrv-disk"))
		return 1;
	RUN(test_raw);
	RUN(test_vhd_types);
	RUN(test_threads);
	RUN(test_foreign);
	scratch_remove();
	return check_done();
}
