/* The etcd client's transport: endpoints, failover, errors, the base64 codec (etcd.h). */
#include "server/etcd_int.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>

static _Thread_local char errmsg[512];
static _Thread_local unsigned long thread_calls;

unsigned long etcd_thread_calls(void)
{
	return thread_calls;
}

/* VSRV_ETCD_TRACE=1 in the environment: each call logged (path and its first key). */
static int trace_on(void)
{
	static atomic_int on = -1;
	int v = atomic_load(&on);

	if (v < 0) {
		const char *s = getenv("VSRV_ETCD_TRACE");

		v = s && *s && strcmp(s, "0");
		atomic_store(&on, v);
	}
	return v;
}

/* A base64 key decoded into buf for the trace ("" when it does not fit). */
static void trace_key(const char *k, char *buf, size_t size)
{
	unsigned char raw[160];
	int n;

	buf[0] = '\0';
	if (!k || strlen(k) >= 4 * sizeof(raw) / 3 - 4)
		return;
	n = EVP_DecodeBlock(raw, (const unsigned char *)k, (int)strlen(k));
	if (n <= 0)
		return;
	while (n && !raw[n - 1])
		n--;
	snprintf(buf, size, "%.*s", n, (const char *)raw);
}

/* Where the last call's time went (etcd_post's, for the trace): curl's perform, the time
 * to the answer's first byte (etcd's own time and the network's), whether it connected. */
static _Thread_local struct {
	double perform_ms, first_byte_ms;
	long connects;
} post_stat;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The keys a call is about, decoded for the trace: the request's key, or each operation's
 * of a Txn ("range KEY[*]", "put KEY", "del KEY"; * a prefix), and its compares' count;
 * then where its time went: in all (from its encoding to its answer decoded), in curl (of
 * which etcd's: to the answer's first byte), with a new connection or a kept one. */
static void trace_call(const char *path, json_t *body, json_t *ans, double total_ms,
		       size_t out_bytes)
{
	json_t *ops = json_object_get(body, "success"), *op, *resp;
	char line[1024], key[160];
	size_t i, len = 0, most = json_array_size(json_object_get(ans, "kvs"));

	/* the most keys one range of the answer carried (etcd_page bounds a prefix's) */
	json_array_foreach(json_object_get(ans, "responses"), i, resp) {
		size_t k = json_array_size(json_object_get(json_object_get(resp, "response_range"),
							   "kvs"));
		most = k > most ? k : most;
	}

	trace_key(json_string_value(json_object_get(body, "key")), key, sizeof(key));
	len = (size_t)snprintf(line, sizeof(line), "%s", key);
	json_array_foreach(ops, i, op) {
		const char *kind;
		json_t *inner;

		json_object_foreach(op, kind, inner) {
			trace_key(json_string_value(json_object_get(inner, "key")), key,
				  sizeof(key));
			if (len < sizeof(line))
				len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s %s%s",
					i ? ", " : "", !strcmp(kind, "request_range") ? "range" :
					!strcmp(kind, "request_put") ? "put" : "del", key,
					json_object_get(inner, "range_end") ? "*" : "");
			break;
		}
	}
	fprintf(stderr, "vsrv: etcd call %lu: %s %s (%zu ops, %zu compares) %.2f ms: curl %.2f, "
		"first byte %.2f, %s connection, %zu B sent, %zu keys at most\n", thread_calls,
		path, line, json_is_array(ops) ? json_array_size(ops) : (size_t)1,
		json_array_size(json_object_get(body, "compare")), total_ms, post_stat.perform_ms,
		post_stat.first_byte_ms, post_stat.connects ? "new" : "kept", out_bytes, most);
}

const char *etcd_errmsg(void)
{
	return errmsg;
}

int etcd_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return err;
}

