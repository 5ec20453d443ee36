/* The etcd inventory's row layer (inv_etcd_row.c, inv_etcd.c, etcd_txn_range) against a
 * real etcd member (etcdrig.h): rows and their revisions, expect_rev, walks in key order
 * that see the session's own writes, unique values, ids, transactions that commit, roll
 * back, or fail with -EAGAIN (changing nothing) when another session changed a row or
 * added one to a range they read. SKIPs when etcd is not installed. */
#include "check.h"
#include "etcdrig.h"
#include "server/etcd.h"
#include "server/inv_etcd.h"

#include <curl/curl.h>

static struct etcdrig rig;
static struct db *db;
static struct etcd *raw;        /* a plain client, to look at the keys themselves */

static json_t *row_of(const char *name, int64_t n)
{
	return json_pack("{s:s,s:I}", "name", name, "n", (json_int_t)n);
}

static void test_id_key(void)
{
	char b[24];

	CHECK(!strcmp(ie_id_key(42, b), "00000000000000000042"));
	CHECK(strcmp(ie_id_key(9, b), "") && strlen(b) == 20);
	{
		char a[24];

		ie_id_key(9, a);
		ie_id_key(10, b);
		CHECK(strcmp(a, b) < 0);
	}
}

static void test_rows(void)
{
	struct dbc *c = inv_get(db);
	json_t *r = row_of("a", 1), *got = NULL;
	uint64_t rev = 0, rev2 = 0;
	struct etcd_kv kv;

	CHECK_EQ(ie_row_get(c, "things", "k1", &got, &rev), -ENOENT);
	CHECK_EQ(ie_row_put(c, "things", "k1", r, IE_ABSENT), 0);
	CHECK_EQ(ie_row_put(c, "things", "k1", r, IE_ABSENT), -EEXIST);
	CHECK_EQ(ie_row_get(c, "things", "k1", &got, &rev), 0);
	CHECK(got && !strcmp(ie_str(got, "name"), "a") && ie_int(got, "n") == 1);
	CHECK(rev > 0);
	json_decref(got);
	/* the key is PREFIX t/TABLE/KEY, its value the row's JSON */
	CHECK_EQ(etcd_get(raw, "/test/row/t/things/k1", &kv), 0);
	CHECK(kv.value && strstr(kv.value, "\"name\":\"a\"") != NULL);
	CHECK_EQ((uint64_t)kv.mod_rev, rev);
	etcd_kv_clear(&kv);
	/* expect_rev: the stored revision writes, a stale one is -EAGAIN and changes nothing */
	json_object_set_new(r, "n", json_integer(2));
	CHECK_EQ(ie_row_put(c, "things", "k1", r, rev), 0);
	CHECK_EQ(ie_row_get(c, "things", "k1", &got, &rev2), 0);
	CHECK(rev2 > rev);
	CHECK_EQ(ie_int(got, "n"), 2);
	json_decref(got);
	json_object_set_new(r, "n", json_integer(3));
	CHECK_EQ(ie_row_put(c, "things", "k1", r, rev), -EAGAIN);
	CHECK_EQ(ie_row_get(c, "things", "k1", &got, NULL), 0);
	CHECK_EQ(ie_int(got, "n"), 2);
	json_decref(got);
	CHECK_EQ(ie_row_put(c, "things", "nope", r, rev), -ENOENT);
	CHECK_EQ(ie_row_get(c, "things", "nope", &got, NULL), -ENOENT);
	/* 0: any revision */
	CHECK_EQ(ie_row_put(c, "things", "k1", r, 0), 0);
	CHECK_EQ(ie_row_get_id(c, "things", 7, &got, NULL), -ENOENT);
	/* delete */
	CHECK_EQ(ie_row_delete(c, "things", "k1", false), 0);
	CHECK_EQ(ie_row_delete(c, "things", "k1", false), -ENOENT);
	CHECK_EQ(ie_row_get(c, "things", "k1", &got, NULL), -ENOENT);
	/* a value that is not a JSON object is -EIO, not a crash */
	CHECK_EQ(etcd_put(raw, "/test/row/t/things/bad", "[1,", 3, 0, NULL), 0);
	CHECK_EQ(ie_row_get(c, "things", "bad", &got, NULL), -EIO);
	CHECK_EQ(etcd_put(raw, "/test/row/t/things/bad", "[1]", 3, 0, NULL), 0);
	CHECK_EQ(ie_row_get(c, "things", "bad", &got, NULL), -EIO);
	CHECK_EQ(ie_row_delete(c, "things", "bad", false), 0);
	json_decref(r);
	inv_put(c);
}

