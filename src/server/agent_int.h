/* The guest agent service's insides, shared by agent.c (the thread, the callers' side) and
 * agent_conn.c (one agent socket's connection). Not for other modules: see agent.h. */
#ifndef VSRV_SERVER_AGENT_INT_H
#define VSRV_SERVER_AGENT_INT_H

#include "server/agent_proto.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define PATH_MAX_UN      108
#define SYNC_MAX_S       5.0     /* a resynchronisation not answered by then: reconnect */
#define RETRY_S          0.5     /* between two connection attempts while commands wait */
#define IDLE_CLOSE_S     10.0    /* an unwatched connection with nothing to do is closed */
#define INFO_EVERY_S     60.0    /* OS, host name, interfaces, users: refreshed this often */
#define INNER_TIMEOUT_MS 5000
#define READ_CHUNK       65536
#define READS_PER_ROUND  4       /* a flooding agent leaves the others their turn */
#define JUNK_MAX         (4u << 20) /* bytes that answered nothing: the agent floods */
#define FLOOD_BACKOFF_S  10.0    /* then its connection is closed this long */
#define QUEUE_MAX        16      /* commands waiting for one agent */

enum msg_kind { M_CALL, M_WATCH, M_UNWATCH, M_STATUS };
/* What the heartbeat asked (its answer updates the connection's status). */
enum inner { I_NONE, I_PING, I_OSINFO, I_HOSTNAME, I_IFS, I_USERS };

/* A message to the thread. The caller fills it and waits for done (or detaches it: the
 * thread frees it); the thread writes the answer, then done, under the service's lock. */
struct msg {
	struct msg *next;
	enum msg_kind kind;
	enum inner inner;
	char path[PATH_MAX_UN];
	char name[64];
	char cmd[AGENT_CMD_MAX];
	json_t *args;
	int flags;
	int timeout_ms;
	unsigned interval_ms;
	bool detached;
	double deadline;        /* the thread's, from its arrival */
	bool done;
	int rc;
	json_t *ret;
	char err[256];
};

enum cstate { C_CLOSED, C_NEED_SYNC, C_SYNCING, C_READY, C_BUSY, C_GRACE };

/* One agent socket. Owned by the thread alone. */
struct conn {
	struct conn *next;
	char path[PATH_MAX_UN];
	char name[64];
	int fd;
	enum cstate st;
	struct agent_rx rx;
	int64_t sync_id, cur_id;
	double sync_deadline, grace_end, retry_at, idle_since;
	struct msg *cur;        /* the command in flight */
	struct msg *q;          /* waiting, in order */
	char *out;              /* bytes not yet sent */
	size_t out_len, out_off;
	bool watched;
	unsigned interval_ms;
	double next_ping, next_info;
	int inner_pending;
	bool responding, ever;
	double last_seen;       /* wall clock */
	json_t *os, *hostname, *ifs, *users;
	uint64_t stray;         /* lines dropped: garbage, other ids */
	uint64_t junk;          /* bytes read since the last line that answered something */
};

struct agent_svc {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t done;
	struct msg *inbox;
	struct msg **inbox_tail;
	bool stop;
	int wake;               /* eventfd */
	struct conn *conns;     /* the thread's */
	int64_t next_id;
};

/* Answer m (ret is stolen; fmt: the error's text). A detached message is freed (its
 * failure logged). Thread only. */
void agent_complete(struct agent_svc *s, struct msg *m, int rc, json_t *ret, const char *fmt,
		    ...) __attribute__((format(printf, 5, 6)));

/* A random id in [1, 2^31]. */
int64_t agent_random_id(void);

/* The connections (agent_conn.c; thread only). */
struct conn *agent_conn_find(struct agent_svc *s, const char *path, bool create);
void agent_conn_step(struct agent_svc *s, struct conn *c, double now);
double agent_conn_next(const struct conn *c, double now);
void agent_conn_flush(struct agent_svc *s, struct conn *c);
void agent_conn_read(struct agent_svc *s, struct conn *c);
void agent_conn_free(struct agent_svc *s, struct conn *c, const char *why);
json_t *agent_conn_status(const struct conn *c);

#endif
