/* Unit tests of the image locks (lib/vhd/lock.c) through the block layer and lib/vhd: the
 * matrix (writer/writer, writer/reader, reader/reader), the parents of a differencing chain
 * held shared, locks held across fork and released with the last fd, the hand-over of a
 * migration (unlock, reopen, lock again), re-creating an image in use, and QEMU's view of
 * our locks (qemu-img, when installed). */
#include "check.h"
#include "scratch.h"
#include "disk/disk.h"
#include "vhd/vhd.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void make_raw(const char *name, off_t size)
{
	int fd = open(P(name), O_CREAT | O_RDWR | O_TRUNC, 0644);

	CHECK(fd >= 0 && ftruncate(fd, size) == 0);
	close(fd);
}

/* disk_open's result for path (the handle closed again at once). */
static int try_open(const char *path, unsigned flags)
{
	struct disk *d;
	int ret = disk_open(path, NULL, flags, &d);

	disk_close(d);
	return ret;
}

/* The matrix on one raw image: a writer excludes every other user, readers share. */
static void test_matrix_raw(void)
{
	struct disk *w, *r1, *r2;

	make_raw("m.raw", 1 << 20);
	CHECK_EQ(disk_open(P("m.raw"), NULL, 0, &w), 0);
	CHECK_EQ(try_open(P("m.raw"), 0), -EBUSY);             /* writer vs writer */
	CHECK_EQ(try_open(P("m.raw"), DISK_RDONLY), -EBUSY);   /* writer vs reader */
	CHECK(strstr(vhd_errmsg(), "m.raw") && strstr(vhd_errmsg(), "lock"));
	CHECK_EQ(try_open(P("m.raw"), DISK_RDONLY | DISK_NOLOCK), 0); /* -U */
	disk_close(w);
	CHECK_EQ(disk_open(P("m.raw"), NULL, DISK_RDONLY, &r1), 0);
	CHECK_EQ(disk_open(P("m.raw"), NULL, DISK_RDONLY, &r2), 0); /* reader vs reader */
	CHECK_EQ(try_open(P("m.raw"), 0), -EBUSY);                  /* reader vs writer */
	disk_close(r1);
	CHECK_EQ(try_open(P("m.raw"), 0), -EBUSY);                  /* one reader left */
	disk_close(r2);
	CHECK_EQ(try_open(P("m.raw"), 0), 0);                       /* all gone: free */
	/* a write lock on one of the bytes (someone else's protocol) refuses too */
	int fd = open(P("m.raw"), O_RDWR);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 201, .l_len = 1 };
	CHECK(fd >= 0 && fcntl(fd, F_OFD_SETLK, &fl) == 0);
	CHECK_EQ(try_open(P("m.raw"), DISK_RDONLY), -EBUSY);
	close(fd);
	CHECK_EQ(try_open(P("m.raw"), DISK_RDONLY), 0);
}

/* The same matrix on VHD images (lib/vhd locks what it opens). */
static void test_matrix_vhd(void)
{
	struct vhd_create_opts o = { .type = VHD_TYPE_DYNAMIC, .size = 4 << 20 };
	struct vhd *w, *r;

	CHECK_EQ(vhd_create(P("m.vhd"), &o, NULL), 0);
	CHECK_EQ(vhd_open(P("m.vhd"), 0, &w), 0);
	CHECK_EQ(vhd_open(P("m.vhd"), 0, &r), -EBUSY);
	CHECK_EQ(vhd_open(P("m.vhd"), VHD_RDONLY, &r), -EBUSY);
	CHECK(strstr(vhd_errmsg(), "m.vhd: failed to get shared \"write\" lock") != NULL);
	CHECK_EQ(try_open(P("m.vhd"), DISK_RDONLY), -EBUSY);
	vhd_close(w);
	CHECK_EQ(vhd_open(P("m.vhd"), VHD_RDONLY, &r), 0);
	CHECK_EQ(try_open(P("m.vhd"), DISK_RDONLY), 0);
	CHECK_EQ(try_open(P("m.vhd"), 0), -EBUSY);
	CHECK(strstr(vhd_errmsg(), "m.vhd: failed to get \"write\" lock") != NULL);
	vhd_close(r);
}

/* A differencing image open for writing holds its parents shared: another writer of a
 * parent is refused, readers and a sibling's writer (over the same parent) are not. */
