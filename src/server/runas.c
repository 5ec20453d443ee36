/* The user server-started VMs run as. See runas.h. */
#include "server/runas.h"

#include <errno.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* useradd --system for name: no home directory, no login shell, its own group. */
static int create_user(const char *name)
{
	char *argv[] = { "useradd", "--system", "--user-group", "--no-create-home",
			 "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
			 "--comment", "vsrv virtual machines", (char *)name, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, rc;

	/* Nothing of the server's but stdin, stdout and stderr: not every descriptor it holds is
	 * close-on-exec (those it was started with, libcurl's socket pairs), as run_tool
	 * (api_imgdisk.c) and the hook commands (hooks.c) leave them behind too. */
	rc = posix_spawn_file_actions_init(&fa);
	if (rc)
		return -rc;
	rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (rc)
		goto out;
	/* PATH may lack /usr/sbin (a root shell through su without -). */
	rc = posix_spawn(&pid, "/usr/sbin/useradd", &fa, NULL, argv, environ);
	if (rc)
		rc = posix_spawnp(&pid, "useradd", &fa, NULL, argv, environ);
out:
	posix_spawn_file_actions_destroy(&fa);
	if (rc)
		return -rc;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

int runas_resolve(const char *opt, char *out, size_t n)
{
	const char *name = opt ? opt : RUNAS_DEFAULT_USER;
	struct passwd *pw;
	int rc;

	*out = '\0';
	if (geteuid() != 0) {
		pw = opt ? getpwnam(opt) : NULL;
		if (opt && (!pw || pw->pw_uid != geteuid())) {
			fprintf(stderr, "vsrv serve: --run-as %s needs the server to run as root\n", opt);
			return -EPERM;
		}
		return 0; /* VMs run as we do, unprivileged already */
	}
	pw = getpwnam(name);
	if (!pw && !opt) {
		rc = create_user(name);
		if (rc && getpwnam(name))
			rc = 0; /* another server created it meanwhile */
		if (rc) {
			fprintf(stderr, "vsrv serve: cannot create the system user %s for the VMs "
				"(useradd: %s); create it, or name another with --run-as USER\n",
				name, rc == -EIO ? "failed" : strerror(-rc));
			return rc;
		}
		fprintf(stderr, "vsrv serve: created the system user %s; VMs run as it\n", name);
		pw = getpwnam(name);
	}
	if (!pw) {
		fprintf(stderr, "vsrv serve: --run-as %s: no such user\n", name);
		return -ENOENT;
	}
	if (pw->pw_uid == 0)
		return 0; /* asked for root: no switch */
	if (snprintf(out, n, "%s", pw->pw_name) >= (int)n)
		return -ENAMETOOLONG;
	return 0;
}
