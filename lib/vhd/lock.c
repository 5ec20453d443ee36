/* libvhd: image file locks (see vhd.h, "image locks").
 *
 * The protocol is QEMU's (block/file-posix.c), so that QEMU, qemu-img and vsrv exclude each
 * other: open file description locks (F_OFD_SETLK, never released by closing another fd of
 * the same file, inherited across fork, gone with the last fd of the description) on single
 * bytes; advisory, they never stand in the way of I/O, only of other lockers. Each permission p an opener uses gets a shared lock on
 * byte PERM_BASE + p; each permission it does not let others use gets a shared lock on byte
 * SHARED_BASE + p. Shared locks never conflict with each other, so after setting its own
 * bytes an opener tests (F_OFD_GETLK with a write lock) that no other description holds
 * SHARED_BASE + p for a p it uses, nor PERM_BASE + p for a p it denies. Two openers racing
 * both see each other's bytes: at worst both fail, never both succeed. */
#include "vhd/vhd_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define PERM_BASE 100
#define SHARED_BASE 200
#define NPERM 4

enum { P_READ, P_WRITE, P_WRITE_UNCHANGED, P_RESIZE }; /* QEMU's BLK_PERM_* bit numbers */

/* What each mode uses (perm) and does not let others use (deny), as bit masks. A reader
 * reads and lets others read; a writer uses and denies everything. */
static void mode_bits(enum vhd_lock_mode mode, unsigned *perm, unsigned *deny)
{
	*perm = *deny = 0;
	if (mode == VHD_LOCK_SHARED) {
		*perm = 1u << P_READ;
		*deny = 1u << P_WRITE | 1u << P_RESIZE;
	} else if (mode == VHD_LOCK_EXCL) {
		*perm = *deny = (1u << NPERM) - 1;
	}
}

static int set_byte(int fd, short type, off_t byte)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };

	return fcntl(fd, F_OFD_SETLK, &fl) ? -errno : 0;
}

/* 1 if another open file description holds a lock on byte, 0 if not, -errno. */
static int held_by_other(int fd, off_t byte)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };

	if (fcntl(fd, F_OFD_GETLK, &fl))
		return -errno;
	return fl.l_type != F_UNLCK;
}

/* Lock errors that mean "this file system has no such locks": the image is then used
 * without one, as QEMU does with locking=auto. */
static bool unsupported(int e)
{
	return e == -ENOLCK || e == -EOPNOTSUPP || e == -ENOSYS ||
	       e == -EINVAL; /* a kernel without OFD locks (before 3.15) */
}

/* The message says what the caller could not have, in qemu-img's words. */
static int conflict(const char *path, enum vhd_lock_mode mode)
{
	vhd_seterr("%s: failed to get %s\"write\" lock: is another process using the image (a "
		   "running VM)?", path, mode == VHD_LOCK_EXCL ? "" : "shared ");
	return -EBUSY;
}

/* Test mode against the other descriptions' bytes. 0, -EBUSY (message set) or -errno. */
static int check(int fd, enum vhd_lock_mode mode, const char *path)
{
	unsigned perm, deny;

	mode_bits(mode, &perm, &deny);
	for (int p = 0; p < NPERM; p++) {
		int r;

		if ((perm & (1u << p)) && (r = held_by_other(fd, SHARED_BASE + p)) != 0)
			return r > 0 ? conflict(path, mode) : r;
		if ((deny & (1u << p)) && (r = held_by_other(fd, PERM_BASE + p)) != 0)
			return r > 0 ? conflict(path, mode) : r;
	}
	return 0;
}

int vhd_lock_fd(int fd, enum vhd_lock_mode mode, const char *path)
{
	unsigned perm, deny;
	int ret = 0;

	mode_bits(mode, &perm, &deny);
	for (int p = 0; p < NPERM && !ret; p++) {
		ret = set_byte(fd, perm & (1u << p) ? F_RDLCK : F_UNLCK, PERM_BASE + p);
		if (!ret)
			ret = set_byte(fd, deny & (1u << p) ? F_RDLCK : F_UNLCK, SHARED_BASE + p);
	}
	if (!ret)
		ret = check(fd, mode, path);
	else if (ret == -EAGAIN || ret == -EACCES)
		ret = conflict(path, mode); /* a write lock on our bytes: not QEMU's, but a lock */
	if (unsupported(ret))
		ret = 0;
	else if (ret && ret != -EBUSY)
		vhd_seterr("%s: cannot lock the image: %s", path, strerror(-ret));
	if (ret || mode == VHD_LOCK_NONE)
		vhd_unlock_fd(fd);
	return ret;
}

void vhd_unlock_fd(int fd)
{
	struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = PERM_BASE,
			    .l_len = SHARED_BASE + NPERM - PERM_BASE };

	(void)fcntl(fd, F_OFD_SETLK, &fl);
}

int vhd_lock_test(int fd, enum vhd_lock_mode mode, const char *path)
{
	int ret = check(fd, mode, path);

	return unsupported(ret) ? 0 : ret;
}

int vhd_lock_path_test(const char *path, enum vhd_lock_mode mode)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0) {
		ret = -errno;
		vhd_seterr("%s: %s", path, strerror(errno));
		return ret;
	}
	ret = vhd_lock_test(fd, mode, path);
	close(fd);
	return ret;
}

static enum vhd_lock_mode mode_of(const struct vhd *v)
{
	return v->rdonly ? VHD_LOCK_SHARED : VHD_LOCK_EXCL;
}

int vhd_lock(struct vhd *v)
{
	int ret = 0;

	for (struct vhd *p = v; p && !ret; p = p->parent)
		ret = vhd_lock_fd(p->fd, mode_of(p), p->path);
	if (ret)
		vhd_unlock(v);
	if (!ret)
		for (struct vhd *p = v; p; p = p->parent)
			p->flags &= ~VHD_NOLOCK;
	return ret;
}

void vhd_unlock(struct vhd *v)
{
	for (struct vhd *p = v; p; p = p->parent) {
		vhd_unlock_fd(p->fd);
		p->flags |= VHD_NOLOCK;
	}
}
