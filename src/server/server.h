/* The virtual server daemon (`vsrv serve`): shared state and the request context that
 * every API handler receives. */
#ifndef VSRV_SERVER_SERVER_H
#define VSRV_SERVER_SERVER_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Permission bits, per object (server, vm, network, disk) and principal (user, group).
 * A grant on the server object applies to every object of every type. */
enum {
	PERM_VIEW = 1,
	PERM_CONTROL = 2,           /* start, stop, reset, pause, console */
	PERM_MODIFY = 4,            /* edit; on the server: create objects */
	PERM_REMOVE = 8,
	PERM_CHANGE_PERMS = 16,
	PERM_FULL = 31,
	/* The guest agent's commands that reach into the guest (exec, files, passwords): not
	 * part of "full"; administrators hold it, others only by a grant naming it. */
	PERM_GUEST_AGENT = 32,
};

struct db;
struct dbc;
struct supervisor;
struct events;
struct metrics;
struct hooks;
struct throttle;
struct imgstore;
struct agent_svc;
struct cluster;
struct inv_quota;

struct server {
	char *data_dir;
	char *vmm_path;             /* the `vsrv` binary that runs VMs (`vsrv run`) */
	char *run_as;               /* the user VMs run as (`vsrv run --run-as`), or NULL */
	char *openapi;              /* docs/api.yaml's text, served at /api/v1/openapi.yaml */
	size_t openapi_len;
	struct db *db;
	struct supervisor *sup;
	struct events *ev;
	struct metrics *metrics;
	struct hooks *hooks;
	struct throttle *throttle;  /* failed logins per user and address */
	struct agent_svc *agent;    /* the guest agents of running VMs (agent.h) */
	struct cluster *cluster;    /* `--cluster`: membership on etcd (cluster.h); NULL alone */
	unsigned token_ttl;         /* seconds */
	unsigned shutdown_timeout;  /* seconds before `shutdown` turns the VM off */
	uint64_t host_mem_mib;      /* what admission control may hand out */
	unsigned host_cpus;
	double disk_overcommit;     /* space.h; 0: disks are not checked against free space */
	char images_dir[4096];      /* where relative kernel/disk paths live */
	struct imgstore *images;    /* the image store of images_dir (imgstore.h) */
	/* `--default-quota`: the quota a user created through the API gets (quota.h), NULL:
	 * none (unlimited until an administrator sets one) */
	const struct inv_quota *default_quota;
	/* a live snapshot's wait for the VMM's disk-switch, ms (0: SNAPLIVE_SWITCH_MS) */
	int snaplive_switch_ms;
	/* how long a live snapshot's claim lasts at most, s (0: snaplive_claim_ttl's bound) */
	int snaplive_claim_s;
	atomic_bool stopping;
};

/* Who is calling: resolved once per request by the HTTP layer. */
struct caller {
	bool authenticated;
	bool admin;
	int64_t user_id;            /* 0 when not a server user */
	char name[64];
	bool local;                 /* came through the Unix socket */
	bool cookie;                /* by the session cookie (WebSocket routes only, api.h) */
	char host[64];              /* a cluster host with its credential (ROUTE_PEER only):
	                             * its name; name is then the user it acts for (X-Vsrv-By) */
};

/* One request, as handlers see it. The handler sets status and body (a JSON value the
 * HTTP layer serialises and frees) or a raw text body. */
