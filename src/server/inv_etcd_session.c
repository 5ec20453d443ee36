/* The inventory's login sessions on etcd. A session is two rows written together:
 *   sessions/TOKENHASH              {user, expires, epoch}  (what a request's token finds)
 *   session_exp/EXPIRES/TOKENHASH   {user}                  (by expiry, EXPIRES ie_id_key's:
 *                                                            the sweep reads only the
 *                                                            expired ones)
 * A user's sessions end together (a new password, the user deleted) without a write per
 * session: the user's row has a session epoch ("sessions", 0 when absent) that each of its
 * sessions records when it starts, and inv_session_drop_user raises it; a session whose
 * epoch is not its user's (or whose user is gone) is no session any more: every call here
 * treats it as absent, and it is swept at its expiry. So ending a user's sessions is one
 * write whatever their number (one transaction of etcd holds at most --max-txn-ops
 * writes, 128 by default). See inv.h. */
#include "server/inv_etcd_direct.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The keys of session th expiring at expires. */
struct skeys {
	char sess[80], exp[112];
};

static void skeys(const char *th, int64_t expires, struct skeys *k)
{
	char e[21];

	ie_id_key(expires < 0 ? 0 : expires, e);
	snprintf(k->sess, sizeof(k->sess), "%s", th);
	snprintf(k->exp, sizeof(k->exp), "%s/%s", e, th);
}

/* A token hash is 64 hex digits (inv.h); anything else is no key of ours. */
static bool th_ok(const char *th)
{
	size_t n = strlen(th);

	return n > 0 && n <= 64 && strspn(th, "0123456789abcdefABCDEF") == n;
}

/* A value read as a row (a JSON object), or NULL. */
static json_t *kv_row(const struct etcd_kvs *kvs)
{
	json_t *j = NULL;

	if (kvs->n && ie_row_parse(kvs->kv[0].key, kvs->kv[0].value, kvs->kv[0].value_len, &j))
		j = NULL;
	return j;
}

/* Outside a transaction, session th's row and the row of the user it had last time
 * (st->user_hints: a session's user does not change, but the hint is only a hint) in one
 * round trip: 1 and *row, *user (NULL: not that user, or gone: read it); 0 when there is
 * no hint; -ENOENT, -EIO. */
static int session_read_ahead(struct dbc *c, const char *th, json_t **row, json_t **user)
{
	struct inv_etcd *st = ie_store(c);
	char *keys[2] = { ied_key(c, "sessions", th), NULL }, uk[21];
	int64_t hint = keys[0] ? ie_hint_get(st, st->user_hints, keys[0]) : 0;
	struct etcd_kvs kvs[2];
	int rc = 0;

	if (hint > 0 && !ie_sess(c)->t)
		keys[1] = ied_key(c, "users", ie_id_key(hint, uk));
	if (!keys[1])
		goto out;
	ie_pre_drop(c);
	rc = ie_etcd_err(etcd_read_many(st->e, (const struct etcd_read[]){ { keys[0], false },
						{ keys[1], false } }, 2, kvs, NULL),
			 "read", keys[0]);
	if (rc)
		goto out;
	*row = kv_row(&kvs[0]);
	rc = !kvs[0].n ? -ENOENT : *row ? 1 : -EIO;
	if (rc == 1 && ie_int(*row, "user") == hint && kvs[1].n && !(*user = kv_row(&kvs[1])))
		rc = -EIO;
	if (rc < 0) {
		json_decref(*row);
		*row = NULL;
	}
	etcd_kvs_clear(&kvs[0]);
	etcd_kvs_clear(&kvs[1]);
out:
	free(keys[0]);
	free(keys[1]);
	return rc;
}

/* Session th's row and its user's (when the session is still its user's): 0 and *row,
 * *user (NULL for a session that ended; json_decref both), -ENOENT (no row at all). */
static int session_get(struct dbc *c, const char *th, json_t **row, json_t **user)
{
	char *sk;
	int rc;

	*row = NULL;
	*user = NULL;
	rc = session_read_ahead(c, th, row, user);
	if (rc == 1) {
		rc = 0;
		if (!*user)
			rc = ie_row_get_id(c, "users", ie_int(*row, "user"), user, NULL);
		goto check;
	}
	*user = NULL;
	if (rc)
		return rc;
	rc = ie_row_get(c, "sessions", th, row, NULL);
	if (rc)
		return rc;
	sk = ied_key(c, "sessions", th);
	if (sk)
		ie_hint_set(ie_store(c), ie_store(c)->user_hints, sk, ie_int(*row, "user"));
	free(sk);
	rc = ie_row_get_id(c, "users", ie_int(*row, "user"), user, NULL);
check:
	if (!rc && ie_int(*user, "sessions") != ie_int(*row, "epoch")) {
		json_decref(*user);
		*user = NULL;
	}
	if (rc && rc != -ENOENT) {
		json_decref(*row);
		*row = NULL;
		return rc;
	}
	return 0;
}

/* The rows of a new session. */
struct sess_new {
	struct skeys k;
	int64_t uid, expires;
};

/* The token hash of a new session is taken when a session has it (-EEXIST), not when that
 * session has ended (as SQLite's, where its row went): its expiry row goes. */
static int replace_ended(struct dbc *c, const struct sess_new *a)
{
	json_t *old = NULL, *user = NULL;
	struct skeys k;
	int rc = session_get(c, a->k.sess, &old, &user);

	if (rc == -ENOENT)
		return 0;
	if (!rc && user)
		rc = -EEXIST;
	if (!rc) {
		skeys(a->k.sess, ie_int(old, "expires"), &k);
		if (strcmp(k.exp, a->k.exp))
			rc = ie_row_delete(c, "session_exp", k.exp, false);
		if (rc == -ENOENT)
			rc = 0;
	}
	json_decref(old);
	json_decref(user);
	return rc;
}