struct walk {
	char keys[512];
	int stop_at, n;
};

static int walk_fn(const char *key, json_t *row, uint64_t rev, void *arg)
{
	struct walk *w = arg;

	(void)rev;
	snprintf(w->keys + strlen(w->keys), sizeof(w->keys) - strlen(w->keys), "%s=%lld;", key,
		 (long long)ie_int(row, "n"));
	if (++w->n == w->stop_at)
		return 77;
	return 0;
}

static void test_each(void)
{
	struct dbc *c = inv_get(db);
	char k[24];
	struct walk w = { 0 };
	json_t *r;
	int64_t id;

	/* ids 10, 9, 100 in id order: the zero-padded keys sort as numbers */
	static const int64_t ids[] = { 10, 9, 100 };
	size_t i;

	for (i = 0; i < 3; i++) {
		id = ids[i];
		r = row_of("x", id);
		CHECK_EQ(ie_row_put(c, "walk", ie_id_key(id, k), r, IE_ABSENT), 0);
		json_decref(r);
	}
	r = row_of("sub", 1);
	CHECK_EQ(ie_row_put(c, "walk_sub", "a/b", r, 0), 0);   /* another table: not seen */
	json_decref(r);
	CHECK_EQ(ie_row_each(c, "walk", "", walk_fn, &w), 0);
	CHECK(!strcmp(w.keys, "00000000000000000009=9;00000000000000000010=10;"
			      "00000000000000000100=100;"));
	memset(&w, 0, sizeof(w));
	w.stop_at = 2;
	CHECK_EQ(ie_row_each(c, "walk", "", walk_fn, &w), 77);
	CHECK_EQ(w.n, 2);
	memset(&w, 0, sizeof(w));
	CHECK_EQ(ie_row_each(c, "walk", "000000000000000001", walk_fn, &w), 0);
	CHECK(!strcmp(w.keys, "00000000000000000100=100;"));
	/* inside a transaction the walk sees the session's own writes, in key order */
	CHECK_EQ(inv_begin(c), 0);
	r = row_of("y", 50);
	CHECK_EQ(ie_row_put(c, "walk", ie_id_key(50, k), r, 0), 0);
	json_decref(r);
	r = row_of("y", 1000);
	CHECK_EQ(ie_row_put(c, "walk", ie_id_key(9, k), r, 0), 0);
	json_decref(r);
	CHECK_EQ(ie_row_delete(c, "walk", ie_id_key(10, k), false), 0);
	memset(&w, 0, sizeof(w));
	CHECK_EQ(ie_row_each(c, "walk", "", walk_fn, &w), 0);
	CHECK(!strcmp(w.keys, "00000000000000000009=1000;00000000000000000050=50;"
			      "00000000000000000100=100;"));
	inv_rollback(c);
	/* rolled back: as before */
	memset(&w, 0, sizeof(w));
	CHECK_EQ(ie_row_each(c, "walk", "", walk_fn, &w), 0);
	CHECK(!strcmp(w.keys, "00000000000000000009=9;00000000000000000010=10;"
			      "00000000000000000100=100;"));
	/* a prefix delete takes every row under it, and nothing else */
	r = row_of("z", 1);
	CHECK_EQ(ie_row_put(c, "walk_sub", "a/c", r, 0), 0);
	CHECK_EQ(ie_row_put(c, "walk_sub", "b/a", r, 0), 0);
	json_decref(r);
	CHECK_EQ(ie_row_delete(c, "walk_sub", "a/", true), 0);
	CHECK_EQ(ie_row_delete(c, "walk_sub", "q/", true), 0);
	memset(&w, 0, sizeof(w));
	CHECK_EQ(ie_row_each(c, "walk_sub", "", walk_fn, &w), 0);
	CHECK(!strcmp(w.keys, "b/a=1;"));
	inv_put(c);
}

