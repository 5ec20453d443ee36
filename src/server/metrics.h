/* The daemon's own metrics (request counts and latencies per route) and the Prometheus
 * text exposition of them and of every running VM's usage. */
#ifndef VSRV_SERVER_METRICS_H
#define VSRV_SERVER_METRICS_H

#include "server/server.h"

/* The method and pattern of route idx (0 <= idx < nroutes), for the labels of the request
 * metrics: the HTTP layer's table (api.h), which the metrics do not include. */
typedef void (*metrics_route_fn)(int idx, const char **method, const char **pattern);

/* Create the metrics of nroutes routes named by route. Returns 0 and *out (free with
 * metrics_destroy) or -ENOMEM. */
int metrics_create(int nroutes, metrics_route_fn route, struct metrics **out);
void metrics_destroy(struct metrics *m);

/* Count one request on route idx (-1: no route) that took seconds. Any thread. */
void metrics_request(struct metrics *m, int idx, double seconds);

/* Count one login: logged in, a wrong user or password, refused while throttled. */
enum { METRIC_LOGIN_OK, METRIC_LOGIN_FAILED, METRIC_LOGIN_THROTTLED, METRIC_LOGIN_KINDS };
void metrics_login(struct metrics *m, int kind);

/* Append the daemon's request metrics in Prometheus text format to buf (malloc'd,
 * grown as needed; *len updated). Returns 0 or -ENOMEM. */
int metrics_render(struct metrics *m, char **buf, size_t *len, size_t *cap);

/* printf into a growing buffer, for the renderers. */
int metrics_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
