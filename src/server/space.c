/* Disk-space admission (space.h). */
#include "server/space.h"
#include "server/inv.h"
#include "server/layers.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define MIB (1024.0 * 1024.0)

/* inv_disk_each: add what disk d may still grow by (its size less what its file holds) to
 * the double arg. */
static int add_promised(const struct inv_disk *d, void *arg)
{
	double size = d->size, used = 0;
	struct stat st;

	if (stat(d->path, &st) == 0)
		used = (double)st.st_blocks * 512;
	if (size > used)
		*(double *)arg += size - used;
	return 0;
}

int space_admit(struct server *srv, struct dbc *c, uint64_t grow, char *err, size_t n)
{
	char dir[4200];
	struct statvfs vfs;
	double avail, promised = 0;

	if (srv->disk_overcommit <= 0)
		return 0;
	snprintf(dir, sizeof(dir), "%s/disks", srv->data_dir);
	if (statvfs(dir, &vfs) < 0) {
		snprintf(err, n, "cannot measure the free space of %s: %m", dir);
		return -EIO;
	}
	avail = (double)vfs.f_bavail * vfs.f_frsize;
	/* and the top layers of snapshots and linked clones, up to their disks' size */
	if (inv_disk_each(c, add_promised, &promised) || layers_promised(c, &promised)) {
		snprintf(err, n, "inventory error");
		return -EIO;
	}
	if (promised + grow <= avail * srv->disk_overcommit)
		return 0;
	snprintf(err, n, "not enough space on the data filesystem: this needs up to %.1f MiB and "
		 "the disks already there may grow by %.1f MiB, but %.1f MiB are free (overcommit "
		 "ratio %g: vsrv serve --disk-overcommit)", grow / MIB, promised / MIB, avail / MIB,
		 srv->disk_overcommit);
	return -ENOSPC;
}
