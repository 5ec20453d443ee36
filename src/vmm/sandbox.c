/* The VMM's sandbox: capabilities, no_new_privs and the seccomp allow-list. See sandbox.h.
 * The allow-list itself is src/vmm/sandbox_rules.c, compiled into BPF at build time
 * (sandbox_bpf.h, generated); here it is only patched (the pid, log mode) and loaded. */
#include "vmm/sandbox.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox_bpf.h" /* generated from sandbox_rules.c */
#include "util/log.h"

bool sandbox_supported(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return false;
#else
	return true;
#endif
}

/* Copy prog, put pid where the generator left SANDBOX_PID_MAGIC and, with log_only, make
 * every "kill" a "log". Returns the number of pid slots patched. */
static unsigned patch(struct sock_filter *out, const struct sock_filter *prog, size_t n,
		      uint32_t pid, bool log_only)
{
	unsigned slots = 0;

	for (size_t i = 0; i < n; i++) {
		out[i] = prog[i];
		if (out[i].code == (BPF_JMP | BPF_JEQ | BPF_K) && out[i].k == SANDBOX_PID_MAGIC) {
			out[i].k = pid;
			slots++;
		}
		if (log_only && out[i].code == (BPF_RET | BPF_K) &&
		    out[i].k == SECCOMP_RET_KILL_PROCESS)
			out[i].k = SECCOMP_RET_LOG;
	}
	return slots;
}

int sandbox_load_filter(const struct sandbox_config *c)
{
#define PROG(p) { p, sizeof(p) / sizeof(p[0]) }
	static const struct { const struct sock_filter *prog; size_t n; } progs[2][2][2] = {
		{ { PROG(sandbox_bpf_base), PROG(sandbox_bpf_media) },
		  { PROG(sandbox_bpf_migrate), PROG(sandbox_bpf_migrate_media) } },
		{ { PROG(sandbox_bpf_user_net), PROG(sandbox_bpf_user_net_media) },
		  { PROG(sandbox_bpf_user_net_migrate), PROG(sandbox_bpf_user_net_migrate_media) } },
	};
#undef PROG
	const struct sock_filter *prog = progs[c->user_net][c->migrate][c->media].prog;
	size_t n = progs[c->user_net][c->migrate][c->media].n;
	struct sock_fprog fp = { .len = (unsigned short)n };
	long r;
	int ret = 0;

	fp.filter = malloc(n * sizeof(*fp.filter));
	if (!fp.filter)
		return -ENOMEM;
	if (patch(fp.filter, prog, n, (uint32_t)getpid(), c->log_only) == 0) {
		ret = -EINVAL; /* the generator's program lost its pid check */
		goto out;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		ret = -errno;
		goto out;
	}
	/* TSYNC: every thread of the process, the device threads already running included;
	 * a positive result names a thread that could not take it. */
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fp);
	if (r != 0)
		ret = r < 0 ? -errno : -EBUSY;
out:
	free(fp.filter);
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
	if (c->parent_death_signal && c->parent && getppid() != c->parent) {
		vsrv_log("sandbox: the parent process ended while the VM was built");
		return -ESRCH;
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
