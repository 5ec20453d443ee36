/* vsrv run: one VM in the foreground. Parses and validates the options into a vm_config,
 * builds the VM, runs it on this thread's control loop, and turns the way it ended into the
 * exit status: 0 power-off (or reset with --no-reboot), (V << 1) | 1 for a debug-exit write
 * of V, 1 bad input or a host-side failure, 2 a guest crash (triple fault, KVM error),
 * 128 + N when stopped by signal N. */
#include "cli/cli.h"
#include "cli/run_args.h"
#include "cli/run_usage.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "arch/x86/boot_probe.h"
#include "arch/x86/enlight.h"
#include "arch/x86/firmware.h"
#include "arch/x86/smbios.h"
#include "devices/virtio/devstate.h"
#include "util/log.h"
#include "util/size.h"
#include "vmm/control.h"
#include "vmm/input_router.h"
#include "vmm/input_sinks.h"
#include "vmm/migrate.h"
#include "vmm/savestate.h"
#include "vmm/sandbox.h"
#include "vmm/vm.h"
#include "vmm/vnc.h"

static int push(const char ***arr, unsigned *n, const char *s)
{
	const char **a = realloc(*arr, (*n + 1) * sizeof(*a));

	if (!a)
		return -ENOMEM;
	a[(*n)++] = s;
	*arr = a;
	return 0;
}

enum { OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_CPUS, OPT_MEMORY, OPT_SERIAL,
       OPT_NO_REBOOT, OPT_DISK, OPT_NET, OPT_DEVICE, OPT_CONTROL, OPT_RESTORE, OPT_INCOMING,
       OPT_HELP, OPT_SANDBOX, OPT_RUN_AS, OPT_CDROM, OPT_FIRMWARE, OPT_BOOT, OPT_UUID,
       OPT_NAME, OPT_SERIAL_NUMBER, OPT_ENLIGHTENMENTS, OPT_MEM_MERGE, OPT_DISPLAY,
       OPT_BALLOON, OPT_VNC, OPT_RESTORE_MEMORY };

static const struct option options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "no-reboot", no_argument, NULL, OPT_NO_REBOOT },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "cdrom", optional_argument, NULL, OPT_CDROM },
	{ "net", required_argument, NULL, OPT_NET },
	{ "device", required_argument, NULL, OPT_DEVICE },
	{ "display", required_argument, NULL, OPT_DISPLAY },
	{ "balloon", no_argument, NULL, OPT_BALLOON },
	{ "control", required_argument, NULL, OPT_CONTROL },
	{ "vnc", required_argument, NULL, OPT_VNC },
	{ "restore", required_argument, NULL, OPT_RESTORE },
	{ "restore-memory", required_argument, NULL, OPT_RESTORE_MEMORY },
	{ "incoming", required_argument, NULL, OPT_INCOMING },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "sandbox", required_argument, NULL, OPT_SANDBOX },
	{ "run-as", required_argument, NULL, OPT_RUN_AS },
	{ "firmware", required_argument, NULL, OPT_FIRMWARE },
	{ "boot", required_argument, NULL, OPT_BOOT },
	{ "uuid", required_argument, NULL, OPT_UUID },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "serial-number", required_argument, NULL, OPT_SERIAL_NUMBER },
	{ "enlightenments", required_argument, NULL, OPT_ENLIGHTENMENTS },
	{ "mem-merge", required_argument, NULL, OPT_MEM_MERGE },
	{ NULL, 0, NULL, 0 },
};

/* Keep spec (malloc'd) until the end: 0, or -ENOMEM with spec freed. */
static int own(struct run_opts *o, char *spec)
{
	char **a = realloc(o->owned, (o->nr_owned + 1) * sizeof(*a));

	if (!a) {
		free(spec);
		return -ENOMEM;
	}
	a[o->nr_owned++] = spec;
	o->owned = a;
	return 0;
}

/* --cdrom [FILE]: a --disk spec FILE,media=cdrom (an empty drive without FILE). The file is
 * the next argument unless that is an option (--cdrom=FILE works too). */
