/* A VM's guest agent: the agent service (agent.h) on the socket of the VM's agent port,
 * DIR/agent.sock in its runtime directory (the VMM makes it for the virtio-console port
 * org.qemu.guest_agent.0). What the handlers and the supervisor use. */
#ifndef VSRV_SERVER_VMAGENT_H
#define VSRV_SERVER_VMAGENT_H

#include "server/server.h"

#include <stddef.h>

#define VMAGENT_PING_MS     10000   /* the heartbeat of a running VM's agent */
#define VMAGENT_SHUTDOWN_MS 5000    /* guest-shutdown: connect, resync, send */

/* VM id's agent socket into buf: 0 or -ENAMETOOLONG. */
int vmagent_path(struct server *srv, int64_t id, char *buf, size_t n);

/* Start (or keep) the heartbeat of running VM id (name for the log). */
void vmagent_watch(struct server *srv, int64_t id, const char *name);

/* Stop it: the VM ended. */
void vmagent_unwatch(struct server *srv, int64_t id);

/* VM id's agent as the API shows it (agent_status), a new reference: watched while state
 * is running or paused, {"status": "absent", ...} otherwise. */
json_t *vmagent_json(struct server *srv, int64_t id, const char *name, const char *state);

/* Run cmd (args borrowed) on VM id's agent: agent_call's contract. */
int vmagent_call(struct server *srv, int64_t id, const char *cmd, json_t *args, int flags,
		 int timeout_ms, json_t **ret, char *err, size_t errlen);

/* Ask VM id's guest to power off through its agent, when its heartbeat says it responds.
 * 0 when the agent took the command (why is emptied), else -errno with why (the agent's status or its
 * error) for the event that says the ACPI fallback. */
int vmagent_shutdown(struct server *srv, int64_t id, char *why, size_t n);

/* Set VM id's guest clock to the host's (after a resume: the guest's clock stood still),
 * without waiting, when its agent was seen since the VM started; a failure is logged. */
void vmagent_set_time(struct server *srv, int64_t id, const char *name);

#endif
