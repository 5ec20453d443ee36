/* The VMM's seccomp allow-list (see sandbox.h), compiled at build time: this file is not part
 * of build/vsrv. Built with -DSANDBOX_GEN_MAIN it is the generator that mk/sandbox.mk runs to
 * write $(BUILD)/gen/sandbox_bpf.h, the BPF programs (made by libseccomp) that sandbox.c
 * loads: building them at run time took ~1 ms of every VM's start.
 *
 * A row allows one system call, optionally only when one argument matches (ioctl request
 * numbers, clone flags, socket domains, open flags, no PROT_EXEC for mappings). Everything
 * not listed kills the process, so a row missing here shows up as a VMM killed by SIGSYS;
 * run it with VSRV_SECCOMP_LOG=1 and read the kernel's audit log (dmesg: "type=1326 ...
 * syscall=N") to see which. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

/* Stands for the VMM's pid in the programs; sandbox.c patches it at load. */
#define SANDBOX_PID_MAGIC 0x5ecc0b1du

/* Which groups a row belongs to. */
enum {
	G_BASE  = 1 << 0,  /* every VMM: threads, memory, fds, time, sockets it already has */
	G_KVM   = 1 << 1,  /* ioctls on /dev/kvm, VM and vCPU fds, the terminal and TAPs */
	G_STATE = 1 << 2,  /* writing a state file at run time (control `save`) */
	G_SLIRP = 1 << 3,  /* --net user: libslirp's host sockets */
	G_MIGRATE = 1 << 4, /* --control: the `migrate` command connects to the destination */
	G_MEDIA = 1 << 5,   /* a CD/DVD drive: the `media` command opens images read-only */
	G_NOMEDIA = 1 << 6, /* without one */
};

enum arg_kind {
	A_ANY,      /* any arguments */
	A_EQ,       /* argument arg == val */
	A_MASK0,    /* (argument arg & val) == 0 */
	A_MASKSET,  /* (argument arg & val) == val */
	A_MASKEQ,   /* (argument arg & val) == eq */
};

struct rule {
	unsigned groups;
	int nr;             /* system call number (SCMP_SYS) */
	enum arg_kind kind;
	unsigned arg;
	uint64_t val;
	int err;            /* 0: allow; else fail with this errno */
	uint64_t eq;        /* A_MASKEQ's value */
};

#define ALLOW(g, name)                { g, SCMP_SYS(name), A_ANY, 0, 0, 0, 0 }
#define ALLOW_EQ(g, name, a, v)       { g, SCMP_SYS(name), A_EQ, a, (uint64_t)(v), 0, 0 }
#define ALLOW_MASK0(g, name, a, m)    { g, SCMP_SYS(name), A_MASK0, a, (uint64_t)(m), 0, 0 }
#define ALLOW_MASKSET(g, name, a, m)  { g, SCMP_SYS(name), A_MASKSET, a, (uint64_t)(m), 0, 0 }
#define IOCTL(g, req)                 ALLOW_EQ(g, ioctl, 1, req)
#define FAIL(g, name, e)              { g, SCMP_SYS(name), A_ANY, 0, 0, e, 0 }
#define FAIL_MASK0(g, name, a, m, e)  { g, SCMP_SYS(name), A_MASK0, a, (uint64_t)(m), e, 0 }
#define FAIL_MASKEQ(g, name, a, m, v, e) { g, SCMP_SYS(name), A_MASKEQ, a, (uint64_t)(m), e, v }

