/* Unit tests of a disk's switch to a new top (disk_switch, src/disk/disk_switch.c: the live
 * snapshot's step in the VMM), the new top passed as a descriptor and opened over the image
 * the disk has open (never by name): the new top reads through to the old one and takes the
 * writes, the old one stays as it was at the switch; the image locks after it (the old top
 * shared, the new one exclusive); refusals (a top over another image, a dynamic or fixed
 * VHD, not a VHD, a descriptor on another file or read-only) leave the disk as it was,
 * locked, and the descriptor the caller's (none leaked); an undo (a switch of several disks
 * where a later one failed) goes back to the old top and closes the new top's descriptor. */
#include "check.h"
#include "fdcount.h"
#include "scratch.h"
#include "disk/disk.h"
#include "vhd/vhd.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIZE (8u << 20)

static void make_base(const char *name)
{
	struct vhd_create_opts o = { .type = VHD_TYPE_DYNAMIC, .size = SIZE, .force_size = true };

	CHECK_EQ(vhd_create(P(name), &o, NULL), 0);
}

/* A differencing VHD over parent made while a writer holds parent (as the server does). */
static int make_top(const char *name, const char *parent)
{
	struct vhd_create_opts o = { .type = VHD_TYPE_DIFF, .parent = P(parent),
				     .parent_nolock = true };

	return vhd_create(P(name), &o, NULL);
}

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

static int put(struct disk *d, uint64_t sector, uint8_t seed)
{
	uint8_t b[4096];
	struct iovec v = { b, sizeof(b) };

	fill(b, sizeof(b), seed);
	return disk_writev(d, sector, &v, 1);
}

/* 1 if the 8 sectors at sector hold seed's pattern, 0 if not, -errno. */
static int holds(struct disk *d, uint64_t sector, uint8_t seed)
{
	uint8_t b[4096], want[4096];
	struct iovec v = { b, sizeof(b) };
	int ret = disk_readv(d, sector, &v, 1);

	if (ret)
		return ret;
	fill(want, sizeof(want), seed);
	return !memcmp(b, want, sizeof(b));
}

static int try_open(const char *path, unsigned flags)
{
	struct disk *d;
	int ret = disk_open(path, NULL, flags, &d);

	disk_close(d);
	return ret;
}

/* disk_switch onto the image name, opened here read-write (as the server and `vsrv control`
 * do); the descriptor closed here when the switch refused it. */
