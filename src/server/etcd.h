/* A client of etcd v3 over its documented JSON gateway (POST /v3/kv/range, /v3/kv/put,
 * /v3/kv/deleterange, /v3/kv/txn, /v3/lease/grant|keepalive|revoke, /v3/watch), on libcurl
 * and jansson. Keys and values travel base64-encoded (OpenSSL's codec); 64-bit numbers
 * come back as JSON strings.
 *
 * Endpoints and failover. A client knows several members ("http://A:2379,http://B:2379").
 * A call goes to the member that answered last; when that member cannot be reached
 * (refused, reset, timed out) or says it is unavailable (no leader, request timed out), the
 * same call is tried on the next member, each member at most once. Every attempt is bounded
 * by the client's timeout (connect: at most 1 s of it), so a call returns within
 * members x timeout, never hangs. Calls are safe from several threads at once (one curl
 * handle per call).
 *
 * Errors: 0 or -errno: -ECONNREFUSED (no member listens), -ETIMEDOUT (no answer in time,
 * or etcd's own "request timed out": typically quorum lost), -ENOTCONN (the member has no
 * leader), -ECONNRESET, -EHOSTUNREACH, -ENOENT (no such key or lease), -EEXIST (a
 * create-if-absent lost), -EAGAIN (a compare-and-swap lost), -EINVAL, -EACCES, -EIO. The
 * last failure's text (etcd's message or curl's, with the endpoint) is kept per thread:
 * etcd_errmsg(). */
#ifndef VSRV_SERVER_ETCD_H
#define VSRV_SERVER_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct etcd;

/* One key-value as etcd returns it. key and value are NUL-terminated copies owned by the
 * struct (value may hold NULs too: value_len counts them); etcd_kv_clear frees them. */
struct etcd_kv {
	char *key;
	char *value;
	size_t value_len;
	int64_t create_rev, mod_rev, version, lease;
};
void etcd_kv_clear(struct etcd_kv *kv);

/* A client of the members listed in endpoints (comma-separated http:// or https:// URLs,
 * at most 16), each attempt bounded by timeout_ms (100 ms to 10 min). 0 and *out (free
 * with etcd_close), -EINVAL for a bad list, -ENOMEM. Nothing is contacted yet. */
int etcd_open(const char *endpoints, unsigned timeout_ms, struct etcd **out);
void etcd_close(struct etcd *e);

/* The endpoints as given, and the one the next call goes to first. */
const char *etcd_endpoints(const struct etcd *e);
const char *etcd_current(const struct etcd *e);

/* The text of this thread's last failed call ("" when none). */
const char *etcd_errmsg(void);

/* One gateway call: POST path with body (a reference is taken: the caller keeps its own)
 * to the members in turn, the answer's JSON object into *out (the caller's). 0 or -errno. */
int etcd_call(struct etcd *e, const char *path, json_t *body, json_t **out);

/* How many etcd_call this thread has made (each one round trip to a member, bar failover),
 * for tests and benchmarks: the difference over a request is its number of calls. With
 * VSRV_ETCD_TRACE=1 in the environment each call is also written to stderr. */
unsigned long etcd_thread_calls(void);

/* --- keys -------------------------------------------------------------------------------- */

/* Range reads come in pages: a read of a prefix (etcd_range, etcd_read_many, the reads of
 * a transaction and of its commit, etcd_range_pages) asks for at most etcd_page(e) keys in
 * an answer (etcd's "limit"), then for the rest in more calls from the key after the last
 * one, at the first answer's revision: one consistent read of the prefix however many keys
 * it holds, and no answer past etcd's and the gateway's message limits, whatever a
 * collection (users, VMs, disks, events, grants) grows to. ETCD_PAGE_DEFAULT keys; the
 * environment's VSRV_ETCD_PAGE (1 to 100000) at etcd_open sets another (tests: a small
 * one). */
#define ETCD_PAGE_DEFAULT 1000
unsigned etcd_page(const struct etcd *e);