static void test_unique_and_ids(void)
{
	struct dbc *c = inv_get(db);
	int64_t id = 0, a = 0, b = 0;

	CHECK_EQ(ie_unique_get(c, "vms.name", "web/1", &id), -ENOENT);
	CHECK_EQ(ie_unique_claim(c, "vms.name", "web/1", 5), 0);
	CHECK_EQ(ie_unique_claim(c, "vms.name", "web/1", 5), 0);     /* its own: fine */
	CHECK_EQ(ie_unique_claim(c, "vms.name", "web/1", 6), -EEXIST);
	CHECK_EQ(ie_unique_get(c, "vms.name", "web/1", &id), 0);
	CHECK_EQ(id, 5);
	CHECK_EQ(ie_unique_release(c, "vms.name", "web/1"), 0);
	CHECK_EQ(ie_unique_get(c, "vms.name", "web/1", &id), -ENOENT);
	CHECK_EQ(ie_unique_release(c, "vms.name", "web/1"), 0);
	CHECK_EQ(ie_unique_claim(c, "vms.name", "web/1", 6), 0);
	/* ids: increasing, per table */
	CHECK_EQ(ie_new_id(c, "vms", &a), 0);
	CHECK_EQ(ie_new_id(c, "vms", &b), 0);
	CHECK(a >= 1 && b == a + 1);
	CHECK_EQ(ie_new_id(c, "disks", &a), 0);
	CHECK_EQ(a, 1);
	inv_put(c);
}

