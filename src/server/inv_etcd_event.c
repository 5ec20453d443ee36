/* The inventory's events on etcd: rows events/ID {time, type, object_type, object, user,
 * message, data}, the log the event list and the streams follow (api_event.c: "the events
 * after id N").
 *
 * Ids in commit order. A follower reads the events after the last id it saw, so an event
 * must never commit after one with a higher id became visible, or the follower would skip
 * it for good. On SQLite the writers are serialised; on etcd transactions commit in any
 * order. So an event recorded in a transaction takes its id in the commit's own Txn
 * (etcd_txn_take_ids: the counter PREFIX "id/events" compared on its revision and raised,
 * the event's row put at the new id; a commit that met only the counter moved is sent
 * again from its new value): ids are given in commit order, the row shows with its
 * commit, and inv_event_add's then learns the id after it (ie_events_commit,
 * ie_events_done). An event recorded outside a transaction is one such commit of its own
 * (add_now).
 *
 * Past IE_PEV events in one transaction (and a server of before this scheme on the same
 * inventory), an id is taken together with a reservation: one etcd Txn raises the counter
 * PREFIX "id/events" (compare-and-swap on its revision, as etcd_next_id) and puts a
 * placeholder row {"pending": true} at events/ID, attached to a short lease; the event's
 * own row replaces it at the commit of the session's writes (a put without lease detaches
 * it). Readers treat a placeholder as "in flight": inv_event_each stops before the first
 * one (the events after it wait until it commits or goes), inv_event_last answers below
 * it, inv_event_exists says 0. A transaction that is rolled back leaves its placeholder to
 * the lease: followers wait for the events after it at most PENDING_TTL seconds (an own
 * write that fails deletes it at once). An id nobody holds any more (a placeholder gone,
 * an event dropped) is a gap the readers pass. A placeholder lives at least
 * PENDING_TTL - PENDING_REUSE seconds: a transaction must commit within that of recording
 * its event, else a follower may have passed its id.
 *
 * Retention (inv_event_drop_upto, inv_event_drop_before) deletes at once, outside the
 * caller's transaction: dropping old events is housekeeping, and done so it never
 * conflicts with another writer's; it ends before the first event in flight. The rows
 * events_born of the creations it dropped go after (ie_born_prune). */
#include "server/inv_etcd_direct.h"
#include "server/etcd_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PENDING_TTL 15      /* seconds a placeholder's lease lives */
#define PENDING_REUSE 5     /* a lease takes placeholders for this long after its grant */
#define LAST_WINDOW 256     /* inv_event_last looks for placeholders among the newest ids */

/* The lease of the placeholders, per store (the store's address; one at a time here). */
static struct {
	pthread_mutex_t lock;
	const void *store;
	int64_t lease;
	time_t granted;
} pend = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int pending_lease(struct dbc *c, bool fresh, int64_t *lease)
{
	time_t now = time(NULL);
	int rc = 0;

	pthread_mutex_lock(&pend.lock);
	if (fresh || pend.store != ie_store(c) || !pend.lease || now - pend.granted >= PENDING_REUSE) {
		rc = etcd_lease_grant(ie_store(c)->e, PENDING_TTL, &pend.lease, NULL);
		pend.store = rc ? NULL : ie_store(c);
		pend.granted = now;
	}
	*lease = pend.lease;
	pthread_mutex_unlock(&pend.lock);
	return rc ? ied_fail(rc, "a lease for events") : 0;
}

static const char pending_row[] = "{\"pending\":true}";

/* Take the next event id and put its placeholder, in one Txn. The counter's value is the
 * one this client saw last (etcd_counter_hint: no read while this host alone writes
 * events); when it has moved, the failed Txn's answer has it as it is, for the next try. */