static const struct rule rules[] = {
	/* --- base: I/O on the fds the VMM holds --- */
	ALLOW(G_BASE, read), ALLOW(G_BASE, write), ALLOW(G_BASE, readv), ALLOW(G_BASE, writev),
	ALLOW(G_BASE, pread64), ALLOW(G_BASE, pwrite64), ALLOW(G_BASE, preadv),
	ALLOW(G_BASE, pwritev), ALLOW(G_BASE, preadv2), ALLOW(G_BASE, pwritev2),
	ALLOW(G_BASE, lseek), ALLOW(G_BASE, close), ALLOW(G_BASE, close_range),
	ALLOW(G_BASE, fstat), ALLOW(G_BASE, newfstatat), ALLOW(G_BASE, statx),
	ALLOW_EQ(G_BASE, fcntl, 1, F_GETFL), ALLOW_EQ(G_BASE, fcntl, 1, F_SETFL),
	ALLOW_EQ(G_BASE, fcntl, 1, F_GETFD), ALLOW_EQ(G_BASE, fcntl, 1, F_SETFD),
	ALLOW_EQ(G_BASE, fcntl, 1, F_DUPFD_CLOEXEC),
	/* disk image locks: a migration's source lets go of them and may take them back */
	ALLOW_EQ(G_BASE, fcntl, 1, F_OFD_SETLK), ALLOW_EQ(G_BASE, fcntl, 1, F_OFD_GETLK),
	ALLOW(G_BASE, dup), ALLOW(G_BASE, dup3),
	/* disks: flushes, discard (hole punching), io_uring submissions; a save file's early
	 * write-back (vmm/savestate_file.c) */
	ALLOW(G_BASE, fdatasync), ALLOW(G_BASE, fsync), ALLOW(G_BASE, fallocate),
	ALLOW(G_BASE, sync_file_range),
	ALLOW(G_BASE, io_uring_enter),
	/* the control loop and the device threads */
	ALLOW(G_BASE, epoll_wait), ALLOW(G_BASE, epoll_pwait), ALLOW(G_BASE, epoll_ctl),
	ALLOW(G_BASE, poll), ALLOW(G_BASE, ppoll), ALLOW(G_BASE, pselect6),
	ALLOW(G_BASE, eventfd2), ALLOW(G_BASE, timerfd_settime), ALLOW(G_BASE, timerfd_gettime),
	/* sockets already open: control and console clients, the serial socket */
	ALLOW(G_BASE, accept4), ALLOW(G_BASE, accept), ALLOW(G_BASE, recvfrom),
	ALLOW(G_BASE, recvmsg), ALLOW(G_BASE, sendto), ALLOW(G_BASE, sendmsg),
	ALLOW(G_BASE, shutdown), ALLOW(G_BASE, getsockopt),
	/* VNC clients (--vnc: LibVNCServer on the control loop): it asks the peer's address,
	 * sets TCP_NODELAY (also tried on Unix sockets) and waits for the rest of a message
	 * with select() */
	ALLOW(G_BASE, getpeername), ALLOW_EQ(G_BASE, setsockopt, 1, IPPROTO_TCP),
	ALLOW(G_BASE, select),
	/* ... on one end of a Unix socket pair per client, the relay thread on the other
	 * (vmm/vnc_relay.c): a pair reaches nothing outside the process */
	ALLOW_EQ(G_BASE, socketpair, 0, AF_UNIX),
	/* memory (malloc, thread stacks), never executable */
	ALLOW_MASK0(G_BASE, mmap, 2, PROT_EXEC), ALLOW_MASK0(G_BASE, mprotect, 2, PROT_EXEC),
	ALLOW(G_BASE, munmap), ALLOW(G_BASE, mremap), ALLOW(G_BASE, madvise), ALLOW(G_BASE, brk),
	/* threads: vCPUs and device workers (clone3 fails so that glibc falls back to clone,
	 * whose flags can be checked: threads only, never a new process) */
	ALLOW_MASKSET(G_BASE, clone, 0, CLONE_THREAD), FAIL(G_BASE, clone3, ENOSYS),
	ALLOW(G_BASE, set_robust_list), ALLOW(G_BASE, rseq), ALLOW(G_BASE, futex),
	ALLOW(G_BASE, sched_yield), ALLOW(G_BASE, sched_getaffinity),
	ALLOW(G_BASE, exit), ALLOW(G_BASE, exit_group), ALLOW(G_BASE, gettid),
	ALLOW(G_BASE, getpid), ALLOW(G_BASE, getppid),
	/* signals: the vCPU kick is a tgkill within this process (checked at load) */
	ALLOW(G_BASE, rt_sigreturn), ALLOW(G_BASE, rt_sigprocmask), ALLOW(G_BASE, rt_sigaction),
	ALLOW(G_BASE, restart_syscall),
	/* time, randomness, usage */
	ALLOW(G_BASE, clock_gettime), ALLOW(G_BASE, clock_getres), ALLOW(G_BASE, gettimeofday),
	ALLOW(G_BASE, clock_nanosleep), ALLOW(G_BASE, nanosleep), ALLOW(G_BASE, getrandom),
	ALLOW(G_BASE, getrusage), ALLOW(G_BASE, times),
	/* opening an existing file fails softly (no O_CREAT: EACCES), see sandbox.h */
	FAIL_MASK0(G_NOMEDIA, openat, 2, O_CREAT | O_DIRECTORY, EACCES), FAIL(G_BASE, open, EACCES),
	/* with a CD/DVD drive, read-only: the images the `media` command inserts (and their
	 * locks); for writing, still EACCES (three disjoint rules: no overlap between actions) */
	ALLOW_MASK0(G_MEDIA, openat, 2, O_CREAT | O_DIRECTORY | O_ACCMODE),
	FAIL_MASKEQ(G_MEDIA, openat, 2, O_CREAT | O_DIRECTORY | O_WRONLY, O_WRONLY, EACCES),
	FAIL_MASKEQ(G_MEDIA, openat, 2, O_CREAT | O_DIRECTORY | O_WRONLY | O_RDWR, O_RDWR, EACCES),
	IOCTL(G_MEDIA, BLKGETSIZE64), /* an image on a block device: its size */

	/* --- ioctls on the VM's fds (request numbers only) --- */
	IOCTL(G_KVM, KVM_RUN), IOCTL(G_KVM, KVM_CHECK_EXTENSION),
	IOCTL(G_KVM, KVM_GET_REGS), IOCTL(G_KVM, KVM_SET_REGS),
	IOCTL(G_KVM, KVM_GET_SREGS), IOCTL(G_KVM, KVM_SET_SREGS),
	IOCTL(G_KVM, KVM_GET_FPU), IOCTL(G_KVM, KVM_SET_FPU),
	IOCTL(G_KVM, KVM_GET_MSRS), IOCTL(G_KVM, KVM_SET_MSRS),
	IOCTL(G_KVM, KVM_GET_LAPIC), IOCTL(G_KVM, KVM_SET_LAPIC),
	IOCTL(G_KVM, KVM_GET_XSAVE), IOCTL(G_KVM, KVM_SET_XSAVE),
	IOCTL(G_KVM, KVM_GET_XCRS), IOCTL(G_KVM, KVM_SET_XCRS),
	IOCTL(G_KVM, KVM_GET_DEBUGREGS), IOCTL(G_KVM, KVM_SET_DEBUGREGS),
	IOCTL(G_KVM, KVM_GET_MP_STATE), IOCTL(G_KVM, KVM_SET_MP_STATE),
	IOCTL(G_KVM, KVM_GET_VCPU_EVENTS), IOCTL(G_KVM, KVM_SET_VCPU_EVENTS),
	IOCTL(G_KVM, KVM_TRANSLATE), IOCTL(G_KVM, KVM_GET_MSR_INDEX_LIST),
	IOCTL(G_KVM, KVM_GET_SUPPORTED_CPUID), IOCTL(G_KVM, KVM_GET_CPUID2),
	IOCTL(G_KVM, KVM_GET_TSC_KHZ), IOCTL(G_KVM, KVM_SET_TSC_KHZ),
	IOCTL(G_KVM, KVM_GET_NESTED_STATE), IOCTL(G_KVM, KVM_SET_NESTED_STATE),
	IOCTL(G_KVM, KVM_GET_IRQCHIP), IOCTL(G_KVM, KVM_SET_IRQCHIP),
	IOCTL(G_KVM, KVM_GET_PIT2), IOCTL(G_KVM, KVM_SET_PIT2),
	IOCTL(G_KVM, KVM_GET_CLOCK), IOCTL(G_KVM, KVM_SET_CLOCK),
	IOCTL(G_KVM, KVM_IRQ_LINE), IOCTL(G_KVM, KVM_IRQ_LINE_STATUS),
	IOCTL(G_KVM, KVM_IRQFD), IOCTL(G_KVM, KVM_IOEVENTFD),
	IOCTL(G_KVM, KVM_SET_GSI_ROUTING), IOCTL(G_KVM, KVM_SIGNAL_MSI),
	IOCTL(G_KVM, KVM_REGISTER_COALESCED_MMIO), IOCTL(G_KVM, KVM_UNREGISTER_COALESCED_MMIO),
	/* memory slots: the UEFI flash's array mapped and unmapped as OVMF programs it
	 * (--firmware uefi: arch/x86/firmware.c), dirty page logging for a live migration's
	 * rounds (the slot's flags) and a display's framebuffer (what changed, for VNC); a slot
	 * maps only memory the VMM already has */
	IOCTL(G_KVM, KVM_SET_USER_MEMORY_REGION), IOCTL(G_KVM, KVM_GET_DIRTY_LOG),
	IOCTL(G_MIGRATE, KVM_CLEAR_DIRTY_LOG),
	/* --enlightenments xen: the guest's hypercalls set the shared info page, the upcall
	 * vector, vcpu_info and timer ports, and raise event channels (arch/x86/xen.c); a
	 * restore or an incoming migration sets them again */
	IOCTL(G_KVM, KVM_XEN_HVM_SET_ATTR), IOCTL(G_KVM, KVM_XEN_VCPU_SET_ATTR),
	IOCTL(G_KVM, KVM_XEN_HVM_EVTCHN_SEND),
	/* ... and a save reads KVM's Xen timers and runstate times */
	IOCTL(G_KVM, KVM_XEN_VCPU_GET_ATTR),
	/* the terminal (serial on stdio: raw mode and back) and TAP offloads the guest picks */
	IOCTL(G_KVM, TCGETS), IOCTL(G_KVM, TCSETS), IOCTL(G_KVM, TCSETSW), IOCTL(G_KVM, TCSETSF),
	IOCTL(G_KVM, TIOCGWINSZ), IOCTL(G_KVM, FIONREAD), IOCTL(G_KVM, FIONBIO),
	IOCTL(G_KVM, TUNSETOFFLOAD), IOCTL(G_KVM, TUNSETQUEUE), IOCTL(G_KVM, TUNSETVNETHDRSZ),

	/* --- state files written at run time: new files only (O_CREAT | O_EXCL, as mkstemp
	 * does; O_CREAT alone would open any existing file), renamed into place --- */
	ALLOW_MASKSET(G_STATE, openat, 2, O_CREAT | O_EXCL), ALLOW(G_STATE, rename),
	/* a directory, to fsync it after the rename (no getdents: it cannot be listed) */
	ALLOW_MASKSET(G_STATE, openat, 2, O_DIRECTORY),
	ALLOW(G_STATE, renameat), ALLOW(G_STATE, renameat2), ALLOW(G_STATE, ftruncate),
	ALLOW(G_STATE, fchmod), ALLOW(G_STATE, unlinkat), ALLOW(G_STATE, unlink),
	ALLOW(G_STATE, access), ALLOW(G_STATE, faccessat), ALLOW(G_STATE, faccessat2),
	ALLOW(G_STATE, getcwd), ALLOW(G_STATE, readlink), ALLOW(G_STATE, readlinkat),

	/* --- user-mode networking: libslirp's sockets for the guest's flows --- */
	ALLOW_EQ(G_SLIRP, socket, 0, AF_INET), ALLOW_EQ(G_SLIRP, socket, 0, AF_INET6),
	ALLOW(G_SLIRP, connect), ALLOW(G_SLIRP, bind), ALLOW(G_SLIRP, listen),
	ALLOW(G_SLIRP, getsockname), ALLOW(G_SLIRP, getpeername), ALLOW(G_SLIRP, setsockopt),

	/* --- live migration (--control only): one stream socket to the destination, by path or
	 * by address (getaddrinfo of a numeric or /etc/hosts name: its file probes fail softly)
	 * --- */
	ALLOW_EQ(G_MIGRATE, socket, 0, AF_UNIX), ALLOW_EQ(G_MIGRATE, socket, 0, AF_INET),
	ALLOW_EQ(G_MIGRATE, socket, 0, AF_INET6), ALLOW(G_MIGRATE, connect),
	ALLOW(G_MIGRATE, setsockopt), ALLOW(G_MIGRATE, getsockname),
	ALLOW(G_MIGRATE, getpeername),
};

