/* The etcd client (src/server/etcd*.c) against a real local cluster of three members
 * (etcdrig.h): keys, compare-and-swap races between two clients, leases that expire,
 * watches, calls over one kept connection, the leader found, a member killed, quorum lost.
 * SKIPs when etcd is not installed. */
#include "check.h"
#include "etcdlead.h"
#include "etcdrig.h"
#include "server/etcd.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

static struct etcdrig rig;
static struct etcd *cli;        /* members in order 0, 1, 2 */
static struct etcd *cli2;       /* members in order 1, 2, 0: another client */

#define TIMEOUT_MS 1500

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_open_errors(void)
{
	struct etcd *e = NULL;
	double t0;
	int64_t rev;

	CHECK_EQ(etcd_open("", 1000, &e), -EINVAL);
	CHECK_EQ(etcd_open("ftp://x:1", 1000, &e), -EINVAL);
	CHECK_EQ(etcd_open("http://", 1000, &e), -EINVAL);
	CHECK_EQ(etcd_open("http://127.0.0.1:1", 10, &e), -EINVAL);
	/* Nobody listens on a fresh free port: refused at once, with the endpoint named. */
	{
		char ep[64];

		snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/", etcdrig_free_port());
		CHECK_EQ(etcd_open(ep, 1000, &e), 0);
		t0 = now_s();
		CHECK_EQ(etcd_put(e, "k", "v", 1, 0, &rev), -ECONNREFUSED);
		CHECK(now_s() - t0 < 1.0);
		CHECK(strstr(etcd_errmsg(), "127.0.0.1") != NULL);
		etcd_close(e);
	}
}

static int collect(const struct etcd_kv *kv, void *arg)
{
	char *s = arg;

	strcat(s, kv->key);
	strcat(s, "=");
	strcat(s, kv->value);
	strcat(s, ";");
	return 0;
}

static void test_kv(void)
{
	struct etcd_kv kv = { 0 };
	char seen[256] = "";
	int64_t rev = 0, rev2 = 0, n = 0;

	CHECK_EQ(etcd_put(cli, "/t/a", "1", 1, 0, &rev), 0);
	CHECK_EQ(etcd_put(cli, "/t/b", "two\0x", 5, 0, &rev2), 0);
	CHECK_EQ(etcd_put(cli, "/t0", "out", 3, 0, NULL), 0);
	CHECK(rev2 > rev && rev > 0);
	CHECK_EQ(etcd_get(cli2, "/t/b", &kv), 0);
	CHECK_EQ(kv.value_len, 5);
	CHECK(!memcmp(kv.value, "two\0x", 5));
	CHECK_EQ(kv.mod_rev, rev2);
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_get(cli, "/t/none", &kv), -ENOENT);
	{
		/* several keys in one Txn, one round trip: found, absent, found */
		const char *keys[3] = { "/t/b", "/t/none", "/t/a" };
		struct etcd_kv many[3];
		bool found[3];
		unsigned long calls = etcd_thread_calls();

		CHECK_EQ(etcd_get_many(cli, keys, 3, many, found), 0);
		CHECK_EQ(etcd_thread_calls() - calls, 1);
		CHECK(found[0] && !found[1] && found[2]);
		CHECK(found[0] && many[0].value_len == 5 && !memcmp(many[0].value, "two\0x", 5) &&
		      many[0].mod_rev == rev2);
		CHECK(!many[1].key && !many[1].value);
		CHECK(found[2] && !strcmp(many[2].value, "1") && many[2].mod_rev == rev);
		for (int i = 0; i < 3; i++)
			etcd_kv_clear(&many[i]);
	}
	CHECK_EQ(etcd_range(cli, "/t/", collect, seen, &rev), 0);
	CHECK(!strcmp(seen, "/t/a=1;/t/b=two;"));
	CHECK(rev >= rev2);
	CHECK_EQ(etcd_delete(cli, "/t/", true, &n), 0);
	CHECK_EQ(n, 2);
	CHECK_EQ(etcd_get(cli, "/t0", &kv), 0);    /* not under the prefix "/t/" */
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_delete(cli, "/t0", false, &n), 0);
	CHECK_EQ(n, 1);
}

/* Two clients read the same revision and both try to swap: exactly the first wins, the
 * second is told -EAGAIN and sees the winner's value. */
