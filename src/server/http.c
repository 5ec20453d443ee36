/* The HTTP side: libmicrohttpd daemons on the Unix socket and on TCP (TLS when given a
 * certificate), request bodies, caller identity, routing and JSON responses. */
#include "server/api.h"
#include "server/conntrack.h"
#include "server/inv.h"
#include "server/events.h"
#include "server/auth.h"
#include "server/cluster.h"
#include "server/etcd.h"
#include "server/http_listen.h"
#include "server/http_park.h"
#include "server/http_upload.h"
#include "server/metrics.h"
#include "server/web.h"
#include "server/ws.h"
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <microhttpd.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX (64 * 1024)

/* libmicrohttpd speaks TLS through GnuTLS: TLS 1.2 and 1.3 only, forward-secret key
 * exchange (ECDHE) and AEAD ciphers only (no CBC, no SHA-1 MACs, no static RSA). */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:" \
		       "+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:" \
		       "+ECDHE-RSA:%SERVER_PRECEDENCE"

struct http {
	struct server *srv;
	struct MHD_Daemon *unix_d, *tcp_d;
	char *socket_path;
	char *cert, *key;
	pthread_t waker;
	bool waker_on;
	struct conntrack *ct;       /* deadlines on the TCP listener */
};

/* Per-request state kept by MHD between calls of the access handler. */
struct ctx {
	char *body;
	size_t len;
	bool too_big;
	struct timespec t0;
	struct upload *up;       /* a ROUTE_UPLOAD request (http_upload.h) */
	int up_idx;              /* its route */
	struct req *held;        /* a parked request, until it runs again (struct req's resume) */
	int held_idx;            /* its route */
};

/* Which listener a daemon serves; passed as the access handler's closure. */
struct listener {
	struct server *srv;
	bool local;
};
static struct listener unix_l, tcp_l;

/* The traces (stderr, per request), read from the environment once, by http_start:
 * VSRV_ETCD_TRACE its etcd calls, VSRV_INV_TRACE its inventory statements,
 * VSRV_PARK_TRACE each park of a request and how often it was woken (park_wakes). */
static bool trace_etcd, trace_inv, trace_park;

static bool env_on(const char *name)
{
	const char *e = getenv(name);

	return e && strcmp(e, "0");
}

static const char *err_code(int status)
{
	switch (status) {
	case 400: return "bad_request";
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 404: return "not_found";
	case 405: return "method_not_allowed";
	case 409: return "conflict";
	case 413: return "too_large";
	case 429: return "too_many_requests";
	case 507: return "insufficient_storage";
	case 503: return "unavailable";
	case 502: return "bad_gateway";       /* a guest agent's error */
	case 504: return "gateway_timeout";   /* a guest agent that did not answer */
	default: return "internal";
	}
}

static int err_status(int err)
{
	switch (err) {
	case -ENOENT: return 404;
	case -EEXIST: case -EBUSY: return 409;
	case -ENOSPC: return 409;       /* admission control: not enough left */
	case -EINVAL: case -ERANGE: case -ENAMETOOLONG: return 400;
	case -EACCES: case -EPERM: case -EDQUOT: return 403;
	case -E2BIG: return 413;
	default: return 500;
	}
}

int req_error(struct req *r, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int status = err > 0 ? err : err_status(err);
	const char *code = err == -ENOSPC ? "insufficient_resources" :
			   err == -EDQUOT ? "quota_exceeded" : err_code(status);

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(r->out);
	r->out = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
	r->status = status;
	return status;
}

int req_client_addr(struct req *r, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	struct in6_addr a6;

	if (!sa || r->who.local)
		return -ENOENT;
	if (sa->sa_family == AF_INET)
		return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, n) ? 0 : -EINVAL;
	if (sa->sa_family != AF_INET6)
		return -ENOENT;
	a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr;
	memset(a6.s6_addr + 8, 0, 8);   /* one host owns a whole /64 */
	return inet_ntop(AF_INET6, &a6, out, n) ? 0 : -EINVAL;
}

const char *req_query(struct req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *req_header(struct req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

/* Set-Cookie: value, Secure on a TLS connection. */
static void add_cookie(struct MHD_Connection *conn, struct MHD_Response *resp, const char *value)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	char buf[512];

	snprintf(buf, sizeof(buf), "%s%s", value, ci && ci->tls_session ? "; Secure" : "");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, buf);
}