static int add_rule(scmp_filter_ctx ctx, const struct rule *r)
{
	uint32_t action = r->err ? SCMP_ACT_ERRNO((uint32_t)r->err) : SCMP_ACT_ALLOW;
	struct scmp_arg_cmp cmp = { .arg = r->arg };

	switch (r->kind) {
	case A_ANY:
		return seccomp_rule_add(ctx, action, r->nr, 0);
	case A_EQ:
		cmp.op = SCMP_CMP_EQ;
		cmp.datum_a = r->val;
		break;
	case A_MASK0:
		cmp.op = SCMP_CMP_MASKED_EQ;
		cmp.datum_a = r->val;
		cmp.datum_b = 0;
		break;
	case A_MASKSET:
		cmp.op = SCMP_CMP_MASKED_EQ;
		cmp.datum_a = r->val;
		cmp.datum_b = r->val;
		break;
	case A_MASKEQ:
		cmp.op = SCMP_CMP_MASKED_EQ;
		cmp.datum_a = r->val;
		cmp.datum_b = r->eq;
		break;
	}
	return seccomp_rule_add_array(ctx, action, r->nr, 1, &cmp);
}

/* Write the program for the VMM (with user_net: libslirp's sockets too; with migrate: the
 * migration's socket and dirty logging; with media: read-only opens) to fd as raw
 * struct sock_filter. Returns 0 or -errno. */