static void test_cas_conflict(void)
{
	struct etcd_kv a = { 0 }, b = { 0 }, h = { 0 };
	int64_t rev = 0;

	CHECK_EQ(etcd_put(cli, "/cas/x", "0", 1, 0, NULL), 0);
	CHECK_EQ(etcd_get(cli, "/cas/x", &a), 0);
	CHECK_EQ(etcd_get(cli2, "/cas/x", &b), 0);
	CHECK_EQ(a.mod_rev, b.mod_rev);
	CHECK_EQ(etcd_cas(cli, "/cas/x", a.mod_rev, "A", 1, 0, &rev, NULL), 0);
	CHECK_EQ(etcd_cas(cli2, "/cas/x", b.mod_rev, "B", 1, 0, NULL, &h), -EAGAIN);
	CHECK(h.value && !strcmp(h.value, "A"));
	CHECK_EQ(h.mod_rev, rev);
	etcd_kv_clear(&h);
	/* create-if-absent on an existing key: -EEXIST with the holder */
	CHECK_EQ(etcd_cas(cli2, "/cas/x", 0, "C", 1, 0, NULL, &h), -EEXIST);
	CHECK(h.value && !strcmp(h.value, "A"));
	etcd_kv_clear(&h);
	CHECK_EQ(etcd_delete_if(cli2, "/cas/x", b.mod_rev), -EAGAIN);
	CHECK_EQ(etcd_delete_if(cli2, "/cas/x", rev), 0);
	CHECK_EQ(etcd_get(cli, "/cas/x", &h), -ENOENT);
	etcd_kv_clear(&a);
	etcd_kv_clear(&b);
}

/* Two threads (two clients on different members) increment one counter by read + CAS,
 * retrying on -EAGAIN; and race for create-if-absent keys. No update may be lost and every
 * key has exactly one creator. */
#define INCS 40
#define ROUNDS 20
static pthread_barrier_t bar;
static atomic_int conflicts, created[ROUNDS];

static void *racer(void *arg)
{
	struct etcd *e = arg;
	const char *me = e == cli ? "one" : "two";
	char key[32], val[32];
	int i;

	pthread_barrier_wait(&bar);
	for (i = 0; i < INCS; i++) {
		for (;;) {
			struct etcd_kv kv = { 0 };
			int rc = etcd_get(e, "/race/n", &kv);

			if (rc)
				return (void *)(long)rc;
			snprintf(val, sizeof(val), "%ld", strtol(kv.value, NULL, 10) + 1);
			rc = etcd_cas(e, "/race/n", kv.mod_rev, val, strlen(val), 0, NULL, NULL);
			etcd_kv_clear(&kv);
			if (!rc)
				break;
			if (rc != -EAGAIN)
				return (void *)(long)rc;
			conflicts++;
		}
	}
	for (i = 0; i < ROUNDS; i++) {
		struct etcd_kv h = { 0 };
		int rc;

		snprintf(key, sizeof(key), "/race/k%d", i);
		pthread_barrier_wait(&bar);
		rc = etcd_cas(e, key, 0, me, strlen(me), 0, NULL, &h);
		if (!rc)
			created[i]++;
		else if (rc != -EEXIST || !h.value || !strcmp(h.value, me))
			return (void *)(long)(rc ? rc : -1);
		etcd_kv_clear(&h);
	}
	return NULL;
}

static void test_cas_race(void)
{
	struct etcd_kv kv = { 0 };
	pthread_t t1, t2;
	void *r1, *r2;
	int i;

	CHECK_EQ(etcd_put(cli, "/race/n", "0", 1, 0, NULL), 0);
	pthread_barrier_init(&bar, NULL, 2);
	pthread_create(&t1, NULL, racer, cli);
	pthread_create(&t2, NULL, racer, cli2);
	pthread_join(t1, &r1);
	pthread_join(t2, &r2);
	pthread_barrier_destroy(&bar);
	CHECK(r1 == NULL);
	CHECK(r2 == NULL);
	CHECK_EQ(etcd_get(cli, "/race/n", &kv), 0);
	CHECK_EQ(strtol(kv.value ? kv.value : "-1", NULL, 10), 2 * INCS);
	etcd_kv_clear(&kv);
	for (i = 0; i < ROUNDS; i++)
		CHECK_EQ(created[i], 1);
	printf("# %d conflicts retried in the counter race\n", (int)conflicts);
	etcd_delete(cli, "/race/", true, NULL);
}

