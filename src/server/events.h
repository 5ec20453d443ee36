/* Events: stored in the inventory, woken followers (SSE), hooks run per event type. */
#ifndef VSRV_SERVER_EVENTS_H
#define VSRV_SERVER_EVENTS_H

#include "server/server.h"

/* Create the event hub. Returns 0 and *out (free with events_destroy) or -ENOMEM. */
int events_create(struct events **out);
void events_destroy(struct events *ev);

/* Keep stored events max_age seconds at most and the newest max_count at most (0: no
 * limit for either); older ones are dropped as new ones are recorded. */
void events_set_retention(struct events *ev, double max_age, int64_t max_count);

/* Record an event through c (inside the caller's transaction when one is open, so that an
 * event and the change it reports commit together), wake followers and queue it for the
 * hooks (hooks.h). data may be NULL;
 * the reference is stolen. Returns 0 or -EIO. */
int events_emit(struct server *srv, struct dbc *c, const char *type, const char *otype,
		const char *oname, const char *user, json_t *data, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));

/* Wait until an event newer than after may exist, or timeout_ms passes. Returns the
 * newest id known to the hub (which may still be uncommitted for a moment). */
int64_t events_wait(struct events *ev, int64_t after, int timeout_ms);

#endif
