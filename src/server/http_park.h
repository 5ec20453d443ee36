/* Parked requests of the HTTP layer: a stream with nothing to send (stream_read) or a
 * request whose handler waits (struct req's resume: the start lock, sup.h) is suspended
 * (MHD_suspend_connection) instead of holding one of the pool's threads. Two lists: the
 * streams, all resumed by the waker (http.c: an event, or every 250 ms); the waiting
 * requests, each resumed by req_unpark (server.h) alone, when what it waits for is
 * there (its turn of the start lock), or when the HTTP layer stops. Internal to the HTTP
 * layer (http.c). */
#ifndef VSRV_SERVER_HTTP_PARK_H
#define VSRV_SERVER_HTTP_PARK_H

#include "server/server.h"

#include <stdbool.h>

/* Park stream r (r->conn suspended, r in the streams' list; from a content reader of r's
 * connection). 1: parked; 0: not, r was req_unpark'd since its last park (go on
 * at once); -ESHUTDOWN: not, the HTTP layer stops (http_park_stop). */
int http_park(struct req *r);

/* Resume every parked stream (each runs again soon, and parks again or ends); once the
 * HTTP layer stops (http_park_stop), every waiting request too. */
void http_park_resume_all(void);

/* r's handler (or, again, its resume after a park) has returned. While it waits
 * (r->resume) r is parked in the waiting list (true: the caller keeps r until its
 * connection runs again, then calls this with again), or its resume runs again at once
 * when it was woken meanwhile; not when its client has gone meanwhile (then 503, nothing
 * done) unless r->resume_must. false: r has its answer (an error: 503 when stopping), its
 * resume_free called; r->c (NULL, or a session) is the caller's to put back. */
bool http_park_or_answer(struct req *r, bool again);

/* From now on (stop true) nothing parks: the HTTP layer stops; false: it starts. */
void http_park_stop(bool stop);
bool http_park_stopping(void);

#endif