int etcd_open(const char *endpoints, unsigned timeout_ms, struct etcd **out)
{
	struct etcd *e;
	char *s, *tok, *save = NULL;

	if (!endpoints || !*endpoints || timeout_ms < 100 || timeout_ms > 600000)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->timeout_ms = timeout_ms;
	e->page = ETCD_PAGE_DEFAULT;
	if (getenv("VSRV_ETCD_PAGE") && atol(getenv("VSRV_ETCD_PAGE")) > 0 &&
	    atol(getenv("VSRV_ETCD_PAGE")) <= 100000)
		e->page = (unsigned)atol(getenv("VSRV_ETCD_PAGE"));
	pthread_mutex_init(&e->counter_mu, NULL);
	pthread_mutex_init(&e->pool_mu, NULL);
	e->list = strdup(endpoints);
	s = strdup(endpoints);
	if (!e->list || !s)
		goto err_nomem;
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t len = strlen(tok);

		while (len && tok[len - 1] == '/')
			tok[--len] = '\0';
		if (e->nep == ETCD_MAX_EP || len < 8 || len > 512 || strpbrk(tok, " \t\r\n") ||
		    (strncmp(tok, "http://", 7) && strncmp(tok, "https://", 8)) ||
		    !tok[strncmp(tok, "http://", 7) ? 8 : 7]) {
			etcd_fail(-EINVAL, "etcd endpoint '%.200s': want http://HOST:PORT or "
				  "https://HOST:PORT, at most %d", tok, ETCD_MAX_EP);
			free(s);
			etcd_close(e);
			return -EINVAL;
		}
		e->ep[e->nep] = strdup(tok);
		if (!e->ep[e->nep++])
			goto err_nomem;
	}
	free(s);
	if (!e->nep) {
		etcd_close(e);
		return etcd_fail(-EINVAL, "no etcd endpoint in '%s'", endpoints);
	}
	*out = e;
	return 0;

err_nomem:
	free(s);
	etcd_close(e);
	return -ENOMEM;
}

void etcd_close(struct etcd *e)
{
	int i;

	if (!e)
		return;
	for (i = 0; i < e->nep; i++)
		free(e->ep[i]);
	for (i = 0; i < ETCD_COUNTERS; i++)
		free(e->counter[i].key);
	for (i = 0; i < e->npool; i++)
		curl_easy_cleanup(e->pool[i]);
	pthread_mutex_destroy(&e->counter_mu);
	pthread_mutex_destroy(&e->pool_mu);
	free(e->list);
	free(e);
}

unsigned etcd_page(const struct etcd *e)
{
	return e->page;
}

const char *etcd_endpoints(const struct etcd *e)
{
	return e->list;
}

const char *etcd_current(const struct etcd *e)
{
	return e->ep[atomic_load(&((struct etcd *)e)->cur) % e->nep];
}

/* --- codec ------------------------------------------------------------------------------- */

json_t *etcd_b64(const void *p, size_t len)
{
	char *buf;
	json_t *j;

	if (len > (1u << 30))
		return NULL;
	buf = malloc(4 * ((len + 2) / 3) + 1);
	if (!buf)
		return NULL;
	EVP_EncodeBlock((unsigned char *)buf, p, (int)len);
	j = json_string(buf);
	free(buf);
	return j;
}

json_t *etcd_b64s(const char *s)
{
	return etcd_b64(s, strlen(s));
}

json_t *etcd_prefix_end(const char *prefix)
{
	size_t n = strlen(prefix);
	unsigned char *end = malloc(n + 1);
	json_t *j;

	if (!end)
		return NULL;
	memcpy(end, prefix, n);
	/* The prefix with its last byte below 0xff raised by one, the bytes after it cut. */
	while (n && end[n - 1] == 0xff)
		n--;
	if (!n) {
		free(end);
		return etcd_b64("\0", 1);   /* "\0": every key from the start */
	}
	end[n - 1]++;
	j = etcd_b64(end, n);
	free(end);
	return j;
}

/* The bytes of base64 text s: 0 with *out (NUL-terminated, malloc'd) and *len. */
static int b64_decode(const char *s, char **out, size_t *len)
{
	size_t n = strlen(s);
	int k;
	char *buf;

	if (n % 4)
		return -EIO;
	buf = malloc(n / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	k = EVP_DecodeBlock((unsigned char *)buf, (const unsigned char *)s, (int)n);
	if (k < 0) {
		free(buf);
		return -EIO;
	}
	/* EVP_DecodeBlock counts the padding's zero bytes: take them off. */
	if (n >= 1 && s[n - 1] == '=')
		k--;
	if (n >= 2 && s[n - 2] == '=')
		k--;
	buf[k] = '\0';
	*out = buf;
	*len = (size_t)k;
	return 0;
}

int64_t etcd_num(json_t *o, const char *field)
{
	json_t *v = json_object_get(o, field);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return 0;
}

int etcd_kv_parse(json_t *o, struct etcd_kv *kv)
{
	const char *k = json_string_value(json_object_get(o, "key"));
	const char *v = json_string_value(json_object_get(o, "value"));
	size_t klen;
	int rc;

	memset(kv, 0, sizeof(*kv));
	rc = b64_decode(k ? k : "", &kv->key, &klen);
	if (!rc)
		rc = b64_decode(v ? v : "", &kv->value, &kv->value_len);
	if (rc) {
		etcd_kv_clear(kv);
		return etcd_fail(rc, "etcd answered a key or value that is not base64");
	}
	kv->create_rev = etcd_num(o, "create_revision");
	kv->mod_rev = etcd_num(o, "mod_revision");
	kv->version = etcd_num(o, "version");
	kv->lease = etcd_num(o, "lease");
	return 0;
}

void etcd_kv_clear(struct etcd_kv *kv)
{
	if (!kv)
		return;
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

/* --- transport --------------------------------------------------------------------------- */

struct sink_state {
	etcd_sink sink;
	void *arg;
	int stopped;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink_state *s = arg;
	size_t n = size * nmemb;

	s->stopped = s->sink(p, n, s->arg);
	return s->stopped ? 0 : n;
}

static int curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST: return -EHOSTUNREACH;
	case CURLE_SEND_ERROR: case CURLE_RECV_ERROR: case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_OUT_OF_MEMORY: return -ENOMEM;
	default: return -EIO;
	}
}

