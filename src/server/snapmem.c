/* A snapshot's memory and device state. See snapmem.h. */
#include "server/snapmem.h"
#include "server/sup_int.h"
#include "server/vmdir.h"
#include "server/vmsave.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SNAPMEM_DIR "snapshots"

static int snap_file(struct server *srv, int64_t vm, int64_t snap, const char *ext, char *buf,
		     size_t n)
{
	char dir[4096];
	int rc = vmdir_path(srv, vm, dir, sizeof(dir));

	if (rc)
		return rc;
	return snprintf(buf, n, "%s/" SNAPMEM_DIR "/%lld.%s", dir, (long long)snap, ext) >= (int)n ?
	       -ENAMETOOLONG : 0;
}

int snapmem_path(struct server *srv, int64_t vm, int64_t snap, char *buf, size_t n)
{
	return snap_file(srv, vm, snap, "vsav", buf, n);
}

int64_t snapmem_bytes(struct server *srv, int64_t vm, int64_t snap)
{
	char p[4400];
	struct stat st;

	if (snapmem_path(srv, vm, snap, p, sizeof(p)) || stat(p, &st) < 0)
		return -1;
	return (int64_t)st.st_size;
}

/* Whether an option of the VMM's command line is about this run rather than the VM's
 * hardware (its sockets, files, sandbox, the file to restore). */
static bool run_only(const char *opt)
{
	static const char *const o[] = { "--sandbox", "--run-as", "--serial", "--control",
					 "--vnc", "--restore", NULL };

	for (int i = 0; o[i]; i++)
		if (!strcmp(opt, o[i]))
			return true;
	return false;
}

/* VM vm's hardware as text: the VM's options of the command line the supervisor builds
 * (sup_build_argv), one a line, without this run's sockets and files and without the file
 * names of disks and CD/DVD media (a snapshot or revert changes the images under the same
 * drives; the VMM's restore allows that too). *out is malloc'd. 0 or -errno. */
static int hw_text(struct server *srv, struct dbc *c, int64_t vm, char **out)
{
	char dir[4096], name[64], **a = NULL, *t = NULL;
	size_t len = 0;
	FILE *f;
	int rc = vmdir_path(srv, vm, dir, sizeof(dir)), i = 0;

	if (!rc)
		rc = sup_build_argv(srv, c, vm, dir, &a, name, sizeof(name));
	if (rc)
		return rc;
	f = open_memstream(&t, &len);
	if (!f) {
		sup_free_argv(a);
		return -ENOMEM;
	}
	while (a[i] && strcmp(a[i], "run"))
		i++;                    /* the monitor's part */
	for (i += a[i] ? 1 : 0; a[i]; i++) {
		const char *v = a[i + 1];

		if (run_only(a[i]) && v) {
			i++;
		} else if ((!strcmp(a[i], "--disk") || !strcmp(a[i], "--cdrom")) && v) {
			const char *items = strchr(v, ',');

			fprintf(f, "%s %s\n", a[i], items ? items : "");
			i++;
		} else if (a[i][0] == '-' && v && v[0] != '-') {
			fprintf(f, "%s %s\n", a[i], v);
			i++;
		} else {
			fprintf(f, "%s\n", a[i]);
		}
	}
	sup_free_argv(a);
	if (fclose(f)) {
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

/* Write len bytes of buf as a new file path (mode 0640). 0 or -errno. */
static int write_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640), rc = 0;

	if (fd < 0)
		return -errno;
	errno = 0;   /* a short write sets none */
	if (write(fd, buf, len) != (ssize_t)len || fsync(fd) < 0)
		rc = errno ? -errno : -EIO;
	close(fd);
	return rc;
}

int snapmem_keep(struct server *srv, struct dbc *c, int64_t vm, int64_t snap, char *err,
		 size_t errlen)
{
	char saved[4200], p[4400], hp[4400], *hw = NULL;
	int rc;

	if (vmsave_path(srv, vm, saved, sizeof(saved)) || snapmem_path(srv, vm, snap, p, sizeof(p)) ||
	    snap_file(srv, vm, snap, "hw", hp, sizeof(hp)))
		return snprintf(err, errlen, "the data directory's path is too long"), -ENAMETOOLONG;
	rc = hw_text(srv, c, vm, &hw);
	if (rc)
		return snprintf(err, errlen, "cannot read the VM's hardware: %s", strerror(-rc)), rc;
	*strrchr(p, '/') = '\0';
	if (mkdir(p, 0750) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "cannot make %s: %s", p, strerror(-rc));
		free(hw);
		return rc;
	}
	p[strlen(p)] = '/';
	unlink(p); /* a file left by a snapshot whose inventory write failed */
	if (link(saved, p) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot keep the saved state as %s: %s", p, strerror(-rc));
		free(hw);
		return rc;
	}
	/* read-only from now on (its owner stays the user the VMM that wrote it runs as, who
	 * reads it at a revert; the daemon's start makes the data directory's files 0600:
	 * snapmem_install makes it read-only again) */
	if (chmod(p, 0400) < 0 || (rc = write_file(hp, hw, strlen(hw)))) {
		rc = rc ? rc : -errno;
		snprintf(err, errlen, "cannot keep the saved state as %s: %s", p, strerror(-rc));
		unlink(p);
		unlink(hp);
	}
	free(hw);
	return rc;
}

