/* The inventory's login sessions on etcd. A session is three rows written and deleted
 * together:
 *   sessions/TOKENHASH                 {user, expires}   (what a request's token finds)
 *   session_users/UID/TOKENHASH        {expires}         (a user's sessions: a new password
 *                                                         or the user's deletion drops them)
 *   session_exp/EXPIRES/TOKENHASH      {user}            (by expiry: the sweep reads only
 *                                                         the expired ones)
 * EXPIRES and UID are ie_id_key's, so key order is time order. See inv.h. */
#include "server/inv_etcd_direct.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The keys of session th of user uid expiring at expires. */
struct skeys {
	char sess[80], user[112], exp[112];
};

static void skeys(const char *th, int64_t uid, int64_t expires, struct skeys *k)
{
	char u[21], e[21];

	ie_id_key(uid, u);
	ie_id_key(expires < 0 ? 0 : expires, e);
	snprintf(k->sess, sizeof(k->sess), "%s", th);
	snprintf(k->user, sizeof(k->user), "%s/%s", u, th);
	snprintf(k->exp, sizeof(k->exp), "%s/%s", e, th);
}

/* A token hash is 64 hex digits (inv.h); anything else is no key of ours. */
static bool th_ok(const char *th)
{
	size_t n = strlen(th);

	return n > 0 && n <= 64 && strspn(th, "0123456789abcdefABCDEF") == n;
}

/* The rows of a new session. */
struct sess_new {
	struct skeys k;
	int64_t uid;
	json_t *s, *su, *se;
};

static int add_body(struct dbc *c, void *arg)
{
	struct sess_new *a = arg;
	json_t *u = NULL;
	char uk[21];
	/* SQLite's foreign key refuses the session of a missing user: -EEXIST there. */
	int rc = ie_row_get(c, "users", ie_id_key(a->uid, uk), &u, NULL);

	json_decref(u);
	if (rc == -ENOENT)
		rc = -EEXIST;
	if (!rc)
		rc = ie_row_put(c, "sessions", a->k.sess, a->s, IE_ABSENT);
	if (!rc)
		rc = ie_row_put(c, "session_users", a->k.user, a->su, 0);
	if (!rc)
		rc = ie_row_put(c, "session_exp", a->k.exp, a->se, 0);
	return rc;
}

int inv_etcd_session_add(struct dbc *c, const char *th, int64_t uid, int64_t expires)
{
	struct sess_new a = { .uid = uid };
	int rc;

	if (!th_ok(th))
		return -EINVAL;
	skeys(th, uid, expires, &a.k);
	a.s = json_pack("{s:I,s:I}", "user", (json_int_t)uid, "expires", (json_int_t)expires);
	a.su = json_pack("{s:I}", "expires", (json_int_t)expires);
	a.se = json_pack("{s:I}", "user", (json_int_t)uid);
	rc = a.s && a.su && a.se ? ie_write(c, add_body, &a) : -ENOMEM;
	json_decref(a.s);
	json_decref(a.su);
	json_decref(a.se);
	return rc;
}

/* Delete the three rows of session th (its row already read). */
static int drop_rows(struct dbc *c, const char *th, int64_t uid, int64_t expires)
{
	struct skeys k;
	int rc;

	skeys(th, uid, expires, &k);
	rc = ie_row_delete(c, "sessions", k.sess, false);
	if (!rc || rc == -ENOENT)
		rc = ie_row_delete(c, "session_users", k.user, false);
	if (!rc || rc == -ENOENT)
		rc = ie_row_delete(c, "session_exp", k.exp, false);
	return rc == -ENOENT ? 0 : rc;
}

static int drop_body(struct dbc *c, void *arg)
{
	const char *th = arg;
	json_t *row = NULL;
	int rc = ie_row_get(c, "sessions", th, &row, NULL);

	if (!rc)
		rc = drop_rows(c, th, ie_int(row, "user"), ie_int(row, "expires"));
	json_decref(row);
	return rc;
}

int inv_etcd_session_drop(struct dbc *c, const char *th)
{
	return th_ok(th) ? ie_write(c, drop_body, (void *)th) : -ENOENT;
}

/* inv_etcd_session_drop_user: the user's sessions, as [th, expires]. */
static int collect_user(const char *key, json_t *row, uint64_t rev, void *arg)
{
	const char *slash = strchr(key, '/');

	(void)rev;
	if (!slash)
		return 0;
	return json_array_append_new(arg, json_pack("[s,I]", slash + 1,
						     (json_int_t)ie_int(row, "expires"))) ? -ENOMEM : 0;
}

static int drop_user_body(struct dbc *c, void *arg)
{
	int64_t uid = *(int64_t *)arg;
	json_t *a = json_array(), *s;
	char pfx[32];
	size_t i;
	int rc = a ? 0 : -ENOMEM;

	ie_id_key(uid, pfx);
	strcat(pfx, "/");
	if (!rc)
		rc = ie_row_each(c, "session_users", pfx, collect_user, a);
	json_array_foreach(a, i, s) {
		if (rc)
			break;
		rc = drop_rows(c, json_string_value(json_array_get(s, 0)), uid,
			       json_integer_value(json_array_get(s, 1)));
	}
	json_decref(a);
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
	int rc;
};

static int sweep_add(struct sweep *w, char *key)
{
	if (!key)
		return -ENOMEM;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 48;
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
	struct skeys k;
	int rc;

	(void)rev;
	(void)lease;
	if (!th)
		return 0;
	th++;
	skeys(th, ie_int(row, "user"), strtoll(key, NULL, 10), &k);
	rc = sweep_add(w, ied_key(w->c, "sessions", k.sess));
	if (!rc)
		rc = sweep_add(w, ied_key(w->c, "session_users", k.user));
	if (!rc)
		rc = sweep_add(w, ied_key(w->c, "session_exp", k.exp));
	return rc;
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
	json_t *row = NULL;
	int rc;

	if (!th_ok(th))
		return -ENOENT;
	rc = ie_row_get(c, "sessions", th, &row, NULL);
	if (!rc && ie_int(row, "expires") <= now)
		rc = -ENOENT;
	if (!rc)
		rc = inv_etcd_user_get(c, ie_int(row, "user"), out);
	json_decref(row);
	return rc;
}
