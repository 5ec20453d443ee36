/* Descriptors passed over a Unix stream socket (SCM_RIGHTS) with a message: a disk-switch's
 * new tops go to the VMM's control socket this way (vmm/control.h), from the server
 * (server/snaplive.c) and from `vsrv control`. Any thread. */
#ifndef VSRV_UTIL_FDPASS_H
#define VSRV_UTIL_FDPASS_H

#include <stddef.h>

#define FDPASS_MAX 64 /* descriptors one message carries at most */

/* Send len bytes of buf on the stream socket sock, the n descriptors fds (0 to FDPASS_MAX)
 * riding on its first byte in one sendmsg (the rest of buf follows if the kernel took only
 * part of it); blocking, never SIGPIPE. The descriptors stay the caller's (the receiver
 * gets its own). 0 or -errno (-EINVAL: n too large). */
int fdpass_send(int sock, const void *buf, size_t len, const int *fds, unsigned n);

#endif