/* The members' connections are kept open between calls (HTTP/1.1 keep-alive): a new TCP
 * connection per call cost each call its connect and etcd's accept of it (about a third of
 * a small read's round trip here). A curl handle keeps the connections it made; a call takes
 * an idle handle of the pool (or makes one) and gives it back after, so each connection
 * serves one call at a time. A reused connection that the member closed meanwhile (killed,
 * restarted) is seen by curl, which connects again; the call's timeout bounds the rest as
 * before. */
static CURL *handle_take(struct etcd *e)
{
	CURL *h = NULL;

	pthread_mutex_lock(&e->pool_mu);
	if (e->npool)
		h = e->pool[--e->npool];
	pthread_mutex_unlock(&e->pool_mu);
	if (!h)
		return curl_easy_init();
	curl_easy_reset(h);     /* (its options go; its connections stay) */
	return h;
}

static void handle_give(struct etcd *e, CURL *h)
{
	pthread_mutex_lock(&e->pool_mu);
	if (e->npool < ETCD_POOL) {
		e->pool[e->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&e->pool_mu);
	if (h)
		curl_easy_cleanup(h);
}

/* A member's connect fails within CONNECT_MS(timeout) (then the call goes to the next). */
#define CONNECT_MS(t) ((t) < 1000 ? (t) : 1000)

/* The connections outlive the call: close-on-exec from their making, so that no process
 * the server starts (a VM's monitor, a hook's command) inherits a connection to etcd.
 * A kept connection to a member that was cut off (a link down: no FIN, no RST) takes a
 * call's request as if all was well and nothing comes back: a new connection would have
 * failed its connect within CONNECT_MS, the kept one would hold the call its whole timeout
 * (5 s for the inventory's) before the next member is tried. So what is sent must be
 * acknowledged (by the member's kernel, not by etcd: a slow answer is not at stake) within
 * that same bound, else the kernel drops the connection (TCP_USER_TIMEOUT) and the call
 * moves on as from a failed connect. */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct etcd *e = arg;
	unsigned ms = CONNECT_MS(e->timeout_ms);
	curl_socket_t s;

	(void)purpose;
	s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (s >= 0 && (a->family == AF_INET || a->family == AF_INET6) &&
	    a->socktype == SOCK_STREAM)
		setsockopt(s, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
	return s;
}

int etcd_post(struct etcd *e, int idx, const char *path, const char *body, unsigned timeout_ms,
	      etcd_sink sink, void *arg, long *http)
{
	struct sink_state st = { sink, arg, 0 };
	struct curl_slist *hdr = NULL, *h2;
	char url[600];
	CURLcode cc;
	CURL *h;
	int rc = 0;

	snprintf(url, sizeof(url), "%s%s", e->ep[idx], path);
	h = handle_take(e);
	if (!h)
		return etcd_fail(-ENOMEM, "etcd %s: cannot make a curl handle", url);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	/* no "Expect: 100-continue" (curl's for a body over 1 KiB): it waits for etcd's
	 * "100 Continue" before sending the body, a round trip more for a big Txn */
	h2 = hdr ? curl_slist_append(hdr, "Expect:") : NULL;
	if (!h2) {
		curl_slist_free_all(hdr);
		handle_give(e, h);
		return etcd_fail(-ENOMEM, "etcd %s: out of memory", url);
	}
	hdr = h2;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, e);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_MS(timeout_ms));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
	cc = curl_easy_perform(h);
	if (trace_on()) {
		curl_off_t total = 0, first = 0;
		long connects = 0;

		curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &total);
		curl_easy_getinfo(h, CURLINFO_STARTTRANSFER_TIME_T, &first);
		curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
		post_stat.perform_ms = total / 1e3;
		post_stat.first_byte_ms = first / 1e3;
		post_stat.connects = connects;
	}
	if (st.stopped)
		rc = st.stopped;
	else if (cc != CURLE_OK)
		rc = etcd_fail(curl_errno(cc), "etcd %s: %s", e->ep[idx], curl_easy_strerror(cc));
	else
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, http);
	curl_slist_free_all(hdr);
	handle_give(e, h);
	return rc;
}