/* The range request req (its key, range_end and any other field of etcd's RangeRequest; a
 * reference is taken) walked page by page: each answer's "kvs" array to page(kvs, arg) (a
 * non-zero return stops the walk and is returned), until limit keys (0: all) or the end of
 * the range. *rev: in, the revision to read at (0: the current one), out, the revision
 * read at (rev itself may be NULL). 0, page's value, or -errno. */
int etcd_range_pages(struct etcd *e, json_t *req, int64_t limit,
		     int (*page)(json_t *kvs, void *arg), void *arg, int64_t *rev);

/* The key's value: 0 and *out (etcd_kv_clear it), -ENOENT, or -errno. */
int etcd_get(struct etcd *e, const char *key, struct etcd_kv *out);

/* The n keys read in one Txn of range requests (no compares: one linearizable read of all
 * of them at one revision, one round trip). 0 and out[i] (etcd_kv_clear each) with
 * found[i] (false: absent, out[i] zeroed), or -errno (nothing to free). */
int etcd_get_many(struct etcd *e, const char *const *keys, size_t n, struct etcd_kv *out,
		  bool *found);

/* One read of etcd_read_many: key, or with prefix every key under it. */
struct etcd_read {
	const char *key;
	bool prefix;
};

/* What one read found: n kvs in key order (0: the key is absent, nothing under the prefix);
 * etcd_kvs_clear frees them. */
struct etcd_kvs {
	struct etcd_kv *kv;
	size_t n;
};
void etcd_kvs_clear(struct etcd_kvs *k);

/* The n reads in one Txn of range requests (as etcd_get_many: one linearizable read of all
 * of them at one revision, one round trip): 0 and out[i] (etcd_kvs_clear each) and *rev
 * (the revision read at; NULL allowed), or -errno (nothing to free). */
int etcd_read_many(struct etcd *e, const struct etcd_read *r, size_t n, struct etcd_kvs *out,
		   int64_t *rev);

/* Probes in Txns of range requests without compares (etcd_many.c): r[i].key alone (its
 * value into r[i].kv, count 1; absent: kv zeroed, count 0), or with r[i].prefix the number
 * of keys under it (count; kv zeroed). Up to 128 reads (etcd's default --max-txn-ops) go in
 * one Txn, one round trip, read at one revision; more take one more round trip per 128.
 * Nothing joins a transaction's compares. 0 (etcd_kv_clear each kv) or -errno (nothing
 * to free). */
struct etcd_probe {
	const char *key;            /* in */
	bool prefix;                /* in: count the keys under key */
	struct etcd_kv kv;          /* out */
	int64_t count;              /* out */
};
int etcd_probe_many(struct etcd *e, struct etcd_probe *r, size_t n);

/* Every key under prefix (all keys starting with it), in key order, to fn (its kv is
 * valid during the call only; a non-zero return stops the walk and is returned). *rev
 * (when not NULL): the store's revision the answer was read at. */
int etcd_range(struct etcd *e, const char *prefix,
	       int (*fn)(const struct etcd_kv *kv, void *arg), void *arg, int64_t *rev);

/* The store's current revision (raised by every write to any key): 0 and *rev, or -errno. */
int etcd_revision(struct etcd *e, int64_t *rev);

/* Set key to value (len bytes), attached to lease (0: none). *rev: the new revision. */
int etcd_put(struct etcd *e, const char *key, const void *value, size_t len, int64_t lease,
	     int64_t *rev);

/* Delete key (with prefix: every key under it). *deleted: how many went. */
int etcd_delete(struct etcd *e, const char *key, bool prefix, int64_t *deleted);

/* Compare-and-swap in one Txn: put key = value (with lease) if its mod_revision is still
 * expect_rev (0: if the key does not exist). 0 and *rev the new revision; -EAGAIN when the
 * key has changed, -EEXIST when expect_rev was 0 and the key exists; then *holder (when
 * not NULL) is filled with the key as it is (etcd_kv_clear it). */
int etcd_cas(struct etcd *e, const char *key, int64_t expect_rev, const void *value,
	     size_t len, int64_t lease, int64_t *rev, struct etcd_kv *holder);

