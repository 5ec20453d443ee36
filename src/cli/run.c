/* vsrv run: one VM in the foreground. Parses and validates the options into a vm_config,
 * builds the VM, runs it on this thread's control loop, and turns the way it ended into the
 * exit status: 0 power-off (or reset with --no-reboot), (V << 1) | 1 for a debug-exit write
 * of V, 1 bad input or a host-side failure, 2 a guest crash (triple fault, KVM error),
 * 128 + N when stopped by signal N. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "util/log.h"
#include "util/size.h"
#include "vmm/control.h"
#include "vmm/migrate.h"
#include "vmm/savestate.h"
#include "vmm/vm.h"

#define DEFAULT_MEM (128ULL << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vsrv run --kernel FILE [options]\n"
		"       vsrv run --restore FILE [options the saved VM was started with]\n"
		"       vsrv run --incoming URI [options the migrating VM was started with]\n"
		"  --kernel FILE        multiboot ELF, Linux bzImage or ELF64 vmlinux\n"
		"  --initrd FILE        initial ramdisk (a module for multiboot kernels)\n"
		"  --cmdline STR        kernel command line\n"
		"  --cpus N             vCPUs, 1 to %d (default 1)\n"
		"  --memory SIZE        RAM with suffix K, M or G; a bare number is MiB (default 128M)\n"
		"  --serial MODE        stdio (default), none, file:PATH or unix:PATH\n"
		"  --no-reboot          a guest reset ends the VM (status 0) instead of restarting it\n"
		"  --disk SPEC          a virtual disk (repeatable): PATH[,format=vhd|raw][,readonly=on]\n"
		"                       [,bus=virtio-blk|scsi][,cache=none|writeback][,transport=mmio|pci]\n"
		"  --net SPEC           a network interface (repeatable): tap=NAME|bridge=BR|user[,mac=MAC]\n"
		"                       [,transport=mmio|pci][,queues=N (tap, bridge)]\n"
		"  --device SPEC        rng, or console,socket=PATH (repeatable; see README)\n"
		"  --control PATH       a control socket (JSON lines: status, pause, resume, save,\n"
		"                       migrate, stats, power-button, quit; see README)\n"
		"  --restore FILE       resume a VM saved by the control socket's save command;\n"
		"                       give the same --memory, --cpus, --disk, --net and --device\n"
		"                       options (in the same order) as the saved VM; --kernel is\n"
		"                       then optional (booted when the guest resets)\n"
		"  --incoming URI       receive a VM migrating live from another vsrv run (the\n"
		"                       control socket's migrate command): unix:PATH or\n"
		"                       tcp:HOST:PORT to listen on; same options as --restore\n"
		"On the terminal, Ctrl-A x quits.\n", VM_MAX_VCPUS);
}

static int parse_cpus(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < 1 || v > VM_MAX_VCPUS) {
		vsrv_log("--cpus %s: must be a whole number from 1 to %d", s, VM_MAX_VCPUS);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

static int parse_memory(const char *s, uint64_t *out)
{
	size_t n = strlen(s);
	uint64_t v;
	int ret;

	ret = size_parse(s, &v);
	if (!ret && n && s[n - 1] >= '0' && s[n - 1] <= '9') {
		if (v > VM_MAX_MEM >> 20)
			ret = -ERANGE;
		v <<= 20; /* a bare number is MiB, as with qemu -m */
	}
	if (ret == -EINVAL) {
		vsrv_log("--memory %s: not a size (use e.g. 64M or 2G)", s);
		return ret;
	}
	if (ret < 0 || v < VM_MIN_MEM || v > VM_MAX_MEM) {
		vsrv_log("--memory %s: out of range (%llu MiB to %llu GiB)", s,
			 VM_MIN_MEM >> 20, VM_MAX_MEM >> 30);
		return -ERANGE;
	}
	if (v & 4095) {
		vsrv_log("--memory %s: not a multiple of 4 KiB", s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_serial(const char *s, struct vm_config *c)
{
	if (!strcmp(s, "stdio"))
		c->serial = VM_SERIAL_STDIO;
	else if (!strcmp(s, "none"))
		c->serial = VM_SERIAL_NONE;
	else if (!strncmp(s, "file:", 5) && s[5])
		c->serial = VM_SERIAL_FILE, c->serial_path = s + 5;
	else if (!strncmp(s, "unix:", 5) && s[5])
		c->serial = VM_SERIAL_UNIX, c->serial_path = s + 5;
	else {
		vsrv_log("--serial %s: expected stdio, none, file:PATH or unix:PATH", s);
		return -EINVAL;
	}
	return 0;
}

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
       OPT_HELP };

static const struct option options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "no-reboot", no_argument, NULL, OPT_NO_REBOOT },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "net", required_argument, NULL, OPT_NET },
	{ "device", required_argument, NULL, OPT_DEVICE },
	{ "control", required_argument, NULL, OPT_CONTROL },
	{ "restore", required_argument, NULL, OPT_RESTORE },
	{ "incoming", required_argument, NULL, OPT_INCOMING },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Returns 0, 1 for --help (print usage, exit 0), or -errno after logging. */
