/* qcow2 v3 zero clusters, found so that an image holding them is refused: libqcow (Debian's
 * 20201213, and upstream's newest) ignores an L2 entry's zero flag and reads such a cluster
 * as the stale bytes of its host cluster, or as the file's header when it has none, so a
 * copy through it would be silently wrong (tests/t-img-qcow-zero.sh). This reads only the
 * active L1 table and the L2 tables it names, for that one flag: the image itself is read
 * through libqcow (disk_qcow.c). */
#ifndef VSRV_DISK_QCOW_ZERO_H
#define VSRV_DISK_QCOW_ZERO_H

#include <stdint.h>

/* Look through the qcow2 image open on fd (read with pread; the caller's, left open) for a
 * zero cluster of its active L1 table. 0: none (also for a version 2 image, which has no
 * zero flag); 1: one at guest offset *guest (the first found); -EINVAL: a header or table
 * that points outside the file or past the limits of the format; -ENOMEM; -EIO. Reads at
 * most the L1 table and one cluster per L2 table, with one cluster-sized buffer. */
int qcow_zero_find(int fd, uint64_t *guest);

#endif
