/* The VM supervisor, launching side: the command line of a VM's monitor and VMM, built from
 * its inventory row (disks behind their undo disks, NICs on their networks), and the fork of
 * the monitor in a session of its own. See sup_int.h. */
#include "server/sup.h"
#include "server/sup_int.h"
#include "server/cgroup.h"
#include "server/clone.h"
#include "server/events.h"
#include "server/imgstore.h"
#include "server/inv.h"
#include "server/tasks.h"
#include "server/layers.h"
#include "server/quota.h"
#include "server/undo.h"
#include "server/vmagent.h"
#include "server/vmctl.h"
#include "server/network.h"
#include "server/vmdir.h"
#include "server/vmsave.h"
#include "server/vmrow.h"
#include "util/log.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What disk_arg adds the --disk arguments of a VM to. */
struct disk_args {
	struct server *srv;
	struct dbc *c;
	int64_t id;
	const char *name;
	bool undo;
	char **a;
	int *n;
};

/* inv_vm_disks: the --disk argument of d (over its undo disk when the VM has them and d is
 * writable). 0, 1 when the argv is full (at most 42 entries before the disks end), -errno. */
static int disk_arg(const struct inv_vm_disk *d, void *arg)
{
	struct disk_args *da = arg;
	const char *path = d->path, *fmt = d->format;
	char up[4200], top[4400], err[512];
	bool is_top;
	int rc;

	if (*da->n >= 42)
		return 1;
	/* A disk with snapshots or linked clones runs on its top layer (layers.h). */
	rc = layers_top_path(da->c, da->id, d->disk_id, path, top, sizeof(top), &is_top);
	if (rc)
		return rc;
	if (is_top) {
		path = top;
		fmt = "vhd";
	}
	if (da->undo && !d->readonly) {
		rc = undo_prepare(da->srv, da->id, d->idx, path, fmt, up, sizeof(up), err,
				  sizeof(err));
		if (rc) {
			vsrv_log("vm %s: %s", da->name, err);
			return rc;
		}
		path = up;
		fmt = "vhd";
	}
	da->a[(*da->n)++] = strdup("--disk");
	asprintf(&da->a[(*da->n)++], "%s,format=%s,bus=%s%s", path, fmt, d->bus,
		 d->readonly ? ",readonly=on" : "");
	return 0;
}

/* What cdrom_arg adds the --cdrom arguments of a VM to. */
struct cdrom_args {
	struct server *srv;
	const char *name;
	char **a;
	int *n;
};

/* inv_vm_cdroms: `--cdrom DATA/images/IMAGE`, or `--cdrom` alone for an empty drive (the
 * VMM opens an image read-only with a shared lock: VMs may share an ISO). 0, 1 when the argv
 * is full (at most 76 entries), -errno. */
static int cdrom_arg(const struct inv_vm_cdrom *d, void *arg)
{
	struct cdrom_args *ca = arg;
	char path[4400];

	if (*ca->n >= 76)
		return 1;
	if (d->image && imgstore_path(ca->srv->images, d->image, path, sizeof(path))) {
		vsrv_log("vm %s: drive %d: the image path of %s is too long", ca->name, d->idx,
			 d->image);
		return -ENAMETOOLONG;
	}
	if (d->bus && (!strcmp(d->bus, "ahci") || !strcmp(d->bus, "ide"))) {
		/* an ATAPI drive on the AHCI or IDE controller: --disk [PATH],media=cdrom,bus=B */
		ca->a[(*ca->n)++] = strdup("--disk");
		asprintf(&ca->a[(*ca->n)++], "%s,media=cdrom,bus=%s", d->image ? path : "",
			 d->bus);
		return 0;
	}
	ca->a[(*ca->n)++] = strdup("--cdrom");
	if (!d->image)
		return 0;
	ca->a[(*ca->n)++] = strdup(path);
	return 0;
}

/* A kernel or initrd of a VM's row as a path: a name in the image store (what requests
 * name, stored as given: each host reads its own DATA/images) under this host's images
 * directory; an administrator's absolute path as it is. */
static char *image_file(struct server *srv, const char *f)
{
	char *p = NULL;

	if (f[0] == '/')
		return strdup(f);
	return asprintf(&p, "%s/%s", srv->images_dir, f) < 0 ? NULL : p;
}