int etcd_error(struct etcd *e, int idx, long http, json_t *ans, bool *retry)
{
	json_t *inner = json_object_get(ans, "error");
	const char *msg;
	int64_t code;
	int err;

	/* Unary calls answer {"code", "message"}; streamed ones {"error": {"grpc_code", ...}}. */
	if (json_is_object(inner))
		ans = inner;
	msg = json_string_value(json_object_get(ans, "message"));
	code = json_object_get(ans, "grpc_code") ? etcd_num(ans, "grpc_code") : etcd_num(ans, "code");

	*retry = false;
	if (!msg)
		msg = json_string_value(json_object_get(ans, "error"));
	if (!msg)
		msg = "no message";
	switch (code) {             /* gRPC status codes */
	case 3: err = -EINVAL; break;           /* InvalidArgument */
	case 4: err = -ETIMEDOUT; *retry = true; break;     /* DeadlineExceeded */
	case 5: err = -ENOENT; break;           /* NotFound */
	case 6: err = -EEXIST; break;           /* AlreadyExists */
	case 7: case 16: err = -EACCES; break;  /* PermissionDenied, Unauthenticated */
	case 8: err = -ENOSPC; break;           /* ResourceExhausted (quota) */
	case 14:                                /* Unavailable */
		err = strstr(msg, "timed out") ? -ETIMEDOUT : -ENOTCONN;
		*retry = true;
		break;
	default: err = -EIO; *retry = http >= 500; break;
	}
	return etcd_fail(err, "etcd %s: %s (HTTP %ld, code %lld)", e->ep[idx], msg, http,
			 (long long)code);
}

struct buf {
	char *p;
	size_t n, cap;
};

