/* The QEMU guest agent's wire protocol, the host's side, without I/O (agent.c does that):
 * requests, the reader that splits the agent's output into lines (with the 0xFF that
 * guest-sync-delimited puts before its reply), the reply parser and the summaries of the
 * agent's answers that the API shows. Everything here takes hostile input: the agent runs in
 * the guest. */
#ifndef VSRV_SERVER_AGENT_PROTO_H
#define VSRV_SERVER_AGENT_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_LINE_MAX   (1u << 20)   /* a longer reply line is dropped (up to its '\n') */
#define AGENT_CMD_MAX    64           /* a command's name */

/* The reader of the agent's output. */
struct agent_rx {
	char *buf;              /* the current line so far (owned) */
	size_t len, cap;
	bool await_ff;          /* discard everything up to the next 0xFF (resynchronising) */
	bool overlong;          /* the current line passed AGENT_LINE_MAX: dropped up to '\n' */
	uint64_t dropped;       /* lines dropped for their length */
};

/* A reader in its initial state (not awaiting a 0xFF). End with agent_rx_free. */
void agent_rx_init(struct agent_rx *rx);
void agent_rx_free(struct agent_rx *rx);

/* Discard what was read so far and everything up to the next 0xFF (after sending 0xFF and
 * guest-sync-delimited: the agent puts a 0xFF before its reply). */
void agent_rx_resync(struct agent_rx *rx);

/* Take n bytes of the agent's output: line(arg, s, len) is called for each complete line
 * (without its '\n', NUL-terminated, owned by rx and valid during the call; empty lines are
 * skipped). A 0xFF starts a new line wherever it is. Returns 0, or -ENOMEM (the line being
 * read is dropped). */
int agent_rx_feed(struct agent_rx *rx, const char *p, size_t n,
		  void (*line)(void *arg, const char *s, size_t len), void *arg);

/* One reply of the agent. */
struct agent_reply {
	json_t *ret;            /* "return": a new reference (NULL for an error reply) */
	bool is_error;          /* {"error": {"class", "desc"}} */
	char err_class[64];
	char err_desc[256];
	bool has_id;            /* the reply names a request ("id") */
	bool id_int;            /* and that id is an integer: id */
	int64_t id;
};

/* Parse one line: 0 and *r (clear it with agent_reply_clear), or -EPROTO for anything but
 * a JSON object with exactly one of "return" and "error" (an error being an object), and
 * at most an "id" besides (duplicate keys are refused). */
int agent_reply_parse(const char *s, size_t len, struct agent_reply *r);
void agent_reply_clear(struct agent_reply *r);

/* true for a command name the protocol can carry: "guest-" and then [a-z0-9-], at most
 * AGENT_CMD_MAX - 1 bytes. */
bool agent_cmd_valid(const char *cmd);

/* The request line {"execute": cmd, "arguments": args (borrowed; NULL: none), "id": id}
 * and its '\n': a malloc'ed string (free it) and *len, or NULL (no memory, invalid cmd). */
char *agent_request(const char *cmd, json_t *args, int64_t id, size_t *len);

/* The resynchronisation: 0xFF then guest-sync-delimited with id, and its '\n'. The agent
 * answers 0xFF then {"return": id}. Malloc'ed (free it) with *len, or NULL. */
char *agent_sync_request(int64_t id, size_t *len);

/* Whether reply r is the sync reply for id. */
bool agent_sync_match(const struct agent_reply *r, int64_t id);

/* The API's views of the agent's answers (new references, NULL when ret is not what the
 * command answers): guest-get-osinfo -> {name, pretty_name, version, id, kernel_release,
 * machine}; guest-get-host-name -> a string; guest-network-get-interfaces -> [{name,
 * hardware_address, ip_addresses: [{type, address, prefix}]}] (at most 64 interfaces and
 * 64 addresses each); guest-get-users -> [{user, domain, login_time}] (at most 256). Strings
 * are bounded (255 bytes; longer ones are null) with control characters made '?' (they go
 * to terminals and logs); the error reply's class and description too. */
json_t *agent_view_osinfo(json_t *ret);
json_t *agent_view_hostname(json_t *ret);
json_t *agent_view_interfaces(json_t *ret);
json_t *agent_view_users(json_t *ret);

#endif
