/* An io_uring for a device's I/O thread to read and write disk images (struct disk's
 * direct_fd) asynchronously: virtio-blk's and the AHCI controller's. */
#ifndef VSRV_DEVICES_DISK_URING_H
#define VSRV_DEVICES_DISK_URING_H

#include <liburing.h>

/* Set up ring with depth entries, restricted to reads and writes
 * (IORING_REGISTER_RESTRICTIONS): io_uring runs its operations past the VMM's seccomp filter
 * (src/vmm/sandbox.h), so a ring that could open files or sockets would be a way around it.
 * Kernels without restrictions (before 5.10) get a plain ring. 0 or -errno. */
int disk_uring_init(struct io_uring *ring, unsigned depth);

#endif