/* Delete key only if its mod_revision is still expect_rev: 0, -EAGAIN (changed or gone). */
int etcd_delete_if(struct etcd *e, const char *key, int64_t expect_rev);

/* --- leases ------------------------------------------------------------------------------ */

/* A new lease of ttl seconds: 0 and *id (and *granted, the TTL etcd gave, when not NULL). */
int etcd_lease_grant(struct etcd *e, int64_t ttl, int64_t *id, int64_t *granted);

/* Renew the lease once: 0 and *ttl (its TTL again), -ENOENT when it has expired. */
int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl);

/* Revoke the lease: its keys go at once. 0, -ENOENT (already gone) or -errno. */
int etcd_lease_revoke(struct etcd *e, int64_t id);

/* --- watch ------------------------------------------------------------------------------- */

enum { ETCD_EV_PUT = 0, ETCD_EV_DELETE = 1 };

/* Watch key (with prefix: every key under it) from revision start_rev (0: from now): each
 * change goes to fn (type ETCD_EV_*, the kv after the change; for a delete only key and
 * mod_rev are set) until fn returns non-zero (returned) or wait_ms pass (-ETIMEDOUT). The
 * watch is on one member (the current one, or the next that answers). */
int etcd_watch(struct etcd *e, const char *key, bool prefix, int64_t start_rev,
	       unsigned wait_ms, int (*fn)(int type, const struct etcd_kv *kv, void *arg),
	       void *arg);

/* --- optimistic transactions ------------------------------------------------------------ */

/* A session of reads and writes committed as one Txn (the inventory's model on etcd,
 * inv.h): every key read through it joins the Txn's compare list with the mod_revision it
 * had (0: absent); writes are kept and sent at the commit, which applies all of them only
 * if none of the keys read has changed since. Reads see the session's own writes. One
 * thread at a time. */
struct etcd_txn;

/* A new session on e: 0 and *out (commit or abort it), -ENOMEM. */
int etcd_txn_begin(struct etcd *e, struct etcd_txn **out);

/* Read key: 0 and *out (etcd_kv_clear it), -ENOENT (absent: that joins the compares too),
 * or -errno. A key the session has read already (itself, or under a prefix it read) is
 * answered as it was read, without a call: the commit compares its first read anyway. */
int etcd_txn_get(struct etcd_txn *t, const char *key, struct etcd_kv *out);

/* Queue a put (with lease, 0: none) or a delete of key: a key written again keeps only
 * its last write (etcd takes a key once per Txn). 0 or -ENOMEM. */
int etcd_txn_put(struct etcd_txn *t, const char *key, const void *value, size_t len,
		 int64_t lease);
int etcd_txn_delete(struct etcd_txn *t, const char *key);

/* Read every key under prefix (in key order, as the session sees them: its own queued
 * writes applied; a key it wrote and has not committed has mod_rev 0) to fn (kv valid
 * during the call; a non-zero return stops the walk and is returned). The whole range
 * joins the compare list: each key read with its mod_revision, and the range itself (no
 * key under prefix modified or created after the read's revision), so a key added to,
 * changed in or deleted from the range by someone else fails the commit with -EAGAIN.
 * A prefix under one the session has read already is answered from that read (no call).
 * etcd takes at most --max-txn-ops compares (128 by default): when a session has read more
 * keys, those under a range it read are left to the range's compare, so one of them that
 * someone else deletes no longer fails the commit (a change or a new key still does).
 * 0, fn's value or -errno. */
int etcd_txn_range(struct etcd_txn *t, const char *prefix,
		   int (*fn)(const struct etcd_kv *kv, void *arg), void *arg);

/* Read the n keys and prefixes of r that the session has not read yet, in one call
 * (etcd_read_many), as etcd_txn_get and etcd_txn_range would: each joins the compare list,
 * and the session's later reads of them (and of keys under a prefix read) are answered
 * from what was read, with its own writes applied, without another call. 0 or -errno. */
int etcd_txn_read(struct etcd_txn *t, const struct etcd_read *r, size_t n);