static void test_txn(void)
{
	struct dbc *c1 = inv_get(db), *c2 = inv_get(db);
	json_t *r = row_of("t", 1), *got = NULL;
	uint64_t g0 = inv_generation(db);
	struct walk w = { 0 };

	CHECK_EQ(ie_row_put(c1, "tx", "a", r, 0), 0);
	CHECK(inv_generation(db) > g0);
	/* a commit: every write at once */
	CHECK_EQ(inv_begin(c1), 0);
	CHECK_EQ(inv_begin(c1), -EIO);
	json_object_set_new(r, "n", json_integer(2));
	CHECK_EQ(ie_row_put(c1, "tx", "a", r, 0), 0);
	CHECK_EQ(ie_row_put(c1, "tx", "b", r, IE_ABSENT), 0);
	CHECK_EQ(ie_row_get(c2, "tx", "b", &got, NULL), -ENOENT);   /* not yet */
	CHECK_EQ(ie_row_get(c1, "tx", "b", &got, NULL), 0);        /* its own write */
	json_decref(got);
	CHECK_EQ(inv_commit(c1), 0);
	CHECK_EQ(inv_commit(c1), -EIO);
	CHECK_EQ(ie_row_get(c2, "tx", "b", &got, NULL), 0);
	CHECK_EQ(ie_int(got, "n"), 2);
	json_decref(got);
	/* two sessions write the row both read: the second commit fails, changing nothing */
	CHECK_EQ(inv_begin(c1), 0);
	CHECK_EQ(inv_begin(c2), 0);
	CHECK_EQ(ie_row_get(c1, "tx", "a", &got, NULL), 0);
	json_decref(got);
	CHECK_EQ(ie_row_get(c2, "tx", "a", &got, NULL), 0);
	json_decref(got);
	json_object_set_new(r, "n", json_integer(10));
	CHECK_EQ(ie_row_put(c1, "tx", "a", r, 0), 0);
	json_object_set_new(r, "n", json_integer(20));
	CHECK_EQ(ie_row_put(c2, "tx", "a", r, 0), 0);
	CHECK_EQ(ie_row_put(c2, "tx", "c", r, IE_ABSENT), 0);
	CHECK_EQ(inv_commit(c1), 0);
	CHECK_EQ(inv_commit(c2), -EAGAIN);
	CHECK_EQ(ie_row_get(c1, "tx", "a", &got, NULL), 0);
	CHECK_EQ(ie_int(got, "n"), 10);
	json_decref(got);
	CHECK_EQ(ie_row_get(c1, "tx", "c", &got, NULL), -ENOENT);
	/* a range read: a row another session adds to the range fails the commit */
	CHECK_EQ(inv_begin(c1), 0);
	CHECK_EQ(ie_row_each(c1, "tx", "", walk_fn, &w), 0);
	CHECK(!strcmp(w.keys, "a=10;b=2;"));
	CHECK_EQ(ie_row_put(c1, "tx", "d", r, 0), 0);
	CHECK_EQ(ie_row_put(c2, "tx", "bb", r, 0), 0);
	CHECK_EQ(inv_commit(c1), -EAGAIN);
	CHECK_EQ(ie_row_get(c1, "tx", "d", &got, NULL), -ENOENT);
	/* ... and one it deletes too */
	CHECK_EQ(inv_begin(c1), 0);
	memset(&w, 0, sizeof(w));
	CHECK_EQ(ie_row_each(c1, "tx", "", walk_fn, &w), 0);
	CHECK_EQ(ie_row_put(c1, "tx", "d", r, 0), 0);
	CHECK_EQ(ie_row_delete(c2, "tx", "bb", false), 0);
	CHECK_EQ(inv_commit(c1), -EAGAIN);
	/* untouched range: commits */
	CHECK_EQ(inv_begin(c1), 0);
	memset(&w, 0, sizeof(w));
	CHECK_EQ(ie_row_each(c1, "tx", "", walk_fn, &w), 0);
	CHECK_EQ(ie_row_put(c1, "tx", "d", r, 0), 0);
	CHECK_EQ(ie_row_put(c2, "other", "x", r, 0), 0);
	CHECK_EQ(inv_commit(c1), 0);
	CHECK_EQ(ie_row_get(c2, "tx", "d", &got, NULL), 0);
	json_decref(got);
	/* a unique value claimed by two transactions: one wins */
	CHECK_EQ(inv_begin(c1), 0);
	CHECK_EQ(inv_begin(c2), 0);
	CHECK_EQ(ie_unique_claim(c1, "tx.name", "n", 1), 0);
	CHECK_EQ(ie_unique_claim(c2, "tx.name", "n", 2), 0);
	CHECK_EQ(inv_commit(c2), 0);
	CHECK_EQ(inv_commit(c1), -EAGAIN);
	{
		int64_t id = 0;

		CHECK_EQ(ie_unique_get(c1, "tx.name", "n", &id), 0);
		CHECK_EQ(id, 2);
	}
	/* a row written several times in one transaction: the last write commits (etcd takes
	 * a key once per Txn) */
	CHECK_EQ(inv_begin(c1), 0);
	json_object_set_new(r, "n", json_integer(31));
	CHECK_EQ(ie_row_put(c1, "tx", "a", r, 0), 0);
	CHECK_EQ(ie_row_delete(c1, "tx", "a", false), 0);
	json_object_set_new(r, "n", json_integer(32));
	CHECK_EQ(ie_row_put(c1, "tx", "a", r, 0), 0);
	CHECK_EQ(ie_row_put(c1, "tx", "f", r, 0), 0);
	CHECK_EQ(ie_row_delete(c1, "tx", "f", false), 0);
	memset(&w, 0, sizeof(w));
	CHECK_EQ(ie_row_each(c1, "tx", "", walk_fn, &w), 0);
	CHECK(!strcmp(w.keys, "a=32;b=2;d=20;"));
	CHECK_EQ(inv_commit(c1), 0);
	CHECK_EQ(ie_row_get(c2, "tx", "a", &got, NULL), 0);
	CHECK_EQ(ie_int(got, "n"), 32);
	json_decref(got);
	CHECK_EQ(ie_row_get(c2, "tx", "f", &got, NULL), -ENOENT);
	/* a session given back with its transaction open rolls it back */
	CHECK_EQ(inv_begin(c2), 0);
	CHECK_EQ(ie_row_put(c2, "tx", "e", r, 0), 0);
	inv_put(c2);
	CHECK_EQ(ie_row_get(c1, "tx", "e", &got, NULL), -ENOENT);
	json_decref(r);
	inv_put(c1);
}

