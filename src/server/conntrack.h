/* Slow clients on the TCP listener: each request (its headers and body, or the TLS
 * handshake before them) must arrive within a deadline counted from the connection's
 * accept or from the end of its previous request; a connection past it is shut down, so
 * that idle or trickling clients cannot hold connections for long. Requests being served
 * (a handler, a response or a parked stream) have no deadline. */
#ifndef VSRV_SERVER_CONNTRACK_H
#define VSRV_SERVER_CONNTRACK_H

#include <microhttpd.h>

struct conntrack;

/* A tracker with a deadline of timeout seconds. Returns 0 and *out (free with
 * conntrack_destroy once the daemons using it are stopped) or -ENOMEM. */
int conntrack_create(unsigned timeout, struct conntrack **out);
void conntrack_destroy(struct conntrack *ct);

/* MHD_OPTION_NOTIFY_CONNECTION's callback, with the tracker as its closure: keeps every
 * open connection in the tracker (its socket_context). */
void conntrack_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		      enum MHD_ConnectionNotificationCode code);

/* From the request handler once a request is whole (no deadline while it is served), and
 * from the completion callback (the next request's deadline starts). No-ops for a
 * connection not tracked (the Unix socket's). */
void conntrack_request_received(struct MHD_Connection *conn);
void conntrack_request_done(struct MHD_Connection *conn);

/* Shut down the connections past their deadline (libmicrohttpd then closes them). Call
 * it often (the HTTP layer's waker does, every 250 ms). */
void conntrack_sweep(struct conntrack *ct);

#endif
