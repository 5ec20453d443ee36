/* A VM's runtime directory. See vmdir.h. */
#include "server/vmdir.h"

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int vmdir_path(struct server *srv, int64_t id, char *buf, size_t n)
{
	return snprintf(buf, n, "%s/vms/%lld", srv->data_dir, (long long)id) >= (int)n ?
	       -ENAMETOOLONG : 0;
}

int vmdir_connect(struct server *srv, int64_t id, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[4096];
	int fd;

	if (vmdir_path(srv, id, dir, sizeof(dir)) ||
	    (size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name) >=
	    sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -EBUSY;
	}
	return fd;
}