static void test_lease(void)
{
	struct etcd_kv kv = { 0 };
	int64_t id = 0, ttl = 0, id2 = 0;
	double t0;

	CHECK_EQ(etcd_lease_grant(cli, 0, &id, NULL), -EINVAL);
	CHECK_EQ(etcd_lease_grant(cli, 2, &id, &ttl), 0);
	CHECK_EQ(ttl, 2);
	CHECK_EQ(etcd_put(cli, "/lease/a", "x", 1, id, NULL), 0);
	CHECK_EQ(etcd_get(cli2, "/lease/a", &kv), 0);
	CHECK_EQ(kv.lease, id);
	etcd_kv_clear(&kv);
	/* Kept alive for 3 s (more than its TTL): the key stays. */
	for (t0 = now_s(); now_s() - t0 < 3;) {
		CHECK_EQ(etcd_lease_keepalive(cli2, id, &ttl), 0);
		usleep(500 * 1000);
	}
	CHECK_EQ(etcd_get(cli, "/lease/a", &kv), 0);
	etcd_kv_clear(&kv);
	/* Left alone: etcd deletes the key once the TTL has passed (its expiry runs every
	 * 500 ms, so allow a few seconds beyond). */
	t0 = now_s();
	while (etcd_get(cli, "/lease/a", &kv) == 0 && now_s() - t0 < 10) {
		etcd_kv_clear(&kv);
		usleep(100 * 1000);
	}
	CHECK_EQ(etcd_get(cli, "/lease/a", &kv), -ENOENT);
	CHECK(now_s() - t0 >= 1.0);     /* not before its TTL (2 s from the last renewal) */
	CHECK_EQ(etcd_lease_keepalive(cli, id, &ttl), -ENOENT);
	/* Revoked: its keys go at once. */
	CHECK_EQ(etcd_lease_grant(cli, 60, &id2, NULL), 0);
	CHECK_EQ(etcd_put(cli, "/lease/b", "y", 1, id2, NULL), 0);
	CHECK_EQ(etcd_lease_revoke(cli2, id2), 0);
	CHECK_EQ(etcd_get(cli, "/lease/b", &kv), -ENOENT);
	CHECK_EQ(etcd_lease_revoke(cli2, id2), -ENOENT);
	/* A key on a lease that does not exist is refused. */
	CHECK_EQ(etcd_put(cli, "/lease/c", "z", 1, id2, NULL), -ENOENT);
}

struct seen {
	int puts, dels;
	char last[64];
};

static int on_event(int type, const struct etcd_kv *kv, void *arg)
{
	struct seen *s = arg;

	if (type == ETCD_EV_PUT)
		s->puts++;
	else
		s->dels++;
	snprintf(s->last, sizeof(s->last), "%s", kv->key);
	return s->puts + s->dels == 3;
}

static void test_watch(void)
{
	struct seen s = { 0 };
	int64_t rev = 0;
	double t0;

	CHECK_EQ(etcd_put(cli, "/w/a", "1", 1, 0, &rev), 0);
	CHECK_EQ(etcd_put(cli, "/w/b", "2", 1, 0, NULL), 0);
	CHECK_EQ(etcd_put(cli, "/wx", "3", 1, 0, NULL), 0);      /* not under /w/ */
	CHECK_EQ(etcd_delete(cli, "/w/a", false, NULL), 0);
	/* From a past revision: the history comes first, in order, and fn's 1 stops it. */
	CHECK_EQ(etcd_watch(cli2, "/w/", true, rev, 5000, on_event, &s), 1);
	CHECK_EQ(s.puts, 2);
	CHECK_EQ(s.dels, 1);
	CHECK(!strcmp(s.last, "/w/a"));
	/* Nothing new: the watch ends after its time, not before and not much after. */
	memset(&s, 0, sizeof(s));
	t0 = now_s();
	CHECK_EQ(etcd_watch(cli2, "/w/", true, 0, 700, on_event, &s), -ETIMEDOUT);
	CHECK(now_s() - t0 >= 0.6 && now_s() - t0 < 3);
	CHECK_EQ(s.puts + s.dels, 0);
	etcd_delete(cli, "/w", true, NULL);
}

