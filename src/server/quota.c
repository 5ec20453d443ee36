/* Per-user resource quotas. See quota.h. */
#include "server/quota.h"
#include "util/size.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The limits, in struct inv_quota's order: the API's field, the text option's name, and
 * how a message says the amount. */
static const struct {
	const char *field, *opt, *what;
	bool size;                  /* the text option takes a size */
} limits[] = {
	{ "vms", "vms", "VMs", false },
	{ "cpus", "cpus", "vCPUs", false },
	{ "memory_mib", "memory", "MiB of VM memory", true },
	{ "disks", "disks", "disks", false },
	{ "disk_bytes", "disk-size", "bytes of disk", true },
	{ "snapshots", "snapshots", "snapshots", false },
};
#define NLIMITS (sizeof(limits) / sizeof(limits[0]))

static int64_t *at(struct inv_quota *q, size_t i)
{
	int64_t *f[NLIMITS] = { &q->vms, &q->cpus, &q->memory_mib, &q->disks, &q->disk_bytes,
				&q->snapshots };

	return f[i];
}

static int64_t get(const struct inv_quota *q, size_t i)
{
	return *at((struct inv_quota *)q, i);
}

/* Whether ask adds anything. */
static bool asks(const struct inv_quota *ask)
{
	for (size_t i = 0; i < NLIMITS; i++)
		if (get(ask, i) > 0)
			return true;
	return false;
}

/* Levels of managers above a user, and of users below a manager, a check follows at most
 * (the links are made at a user's create, so they have no cycles; a bound all the same). */
#define QUOTA_DEPTH 16

/* What uid and every user it manages (recursively, QUOTA_DEPTH levels) own together, into
 * *out, and how many users that is into *users: inv_usage_tree, whose cost does not grow
 * with the number of users (uid's own read joins the transaction: every check against
 * uid's limits reads it so). 0 or -EIO. */
static int tree_usage(struct dbc *c, int64_t uid, struct inv_quota *out, size_t *users)
{
	return inv_usage_tree(c, uid, QUOTA_DEPTH, out, users) ? -EIO : 0;
}

/* The limits of user uid and what they bound (its and its managed users' usage): 2 for an
 * administrator or a deleted user (nothing limits it, nor any manager above it), 1 when
 * none of its limits applies to ask, else 0 and *q, *use, *u and *users (how many users
 * *use sums). -EIO. */
static int limits_of(struct dbc *c, int64_t uid, const struct inv_quota *ask,
		     struct inv_quota *q, struct inv_quota *use, struct inv_user *u,
		     size_t *users)
{
	bool limited = false;
	int64_t more = 0;
	size_t i;
	int rc = inv_user_get(c, uid, u);

	if (rc == -ENOENT || (!rc && u->admin))
		return 2;   /* a deleted user's objects count for nobody; administrators unlimited */
	if (!rc)
		rc = inv_quota_get(c, uid, q);
	for (i = 0; !rc && i < NLIMITS; i++)
		limited |= get(ask, i) > 0 && get(q, i) >= 0;
	if (rc)
		return -EIO;
	if (!limited)
		return 1;
	/* in the caller's transaction: what another create under this user's limits commits
	 * first either is counted here or fails this one's commit (inv.h); and what the
	 * inventory does not record yet: the undo disks of the running VMs of this host as
	 * they are now (inv_usage_extra) */
	rc = tree_usage(c, uid, use, users) ? -EIO : inv_usage_extra(c, uid, &more) ? -EIO : 0;
	use->disk_bytes += more;
	return rc;
}

/* The manager of user uid (0: none). 0 or -EIO. */
static int manager_of(struct dbc *c, int64_t uid, int64_t *m)
{
	return inv_owner_get(c, "user", uid, m) ? -EIO : 0;
}

