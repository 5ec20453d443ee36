/* Authentication and permissions. */
#include "server/auth.h"
#include "server/inv.h"
#include "server/events.h"
#include "server/valid.h"
#include "util/log.h"

#include <argon2.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

/* OWASP's Argon2id parameters: 19 MiB, 2 passes, 1 lane. */
#define A2_T 2
#define A2_M 19456
#define A2_P 1

int auth_hash_password(const char *password, char *out, size_t outlen)
{
	unsigned char salt[16];

	if (getrandom(salt, sizeof(salt), 0) != sizeof(salt))
		return -EIO;
	if (argon2id_hash_encoded(A2_T, A2_M, A2_P, password, strlen(password), salt,
				  sizeof(salt), 32, out, outlen) != ARGON2_OK)
		return -EINVAL;
	return 0;
}

int auth_verify_password(const char *encoded, const char *password)
{
	return argon2id_verify(encoded, password, strlen(password)) == ARGON2_OK ? 0 : -EACCES;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Tokens are stored as their SHA-256: the inventory never holds a usable token. */
static void token_hash(const char *token, char out[65])
{
	unsigned char md[32];
	unsigned int n = sizeof(md);

	EVP_Digest(token, strlen(token), md, &n, EVP_sha256(), NULL);
	hex(md, 32, out);
}

/* A hash of a random password, checked when the user is unknown. */
static char dummy[160];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static void dummy_init(void)
{
	if (auth_hash_password("no such user", dummy, sizeof(dummy)))
		strcpy(dummy, "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
			      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
}

/* Sessions the inventory could not store (its filesystem full, or read-only): kept in
 * memory, so that logging in never needs a write to succeed. They end at their expiry,
 * at logout, when the user's password changes (as stored sessions do) or with the
 * daemon. */
#define MEM_SESSIONS 1024
static struct mem_session {
	char th[65];             /* "" when free */
	int64_t uid;
	int64_t expires;
	char pw[160];            /* the user's password hash at login */
} mem_sessions[MEM_SESSIONS];
static pthread_mutex_t mem_lock = PTHREAD_MUTEX_INITIALIZER;

static int mem_session_add(const char *th, int64_t uid, int64_t expires, const char *pw)
{
	struct mem_session *m = NULL;
	int64_t now = time(NULL);
	size_t i;

	pthread_mutex_lock(&mem_lock);
	for (i = 0; i < MEM_SESSIONS; i++)
		if (!mem_sessions[i].th[0] || mem_sessions[i].expires <= now) {
			m = &mem_sessions[i];
			break;
		}
	if (m) {
		snprintf(m->th, sizeof(m->th), "%s", th);
		m->uid = uid;
		m->expires = expires;
		snprintf(m->pw, sizeof(m->pw), "%s", pw);
	}
	pthread_mutex_unlock(&mem_lock);
	return m ? 0 : -ENOSPC;
}

/* The user of an in-memory session (0: none) and the password hash it was opened with
 * (pw, 160 bytes); with drop, forget it (logout). */
static int64_t mem_session_find(const char *th, bool drop, char *pw)
{
	int64_t uid = 0, now = time(NULL);
	size_t i;

	pthread_mutex_lock(&mem_lock);
	for (i = 0; i < MEM_SESSIONS; i++)
		if (mem_sessions[i].th[0] && !strcmp(mem_sessions[i].th, th)) {
			if (mem_sessions[i].expires > now) {
				uid = mem_sessions[i].uid;
				if (pw)
					memcpy(pw, mem_sessions[i].pw, sizeof(mem_sessions[i].pw));
			}
			if (drop || mem_sessions[i].expires <= now)
				mem_sessions[i].th[0] = '\0';
			break;
		}
	pthread_mutex_unlock(&mem_lock);
	return uid;
}

int auth_login(struct dbc *c, const char *user, const char *password, unsigned ttl,
	       char token_out[65], int64_t *expires)
{
	struct inv_user u;
	unsigned char raw[32];
	char th[65], *enc = NULL;
	struct timespec now;
	int64_t uid = 0;
	int rc;

	rc = inv_user_by_name(c, user, &u);
	if (rc == -EIO)
		return -EIO;
	if (!rc && u.password[0]) {
		uid = u.id;
		enc = strdup(u.password);
	}
	/* An unknown user costs the same hashing as a known one. */
	pthread_once(&dummy_once, dummy_init);
	rc = auth_verify_password(enc ? enc : dummy, password);
	if (!uid || rc) {
		free(enc);
		return -EACCES;
	}
	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw)) {
		free(enc);
		return -EIO;
	}
	hex(raw, sizeof(raw), token_out);
	token_hash(token_out, th);
	/* A token lives ttl seconds at least: expires is a whole second (the inventory's), so
	 * it is rounded up (time(NULL) + ttl would leave a token made late in a second as
	 * little as ttl - 1 s and a bit). */
	clock_gettime(CLOCK_REALTIME, &now);
	*expires = (int64_t)now.tv_sec + ttl + (now.tv_nsec > 0);
	if (inv_begin(c))
		goto mem;
	/* Expired sessions are swept on every login. */
	if (inv_session_sweep(c, time(NULL)) || inv_session_add(c, th, uid, *expires))
		goto err;
	if (!inv_commit(c)) {
		free(enc);
		return 0;
	}
err:
	inv_rollback(c);
mem:
	/* The inventory cannot take the session (a full filesystem): the password was
	 * right, so the session lives in memory instead. */
	vsrv_log("login of %s: the inventory cannot store the session; kept in memory", user);
	rc = mem_session_add(th, uid, *expires, enc) ? -EIO : 0;
	free(enc);
	return rc;
}

