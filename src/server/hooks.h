/* Event hooks, as Virtual Server's event scripts: per event type (or "*"), a command run
 * with the event as JSON on its stdin and VSRV_EVENT_* in its environment, or a webhook the
 * event is POSTed to (libcurl, with a timeout). Hooks run on a thread of their own, after
 * the event's transaction committed (an event rolled back never fires), never on a
 * request's thread. */
#ifndef VSRV_SERVER_HOOKS_H
#define VSRV_SERVER_HOOKS_H

#include "server/server.h"

struct hooks;

/* Start the hook thread. Returns 0 and *out (stop with hooks_destroy) or -errno. */
int hooks_create(struct server *srv, struct hooks **out);

/* Stop the thread; queued events are dropped, running commands keep running. */
void hooks_destroy(struct hooks *h);

/* Queue event (borrowed; a copy is kept) of id for the hooks. Never blocks: a full queue
 * (4096 events) drops it, logged once per overflow. Any thread. */
void hooks_queue(struct server *srv, int64_t id, json_t *event);

#endif