static int parse_cdrom(int argc, char **argv, struct vm_config *c, struct run_opts *o)
{
	const char *file = optarg;
	char *spec;

	if (!file && optind < argc && argv[optind][0] != '-')
		file = argv[optind++];
	if (asprintf(&spec, "%s,media=cdrom", file ? file : "") < 0 || own(o, spec))
		return -ENOMEM;
	return push(&c->disks, &c->nr_disks, spec);
}

/* A guest reset keeps what the CD/DVD drives hold, which the control socket's media command
 * may have changed, and the new tops its disk-switch put under disks: one line
 * "I<tab>PATH" per drive (I: its --disk position, PATH empty for none), for the next boot
 * (media_keep). NULL without drives (or memory); free it. */
static char *media_now(struct vm *vm)
{
	struct vm_media_info m[64];
	struct vm_disk_top t[64];
	unsigned n = vm_devices_media_list(vm, m, 64), nt = vm_devices_switched(vm, t, 64);
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if ((!n && !nt) || !(f = open_memstream(&text, &len)))
		return NULL;
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s\t%s\n", m[i].drive + 4, m[i].path ? m[i].path : ""); /* "disk<i>" */
	for (unsigned i = 0; i < nt; i++)
		fprintf(f, "%s\t%s\n", t[i].drive + 4, t[i].path);
	fclose(f);
	return text;
}

/* cfg->run_args with the idx-th --disk= (a save file's RUN section names the drives'
 * images, vm_config.run_args) now spec: a new array, owned by o. 0 or -ENOMEM. */
static int run_arg_disk(struct vm_config *cfg, struct run_opts *o, unsigned long idx,
			const char *spec)
{
	const char **a = malloc((cfg->nr_run_args + 1) * sizeof(*a));
	char *arg;

	if (!a || own(o, (char *)a))
		return -ENOMEM;
	for (unsigned i = 0, k = 0; i < cfg->nr_run_args; i++) {
		a[i] = cfg->run_args[i];
		if (strncmp(a[i], "--disk=", 7) || k++ != idx)
			continue;
		if (asprintf(&arg, "--disk=%s", spec) < 0 || own(o, arg))
			return -ENOMEM;
		a[i] = arg;
	}
	a[cfg->nr_run_args] = NULL;
	cfg->run_args = a;
	return 0;
}

/* The next boot's --disk specs: each drive of text (media_now) gets the image it held, its
 * spec's other items kept (in its run arguments too). 0 or -ENOMEM. */
static int media_keep(struct vm_config *cfg, struct run_opts *o, const char *text)
{
	for (const char *l = text; l && *l;) {
		const char *tab = strchr(l, '\t'), *nl = strchrnul(l, '\n'), *rest;
		unsigned long idx = strtoul(l, NULL, 10);
		char *spec;

		if (!tab || tab > nl || idx >= cfg->nr_disks)
			break;
		rest = strchr(cfg->disks[idx], ',');
		if (asprintf(&spec, "%.*s%s", (int)(nl - tab - 1), tab + 1, rest ? rest : "") < 0 ||
		    own(o, spec))
			return -ENOMEM;
		cfg->disks[idx] = spec;
		if (run_arg_disk(cfg, o, idx, spec))
			return -ENOMEM;
		l = *nl ? nl + 1 : nl;
	}
	return 0;
}

static int parse_sandbox(const char *s, struct run_opts *o)
{
	if (!strcmp(s, "on"))
		o->sandbox = 1;
	else if (!strcmp(s, "off"))
		o->sandbox = 0;
	else {
		vsrv_log("--sandbox %s: expected on or off", s);
		return -EINVAL;
	}
	return 0;
}

static int parse_run_as(const char *s, struct run_opts *o)
{
	struct passwd *pw = getpwnam(s);

	if (!pw) {
		vsrv_log("--run-as %s: no such user", s);
		return -ENOENT;
	}
	o->sb.run_as = true;
	o->sb.uid = pw->pw_uid;
	o->sb.gid = pw->pw_gid;
	return 0;
}

/* --firmware SPEC: checked here, before anything opens /dev/kvm (arch/x86/firmware.h). */
static int parse_firmware(const char *spec, struct vm_config *c, struct run_opts *o)
{
	char *copy = NULL;
	int ret = x86_firmware_parse(spec, c, &copy);

	if (copy && own(o, copy))
		return -ENOMEM;
	return ret;
}