int auth_logout(struct dbc *c, const char *token)
{
	char th[65];
	int rc;

	token_hash(token, th);
	rc = inv_session_drop(c, th);
	if (mem_session_find(th, true, NULL))
		rc = 0;
	return rc;
}

static void fill_user(struct caller *who, int64_t id, const char *name, int admin)
{
	who->authenticated = true;
	who->user_id = id;
	who->admin = admin;
	snprintf(who->name, sizeof(who->name), "%s", name);
}

void auth_token_caller(struct dbc *c, const char *token, struct caller *who)
{
	struct inv_user u;
	char th[65], pw[160];
	int64_t uid;

	if (strlen(token) != 64)
		return;
	token_hash(token, th);
	if (!inv_session_user(c, th, time(NULL), &u))
		fill_user(who, u.id, u.name, u.admin);
	if (!who->authenticated && (uid = mem_session_find(th, false, pw)) > 0) {
		/* A deleted user or a changed password ends the session. */
		if (!inv_user_get(c, uid, &u) && u.password[0] && !strcmp(u.password, pw))
			fill_user(who, u.id, u.name, u.admin);
	}
}

void auth_peer_caller(struct dbc *c, int fd, struct caller *who)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct passwd pw, *res = NULL;
	char buf[1024];
	struct inv_user u;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return;
	if (cr.uid == 0) {
		who->authenticated = true;
		who->admin = true;
		snprintf(who->name, sizeof(who->name), "root");
		return;
	}
	if (getpwuid_r(cr.uid, &pw, buf, sizeof(buf), &res) || !res)
		return;
	if (!inv_user_by_name(c, res->pw_name, &u))
		fill_user(who, u.id, u.name, u.admin);
}

int auth_perms(struct dbc *c, const struct caller *who, const char *type, int64_t id)
{
	if (!who->authenticated)
		return 0;
	if (who->admin)
		return PERM_FULL | PERM_GUEST_AGENT;
	if (!who->user_id)
		return 0;
	return inv_perms(c, who->user_id, type, id);
}

/* What covered() checks each grant of a principal against. */
struct covering {
	struct dbc *c;
	const struct caller *who;
};

static int covered(const char *otype, int64_t oid, int need, void *arg)
{
	struct covering *cv = arg;

	return (auth_perms(cv->c, cv->who, otype, oid) & need) != need ? -EACCES : 0;
}

int auth_covers(struct dbc *c, const struct caller *who, const char *ptype, int64_t pid)
{
	if (who->admin)
		return 0;
	return inv_principal_grants(c, ptype, pid, covered, &(struct covering){ c, who });
}