static enum MHD_Result queue_json_c(struct MHD_Connection *conn, int status, json_t *v,
				    unsigned retry_after, const char *cookie)
{
	char *s = json_dumps(v, JSON_COMPACT);
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t n;

	if (!s)
		return MHD_NO;
	n = strlen(s);
	s[n] = '\0';
	/* json_dumps leaves no room for a newline; add one for terminals and curl. */
	{
		char *t = realloc(s, n + 2);
		if (t) {
			s = t;
			s[n++] = '\n';
			s[n] = '\0';
		}
	}
	resp = MHD_create_response_from_buffer(n, s, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(s);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	web_transport_headers(conn, resp);
	if (status == 401)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"vsrv\"");
	if (cookie)
		add_cookie(conn, resp, cookie);
	if (retry_after) {
		char ra[16];

		snprintf(ra, sizeof(ra), "%u", retry_after);
		MHD_add_response_header(resp, "Retry-After", ra);
	}
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result queue_json(struct MHD_Connection *conn, int status, json_t *v,
				  unsigned retry_after)
{
	return queue_json_c(conn, status, v, retry_after, NULL);
}

static enum MHD_Result queue_error(struct MHD_Connection *conn, int status, const char *msg)
{
	json_t *v = json_pack("{s:{s:s,s:s}}", "error", "code", err_code(status), "message", msg);
	enum MHD_Result ret = queue_json(conn, status, v, 0);

	json_decref(v);
	return ret;
}

/* Streaming responses: the handler's stream function fills buf without blocking; with
 * nothing ready the connection is parked (http_park.h) until the waker resumes it. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct req *r = cls;
	ssize_t n = 0;
	int rc;

	if (r->srv->stopping || http_park_stopping())
		return MHD_CONTENT_READER_END_OF_STREAM;
	rc = r->stream(r, buf, max, pos, &n);
	if (rc < 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (rc == 1)
		return http_park(r) < 0 ? MHD_CONTENT_READER_END_OF_STREAM : 0;
	return n;
}

/* The request's Origin is this server: scheme (https on a TLS connection) and the Host the
 * request named. */
static bool same_origin(struct MHD_Connection *conn)
{
	const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const char *scheme = ci && ci->tls_session ? "https://" : "http://";
	size_t n = strlen(scheme);

	return origin && host && *host && !strncasecmp(origin, scheme, n) &&
	       !strcasecmp(origin + n, host);
}

static void *waker_thread(void *arg)
{
	struct http *h = arg;
	int64_t last = 0;

	while (!http_park_stopping()) {
		last = events_wait(h->srv->ev, last, 250);
		http_park_resume_all();
		conntrack_sweep(h->ct);
		upload_sweep();
	}
	return NULL;
}

static void stream_free(void *cls)
{
	struct req *r = cls;

	if (r->stream_free)
		r->stream_free(r->stream_state);
	free(r);
}

/* A cluster host's credential on a ROUTE_PEER route (cluster_peer.c): who.host, and who.name
 * the user it acts for (X-Vsrv-By, a user name) or "host NAME". Unauthenticated when the
 * credential is not a live host's. */
static void peer_caller(struct listener *l, struct MHD_Connection *conn, struct req *r,
			const char *cred)
{
	const char *by = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Vsrv-By");
	char host[64];
	int rc;

	if (!l->srv->cluster)
		return;
	rc = cluster_peer_check(l->srv->cluster, cred, host, sizeof(host));
	if (rc) {
		if (rc != -EACCES)
			vsrv_log("a host's credential cannot be checked: %s", strerror(-rc));
		return;
	}
	r->who.authenticated = true;
	snprintf(r->who.host, sizeof(r->who.host), "%s", host);
	if (by && *by && strlen(by) < sizeof(r->who.name) && !by[strcspn(by, "/\"' \t\r\n")])
		snprintf(r->who.name, sizeof(r->who.name), "%s", by);
	else
		snprintf(r->who.name, sizeof(r->who.name), "host %.50s", host);
}

/* Who calls: the bearer token; on a WebSocket route (cookie true) without one, the session
 * cookie; on a ROUTE_PEER route, a host's credential too; on the Unix socket, its peer. */
static void resolve_caller(struct listener *l, struct MHD_Connection *conn, struct req *r,
			   int flags)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	const char *ck = flags & ROUTE_WS ?
			 MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, AUTH_COOKIE) : NULL;

	memset(&r->who, 0, sizeof(r->who));
	r->who.local = l->local;
	if (h && flags & ROUTE_PEER && !strncmp(h, "VsrvHost ", 9)) {
		peer_caller(l, conn, r, h + 9);
		return;
	}
	if (h && !strncasecmp(h, "Bearer ", 7)) {
		auth_token_caller(r->c, h + 7, &r->who);
		return;
	}
	if (ck) {
		auth_token_caller(r->c, ck, &r->who);
		r->who.cookie = r->who.authenticated;
		return;
	}
	if (l->local) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci)
			auth_peer_caller(r->c, ci->connect_fd, &r->who);
	}
}

