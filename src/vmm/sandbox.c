/* The VMM's sandbox: capabilities, no_new_privs and the seccomp allow-list. See sandbox.h.
 *
 * The allow-list is one table (rules[] below), in groups. A row allows one system call,
 * optionally only when one argument matches (ioctl request numbers, clone flags, socket
 * domains, open flags, no PROT_EXEC for mappings). Everything not listed kills the process,
 * so a row missing here shows up as a VMM killed by SIGSYS; run it with
 * VSRV_SECCOMP_LOG=1 and read the kernel's audit log (dmesg: "type=1326 ... syscall=N") to
 * see which. */
#include "vmm/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/kvm.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "util/log.h"

/* Which groups a row belongs to. */
enum {
	G_BASE  = 1 << 0,  /* every VMM: threads, memory, fds, time, sockets it already has */
	G_KVM   = 1 << 1,  /* ioctls on /dev/kvm, VM and vCPU fds, the terminal and TAPs */
	G_STATE = 1 << 2,  /* writing a state file at run time (control `save`) */
	G_SLIRP = 1 << 3,  /* --net user: libslirp's host sockets */
};

enum arg_kind {
	A_ANY,      /* any arguments */
	A_EQ,       /* argument arg == val */
	A_MASK0,    /* (argument arg & val) == 0 */
	A_MASKSET,  /* (argument arg & val) == val */
};

struct rule {
	unsigned groups;
	int nr;             /* system call number (SCMP_SYS) */
	enum arg_kind kind;
	unsigned arg;
	uint64_t val;
	int err;            /* 0: allow; else fail with this errno */
};

#define ALLOW(g, name)                { g, SCMP_SYS(name), A_ANY, 0, 0, 0 }
#define ALLOW_EQ(g, name, a, v)       { g, SCMP_SYS(name), A_EQ, a, (uint64_t)(v), 0 }
#define ALLOW_MASK0(g, name, a, m)    { g, SCMP_SYS(name), A_MASK0, a, (uint64_t)(m), 0 }
#define ALLOW_MASKSET(g, name, a, m)  { g, SCMP_SYS(name), A_MASKSET, a, (uint64_t)(m), 0 }
#define IOCTL(g, req)                 ALLOW_EQ(g, ioctl, 1, req)
#define FAIL(g, name, e)              { g, SCMP_SYS(name), A_ANY, 0, 0, e }
#define FAIL_MASK0(g, name, a, m, e)  { g, SCMP_SYS(name), A_MASK0, a, (uint64_t)(m), e }

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
	ALLOW(G_BASE, dup), ALLOW(G_BASE, dup3),
	/* disks: flushes, discard (hole punching), io_uring submissions */
	ALLOW(G_BASE, fdatasync), ALLOW(G_BASE, fsync), ALLOW(G_BASE, fallocate),
	ALLOW(G_BASE, io_uring_enter),
	/* the control loop and the device threads */
	ALLOW(G_BASE, epoll_wait), ALLOW(G_BASE, epoll_pwait), ALLOW(G_BASE, epoll_ctl),
	ALLOW(G_BASE, poll), ALLOW(G_BASE, ppoll), ALLOW(G_BASE, pselect6),
	ALLOW(G_BASE, eventfd2), ALLOW(G_BASE, timerfd_settime), ALLOW(G_BASE, timerfd_gettime),
	/* sockets already open: control and console clients, the serial socket */
	ALLOW(G_BASE, accept4), ALLOW(G_BASE, accept), ALLOW(G_BASE, recvfrom),
	ALLOW(G_BASE, recvmsg), ALLOW(G_BASE, sendto), ALLOW(G_BASE, sendmsg),
	ALLOW(G_BASE, shutdown), ALLOW(G_BASE, getsockopt),
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
	FAIL_MASK0(G_BASE, openat, 2, O_CREAT, EACCES), FAIL(G_BASE, open, EACCES),

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
	/* the terminal (serial on stdio: raw mode and back) and TAP offloads the guest picks */
	IOCTL(G_KVM, TCGETS), IOCTL(G_KVM, TCSETS), IOCTL(G_KVM, TCSETSW), IOCTL(G_KVM, TCSETSF),
	IOCTL(G_KVM, TIOCGWINSZ), IOCTL(G_KVM, FIONREAD), IOCTL(G_KVM, FIONBIO),
	IOCTL(G_KVM, TUNSETOFFLOAD), IOCTL(G_KVM, TUNSETQUEUE), IOCTL(G_KVM, TUNSETVNETHDRSZ),

	/* --- state files written at run time: new files only (O_CREAT), renamed into place --- */
	ALLOW_MASKSET(G_STATE, openat, 2, O_CREAT), ALLOW(G_STATE, rename),
	ALLOW(G_STATE, renameat), ALLOW(G_STATE, renameat2), ALLOW(G_STATE, ftruncate),
	ALLOW(G_STATE, fchmod), ALLOW(G_STATE, unlinkat), ALLOW(G_STATE, unlink),
	ALLOW(G_STATE, access), ALLOW(G_STATE, faccessat), ALLOW(G_STATE, faccessat2),
	ALLOW(G_STATE, getcwd), ALLOW(G_STATE, readlink), ALLOW(G_STATE, readlinkat),

	/* --- user-mode networking: libslirp's sockets for the guest's flows --- */
	ALLOW_EQ(G_SLIRP, socket, 0, AF_INET), ALLOW_EQ(G_SLIRP, socket, 0, AF_INET6),
	ALLOW(G_SLIRP, connect), ALLOW(G_SLIRP, bind), ALLOW(G_SLIRP, listen),
	ALLOW(G_SLIRP, getsockname), ALLOW(G_SLIRP, getpeername), ALLOW(G_SLIRP, setsockopt),
};