static int count_fn(const char *key, json_t *row, uint64_t rev, void *arg)
{
	(void)key;
	(void)row;
	(void)rev;
	(*(int *)arg)++;
	return 0;
}

/* A transaction that read more keys than etcd takes compares (128 by default) still
 * commits, and still fails when a key of its range changed or was added. */
static void test_txn_many(void)
{
	struct dbc *c1 = inv_get(db), *c2 = inv_get(db);
	json_t *r = row_of("m", 1);
	char k[24];
	int i, n = 0;

	for (i = 0; i < 150; i++) {
		if (i % 75 == 0)
			CHECK_EQ(inv_begin(c1), 0);
		CHECK_EQ(ie_row_put(c1, "big", ie_id_key(i, k), r, 0), 0);
		if (i % 75 == 74)
			CHECK_EQ(inv_commit(c1), 0);
	}
	CHECK_EQ(inv_begin(c1), 0);
	CHECK_EQ(ie_row_each(c1, "big", "", count_fn, &n), 0);
	CHECK_EQ(n, 150);
	CHECK_EQ(ie_row_put(c1, "big_out", "x", r, 0), 0);
	CHECK_EQ(inv_commit(c1), 0);
	/* a new key in the range */
	CHECK_EQ(inv_begin(c1), 0);
	CHECK_EQ(ie_row_each(c1, "big", "", count_fn, &n), 0);
	CHECK_EQ(ie_row_put(c1, "big_out", "y", r, 0), 0);
	CHECK_EQ(ie_row_put(c2, "big", ie_id_key(1000, k), r, 0), 0);
	CHECK_EQ(inv_commit(c1), -EAGAIN);
	/* a changed key in the range */
	CHECK_EQ(inv_begin(c1), 0);
	CHECK_EQ(ie_row_each(c1, "big", "", count_fn, &n), 0);
	CHECK_EQ(ie_row_put(c1, "big_out", "y", r, 0), 0);
	CHECK_EQ(ie_row_put(c2, "big", ie_id_key(7, k), r, 0), 0);
	CHECK_EQ(inv_commit(c1), -EAGAIN);
	CHECK_EQ(ie_row_get(c2, "big_out", "y", &r, NULL), -ENOENT);
	json_decref(r);
	inv_put(c1);
	inv_put(c2);
}

static void test_open(void)
{
	struct db *d = NULL;
	char ep[64];

	CHECK_EQ(inv_etcd_open("", NULL, 1000, &d), -EINVAL);
	CHECK_EQ(inv_etcd_open(rig.endpoints, "", 1000, &d), -EINVAL);
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", etcdrig_free_port());
	CHECK_EQ(inv_etcd_open(ep, NULL, 1000, &d), -ECONNREFUSED);
	CHECK_EQ(inv_etcd_open(rig.endpoints, "/x", 1000, &d), 0);
	CHECK(!strcmp(inv_backend(d), "etcd"));
	inv_close(d);
}

int main(void)
{
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	RUN(test_id_key);
	rc = etcdrig_start_main(&rig, 1, "inv-etcd-row");
	if (rc)
		return rc - 1;
	if (inv_etcd_open(rig.endpoints, "/test/row", 2000, &db) ||
	    etcd_open(rig.endpoints, 2000, &raw)) {
		printf("FAIL inv-etcd-open: %s\n", etcd_errmsg());
		etcdrig_stop(&rig);
		return 1;
	}
	RUN(test_open);
	RUN(test_rows);
	RUN(test_each);
	RUN(test_unique_and_ids);
	RUN(test_txn);
	RUN(test_txn_many);
	inv_close(db);
	etcd_close(raw);
	etcdrig_stop(&rig);
	return check_done();
}
