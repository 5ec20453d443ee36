/* Unix stream sockets by path: the listeners every part opens (the VMM's control, VNC,
 * serial, console and migration sockets, the server's API socket, the supervisor shim's
 * console) and the connections the server makes to a VM's sockets, set up one way. Any
 * thread; unixsock_listen changes the process's umask for the moment of its bind. */
#ifndef VSRV_UTIL_UNIXSOCK_H
#define VSRV_UTIL_UNIXSOCK_H

#include <stdbool.h>
#include <sys/un.h>

/* Fill *sa with path: 0, or -ENAMETOOLONG when path is empty or too long for a Unix
 * socket's address. */
int unixsock_addr(const char *path, struct sockaddr_un *sa);

/* Listen on path with backlog: a new SOCK_STREAM socket (close-on-exec, and non-blocking
 * when nonblock) in *out, the caller's to close. A socket file already at path (an earlier
 * run's) is replaced; any other file there is left alone and the bind fails (-EADDRINUSE).
 * The socket file is created mode 0600: only our user may connect. 0 or -errno
 * (-ENAMETOOLONG as unixsock_addr). */
int unixsock_listen(const char *path, int backlog, bool nonblock, int *out);

/* Connect to the socket at path: a new SOCK_STREAM socket (close-on-exec, and non-blocking
 * when nonblock: a Unix socket connects at once or fails with -EAGAIN when its backlog is
 * full) in *out, the caller's to close. 0 or -errno (-ENOENT, -ECONNREFUSED: nobody
 * listens; -ENAMETOOLONG as unixsock_addr). */
int unixsock_connect(const char *path, bool nonblock, int *out);

#endif
