/* Descriptors passed over a Unix stream socket (SCM_RIGHTS) with a message: a disk-switch's
 * new tops go to the VMM's control socket this way (vmm/control.h), from the server
 * (server/snaplive.c) and from `vsrv control`; and the one-line exchange both make with that
 * socket (fdpass_call). Any thread. */
#ifndef VSRV_UTIL_FDPASS_H
#define VSRV_UTIL_FDPASS_H

#include <stdbool.h>
#include <stddef.h>

/* descriptors one message carries at most; also what the VMM's control socket takes with
 * one command (vmm/control_int.h's CTL_FDS_MAX is this) */
#define FDPASS_MAX 64

/* Send len bytes of buf on the stream socket sock, the n descriptors fds (0 to FDPASS_MAX)
 * riding on its first byte in one sendmsg (the rest of buf follows if the kernel took only
 * part of it); blocking, never SIGPIPE. The descriptors stay the caller's (the receiver
 * gets its own). 0 or -errno (-EINVAL: n too large). */
int fdpass_send(int sock, const void *buf, size_t len, const int *fds, unsigned n);

/* One exchange with the line server on the Unix socket path (the VMM's control socket):
 * connect, send line (a string without a newline; one is added) with the n descriptors fds
 * (as fdpass_send: they stay the caller's), and read the reply up to its newline, waiting
 * at most timeout_ms in all, into *out (a new NUL-terminated string of at most max bytes
 * read, the caller's to free). 0 or -errno (-ENAMETOOLONG: path; -ETIMEDOUT; -ECONNRESET:
 * closed before a whole line; -EMSGSIZE: no newline within max bytes). *sent (when sent is
 * not NULL) says whether any byte of the request went: when it is false the server got
 * nothing (the connect failed, or the send before its first byte); when it is true, a
 * failure (a timeout, a reset, -ENOMEM while the reply is read...) says nothing of whether
 * the server acted on the request. */
int fdpass_call(const char *path, const char *line, const int *fds, unsigned n, int timeout_ms,
		size_t max, char **out, bool *sent);

#endif