int auth_require(struct req *r, const char *type, int64_t id, int need)
{
	int have = auth_perms(r->c, &r->who, type, id);
	json_t *names;
	char *s;

	if ((have & need) == need)
		return 0;
	names = auth_perm_names(need & ~have);
	s = json_dumps(names, JSON_COMPACT);
	req_error(r, -EACCES, "%s lacks permission %s on %s %s", r->who.name, s ? s : "?", type,
		  r->args[0] && strcmp(type, "server") ? r->args[0] : "");
	free(s);
	json_decref(names);
	return -EACCES;
}

bool auth_visible(struct dbc *c, const struct caller *who, const char *type, int64_t id)
{
	if (auth_perms(c, who, type, id) & PERM_VIEW)
		return true;
	if (!who->authenticated || !who->user_id)
		return false;
	return inv_named(c, who->user_id, type, id) == 1;
}

int auth_missing(struct req *r, const char *type, const char *name)
{
	char n[80];

	/* At most 63 bytes (a name's length), control characters shown as '?'. */
	snprintf(n, sizeof(n), "%.63s", name ? name : "");
	for (char *q = n; *q; q++)
		if ((unsigned char)*q < 0x20)
			*q = '?';
	req_error(r, -ENOENT, "no %s named '%s'", !strcmp(type, "vm") ? "VM" : type, n);
	return -ENOENT;
}

int auth_require_object(struct req *r, const char *type, int64_t id, const char *name, int need)
{
	int have = auth_perms(r->c, &r->who, type, id);
	json_t *names;
	char *s;

	if (!auth_visible(r->c, &r->who, type, id))
		return auth_missing(r, type, name);
	if ((have & need) == need)
		return 0;
	names = auth_perm_names(need & ~have);
	s = json_dumps(names, JSON_COMPACT);
	req_error(r, -EACCES, "%s lacks permission %s on %s %s", r->who.name, s ? s : "?", type, name);
	free(s);
	json_decref(names);
	return -EACCES;
}

static const struct { const char *name; int bits; } perm_names[] = {
	{ "view", PERM_VIEW }, { "control", PERM_CONTROL }, { "modify", PERM_MODIFY },
	{ "remove", PERM_REMOVE }, { "change-permissions", PERM_CHANGE_PERMS },
	{ "full", PERM_FULL }, { "guest-agent", PERM_GUEST_AGENT },
};

int auth_perm_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(perm_names) / sizeof(perm_names[0]); i++)
		if (!strcmp(name, perm_names[i].name))
			return perm_names[i].bits;
	return -EINVAL;
}

json_t *auth_perm_names(int perms)
{
	json_t *a = json_array();
	size_t i;

	if ((perms & PERM_FULL) == PERM_FULL) {
		json_array_append_new(a, json_string("full"));
		perms &= ~PERM_FULL;
	}
	for (i = 0; i < sizeof(perm_names) / sizeof(perm_names[0]); i++)
		if (perm_names[i].bits != PERM_FULL && (perms & perm_names[i].bits))
			json_array_append_new(a, json_string(perm_names[i].name));
	return a;
}

int auth_init_admin(struct dbc *c, const char *spec)
{
	char name[64], pw[128], enc[160];
	const char *colon;
	int64_t n = 0;
	int rc;

	if (inv_user_count(c, &n))
		return -EIO;
	if (n > 0)
		return 0;
	if (spec) {
		colon = strchr(spec, ':');
		if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(name) ||
		    strlen(colon + 1) >= sizeof(pw) || !colon[1])
			return -EINVAL;
		memcpy(name, spec, colon - spec);
		name[colon - spec] = '\0';
		strcpy(pw, colon + 1);
		if (valid_name(name, NULL, 0))
			return -EINVAL;
	} else {
		unsigned char raw[12];

		if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
			return -EIO;
		strcpy(name, "admin");
		hex(raw, sizeof(raw), pw);
	}
	rc = auth_hash_password(pw, enc, sizeof(enc));
	if (rc)
		return rc;
	rc = inv_user_create(c, name, enc, true, NULL);
	if (rc)
		return rc;
	if (!spec) {
		printf("vsrv serve: created administrator '%s' with one-time password: %s\n"
		       "            (printed once; change it with `vsrv user passwd %s`)\n",
		       name, pw, name);
		fflush(stdout);
	}
	vsrv_log("created administrator '%s'", name);
	OPENSSL_cleanse(pw, sizeof(pw));
	return 0;
}