static int buf_sink(const char *p, size_t n, void *arg)
{
	struct buf *b = arg;

	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *q;

		if (cap > (256u << 20))
			return -EFBIG;
		q = realloc(b->p, cap);
		if (!q)
			return -ENOMEM;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

/* --- the leader -------------------------------------------------------------------------- */

/* Each call goes to the member that answered last. A linearizable read on a follower costs
 * a round of its own to the leader (ReadIndex): about 0.3 ms of a small read's 1.7 here
 * (three members on one machine). So the client talks to the leader when one of its
 * endpoints is the leader's: it looks at its first call, again a minute later (elections
 * move it), and soon after a call had to go to another member (the one it talked to failed,
 * maybe the leader). Not a call of the request (no trace, not in etcd_thread_calls); a
 * failure leaves the member as it was. */
#define LEADER_RECHECK_MS 60000
#define LEADER_AFTER_FAILOVER_MS 2000

#define LEADER_ASK_MS 500        /* (a member that does not answer soon: left as it is) */

/* POST body to member idx's path: its JSON answer (json_decref it), or NULL. */
static json_t *ask(struct etcd *e, int idx, const char *path, const char *body)
{
	struct buf b = { 0 };
	json_t *ans = NULL;
	long http = 0;

	if (!etcd_post(e, idx, path, body, e->timeout_ms < LEADER_ASK_MS ? e->timeout_ms :
		       LEADER_ASK_MS, buf_sink, &b, &http) && http == 200)
		ans = json_loadb(b.p ? b.p : "", b.n, 0, NULL);
	free(b.p);
	return ans;
}

/* The index of the endpoint of the member whose ID is id (a decimal string), or -1. */
static int endpoint_of(struct etcd *e, json_t *members, const char *id)
{
	json_t *m, *u;
	size_t i, j;
	int k;

	json_array_foreach(members, i, m) {
		if (strcmp(json_string_value(json_object_get(m, "ID")) ?: "", id))
			continue;
		json_array_foreach(json_object_get(m, "clientURLs"), j, u)
			for (k = 0; k < e->nep; k++)
				if (json_is_string(u) && !strcmp(json_string_value(u), e->ep[k]))
					return k;
	}
	return -1;
}

static void leader_find(struct etcd *e)
{
	int idx = atomic_load(&e->cur) % e->nep, k;
	json_t *st = ask(e, idx, "/v3/maintenance/status", "{}"), *ml = NULL;
	const char *me = json_string_value(json_object_get(json_object_get(st, "header"),
							   "member_id"));
	const char *lead = json_string_value(json_object_get(st, "leader"));

	if (me && lead && strcmp(me, lead) && strcmp(lead, "0") &&
	    (ml = ask(e, idx, "/v3/cluster/member/list", "{}")) &&
	    (k = endpoint_of(e, json_object_get(ml, "members"), lead)) >= 0) {
		/* only a leader that answers this host: one cut off from it alone (its peers
		 * still reach it) would take every call back to a wait for it, again 2 s after
		 * each move away */
		json_t *ls = ask(e, k, "/v3/maintenance/status", "{}");

		if (ls)
			atomic_store(&e->cur, k);
		json_decref(ls);
	}
	json_decref(st);
	json_decref(ml);
}

/* Look for the leader when it is time (one thread at a time). */
static void leader_maybe(struct etcd *e)
{
	long long next = atomic_load(&e->leader_next), now = (long long)now_ms();

	if (next < 0 || now < next || e->nep < 2 ||
	    !atomic_compare_exchange_strong(&e->leader_next, &next, -1))
		return;
	leader_find(e);
	atomic_store(&e->leader_next, (long long)now_ms() + LEADER_RECHECK_MS);
}

/* A call went to member idx instead of first (first failed): the leader may have moved. */
static void leader_soon(struct etcd *e)
{
	long long next = atomic_load(&e->leader_next), soon = (long long)now_ms() +
							  LEADER_AFTER_FAILOVER_MS;

	if (next > soon)
		atomic_compare_exchange_strong(&e->leader_next, &next, soon);
}

int etcd_call(struct etcd *e, const char *path, json_t *body, json_t **out)
{
	double t0 = trace_on() ? now_ms() : 0;
	char *text = json_dumps(body, JSON_COMPACT), best_msg[sizeof(errmsg)] = "";
	int first = atomic_load(&e->cur), i, rc = -EIO, best = 0;

	if (!text)
		return etcd_fail(-ENOMEM, "etcd %s: cannot encode the request", path);
	/* not before a lease's renewal: the look (up to 1.5 s with slow members) would eat
	 * into the margin the lease's watchdog keeps (a TTL of 3 s at least) */
	if (strcmp(path, "/v3/lease/keepalive"))
		leader_maybe(e);
	first = atomic_load(&e->cur);
	thread_calls++;
	post_stat.connects = -1;
	for (i = 0; i < e->nep; i++) {
		int idx = (first + i) % e->nep;
		struct buf b = { 0 };
		json_error_t jerr;
		long http = 0;
		bool retry;
		json_t *ans;

		rc = etcd_post(e, idx, path, text, e->timeout_ms, buf_sink, &b, &http);
		if (rc) {
			free(b.p);
			if (rc == -ENOMEM || rc == -EFBIG)
				break;
			/* The answer of all failed members is the most telling one: a member that
			 * timed out or has no leader says more than one that is down. */
			if (!best || (best == -ECONNREFUSED || best == -EHOSTUNREACH)) {
				best = rc;
				snprintf(best_msg, sizeof(best_msg), "%s", errmsg);
			}
			continue;       /* transport failure: the next member */
		}
		ans = json_loadb(b.p ? b.p : "", b.n, 0, &jerr);
		free(b.p);
		if (!json_is_object(ans)) {
			json_decref(ans);
			rc = etcd_fail(-EIO, "etcd %s%s: HTTP %ld with an answer that is not a JSON "
				       "object", e->ep[idx], path, http);
			continue;
		}
		if (http == 200 && !json_object_get(ans, "error")) {
			atomic_store(&e->cur, idx);
			if (i)
				leader_soon(e);
			if (t0)
				trace_call(path, body, ans, now_ms() - t0, strlen(text));
			free(text);
			*out = ans;
			return 0;
		}
		rc = etcd_error(e, idx, http, ans, &retry);
		json_decref(ans);
		if (!retry)
			break;
		if (!best || best == -ECONNREFUSED || best == -EHOSTUNREACH || rc == -ENOTCONN) {
			best = rc;
			snprintf(best_msg, sizeof(best_msg), "%s", errmsg);
		}
	}
	if (t0)
		trace_call(path, body, NULL, now_ms() - t0, strlen(text));
	free(text);
	if (best && i == e->nep) {
		rc = best;
		snprintf(errmsg, sizeof(errmsg), "%s", best_msg);
	}
	return rc;
}

int etcd_call_req(struct etcd *e, const char *path, json_t *req, json_t **ans)
{
	int rc;

	if (!req)
		return -ENOMEM;
	rc = etcd_call(e, path, req, ans);
	json_decref(req);
	return rc;
}
