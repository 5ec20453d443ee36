/* Per-user quotas through the API (quota.h): PUT /api/v1/users/{name}/quota sets a user's
 * limits (administrators only: a delegated manager holding change-permissions must not
 * lift its own limits); GET /api/v1/users/{name} shows them with the usage, the usage
 * with the users it manages (total_usage: what its limits bound) and its manager. */
#include "server/api.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/quota.h"

#include <errno.h>
#include <string.h>

int api_quota_fill(struct dbc *c, int64_t uid, json_t *o)
{
	struct inv_quota q, use, total;
	char manager[64];

	if (inv_quota_get(c, uid, &q) || inv_usage(c, uid, &use) ||
	    quota_total(c, uid, &total, manager, sizeof(manager)))
		return -EIO;
	if (json_object_set_new(o, "quota", quota_json(&q)) ||
	    json_object_set_new(o, "usage", quota_json(&use)) ||
	    json_object_set_new(o, "total_usage", quota_json(&total)) ||
	    json_object_set_new(o, "manager", manager[0] ? json_string(manager) : json_null()))
		return -ENOMEM;
	return 0;
}

int api_user_quota_put(struct req *r)
{
	struct inv_quota q;
	char err[256];
	int64_t id = 0;
	int rc;

	if (!r->who.admin)
		return req_error(r, -EACCES, "only administrators set quotas");
	rc = inv_principal_id(r->c, "user", r->args[0], &id);
	if (rc)
		return req_error(r, rc == -ENOENT ? -ENOENT : -EIO, rc == -ENOENT ?
				 "no user named '%s'" : "inventory error", r->args[0]);
	if (quota_parse(r->body, &q, err, sizeof(err)))
		return req_error(r, -EINVAL, "%s", err);
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	rc = inv_quota_put(r->c, id, &q);
	if (rc == -ENOENT) {
		inv_rollback(r->c);
		return req_error(r, -ENOENT, "no user named '%s'", r->args[0]);
	}
	if (rc || events_emit(r->srv, r->c, "user-updated", "user", r->args[0], r->who.name,
			      json_pack("{s:o}", "quota", quota_json(&q)), "quota of %s set by %s",
			      r->args[0], r->who.name) || inv_commit(r->c)) {
		inv_rollback(r->c);
		return req_error(r, -EIO, "inventory error; nothing was changed");
	}
	r->out = json_object();
	if (!r->out || api_quota_fill(r->c, id, r->out))
		return req_error(r, -EIO, "inventory error reading the quota back");
	return 200;
}