static int sw(struct disk *d, const char *name, struct disk **old)
{
	char err[1024] = "";
	int fd = open(P(name), O_RDWR | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = disk_switch(d, P(name), fd, old, err, sizeof(err));
	if (ret)
		close(fd);
	CHECK(!ret == !err[0]); /* a reason exactly when refused */
	return ret;
}

/* Switch, write on, and find the old top as it was at the switch. */
static void test_switch_reads_through(void)
{
	struct disk *d, *old, *r;
	uint64_t *map;

	make_base("a.vhd");
	CHECK_EQ(disk_open(P("a.vhd"), NULL, 0, &d), 0);
	CHECK_EQ(put(d, 0, 1), 0);
	CHECK_EQ(put(d, 4096, 2), 0);
	CHECK_EQ(disk_dirty_start(d, false), 0);
	map = d->dirty_map;
	CHECK_EQ(make_top("a1.vhd", "a.vhd"), 0);
	CHECK_EQ(sw(d, "a1.vhd", &old), 0);
	CHECK(old != NULL);
	disk_switch_done(old);
	CHECK(strstr(d->path, "a1.vhd") != NULL);
	CHECK(!strcmp(d->format, "vhd") && !d->readonly && d->size == SIZE);
	CHECK(d->dirty_map == map && d->dirty_on);
	CHECK_EQ(holds(d, 0, 1), 1);      /* read through to the old top */
	CHECK_EQ(holds(d, 4096, 2), 1);
	CHECK_EQ(disk_dirty_count(d), 0);
	CHECK_EQ(put(d, 0, 3), 0);        /* written to the new one */
	CHECK_EQ(holds(d, 0, 3), 1);
	CHECK_EQ(disk_dirty_count(d), 1); /* the bitmap goes on marking */
	CHECK_EQ(disk_flush(d), 0);
	/* the locks: the old top read-only (readers welcome, no writer), the new one ours */
	CHECK_EQ(try_open(P("a.vhd"), 0), -EBUSY);
	CHECK_EQ(try_open(P("a.vhd"), DISK_RDONLY), 0);
	CHECK_EQ(try_open(P("a1.vhd"), DISK_RDONLY), -EBUSY);
	/* the old top holds what was there at the switch */
	CHECK_EQ(disk_open(P("a.vhd"), NULL, DISK_RDONLY, &r), 0);
	if (r) {
		CHECK_EQ(holds(r, 0, 1), 1);
		CHECK_EQ(holds(r, 4096, 2), 1);
		disk_close(r);
	}
	/* a second switch over the first new top: a chain of three */
	CHECK_EQ(make_top("a2.vhd", "a1.vhd"), 0);
	CHECK_EQ(sw(d, "a2.vhd", &old), 0);
	disk_switch_done(old);
	CHECK_EQ(put(d, 4096, 4), 0);
	CHECK_EQ(holds(d, 0, 3), 1);
	CHECK_EQ(holds(d, 4096, 4), 1);
	CHECK_EQ(disk_flush(d), 0);
	disk_close(d);
	/* all closed: every image free, each holding its own layer */
	CHECK_EQ(try_open(P("a.vhd"), 0), 0);
	CHECK_EQ(disk_open(P("a1.vhd"), NULL, DISK_RDONLY, &r), 0);
	if (r) {
		CHECK_EQ(holds(r, 0, 3), 1);
		CHECK_EQ(holds(r, 4096, 2), 1);
		disk_close(r);
	}
	CHECK_EQ(disk_open(P("a2.vhd"), NULL, 0, &r), 0);
	if (r) {
		CHECK_EQ(holds(r, 0, 3), 1);
		CHECK_EQ(holds(r, 4096, 4), 1);
		disk_close(r);
	}
}

/* d is on path (by its name), writable, holding its exclusive lock, and writes land. */
static void check_unchanged(struct disk *d, const char *name, uint8_t seed)
{
	CHECK(strstr(d->path, name) != NULL);
	CHECK(!(d->flags & DISK_NOLOCK));
	CHECK_EQ(try_open(P(name), DISK_RDONLY), -EBUSY);
	CHECK_EQ(put(d, 64, seed), 0);
	CHECK_EQ(holds(d, 64, seed), 1);
}

/* What disk_switch refuses leaves the disk as it was, and no descriptor behind. */
static void test_switch_refused(void)
{
	struct vhd_create_opts dyn = { .type = VHD_TYPE_DYNAMIC, .size = SIZE, .force_size = true };
	struct vhd_create_opts fix = { .type = VHD_TYPE_FIXED, .size = SIZE, .force_size = true };
	struct disk *d, *raw, *old = (struct disk *)1;
	char err[1024];
	int fd, n0;

	make_base("b.vhd");
	make_base("other.vhd");
	CHECK_EQ(vhd_create(P("fixed.vhd"), &fix, NULL), 0);
	CHECK_EQ(disk_open(P("b.vhd"), NULL, 0, &d), 0);
	n0 = nfds();
	/* a dynamic image, not a differencing one */
	CHECK_EQ(sw(d, "other.vhd", &old), -EINVAL);
	CHECK(old == NULL);
	check_unchanged(d, "b.vhd", 10);
	/* a fixed one */
	CHECK_EQ(sw(d, "fixed.vhd", &old), -EINVAL);
	check_unchanged(d, "b.vhd", 15);
	/* a differencing image over another parent: the unique id its header records is not
	 * the disk's image's */
	CHECK_EQ(make_top("o1.vhd", "other.vhd"), 0);
	fd = open(P("o1.vhd"), O_RDWR | O_CLOEXEC);
	CHECK_EQ(disk_switch(d, P("o1.vhd"), fd, &old, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "records another parent") != NULL);
	close(fd);
	check_unchanged(d, "b.vhd", 11);
	/* not a VHD */
	fd = open(P("junk"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, "junk", 4) == 4);
	close(fd);
	CHECK(sw(d, "junk", &old) < 0);
	check_unchanged(d, "b.vhd", 13);
	/* the right top, but the descriptor is on another file than the path names, or open
	 * read-only, or not a file at all */
	CHECK_EQ(make_top("b1.vhd", "b.vhd"), 0);
	fd = open(P("o1.vhd"), O_RDWR | O_CLOEXEC);
	CHECK_EQ(disk_switch(d, P("b1.vhd"), fd, &old, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "another file") != NULL);
	close(fd);
	fd = open(P("b1.vhd"), O_RDONLY | O_CLOEXEC);
	CHECK_EQ(disk_switch(d, P("b1.vhd"), fd, &old, err, sizeof(err)), -EBADF);
	close(fd);
	fd = open(scratch_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_EQ(disk_switch(d, scratch_dir, fd, &old, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not a regular file") != NULL);
	close(fd);
	check_unchanged(d, "b.vhd", 16);
	/* the new top locked by someone else: refused, our lock as it was */
	fd = open(P("b1.vhd"), O_RDONLY);
	CHECK(fd >= 0 && vhd_lock_fd(fd, VHD_LOCK_SHARED, P("b1.vhd")) == 0);
	CHECK_EQ(sw(d, "b1.vhd", &old), -EBUSY);
	CHECK(old == NULL);
	check_unchanged(d, "b.vhd", 14);
	close(fd);
	CHECK_EQ(nfds(), n0); /* every refusal left the descriptor to the caller, who closed it */
	/* then it goes, and the same switch works */
	CHECK_EQ(sw(d, "b1.vhd", &old), 0);
	disk_switch_done(old);
	CHECK(strstr(d->path, "b1.vhd") != NULL);
	CHECK_EQ(holds(d, 64, 14), 1);
	CHECK_EQ(nfds(), n0 + 1); /* the new top's, held by the disk */
	disk_close(d);
	CHECK_EQ(nfds(), n0 - 1); /* b.vhd's too: the whole chain closed */
	/* a raw disk and a read-only one take no new top */
	CHECK_EQ(vhd_create(P("r.vhd"), &dyn, NULL), 0);
	fd = open(P("r.raw"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, SIZE) == 0);
	close(fd);
	CHECK_EQ(disk_open(P("r.raw"), NULL, 0, &raw), 0);
	CHECK_EQ(sw(raw, "o1.vhd", &old), -EMEDIUMTYPE);
	disk_close(raw);
	CHECK_EQ(disk_open(P("r.vhd"), NULL, DISK_RDONLY, &raw), 0);
	CHECK_EQ(sw(raw, "o1.vhd", &old), -EMEDIUMTYPE);
	disk_close(raw);
}

/* The new top's parent is the handle the disk has (never opened again by the switch), but
 * a guest reset or a restart opens the chain by names: a top whose header names another
 * file as its parent is refused, or the chain would open over that one after a reset. Here
 * the name the top records is missing (the image moved), then names a copy of the image
 * (the same unique id, time stamp and size: the header's checks alone pass), then the
 * image again: only then does the switch go, and the chain opened by names reads all. */
static void test_switch_no_reopen(void)
{
	struct disk *d, *old = NULL;
	char cmd[512];

	make_base("m.vhd");
	CHECK_EQ(disk_open(P("m.vhd"), NULL, 0, &d), 0);
	CHECK_EQ(put(d, 8, 30), 0);
	CHECK_EQ(make_top("m1.vhd", "m.vhd"), 0);
	CHECK_EQ(rename(P("m.vhd"), P("m-moved.vhd")), 0);
	CHECK_EQ(sw(d, "m1.vhd", &old), -EINVAL);
	CHECK(old == NULL);
	/* a copy under the name, of the image as it was when the top was made */
	CHECK_EQ(disk_flush(d), 0);
	snprintf(cmd, sizeof(cmd), "cp %s %s", P("m-moved.vhd"), P("m.vhd"));
	CHECK_EQ(system(cmd), 0);
	CHECK_EQ(put(d, 24, 32), 0); /* written to the image after the copy */
	CHECK_EQ(sw(d, "m1.vhd", &old), -EINVAL);
	CHECK(old == NULL);
	/* as it was: on its image (its file now named m-moved.vhd), locked, writable */
	CHECK(strstr(d->path, "m.vhd") != NULL);
	CHECK_EQ(try_open(P("m-moved.vhd"), DISK_RDONLY), -EBUSY);
	CHECK_EQ(put(d, 64, 33), 0);
	CHECK_EQ(holds(d, 64, 33), 1);
	CHECK_EQ(unlink(P("m.vhd")), 0);
	CHECK_EQ(rename(P("m-moved.vhd"), P("m.vhd")), 0);
	CHECK_EQ(sw(d, "m1.vhd", &old), 0);
	disk_switch_done(old);
	CHECK_EQ(holds(d, 8, 30), 1);
	CHECK_EQ(put(d, 16, 31), 0);
	CHECK_EQ(holds(d, 16, 31), 1);
	CHECK_EQ(disk_flush(d), 0);
	disk_close(d);
	CHECK_EQ(disk_open(P("m1.vhd"), NULL, DISK_RDONLY, &d), 0);
	if (d) {
		CHECK_EQ(holds(d, 8, 30), 1);
		CHECK_EQ(holds(d, 16, 31), 1);
		CHECK_EQ(holds(d, 24, 32), 1);
		disk_close(d);
	}
}

/* All or nothing over two disks: the second fails, the first goes back. */
static void test_switch_undo(void)
{
	struct disk *d1, *d2, *old1 = NULL, *old2 = NULL, *r;
	int n0;

	make_base("c.vhd");
	make_base("e.vhd");
	CHECK_EQ(disk_open(P("c.vhd"), NULL, 0, &d1), 0);
	CHECK_EQ(disk_open(P("e.vhd"), NULL, 0, &d2), 0);
	CHECK_EQ(put(d1, 0, 20), 0);
	CHECK_EQ(make_top("c1.vhd", "c.vhd"), 0);
	CHECK_EQ(make_top("e1.vhd", "c.vhd"), 0); /* wrong parent for d2 */
	CHECK_EQ(sw(d1, "c1.vhd", &old1), 0);
	CHECK_EQ(sw(d2, "e1.vhd", &old2), -EINVAL);
	n0 = nfds();
	CHECK_EQ(disk_switch_undo(d1, old1), 0);
	CHECK_EQ(nfds(), n0 - 1); /* the new top's descriptor closed */
	check_unchanged(d1, "c.vhd", 21);
	check_unchanged(d2, "e.vhd", 22);
	CHECK_EQ(holds(d1, 0, 20), 1);
	/* the new top is nobody's: it can be removed (or opened) freely */
	CHECK_EQ(try_open(P("c1.vhd"), DISK_RDONLY | DISK_NOLOCK), 0);
	CHECK_EQ(unlink(P("c1.vhd")), 0);
	CHECK_EQ(disk_flush(d1), 0);
	disk_close(d1);
	disk_close(d2);
	/* what d1 wrote after the undo is in its old top */
	CHECK_EQ(disk_open(P("c.vhd"), NULL, DISK_RDONLY, &r), 0);
	if (r) {
		CHECK_EQ(holds(r, 64, 21), 1);
		CHECK_EQ(holds(r, 0, 20), 1);
		disk_close(r);
	}
}

int main(void)
{
	if (scratch_make("vsrv-diskswitch"))
		return 1;
	RUN(test_switch_reads_through);
	RUN(test_switch_refused);
	RUN(test_switch_no_reopen);
	RUN(test_switch_undo);
	scratch_remove();
	return check_done();
}