static int rules_export(bool user_net, bool migrate, bool media, int fd)
{
	unsigned groups = G_BASE | G_KVM | G_STATE | (user_net ? G_SLIRP : 0) |
			  (migrate ? G_MIGRATE : 0) | (media ? G_MEDIA : G_NOMEDIA);
	scmp_filter_ctx ctx;
	size_t i;
	int ret;

	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	/* A binary tree over the syscall numbers: fewer instructions per call (and for the
	 * kernel to walk when it loads the program and caches its always-allowed calls). */
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (ret < 0)
		goto out;
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		if (!(rules[i].groups & groups))
			continue;
		ret = add_rule(ctx, &rules[i]);
		if (ret < 0)
			goto out;
	}
	/* Signals only to this process's own threads (the vCPU kick). */
	ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
			       SCMP_A0(SCMP_CMP_EQ, (uint64_t)SANDBOX_PID_MAGIC));
	if (ret < 0)
		goto out;
	ret = seccomp_export_bpf(ctx, fd);
out:
	seccomp_release(ctx);
	return ret;
}

#ifdef SANDBOX_GEN_MAIN
/* Print one program as a C array. */
static int print_program(const char *name, bool user_net, bool migrate, bool media)
{
	FILE *f = tmpfile();
	unsigned char ins[8];
	int ret;

	if (!f)
		return -errno;
	ret = rules_export(user_net, migrate, media, fileno(f));
	if (ret < 0) {
		fclose(f);
		return ret;
	}
	rewind(f);
	printf("static const struct sock_filter %s[] = {\n", name);
	while (fread(ins, 1, 8, f) == 8)
		printf("\t{ %#x, %u, %u, %#x },\n", ins[0] | ins[1] << 8, ins[2], ins[3],
		       (unsigned)(ins[4] | ins[5] << 8 | ins[6] << 16 | (unsigned)ins[7] << 24));
	printf("};\n");
	fclose(f);
	return 0;
}

int main(void)
{
	printf("/* Generated by src/vmm/sandbox_rules.c (mk/sandbox.mk): do not edit. */\n");
	printf("#define SANDBOX_PID_MAGIC %#xu\n", SANDBOX_PID_MAGIC);
	if (print_program("sandbox_bpf_base", false, false, false) < 0 ||
	    print_program("sandbox_bpf_user_net", true, false, false) < 0 ||
	    print_program("sandbox_bpf_migrate", false, true, false) < 0 ||
	    print_program("sandbox_bpf_user_net_migrate", true, true, false) < 0 ||
	    print_program("sandbox_bpf_media", false, false, true) < 0 ||
	    print_program("sandbox_bpf_user_net_media", true, false, true) < 0 ||
	    print_program("sandbox_bpf_migrate_media", false, true, true) < 0 ||
	    print_program("sandbox_bpf_user_net_migrate_media", true, true, true) < 0) {
		fprintf(stderr, "sandbox_rules: cannot build the seccomp programs\n");
		return 1;
	}
	return 0;
}
#endif