int quota_admit(struct dbc *c, int64_t uid, const struct inv_quota *ask, char *err,
		size_t errlen)
{
	struct inv_quota q, use;
	struct inv_user u;
	size_t i, users = 1;
	int64_t at_uid = uid;
	int depth, rc;

	if (!uid || !asks(ask))
		return 0;
	/* the user's limits, then each manager's above it: a manager's bound what it and the
	 * users it manages own together */
	for (depth = 0; at_uid && depth < QUOTA_DEPTH; depth++) {
		rc = limits_of(c, at_uid, ask, &q, &use, &u, &users);
		if (rc < 0) {
			snprintf(err, errlen, "inventory error reading the quota or the usage");
			return -EIO;
		}
		if (rc == 2)
			return 0;
		for (i = 0; !rc && i < NLIMITS; i++) {
			int64_t a = get(ask, i), lim = get(&q, i), cur = get(&use, i);

			if (a <= 0 || lim < 0 || (cur <= lim && a <= lim - cur))
				continue;
			if (users > 1)
				snprintf(err, errlen, "quota exceeded: %s: user %s may own %" PRId64 " %s "
					 "together with the %zu users it manages, they own %" PRId64
					 " and asked for %" PRId64 " more", limits[i].field, u.name, lim,
					 limits[i].what, users - 1, cur, a);
			else
				snprintf(err, errlen, "quota exceeded: %s: user %s may own %" PRId64
					 " %s, owns %" PRId64 " and asked for %" PRId64 " more",
					 limits[i].field, u.name, lim, limits[i].what, cur, a);
			return -EDQUOT;
		}
		if (manager_of(c, at_uid, &at_uid)) {
			snprintf(err, errlen, "inventory error reading the user's manager");
			return -EIO;
		}
	}
	return 0;
}

int quota_room(struct dbc *c, int64_t uid, int64_t *room)
{
	const struct inv_quota ask = { .disk_bytes = 1 };
	struct inv_quota q, use;
	struct inv_user u;
	size_t users;
	int depth, rc;

	bool set = false;

	*room = -1;
	for (depth = 0; uid && depth < QUOTA_DEPTH; depth++) {
		rc = limits_of(c, uid, &ask, &q, &use, &u, &users);
		if (rc < 0)
			return -EIO;
		if (rc == 2)
			return 0;
		if (!rc && (!set || q.disk_bytes - use.disk_bytes < *room))
			*room = q.disk_bytes - use.disk_bytes;
		set |= !rc;
		if (manager_of(c, uid, &uid))
			return -EIO;
	}
	if (set && *room < 0)
		*room = 0;      /* over already (a limit lowered): no room, not "no limit" */
	return 0;
}

int quota_admit_owner(struct dbc *c, const char *kind, int64_t id, const struct inv_quota *ask,
		      char *err, size_t errlen)
{
	int64_t uid = 0;

	if (!asks(ask))
		return 0;   /* (an edit that adds nothing reads nothing more) */
	if (inv_owner_get(c, kind, id, &uid)) {
		snprintf(err, errlen, "inventory error reading the owner");
		return -EIO;
	}
	return quota_admit(c, uid, ask, err, errlen);
}

int64_t quota_owner(const struct caller *who)
{
	return who->admin ? 0 : who->user_id;
}

int quota_for_new_user(struct dbc *c, const struct caller *who, const struct inv_quota *def,
		       struct inv_quota *q, bool *set)
{
	struct inv_quota own;
	size_t i;

	*q = (struct inv_quota){ -1, -1, -1, -1, -1, -1 };
	*set = false;
	if (who->admin) {
		if (def) {
			*q = *def;
			*set = true;
		}
		return 0;
	}
	if (inv_quota_get(c, who->user_id, &own))
		return -EIO;
	for (i = 0; i < NLIMITS; i++) {
		int64_t a = get(&own, i), b = def ? get(def, i) : -1;

		*at(q, i) = a < 0 ? (b < 0 ? 0 : b) : (b < 0 || a < b ? a : b);
	}
	*set = true;
	return 0;
}

int quota_manage(struct dbc *c, const struct caller *who, int64_t uid)
{
	int64_t m = who->user_id;
	int above = 0;

	if (who->admin || !who->user_id)
		return 0;
	/* the new user's managers (who and those above it): each check follows QUOTA_DEPTH
	 * users up from the owner (quota_admit: it and 15 managers), so a deeper user would
	 * escape the top ones */
	while (m && above < QUOTA_DEPTH) {
		if (manager_of(c, m, &m))
			return -EIO;
		above++;
	}
	if (above >= QUOTA_DEPTH)
		return -EMLINK;
	return inv_owner_set(c, "user", uid, who->user_id) ? -EIO : 0;
}

