/* A VM's runtime directory. See vmdir.h. */
#include "server/vmdir.h"
#include "util/unixsock.h"

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
	char dir[4096], path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd, rc;

	if (vmdir_path(srv, id, dir, sizeof(dir)) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	rc = unixsock_connect(path, false, &fd);
	if (rc)
		return rc == -ENAMETOOLONG || rc == -ENOMEM || rc == -EMFILE ? rc : -EBUSY;
	return fd;
}