static int reserve(struct dbc *c, int64_t *id)
{
	struct etcd *e = ie_store(c)->e;
	char *ckey = NULL, *ekey = NULL, ik[21], num[24];
	int64_t lease, cur = 0, rev = 0;
	bool known = false;
	int tries, rc = asprintf(&ckey, "%sid/events", ie_store(c)->prefix) < 0 ? -ENOMEM : 0;

	if (!rc)
		known = etcd_counter_hint(e, ckey, &cur, &rev);
	for (tries = 0; !rc && tries < 200; tries++) {
		struct etcd_kv kv = { 0 };
		int64_t next;
		json_t *req, *ans = NULL, *kvs;

		if (!known) {
			rc = etcd_get(e, ckey, &kv);
			cur = rc ? 0 : strtoll(kv.value, NULL, 10);
			rev = rc ? 0 : kv.mod_rev;
			if (rc == -ENOENT)
				rc = 0;
			etcd_kv_clear(&kv);
			if (rc)
				break;
		}
		next = cur + 1;
		rc = pending_lease(c, tries > 0 && tries % 50 == 0, &lease);
		if (rc)
			break;
		free(ekey);
		ekey = ied_key(c, "events", ie_id_key(next, ik));
		snprintf(num, sizeof(num), "%lld", (long long)next);
		req = !ekey ? NULL :
		      json_pack("{s:[{s:o*,s:s,s:s,s:o*}],s:[{s:{s:o*,s:o*}},{s:{s:o*,s:o*,s:o*}}],"
				"s:[{s:{s:o*}}]}",
				"compare", "key", etcd_b64s(ckey), "target", "MOD", "result", "EQUAL",
				"mod_revision", json_sprintf("%lld", (long long)rev),
				"success", "request_put", "key", etcd_b64s(ckey), "value", etcd_b64s(num),
				"request_put", "key", etcd_b64s(ekey), "value", etcd_b64s(pending_row),
				"lease", json_sprintf("%lld", (long long)lease),
				"failure", "request_range", "key", etcd_b64s(ckey));
		rc = etcd_call_req(e, "/v3/kv/txn", req, &ans);
		known = false;
		if (rc == -ENOENT) {
			/* the lease has gone (etcd restarted, or it expired early): a new one */
			pthread_mutex_lock(&pend.lock);
			pend.lease = 0;
			pthread_mutex_unlock(&pend.lock);
			rc = 0;
		} else if (!rc && json_is_true(json_object_get(ans, "succeeded"))) {
			etcd_counter_seen(e, ckey, next, etcd_num(json_object_get(ans, "header"),
								  "revision"));
			*id = next;
			json_decref(ans);
			goto out;
		} else if (!rc) {
			/* the counter as it is now (the failure's range), for the next try */
			kvs = json_object_get(json_object_get(json_array_get(json_object_get(ans,
					      "responses"), 0), "response_range"), "kvs");
			if (json_array_size(kvs) && !etcd_kv_parse(json_array_get(kvs, 0), &kv)) {
				cur = strtoll(kv.value, NULL, 10);
				rev = kv.mod_rev;
				known = true;
			}
			etcd_kv_clear(&kv);
		}
		json_decref(ans);
	}
	if (ckey)
		etcd_counter_seen(e, ckey, 0, 0);
	if (!rc)
		rc = etcd_fail(-EAGAIN, "etcd: the events counter: too many conflicts");
	rc = ied_fail(rc, "an event id");
out:
	free(ckey);
	free(ekey);
	return rc;
}

/* --- the newest creation of each name: rows events_born/TYPE/NAME {"id": ID} ------------- */

char *ie_born_key(const char *type, const char *otype, const char *name, bool *oom)
{
	size_t n = otype ? strlen(otype) : 0;
	char *k = NULL;

	*oom = false;
	if (!n || !name || !type || strncmp(type, otype, n) || strcmp(type + n, INV_EVENT_CREATED))
		return NULL;
	if (asprintf(&k, "%s/%s", otype, name) < 0) {
		*oom = true;
		return NULL;
	}
	return k;
}

