/* The VNC server's listening socket (vnc.h): unix:PATH or tcp:HOST:PORT, and the
 * password-file option. */
#include "vmm/vnc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"
#include "util/unixsock.h"

#define VNC_PASSWORD_MAX 256

/* The first line of file, not empty. 0 and *out (malloc'd), or -errno after logging. */
static int read_password(const char *spec, const char *file, char **out)
{
	char buf[VNC_PASSWORD_MAX + 2];
	size_t n;
	FILE *f = fopen(file, "re");

	if (!f) {
		int ret = -errno;

		vsrv_log("--vnc %s: password file %s: %s", spec, file, strerror(errno));
		return ret;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	if (!buf[0]) {
		vsrv_log("--vnc %s: password file %s: the first line is empty", spec, file);
		return -EINVAL;
	}
	if (strlen(buf) > VNC_PASSWORD_MAX) {
		vsrv_log("--vnc %s: password file %s: the first line is too long", spec, file);
		return -EINVAL;
	}
	if (strlen(buf) > 8)
		vsrv_log("--vnc %s: note: VNC authentication uses only the first 8 characters of "
			 "the password", spec);
	*out = strdup(buf);
	return *out ? 0 : -ENOMEM;
}

static int listen_unix(struct vnc *v, const char *path)
{
	struct sockaddr_un sa;
	int ret;

	if (unixsock_addr(path, &sa)) {
		vsrv_log("--vnc %s: %s", v->spec, path[0] ? "path too long for a Unix socket"
						       : "no socket path");
		return -EINVAL;
	}
	/* 0600: only our user reaches the VM's screen and keyboard */
	ret = unixsock_listen(path, 8, true, &v->lfd);
	if (ret) {
		vsrv_log("--vnc %s: %s", v->spec, strerror(-ret));
		return ret;
	}
	v->unix_path = strdup(path);
	return v->unix_path ? 0 : -ENOMEM;
}

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_LOOPBACK(a))
			return true;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return false;
}

/* hostport: HOST:PORT or [V6]:PORT. */
static int listen_tcp(struct vnc *v, char *hostport)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL, *ai;
	char *host = hostport, *port = strrchr(hostport, ':');
	int ret, one = 1;

	if (!port || port == host || !port[1]) {
		vsrv_log("--vnc %s: expected tcp:HOST:PORT", v->spec);
		return -EINVAL;
	}
	*port++ = 0;
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		host[strlen(host) - 1] = 0;
		host++;
	}
	ret = getaddrinfo(host, port, &hints, &res);
	if (ret) {
		vsrv_log("--vnc %s: %s", v->spec, gai_strerror(ret));
		return -EINVAL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (!is_loopback(ai->ai_addr) && !v->passwords[0]) {
			vsrv_log("--vnc %s: %s is not a loopback address: anyone who reaches it gets "
				 "the VM's screen and keyboard; give ,password-file=FILE (VNC "
				 "authentication) or listen on 127.0.0.1 or a unix: socket",
				 v->spec, host);
			freeaddrinfo(res);
			return -EACCES;
		}
	}
	ret = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		v->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (v->lfd < 0) {
			ret = -errno;
			continue;
		}
		setsockopt(v->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(v->lfd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(v->lfd, 8) == 0)
			break;
		ret = -errno;
		close(v->lfd);
		v->lfd = -1;
	}
	freeaddrinfo(res);
	if (v->lfd < 0) {
		vsrv_log("--vnc %s: %s", v->spec, strerror(-ret));
		return ret;
	}
	v->tcp = true;
	return 0;
}

int vnc_listen_open(struct vnc *v, const char *spec)
{
	char *copy = strdup(spec), *opt, *file = NULL;
	int ret;

	if (!copy)
		return -ENOMEM;
	/* options after the first comma (a path with a comma cannot be given: as --disk) */
	opt = strchr(copy, ',');
	if (opt)
		*opt++ = 0;
	while (opt && *opt) {
		char *next = strchr(opt, ',');

		if (next)
			*next++ = 0;
		if (!strncmp(opt, "password-file=", 14) && opt[14]) {
			file = opt + 14;
		} else {
			vsrv_log("--vnc %s: unknown option '%s' (expected password-file=FILE)",
				 spec, opt);
			ret = -EINVAL;
			goto out;
		}
		opt = next;
	}
	if (file) {
		ret = read_password(spec, file, &v->passwords[0]);
		if (ret < 0)
			goto out;
	}
	if (!strncmp(copy, "unix:", 5)) {
		ret = listen_unix(v, copy + 5);
	} else if (!strncmp(copy, "tcp:", 4)) {
		ret = listen_tcp(v, copy + 4);
	} else {
		vsrv_log("--vnc %s: expected unix:PATH or tcp:HOST:PORT[,password-file=FILE]",
			 spec);
		ret = -EINVAL;
	}
out:
	free(copy);
	return ret;
}