/* Optimistic transactions: a session whose reads changed before its commit writes
 * nothing; one whose reads held writes everything at once. */
static void test_txn(void)
{
	struct etcd_txn *t1 = NULL, *t2 = NULL, *t3 = NULL;
	struct etcd_kv kv = { 0 };
	int64_t rev = 0;

	CHECK_EQ(etcd_put(cli, "/tx/b", "1", 1, 0, NULL), 0);
	CHECK_EQ(etcd_txn_begin(cli, &t1), 0);
	CHECK_EQ(etcd_txn_begin(cli2, &t2), 0);
	CHECK_EQ(etcd_txn_get(t1, "/tx/a", &kv), -ENOENT);
	CHECK_EQ(etcd_txn_get(t1, "/tx/b", &kv), 0);
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_txn_get(t2, "/tx/b", &kv), 0);
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_txn_put(t2, "/tx/b", "2", 1, 0), 0);
	CHECK_EQ(etcd_txn_commit(t2, &rev), 0);
	CHECK(rev > 0);
	/* t1 read /tx/b before t2 changed it: its writes (two keys) are all refused */
	CHECK_EQ(etcd_txn_put(t1, "/tx/a", "x", 1, 0), 0);
	CHECK_EQ(etcd_txn_put(t1, "/tx/c", "y", 1, 0), 0);
	CHECK_EQ(etcd_txn_get(t1, "/tx/a", &kv), 0);       /* its own write */
	CHECK(kv.value && !strcmp(kv.value, "x"));
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_txn_commit(t1, NULL), -EAGAIN);
	CHECK_EQ(etcd_get(cli, "/tx/a", &kv), -ENOENT);
	CHECK_EQ(etcd_get(cli, "/tx/c", &kv), -ENOENT);
	/* absence read: another client creating the key makes the commit fail */
	CHECK_EQ(etcd_txn_begin(cli, &t3), 0);
	CHECK_EQ(etcd_txn_get(t3, "/tx/n", &kv), -ENOENT);
	CHECK_EQ(etcd_txn_put(t3, "/tx/n", "mine", 4, 0), 0);
	CHECK_EQ(etcd_txn_put(t3, "/tx/m", "mine", 4, 0), 0);
	CHECK_EQ(etcd_put(cli2, "/tx/n", "theirs", 6, 0, NULL), 0);
	CHECK_EQ(etcd_txn_commit(t3, NULL), -EAGAIN);
	CHECK_EQ(etcd_get(cli, "/tx/m", &kv), -ENOENT);
	/* reads that held: every write lands, in one revision */
	CHECK_EQ(etcd_txn_begin(cli, &t3), 0);
	CHECK_EQ(etcd_txn_get(t3, "/tx/n", &kv), 0);
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_txn_put(t3, "/tx/m", "1", 1, 0), 0);
	CHECK_EQ(etcd_txn_delete(t3, "/tx/n"), 0);
	CHECK_EQ(etcd_txn_commit(t3, &rev), 0);
	CHECK_EQ(etcd_get(cli, "/tx/m", &kv), 0);
	CHECK_EQ(kv.mod_rev, rev);
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_get(cli, "/tx/n", &kv), -ENOENT);
	etcd_delete(cli, "/tx/", true, NULL);
}

/* A session answers a key (or a prefix) it has read already without another call, as it was
 * read (the commit compares that read); etcd_txn_read reads several in one call; a seed (a
 * read ahead) is compared as a read: the commit fails when the key changed since. */
static int count_kv(const struct etcd_kv *kv, void *arg)
{
	(void)kv;
	(*(int *)arg)++;
	return 0;
}

