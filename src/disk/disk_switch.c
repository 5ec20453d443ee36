/* The block layer's live snapshot step: put a new top image (a differencing VHD over the
 * current one) in place of a disk's image while the devices keep their struct disk
 * pointer, and take it back (disk.h, disk_switch). */
#include "disk/disk.h"
#include "util/log.h"
#include "vhd/vhd.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Whether the differencing VHD at path has top (by its real path) as its parent (the chain
 * opened without locks, read-only, to find it). 0,
 * -EINVAL (not a differencing VHD over top: one logged line), or -errno. */
static int child_of(const char *path, const char *top)
{
	struct vhd_info in;
	struct vhd *v;
	char *a = NULL, *b = NULL;
	int ret = vhd_open(path, VHD_RDONLY | VHD_NOLOCK, &v);

	if (ret) {
		vsrv_log("disk %s: %s", path, vhd_errmsg()[0] ? vhd_errmsg() : strerror(-ret));
		return ret;
	}
	vhd_get_info(v, &in);
	vhd_close(v);
	if (in.type != VHD_TYPE_DIFF || !in.parent_path[0]) {
		vsrv_log("disk %s: not a differencing VHD (the new top of %s must be one)", path,
			 top);
		return -EINVAL;
	}
	a = realpath(in.parent_path, NULL);
	b = realpath(top, NULL);
	ret = a && b && !strcmp(a, b) ? 0 : -EINVAL;
	if (ret)
		vsrv_log("disk %s: its parent is %s, not the disk's image %s", path,
			 in.parent_path, top);
	free(a);
	free(b);
	return ret;
}

int disk_switch(struct disk *d, const char *path, struct disk **old)
{
	bool was_locked = !(d->flags & DISK_NOLOCK);
	unsigned flags = d->flags; /* before disk_unlock marks it DISK_NOLOCK */
	struct disk *n, tmp;
	int ret;

	*old = NULL;
	if (d->readonly || strcmp(d->format, "vhd")) {
		vsrv_log("disk %s: a %s%s image: only a writable VHD takes a new top", d->path,
			 d->readonly ? "read-only " : "", d->format);
		return -EMEDIUMTYPE;
	}
	/* flushed first: the check below reads this image's metadata from the file */
	ret = disk_flush(d);
	if (ret) {
		vsrv_log("disk %s: flush before the switch: %s", d->path, strerror(-ret));
		return ret;
	}
	ret = child_of(path, d->path);
	if (ret)
		return ret;
	/* the new top opens its parent (this image) with a shared lock, which our exclusive
	 * one would refuse: it goes first, and comes back if the open fails */
	if (was_locked)
		disk_unlock(d);
	ret = disk_open(path, "vhd", flags, &n);
	if (ret == 0 && n->size != d->size) {
		vsrv_log("disk %s: %llu bytes, its parent %s %llu", path,
			 (unsigned long long)n->size, d->path, (unsigned long long)d->size);
		disk_close(n);
		ret = -EINVAL;
	}
	if (ret) {
		if (was_locked && disk_lock(d))
			vsrv_log("disk %s: lost its lock", d->path);
		return ret;
	}
	/* swap the handles: d keeps its address (devices hold it), n takes the old one; the
	 * dirty bitmap stays with d (a migration's copy sees the same disk) */
	tmp = *d;
	*d = *n;
	*n = tmp;
	d->dirty_map = n->dirty_map;
	d->dirty_on = n->dirty_on;
	n->dirty_map = NULL;
	n->dirty_on = 0;
	if (was_locked)
		n->flags &= ~DISK_NOLOCK; /* what disk_switch_undo takes again */
	*old = n;
	return 0;
}

int disk_switch_undo(struct disk *d, struct disk *old)
{
	bool relock = !(old->flags & DISK_NOLOCK);
	struct disk tmp;
	int ret = 0;

	/* back to the old handle; the new one goes (it wrote nothing: nothing ran on it) */
	tmp = *d;
	*d = *old;
	*old = tmp;
	d->dirty_map = old->dirty_map;
	d->dirty_on = old->dirty_on;
	old->dirty_map = NULL;
	disk_close(old);
	d->flags |= DISK_NOLOCK; /* as disk_switch left it */
	if (relock && (ret = disk_lock(d)))
		vsrv_log("disk %s: lost its lock", d->path);
	return ret;
}

void disk_switch_done(struct disk *old)
{
	disk_close(old);
}
