/* Unix sockets by path (src/util/unixsock.c): the listeners' mode, a stale socket replaced
 * but never another file, paths too long, connections. */
#include "check.h"
#include "scratch.h"
#include "util/unixsock.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

static char path[200];

static void test_listen_is_0600_and_connects(void)
{
	struct stat st;
	int l = -1, c = -1, a;

	CHECK_EQ(unixsock_listen(path, 4, true, &l), 0);
	CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK_EQ(st.st_mode & 0777, 0600);
	CHECK_EQ(unixsock_connect(path, false, &c), 0);
	a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	CHECK(a >= 0);
	CHECK_EQ(write(c, "x", 1), 1);
	if (a >= 0)
		close(a);
	close(c);
	close(l);
}

static void test_stale_socket_replaced(void)
{
	int l = -1, c = -1;

	/* The first test's socket file is still there, nobody listening on it. */
	CHECK_EQ(unixsock_connect(path, true, &c), -ECONNREFUSED);
	CHECK_EQ(unixsock_listen(path, 4, false, &l), 0);
	CHECK_EQ(unixsock_connect(path, true, &c), 0);
	close(c);
	close(l);
}

static void test_other_file_left_alone(void)
{
	char f[220];
	struct stat st;
	int l = -1, fd;

	snprintf(f, sizeof(f), "%s/plain", scratch_dir);
	fd = open(f, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && write(fd, "data", 4) == 4);
	close(fd);
	CHECK_EQ(unixsock_listen(f, 4, false, &l), -EADDRINUSE);
	CHECK_EQ(l, -1);
	CHECK(stat(f, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4);
}

static void test_bad_paths(void)
{
	char longp[200];
	int fd = -1;

	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	CHECK_EQ(unixsock_listen(longp, 1, false, &fd), -ENAMETOOLONG);
	CHECK_EQ(unixsock_connect(longp, false, &fd), -ENAMETOOLONG);
	CHECK_EQ(unixsock_listen("", 1, false, &fd), -ENAMETOOLONG);
	CHECK_EQ(fd, -1);
	snprintf(longp, sizeof(longp), "%s/none", scratch_dir);
	CHECK_EQ(unixsock_connect(longp, false, &fd), -ENOENT);
	CHECK_EQ(unixsock_listen("/nonexistent-dir/x.sock", 1, false, &fd), -ENOENT);
	CHECK_EQ(fd, -1);
}

int main(void)
{
	if (scratch_make("vsrv-unixsock"))
		return 1;
	snprintf(path, sizeof(path), "%s/s.sock", scratch_dir);
	RUN(test_listen_is_0600_and_connects);
	RUN(test_stale_socket_replaced);
	RUN(test_other_file_left_alone);
	RUN(test_bad_paths);
	scratch_remove();
	return check_done();
}