static void test_chain_parents(void)
{
	struct vhd_create_opts o = { .type = VHD_TYPE_DYNAMIC, .size = 4 << 20 };
	struct vhd_create_opts od = { .type = VHD_TYPE_DIFF, .parent = P("base.vhd") };
	struct vhd_create_opts om = { .type = VHD_TYPE_DIFF, .parent = P("mid.vhd") };
	struct disk *top, *sib;
	struct vhd *v;

	CHECK_EQ(vhd_create(P("base.vhd"), &o, NULL), 0);
	CHECK_EQ(vhd_create(P("mid.vhd"), &od, NULL), 0);
	CHECK_EQ(vhd_create(P("top.vhd"), &om, NULL), 0);
	CHECK_EQ(vhd_create(P("sib.vhd"), &od, NULL), 0);
	CHECK_EQ(disk_open(P("top.vhd"), NULL, 0, &top), 0);
	CHECK_EQ(try_open(P("base.vhd"), 0), -EBUSY);          /* a grandparent */
	CHECK_EQ(try_open(P("mid.vhd"), 0), -EBUSY);           /* the parent */
	CHECK_EQ(try_open(P("top.vhd"), DISK_RDONLY), -EBUSY); /* the image itself */
	CHECK_EQ(try_open(P("base.vhd"), DISK_RDONLY), 0);
	CHECK_EQ(try_open(P("mid.vhd"), DISK_RDONLY), 0);
	CHECK_EQ(disk_open(P("sib.vhd"), NULL, 0, &sib), 0);   /* two undo disks, one base */
	disk_close(sib);
	/* a commit needs its parent for writing: refused while another child reads it */
	CHECK_EQ(vhd_open(P("sib.vhd"), VHD_PARENT_RW, &v), -EBUSY);
	CHECK_EQ(vhd_open(P("mid.vhd"), VHD_PARENT_RW, &v), -EBUSY); /* top reads mid */
	disk_close(top);
	CHECK_EQ(vhd_open(P("top.vhd"), VHD_PARENT_RW, &v), 0);
	CHECK_EQ(try_open(P("mid.vhd"), DISK_RDONLY), -EBUSY); /* the commit writes mid */
	CHECK_EQ(try_open(P("base.vhd"), DISK_RDONLY), 0);
	vhd_close(v);
	CHECK_EQ(try_open(P("base.vhd"), 0), 0);
}

/* The lock belongs to the open file description: a forked child (the VMM's sandboxed child)
 * keeps it after the parent closed its fd, and it goes when the child's last fd does. */
