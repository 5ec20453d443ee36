/* The HTTP server's listening sockets and its TLS files (http_listen.h). */
#include "server/http_listen.h"
#include "util/unixsock.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int http_unix_listen(const char *path, int *out)
{
	return unixsock_listen(path, 256, false, out); /* created 0600 */
}

int http_tcp_listen(const char *spec, int *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *ai, *p;
	char host[256];
	const char *port;
	int fd = -1, one = 1, rc;

	port = strrchr(spec, ':');
	if (!port || port == spec || (size_t)(port - spec) >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, port - spec);
	host[port - spec] = '\0';
	port++;
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc)
		return -EINVAL;
	rc = -EADDRNOTAVAIL;
	for (p = ai; p; p = p->ai_next) {
		fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, p->ai_addr, p->ai_addrlen) == 0 && listen(fd, 512) == 0) {
			rc = 0;
			break;
		}
		rc = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (rc)
		return rc;
	*out = fd;
	return 0;
}

char *http_slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	{
		char tmp[4096];
		size_t n;
		while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
			char *b = realloc(buf, len + n + 1);
			if (!b) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = b;
			memcpy(buf + len, tmp, n);
			len += n;
			buf[len] = '\0';
		}
	}
	fclose(f);
	return buf;
}
