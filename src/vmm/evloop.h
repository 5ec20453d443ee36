/* The VMM's control loop: one epoll loop on one thread. Device eventfds, timers, the
 * console and control sockets are watched here; other threads talk to the loop only by
 * posting messages (evloop_post) or stopping it (evloop_stop), never through shared fields. */
#ifndef VSRV_VMM_EVLOOP_H
#define VSRV_VMM_EVLOOP_H

#include <stdint.h>

struct evloop;

/* Called on the loop thread with the epoll events that fired (EPOLLIN, ...). */
typedef void (*evloop_fn)(void *opaque, uint32_t events);

/* Create a loop. Returns 0 and *out (free with evloop_destroy), or -errno. */
int evloop_create(struct evloop **out);

/* Free the loop. Watched fds are not closed: their owners close them. Messages posted and
 * never run are dropped. */
void evloop_destroy(struct evloop *l);

/* Watch fd for events (EPOLLIN, EPOLLOUT, ...). Call from the loop thread or before
 * evloop_run. The loop does not own fd. Returns 0, -EEXIST or -errno. */
int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *opaque);

/* Change the events watched on fd. Loop thread only. Returns 0 or -errno. */
int evloop_mod(struct evloop *l, int fd, uint32_t events);

/* Stop watching fd; its callback is not called again, even for events already fetched.
 * Loop thread only. Returns 0 or -ENOENT. */
int evloop_del(struct evloop *l, int fd);

/* Run fn(opaque) on the loop thread soon. Any thread. Returns 0 or -ENOMEM. */
int evloop_post(struct evloop *l, void (*fn)(void *opaque), void *opaque);

/* Make evloop_run return code. Any thread, also async-signal-safe. The first code wins. */
void evloop_stop(struct evloop *l, int code);

/* Dispatch events until evloop_stop; returns its code. */
int evloop_run(struct evloop *l);

#endif