/* In the event's write: the name's newest creation is event id (a creation event e). */
static int born_put(struct dbc *c, const struct inv_event *e, int64_t id)
{
	bool oom;
	char *k = ie_born_key(e->type, e->object_type, e->object, &oom);
	json_t *row;
	int rc;

	if (!k)
		return oom ? -ENOMEM : 0;
	row = json_pack("{s:I}", "id", (json_int_t)id);
	rc = row ? ie_row_put(c, "events_born", k, row, 0) : -ENOMEM;
	json_decref(row);
	free(k);
	return rc;
}

int inv_etcd_event_born(struct dbc *c, struct inv_born *names, size_t n)
{
	struct etcd_probe *r;
	size_t i;
	int rc = 0;

	if (!n)
		return 0;
	r = calloc(n, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (i = 0; !rc && i < n; i++) {
		char *k = NULL;

		names[i].born = 0;
		if (asprintf(&k, "%st/events_born/%s/%s", ie_store(c)->prefix, names[i].object_type,
			     names[i].object) < 0)
			rc = -ENOMEM;
		else
			r[i].key = k;
	}
	/* the keys in one Txn (128 a Txn) */
	if (!rc)
		rc = etcd_probe_many(ie_store(c)->e, r, n);
	if (rc && rc != -ENOMEM)
		rc = ied_fail(rc, "the names' creation events");
	for (i = 0; i < n; i++) {
		if (!rc && r[i].count) {
			json_t *row = NULL;

			rc = ie_row_parse(r[i].kv.key, r[i].kv.value, r[i].kv.value_len, &row);
			names[i].born = rc ? 0 : ie_int(row, "id");
			json_decref(row);
		}
		etcd_kv_clear(&r[i].kv);
		free((char *)r[i].key);
	}
	free(r);
	return rc;
}

/* The full key of e's row events_born/TYPE/NAME (malloc'd) when e is a creation, else NULL
 * (*oom set when memory ran out). */
static char *born_full_key(struct dbc *c, const struct inv_event *e, bool *oom)
{
	char *k = ie_born_key(e->type, e->object_type, e->object, oom), *full;

	if (!k)
		return NULL;
	full = ie_full_key(c, "t", "events_born", k);
	free(k);
	*oom = !full;
	return full;
}

/* The full key prefix of the events' rows and the counter's key (malloc'd: free them). */
static int event_keys(struct dbc *c, char **prefix, char **ckey)
{
	*prefix = *ckey = NULL;
	if (asprintf(prefix, "%st/events/", ie_store(c)->prefix) < 0)
		*prefix = NULL;
	if (asprintf(ckey, "%sid/events", ie_store(c)->prefix) < 0)
		*ckey = NULL;
	if (*prefix && *ckey)
		return 0;
	free(*prefix);
	free(*ckey);
	return -ENOMEM;
}

int ie_events_commit(struct dbc *c, struct etcd_txn *t)
{
	struct inv_etcd_sess *s = ie_sess(c);
	char *vals[IE_PEV] = { NULL }, *born[IE_PEV], *prefix, *ckey;
	int i, rc;

	if (!s->npev)
		return 0;
	rc = event_keys(c, &prefix, &ckey);
	for (i = 0; !rc && i < s->npev; i++) {
		if (!(vals[i] = json_dumps(s->pev[i].row, JSON_COMPACT)))
			rc = -ENOMEM;
		born[i] = s->pev[i].born;
	}
	if (!rc)
		rc = etcd_txn_take_ids(t, ckey, prefix, vals, born, (size_t)s->npev,
				       &s->pev_first);
	for (i = 0; i < s->npev; i++)
		free(vals[i]);
	free(prefix);
	free(ckey);
	return rc;
}

void ie_events_done(struct dbc *c, int rc)
{
	struct inv_etcd_sess *s = ie_sess(c);
	int i, n = s->npev;

	s->npev = 0;
	for (i = 0; i < n; i++) {
		json_decref(s->pev[i].row);
		free(s->pev[i].born);
		if (s->pev[i].then)
			s->pev[i].then(rc ? 0 : s->pev_first + i, s->pev[i].arg);
	}
	s->pev_first = 0;
}

/* Outside a transaction: row committed at once, its id taken in the same Txn (and put at
 * born, its name's newest creation, unless NULL). */
static int add_now(struct dbc *c, json_t *row, char *born, int64_t *id)
{
	char *v = json_dumps(row, JSON_COMPACT), *prefix = NULL, *ckey = NULL;
	struct etcd_txn *t = NULL;
	int rc = v ? event_keys(c, &prefix, &ckey) : -ENOMEM;

	if (!rc)
		rc = etcd_txn_begin(ie_store(c)->e, &t);
	if (!rc)
		rc = etcd_txn_take_ids(t, ckey, prefix, &v, &born, 1, id);
	if (!rc) {
		rc = ie_etcd_err(etcd_txn_commit(t, NULL), "commit", ckey);
		t = NULL;
		if (!rc)
			atomic_fetch_add(&ie_store(c)->gen, 1);
	}
	etcd_txn_abort(t);
	free(v);
	free(prefix);
	free(ckey);
	return rc;
}

int inv_etcd_event_add(struct dbc *c, const struct inv_event *e, int64_t *id,
		       inv_event_fn *then, void *arg)
{
	struct inv_etcd_sess *s = ie_sess(c);
	json_t *row = json_pack("{s:f,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?}", "time", e->time, "type",
				e->type, "object_type", e->object_type, "object", e->object,
				"user", e->user, "message", e->message, "data", e->data);
	int64_t nid = 0;
	char key[21], *born;
	bool own, oom;
	int rc;

	if (!row)
		return -ENOMEM;
	/* SQLite's NOT NULL columns */
	if (!e->type || !e->message) {
		json_decref(row);
		return -EEXIST;
	}
	*id = 0;
	born = born_full_key(c, e, &oom);
	if (oom) {
		json_decref(row);
		return -ENOMEM;
	}
	/* its id taken by the commit, in its Txn (no round trip of its own); a creation's
	 * name's row events_born too */
	if (s->t && s->npev < IE_PEV) {
		s->pev[s->npev++] = (struct ie_pev){ row, born, then, arg };
		return 0;
	}
	if (!s->t) {
		rc = add_now(c, row, born, &nid);
		free(born);
		json_decref(row);
		if (!rc) {
			*id = nid;
			if (then)
				then(nid, arg);
		}
		return rc;
	}
	/* more events than a commit takes ids for: a reservation (a placeholder) */
	free(born);
	rc = reserve(c, &nid);
	if (!rc)
		rc = ie_write_begin(c, &own);
	if (!rc) {
		rc = ie_row_put(c, "events", ie_id_key(nid, key), row, 0);
		if (!rc)
			rc = born_put(c, e, nid);
		rc = ie_write_end(c, own, rc);
		if (rc && own)
			ied_delete_range(c, "events", key, ie_id_key(nid + 1, (char[21]){ 0 }));
	}
	if (!rc && !own && ie_sess(c)->nev < (int)(sizeof(ie_sess(c)->ev) /
						   sizeof(ie_sess(c)->ev[0])))
		ie_sess(c)->ev[ie_sess(c)->nev++] = nid;
	if (!rc)
		*id = nid;
	if (!rc && then)
		then(nid, arg);
	json_decref(row);
	return rc;
}

void ie_events_unreserve(struct dbc *c, bool done)
{
	struct inv_etcd_sess *s = ie_sess(c);
	char from[21], to[21];
	int i;

	for (i = 0; !done && i < s->nev; i++)
		ied_delete_range(c, "events", ie_id_key(s->ev[i], from), ie_id_key(s->ev[i] + 1, to));
	s->nev = 0;
}

int inv_etcd_event_exists(struct dbc *c, int64_t id)
{
	json_t *row;
	int rc = ie_row_get_id(c, "events", id, &row, NULL);

	if (rc)
		return rc == -ENOENT ? 0 : rc;
	rc = !ie_bool(row, "pending");
	json_decref(row);
	return rc;
}

/* The committed events of a range: [id, row] pairs; the first placeholder's id. */
struct span {
	json_t *a;
	int64_t pending;        /* 0: none */
	bool stop;              /* stop at the first placeholder */
};

static int span_row(const char *key, json_t *row, uint64_t rev, int64_t lease, void *arg)
{
	struct span *s = arg;
	int64_t id = strtoll(key, NULL, 10);

	(void)rev;
	if (lease || ie_bool(row, "pending")) {
		if (!s->pending)
			s->pending = id;
		return s->stop ? 1 : 0;
	}
	if (s->pending)
		return 0;
	return json_array_append_new(s->a, json_pack("[I,O]", (json_int_t)id, row)) ? -ENOMEM : 0;
}

/* The events with ids lo..hi (inclusive) into s. */
static int read_span(struct dbc *c, int64_t lo, int64_t hi, int64_t limit, struct span *s)
{
	char from[21], to[21];
	int rc;

	if (lo < 1)
		lo = 1;
	ie_id_key(lo, from);
	ie_id_key(hi < INT64_MAX ? hi + 1 : INT64_MAX, to);
	rc = ied_range(c, "events", from, to, limit, span_row, s);
	return rc == 1 ? 0 : rc;
}

/* The counter's value: the last id taken (0: none). */
static int last_taken(struct dbc *c, int64_t *id)
{
	struct etcd_kv kv = { 0 };
	char *ckey;
	int rc;

	if (asprintf(&ckey, "%sid/events", ie_store(c)->prefix) < 0)
		return -ENOMEM;
	rc = etcd_get(ie_store(c)->e, ckey, &kv);
	free(ckey);
	*id = rc ? 0 : strtoll(kv.value, NULL, 10);
	etcd_kv_clear(&kv);
	return rc == -ENOENT ? 0 : rc ? ied_fail(rc, "the events counter") : 0;
}

/* inv_etcd_event_last: the newest committed id below the first placeholder. */
struct last {
	int64_t id, pending;
};

static int last_key(const char *key, json_t *row, uint64_t rev, int64_t lease, void *arg)
{
	struct last *l = arg;

	(void)row;
	(void)rev;
	if (lease) {
		l->pending = strtoll(key, NULL, 10);
		return 1;
	}
	l->id = strtoll(key, NULL, 10);
	return 0;
}

int inv_etcd_event_last(struct dbc *c, int64_t *id)
{
	struct last l = { 0 };
	char from[21], to[21];
	int64_t taken;
	int rc = last_taken(c, &taken);

	/* keys alone: a placeholder is the row with a lease */
	if (!rc && taken) {
		ie_id_key(taken > LAST_WINDOW ? taken - LAST_WINDOW + 1 : 1, from);
		rc = ied_range_keys(c, "events", from, ie_id_key(taken + 1, to), 0, last_key, &l);
	}
	if (rc < 0)
		return rc;
	/* with neither in the window, the events were dropped: 0 as SQLite */
	*id = l.id ? l.id : l.pending ? l.pending - 1 : 0;
	return 0;
}

static int first_row(const char *key, json_t *row, uint64_t rev, int64_t lease, void *arg)
{
	(void)row;
	(void)rev;
	(void)lease;
	*(int64_t *)arg = strtoll(key, NULL, 10);
	return 1;
}

/* The newest limit committed events up to id last, oldest first, into a. */
static int newest(struct dbc *c, int64_t last, int64_t limit, json_t *a)
{
	int64_t first = 0, hi = last, need = limit;
	int rc = ied_range(c, "events", "", NULL, 1, first_row, &first);

	if (rc < 0)
		return rc;
	while (need > 0 && first && hi >= first) {
		struct span s = { .a = json_array() };
		int64_t lo = hi - need + 1 > first ? hi - need + 1 : first;

		if (!s.a)
			return -ENOMEM;
		rc = read_span(c, lo, hi, 0, &s);
		/* a = s.a + a */
		if (!rc && (json_array_extend(s.a, a) || json_array_clear(a) ||
			    json_array_extend(a, s.a)))
			rc = -ENOMEM;
		need = limit - (int64_t)json_array_size(a);
		json_decref(s.a);
		if (rc)
			return rc;
		hi = lo - 1;
	}
	return 0;
}

int inv_etcd_event_each(struct dbc *c, int64_t after, int64_t limit,
			int (*fn)(const struct inv_event *e, void *arg), void *arg)
{
	struct span s = { .a = json_array(), .stop = true };
	json_t *p;
	size_t i;
	int rc = s.a ? 0 : -ENOMEM;

	if (!rc && limit > 0) {
		if (after >= 0) {
			rc = after < INT64_MAX ? read_span(c, after + 1, INT64_MAX, limit, &s) : 0;
		} else {
			int64_t last;

			rc = inv_etcd_event_last(c, &last);
			if (!rc && last)
				rc = newest(c, last, limit, s.a);
		}
	}
	json_array_foreach(s.a, i, p) {
		json_t *row = json_array_get(p, 1);
		struct inv_event e = {
			.id = json_integer_value(json_array_get(p, 0)),
			.time = ie_real(row, "time"),
			.type = ie_str(row, "type"),
			.object_type = ie_str(row, "object_type"),
			.object = ie_str(row, "object"),
			.user = ie_str(row, "user"),
			.message = ie_str(row, "message"),
			.data = ie_str(row, "data"),
		};

		if (rc)
			break;
		rc = fn(&e, arg);
	}
	json_decref(s.a);
	return rc;
}

/* inv_etcd_event_drop_upto: the first placeholder among the ids to drop (its key). */
static int first_pending(const char *key, json_t *row, uint64_t rev, int64_t lease, void *arg)
{
	(void)row;
	(void)rev;
	if (!lease)
		return 0;
	snprintf(arg, 21, "%s", key);
	return 1;
}

/* An event in flight stays (a follower must not pass its id before it commits): the drop
 * ends before the first placeholder. */
int inv_etcd_event_drop_upto(struct dbc *c, int64_t upto)
{
	char to[21], pending[21] = "";
	int rc;

	if (upto < 1)
		return 0;
	ie_id_key(upto < INT64_MAX ? upto + 1 : INT64_MAX, to);
	rc = ied_range_keys(c, "events", "", to, 0, first_pending, pending);
	if (rc < 0)
		return rc;
	rc = ied_delete_range(c, "events", "", pending[0] ? pending : to);
	return rc ? rc : ie_born_prune(c, strtoll(pending[0] ? pending : to, NULL, 10));
}

/* inv_etcd_event_drop_before: the first event at or after a time (or in flight). */
struct young {
	double before;
	int64_t id, next;
};

static int young_row(const char *key, json_t *row, uint64_t rev, int64_t lease, void *arg)
{
	struct young *y = arg;
	int64_t id = strtoll(key, NULL, 10);

	(void)rev;
	y->next = id + 1;
	if (lease || ie_bool(row, "pending") || ie_real(row, "time") >= y->before) {
		y->id = id;
		return 1;
	}
	return 0;
}

int inv_etcd_event_drop_before(struct dbc *c, double before)
{
	struct young y = { .before = before, .next = 1 };
	char from[21], to[21];
	int rc;

	for (;;) {
		int64_t at = y.next;

		rc = ied_range(c, "events", ie_id_key(at, from), NULL, 200, young_row, &y);
		if (rc < 0)
			return rc;
		if (y.id || y.next == at)
			break;      /* found, or no event after at */
	}
	/* no event at or after before: none goes (SQLite's id < NULL) */
	rc = y.id > 1 ? ied_delete_range(c, "events", "", ie_id_key(y.id, to)) : 0;
	return rc || y.id <= 1 ? rc : ie_born_prune(c, y.id);
}