int run_parse_args(int argc, char **argv, struct vm_config *c, struct run_opts *o)
{
	int opt, idx, ret = 0;

	opterr = 0;
	optind = 1;
	while ((idx = -1, opt = getopt_long(argc, argv, ":h", options, &idx)) != -1) {
		switch (opt) {
		case OPT_KERNEL:    c->kernel = optarg; break;
		case OPT_INITRD:    c->initrd = optarg; break;
		case OPT_CMDLINE:   c->cmdline = optarg; break;
		case OPT_CPUS:      ret = run_parse_cpus(optarg, &c->nr_cpus); break;
		case OPT_MEMORY:    ret = run_parse_memory(optarg, &c->mem_size); break;
		case OPT_SERIAL:    ret = run_parse_serial(optarg, c); break;
		case OPT_NO_REBOOT: c->no_reboot = true; break;
		case OPT_DISK:      ret = push(&c->disks, &c->nr_disks, optarg); break;
		case OPT_CDROM:     ret = parse_cdrom(argc, argv, c, o); break;
		case OPT_NET:       ret = push(&c->nets, &c->nr_nets, optarg); break;
		case OPT_DEVICE:    ret = push(&c->devices, &c->nr_devices, optarg); break;
		case OPT_DISPLAY:   ret = push(&c->displays, &c->nr_displays, optarg); break;
		case OPT_BALLOON:   ret = push(&c->devices, &c->nr_devices, "balloon"); break;
		case OPT_CONTROL:   c->control = optarg; break;
		case OPT_VNC:       c->vnc = optarg; break;
		case OPT_RESTORE:   c->restore = optarg; break;
		case OPT_RESTORE_MEMORY:
			c->restore_read = !strcmp(optarg, "read");
			if (!c->restore_read && strcmp(optarg, "map"))
				ret = -EINVAL, vsrv_log("--restore-memory %s: expected map or read", optarg);
			break;
		case OPT_INCOMING:  c->incoming = optarg; break;
		case OPT_HELP:
		case 'h':           return 1;
		case OPT_SANDBOX:   ret = parse_sandbox(optarg, o); break;
		case OPT_RUN_AS:    ret = parse_run_as(optarg, o); break;
		case OPT_FIRMWARE:  ret = parse_firmware(optarg, c, o); break;
		case OPT_BOOT:      ret = x86_firmware_parse_boot(optarg, c); break;
		case OPT_UUID:      ret = run_parse_uuid(optarg, c); break;
		case OPT_NAME:      ret = run_parse_smbios_str("--name", optarg, &c->name); break;
		case OPT_SERIAL_NUMBER:
			ret = run_parse_smbios_str("--serial-number", optarg, &c->serial_number);
			break;
		case OPT_ENLIGHTENMENTS: ret = run_parse_enlightenments(optarg, c); break;
		case OPT_MEM_MERGE:
			if (!strcmp(optarg, "on"))
				c->mem_merge = VM_MEM_MERGE_ON;
			else if (!strcmp(optarg, "off"))
				c->mem_merge = VM_MEM_MERGE_OFF;
			else {
				vsrv_log("--mem-merge %s: expected on or off", optarg);
				ret = -EINVAL;
			}
			break;
		case ':':
			vsrv_log("option %s needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			vsrv_log("unknown option '%s' (see vsrv run --help)", argv[optind - 1]);
			return -EINVAL;
		}
		if (ret < 0)
			return ret;
		/* the VM's own options, as a save file keeps them (a --cdrom as its --disk) */
		if (opt == OPT_CDROM)
			ret = run_args_note(o, "disk", c->disks[c->nr_disks - 1]);
		else if (opt == OPT_BALLOON)
			ret = run_args_note(o, "device", "balloon");
		else if (idx >= 0)
			ret = run_args_note(o, options[idx].name, optarg);
		if (ret < 0)
			return ret;
	}
	if (optind < argc) {
		vsrv_log("unexpected argument '%s' (see vsrv run --help)", argv[optind]);
		return -EINVAL;
	}
	if (c->restore && c->incoming) {
		vsrv_log("--restore and --incoming exclude each other");
		return -EINVAL;
	}
	if (c->firmware && c->kernel) {
		vsrv_log("--firmware and --kernel exclude each other (the firmware boots from the disks)");
		return -EINVAL;
	}
	if (c->firmware && (c->initrd || c->cmdline)) {
		vsrv_log("--initrd and --cmdline are for --kernel (the firmware loads its own)");
		return -EINVAL;
	}
	if (!c->firmware && (c->boot_order[0] || c->has_uuid || c->name || c->serial_number)) {
		vsrv_log("--boot, --uuid, --name and --serial-number are for --firmware");
		return -EINVAL;
	}
	if (!c->kernel && !c->firmware && !c->restore && !c->incoming) {
		vsrv_log("--kernel FILE is required (or --restore FILE; see vsrv run --help)");
		return -EINVAL;
	}
	if (o->sb.run_as && o->sandbox == 0) {
		vsrv_log("--run-as needs the sandbox (not with --sandbox off)");
		return -EINVAL;
	}
	return 0;
}

struct sigwatch {
	int fd;          /* signalfd for SIGINT, SIGTERM, SIGHUP */
	int signo;       /* the signal that stopped the VM, or 0 */
	struct vm *vm;   /* the VM currently running */
};

static void on_signal(void *opaque, uint32_t events)
{
	struct sigwatch *w = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(w->fd, &si, sizeof(si)) != sizeof(si))
		return;
	w->signo = (int)si.ssi_signo;
	vm_request_stop(w->vm, 128 + w->signo);
}

