/* Disk-space admission: a new disk, a grown one or a copy is admitted only when the data
 * filesystem can hold what the disks may grow into. Images are sparse, so each disk is
 * promised its virtual size less what it already has allocated; with an overcommit ratio
 * R (vsrv serve --disk-overcommit, default 1) the promises may reach R times the free
 * space. R = 0 turns the check off. */
#ifndef VSRV_SERVER_SPACE_H
#define VSRV_SERVER_SPACE_H

#include "server/server.h"

/* May grow more bytes be promised to the disks of srv (through c, inside the caller's
 * transaction so that concurrent admissions see each other)? 0, -ENOSPC with the reason
 * in err, or -EIO. */
int space_admit(struct server *srv, struct dbc *c, uint64_t grow, char *err, size_t n);

#endif
