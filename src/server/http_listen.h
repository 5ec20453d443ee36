/* The HTTP server's listening sockets and its TLS files (http_listen.c), for http.c. */
#ifndef VSRV_SERVER_HTTP_LISTEN_H
#define VSRV_SERVER_HTTP_LISTEN_H

/* A listening Unix socket at path (replacing a stale one), mode 0600. 0 and *out (the
 * caller's fd), -ENAMETOOLONG or -errno. */
int http_unix_listen(const char *path, int *out);

/* A listening TCP socket on spec HOST:PORT ([v6]:PORT too). 0 and *out (the caller's fd),
 * -EINVAL (not HOST:PORT, unknown host), -EADDRNOTAVAIL or -errno. */
int http_tcp_listen(const char *spec, int *out);

/* The whole file at path, NUL-terminated (the caller's, free()), or NULL. */
char *http_slurp(const char *path);

#endif