/* etcd_txn_read, and in the same call (at the same revision) the nside reads side, which
 * are not the session's: not compared at its commit, not kept for its later reads (as
 * reads of them alone would be). 0 and side_out[i] (as etcd_read_many's: etcd_kvs_clear
 * each), or -errno (side_out zeroed). */
int etcd_txn_read_side(struct etcd_txn *t, const struct etcd_read *r, size_t n,
		       const struct etcd_read *side, size_t nside, struct etcd_kvs *side_out);

/* Offer kv (NULL: absent) as the session's read of key, made before the session began
 * (a read ahead): the session's reads of key are answered from it, and the first of them
 * puts it in the compare list with its mod_revision, so the commit fails when key changed
 * since kv was read (a seed never read is not compared; a range read of a prefix above it
 * answers from the range instead). Nothing when the session has read key already.
 * 0 or -ENOMEM. */
int etcd_txn_seed(struct etcd_txn *t, const char *key, const struct etcd_kv *kv);

/* At t's commit, key's mod_revision must still be mod_rev (0: key absent), as if the
 * session had read it then: a key the session wrote through another call (a claim made
 * before the commit: cluster_vm_claim) joins the compare list, replacing a compare of an
 * earlier read of it. The reads of key are not answered from it. 0 or -ENOMEM. */
int etcd_txn_compare(struct etcd_txn *t, const char *key, int64_t mod_rev);

/* At t's commit, n rows (values[i], copied) take the next n ids of the counter key (its
 * value a number; absent: 0), in the commit's own Txn: it compares the counter's revision
 * as this client saw it last (etcd_next_id's hint; read first when it has none), puts it
 * raised by n, and each row at key_prefix + its id (20 digits, zero-padded). When the
 * commit fails and the counter had moved, it is sent again from the counter's new value
 * (what the failed Txn's answer has); when the counter had not, a key read has changed:
 * -EAGAIN. So ids are given in commit order, with no round trip of their own. *first (the
 * caller's, to read after a successful commit) is the first id. id_keys (NULL, or n keys,
 * each NULL or a full key, copied): the same Txn puts {"id": ID} at id_keys[i], ID row i's
 * id (an index by another key of the newest row). Once per transaction.
 * 0, -EINVAL (twice), or -ENOMEM. */
int etcd_txn_take_ids(struct etcd_txn *t, const char *counter, const char *key_prefix,
		      char *const *values, char *const *id_keys, size_t n, int64_t *first);

/* Send the writes as one Txn guarded by the reads, and free t. 0 and *rev (the new
 * revision; NULL allowed), -EAGAIN when a key read has changed (nothing was written), or
 * -errno (after -ETIMEDOUT the outcome is unknown). */
int etcd_txn_commit(struct etcd_txn *t, int64_t *rev);

/* etcd_txn_commit, and with it (in the same Txn, after the writes, whose results they see)
 * the n reads r: when the commit succeeded and its answer could be taken, *got is true
 * and out[i] as etcd_read_many's (etcd_kvs_clear each); else *got is false, nothing to
 * free. The commit's value as etcd_txn_commit's. */
int etcd_txn_commit_read(struct etcd_txn *t, const struct etcd_read *r, size_t n,
			 struct etcd_kvs *out, bool *got, int64_t *rev);

/* Drop the session and its writes. NULL-safe. */
void etcd_txn_abort(struct etcd_txn *t);

/* The next number of the counter at key (1 for the first), by compare-and-swap: unique
 * across clients. The swap starts from the value this client saw last (one round trip
 * while no other client takes numbers; a failed swap answers the counter's value for the
 * next try). 0 and *id, or -errno. */
int etcd_next_id(struct etcd *e, const char *key, int64_t *id);

/* etcd_next_id, reading with it (in the same Txn, at its revision) the key also: 0, *id and
 * *found with *also_kv (found: etcd_kv_clear it), or -errno. */
int etcd_next_id_read(struct etcd *e, const char *key, const char *also, int64_t *id,
		      struct etcd_kv *also_kv, bool *found);

#endif
