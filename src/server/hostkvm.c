/* Whether this host can run a VM. See hostkvm.h. */
#include "server/hostkvm.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_once_t path_once = PTHREAD_ONCE_INIT;
static const char *path_read = "/dev/kvm";

/* (the environment read once: a getenv on every start races a setenv elsewhere) */
static void path_init(void)
{
	const char *e = getenv("VSRV_TEST_KVM");

	if (e && *e)
		path_read = e;
}

const char *hostkvm_path(void)
{
	pthread_once(&path_once, path_init);
	return path_read;
}

int hostkvm_check(char *why, size_t n)
{
	const char *path = hostkvm_path();
	struct passwd *pw;
	struct stat st;
	char user[64];
	int fd, rc = 0;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		rc = -errno;
	else if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (!S_ISCHR(st.st_mode))
		rc = -ENOTTY;
	if (fd >= 0)
		close(fd);
	if (!rc || !why)
		return rc;
	pw = getpwuid(geteuid());
	if (pw)
		snprintf(user, sizeof(user), "%s", pw->pw_name);
	else
		snprintf(user, sizeof(user), "%u", (unsigned)geteuid());
	if (rc == -ENOENT)
		snprintf(why, n, "this host has no %s (KVM), so no VM can run here: enable hardware "
			 "virtualization (Intel VT-x or AMD-V) in the firmware settings (in a VM: "
			 "nested virtualization), then load the KVM module (modprobe kvm_intel, or "
			 "kvm_amd)", path);
	else if (rc == -EACCES || rc == -EPERM)
		snprintf(why, n, "%s is not readable and writable by user %s, which the server "
			 "runs as: add %s to the kvm group (usermod -aG kvm %s) and restart "
			 "vsrv serve", path, user, user, user);
	else if (rc == -ENXIO || rc == -ENODEV)
		snprintf(why, n, "%s is there but no KVM driver answers: load the KVM module "
			 "(modprobe kvm_intel, or kvm_amd) with hardware virtualization enabled in "
			 "the firmware settings", path);
	else if (rc == -ENOTTY)
		snprintf(why, n, "%s is not a character device, not KVM's: no VM can run here "
			 "(enable hardware virtualization and load the KVM module: modprobe "
			 "kvm_intel, or kvm_amd)", path);
	else
		snprintf(why, n, "cannot open %s (%s): no VM can run here", path, strerror(-rc));
	return rc;
}
