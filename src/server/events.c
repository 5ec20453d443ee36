/* Events. */
#include "server/events.h"
#include "server/inv.h"
#include "server/hooks.h"
#include "util/clock.h"
#include "util/log.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

struct events {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int64_t last;
	double max_age;          /* seconds; 0: kept whatever their age */
	int64_t max_count;       /* 0: no limit */
	double aged;             /* monotonic time of the last pruning by age */
};

int events_create(struct events **out)
{
	struct events *ev = calloc(1, sizeof(*ev));
	pthread_condattr_t a;

	if (!ev)
		return -ENOMEM;
	pthread_mutex_init(&ev->lock, NULL);
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&ev->cond, &a);
	pthread_condattr_destroy(&a);
	*out = ev;
	return 0;
}

void events_set_retention(struct events *ev, double max_age, int64_t max_count)
{
	pthread_mutex_lock(&ev->lock);
	ev->max_age = max_age;
	ev->max_count = max_count;
	ev->aged = 0;
	pthread_mutex_unlock(&ev->lock);
}

/* Drop what the retention does not keep, through c after the insert of event id (in the
 * caller's transaction). Ids only grow (AUTOINCREMENT) and times with them: by count it
 * is one range of the primary key; by age the oldest rows up to the first young one, at
 * most every minute (or half the retention, when shorter). Failures are not the
 * event's: they are logged and the next event tries again. */
static void prune(struct server *srv, struct dbc *c, int64_t id, double t)
{
	struct events *ev = srv->ev;
	double now = clock_mono(), max_age, every;
	int64_t max_count;
	bool by_age;

	pthread_mutex_lock(&ev->lock);
	max_age = ev->max_age;
	max_count = ev->max_count;
	every = max_age / 2 < 60 ? max_age / 2 : 60;
	by_age = max_age > 0 && (!ev->aged || now - ev->aged >= every);
	if (by_age)
		ev->aged = now;
	pthread_mutex_unlock(&ev->lock);
	if (max_count > 0 && id > max_count && inv_event_drop_upto(c, id - max_count))
		vsrv_log("events: cannot drop events beyond the newest %lld", (long long)max_count);
	if (by_age && inv_event_drop_before(c, t - max_age))
		vsrv_log("events: cannot drop events older than %.0f s", max_age);
}

void events_destroy(struct events *ev)
{
	if (!ev)
		return;
	pthread_cond_destroy(&ev->cond);
	pthread_mutex_destroy(&ev->lock);
	free(ev);
}

/* An event recorded (events_emit), once its id is known (inv_event_add's then): the
 * retention, the followers woken, the hooks; nothing when it was not committed (id 0). */
struct emitted {
	struct server *srv;
	struct dbc *c;
	double t;
	json_t *e;                  /* the hooks' JSON, its "id" 0 until known */
};

static void emitted(int64_t id, void *arg)
{
	struct emitted *m = arg;
	struct server *srv = m->srv;

	if (id) {
		prune(srv, m->c, id, m->t);
		pthread_mutex_lock(&srv->ev->lock);
		if (id > srv->ev->last)
			srv->ev->last = id;
		pthread_cond_broadcast(&srv->ev->cond);
		pthread_mutex_unlock(&srv->ev->lock);
		if (m->e && !json_object_set_new(m->e, "id", json_integer(id)))
			hooks_queue(srv, id, m->e);
	}
	json_decref(m->e);
	free(m);
}

int events_emit(struct server *srv, struct dbc *c, const char *type, const char *otype,
		const char *oname, const char *user, json_t *data, const char *fmt, ...)
{
	char msg[1024], *d = NULL;
	va_list ap;
	int rc;
	int64_t id = 0;
	double t = clock_real();
	struct emitted *m = malloc(sizeof(*m));

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!m) {
		json_decref(data);
		return -ENOMEM;
	}
	*m = (struct emitted){ srv, c, t, json_pack("{s:I,s:f,s:s,s:s?,s:s?,s:s?,s:s,s:O?}",
						   "id", (json_int_t)0, "time", t, "type", type,
						   "object_type", otype, "object", oname, "user",
						   user, "message", msg, "data", data) };
	if (data)
		d = json_dumps(data, JSON_COMPACT);
	rc = inv_event_add(c, &(struct inv_event){ .time = t, .type = type, .object_type = otype,
						    .object = oname, .user = user, .message = msg,
						    .data = d }, &id, emitted, m);
	free(d);
	if (rc) {
		json_decref(m->e);
		free(m);
	}
	json_decref(data);
	return rc;
}

int64_t events_wait(struct events *ev, int64_t after, int timeout_ms)
{
	struct timespec ts;
	int64_t last;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ev->lock);
	while (ev->last <= after &&
	       pthread_cond_timedwait(&ev->cond, &ev->lock, &ts) == 0)
		;
	last = ev->last;
	pthread_mutex_unlock(&ev->lock);
	return last;
}
