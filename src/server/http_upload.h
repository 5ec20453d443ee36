/* The HTTP side of streamed request bodies (routes with ROUTE_UPLOAD, api.h; struct req's
 * upload_* members): what happens to the body of a request whose handler ran when its
 * headers arrived, piece by piece as libmicrohttpd hands it over, and at its end. Internal
 * to the HTTP layer (http.c). */
#ifndef VSRV_SERVER_HTTP_UPLOAD_H
#define VSRV_SERVER_HTTP_UPLOAD_H

#include "server/server.h"

#include <microhttpd.h>

struct upload;

/* r's handler ran (or r holds an error answer set instead: 401, 503). The upload owns r
 * from here (freed by upload_free). When the handler took the body (r->upload_data), the
 * body streams to it; otherwise the answer is queued at once for a client that sent
 * "Expect: 100-continue", no body or a body too large to drop, else after the body was read
 * and dropped. *out is set in every case but a failed allocation (MHD_NO). */
enum MHD_Result upload_start(struct MHD_Connection *conn, struct req *r, struct upload **out);

/* A piece of the body. */
enum MHD_Result upload_piece(struct MHD_Connection *conn, struct upload *u, const char *buf, size_t n);

/* The body is whole: the handler's upload_end (with an inventory session) sets the answer,
 * which is queued. */
enum MHD_Result upload_end(struct MHD_Connection *conn, struct upload *u);

/* The request ended (answered, or the client went away): the handler's upload_free, then r
 * and u are freed. NULL is a no-op. */
void upload_free(struct upload *u);

/* Shut down the socket of an upload that made no progress for a second and whose client
 * closed its end (the HTTP layer's waker calls it every 250 ms): libmicrohttpd 0.9.75 on
 * epoll can miss a close that arrives while it still holds unread body data, and the
 * request would otherwise wait for the idle timeout with the upload's file in place. */
void upload_sweep(void);

/* http.c's JSON answer (for the upload's). */
enum MHD_Result http_queue_json(struct MHD_Connection *conn, int status, json_t *v, unsigned retry_after);

#endif