/* What the first boot starts from instead of the kernel: a save-state file opened by
 * vm_restore_open, or the listening socket of an incoming migration. Each is used (and
 * closed) by the first boot; a guest reset after it boots the kernel or the firmware. */
struct run_from {
	struct vm_restore *rst; /* owned until used */
	int in_fd;              /* owned until used; -1 when none */
};

/* After a boot that started from a file or a migration: the next one boots the kernel, or
 * the VM ends when there is none. Returns true when the VM ends. */
static bool first_boot_done(struct vm_config *cfg, struct run_from *from, int code)
{
	bool special = cfg->restore || cfg->incoming;

	vm_restore_close(from->rst);
	from->rst = NULL;
	if (from->in_fd >= 0)
		close(from->in_fd);
	from->in_fd = -1;
	if (!special)
		return false;
	if (code == VM_STOP_RESET && !cfg->no_reboot && !cfg->kernel && !cfg->firmware) {
		vsrv_log("the %s guest reset itself; no --kernel to boot: the VM ends",
			 cfg->restore ? "restored" : "migrated");
		return true;
	}
	cfg->restore = NULL; /* a reset boots the kernel or the firmware */
	cfg->incoming = NULL;
	return false;
}

/* Build one VM, run it until it stops, and tear it down. With sb (the sandboxed child), the
 * sandbox goes on between the build and the first vCPU, and *keep_fd gets the last reference
 * to the KVM VM: the kernel's teardown of it then happens when this process exits (instead
 * of in a detached child, which the sandbox would not allow). *media gets what its CD/DVD
 * drives hold at the end (media_now). Returns the stop code of vm_run, or 1 when the VM
 * could not be built or sandboxed (logged). */
