/* Inside the etcd client (etcd*.c): the transport and the codec the calls share. */
#ifndef VSRV_SERVER_ETCD_INT_H
#define VSRV_SERVER_ETCD_INT_H

#include "server/etcd.h"

#include <pthread.h>
#include <stdatomic.h>

#define ETCD_MAX_EP 16
#define ETCD_COUNTERS 8
#define ETCD_POOL 8             /* idle curl handles kept, each with its connections */

struct etcd {
	char *list;                 /* the endpoints as given */
	char *ep[ETCD_MAX_EP];      /* each without a trailing slash */
	int nep;
	atomic_int cur;             /* the member that answered last (the leader once known) */
	atomic_llong leader_next;   /* when to look for the leader next (ms, CLOCK_MONOTONIC;
				     * 0: at the next call; -1: being looked for) */
	unsigned timeout_ms;
	pthread_mutex_t counter_mu; /* guards counter */
	struct etcd_counter {       /* a counter's value and revision as last seen: a hint */
		char *key;          /* NULL: a free slot */
		int64_t value, rev;
	} counter[ETCD_COUNTERS];
	pthread_mutex_t pool_mu;    /* guards pool */
	void *pool[ETCD_POOL];      /* idle curl handles (CURL *): their connections stay open
				     * for the next call (HTTP keep-alive) */
	int npool;
	unsigned page;              /* keys per answer of a range read (etcd_page) */
};

/* A counter's last seen value and mod_revision (a hint for the next compare-and-swap,
 * never an answer: the swap's compare checks it): true and *value, *rev, or false. */
bool etcd_counter_hint(struct etcd *e, const char *key, int64_t *value, int64_t *rev);
/* Remember key's value and revision (rev 0: forget it). */
void etcd_counter_seen(struct etcd *e, const char *key, int64_t value, int64_t rev);

/* Set this thread's error text (printf-style) and return err. */
int etcd_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A JSON string of the base64 of len bytes at p (NULL on allocation failure). */
json_t *etcd_b64(const void *p, size_t len);
/* A JSON string of the base64 of the NUL-terminated s. */
json_t *etcd_b64s(const char *s);
/* The key just after every key starting with prefix (etcd's range_end for a prefix). */
json_t *etcd_prefix_end(const char *prefix);

/* etcd_call (etcd.h) of req, which it takes (json_decref'd; NULL, a failed json_pack:
 * -ENOMEM). The same answers. */
int etcd_call_req(struct etcd *e, const char *path, json_t *req, json_t **ans);

/* A Txn's range request of r (NULL: ENOMEM), a prefix's at most page keys (0: no limit),
 * and its answer (a Txn's response) into *out (etcd_kvs_clear it): 0, -EIO or -ENOMEM
 * (nothing to free). etcd_range_rest: the keys of r's prefix past those of resp (a first
 * page, etcd_range_resp's out), when it said there were more, appended to out, read at
 * rev (the revision of resp's answer): 0 or -errno (out cleared then). */
json_t *etcd_range_op(const struct etcd_read *r, unsigned page);
int etcd_range_resp(json_t *resp, struct etcd_kvs *out);
int etcd_range_rest(struct etcd *e, const struct etcd_read *r, json_t *resp, int64_t rev,
		    struct etcd_kvs *out);

/* A 64-bit number of an answer (a JSON string or a number; 0 when absent). */
int64_t etcd_num(json_t *o, const char *field);

/* An answer's kv object into *kv (owned copies). 0, -EIO (not base64) or -ENOMEM. */
int etcd_kv_parse(json_t *o, struct etcd_kv *kv);

/* The streaming side of a call: a sink gets the answer's bytes as they come; it returns
 * 0 to go on, non-zero to stop the transfer (that value is then the call's result). */
typedef int (*etcd_sink)(const char *buf, size_t n, void *arg);

/* POST body to member idx's path, each piece of the answer to sink, within timeout_ms.
 * 0 with *http the status; a transfer the sink stopped returns the sink's value; curl's
 * failures as -errno (etcd_fail set). */
int etcd_post(struct etcd *e, int idx, const char *path, const char *body, unsigned timeout_ms,
	      etcd_sink sink, void *arg, long *http);

/* etcd's error answer ({"code": gRPC code, "message": ...}) as -errno (etcd_fail set);
 * *retry: another member may do better. */
int etcd_error(struct etcd *e, int idx, long http, json_t *ans, bool *retry);

#endif