/* The first line where texts a and b differ, into buf ("(none)" for a missing line). */
static void first_diff(const char *a, const char *b, char *buf, size_t n)
{
	while (*a && *b) {
		size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");

		if (la != lb || memcmp(a, b, la)) {
			snprintf(buf, n, "'%.*s' then, '%.*s' now", (int)la, a, (int)lb, b);
			return;
		}
		a += la + (a[la] ? 1 : 0);
		b += lb + (b[lb] ? 1 : 0);
	}
	snprintf(buf, n, "'%.*s' then, '%.*s' now", (int)strcspn(*a ? a : "(none)", "\n"),
		 *a ? a : "(none)", (int)strcspn(*b ? b : "(none)", "\n"), *b ? b : "(none)");
}

int snapmem_check_hw(struct server *srv, struct dbc *c, int64_t vm, int64_t snap, char *err,
		     size_t errlen)
{
	char hp[4400], *now = NULL, *then = NULL, diff[400];
	size_t len = 0;
	FILE *f;
	int rc;

	if (snap_file(srv, vm, snap, "hw", hp, sizeof(hp)))
		return snprintf(err, errlen, "the data directory's path is too long"), -ENAMETOOLONG;
	f = fopen(hp, "re");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot read the hardware the snapshot's memory ran on (%s): %s",
			 hp, strerror(-rc));
		return rc == -ENOENT ? -EIO : rc;
	}
	rc = getdelim(&then, &len, '\0', f) < 0 ? -EIO : 0;
	fclose(f);
	if (!rc && (rc = hw_text(srv, c, vm, &now)))
		snprintf(err, errlen, "cannot read the VM's hardware now: %s", strerror(-rc));
	else if (rc)
		snprintf(err, errlen, "cannot read %s", hp);
	if (!rc && strcmp(now, then)) {
		first_diff(then, now, diff, sizeof(diff));
		snprintf(err, errlen, "the VM's hardware changed since the snapshot was taken "
			 "(%s): its saved memory and devices need the hardware they ran on; put "
			 "it back as it was, or revert to a snapshot without memory", diff);
		rc = -EBUSY;
	}
	free(now);
	free(then);
	return rc;
}

int snapmem_install(struct server *srv, int64_t vm, int64_t snap, char *err, size_t errlen)
{
	char saved[4200], tmp[4300], p[4400];
	int rc;

	if (vmsave_path(srv, vm, saved, sizeof(saved)) || snapmem_path(srv, vm, snap, p, sizeof(p)))
		return snprintf(err, errlen, "the data directory's path is too long"), -ENAMETOOLONG;
	rc = vmsave_prepare(srv, vm);
	if (rc)
		return snprintf(err, errlen, "cannot prepare %s of the VM's directory: %s",
				VMSAVE_DIR, strerror(-rc)), rc;
	snprintf(tmp, sizeof(tmp), "%s.revert", saved);
	unlink(tmp);
	/* the VM's own saved state (a saved VM's) is kept aside until the revert commits */
	{
		char prev[4300];

		snprintf(prev, sizeof(prev), "%s.prev", saved);
		unlink(prev);
		if (link(saved, prev) < 0 && errno != ENOENT) {
			rc = -errno;
			return snprintf(err, errlen, "cannot keep the VM's saved state aside: %s",
					strerror(-rc)), rc;
		}
	}
	if (chmod(p, 0400) < 0 || link(p, tmp) < 0 || rename(tmp, saved) < 0) {
		rc = -errno;
		unlink(tmp);
		snapmem_install_end(srv, vm, false);
		return snprintf(err, errlen, "cannot make the snapshot's state (%s) the VM's saved "
				"state: %s", p, strerror(-rc)), rc;
	}
	return 0;
}

void snapmem_install_end(struct server *srv, int64_t vm, bool committed)
{
	char saved[4200], prev[4300];

	if (vmsave_path(srv, vm, saved, sizeof(saved)))
		return;
	snprintf(prev, sizeof(prev), "%s.prev", saved);
	if (committed) {
		unlink(prev);
	} else if (rename(prev, saved) < 0) {
		/* there was none: the VM was not saved */
		unlink(saved);
	}
}

void snapmem_drop(struct server *srv, int64_t vm, int64_t snap)
{
	char p[4400];

	if (!snapmem_path(srv, vm, snap, p, sizeof(p)))
		unlink(p);
	if (!snap_file(srv, vm, snap, "hw", p, sizeof(p)))
		unlink(p);
}

void snapmem_remove_all(struct server *srv, int64_t vm)
{
	char dir[4096], p[4400];
	struct dirent *e;
	DIR *d;

	if (vmdir_path(srv, vm, dir, sizeof(dir)))
		return;
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/" SNAPMEM_DIR);
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}