static int run_once(const struct vm_config *cfg, struct control *ctl, struct vnc *vnc,
		    struct sigwatch *sig, struct run_from *from, const struct sandbox_config *sb,
		    int *keep_fd, char **media)
{
	struct vm *vm;
	int code, ret = 0;

	if (vm_create(cfg, &vm) < 0)
		return 1;
	if (from->rst) {
		ret = vm_restore_load(from->rst, vm);
		vm_restore_close(from->rst);
		from->rst = NULL;
	}
	if (!ret && from->in_fd >= 0) {
		ret = migrate_incoming(from->in_fd, sig->fd, vm, cfg->incoming, &sig->signo);
		close(from->in_fd);
		from->in_fd = -1;
	}
	if (ret < 0) {
		if (keep_fd)
			vm_destroy(vm);
		else
			vm_destroy_detached(vm);
		return 1;
	}
	sig->vm = vm;
	if (sig->fd >= 0)
		evloop_add(vm->loop, sig->fd, EPOLLIN, on_signal, sig);
	if (ctl && control_attach(ctl, vm) < 0)
		vsrv_log("--control %s: cannot watch the socket", cfg->control);
	if (vm_input_connect(vm) < 0)
		vsrv_log("more input devices than the console front-ends can reach: the first %d "
			 "are used", INPUT_ROUTER_MAX_SINKS);
	if (vnc && vnc_attach(vnc, vm->loop, vm_display_get(vm), vm->input, cfg->name) < 0)
		vsrv_log("--vnc %s: the VM runs without it", cfg->vnc);
	if (sb && sandbox_enter(sb) < 0)
		code = 1;
	else
		code = vm_run(vm);
	if (ctl)
		control_detach(ctl);
	vnc_detach(vnc);
	if (sig->fd >= 0)
		evloop_del(vm->loop, sig->fd);
	sig->vm = NULL;
	*media = media_now(vm);
	if (keep_fd) {
		*keep_fd = fcntl(vm->vm_fd, F_DUPFD_CLOEXEC, 3);
		vm_destroy(vm);
	} else {
		vm_destroy_detached(vm);
	}
	return code;
}

/* --net user anywhere (the item may stand anywhere in a spec: model=e1000,user): libslirp
 * needs its sockets in the sandbox. */
