/* A VM's pid files and monitor, as the supervisor reads them (sup_int.h). */
#include "server/sup_int.h"
#include "server/vmdir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sup_read_small(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -EIO;
	buf[r] = '\0';
	return 0;
}

pid_t sup_read_pid(struct server *srv, int64_t id, const char *file)
{
	char dir[4096], p[4200], b[32];

	vmdir_path(srv, id, dir, sizeof(dir));
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	if (sup_read_small(p, b, sizeof(b)))
		return 0;
	return atoi(b);
}

/* A pid we may trust to be our shim: alive and running `vsrv monitor DIR`. */
bool sup_is_our_monitor(struct server *srv, int64_t id, pid_t pid)
{
	char cmd[4096], dir[4096];
	size_t r, i;

	if (pid <= 0 || !(r = sup_cmdline(pid, cmd, sizeof(cmd))))
		return false;
	/* argv: vsrv monitor DIR -- ... */
	for (i = 0; i < r && cmd[i]; i++)
		;
	if (i + 1 >= r || strcmp(cmd + i + 1, "monitor"))
		return false;
	i += 1 + strlen(cmd + i + 1) + 1;
	vmdir_path(srv, id, dir, sizeof(dir));
	return i < r && !strcmp(cmd + i, dir);
}
