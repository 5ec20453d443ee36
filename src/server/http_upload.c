/* Streamed request bodies (http_upload.h). */
#include "server/http_upload.h"
#include "server/inv.h"
#include "util/clock.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* A refused upload's body is read and dropped up to this much so that a client that did
 * not wait for "100 Continue" still reads the answer; past it the answer goes out at once
 * and the connection closes. */
#define DISCARD_MAX (64 * 1024 * 1024)

struct upload {
	struct req *r;
	bool refused;            /* r's answer is set: the body is dropped */
	bool answered;           /* queued */
	uint64_t dropped;
	int fd;                  /* the socket while the body streams (swept), else -1 */
	double last;             /* clock_mono() of the last piece */
	struct upload *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct upload *streaming;

static void watch(struct MHD_Connection *conn, struct upload *u)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	if (!ci)
		return;
	pthread_mutex_lock(&lock);
	u->fd = ci->connect_fd;
	u->last = clock_mono();
	u->next = streaming;
	streaming = u;
	pthread_mutex_unlock(&lock);
}

static void unwatch(struct upload *u)
{
	pthread_mutex_lock(&lock);
	for (struct upload **p = &streaming; *p; p = &(*p)->next)
		if (*p == u) {
			*p = u->next;
			break;
		}
	u->fd = -1;
	pthread_mutex_unlock(&lock);
}

void upload_sweep(void)
{
	double now = clock_mono();
	char b;

	/* Under the lock: libmicrohttpd closes a socket only after the request's completion
	 * (upload_free, which unwatches), so the descriptor is still the upload's. */
	pthread_mutex_lock(&lock);
	for (struct upload *u = streaming; u; u = u->next)
		if (u->fd >= 0 && now - u->last > 1.0 &&
		    recv(u->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
			shutdown(u->fd, SHUT_RDWR);
			u->last = now;
		}
	pthread_mutex_unlock(&lock);
}

static enum MHD_Result answer(struct MHD_Connection *conn, struct upload *u)
{
	u->answered = true;
	if (!u->r->who.admin)
		http_scrub_paths(u->r->srv, u->r->out);
	return http_queue_json(conn, u->r->status, u->r->out, u->r->retry_after);
}

enum MHD_Result upload_start(struct MHD_Connection *conn, struct req *r, struct upload **out)
{
	const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
	const char *clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	struct upload *u = calloc(1, sizeof(*u));

	if (!u) {
		if (r->upload_free)
			r->upload_free(r);
		json_decref(r->out);
		free(r);
		return MHD_NO;
	}
	u->r = r;
	u->fd = -1;
	*out = u;
	if (r->upload_data) {
		watch(conn, u);
		return MHD_YES;
	}
	u->refused = true;
	if (!r->out)
		req_error(r, 500, "the upload was neither taken nor refused");
	/* A client waiting for "100 Continue" (or sending no body) gets the answer now and
	 * never sends the body; so does one whose body is too large to drop. */
	if ((expect && !strcasecmp(expect, "100-continue")) || (clen && !strcmp(clen, "0")) ||
	    (clen && strtoull(clen, NULL, 10) > DISCARD_MAX))
		return answer(conn, u);
	watch(conn, u);
	return MHD_YES;
}

enum MHD_Result upload_piece(struct MHD_Connection *conn, struct upload *u, const char *buf, size_t n)
{
	struct req *r = u->r;

	pthread_mutex_lock(&lock);
	u->last = clock_mono();
	pthread_mutex_unlock(&lock);
	if (u->answered)
		return MHD_YES;
	if (!u->refused) {
		if (r->upload_data(r, buf, n) == 0)
			return MHD_YES;
		u->refused = true;
		if (!r->out)
			req_error(r, 500, "the upload failed");
		return MHD_YES;
	}
	u->dropped += n;
	return u->dropped > DISCARD_MAX ? answer(conn, u) : MHD_YES;
}

enum MHD_Result upload_end(struct MHD_Connection *conn, struct upload *u)
{
	struct req *r = u->r;

	unwatch(u);
	if (u->answered)
		return MHD_YES;
	if (!u->refused) {
		r->c = inv_get(r->srv->db);
		if (!r->c) {
			req_error(r, 503, "inventory unavailable");
		} else {
			r->upload_end(r);
			inv_put(r->c);
			r->c = NULL;
		}
		if (!r->out)
			req_error(r, 500, "the upload ended without an answer");
	}
	return answer(conn, u);
}

void upload_free(struct upload *u)
{
	if (!u)
		return;
	unwatch(u);
	if (u->r->upload_free)
		u->r->upload_free(u->r);    /* also when the client went away */
	json_decref(u->r->out);
	free(u->r);
	free(u);
}
