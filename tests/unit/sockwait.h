/* Shared by unit tests that talk to a peer on a Unix socket: a sleep in milliseconds and a
 * wait for something to listen on a socket path. Everything here is static to the including
 * test program. */
#ifndef VSRV_TESTS_UNIT_SOCKWAIT_H
#define VSRV_TESTS_UNIT_SOCKWAIT_H

#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static inline void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait (up to 20 s) for something to listen on path (a probe connection, closed at once).
 * 0 or -1. */
static inline int wait_sock(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (int i = 0; i < 2000; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));

		close(fd);
		if (!rc)
			return 0;
		sleep_ms(10);
	}
	return -1;
}

#endif
