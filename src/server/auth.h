/* Authentication (Argon2id passwords, bearer tokens, Unix peer credentials) and
 * per-object permissions. */
#ifndef VSRV_SERVER_AUTH_H
#define VSRV_SERVER_AUTH_H

#include "server/server.h"

/* Hash a password with Argon2id into an encoded string (out, at least 128 bytes).
 * Returns 0 or -EINVAL. */
int auth_hash_password(const char *password, char *out, size_t outlen);

/* Check a password against an encoded hash: 0 when it matches, -EACCES otherwise. */
int auth_verify_password(const char *encoded, const char *password);

/* Log user in: check the password (constant work whether the user exists or not) and
 * create a token valid for ttl seconds. token_out gets the token (65 bytes). The session
 * is stored in the inventory, or in memory when the inventory cannot be written (a full
 * filesystem: such a session ends with the daemon). Returns 0, -EACCES for a wrong user
 * or password, or -EIO. */
int auth_login(struct dbc *c, const char *user, const char *password, unsigned ttl,
	       char token_out[65], int64_t *expires);

/* The session cookie's name: login sets it to the token; only WebSocket routes take it. */
#define AUTH_COOKIE "vsrv_session"

/* Forget a token (logout). Returns 0 or -ENOENT. */
int auth_logout(struct dbc *c, const char *token);

/* Fill who from a bearer token (unknown or expired: not authenticated). */
void auth_token_caller(struct dbc *c, const char *token, struct caller *who);

/* Fill who from a Unix socket's peer credentials: root is the administrator; other
 * uids map to the server user of the same name, if any. */
void auth_peer_caller(struct dbc *c, int fd, struct caller *who);

/* The permissions the caller holds on (type, id): the union of grants on the object and
 * on the server ("server", 0), to the user and to each of its groups. Administrators
 * hold PERM_FULL. */
int auth_perms(struct dbc *c, const struct caller *who, const char *type, int64_t id);

/* 0 when who holds every permission that the principal (ptype "user", with its groups'
 * grants, or "group"; pid its id) holds on every object; -EACCES when it lacks one, -EIO.
 * Administrators hold everything. A non-administrator changes other principals only
 * within what it holds: this is the check. */
int auth_covers(struct dbc *c, const struct caller *who, const char *ptype, int64_t pid);

/* 0 when the caller holds every bit of need on the object, else sets a 403 response on r
 * and returns -EACCES. For the server object ("server", 0); an object that a request
 * names goes through auth_require_object, which hides it from callers that may not see it. */
int auth_require(struct req *r, const char *type, int64_t id, int need);

/* May the caller see the object (type, id) exist? When it holds view on it (as
 * auth_perms: also through a group or the server), or any permission granted on that
 * object itself (a grant names the object to its holder). A grant on the server other than
 * view reveals no object. */
bool auth_visible(struct dbc *c, const struct caller *who, const char *type, int64_t id);

/* The answer for an object that does not exist, and for one the caller may not see (not
 * auth_visible): the same 404 "no KIND named 'NAME'", so that answers never tell which
 * names exist. type is the acl's ("vm", "disk", "network"), "user" or "group"; name is
 * the name the request gave. Returns -ENOENT. */
int auth_missing(struct req *r, const char *type, const char *name);

/* auth_require for an existing object (type, id) that the request named name: the answer
 * of auth_missing and -ENOENT when the object is not auth_visible to the caller (whatever
 * need is); 0 when the caller holds every bit of need on it; otherwise 403 and -EACCES. */
int auth_require_object(struct req *r, const char *type, int64_t id, const char *name, int need);

/* Parse/format permission names: "view", "control", "modify", "remove",
 * "change-permissions", "full" (the five), "guest-agent" (the guest agent's commands that
 * reach into the guest; not part of "full": administrators hold it, others by a grant). */
int auth_perm_parse(const char *name);
json_t *auth_perm_names(int perms);

/* Create the first administrator when there are no users. spec is "USER:PASSWORD" or
 * NULL (a random one-time password is generated and printed once on stdout). */
int auth_init_admin(struct dbc *c, const char *spec);

#endif
