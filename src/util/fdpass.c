/* Sending descriptors with a message, and a one-line exchange that does. See fdpass.h. */
#include "util/fdpass.h"
#include "util/clock.h"
#include "util/unixsock.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* fdpass_send, *done saying how many bytes of buf went (some may have when it fails). */
static int send_counted(int sock, const void *buf, size_t len, const int *fds, unsigned n,
			size_t *done)
{
	union {
		char buf[CMSG_SPACE(FDPASS_MAX * sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t w;

	*done = 0;

	if (n > FDPASS_MAX || !len)
		return -EINVAL;
	if (n) {
		struct cmsghdr *cm;

		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.buf;
		mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	}
	do
		w = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -errno;
	for (*done = (size_t)w; *done < len; *done += (size_t)w) {
		w = send(sock, (const char *)buf + *done, len - *done, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			w = 0;
		else if (w < 0)
			return -errno;
	}
	return 0;
}

int fdpass_send(int sock, const void *buf, size_t len, const int *fds, unsigned n)
{
	size_t done;

	return send_counted(sock, buf, len, fds, n, &done);
}

int fdpass_call(const char *path, const char *line, const int *fds, unsigned n, int timeout_ms,
		size_t max, char **out, bool *sent)
{
	size_t len = 0, cap = 0, reqlen = strlen(line);
	double end = clock_mono() + timeout_ms / 1000.0;
	char *req, *buf = NULL;
	size_t done = 0;
	int fd, rc;

	*out = NULL;
	if (sent)
		*sent = false;
	req = malloc(reqlen + 1);
	if (!req)
		return -ENOMEM;
	memcpy(req, line, reqlen);
	req[reqlen++] = '\n';
	rc = unixsock_connect(path, false, &fd);
	if (rc) {
		free(req);
		return rc;
	}
	rc = send_counted(fd, req, reqlen, fds, n, &done);
	if (sent)
		*sent = done > 0; /* from here the server may have acted on it, whatever comes */
	while (!rc) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		double left = (end - clock_mono()) * 1000;
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		if (cap - len < 65536) {
			char *nb;

			if (cap >= max) {
				rc = -EMSGSIZE;
				break;
			}
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r <= 0) {
			rc = r == 0 ? -ECONNRESET : -errno;
			break;
		}
		len += (size_t)r;
		if (memchr(buf + len - r, '\n', (size_t)r)) {
			buf[len] = '\0';
			*out = buf;
			buf = NULL;
			break;
		}
	}
	close(fd);
	free(req);
	free(buf);
	return rc;
}
