/* One VM's live migration, waited for (migrate.h migrate_move): the step a drain and a
 * balance take for each VM they move. */
#include "server/migrate.h"
#include "server/cluster.h"
#include "server/inv.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOVE_PEER_MS 15000

static int task_state(const struct inv_task *t, void *arg)
{
	char *buf = arg;

	snprintf(buf, 700, "%s|%s", t->state, t->error ?: "");
	return 1;
}

/* Wait for task id (of any host: tasks live in the shared inventory) to end: 0 when done,
 * else -EIO with why. */
static int wait_task(struct server *srv, int64_t id, char *why, size_t n)
{
	char buf[700];

	for (;;) {
		struct dbc *c = inv_get(srv->db);
		int rc = c ? inv_task_get(c, id, task_state, buf) : -EIO;

		if (c)
			inv_put(c);
		if (rc != 1) {
			snprintf(why, n, "its migration task %lld cannot be read", (long long)id);
			return -EIO;
		}
		if (!strncmp(buf, "done|", 5))
			return 0;
		if (strncmp(buf, "running|", 8)) {
			snprintf(why, n, "%s", strchr(buf, '|') + 1);
			return -EIO;
		}
		usleep(200000);
	}
}

/* Ask host from (not this one) to migrate vm to host to: 0 and *task, or -errno with why. */
static int ask(struct server *srv, const char *auth, const char *disks, const char *vm,
	       const char *from, const char *to, int64_t *task, char *why, size_t n)
{
	char url[1024], path[160], err[300] = "";
	json_t *body, *ans = NULL;
	long st = 0;
	int rc = cluster_host_api_url(srv->cluster, from, url, sizeof(url));

	if (rc) {
		snprintf(why, n, "host %s: %s", from, rc == -EHOSTDOWN ? "not alive" :
			 "its API URL cannot be read");
		return rc;
	}
	snprintf(path, sizeof(path), "/api/v1/vms/%s/migrate", vm);
	body = json_pack("{s:s,s:s}", "to", to, "disks", disks);
	rc = body ? migrate_peer_call(url, "POST", path, auth, body, MOVE_PEER_MS, &st, &ans, err,
				      sizeof(err)) : -ENOMEM;
	json_decref(body);
	if (!rc && st == 202 && json_is_integer(json_object_get(ans, "task"))) {
		*task = json_integer_value(json_object_get(ans, "task"));
	} else {
		const char *m = json_string_value(json_object_get(json_object_get(ans, "error"),
								  "message"));

		snprintf(why, n, "host %s refused its migration: %s", from,
			 rc ? err : m ? m : "no task in its answer");
		rc = rc ? rc : -EREMOTEIO;
	}
	json_decref(ans);
	return rc;
}

int migrate_move(struct server *srv, const char *auth, const char *who, const char *disks,
		 int64_t id, const char *vm, const char *from, const char *to, char *why,
		 size_t n)
{
	struct migrate_req q = { .id = id, .max_downtime_ms = -1 };
	int64_t task = 0;
	int rc;

	if (strcmp(from, cluster_name(srv->cluster))) {
		if (!auth)
			return snprintf(why, n, "it runs on host %s: asking that host needs the "
					"caller's token", from), -EACCES;
		rc = ask(srv, auth, disks, vm, from, to, &task, why, n);
	} else {
		rc = cluster_host_api_url(srv->cluster, to, q.url, sizeof(q.url));
		if (rc)
			return snprintf(why, n, "host %s: %s", to, rc == -EHOSTDOWN ? "not alive" :
					"its API URL cannot be read"), rc;
		snprintf(q.name, sizeof(q.name), "%s", vm);
		snprintf(q.to, sizeof(q.to), "%s", to);
		snprintf(q.disks, sizeof(q.disks), "%s", disks);
		snprintf(q.who, sizeof(q.who), "%s", who);
		rc = migrate_task_start(srv, &q, &task);
		if (rc)
			snprintf(why, n, "cannot start its migration: %s", strerror(-rc));
	}
	if (!rc)
		rc = wait_task(srv, task, why, n);
	if (!rc)
		vsrv_log("vm %s migrated from host %s to host %s", vm, from, to);
	return rc;
}
