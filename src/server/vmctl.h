/* The server's side of a VMM's control socket (src/vmm/control.h): DIR/control.sock in the
 * VM's runtime directory, where `vsrv run --control` listens. */
#ifndef VSRV_SERVER_VMCTL_H
#define VSRV_SERVER_VMCTL_H

#include "server/server.h"

/* The socket's path for VM id, into buf. 0 or -ENAMETOOLONG (a Unix socket path is at most
 * 107 bytes: the data directory must be short enough). */
int vmctl_path(struct server *srv, int64_t id, char *buf, size_t n);

/* Send {"cmd": cmd} to VM id's VMM and wait up to timeout_ms for its reply. Returns 0 and
 * *reply (a new reference; its "ok" is true), -EPROTO with *reply set when the VMM answered
 * {"ok":false,"error":...}, -ENOENT/-ECONNREFUSED when no VMM listens (not running, or
 * started by an older vsrv without a control socket), -ETIMEDOUT, or -errno. */
int vmctl_call(struct server *srv, int64_t id, const char *cmd, int timeout_ms, json_t **reply);

/* Send the command msg (an object with "cmd" and its arguments, the caller's) to VM id's
 * VMM and wait for its reply, as vmctl_call. */
int vmctl_send(struct server *srv, int64_t id, const json_t *msg, int timeout_ms, json_t **reply);

/* vmctl_send with the descriptors fds (nfds, at most FDPASS_MAX) passed with the command
 * (SCM_RIGHTS: a disk-switch's new tops, vmm/control.h); they stay the caller's. *sent
 * (when sent is not NULL) as fdpass_call's: false, the VMM got nothing (whatever the error);
 * true, an error other than its own answer (-EPROTO with *reply) leaves unknown whether it
 * acted on the command. */
int vmctl_send_fds(struct server *srv, int64_t id, const json_t *msg, const int *fds,
		   unsigned nfds, int timeout_ms, json_t **reply, bool *sent);

/* The VMM's "stats" reply for VM id whose VMM is pid, cached for a second: a status or
 * /metrics request reads the cache, and a VM's socket sees at most about one stats call per
 * second whatever the request rate (while one caller refreshes an entry, others get the
 * previous reply). Returns 0 and *reply (a new reference) or vmctl_call's error. */
int vmctl_stats(struct server *srv, int64_t id, pid_t pid, json_t **reply);

/* Forget the cached stats of VM id (its state changed: pause, resume, stop). */
void vmctl_stats_forget(int64_t id);

#endif
