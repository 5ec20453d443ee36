/* The HTTP layer's parked requests (http_park.h). */
#include "server/http_park.h"
#include "server/api.h"
#include "server/inv.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

/* park_lock guards parked and every request's park_next, park_on and park_woken. It is
 * taken after the start lock's mutex (sup_start.c wakes under it), never before. */
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static struct req *parked;
static atomic_bool park_stop;

int http_park(struct req *r)
{
	int rc = 1;

	pthread_mutex_lock(&park_lock);
	if (park_stop) {
		rc = -ESHUTDOWN;
	} else if (r->park_woken) {
		r->park_woken = false;
		rc = 0;
	} else {
		MHD_suspend_connection(r->conn);
		r->park_next = parked;
		r->park_on = true;
		parked = r;
	}
	pthread_mutex_unlock(&park_lock);
	return rc;
}

void http_park_resume_all(void)
{
	struct req *r, *next;

	pthread_mutex_lock(&park_lock);
	for (r = parked; r; r = next) {
		next = r->park_next;
		r->park_next = NULL;
		r->park_on = false;
		MHD_resume_connection(r->conn);
	}
	parked = NULL;
	pthread_mutex_unlock(&park_lock);
}

void req_unpark(struct req *r)
{
	struct req **p;

	pthread_mutex_lock(&park_lock);
	if (!r->park_on) {
		r->park_woken = true;
	} else {
		for (p = &parked; *p && *p != r; p = &(*p)->park_next)
			;
		if (*p)
			*p = r->park_next;
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

bool http_park_or_answer(struct req *r, bool again)
{
	int (*fn)(struct req *r);
	int rc;

	while (r->resume) {
		if (!again) {
			inv_put(r->c);
			r->c = NULL;
			rc = http_park(r);
			if (rc > 0)
				return true;
			if (rc < 0) {
				r->resume = NULL;
				req_error(r, 503, "the server is stopping: nothing was done");
				break;
			}
		}
		again = false;
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
