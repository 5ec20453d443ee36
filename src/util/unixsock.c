/* Unix stream sockets by path: unixsock.h. */
#include "util/unixsock.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int unixsock_addr(const char *path, struct sockaddr_un *sa)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!n || n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, n + 1);
	return 0;
}

/* *sa for path and a new stream socket for it in *fd: 0 or -errno. */
static int sock_for(const char *path, bool nonblock, struct sockaddr_un *sa, int *fd)
{
	int ret = unixsock_addr(path, sa);

	if (ret)
		return ret;
	*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	return *fd < 0 ? -errno : 0;
}

int unixsock_listen(const char *path, int backlog, bool nonblock, int *out)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int fd, ret;

	ret = sock_for(path, nonblock, &sa, &fd);
	if (ret)
		return ret;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret < 0 || listen(fd, backlog) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

int unixsock_connect(const char *path, bool nonblock, int *out)
{
	struct sockaddr_un sa;
	int fd, ret;

	ret = sock_for(path, nonblock, &sa, &fd);
	if (ret)
		return ret;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}
