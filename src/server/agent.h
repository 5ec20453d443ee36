/* The guest agent service: the host's side of the QEMU guest agent protocol (qemu-ga, in
 * the guest) over a stream socket given by its path. For a running VM that is the Unix
 * socket its VMM makes for the virtio-console port org.qemu.guest_agent.0 (agent_path);
 * any socket where an agent listens will do (the tests use a real `qemu-ga -m unix-listen`).
 *
 * One thread owns every connection and all that is known of each agent; it never blocks
 * (non-blocking sockets, poll). Callers talk to it through a queue of messages: a call waits
 * for its own message to be answered (by the thread, at the latest at the call's deadline),
 * never for a guest. Per socket: one connection, resynchronised (0xFF and
 * guest-sync-delimited with a random id) after it is made and after any timeout, one command
 * in flight, replies matched by their id (a reply without an id is taken as the answer, a
 * reply for another id or anything that is not a reply is dropped), lines longer than
 * AGENT_LINE_MAX dropped.
 *
 * Watched sockets get a heartbeat (guest-ping every interval): their status is
 * "responding" (the last ping was answered), "not responding" (it was not, but one was
 * answered since the watch began) or "absent" (none was); and, while responding, what the
 * agent says of the guest (OS, host name, network interfaces, users) refreshed every minute. */
#ifndef VSRV_SERVER_AGENT_H
#define VSRV_SERVER_AGENT_H

#include <jansson.h>
#include <stddef.h>

struct agent_svc;

/* Errors of agent_call besides -errno of the socket (-ENOENT, -ECONNREFUSED: no agent
 * socket there; -ECONNRESET: it went away): -ETIMEDOUT (no answer in time), -EREMOTEIO
 * (the agent answered with an error: its class and description in err), -EINVAL (an
 * invalid command or arguments), -ECANCELED (the service is ending or the socket was
 * unwatched), -EBUSY (QUEUE_MAX commands already wait for that agent), -EPROTO (the agent
 * flooded its socket with bytes that answered nothing: its connection is closed for a
 * while). */

/* Start the service and its thread. 0 and *out (end with agent_svc_destroy), or -errno. */
int agent_svc_create(struct agent_svc **out);

/* Stop the thread, fail what is pending with -ECANCELED, close every connection, free s.
 * NULL is allowed. No call may be running or start. */
void agent_svc_destroy(struct agent_svc *s);

/* The socket of VM directory dir's agent port: dir/agent.sock into buf. 0 or
 * -ENAMETOOLONG (a Unix socket path is at most 107 bytes). */
int agent_path(const char *dir, char *buf, size_t n);

enum agent_flags {
	AGENT_NO_REPLY = 1,     /* the agent answers only failures (guest-shutdown): success is
				 * said once the command is sent and no error came within a
				 * short while (AGENT_NO_REPLY_GRACE_MS) */
};
#define AGENT_NO_REPLY_GRACE_MS 2000

/* Run cmd with args (borrowed; NULL: none) on the agent at path, waiting up to timeout_ms
 * (the connection and its resynchronisation included). Returns 0 and *ret (a new reference;
 * json null for AGENT_NO_REPLY), or an error above with err (may be NULL) saying what
 * happened. */
int agent_call(struct agent_svc *s, const char *path, const char *cmd, json_t *args,
	       int flags, int timeout_ms, json_t **ret, char *err, size_t errlen);

/* The same without waiting: the result is logged (name says whose agent) if it fails. */
void agent_post(struct agent_svc *s, const char *path, const char *name, const char *cmd,
		json_t *args, int flags, int timeout_ms);

/* Give the agent at path a heartbeat every interval_ms (and keep its connection), or change
 * the interval of one already watched. name (copied) names it in the log. */
void agent_watch(struct agent_svc *s, const char *path, const char *name, unsigned interval_ms);

/* Stop watching path, close its connection and fail its pending commands (-ECANCELED). */
void agent_unwatch(struct agent_svc *s, const char *path);

/* What is known of the agent at path: a new object {status, last_seen (Unix seconds of the
 * last answer, or null), os, hostname, interfaces, users (null until known)}; an unwatched
 * path is "absent". NULL only without memory. */
json_t *agent_status(struct agent_svc *s, const char *path);

#endif
