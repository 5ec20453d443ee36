/* Per-user resource quotas: the abuse limit of a server shared by tenants. An administrator
 * sets a user's quota (PUT /api/v1/users/NAME/quota): at most so many VMs, vCPUs and MiB of
 * memory over its VMs, disks and bytes of disk (virtual sizes, the files of its private
 * images of the image store: imgacl_reserve, and of its VMs' undo disks: undo_account),
 * snapshots; a limit not set
 * is unlimited, and a user without a quota is unlimited (what every user was before).
 * Administrators are never limited. Groups carry no quota: a user's limits are its own.
 *
 * Usage counts by owner: a VM or disk belongs to the user who made it (create, clone,
 * template, convert, copy, import) unless an administrator made it (then it counts for
 * nobody); a snapshot counts for the owner of its VM. A change that adds usage (a VM's
 * cpus or memory_mib raised, a disk grown, a snapshot) is checked against the quota of the
 * object's owner. The check runs inside the transaction that writes the change, after the
 * usage is read in it (inv_usage), so two parallel creates of one user at its limit cannot
 * both pass: on SQLite the writers are serialised; on etcd the usage read stamps the
 * user's quota row in the transaction (inv_etcd_quota.c), and the one that commits second
 * fails with -EAGAIN: its caller runs again from the check (bounded).
 * A refusal is -EDQUOT: 403 with code "quota_exceeded", naming the limit, the usage and
 * what was asked.
 *
 * Delegated managers. A user that a non-administrator (a delegated manager holding
 * change-permissions) creates is that manager's (its manager: inv_owner_get "user"), the
 * way a hosting provider's reseller sells from its own allowance: the manager's limits
 * bound what the manager and all the users it manages own together (recursively: a managed
 * user that creates users in turn manages them, and they count for both), while each
 * user's own limits still bound it alone. A change is admitted when it fits the owner's
 * limits and those of every manager above it; a refusal names the first limit passed. A
 * user keeps its manager until one of them is deleted (a deleted manager's users then have
 * none); administrators have no limits, and neither do the users above them. */
#ifndef VSRV_SERVER_QUOTA_H
#define VSRV_SERVER_QUOTA_H

#include "server/inv.h"
#include "server/server.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* May user uid own ask more (each field an amount to add, 0 for none)? Through c, inside
 * the caller's transaction. 0 when uid is 0 (nobody's), an administrator's, or when
 * everything fits its limits and those of its managers (each with the users it manages);
 * -EDQUOT with err naming the first limit passed, its user, what is owned under it and
 * what was asked; -EIO (err set). */
int quota_admit(struct dbc *c, int64_t uid, const struct inv_quota *ask, char *err,
		size_t errlen);

/* quota_admit for the owner of the object of kind ("vm", "disk") id. */
int quota_admit_owner(struct dbc *c, const char *kind, int64_t id, const struct inv_quota *ask,
		      char *err, size_t errlen);

/* How many more bytes of disk (disk_bytes) user uid may own: *room -1 when nothing limits
 * it (uid 0, an administrator, no disk_bytes limit of its own or of a manager above it),
 * else the least of each such limit less what it bounds (0 when over). Through c, in the
 * caller's transaction as quota_admit (the usage reads join it). 0 or -EIO. */
int quota_room(struct dbc *c, int64_t uid, int64_t *room);

/* The owner a new object made by who gets: its user, 0 for an administrator. */
int64_t quota_owner(const struct caller *who);

/* The quota of a user that who creates (at the create): an administrator's new user gets def
 * (NULL: none, unlimited); a non-administrator's (a delegated manager holding
 * change-permissions) gets no more than its creator may own itself nor than def: each
 * limit the lower of who's own and def's, and 0 where neither sets one (a manager gives
 * nothing unlimited; an administrator raises it), and the manager's limits bound it with
 * the manager's other users (quota_manage). Through c, in the create's transaction.
 * 0, *q and *set (whether the user gets a quota at all), or -EIO. */
int quota_for_new_user(struct dbc *c, const struct caller *who, const struct inv_quota *def,
		       struct inv_quota *q, bool *set);

/* User uid has just been created by who: a non-administrator becomes its manager
 * (inv_owner_set "user"). In the create's transaction. 0, -EMLINK when uid would have more
 * than 15 managers above it (who's chain is as deep as a check follows), or -EIO. */
int quota_manage(struct dbc *c, const struct caller *who, int64_t uid);

/* May who delete user uid (in the delete's transaction)? A delegated manager (who no
 * administrator) may not delete a user that has a manager while it, or a user it manages,
 * owns anything or while it manages users: a deleted user's objects count for nobody and
 * its users lose their manager, out of the bound of the managers above it. 0; -EBUSY with
 * err saying what it owns; -EIO. */
int quota_may_delete(struct dbc *c, const struct caller *who, int64_t uid, char *err,
		     size_t errlen);

/* What user uid and every user it manages own together (what its limits bound), into *out,
 * and the name of its manager into manager (mlen bytes; "" for none). 0 or -EIO. */
int quota_total(struct dbc *c, int64_t uid, struct inv_quota *out, char *manager,
		size_t mlen);
/* Limits as JSON, {"vms": N or null, ...} (null: unlimited); usage as the same object
 * with numbers. A new object, or NULL on ENOMEM. */
json_t *quota_json(const struct inv_quota *q);

/* A quota object from o: each field of quota_json optional, a whole number >= 0 or null
 * (missing or null: unlimited). 0 and *q, or -EINVAL with err. */
int quota_parse(const json_t *o, struct inv_quota *q, char *err, size_t errlen);

/* Parse `--default-quota` text: "vms=N,cpus=N,memory=SIZE,disks=N,disk-size=SIZE,
 * snapshots=N" (any subset; SIZEs take K, M, G, T suffixes; a memory SIZE is rounded down
 * to MiB, a plain number is MiB).
 * 0 and *q (unnamed limits -1), or -EINVAL with err. */
int quota_parse_text(const char *text, struct inv_quota *q, char *err, size_t errlen);

#endif