static void test_fork(void)
{
	struct disk *d;
	int p[2], q[2], st;
	char c = 0;
	pid_t pid;

	make_raw("f.raw", 1 << 20);
	CHECK_EQ(disk_open(P("f.raw"), NULL, 0, &d), 0);
	CHECK(pipe(p) == 0 && pipe(q) == 0);
	pid = fork();
	if (pid == 0) {
		/* the child: holds d until told to go */
		close(p[1]);
		close(q[0]);
		if (write(q[1], "r", 1) != 1 || read(p[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[0]);
	close(q[1]);
	CHECK(read(q[0], &c, 1) == 1);
	disk_close(d); /* the parent's fd: the child still has the description */
	CHECK_EQ(try_open(P("f.raw"), DISK_RDONLY), -EBUSY);
	/* another process sees it too */
	pid_t k = fork();
	if (k == 0)
		_exit(try_open(P("f.raw"), 0) == -EBUSY ? 0 : 1);
	CHECK(waitpid(k, &st, 0) == k && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(write(p[1], "x", 1) == 1);
	CHECK(waitpid(pid, &st, 0) == pid);
	close(p[1]);
	close(q[0]);
	CHECK_EQ(try_open(P("f.raw"), 0), 0);
}

/* A migration: the destination opens unlocked while the source writes; the source lets go
 * after its last flush; the destination's reopen takes the locks; the source cannot take
 * them back. For raw and for a differencing VHD (its parent too). */
static void handover(const char *name, const char *parent)
{
	struct disk *src, *dst;

	CHECK_EQ(disk_open(P(name), NULL, 0, &src), 0);
	CHECK_EQ(try_open(P(name), 0), -EBUSY);
	CHECK_EQ(disk_open(P(name), NULL, DISK_NOLOCK, &dst), 0); /* --incoming */
	CHECK_EQ(disk_reopen(dst), -EBUSY);                        /* too early: refused */
	CHECK(dst->flags & DISK_NOLOCK);
	disk_unlock(src);                                          /* the source's final flush */
	CHECK_EQ(disk_reopen(dst), 0);                             /* END arrived */
	CHECK(!(dst->flags & DISK_NOLOCK));
	CHECK_EQ(disk_lock(src), -EBUSY);                          /* no way back now */
	if (parent)
		CHECK_EQ(try_open(P(parent), 0), -EBUSY);
	/* a reopen of a locked handle does not refuse itself */
	CHECK_EQ(disk_reopen(dst), 0);
	disk_unlock(dst);                                          /* a refusing destination */
	CHECK_EQ(disk_lock(src), 0);                               /* the source goes on */
	CHECK_EQ(disk_lock(dst), -EBUSY);
	disk_close(dst);
	disk_close(src);
	CHECK_EQ(try_open(P(name), 0), 0);
	if (parent)
		CHECK_EQ(try_open(P(parent), 0), 0);
}

static void test_handover(void)
{
	struct vhd_create_opts o = { .type = VHD_TYPE_DYNAMIC, .size = 4 << 20 };
	struct vhd_create_opts od = { .type = VHD_TYPE_DIFF, .parent = P("hb.vhd") };

	make_raw("h.raw", 1 << 20);
	handover("h.raw", NULL);
	CHECK_EQ(vhd_create(P("hb.vhd"), &o, NULL), 0);
	CHECK_EQ(vhd_create(P("hd.vhd"), &od, NULL), 0);
	handover("hd.vhd", "hb.vhd");
}

/* Creating an image over one in use fails and leaves it as it was. */
static void test_create_over(void)
{
	struct vhd_create_opts o = { .type = VHD_TYPE_DYNAMIC, .size = 4 << 20 };
	struct vhd_create_opts big = { .type = VHD_TYPE_DYNAMIC, .size = 8 << 20 };
	struct stat a, b;
	struct disk *d;

	CHECK_EQ(vhd_create(P("c.vhd"), &o, NULL), 0);
	CHECK_EQ(disk_open(P("c.vhd"), NULL, DISK_RDONLY, &d), 0);
	CHECK(stat(P("c.vhd"), &a) == 0);
	CHECK_EQ(vhd_create(P("c.vhd"), &big, NULL), -EBUSY);
	CHECK(stat(P("c.vhd"), &b) == 0 && a.st_size == b.st_size && a.st_ino == b.st_ino);
	CHECK_EQ(vhd_lock_path_test(P("c.vhd"), VHD_LOCK_EXCL), -EBUSY);
	CHECK_EQ(vhd_lock_path_test(P("c.vhd"), VHD_LOCK_SHARED), 0);
	disk_close(d);
	CHECK_EQ(vhd_lock_path_test(P("c.vhd"), VHD_LOCK_EXCL), 0);
	CHECK_EQ(vhd_create(P("c.vhd"), &big, NULL), 0);
	/* a check reads under the shared lock: refused while written, fine with NOLOCK */
	struct vhd_check_result res;
	CHECK_EQ(disk_open(P("c.vhd"), NULL, 0, &d), 0);
	CHECK_EQ(vhd_check(P("c.vhd"), 0, NULL, NULL, &res), -EBUSY);
	CHECK_EQ(vhd_check(P("c.vhd"), VHD_CHECK_NOLOCK, NULL, NULL, &res), 0);
	disk_close(d);
	CHECK_EQ(vhd_check(P("c.vhd"), 0, NULL, NULL, &res), 0);
}

/* QEMU sees our locks as its own: qemu-img cannot read an image we write, nor resize one we
 * read, and reads one we read. */
static int qemu_img(const char *args)
{
	char cmd[800];

	snprintf(cmd, sizeof(cmd), "/usr/bin/qemu-img %s >%s 2>&1", args, P("q.out"));
	return system(cmd);
}

static void test_qemu_sees_them(void)
{
	char rd[600], rs[600];
	struct disk *d;

	if (access("/usr/bin/qemu-img", X_OK)) {
		printf("SKIP test_qemu_sees_them: no /usr/bin/qemu-img\n");
		return;
	}
	make_raw("q.raw", 1 << 20);
	snprintf(rd, sizeof(rd), "convert -f raw -O raw %s %s", P("q.raw"), P("q2.raw"));
	snprintf(rs, sizeof(rs), "resize -f raw %s 2M", P("q.raw"));
	CHECK_EQ(disk_open(P("q.raw"), NULL, 0, &d), 0);
	CHECK(qemu_img(rd) != 0);
	disk_close(d);
	CHECK_EQ(disk_open(P("q.raw"), NULL, DISK_RDONLY, &d), 0);
	CHECK(qemu_img(rd) == 0);
	CHECK(qemu_img(rs) != 0);
	disk_close(d);
	CHECK(qemu_img(rs) == 0);
}

int main(void)
{
	if (scratch_make("vsrv-disklock"))
		return 1;
	RUN(test_matrix_raw);
	RUN(test_matrix_vhd);
	RUN(test_chain_parents);
	RUN(test_fork);
	RUN(test_handover);
	RUN(test_create_over);
	RUN(test_qemu_sees_them);
	scratch_remove();
	return check_done();
}