struct req {
	struct server *srv;
	struct dbc *c;              /* a pooled connection, held for the request */
	struct caller who;
	const char *method;
	const char *path;
	const char *args[4];        /* the {name} segments the route matched */
	json_t *body;               /* parsed request body, or NULL when empty */
	void *conn;                 /* struct MHD_Connection *, for query arguments */
	/* response */
	int status;
	json_t *out;
	char *text;                 /* owned; served when out is NULL */
	size_t text_len;
	const char *content_type;
	unsigned retry_after;       /* seconds; sent as Retry-After when not 0 */
	char *set_cookie;           /* owned; sent as Set-Cookie with a JSON answer */
	/* A WebSocket route's handler that accepts the upgrade sets upgrade and the stream
	 * socket (taken) the HTTP layer bridges the client to (ws.h). */
	bool upgrade;
	int upgrade_fd;
	/* streaming responses (SSE, console): set by the handler, run by the HTTP layer. The
	 * stream function never blocks: 0 with *n bytes, 1 when nothing is ready yet (the
	 * connection is then parked until an event or 250 ms later), -1 at the end. */
	int (*stream)(struct req *r, char *buf, size_t max, uint64_t pos, ssize_t *n);
	struct req *park_next;      /* HTTP layer: its list of parked streams or requests */
	bool park_on, park_woken;   /* HTTP layer: in that list; req_unpark'd while out of it */
	unsigned park_wakes;        /* HTTP layer: how often resume ran again (VSRV_PARK_TRACE) */
	/* A handler that cannot go on without waiting (sup_start_trylock) sets resume and
	 * returns with no answer: the HTTP layer parks the request, never holding one of its
	 * threads, and calls resume (r->c and r->args as for the handler) once req_unpark
	 * resumes it (nothing else does but the server's stop: then 503; nor when its client
	 * has gone meanwhile: then nothing is done); resume answers, or sets resume again. resume_free, when set, is called once the request has its answer, or has
	 * ended without one (the client went away, the server stops: then 503); it owns
	 * resume_state. resume_must (the handler's): what resume does ends what the handler
	 * has done (a snapshot's start after its revert or save): it runs even once the
	 * client has gone. */
	int (*resume)(struct req *r);
	bool resume_must;
	void (*resume_free)(struct req *r);
	void *resume_state;
	void (*stream_free)(void *state);
	void *stream_state;
	/* Streamed request bodies (routes with ROUTE_UPLOAD, api.h): the handler runs when the
	 * headers have arrived, before the body (r->body is NULL). To take the body it sets
	 * upload_data, called with each piece as it arrives on one of the HTTP threads (0, or
	 * -1 once it has set an error answer with req_error: the rest of the body is then
	 * read and dropped), and upload_end, called with r->c when the body is whole to set
	 * the answer. upload_free is called last in every case, also when the client went
	 * away mid-body. A handler that sets no upload_data answers at once (an error). r->args
	 * are valid during the handler's own call only: keep what the callbacks need. */
	int (*upload_data)(struct req *r, const char *buf, size_t n);
	void (*upload_end)(struct req *r);
	void (*upload_free)(struct req *r);
	void *upload_state;
};

/* Set an error response from a -errno value and a message (printf-style). Returns the
 * status it chose, so handlers can `return req_error(r, -EINVAL, "...")`. */
int req_error(struct req *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* No host path reaches a non-administrator: in every string of v (an answer or an event,
 * changed in place), the data directory's path (DATA/images, DATA/disks... below it) reads
 * "DATA", whatever message carried it (a file's error, a VHD library's). For callers that
 * are not administrators (the answers of http.c and the event stream call it). */
void http_scrub_paths(const struct server *srv, json_t *v);

/* The client's address as text (an IPv6 address cut to its /64), for throttling. 0, or
 * -ENOENT for a client of the Unix socket. */
int req_client_addr(struct req *r, char *out, size_t n);

/* Resume parked request r (its resume is called soon, on one of the HTTP threads); when r
 * is not parked yet, its next park returns at once. Any thread; never waits. */
void req_unpark(struct req *r);

/* A query argument or a header of the request, or NULL. */
const char *req_query(struct req *r, const char *key);
const char *req_header(struct req *r, const char *key);

/* Start the HTTP side. Returns 0 or -errno. */
struct http_config {
	const char *socket_path;    /* NULL: no Unix socket */
	const char *listen;         /* "HOST:PORT"; NULL: no TCP */
	const char *tls_cert;       /* PEM files; both or neither */
	const char *tls_key;
	unsigned max_conns;         /* TCP connections in all (0: 1000) */
	unsigned max_per_addr;      /* TCP connections from one address (0: no limit) */
	unsigned request_timeout;   /* seconds for a TCP request to arrive whole (0: 10) */
};
struct http;
int http_start(struct server *srv, const struct http_config *cfg, struct http **out);
void http_stop(struct http *h);

#endif
