/* Migration transports: unix:PATH and tcp:HOST:PORT, for the source (connect) and the
 * destination (listen). See migrate.h. */
#include "vmm/migrate.h"
#include "vmm/migrate_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"
#include "util/unixsock.h"

/* Split "tcp:HOST:PORT" (or "tcp:[V6]:PORT") into host and port. 0 or -EINVAL. */
static int split_tcp(const char *spec, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon;
	size_t n;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		n = (size_t)(end - spec - 1);
		colon = end + 1;
		spec++;
	} else {
		colon = strrchr(spec, ':');
		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - spec);
	}
	if (!n || n >= hostlen || !colon[1] || strlen(colon + 1) >= portlen)
		return -EINVAL;
	memcpy(host, spec, n);
	host[n] = '\0';
	strcpy(port, colon + 1);
	for (const char *p = port; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	return 0;
}

void migrate_set_timeouts(int fd, unsigned timeout_s)
{
	struct timeval tv = { .tv_sec = timeout_s };

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static void tune_tcp(int fd)
{
	int one = 1, buf = 4 << 20;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
}

int migrate_connect(const char *uri, unsigned timeout_s, int *out, char *err, size_t errlen)
{
	char host[256], port[16];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL, *a;
	int fd = -1, ret;

	if (!strncmp(uri, "unix:", 5)) {
		struct sockaddr_un sa;

		if (unixsock_addr(uri + 5, &sa)) {
			snprintf(err, errlen, "%s: the path is empty or too long", uri);
			return -EINVAL;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto err_errno;
		migrate_set_timeouts(fd, timeout_s);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			goto err_errno;
		*out = fd;
		return 0;
	}
	if (strncmp(uri, "tcp:", 4) || split_tcp(uri + 4, host, sizeof(host), port, sizeof(port))) {
		snprintf(err, errlen, "%s: expected unix:PATH or tcp:HOST:PORT", uri);
		return -EINVAL;
	}
	ret = getaddrinfo(host, port, &hints, &ai);
	if (ret) {
		snprintf(err, errlen, "%s: %s", uri, gai_strerror(ret));
		return -EHOSTUNREACH;
	}
	ret = -ECONNREFUSED;
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		migrate_set_timeouts(fd, timeout_s); /* SO_SNDTIMEO bounds connect too */
		tune_tcp(fd);
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		ret = errno == EINPROGRESS || errno == EAGAIN ? -ETIMEDOUT : -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s: %s", uri, strerror(-ret));
		return ret;
	}
	*out = fd;
	return 0;
err_errno:
	ret = -errno;
	snprintf(err, errlen, "cannot connect to %s: %s", uri, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ret;
}

int migrate_listen(const char *uri, int *lfd)
{
	char host[256], port[16];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai = NULL;
	int fd = -1, ret, one = 1;

	if (!strncmp(uri, "unix:", 5)) {
		/* 0600: the stream carries the guest's memory */
		ret = unixsock_listen(uri + 5, 1, false, lfd);
		if (ret == -ENAMETOOLONG) {
			vsrv_log("--incoming %s: the path is empty or too long", uri);
			return -EINVAL;
		}
		if (ret)
			vsrv_log("--incoming %s: %s", uri, strerror(-ret));
		return ret;
	}
	if (strncmp(uri, "tcp:", 4) || split_tcp(uri + 4, host, sizeof(host), port, sizeof(port))) {
		vsrv_log("--incoming %s: expected unix:PATH or tcp:HOST:PORT", uri);
		return -EINVAL;
	}
	ret = getaddrinfo(host, port, &hints, &ai);
	if (ret) {
		vsrv_log("--incoming %s: %s", uri, gai_strerror(ret));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		goto err_errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1) < 0)
		goto err_errno;
	freeaddrinfo(ai);
	*lfd = fd;
	return 0;
err_errno:
	ret = -errno;
	vsrv_log("--incoming %s: %s", uri, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (ai)
		freeaddrinfo(ai);
	return ret;
}