static void test_txn_reads(void)
{
	struct etcd_read r[3] = { { "/tr/a", false }, { "/tr/p/", true }, { "/tr/none", false } };
	struct etcd_txn *t = NULL;
	struct etcd_kv kv = { 0 }, seed = { 0 };
	unsigned long calls;
	int n = 0;

	CHECK_EQ(etcd_put(cli, "/tr/a", "1", 1, 0, NULL), 0);
	CHECK_EQ(etcd_put(cli, "/tr/p/1", "x", 1, 0, NULL), 0);
	CHECK_EQ(etcd_put(cli, "/tr/p/2", "y", 1, 0, NULL), 0);
	CHECK_EQ(etcd_txn_begin(cli, &t), 0);
	calls = etcd_thread_calls();
	CHECK_EQ(etcd_txn_read(t, r, 3), 0);
	CHECK_EQ(etcd_thread_calls() - calls, 1);
	CHECK_EQ(etcd_txn_read(t, r, 3), 0);                /* read already: no call */
	CHECK_EQ(etcd_txn_get(t, "/tr/a", &kv), 0);
	CHECK(kv.value && !strcmp(kv.value, "1"));
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_txn_get(t, "/tr/none", &kv), -ENOENT);
	CHECK_EQ(etcd_txn_get(t, "/tr/p/2", &kv), 0);      /* under a prefix read */
	CHECK(kv.value && !strcmp(kv.value, "y"));
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_txn_get(t, "/tr/p/3", &kv), -ENOENT);
	CHECK_EQ(etcd_txn_range(t, "/tr/p/", count_kv, &n), 0);
	CHECK_EQ(n, 2);
	n = 0;
	CHECK_EQ(etcd_txn_put(t, "/tr/p/3", "z", 1, 0), 0);
	CHECK_EQ(etcd_txn_range(t, "/tr/p/", count_kv, &n), 0);   /* with its own write */
	CHECK_EQ(n, 3);
	CHECK_EQ(etcd_thread_calls() - calls, 1);
	/* another client changes a key under the prefix: the cached read still fails the commit */
	CHECK_EQ(etcd_put(cli2, "/tr/p/1", "changed", 7, 0, NULL), 0);
	CHECK_EQ(etcd_txn_commit(t, NULL), -EAGAIN);
	CHECK_EQ(etcd_get(cli, "/tr/p/3", &kv), -ENOENT);
	/* a seed: answered without a call; the commit holds while the key does not change */
	CHECK_EQ(etcd_get(cli, "/tr/a", &seed), 0);
	CHECK_EQ(etcd_txn_begin(cli, &t), 0);
	CHECK_EQ(etcd_txn_seed(t, "/tr/a", &seed), 0);
	CHECK_EQ(etcd_txn_seed(t, "/tr/absent", NULL), 0);
	calls = etcd_thread_calls();
	CHECK_EQ(etcd_txn_get(t, "/tr/a", &kv), 0);
	CHECK(kv.value && !strcmp(kv.value, "1"));
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_txn_get(t, "/tr/absent", &kv), -ENOENT);
	CHECK_EQ(etcd_thread_calls() - calls, 0);
	CHECK_EQ(etcd_txn_put(t, "/tr/b", "1", 1, 0), 0);
	CHECK_EQ(etcd_txn_commit(t, NULL), 0);
	/* ... and fails when it changed after the seed was read (before the session began),
	 * once the session read it */
	CHECK_EQ(etcd_txn_begin(cli, &t), 0);
	CHECK_EQ(etcd_put(cli2, "/tr/a", "2", 1, 0, NULL), 0);
	CHECK_EQ(etcd_txn_seed(t, "/tr/a", &seed), 0);
	CHECK_EQ(etcd_txn_get(t, "/tr/a", &kv), 0);
	CHECK(kv.value && !strcmp(kv.value, "1"));         /* the seed's value */
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_txn_put(t, "/tr/c", "1", 1, 0), 0);
	CHECK_EQ(etcd_txn_commit(t, NULL), -EAGAIN);
	CHECK_EQ(etcd_get(cli, "/tr/c", &kv), -ENOENT);
	/* a seed the session never reads is not compared */
	CHECK_EQ(etcd_txn_begin(cli, &t), 0);
	CHECK_EQ(etcd_txn_seed(t, "/tr/a", &seed), 0);
	CHECK_EQ(etcd_txn_put(t, "/tr/c", "1", 1, 0), 0);
	CHECK_EQ(etcd_txn_commit(t, NULL), 0);
	/* a range read over a seed answers from the range (and compares that) */
	CHECK_EQ(etcd_put(cli, "/tr/p/1", "x", 1, 0, NULL), 0);
	CHECK_EQ(etcd_txn_begin(cli, &t), 0);
	CHECK_EQ(etcd_txn_seed(t, "/tr/p/1", &seed), 0);         /* (an old value) */
	n = 0;
	CHECK_EQ(etcd_txn_range(t, "/tr/p/", count_kv, &n), 0);
	CHECK_EQ(etcd_txn_get(t, "/tr/p/1", &kv), 0);
	CHECK(kv.value && !strcmp(kv.value, "x"));
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_txn_put(t, "/tr/c", "2", 1, 0), 0);
	CHECK_EQ(etcd_txn_commit(t, NULL), 0);
	/* a seed of an absent key fails the commit once someone created it */
	CHECK_EQ(etcd_txn_begin(cli, &t), 0);
	CHECK_EQ(etcd_txn_seed(t, "/tr/absent", NULL), 0);
	CHECK_EQ(etcd_txn_get(t, "/tr/absent", &kv), -ENOENT);
	CHECK_EQ(etcd_put(cli2, "/tr/absent", "1", 1, 0, NULL), 0);
	CHECK_EQ(etcd_txn_put(t, "/tr/c", "1", 1, 0), 0);
	CHECK_EQ(etcd_txn_commit(t, NULL), -EAGAIN);
	etcd_kv_clear(&seed);
	etcd_delete(cli, "/tr/", true, NULL);
}

