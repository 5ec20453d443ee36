/* The etcd client's leases and watches (etcd.h). */
#include "server/etcd_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int etcd_lease_grant(struct etcd *e, int64_t ttl, int64_t *id, int64_t *granted)
{
	json_t *req, *ans = NULL;
	int rc;

	if (ttl < 1 || ttl > 9000000000LL)
		return etcd_fail(-EINVAL, "etcd: a lease's TTL is 1 s or more");
	req = json_pack("{s:I}", "TTL", (json_int_t)ttl);
	if ((rc = etcd_call_req(e, "/v3/lease/grant", req, &ans)))
		return rc;
	*id = etcd_num(ans, "ID");
	if (granted)
		*granted = etcd_num(ans, "TTL");
	json_decref(ans);
	return *id ? 0 : etcd_fail(-EIO, "etcd: the lease grant answered no ID");
}

int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl)
{
	json_t *req = json_pack("{s:s#}", "ID", "", 0), *ans = NULL, *res;
	int64_t t;
	int rc;

	if (!req)
		return -ENOMEM;
	json_object_set_new(req, "ID", json_sprintf("%lld", (long long)id));
	/* A stream of one request: the answer is {"result": LeaseKeepAliveResponse}. */
	rc = etcd_call(e, "/v3/lease/keepalive", req, &ans);
	json_decref(req);
	if (rc)
		return rc;
	res = json_object_get(ans, "result");
	t = etcd_num(res, "TTL");
	json_decref(ans);
	if (!res)
		return etcd_fail(-EIO, "etcd: the keepalive answered no result");
	if (t <= 0)
		return etcd_fail(-ENOENT, "etcd: lease %llx has expired", (long long)id);
	if (ttl)
		*ttl = t;
	return 0;
}

int etcd_lease_revoke(struct etcd *e, int64_t id)
{
	json_t *req = json_pack("{s:s#}", "ID", "", 0), *ans = NULL;
	int rc;

	if (!req)
		return -ENOMEM;
	json_object_set_new(req, "ID", json_sprintf("%lld", (long long)id));
	rc = etcd_call(e, "/v3/lease/revoke", req, &ans);
	json_decref(req);
	json_decref(ans);
	return rc;
}

/* --- watch ------------------------------------------------------------------------------- */

struct watch {
	int (*fn)(int type, const struct etcd_kv *kv, void *arg);
	void *arg;
	char *line;                 /* the answer's bytes not yet parsed */
	size_t n, cap;
	int64_t last_rev;           /* the newest revision delivered */
	bool created;
};

/* One message of the stream. 0 to go on, or the watch's result. */
static int watch_msg(struct watch *w, const char *text, size_t len)
{
	json_t *m = json_loadb(text, len, 0, NULL), *res, *ev;
	size_t i;
	int rc = 0;

	if (!json_is_object(m)) {
		json_decref(m);
		return etcd_fail(-EIO, "etcd watch: a message that is not JSON");
	}
	res = json_object_get(m, "result");
	if (!res) {
		json_t *err = json_object_get(m, "error");
		const char *msg = json_string_value(json_object_get(err, "message"));

		json_decref(m);
		return etcd_fail(-EIO, "etcd watch: %s", msg ? msg : "an error");
	}
	if (json_is_true(json_object_get(res, "canceled"))) {
		rc = etcd_fail(-ERANGE, "etcd watch canceled (compacted at revision %lld)",
			       (long long)etcd_num(res, "compact_revision"));
		json_decref(m);
		return rc;
	}
	if (json_is_true(json_object_get(res, "created")))
		w->created = true;
	json_array_foreach(json_object_get(res, "events"), i, ev) {
		const char *type = json_string_value(json_object_get(ev, "type"));
		struct etcd_kv kv;

		rc = etcd_kv_parse(json_object_get(ev, "kv"), &kv);
		if (rc)
			break;
		if (kv.mod_rev > w->last_rev)
			w->last_rev = kv.mod_rev;
		rc = w->fn(type && !strcmp(type, "DELETE") ? ETCD_EV_DELETE : ETCD_EV_PUT, &kv, w->arg);
		etcd_kv_clear(&kv);
		if (rc)
			break;
	}
	json_decref(m);
	return rc;
}

/* The stream's bytes: messages are JSON objects, one a line. */
static int watch_sink(const char *p, size_t n, void *arg)
{
	struct watch *w = arg;
	char *nl;
	int rc;

	if (w->n + n + 1 > w->cap) {
		size_t cap = (w->n + n + 1) * 2;
		char *q;

		if (cap > (64u << 20))
			return etcd_fail(-EFBIG, "etcd watch: a message over 64 MiB");
		q = realloc(w->line, cap);
		if (!q)
			return -ENOMEM;
		w->line = q;
		w->cap = cap;
	}
	memcpy(w->line + w->n, p, n);
	w->n += n;
	while ((nl = memchr(w->line, '\n', w->n))) {
		size_t len = (size_t)(nl - w->line);

		rc = len ? watch_msg(w, w->line, len) : 0;
		memmove(w->line, nl + 1, w->n - len - 1);
		w->n -= len + 1;
		if (rc)
			return rc;
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int etcd_watch(struct etcd *e, const char *key, bool prefix, int64_t start_rev,
	       unsigned wait_ms, int (*fn)(int type, const struct etcd_kv *kv, void *arg),
	       void *arg)
{
	struct watch w = { .fn = fn, .arg = arg, .last_rev = start_rev > 0 ? start_rev - 1 : 0 };
	int64_t end = now_ms() + wait_ms;
	int first = atomic_load(&e->cur), tries = 0, rc = -ETIMEDOUT;

	/* Member after member while time remains; after a member's failure the next one goes on
	 * from the revision after the last delivered, so no change is lost or given twice. */
	while (tries < e->nep && now_ms() < end) {
		int idx = (first + tries) % e->nep;
		json_t *cr = json_pack("{s:o*}", "key", etcd_b64s(key)), *req;
		char *text;
		long http = 0;

		if (cr && prefix)
			json_object_set_new(cr, "range_end", etcd_prefix_end(key));
		if (cr && w.last_rev)
			json_object_set_new(cr, "start_revision", json_sprintf("%lld",
					    (long long)w.last_rev + 1));
		req = cr ? json_pack("{s:o}", "create_request", cr) : NULL;
		text = req ? json_dumps(req, JSON_COMPACT) : NULL;
		json_decref(req);
		if (!text) {
			rc = -ENOMEM;
			break;
		}
		w.n = 0;
		w.created = false;
		rc = etcd_post(e, idx, "/v3/watch", text, (unsigned)(end - now_ms() > 0 ?
			       end - now_ms() : 1), watch_sink, &w, &http);
		free(text);
		if (rc == -ETIMEDOUT && w.created)
			break;          /* the watch ran its time: nothing (more) came */
		if (rc == 0 && http != 200)
			rc = etcd_fail(-EIO, "etcd %s: watch answered HTTP %ld", e->ep[idx], http);
		else if (rc == 0)
			rc = etcd_fail(-ECONNRESET, "etcd %s: the watch stream ended", e->ep[idx]);
		if (rc != -ECONNREFUSED && rc != -ECONNRESET && rc != -ETIMEDOUT &&
		    rc != -EHOSTUNREACH && rc != -EIO)
			break;          /* fn's result, or an error no other member mends */
		tries++;
	}
	free(w.line);
	return rc;
}
