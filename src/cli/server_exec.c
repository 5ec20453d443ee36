/* `vsrv serve|vm|disk|net|image|user|events|hosts|login|logout`: exec build/vsrv-server, which holds the
 * server and its API client. They live in their own binary so that `vsrv run` (a VM's
 * start-up) never loads SQLite, libmicrohttpd, GnuTLS, libargon2, OpenSSL or libcurl:
 * linking them here measured +3 ms per process start. */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cmd_server_exec(int argc, char **argv)
{
	char self[PATH_MAX], bin[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;
	char *args[argc + 2];
	int i;

	if (n < 0) {
		fprintf(stderr, "vsrv: cannot find myself: %s\n", strerror(errno));
		return 1;
	}
	self[n] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	snprintf(bin, sizeof(bin), "%s/vsrv-server", self);
	args[0] = bin;
	for (i = 0; i < argc; i++)
		args[i + 1] = argv[i];
	args[argc + 1] = NULL;
	execv(bin, args);
	fprintf(stderr, "vsrv: cannot run %s: %s\n", bin, strerror(errno));
	return 1;
}
