/* Disk-space admission (space.h). */
#include "server/space.h"
#include "server/db.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define MIB (1024.0 * 1024.0)

int space_admit(struct server *srv, struct dbc *c, uint64_t grow, char *err, size_t n)
{
	char dir[4200];
	struct statvfs vfs;
	struct stat st;
	sqlite3_stmt *s;
	double avail, promised = 0;

	if (srv->disk_overcommit <= 0)
		return 0;
	snprintf(dir, sizeof(dir), "%s/disks", srv->data_dir);
	if (statvfs(dir, &vfs) < 0) {
		snprintf(err, n, "cannot measure the free space of %s: %m", dir);
		return -EIO;
	}
	avail = (double)vfs.f_bavail * vfs.f_frsize;
	s = db_stmt(c, "SELECT path, size FROM disks");
	if (!s) {
		snprintf(err, n, "inventory error");
		return -EIO;
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		double size = sqlite3_column_int64(s, 1), used = 0;

		if (stat((const char *)sqlite3_column_text(s, 0), &st) == 0)
			used = (double)st.st_blocks * 512;
		if (size > used)
			promised += size - used;
	}
	db_done(s);
	if (promised + grow <= avail * srv->disk_overcommit)
		return 0;
	snprintf(err, n, "not enough space on the data filesystem: this needs up to %.1f MiB and "
		 "the disks already there may grow by %.1f MiB, but %.1f MiB are free (overcommit "
		 "ratio %g: vsrv serve --disk-overcommit)", grow / MIB, promised / MIB, avail / MIB,
		 srv->disk_overcommit);
	return -ENOSPC;
}