static bool wants_user_net(const struct vm_config *cfg)
{
	for (unsigned i = 0; i < cfg->nr_nets; i++)
		for (const char *p = cfg->nets[i]; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
			if (!strncmp(p, "user", 4) && (!p[4] || p[4] == ','))
				return true;
	return false;
}

/* The sandboxed child: one VM, its stop code written to wfd once everything but the KVM VM
 * itself is torn down, then every fd closed (the caller's terminal or pipe is free at once)
 * but the VM's last reference, which goes when the process exits. Returns the code. */
static int sandboxed_child(const struct vm_config *cfg, struct control *ctl,
			   struct sigwatch *sig, struct run_from *from, struct run_opts *o,
			   pid_t parent, int wfd)
{
	const char *log = getenv("VSRV_SECCOMP_LOG");
	int code, vm_fd = -1;
	char *media = NULL;

	/* The supervisor going away (even by SIGKILL) takes the VM with it. */
	o->sb.parent_death_signal = SIGKILL;
	o->sb.parent = parent;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		return 1;
	o->sb.user_net = wants_user_net(cfg);
	o->sb.migrate = cfg->control != NULL;
	o->sb.media = vm_devices_have_media(cfg) || vm_devices_serve_files(cfg); /* read-only opens */
	o->sb.log_only = log && !strcmp(log, "1");
	code = run_once(cfg, ctl, o->vnc, sig, from, &o->sb, &vm_fd, &media);
	fflush(NULL);
	/* the code, then the drives' media for the next boot (read up to the end of the pipe) */
	if (write(wfd, &code, sizeof(code)) != sizeof(code) ||
	    (media && write(wfd, media, strlen(media)) < 0)) {
		/* the supervisor is gone: nobody to tell */
	}
	free(media);
	if (vm_fd > 0)
		close_range(0, (unsigned)vm_fd - 1, 0);
	close_range((unsigned)vm_fd + 1, ~0U, 0);
	return code & 0xff;
}

/* Supervisor: wait for the child's stop code on rfd, passing termination signals on. A
 * child that dies without one (killed by the sandbox, or by a signal) is reaped and its
 * death logged. Returns the stop code, or 128 + N for a child killed by signal N. */
static int supervise_child(pid_t pid, int rfd, struct sigwatch *sig, const struct termios *tio,
			   int *killed_by)
{
	struct pollfd pf[2] = { { .fd = rfd, .events = POLLIN }, { .fd = sig->fd, .events = POLLIN } };
	struct signalfd_siginfo si;
	const char *why;
	int code, st = 0;
	ssize_t n;

	for (;;) {
		if (poll(pf, sig->fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if ((pf[1].revents & POLLIN) && read(sig->fd, &si, sizeof(si)) == sizeof(si)) {
			sig->signo = (int)si.ssi_signo;
			kill(pid, sig->signo);
		}
		if (pf[0].revents) {
			n = read(rfd, &code, sizeof(code));
			if (n == sizeof(code))
				return code;
			if (n < 0 && errno == EINTR)
				continue;
			break; /* no code: the child died */
		}
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (tio)
		tcsetattr(0, TCSANOW, tio); /* it may have left the terminal raw */
	if (WIFSIGNALED(st)) {
		why = sandbox_death_reason(WTERMSIG(st));
		vsrv_log("the VM's process (pid %d) was killed by signal %d%s%s", (int)pid,
			 WTERMSIG(st), why ? ": " : "", why ? why : "");
		*killed_by = WTERMSIG(st);
		return 128 + WTERMSIG(st);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* After a child's reset: the media it reports after its code (up to the end of the pipe,
 * which it closes at once) go into the next boot's specs. */
static void keep_child_media(struct vm_config *cfg, struct run_opts *o, int rfd)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	char buf[4096];
	ssize_t n;

	if (!f)
		return;
	while ((n = read(rfd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			fwrite(buf, 1, (size_t)n, f);
	fclose(f);
	if (media_keep(cfg, o, text))
		vsrv_log("the CD/DVD drives' media could not be kept across the reset");
	free(text);
}

/* With the sandbox, each VM (the first, and one more after each guest reset) runs in a child
 * process, which drops its privileges once the VM is built; this process keeps them to build
 * the next one (TAPs, files) and holds nothing of the guest's. *child is set in the child,
 * which returns its own code. A child killed by signal N sets *killed_by to N (the caller
 * then ends by the same signal, so that supervisors see the crash as it was). */
static int run_sandboxed(struct vm_config *cfg, struct control *ctl, struct sigwatch *sig,
			 struct run_from *from, struct run_opts *o, bool *child, int *killed_by)
{
	struct termios tio;
	bool have_tio = isatty(0) && tcgetattr(0, &tio) == 0;
	pid_t parent = getpid(), pid;
	int p[2], code;

	signal(SIGCHLD, SIG_DFL); /* the children's statuses are ours to read */
	if (!sandbox_supported())
		vsrv_log("sandbox: no seccomp filter in sanitizer builds (capabilities still dropped)");
	for (;;) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			; /* children of earlier boots that finished their teardown */
		if (pipe2(p, O_CLOEXEC) < 0) {
			vsrv_log("sandbox: pipe: %s", strerror(errno));
			return 1;
		}
		if (ctl)
			control_count_boot(ctl);
		pid = fork();
		if (pid == 0) {
			*child = true;
			close(p[0]);
			return sandboxed_child(cfg, ctl, sig, from, o, parent, p[1]);
		}
		close(p[1]);
		if (pid < 0) {
			vsrv_log("sandbox: fork: %s", strerror(errno));
			close(p[0]);
			return 1;
		}
		code = supervise_child(pid, p[0], sig, have_tio ? &tio : NULL, killed_by);
		if (*killed_by) {
			close(p[0]);
			return code;
		}
		if (code == VM_STOP_RESET)
			keep_child_media(cfg, o, p[0]);
		close(p[0]);
		if (sig->signo) {
			vsrv_log("stopped by signal %d", sig->signo);
			return 128 + sig->signo;
		}
		if (first_boot_done(cfg, from, code))
			return 0;
		if (code == VM_STOP_RESET && !cfg->no_reboot)
			continue; /* a guest reset: start it again from scratch */
		if (code == VM_STOP_RESET)
			return 0;
		return code < 0 ? 1 : code;
	}
}

int cmd_run(int argc, char **argv)
{
	struct vm_config cfg = { .nr_cpus = 1, .mem_size = DEFAULT_MEM, .serial = VM_SERIAL_STDIO };
	struct run_opts o = { .sandbox = -1 };
	struct sigwatch sig = { -1, 0, NULL };
	struct control *ctl = NULL;
	struct run_from from = { NULL, -1 };
	bool child = false;
	sigset_t set, old;
	int ret, code, killed_by = 0;

	vsrv_log_set_prefix("vsrv");
	ret = run_parse_args(argc, argv, &cfg, &o);
	if (ret == 1) {
		run_usage(stdout);
		return 0;
	}
	/* A restore takes the VM's options from the file (run_args.h). */
	if (!ret && cfg.restore)
		ret = run_args_restore(argv[0], &cfg, &o);
	else if (!ret) {
		cfg.run_args = (const char *const *)o.vm_args;
		cfg.nr_run_args = o.nr_vm_args;
	}
	if (ret < 0) {
		code = 1;
		goto out;
	}
	/* Option mistakes in device specs are one line before anything is built (or /dev/kvm
	 * opened): the same parsers the devices use. */
	if (vm_devices_check(&cfg) < 0) {
		code = 1;
		goto out;
	}
	/* So is a kernel its loader would refuse (the same probe, boot_probe.h): a missing file
	 * is named as such, not hidden behind a host without /dev/kvm. A restore or a migration
	 * boots no kernel (only a later guest reset does, which says so then). */
	if (cfg.kernel && !cfg.restore && !cfg.incoming) {
		char why[256];
		struct stat ist;

		if (x86_boot_probe_file(cfg.kernel, why, sizeof(why)) < 0) {
			vsrv_log("kernel %s: %s", cfg.kernel, why);
			code = 1;
			goto out;
		}
		/* and its initrd, as the loader opens it (boot_linux.c): there, or not a file */
		if (cfg.initrd && stat(cfg.initrd, &ist) < 0) {
			vsrv_log("initrd %s: %s", cfg.initrd, strerror(errno));
			code = 1;
			goto out;
		}
		if (cfg.initrd && !S_ISREG(ist.st_mode)) {
			vsrv_log("initrd %s: not a regular file", cfg.initrd);
			code = 1;
			goto out;
		}
	}
	/* On by default, but in sanitizer builds, whose runtime the filter would kill. */
	if (o.sandbox < 0)
		o.sandbox = sandbox_supported();

	/* Termination signals are read from a signalfd on the control loop. The children that
	 * tear down old VMs (vm_destroy_detached) are reaped automatically. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);
	sig.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (cfg.restore && vm_restore_open(cfg.restore, &cfg, &from.rst) < 0) {
		code = 1;
		goto out_sig;
	}
	if (cfg.incoming && migrate_listen(cfg.incoming, &from.in_fd) < 0) {
		code = 1;
		goto out_sig;
	}
	if (cfg.control && control_open(cfg.control, &ctl) < 0) {
		code = 1;
		goto out_sig;
	}
	if (cfg.vnc && vnc_open(cfg.vnc, &o.vnc) < 0) {
		code = 1;
		goto out_ctl;
	}

	if (o.sandbox) {
		code = run_sandboxed(&cfg, ctl, &sig, &from, &o, &child, &killed_by);
		if (child)
			goto out; /* the parent owns the socket file and the signal set-up */
	} else {
		for (;;) {
			char *media = NULL;

			code = run_once(&cfg, ctl, o.vnc, &sig, &from, NULL, NULL, &media);
			if (code == VM_STOP_RESET && media_keep(&cfg, &o, media))
				vsrv_log("the CD/DVD drives' media could not be kept across the reset");
			free(media);
			if (sig.signo) {
				/* A signal ends the VM even when a guest reset won the race. */
				vsrv_log("stopped by signal %d", sig.signo);
				code = 128 + sig.signo;
				break;
			}
			if (first_boot_done(&cfg, &from, code)) {
				code = 0;
				break;
			}
			if (code == VM_STOP_RESET && !cfg.no_reboot)
				continue; /* a guest reset: start it again from scratch */
			if (code == VM_STOP_RESET)
				code = 0;
			else if (code < 0)
				code = 1;
			break;
		}
	}
	vnc_close(o.vnc);
out_ctl:
	control_close(ctl);
out_sig:
	vm_restore_close(from.rst);
	if (from.in_fd >= 0)
		close(from.in_fd);
	if (sig.fd >= 0)
		close(sig.fd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (killed_by) {
		/* The VM's process died of a signal: so does `vsrv run` (no core of this one). */
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
		signal(killed_by, SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, killed_by);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		raise(killed_by);
	}
out:
	run_args_free(&cfg, &o);
	return code;
}
