/* Block layer internals: the per-format openers disk_open dispatches to. */
#ifndef VSRV_DISK_DISK_INT_H
#define VSRV_DISK_DISK_INT_H

#include "disk/disk.h"

/* Open d->path as a VHD: set d->ops, d->priv, d->size, d->format and, for fixed images,
 * d->direct_fd/direct_offset. 0 or -errno (one logged line naming the image). */
int disk_vhd_open(struct disk *d, unsigned flags);

/* The image locks of a VHD disk (and its parents): see disk_lock. */
int disk_vhd_lock(struct disk *d);
void disk_vhd_unlock(struct disk *d);

#endif