enum MHD_Result http_queue_json(struct MHD_Connection *conn, int status, json_t *v, unsigned retry_after)
{
	return queue_json(conn, status, v, retry_after);
}

/* The headers of a request have arrived (the first call of the access handler). For a
 * ROUTE_UPLOAD route the handler runs now, before the body (http_upload.h). Returns
 * MHD_YES (also for every other route: nothing done), or what an early answer returned. */
static enum MHD_Result upload_route(struct listener *l, struct MHD_Connection *conn,
				    const char *url, const char *method, struct ctx *x)
{
	struct req *r;
	int idx, i;

	/* Most requests: no ROUTE_UPLOAD route has their method, nothing to route here. */
	for (i = 0; api_routes[i].method; i++)
		if ((api_routes[i].flags & ROUTE_UPLOAD) && !strcmp(api_routes[i].method, method))
			break;
	if (!api_routes[i].method)
		return MHD_YES;
	r = calloc(1, sizeof(*r));
	if (!r)
		return MHD_NO;
	r->srv = l->srv;
	r->method = method;
	r->path = url;
	r->conn = conn;
	r->who.local = l->local;
	idx = api_route(method, url, r);
	if (idx < 0 || !(api_routes[idx].flags & ROUTE_UPLOAD)) {
		free(r);
		return MHD_YES;
	}
	x->up_idx = idx;
	r->status = 200;
	r->c = inv_get(l->srv->db);
	if (!r->c) {
		req_error(r, 503, "inventory unavailable");
	} else {
		resolve_caller(l, conn, r, 0);
		if (!r->who.authenticated)
			req_error(r, 401, "authentication required: log in at /api/v1/login and "
				  "send 'Authorization: Bearer TOKEN'");
		else
			api_routes[idx].fn(r);
		inv_put(r->c);
		r->c = NULL;
	}
	if (r->upload_data)
		conntrack_request_received(conn);   /* an accepted upload: no deadline */
	return upload_start(conn, r, &x->up);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct listener *l = cls;
	struct server *srv = l->srv;
	struct ctx *x = *con_cls;
	struct req *r;
	json_error_t jerr;
	enum MHD_Result ret;
	int idx;
	double dt;
	struct timespec t1;
	unsigned long calls0 = etcd_thread_calls(), stmts0 = inv_thread_statements();

	(void)version;
	if (!x) {
		x = calloc(1, sizeof(*x));
		if (!x)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &x->t0);
		*con_cls = x;
		return upload_route(l, conn, url, method, x);
	}
	if (x->held) {
		/* a parked request, resumed */
		r = x->held;
		x->held = NULL;
		idx = x->held_idx;
		if (http_park_or_answer(r, true))
			goto parked;
		goto answer;
	}
	if (x->up) {
		if (*upload_size) {
			ret = upload_piece(conn, x->up, upload, *upload_size);
			*upload_size = 0;
			return ret;
		}
		conntrack_request_received(conn);
		idx = x->up_idx;
		ret = upload_end(conn, x->up);
		goto out_metrics;
	}
	if (*upload_size) {
		if (x->len + *upload_size > BODY_MAX) {
			x->too_big = true;
		} else {
			char *b = realloc(x->body, x->len + *upload_size + 1);
			if (!b)
				return MHD_NO;
			memcpy(b + x->len, upload, *upload_size);
			x->body = b;
			x->len += *upload_size;
			b[x->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	conntrack_request_received(conn);   /* whole: no deadline while it is served */
	if (x->too_big)
		return queue_error(conn, 413, "request body larger than 65536 bytes");
	if (web_owns(url)) {
		/* The web console's files (public; the API they call still needs a token). */
		idx = -1;
		ret = web_serve(conn, method, url);
		goto out_metrics;
	}

	r = calloc(1, sizeof(*r));
	if (!r)
		return MHD_NO;
	r->srv = srv;
	r->method = method;
	r->path = url;
	r->conn = conn;
	r->who.local = l->local;    /* known before authentication (login's throttling) */
	idx = api_route(method, url, r);
	if (idx == -1) {
		free(r);
		ret = queue_error(conn, 404, "no such endpoint");
		goto out_metrics;
	}
	if (idx == -2) {
		free(r);
		ret = queue_error(conn, 405, "method not allowed on this endpoint");
		goto out_metrics;
	}
	r->c = inv_get(srv->db);
	if (!r->c) {
		free(r);
		ret = queue_error(conn, 503, "inventory unavailable");
		goto out_metrics;
	}
	if (!(api_routes[idx].flags & ROUTE_NOAUTH)) {
		resolve_caller(l, conn, r, api_routes[idx].flags);
		if (!r->who.authenticated) {
			inv_put(r->c);
			free(r);
			ret = queue_error(conn, 401, "authentication required: log in at /api/v1/login "
					  "and send 'Authorization: Bearer TOKEN'");
			goto out_metrics;
		}
		if ((api_routes[idx].flags & ROUTE_PEER) && !r->who.host[0]) {
			inv_put(r->c);
			free(r);
			ret = queue_error(conn, 403, "only the cluster's hosts call this endpoint (the "
					  "destination's side of a live migration), with their own "
					  "credential: use POST /api/v1/vms/NAME/migrate");
			goto out_metrics;
		}
		if (r->who.cookie && !same_origin(conn)) {
			/* a page of another site opening a WebSocket with the user's cookie */
			inv_put(r->c);
			free(r);
			ret = queue_error(conn, 403, "a WebSocket opened with the session cookie must "
					  "come from this server's own pages (Origin)");
			goto out_metrics;
		}
	}
	if (x->len) {
		r->body = json_loadb(x->body, x->len, JSON_REJECT_DUPLICATES, &jerr);
		if (!r->body) {
			inv_put(r->c);
			free(r);
			char msg[300];
			snprintf(msg, sizeof(msg), "malformed JSON at line %d column %d: %s",
				 jerr.line, jerr.column, jerr.text);
			ret = queue_error(conn, 400, msg);
			goto out_metrics;
		}
	}
	r->status = 200;
	api_routes[idx].fn(r);
	if (http_park_or_answer(r, false)) {
parked:
		if (trace_park)
			fprintf(stderr, "vsrv: parked: %s %s\n", method, url);
		x->held = r;
		x->held_idx = idx;
		return MHD_YES;
	}
answer:
	if (trace_park)
		fprintf(stderr, "vsrv: park wake-ups: %s %s: %u\n", method, url, r->park_wakes);
	if (r->c)
		inv_put(r->c);
	r->c = NULL;
	json_decref(r->body);
	r->body = NULL;
	if (r->upgrade) {
		ret = ws_bridge(conn, r->upgrade_fd);
		json_decref(r->out);
		free(r->text);
		free(r);
	} else if (r->stream) {
		struct MHD_Response *resp = MHD_create_response_from_callback(
			MHD_SIZE_UNKNOWN, 4096, stream_read, r, stream_free);

		if (!resp) {
			stream_free(r);
			return MHD_NO;
		}
		MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type :
					"text/event-stream");
		MHD_add_response_header(resp, "Cache-Control", "no-store");
		web_transport_headers(conn, resp);
		ret = MHD_queue_response(conn, r->status, resp);
		MHD_destroy_response(resp);
	} else if (r->out) {
		if (!r->who.admin)
			http_scrub_paths(srv, r->out);
		ret = queue_json_c(conn, r->status, r->out, r->retry_after, r->set_cookie);
		json_decref(r->out);
		free(r->text);
		free(r->set_cookie);
		free(r);
	} else {
		struct MHD_Response *resp = MHD_create_response_from_buffer(
			r->text_len, r->text ? r->text : "", r->text ? MHD_RESPMEM_MUST_FREE :
			MHD_RESPMEM_PERSISTENT);

		if (!resp) {
			free(r->text);
			free(r);
			return MHD_NO;
		}
		if (r->content_type)
			MHD_add_response_header(resp, "Content-Type", r->content_type);
		if (r->set_cookie)
			add_cookie(conn, resp, r->set_cookie);
		MHD_add_response_header(resp, "Cache-Control", "no-store");
		web_transport_headers(conn, resp);
		ret = MHD_queue_response(conn, r->status == 200 && !r->text ? 204 : r->status, resp);
		MHD_destroy_response(resp);
		free(r->set_cookie);
		free(r);
	}
	idx = idx < 0 ? -1 : idx;
out_metrics:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	dt = (t1.tv_sec - x->t0.tv_sec) + (t1.tv_nsec - x->t0.tv_nsec) / 1e9;
	metrics_request(srv->metrics, idx, dt);
	if (trace_etcd)
		fprintf(stderr, "vsrv: etcd calls: %s %s: %lu\n", method, url,
			etcd_thread_calls() - calls0);
	if (trace_inv)
		fprintf(stderr, "vsrv: inventory statements: %s %s: %lu\n", method, url,
			inv_thread_statements() - stmts0);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct ctx *x = *con_cls;

	(void)cls; (void)toe;
	conntrack_request_done(conn);       /* the next request's deadline starts */
	if (x) {
		if (x->held) {
			/* ended while parked (the daemon stops) */
			if (x->held->resume_free)
				x->held->resume_free(x->held);
			json_decref(x->held->body);
			free(x->held);
		}
		upload_free(x->up);
		free(x->body);
		free(x);
		*con_cls = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	vsrv_log("http: %s", buf);
}

/* Request threads per listener: handlers may wait (a control socket, an image file), so
 * a few more than the cores. VSRV_HTTP_THREADS overrides (1..64). */
static unsigned http_pool_size(void)
{
	const char *e = getenv("VSRV_HTTP_THREADS");
	long n = sysconf(_SC_NPROCESSORS_ONLN) * 2;

	if (e && atoi(e) > 0 && atoi(e) <= 64)
		return atoi(e);
	return n < 4 ? 4 : n > 16 ? 16 : (unsigned)n;
}

/* Connection limits of one listener. */
struct limits {
	unsigned max_conns;         /* in all */
	unsigned per_addr;          /* from one client address; 0: no limit */
	unsigned idle;              /* seconds of silence while a request is served */
	struct conntrack *ct;       /* request deadlines, or NULL */
};

static struct MHD_Daemon *start_daemon(struct listener *l, int fd, unsigned extra_flags,
				       const char *cert, const char *key, const struct limits *lim)
{
	/* A pool of epoll threads (no thread per connection: under 50 busy clients the
	 * switching between 50 threads on 2 cores was the latency); streams park themselves
	 * (stream_read) instead of holding a thread. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG | extra_flags;
	unsigned pool = http_pool_size();

	if (cert)
		return MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, handle, l,
					MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
					MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
					MHD_OPTION_LISTEN_SOCKET, fd,
					MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
					MHD_OPTION_NOTIFY_CONNECTION, lim->ct ? conntrack_notify : NULL, lim->ct,
					MHD_OPTION_CONNECTION_LIMIT, lim->max_conns,
					MHD_OPTION_PER_IP_CONNECTION_LIMIT, lim->per_addr,
					MHD_OPTION_CONNECTION_TIMEOUT, lim->idle,
					MHD_OPTION_THREAD_POOL_SIZE, pool,
					MHD_OPTION_HTTPS_MEM_CERT, cert,
					MHD_OPTION_HTTPS_MEM_KEY, key,
					MHD_OPTION_END);
	return MHD_start_daemon(flags, 0, NULL, NULL, handle, l,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
				MHD_OPTION_NOTIFY_CONNECTION, lim->ct ? conntrack_notify : NULL, lim->ct,
				MHD_OPTION_CONNECTION_LIMIT, lim->max_conns,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, lim->per_addr,
				MHD_OPTION_CONNECTION_TIMEOUT, lim->idle,
				MHD_OPTION_THREAD_POOL_SIZE, pool,
				MHD_OPTION_END);
}

int http_start(struct server *srv, const struct http_config *cfg, struct http **out)
{
	struct http *h = calloc(1, sizeof(*h));
	int fd = -1, rc;

	if (!h)
		return -ENOMEM;
	h->srv = srv;
	trace_etcd = env_on("VSRV_ETCD_TRACE");
	trace_inv = env_on("VSRV_INV_TRACE");
	trace_park = env_on("VSRV_PARK_TRACE");
	http_park_stop(false);
	rc = ws_start();
	if (rc) {
		free(h);
		return rc;
	}
	if (cfg->listen && conntrack_create(cfg->request_timeout ? cfg->request_timeout : 10, &h->ct)) {
		free(h);
		return -ENOMEM;
	}
	if (pthread_create(&h->waker, NULL, waker_thread, h) == 0)
		h->waker_on = true;
	unix_l = (struct listener){ .srv = srv, .local = true };
	tcp_l = (struct listener){ .srv = srv, .local = false };
	if (cfg->socket_path) {
		rc = http_unix_listen(cfg->socket_path, &fd);
		if (rc) {
			vsrv_log("cannot listen on %s: %s", cfg->socket_path, strerror(-rc));
			goto err;
		}
		h->socket_path = strdup(cfg->socket_path);
		/* Local clients (root, or users the daemon's owner let in): the old limits. */
		h->unix_d = start_daemon(&unix_l, fd, 0, NULL, NULL,
					 &(struct limits){ .max_conns = 1000, .idle = 120 });
		if (!h->unix_d) {
			close(fd);
			vsrv_log("cannot start the HTTP server on %s", cfg->socket_path);
			rc = -EIO;
			goto err;
		}
	}
	if (cfg->listen) {
		if (cfg->tls_cert) {
			if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
				vsrv_log("this libmicrohttpd has no TLS support");
				rc = -ENOTSUP;
				goto err;
			}
			h->cert = http_slurp(cfg->tls_cert);
			h->key = http_slurp(cfg->tls_key);
			if (!h->cert || !h->key) {
				vsrv_log("cannot read %s", !h->cert ? cfg->tls_cert : cfg->tls_key);
				rc = -ENOENT;
				goto err;
			}
		}
		rc = http_tcp_listen(cfg->listen, &fd);
		if (rc) {
			vsrv_log("cannot listen on %s: %s", cfg->listen, strerror(-rc));
			goto err;
		}
		h->tcp_d = start_daemon(&tcp_l, fd, MHD_USE_DUAL_STACK & 0, h->cert, h->key,
					&(struct limits){ .max_conns = cfg->max_conns ? cfg->max_conns : 1000,
							  .per_addr = cfg->max_per_addr, .idle = 120,
							  .ct = h->ct });
		if (!h->tcp_d) {
			close(fd);
			vsrv_log("cannot start the HTTP server on %s (bad certificate or key?)",
				 cfg->listen);
			rc = -EIO;
			goto err;
		}
	}
	*out = h;
	return 0;
err:
	http_stop(h);
	return rc;
}

void http_stop(struct http *h)
{
	if (!h)
		return;
	/* Parked streams are resumed (and end) before the daemons stop. */
	http_park_stop(true);
	if (h->waker_on)
		pthread_join(h->waker, NULL);
	http_park_resume_all();   /* they end at their next read (or answer 503): stopping */
	ws_stop();      /* WebSockets: MHD wants upgraded connections closed before it stops */
	if (h->tcp_d)
		MHD_stop_daemon(h->tcp_d);
	if (h->unix_d)
		MHD_stop_daemon(h->unix_d);
	if (h->socket_path)
		unlink(h->socket_path);
	conntrack_destroy(h->ct);
	free(h->socket_path);
	free(h->cert);
	free(h->key);
	free(h);
}
