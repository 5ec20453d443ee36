/* Request metrics. */
#include "server/metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5 };
#define NB (sizeof(buckets) / sizeof(buckets[0]))

struct route_stats {
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t usec;
	atomic_uint_fast64_t le[NB];
};

struct metrics {
	atomic_uint_fast64_t logins[METRIC_LOGIN_KINDS];
	metrics_route_fn route;
	int n;
	struct route_stats r[];   /* index 0: unrouted; route i at i + 1 */
};

int metrics_create(int nroutes, metrics_route_fn route, struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m) + (nroutes + 1) * sizeof(struct route_stats));

	if (!m)
		return -ENOMEM;
	m->n = nroutes + 1;
	m->route = route;
	*out = m;
	return 0;
}

void metrics_destroy(struct metrics *m)
{
	free(m);
}

void metrics_request(struct metrics *m, int idx, double seconds)
{
	struct route_stats *s;
	size_t i;

	if (!m)
		return;
	s = &m->r[idx >= 0 && idx + 1 < m->n ? idx + 1 : 0];
	atomic_fetch_add(&s->count, 1);
	atomic_fetch_add(&s->usec, (uint64_t)(seconds * 1e6));
	for (i = 0; i < NB; i++)
		if (seconds <= buckets[i])
			atomic_fetch_add(&s->le[i], 1);
}

void metrics_login(struct metrics *m, int kind)
{
	if (m && kind >= 0 && kind < METRIC_LOGIN_KINDS)
		atomic_fetch_add(&m->logins[kind], 1);
}

int metrics_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -EINVAL;
		if (*buf && *len + n < *cap) {
			*len += n;
			return 0;
		}
		size_t nc = (*cap ? *cap * 2 : 8192) + n;
		char *b = realloc(*buf, nc);
		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap = nc;
	}
}

int metrics_render(struct metrics *m, char **buf, size_t *len, size_t *cap)
{
	int i;
	size_t b;

	metrics_printf(buf, len, cap,
		       "# HELP vsrv_logins_total Successful logins.\n"
		       "# TYPE vsrv_logins_total counter\n"
		       "vsrv_logins_total %llu\n"
		       "# HELP vsrv_login_failures_total Logins refused for a wrong user name or password.\n"
		       "# TYPE vsrv_login_failures_total counter\n"
		       "vsrv_login_failures_total %llu\n"
		       "# HELP vsrv_login_throttled_total Logins refused unchecked (429) while the user "
		       "or the address backs off.\n"
		       "# TYPE vsrv_login_throttled_total counter\n"
		       "vsrv_login_throttled_total %llu\n",
		       (unsigned long long)atomic_load(&m->logins[METRIC_LOGIN_OK]),
		       (unsigned long long)atomic_load(&m->logins[METRIC_LOGIN_FAILED]),
		       (unsigned long long)atomic_load(&m->logins[METRIC_LOGIN_THROTTLED]));
	metrics_printf(buf, len, cap,
		       "# HELP vsrv_http_requests_total API requests served, by route.\n"
		       "# TYPE vsrv_http_requests_total counter\n");
	for (i = 0; i < m->n; i++) {
		const char *rt = "none", *me = "";
		if (i)
			m->route(i - 1, &me, &rt);
		if (!atomic_load(&m->r[i].count))
			continue;
		metrics_printf(buf, len, cap, "vsrv_http_requests_total{method=\"%s\",route=\"%s\"} %llu\n",
			       me, rt, (unsigned long long)atomic_load(&m->r[i].count));
	}
	metrics_printf(buf, len, cap,
		       "# HELP vsrv_http_request_seconds API request latency, by route.\n"
		       "# TYPE vsrv_http_request_seconds histogram\n");
	for (i = 0; i < m->n; i++) {
		const char *rt = "none", *me = "";
		if (i)
			m->route(i - 1, &me, &rt);
		uint64_t cnt = atomic_load(&m->r[i].count);
		if (!cnt)
			continue;
		for (b = 0; b < NB; b++)
			metrics_printf(buf, len, cap,
				       "vsrv_http_request_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%g\"} %llu\n",
				       me, rt, buckets[b], (unsigned long long)atomic_load(&m->r[i].le[b]));
		metrics_printf(buf, len, cap,
			       "vsrv_http_request_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"} %llu\n"
			       "vsrv_http_request_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n"
			       "vsrv_http_request_seconds_count{method=\"%s\",route=\"%s\"} %llu\n",
			       me, rt, (unsigned long long)cnt, me, rt,
			       atomic_load(&m->r[i].usec) / 1e6, me, rt, (unsigned long long)cnt);
	}
	return *buf ? 0 : -ENOMEM;
}