/* A counter's number takes one call while this client alone takes them; after another
 * client took some, the failed swap's answer gives the next try: the numbers go on. */
static void test_next_id_hint(void)
{
	unsigned long calls;
	int64_t id = 0, i, other = 0;

	CHECK_EQ(etcd_next_id(cli, "/ids/hint", &id), 0);
	CHECK_EQ(id, 1);
	calls = etcd_thread_calls();
	CHECK_EQ(etcd_next_id(cli, "/ids/hint", &id), 0);
	CHECK_EQ(id, 2);
	CHECK_EQ(etcd_thread_calls() - calls, 1);
	for (i = 0; i < 3; i++)
		CHECK_EQ(etcd_next_id(cli2, "/ids/hint", &other), 0);
	CHECK_EQ(other, 5);
	calls = etcd_thread_calls();
	CHECK_EQ(etcd_next_id(cli, "/ids/hint", &id), 0);
	CHECK_EQ(id, 6);
	CHECK_EQ(etcd_thread_calls() - calls, 2);  /* the stale swap, then the one that held */
	etcd_delete(cli, "/ids/hint", false, NULL);
}

/* Counters: two clients taking numbers at once never get the same one. */
static int64_t ids[2][25];

static void *taker(void *arg)
{
	long w = (long)arg;
	int i;

	for (i = 0; i < 25; i++)
		if (etcd_next_id(w ? cli2 : cli, "/ids/vm", &ids[w][i]))
			return (void *)1;
	return NULL;
}

static void test_next_id(void)
{
	char seen[51] = { 0 };
	pthread_t t1, t2;
	void *r1, *r2;
	int i, w;

	pthread_create(&t1, NULL, taker, (void *)0L);
	pthread_create(&t2, NULL, taker, (void *)1L);
	pthread_join(t1, &r1);
	pthread_join(t2, &r2);
	CHECK(!r1 && !r2);
	for (w = 0; w < 2; w++)
		for (i = 0; i < 25; i++) {
			CHECK(ids[w][i] >= 1 && ids[w][i] <= 50);
			if (ids[w][i] >= 1 && ids[w][i] <= 50) {
				CHECK(!seen[ids[w][i]]);
				seen[ids[w][i]] = 1;
			}
		}
	etcd_delete(cli, "/ids/", true, NULL);
}

/* This process's open TCP connections to 127.0.0.1:port (established, an fd of ours) but
 * those whose inodes are in skip[nskip]: their count, and the local port, fd and inode of
 * the last one found. */
static int conns_to(int port, const unsigned long *skip, int nskip, int *lport, int *fd,
		    unsigned long *inode_out)
{
	char line[512], link[64], path[300];
	unsigned long inode[256];
	int fds[256], n = 0, found = 0, i, k;
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	FILE *f;

	while (d && (de = readdir(d)) && n < 256) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu]", &inode[n]) == 1)
			fds[n++] = atoi(de->d_name);
	}
	if (d)
		closedir(d);
	f = fopen("/proc/self/net/tcp", "r");
	while (f && fgets(line, sizeof(line), f)) {
		unsigned la, lp, ra, rp, st;
		unsigned long ino;

		if (sscanf(line, " %*d: %x:%x %x:%x %x %*s %*s %*s %*s %*s %lu", &la, &lp, &ra, &rp,
			   &st, &ino) != 6 || (int)rp != port || st != 1)
			continue;
		for (k = 0; k < nskip && skip[k] != ino; k++)
			;
		for (i = 0; k == nskip && i < n; i++)
			if (inode[i] == ino) {
				found++;
				*lport = (int)lp;
				*fd = fds[i];
				*inode_out = ino;
			}
	}
	if (f)
		fclose(f);
	return found;
}

