/* The block layer's live snapshot step: put a new top image (a differencing VHD over the
 * current one, passed in as a descriptor) in place of a disk's image while the devices keep
 * their struct disk pointer, and take it back (disk.h, disk_switch). The new top opens over
 * the handle the disk already has (lib/vhd's vhd_open_over): nothing is opened by name, so
 * a sandboxed VMM can do it. */
#include "disk/disk.h"
#include "disk/disk_int.h"
#include "util/log.h"
#include "vhd/vhd.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int why(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* err = the reason (also logged); returns ret. */
static int why(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	vsrv_log("disk-switch: %s", err);
	return ret;
}

int disk_fd_check(int fd, const char *path, char *err, size_t errlen)
{
	struct stat a, b;

	if (fstat(fd, &a))
		return why(err, errlen, -EBADF, "%s: the descriptor passed for it is not open",
			   path);
	if (!S_ISREG(a.st_mode))
		return why(err, errlen, -EINVAL, "%s: the descriptor passed for it is not a "
			   "regular file", path);
	if (stat(path, &b))
		return why(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return why(err, errlen, -EINVAL, "%s: the descriptor passed for it is open on "
			   "another file", path);
	return 0;
}

int disk_switch(struct disk *d, const char *path, int fd, struct disk **old, char *err,
		size_t errlen)
{
	struct vhd *top;
	struct disk *n, tmp;
	int ret;

	*old = NULL;
	if (d->readonly || strcmp(d->format, "vhd"))
		return why(err, errlen, -EMEDIUMTYPE, "%s: a %s%s image: only a writable VHD "
			   "takes a new top", d->path, d->readonly ? "read-only " : "", d->format);
	ret = disk_fd_check(fd, path, err, errlen);
	if (ret)
		return ret;
	n = calloc(1, sizeof(*n));
	if (!n || !(n->path = strdup(path))) {
		free(n);
		return why(err, errlen, -ENOMEM, "%s: out of memory", path);
	}
	/* d's image is flushed, read-only and shared-locked from here on, the new top's
	 * parent; d's flags say whether it takes locks at all */
	ret = vhd_open_over(fd, path, d->flags & DISK_NOLOCK ? VHD_NOLOCK : 0, d->priv, &top);
	if (ret) {
		free(n->path);
		free(n);
		return why(err, errlen, ret, "%s", vhd_errmsg()[0] ? vhd_errmsg() : strerror(-ret));
	}
	n->flags = d->flags;
	n->direct_fd = -1;
	disk_vhd_adopt(n, top);
	/* swap the handles: d keeps its address (devices hold it), n takes the old one; the
	 * dirty bitmap stays with d (a migration's copy sees the same disk) */
	tmp = *d;
	*d = *n;
	*n = tmp;
	d->dirty_map = n->dirty_map;
	d->dirty_on = n->dirty_on;
	n->dirty_map = NULL;
	n->dirty_on = 0;
	*old = n;
	return 0;
}

int disk_switch_undo(struct disk *d, struct disk *old)
{
	struct vhd *parent;
	struct disk tmp = *d;
	int ret;

	/* back to the old handle; the new top goes (nothing ran on it), its fd with it */
	*d = *old;
	d->dirty_map = tmp.dirty_map;
	d->dirty_on = tmp.dirty_on;
	ret = vhd_close_over(tmp.priv, &parent);
	if (ret) {
		vsrv_log("disk %s: lost its lock: %s", d->path, vhd_errmsg());
		d->flags |= DISK_NOLOCK;
	}
	free(tmp.path);
	free(old);
	return ret;
}

void disk_switch_done(struct disk *old)
{
	/* its image is the new top's parent now, closed with it */
	free(old->dirty_map);
	free(old->path);
	free(old);
}
