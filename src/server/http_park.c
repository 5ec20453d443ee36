/* The HTTP layer's parked requests (http_park.h). */
#include "server/http_park.h"
#include "server/api.h"
#include "server/inv.h"

#include <errno.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

/* park_lock guards both lists and every request's park_next, park_on and park_woken. It
 * is taken after the start lock's mutex (sup_start.c wakes under it), never before.
 * streams: the streams with nothing to send, resumed by every pass of the waker
 * (http_park_resume_all); waiting: the requests whose handler waits (struct req's
 * resume), resumed by req_unpark alone (or when the HTTP layer stops). */
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static struct req *streams, *waiting;
static atomic_bool park_stop;

/* r into *list, suspended; as http_park (park_lock held). */
static int park_on(struct req *r, struct req **list)
{
	if (park_stop)
		return -ESHUTDOWN;
	if (r->park_woken) {
		r->park_woken = false;
		return 0;
	}
	MHD_suspend_connection(r->conn);
	r->park_next = *list;
	r->park_on = true;
	*list = r;
	return 1;
}

int http_park(struct req *r)
{
	int rc;

	pthread_mutex_lock(&park_lock);
	rc = park_on(r, &streams);
	pthread_mutex_unlock(&park_lock);
	return rc;
}

/* Resume every request of *list (park_lock held). */
static void resume_list(struct req **list)
{
	struct req *r, *next;

	for (r = *list; r; r = next) {
		next = r->park_next;
		r->park_next = NULL;
		r->park_on = false;
		MHD_resume_connection(r->conn);
	}
	*list = NULL;
}

void http_park_resume_all(void)
{
	pthread_mutex_lock(&park_lock);
	resume_list(&streams);
	if (park_stop)
		resume_list(&waiting);
	pthread_mutex_unlock(&park_lock);
}

/* r out of *list, if there (park_lock held): whether it was. */
static bool unlink_from(struct req **list, struct req *r)
{
	struct req **p;

	for (p = list; *p && *p != r; p = &(*p)->park_next)
		;
	if (!*p)
		return false;
	*p = r->park_next;
	return true;
}

void req_unpark(struct req *r)
{
	pthread_mutex_lock(&park_lock);
	if (!r->park_on) {
		r->park_woken = true;
	} else {
		if (!unlink_from(&waiting, r))
			unlink_from(&streams, r);
		r->park_next = NULL;
		r->park_on = false;
		MHD_resume_connection(r->conn);
	}
	pthread_mutex_unlock(&park_lock);
}

void http_park_stop(bool stop)
{
	park_stop = stop;
}

bool http_park_stopping(void)
{
	return park_stop;
}

/* Whether r's client has gone while r was parked: its connection closed (read to its end:
 * libmicrohttpd, which does not watch a suspended connection, closes it at its next read)
 * or broken. */
static bool client_gone(struct req *r)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct pollfd p = { .fd = ci ? ci->connect_fd : -1, .events = POLLIN | POLLRDHUP };

	return p.fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

bool http_park_or_answer(struct req *r, bool again)
{
	int (*fn)(struct req *r);
	int rc;

	while (r->resume) {
		if (!again) {
			inv_put(r->c);
			r->c = NULL;
			pthread_mutex_lock(&park_lock);
			rc = park_on(r, &waiting);
			pthread_mutex_unlock(&park_lock);
			if (rc > 0)
				return true;
			if (rc < 0) {
				r->resume = NULL;
				req_error(r, 503, "the server is stopping: nothing was done");
				break;
			}
		}
		again = false;
		r->park_wakes++;
		if (!r->resume_must && client_gone(r)) {
			/* what it waited for is not done: nobody would learn of it */
			r->resume = NULL;
			req_error(r, 503, "the client went away while its request waited: nothing "
				  "was done");
			break;
		}
		r->c = inv_get(r->srv->db);
		if (!r->c) {
			r->resume = NULL;
			req_error(r, 503, "inventory unavailable");
			break;
		}
		api_route(r->method, r->path, r);   /* r->args again: they were a thread's */
		fn = r->resume;
		r->resume = NULL;
		r->status = 200;
		fn(r);
	}
	if (r->resume_free)
		r->resume_free(r);
	r->resume_free = NULL;
	return false;
}