/* A client's calls go over one kept connection (HTTP keep-alive), not a new TCP connection
 * each (their connect cost each call part of its round trip), and that connection is
 * close-on-exec (no process the server starts inherits it). */
static void test_keepalive(void)
{
	struct etcd *e = NULL;
	struct etcd_kv kv = { 0 };
	unsigned long skip[64], ino = 0;
	int port, lport = 0, first = -1, fd = -1, i, n, nskip = 0, same = 0, big = 0;
	char value[3000];

	CHECK_EQ(etcd_open(rig.endpoints, TIMEOUT_MS, &e), 0);
	if (!e)
		return;
	port = atoi(strrchr(etcd_current(e), ':') + 1);
	/* the other clients' connections to that member are not this one's */
	while (nskip < 64 && conns_to(port, skip, nskip, &lport, &fd, &ino) > 0)
		skip[nskip++] = ino;
	CHECK_EQ(etcd_put(e, "/ka/k", "v", 1, 0, NULL), 0);
	for (i = 0; i < 20; i++) {
		CHECK_EQ(etcd_get(e, "/ka/k", &kv), 0);
		etcd_kv_clear(&kv);
		n = conns_to(port, skip, nskip, &lport, &fd, &ino);
		CHECK_EQ(n, 1);
		if (n == 1 && first < 0)
			first = lport;
		same += n == 1 && lport == first;
	}
	CHECK_EQ(same, 20);
	CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
	/* a body over 1 KiB (sent without waiting for "100 Continue") too */
	memset(value, 'x', sizeof(value));
	for (i = 0; i < 5; i++) {
		CHECK_EQ(etcd_put(e, "/ka/big", value, sizeof(value), 0, NULL), 0);
		big += conns_to(port, skip, nskip, &lport, &fd, &ino) == 1 && lport == first;
	}
	CHECK_EQ(big, 5);
	etcd_delete(e, "/ka/", true, NULL);
	etcd_close(e);
}

/* A client whose first endpoint is a follower talks to the leader after its first call (a
 * linearizable read on a follower costs a round of its own to the leader). */
static void test_leader(void)
{
	struct etcd *e = NULL;
	struct etcd_kv kv = { 0 };
	char eps[sizeof(rig.endpoints)], want[64];
	int lead = etcdlead_now(&rig, NULL), i, n = 0;

	CHECK(lead >= 0);
	if (lead < 0)
		return;
	/* the followers first, the leader last */
	for (i = 0; i < rig.n; i++)
		if (i != lead)
			n += snprintf(eps + n, sizeof(eps) - n, "http://127.0.0.1:%d,", rig.cport[i]);
	snprintf(eps + n, sizeof(eps) - n, "http://127.0.0.1:%d", rig.cport[lead]);
	snprintf(want, sizeof(want), "http://127.0.0.1:%d", rig.cport[lead]);
	CHECK_EQ(etcd_open(eps, TIMEOUT_MS, &e), 0);
	if (!e)
		return;
	CHECK(strcmp(etcd_current(e), want) != 0);
	for (i = 0; i < 3; i++) {
		CHECK_EQ(etcd_put(e, "/ld/k", "v", 1, 0, NULL), 0);
		CHECK_EQ(etcd_get(e, "/ld/k", &kv), 0);
		etcd_kv_clear(&kv);
	}
	/* (unless an election moved it meanwhile) */
	CHECK(!strcmp(etcd_current(e), want) || etcdlead_now(&rig, NULL) != lead);
	etcd_delete(e, "/ld/", true, NULL);
	etcd_close(e);
}

/* The member the client talks to dies: once the others have a leader, every call
 * succeeds, on another member. */