/* Build the shim's and the VMM's argv from the VM's row. */
int sup_build_argv(struct server *srv, struct dbc *c, int64_t id, const char *dir,
		    char ***out, char *name, size_t namelen)
{
	struct inv_vm vm;
	struct inv_vm_hw hw;
	bool undo = false, state_saved;
	char **a, why[300];
	int n = 0, rc;

	rc = inv_vm_get(c, id, &vm);
	if (rc)
		return rc;
	state_saved = !strcmp(vm.state, INV_VM_SAVED);
	rc = inv_vm_hw_get(c, id, &hw);
	if (rc) {
		inv_vm_clear(&vm);
		return rc;
	}
	/* (the display added 4: 82 -> 100, the balloon 2, enlightenments and mem-merge 4,
	 * --restore 2 at the end; NICs below 82) */
	a = calloc(110, sizeof(*a));
	if (!a) {
		inv_vm_clear(&vm);
		return -ENOMEM;
	}
	{
		const char *initrd = vm.initrd;
		const char *cmdline = vm.cmdline;

		snprintf(name, namelen, "%s", vm.name);
		undo = strcmp(vm.undo_disks, "off") != 0;
		a[n++] = strdup(srv->vmm_path);
		a[n++] = strdup("monitor");
		a[n++] = strdup(dir);
		a[n++] = strdup("--");
		a[n++] = strdup(srv->vmm_path);
		a[n++] = strdup("run");
		/* The VM in a child without capabilities, under the seccomp allow-list. */
		a[n++] = strdup("--sandbox");
		a[n++] = strdup("on");
		if (srv->run_as) {
			/* ...as an unprivileged user: the VMM opens its files before it switches. */
			a[n++] = strdup("--run-as");
			a[n++] = strdup(srv->run_as);
		}
		if (!strcmp(hw.firmware, "bios") || !strcmp(hw.firmware, "uefi")) {
			/* The firmware boots from the drives; a UEFI VM keeps its variables in
			 * DIR/OVMF_VARS.fd (the VMM makes it from the template the first time). */
			a[n++] = strdup("--firmware");
			if (!strcmp(hw.firmware, "bios"))
				a[n++] = strdup("bios");
			else
				asprintf(&a[n++], "uefi,vars=%s/" SUP_UEFI_VARS, dir);
			if (hw.boot[0]) {
				a[n++] = strdup("--boot");
				a[n++] = strdup(hw.boot);
			}
			a[n++] = strdup("--uuid");
			a[n++] = strdup(hw.uuid);
			a[n++] = strdup("--name");
			a[n++] = strdup(vm.name);
		} else {
			a[n++] = strdup("--kernel");
			a[n++] = image_file(srv, vm.kernel);
		}
		a[n++] = strdup("--cpus");
		asprintf(&a[n++], "%d", vm.cpus);
		a[n++] = strdup("--memory");
		asprintf(&a[n++], "%lldM", (long long)vm.memory_mib);
		a[n++] = strdup("--serial");
		a[n++] = strdup("stdio");
		a[n++] = strdup("--control");
		a[n++] = malloc(108);
		if (a[n - 1] && vmctl_path(srv, id, a[n - 1], 108)) {
			vsrv_log("vm %s: the data directory's path is too long for a control "
				 "socket (%s/control.sock)", name, dir);
			rc = -ENAMETOOLONG;
		}
		if (!rc && !strcmp(vmhw_display(&hw), "bochs")) {
			/* A display, and its VNC server on DIR/vnc.sock (api_display.c) */
			a[n++] = strdup("--display");
			a[n++] = strdup("bochs");
			a[n++] = strdup("--vnc");
			if (asprintf(&a[n++], "unix:%s/vnc.sock", dir) < 0)
				a[n - 1] = NULL;
			if (strlen(dir) + sizeof("/vnc.sock") > 108) {
				vsrv_log("vm %s: the data directory's path is too long for a VNC "
					 "socket (%s/vnc.sock)", name, dir);
				rc = -ENAMETOOLONG;
			}
		}
		/* Paravirtual interfaces (vmhw_enlightenment: by the os_type unless set), and KSM
		 * for the VM's RAM only when asked for */
		a[n++] = strdup("--enlightenments");
		a[n++] = strdup(vmhw_enlightenment(&hw));
		if (hw.mem_merge) {
			a[n++] = strdup("--mem-merge");
			a[n++] = strdup("on");
		}
		if (hw.firmware[0] && strcmp(hw.firmware, "none"))
			initrd = cmdline = NULL;
		if (initrd && *initrd) {
			a[n++] = strdup("--initrd");
			a[n++] = image_file(srv, initrd);
		}
		if (cmdline && *cmdline) {
			a[n++] = strdup("--cmdline");
			a[n++] = strdup(cmdline);
		}
	}
	inv_vm_clear(&vm);
	if (rc) {
		for (int j = 0; j < n; j++)
			free(a[j]);
		free(a);
		return rc;
	}
	/* An undo-disk commit of the last run still merging: the disks are busy. Kept undo
	 * disks with the setting now off would be left behind (undo_check_start). */
	if (undo && task_running(c, "undo-commit", name))
		rc = -EBUSY;
	if (!rc && (undo_check_start(srv, c, id, name, why, sizeof(why)) ||
		    clone_check_start(c, id, name, why, sizeof(why)))) {
		vsrv_log("vm %s: not started: %s", name, why);
		rc = -EBUSY;
	}
	/* Undo disks grow as the guest writes, with no decision of their own (sup.h: the
	 * bound): a VM with them starts only while its owner and the managers above it have
	 * room for more disk besides what they hold, kept undo disks as they are included */
	if (!rc && undo) {
		rc = quota_admit_owner(c, "vm", id, &(struct inv_quota){ .disk_bytes = 1 }, why,
				       sizeof(why));
		if (rc == -EDQUOT)
			vsrv_log("vm %s: not started: %s", name, why);
	}
	/* Disks attached to the VM, in order; writable ones behind their undo disks. */
	if (!rc) {
		struct disk_args da = { .srv = srv, .c = c, .id = id, .name = name, .undo = undo, .a = a,
					.n = &n };

		rc = inv_vm_disks(c, id, disk_arg, &da);
		if (rc == 1)
			rc = 0;
		/* the undo disks made or continued: their bytes count for the VM's owner */
		if (!rc && undo && undo_account(srv, c, id, NULL))
			vsrv_log("vm %s: the bytes of its undo disks were not recorded", name);
	}
	if (!rc)
		rc = network_nic_args(srv, c, id, name, a, &n, 82);
	/* CD/DVD drives after the disks: the VMM's drive labels follow (api_vmcd.c) */
	if (!rc) {
		struct cdrom_args ca = { .srv = srv, .name = name, .a = a, .n = &n };

		rc = inv_vm_cdroms(c, id, cdrom_arg, &ca);
		if (rc == 1)
			rc = 0;
	}
	/* The memory balloon (api_balloon.c): the guest may take pages back when it runs out
	 * and hands free memory back; on PCI for a VM its firmware boots (it finds devices
	 * there), on virtio-mmio for a kernel the VMM boots. */
	if (!rc && hw.balloon) {
		a[n++] = strdup("--device");
		a[n++] = strdup(strcmp(hw.firmware, "bios") && strcmp(hw.firmware, "uefi") ?
				"balloon,deflate-on-oom=on,free-page-reporting=on" :
				"balloon,deflate-on-oom=on,free-page-reporting=on,transport=pci");
	}
	/* The guest agent's port: DIR/agent.sock (vmagent.h), virtio-serial port
	 * org.qemu.guest_agent.0. A directory too deep for it: the VM runs without. */
	if (!rc) {
		char ap[108];

		if (vmagent_path(srv, id, ap, sizeof(ap))) {
			vsrv_log("vm %s: the data directory's path is too long for the guest agent's "
				 "socket (%s/agent.sock): no guest agent port", name, dir);
		} else {
			a[n++] = strdup("--device");
			asprintf(&a[n++], "vport,socket=%s,name=org.qemu.guest_agent.0", ap);
		}
	}
	/* A saved VM resumes from its saved state (vmsave.h), its memory mapped from the file;
	 * the VMM checks that the VM's options above are those in the file. */
	if (!rc && state_saved) {
		a[n++] = strdup("--restore");
		a[n++] = malloc(4200);
		if (a[n - 1] && vmsave_path(srv, id, a[n - 1], 4200))
			rc = -ENAMETOOLONG;
	}
	if (rc) {
		for (int j = 0; j < n; j++)
			free(a[j]);
		free(a);
		return rc;
	}
	for (int i = 0; i < n; i++)
		if (!a[i]) {
			for (int j = 0; j < n; j++)
				free(a[j]);
			free(a);
			return -ENOMEM;
		}
	*out = a;
	return 0;
}

