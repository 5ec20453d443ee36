/* The VMM's sandbox: what `vsrv run` gives up once the VM is built and before its first
 * vCPU runs. sandbox_enter drops every capability, sets PR_SET_NO_NEW_PRIVS and installs a
 * seccomp allow-list (libseccomp) on every thread of the process (TSYNC): a system call
 * outside it kills the whole process (SIGSYS), except opening an existing file without
 * O_CREAT, which fails with EACCES (libraries probe files at run time: libslirp's
 * /etc/resolv.conf), or succeeds read-only in a VMM with a CD/DVD drive (media changes). New files may be created (O_CREAT | O_EXCL) and renamed, for state
 * files written at run time. The list lives in one table in sandbox_rules.c, in groups (base, KVM
 * ioctls, state files, user-mode networking), compiled into BPF at build time; extend it there.
 *
 * Threads: sandbox_enter may be called from any thread, once per process; it is
 * irreversible. The rest are pure functions. */
#ifndef VSRV_VMM_SANDBOX_H
#define VSRV_VMM_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

/* What the VMM was built with, which decides the extra groups of the allow-list. */
struct sandbox_config {
	bool user_net;   /* --net user: libslirp opens host sockets for the guest's flows */
	bool migrate;    /* --control: its `migrate` command opens a socket to the destination
			  * and logs dirty pages */
	bool media;      /* a CD/DVD drive: the control socket's `media` command opens images
			  * (existing files, read-only; writing still fails with EACCES); also for
			  * --net user,tftp=DIR (libslirp's TFTP server opens the files asked for) */
	bool log_only;   /* debugging: log (SCMP_ACT_LOG) instead of killing (VSRV_SECCOMP_LOG=1) */
	/* --run-as: switch to this user and group (and supplementary groups: none) before the
	 * capabilities go; uid 0 with run_as false keeps the current ids. */
	bool run_as;
	uid_t uid;
	gid_t gid;
	/* PR_SET_PDEATHSIG to (re)arm after the user switch (which clears it), or 0; with
	 * parent set, a parent that died before it was re-armed fails sandbox_enter (-ESRCH). */
	int parent_death_signal;
	pid_t parent;
};

/* Whether this build can install the filter. Sanitizer builds (ASan/UBSan) cannot: their
 * runtime needs system calls at unpredictable points (reports, leak checks at exit). */
bool sandbox_supported(void);

/* Switch user (when c->run_as), drop all capabilities (effective, permitted, inheritable,
 * ambient and, with CAP_SETPCAP, the bounding set), set PR_SET_NO_NEW_PRIVS, then load the
 * seccomp filter on all threads (not in sanitizer builds: all but the filter). Every fd
 * and mapping the VMM needs must exist already.
 * Returns 0 or -errno after logging what failed (the process may then be half-sandboxed:
 * the caller must not run the guest). */
int sandbox_enter(const struct sandbox_config *c);

/* Only the seccomp part of sandbox_enter (with PR_SET_NO_NEW_PRIVS, which it requires):
 * for tests, which load it in a forked child. Returns 0 or -errno (not logged). */
int sandbox_load_filter(const struct sandbox_config *c);

/* Only the capability part of sandbox_enter. Returns 0 or -errno (not logged). */
int sandbox_drop_caps(void);

/* A one-line explanation of how a sandboxed VMM died, for the supervisor's log: "a system
 * call outside the sandbox's allow-list" for SIGSYS, else NULL. */
const char *sandbox_death_reason(int signo);

#endif
