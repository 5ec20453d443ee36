/* A client of the VMM's control socket: one connection per call. See vmctl.h. */
#include "server/vmctl.h"
#include "server/sup.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define VMCTL_REPLY_MAX 65536

int vmctl_path(struct server *srv, int64_t id, char *buf, size_t n)
{
	char dir[4096];
	int rc = sup_vm_dir(srv, id, dir, sizeof(dir));

	if (rc)
		return rc;
	if (n > sizeof(((struct sockaddr_un *)0)->sun_path))
		n = sizeof(((struct sockaddr_un *)0)->sun_path);
	return snprintf(buf, n, "%s/control.sock", dir) >= (int)n ? -ENAMETOOLONG : 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int vmctl_call(struct server *srv, int64_t id, const char *cmd, int timeout_ms, json_t **reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[128], buf[VMCTL_REPLY_MAX];
	size_t len = 0;
	int64_t end = now_ms() + timeout_ms;
	json_error_t je;
	json_t *r;
	int fd, rc;

	*reply = NULL;
	rc = vmctl_path(srv, id, sa.sun_path, sizeof(sa.sun_path));
	if (rc)
		return rc;
	if (snprintf(req, sizeof(req), "{\"cmd\":\"%s\"}\n", cmd) >= (int)sizeof(req))
		return -EINVAL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = end - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			rc = -ETIMEDOUT;
			goto out;
		}
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0) {
			rc = n == 0 ? -ECONNRESET : -errno;
			goto out;
		}
		len += (size_t)n;
		if (memchr(buf, '\n', len))
			break;
		if (len == sizeof(buf) - 1) {
			rc = -EPROTO;
			goto out;
		}
	}
	buf[len] = '\0';
	r = json_loads(buf, JSON_DISABLE_EOF_CHECK, &je);
	if (!r || !json_is_object(r)) {
		json_decref(r);
		rc = -EPROTO;
		goto out;
	}
	*reply = r;
	rc = json_is_true(json_object_get(r, "ok")) ? 0 : -EPROTO;
out:
	close(fd);
	return rc;
}