bool sandbox_supported(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return false;
#else
	return true;
#endif
}

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
	}
	return seccomp_rule_add_array(ctx, action, r->nr, 1, &cmp);
}

int sandbox_load_filter(const struct sandbox_config *c)
{
	unsigned groups = G_BASE | G_KVM | G_STATE | (c->user_net ? G_SLIRP : 0);
	scmp_filter_ctx ctx;
	size_t i;
	int ret;

	ctx = seccomp_init(c->log_only ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		if (!(rules[i].groups & groups))
			continue;
		ret = add_rule(ctx, &rules[i]);
		if (ret < 0)
			goto out;
	}
	/* Signals only to this process's own threads (the vCPU kick). */
	ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
			       SCMP_A0(SCMP_CMP_EQ, (uint64_t)getpid()));
	if (ret < 0)
		goto out;
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (ret < 0)
		goto out;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		ret = -errno;
		goto out;
	}
	ret = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return ret;
}

int sandbox_drop_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	int cap;

	/* The bounding set needs CAP_SETPCAP: without it there is nothing to drop there. */
	for (cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
			break;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	return 0;
}

int sandbox_enter(const struct sandbox_config *c)
{
	int ret;

	if (c->run_as) {
		if (setgroups(0, NULL) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
		    setresuid(c->uid, c->uid, c->uid) < 0) {
			ret = -errno;
			vsrv_log("sandbox: cannot switch to uid %u gid %u: %s", (unsigned)c->uid,
				 (unsigned)c->gid, strerror(errno));
			return ret;
		}
	}
	if (c->parent_death_signal && prctl(PR_SET_PDEATHSIG, c->parent_death_signal) < 0) {
		ret = -errno;
		vsrv_log("sandbox: PR_SET_PDEATHSIG: %s", strerror(errno));
		return ret;
	}
	ret = sandbox_drop_caps();
	if (ret < 0) {
		vsrv_log("sandbox: cannot drop capabilities: %s", strerror(-ret));
		return ret;
	}
	if (!sandbox_supported())
		return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
	ret = sandbox_load_filter(c);
	if (ret < 0)
		vsrv_log("sandbox: cannot install the seccomp filter: %s", strerror(-ret));
	return ret;
}

const char *sandbox_death_reason(int signo)
{
	return signo == SIGSYS ? "a system call outside the sandbox's allow-list "
				 "(VSRV_SECCOMP_LOG=1 logs it instead, see README)" : NULL;
}