static int add_body(struct dbc *c, void *arg)
{
	struct sess_new *a = arg;
	json_t *u = NULL, *s = NULL, *se = NULL;
	char uk[21];
	/* SQLite's foreign key refuses the session of a missing user: -EEXIST there. */
	int rc = ie_row_get(c, "users", ie_id_key(a->uid, uk), &u, NULL);

	if (rc == -ENOENT)
		rc = -EEXIST;
	if (!rc) {
		s = json_pack("{s:I,s:I,s:I}", "user", (json_int_t)a->uid, "expires",
			      (json_int_t)a->expires, "epoch", (json_int_t)ie_int(u, "sessions"));
		se = json_pack("{s:I}", "user", (json_int_t)a->uid);
		rc = s && se ? 0 : -ENOMEM;
	}
	if (!rc)
		rc = replace_ended(c, a);
	if (!rc)
		rc = ie_row_put(c, "sessions", a->k.sess, s, 0);
	if (!rc)
		rc = ie_row_put(c, "session_exp", a->k.exp, se, 0);
	json_decref(u);
	json_decref(s);
	json_decref(se);
	return rc;
}

int inv_etcd_session_add(struct dbc *c, const char *th, int64_t uid, int64_t expires)
{
	struct sess_new a = { .uid = uid, .expires = expires };

	char *sk;
	int rc;

	if (!th_ok(th))
		return -EINVAL;
	skeys(th, expires, &a.k);
	rc = ie_write(c, add_body, &a);
	/* its requests read the user with the session (session_read_ahead) */
	sk = rc ? NULL : ied_key(c, "sessions", th);
	if (sk)
		ie_hint_set(ie_store(c), ie_store(c)->user_hints, sk, uid);
	free(sk);
	return rc;
}

static int drop_body(struct dbc *c, void *arg)
{
	const char *th = arg;
	json_t *row = NULL, *user = NULL;
	struct skeys k;
	int rc = session_get(c, th, &row, &user);

	/* a session that has ended is dropped already, as far as anyone can tell (its rows
	 * go at its expiry) */
	if (!rc && !user)
		rc = -ENOENT;
	if (!rc) {
		skeys(th, ie_int(row, "expires"), &k);
		rc = ie_row_delete(c, "sessions", k.sess, false);
		if (!rc || rc == -ENOENT)
			rc = ie_row_delete(c, "session_exp", k.exp, false);
		if (rc == -ENOENT)
			rc = 0;
	}
	json_decref(row);
	json_decref(user);
	return rc;
}

int inv_etcd_session_drop(struct dbc *c, const char *th)
{
	return th_ok(th) ? ie_write(c, drop_body, (void *)th) : -ENOENT;
}

static int drop_user_body(struct dbc *c, void *arg)
{
	int64_t uid = *(int64_t *)arg;
	json_t *row = NULL;
	uint64_t rev;
	char key[21];
	int rc = ie_row_get(c, "users", ie_id_key(uid, key), &row, &rev);

	if (rc == -ENOENT)
		return 0;
	if (!rc)
		rc = ie_set_int(row, "sessions", ie_int(row, "sessions") + 1);
	if (!rc)
		rc = ie_row_put(c, "users", key, row, rev);
	json_decref(row);
	return rc;
}

int inv_etcd_session_drop_user(struct dbc *c, int64_t uid)
{
	return ie_write(c, drop_user_body, &uid);
}

/* inv_etcd_session_sweep: the full keys of the expired sessions' rows. */
struct sweep {
	struct dbc *c;
	char **keys;
	size_t n, cap;
};

static int sweep_add(struct sweep *w, char *key)
{
	if (!key)
		return -ENOMEM;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		char **k = realloc(w->keys, cap * sizeof(*k));

		if (!k) {
			free(key);
			return -ENOMEM;
		}
		w->keys = k;
		w->cap = cap;
	}
	w->keys[w->n++] = key;
	return 0;
}

static int sweep_row(const char *key, json_t *row, uint64_t rev, int64_t lease, void *arg)
{
	struct sweep *w = arg;
	const char *th = strchr(key, '/');
	int rc;

	(void)row;
	(void)rev;
	(void)lease;
	if (!th)
		return 0;
	rc = sweep_add(w, ied_key(w->c, "sessions", th + 1));
	return rc ? rc : sweep_add(w, ied_key(w->c, "session_exp", key));
}

/* The expired sessions go at once, outside the caller's transaction (a login sweeps in its
 * own): they are no one's any more (inv_etcd_session_user refuses them), and two logins
 * sweeping the same ones never conflict. */
int inv_etcd_session_sweep(struct dbc *c, int64_t now)
{
	struct sweep w = { .c = c };
	char end[21];
	size_t i;
	int rc;

	ie_id_key(now < 0 ? 0 : now + 1, end);    /* expires <= now */
	rc = ied_range(c, "session_exp", "", end, 0, sweep_row, &w);
	if (!rc && w.n)
		rc = ied_delete_keys(c, w.keys, w.n);
	for (i = 0; i < w.n; i++)
		free(w.keys[i]);
	free(w.keys);
	return rc;
}

int inv_etcd_session_user(struct dbc *c, const char *th, int64_t now, struct inv_user *out)
{
	json_t *row = NULL, *user = NULL;
	int rc;

	if (!th_ok(th))
		return -ENOENT;
	rc = session_get(c, th, &row, &user);
	if (!rc && (!user || ie_int(row, "expires") <= now))
		rc = -ENOENT;
	if (!rc)
		ieb_user_fill(ie_int(row, "user"), user, out);
	json_decref(row);
	json_decref(user);
	return rc;
}