int quota_may_delete(struct dbc *c, const struct caller *who, int64_t uid, char *err,
		     size_t errlen)
{
	struct inv_quota use;
	int64_t m = 0;
	size_t users = 0, i;
	bool owns = false;

	if (who->admin || !uid)
		return 0;
	if (manager_of(c, uid, &m) || (m && tree_usage(c, uid, &use, &users)))
		return -EIO;
	if (!m)
		return 0;
	for (i = 0; i < NLIMITS; i++)
		owns |= get(&use, i) > 0;
	if (!owns && users <= 1)
		return 0;
	snprintf(err, errlen, "the user still owns VMs, disks or images, or manages users, which "
		 "count under its manager's quota: delete them first");
	return -EBUSY;
}

int quota_total(struct dbc *c, int64_t uid, struct inv_quota *out, char *manager,
		size_t mlen)
{
	struct inv_user u;
	int64_t m = 0;
	size_t users;
	int rc;

	manager[0] = '\0';
	if (tree_usage(c, uid, out, &users) || manager_of(c, uid, &m))
		return -EIO;
	rc = m ? inv_user_get(c, m, &u) : -ENOENT;
	if (rc && rc != -ENOENT)
		return -EIO;
	if (!rc)
		snprintf(manager, mlen, "%s", u.name);
	return 0;
}

json_t *quota_json(const struct inv_quota *q)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; o && i < NLIMITS; i++)
		if (json_object_set_new(o, limits[i].field, get(q, i) < 0 ? json_null() :
					json_integer((json_int_t)get(q, i)))) {
			json_decref(o);
			o = NULL;
		}
	return o;
}

int quota_parse(const json_t *o, struct inv_quota *q, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	size_t i;

	*q = (struct inv_quota){ -1, -1, -1, -1, -1, -1 };
	if (!json_is_object(o)) {
		snprintf(err, errlen, "the body must be an object of limits");
		return -EINVAL;
	}
	json_object_foreach((json_t *)o, key, v) {
		for (i = 0; i < NLIMITS && strcmp(key, limits[i].field); i++)
			;
		if (i == NLIMITS) {
			snprintf(err, errlen, "%.64s: not a limit (the limits are vms, cpus, memory_mib, "
				 "disks, disk_bytes, snapshots)", key);
			return -EINVAL;
		}
		if (json_is_null(v))
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			snprintf(err, errlen, "%s: a whole number >= 0, or null for no limit", key);
			return -EINVAL;
		}
		*at(q, i) = json_integer_value(v);
	}
	return 0;
}

int quota_parse_text(const char *text, struct inv_quota *q, char *err, size_t errlen)
{
	char *copy = strdup(text), *save = NULL, *item;
	int rc = copy ? 0 : -ENOMEM;

	*q = (struct inv_quota){ -1, -1, -1, -1, -1, -1 };
	for (item = copy ? strtok_r(copy, ",", &save) : NULL; !rc && item;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		uint64_t v = 0;
		size_t i;

		if (eq)
			*eq = '\0';
		for (i = 0; i < NLIMITS && strcmp(item, limits[i].opt); i++)
			;
		if (!eq || i == NLIMITS || size_parse(eq + 1, &v) || v > INT64_MAX ||
		    (!limits[i].size && strspn(eq + 1, "0123456789") != strlen(eq + 1))) {
			snprintf(err, errlen, "'%.64s': want NAME=VALUE, NAME one of vms, cpus, memory, "
				 "disks, disk-size, snapshots (memory and disk-size take K, M, G, T)",
				 item);
			rc = -EINVAL;
			break;
		}
		/* memory: a plain number is MiB (as memory_mib), a size is rounded down to MiB */
		if (!strcmp(limits[i].opt, "memory") && strspn(eq + 1, "0123456789") != strlen(eq + 1))
			v /= 1024 * 1024;
		*at(q, i) = (int64_t)v;
	}
	free(copy);
	return rc;
}