static void test_member_killed(void)
{
	struct etcd_kv kv = { 0 };
	int64_t id = 0, ttl = 0;
	char cur[64];
	int i;

	CHECK_EQ(etcd_put(cli, "/k/before", "1", 1, 0, NULL), 0);
	snprintf(cur, sizeof(cur), "%s", etcd_current(cli));
	CHECK(strstr(cur, "127.0.0.1") != NULL);
	for (i = 0; i < rig.n; i++)
		if (strstr(cur, "127.0.0.1:") && atoi(strrchr(cur, ':') + 1) == rig.cport[i])
			etcdrig_kill(&rig, i);
	/* When the member killed was the leader, the others elect a new one first (etcd's
	 * election timeout, longer on a loaded machine): until then a write fails with
	 * -ETIMEDOUT or -ENOTCONN, as it should. Wait for the first write, bounded. */
	for (i = 0; i < 60; i++) {
		int rc = etcd_put(cli, "/k/elected", "1", 1, 0, NULL);

		if (!rc)
			break;
		CHECK(rc == -ETIMEDOUT || rc == -ENOTCONN);
		if (rc != -ETIMEDOUT && rc != -ENOTCONN)
			break;
	}
	CHECK(i < 60);
	for (i = 0; i < 20; i++) {
		char key[32];

		snprintf(key, sizeof(key), "/k/%d", i);
		CHECK_EQ(etcd_put(cli, key, "v", 1, 0, NULL), 0);
	}
	CHECK(strcmp(cur, etcd_current(cli)) != 0);
	CHECK_EQ(etcd_get(cli2, "/k/before", &kv), 0);
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_lease_grant(cli2, 5, &id, NULL), 0);
	CHECK_EQ(etcd_lease_keepalive(cli, id, &ttl), 0);
}

/* Two of three members gone: no quorum. Writes (and linearizable reads) fail with a clear
 * error within the client's bound (members x timeout), never hang. */
static void test_quorum_lost(void)
{
	struct etcd_kv kv = { 0 };
	double t0, took;
	int i, rc, killed = 0;

	for (i = 0; i < rig.n && !killed; i++)
		if (rig.pid[i] > 0) {
			etcdrig_kill(&rig, i);
			killed = 1;
		}
	CHECK(killed);
	t0 = now_s();
	rc = etcd_put(cli, "/k/after", "1", 1, 0, NULL);
	took = now_s() - t0;
	printf("# put without quorum: %s after %.2f s: %s\n", strerror(-rc), took, etcd_errmsg());
	CHECK(rc == -ETIMEDOUT || rc == -ENOTCONN);
	CHECK(took < rig.n * TIMEOUT_MS / 1000.0 + 2.0);
	CHECK(strstr(etcd_errmsg(), "etcd") != NULL);
	t0 = now_s();
	rc = etcd_get(cli2, "/k/before", &kv);
	CHECK(rc == -ETIMEDOUT || rc == -ENOTCONN);
	CHECK(now_s() - t0 < rig.n * TIMEOUT_MS / 1000.0 + 2.0);
	etcd_kv_clear(&kv);
}

int main(void)
{
	char ep2[sizeof(rig.endpoints)];
	char *comma;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	RUN(test_open_errors);
	rc = etcdrig_start_main(&rig, 3, "etcd-cluster");
	if (rc)
		return rc - 1;
	/* cli2 lists the members in another order, so the two clients start on two members. */
	comma = strchr(rig.endpoints, ',');
	snprintf(ep2, sizeof(ep2), "%s,%.*s", comma + 1, (int)(comma - rig.endpoints), rig.endpoints);
	if (etcd_open(rig.endpoints, TIMEOUT_MS, &cli) || etcd_open(ep2, TIMEOUT_MS, &cli2)) {
		printf("FAIL etcd-open: %s\n", etcd_errmsg());
		etcdrig_stop(&rig);
		return 1;
	}
	RUN(test_kv);
	RUN(test_cas_conflict);
	RUN(test_cas_race);
	RUN(test_lease);
	RUN(test_watch);
	RUN(test_txn);
	RUN(test_txn_reads);
	RUN(test_next_id);
	RUN(test_next_id_hint);
	RUN(test_keepalive);
	RUN(test_leader);
	RUN(test_member_killed);
	RUN(test_quorum_lost);
	etcd_close(cli);
	etcd_close(cli2);
	etcdrig_stop(&rig);
	return check_done();
}