static int parse_args(int argc, char **argv, struct vm_config *c)
{
	int opt, ret = 0;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (opt) {
		case OPT_KERNEL:    c->kernel = optarg; break;
		case OPT_INITRD:    c->initrd = optarg; break;
		case OPT_CMDLINE:   c->cmdline = optarg; break;
		case OPT_CPUS:      ret = parse_cpus(optarg, &c->nr_cpus); break;
		case OPT_MEMORY:    ret = parse_memory(optarg, &c->mem_size); break;
		case OPT_SERIAL:    ret = parse_serial(optarg, c); break;
		case OPT_NO_REBOOT: c->no_reboot = true; break;
		case OPT_DISK:      ret = push(&c->disks, &c->nr_disks, optarg); break;
		case OPT_NET:       ret = push(&c->nets, &c->nr_nets, optarg); break;
		case OPT_DEVICE:    ret = push(&c->devices, &c->nr_devices, optarg); break;
		case OPT_CONTROL:   c->control = optarg; break;
		case OPT_RESTORE:   c->restore = optarg; break;
		case OPT_INCOMING:  c->incoming = optarg; break;
		case OPT_HELP:      return 1;
		case ':':
			vsrv_log("option %s needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			vsrv_log("unknown option '%s' (see vsrv run --help)", argv[optind - 1]);
			return -EINVAL;
		}
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
	if (!c->kernel && !c->restore && !c->incoming) {
		vsrv_log("--kernel FILE is required (or --restore FILE; see vsrv run --help)");
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

int cmd_run(int argc, char **argv)
{
	struct vm_config cfg = { .nr_cpus = 1, .mem_size = DEFAULT_MEM, .serial = VM_SERIAL_STDIO };
	struct sigwatch sig = { -1, 0, NULL };
	struct control *ctl = NULL;
	struct vm_restore *rst = NULL;
	int in_fd = -1;
	sigset_t set, old;
	struct vm *vm = NULL;
	int ret, code;

	vsrv_log_set_prefix("vsrv");
	ret = parse_args(argc, argv, &cfg);
	if (ret == 1) {
		usage(stdout);
		return 0;
	}
	if (ret < 0) {
		code = 1;
		goto out;
	}

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
	if (cfg.restore && vm_restore_open(cfg.restore, &cfg, &rst) < 0) {
		code = 1;
		goto out_sig;
	}
	if (cfg.incoming && migrate_listen(cfg.incoming, &in_fd) < 0) {
		code = 1;
		goto out_sig;
	}
	if (cfg.control && control_open(cfg.control, &ctl) < 0) {
		code = 1;
		goto out_sig;
	}

	for (;;) {
		ret = vm_create(&cfg, &vm);
		if (ret < 0) {
			code = 1;
			break;
		}
		if (rst) {
			ret = vm_restore_load(rst, vm);
			vm_restore_close(rst);
			rst = NULL;
			if (ret < 0) {
				vm_destroy_detached(vm);
				vm = NULL;
				code = 1;
				break;
			}
		}
		if (in_fd >= 0) {
			ret = migrate_incoming(in_fd, sig.fd, vm, cfg.incoming, &sig.signo);
			close(in_fd);
			in_fd = -1;
			if (ret < 0) {
				vm_destroy_detached(vm);
				vm = NULL;
				code = sig.signo ? 128 + sig.signo : 1;
				break;
			}
		}
		sig.vm = vm;
		if (sig.fd >= 0)
			evloop_add(vm->loop, sig.fd, EPOLLIN, on_signal, &sig);
		if (ctl && control_attach(ctl, vm) < 0)
			vsrv_log("--control %s: cannot watch the socket", cfg.control);
		code = vm_run(vm);
		if (ctl)
			control_detach(ctl);
		if (sig.fd >= 0)
			evloop_del(vm->loop, sig.fd);
		vm_destroy_detached(vm);
		vm = NULL;
		if (sig.signo) {
			/* A signal ends the VM even when a guest reset won the race to stop it. */
			vsrv_log("stopped by signal %d", sig.signo);
			code = 128 + sig.signo;
			break;
		}
		if (code == VM_STOP_RESET && !cfg.no_reboot && (cfg.restore || cfg.incoming) &&
		    !cfg.kernel) {
			vsrv_log("the %s guest reset itself; no --kernel to boot: the VM ends",
				 cfg.restore ? "restored" : "migrated");
			code = 0;
			break;
		}
		if (code == VM_STOP_RESET && !cfg.no_reboot) {
			cfg.restore = NULL; /* a reset boots the kernel */
			cfg.incoming = NULL;
			continue; /* a guest reset: start it again from scratch */
		}
		if (code == VM_STOP_RESET)
			code = 0;
		else if (code < 0)
			code = 1;
		break;
	}
	control_close(ctl);
out_sig:
	vm_restore_close(rst);
	if (in_fd >= 0)
		close(in_fd);
	if (sig.fd >= 0)
		close(sig.fd);
	sigprocmask(SIG_SETMASK, &old, NULL);
out:
	free(cfg.disks);
	free(cfg.nets);
	free(cfg.devices);
	return code;
}