void sup_free_argv(char **a)
{
	for (int i = 0; a && a[i]; i++)
		free(a[i]);
	free(a);
}

/* Fork the shim in its own session. Everything is prepared before fork. */
int sup_spawn(struct server *srv, char **argv, const char *dir, int64_t id, pid_t *out)
{
	char p[4200], b[32];
	int logfd, nullfd, cg[CGROUP_MAX_FDS], ncg;
	pid_t pid;

	snprintf(p, sizeof(p), "%s/monitor.log", dir);
	logfd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (logfd < 0 || nullfd < 0) {
		if (logfd >= 0)
			close(logfd);
		if (nullfd >= 0)
			close(nullfd);
		return -errno;
	}
	ncg = cgroup_procs_fds(srv, id, cg);
	/* Stale files of the previous run go before the new one starts. */
	snprintf(p, sizeof(p), "%s/exit", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/vmm.pid", dir);
	unlink(p);
	pid = fork();
	if (pid == 0) {
		setsid();
		for (int i = 0; i < ncg; i++)
			if (write(cg[i], "0", 1) < 0) {
				/* limits are best effort; the VM still runs */
			}
		dup2(nullfd, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		/* Nothing of the server's (or of what started it) goes into the VM. */
		close_range(3, ~0U, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	close(logfd);
	close(nullfd);
	for (int i = 0; i < ncg; i++)
		close(cg[i]);
	if (pid < 0)
		return -errno;
	snprintf(p, sizeof(p), "%s/monitor.pid", dir);
	snprintf(b, sizeof(b), "%d\n", (int)pid);
	{
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (fd >= 0) {
			if (write(fd, b, strlen(b)) < 0) {
				/* re-attach falls back to the inventory's monitor_pid */
			}
			close(fd);
		}
	}
	*out = pid;
	return 0;
}

/* Whether the NUL-separated argv in cmd[0..len) has an argument equal to a or to b. */
static bool has_arg(const char *cmd, size_t len, const char *a, const char *b)
{
	for (size_t i = 0; i < len; i += strlen(cmd + i) + 1)
		if (!strcmp(cmd + i, a) || !strcmp(cmd + i, b))
			return true;
	return false;
}

size_t sup_cmdline(pid_t pid, char *buf, size_t n)
{
	char p[64];
	ssize_t r;
	int fd;

	snprintf(p, sizeof(p), "/proc/%d/cmdline", (int)pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	r = read(fd, buf, n - 1);
	close(fd);
	if (r <= 0)
		return 0;
	buf[r] = '\0';
	return (size_t)r;
}

/* Whether pid runs the vsrv binary vmm (a real path): its executable, also when that file
 * was replaced since (an upgrade: the kernel then says "PATH (deleted)"). */
static bool runs_vmm(pid_t pid, const char *vmm)
{
	char p[64], exe[PATH_MAX + 16];
	size_t n = strlen(vmm);
	ssize_t r;

	snprintf(p, sizeof(p), "/proc/%d/exe", (int)pid);
	r = readlink(p, exe, sizeof(exe) - 1);
	if (r <= 0)
		return false;
	exe[r] = '\0';
	return !strncmp(exe, vmm, n) && (!exe[n] || !strcmp(exe + n, " (deleted)"));
}

/* Whether pid runs a process of the VM whose directory is dir: the vsrv binary vmm (so that
 * nobody's `ls DIR` or `tail -f DIR/console.log` is taken for one), with dir or its control
 * socket as an argument. */
static bool is_vm_process(pid_t pid, const char *vmm, const char *dir, const char *sock)
{
	char cmd[8192];
	size_t r;

	if (!runs_vmm(pid, vmm))
		return false;
	r = sup_cmdline(pid, cmd, sizeof(cmd));
	return r && has_arg(cmd, r, dir, sock);
}

#define STALE_MAX 64

int sup_kill_stale(struct server *srv, int64_t id, const char *name, int timeout_ms)
{
	char dir[4096], sock[4200], vmm[PATH_MAX];
	int pfd[STALE_MAX], n = 0, left, rc;
	struct dirent *e;
	DIR *d;

	rc = vmdir_path(srv, id, dir, sizeof(dir));
	if (rc)
		return rc;
	if (!realpath(srv->vmm_path, vmm))
		return -errno;
	snprintf(sock, sizeof(sock), "%s/control.sock", dir);
	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((e = readdir(d)) && n < STALE_MAX) {
		pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);
		int fd;

		if (pid <= 0 || pid == getpid() || !is_vm_process(pid, vmm, dir, sock))
			continue;
		/* Hold the process, then look again: the pid may have been reused meanwhile. */
		fd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (fd < 0)
			continue;
		if (!is_vm_process(pid, vmm, dir, sock) ||
		    syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) < 0) {
			close(fd);
			continue;
		}
		pfd[n++] = fd;
	}
	closedir(d);
	/* A pidfd becomes readable once its process has exited (its memory and files gone). */
	left = n;
	for (int waited = 0; left > 0 && waited < timeout_ms; waited += 10) {
		left = 0;
		for (int i = 0; i < n; i++) {
			struct pollfd p = { .fd = pfd[i], .events = POLLIN };
			if (poll(&p, 1, 0) == 0)
				left++;
		}
		if (left)
			usleep(10000);
	}
	for (int i = 0; i < n; i++)
		close(pfd[i]);
	if (left) {
		vsrv_log("vm %s: %d process(es) of an earlier run do not end", name, left);
		return -EBUSY;
	}
	return n;
}
