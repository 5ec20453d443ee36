/* A VM's guest agent. See vmagent.h. */
#include "server/vmagent.h"
#include "server/agent.h"
#include "server/inv.h"
#include "server/vmdir.h"
#include "util/clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int vmagent_path(struct server *srv, int64_t id, char *buf, size_t n)
{
	char dir[4096];
	int rc = vmdir_path(srv, id, dir, sizeof(dir));

	return rc ? rc : agent_path(dir, buf, n);
}

void vmagent_watch(struct server *srv, int64_t id, const char *name)
{
	char p[108];

	if (srv->agent && !vmagent_path(srv, id, p, sizeof(p)))
		agent_watch(srv->agent, p, name, VMAGENT_PING_MS);
}

void vmagent_unwatch(struct server *srv, int64_t id)
{
	char p[108];

	if (srv->agent && !vmagent_path(srv, id, p, sizeof(p)))
		agent_unwatch(srv->agent, p);
}

json_t *vmagent_json(struct server *srv, int64_t id, const char *name, const char *state)
{
	char p[108];

	if (!srv->agent || vmagent_path(srv, id, p, sizeof(p)) || !state ||
	    (strcmp(state, INV_VM_RUNNING) && strcmp(state, INV_VM_PAUSED)))
		return json_pack("{s:s,s:n,s:n,s:n,s:n,s:n}", "status", "absent", "last_seen",
				 "os", "hostname", "interfaces", "users");
	/* A VM re-attached at start-up, or started before the service watched it. */
	agent_watch(srv->agent, p, name, VMAGENT_PING_MS);
	return agent_status(srv->agent, p);
}

int vmagent_call(struct server *srv, int64_t id, const char *cmd, json_t *args, int flags,
		 int timeout_ms, json_t **ret, char *err, size_t errlen)
{
	char p[108];
	int rc;

	*ret = NULL;
	if (!srv->agent)
		return -ECANCELED;
	rc = vmagent_path(srv, id, p, sizeof(p));
	if (rc)
		return rc;
	return agent_call(srv->agent, p, cmd, args, flags, timeout_ms, ret, err, errlen);
}

/* The heartbeat's word on VM id's agent: true when it responds; its status in why. */
static bool responding(struct server *srv, int64_t id, char *why, size_t n)
{
	char p[108];
	json_t *st;
	bool yes;

	if (!srv->agent || vmagent_path(srv, id, p, sizeof(p))) {
		snprintf(why, n, "no guest agent service");
		return false;
	}
	st = agent_status(srv->agent, p);
	snprintf(why, n, "guest agent %s", json_string_value(json_object_get(st, "status")) ?: "?");
	yes = !strcmp(json_string_value(json_object_get(st, "status")) ?: "", "responding");
	json_decref(st);
	return yes;
}

int vmagent_shutdown(struct server *srv, int64_t id, char *why, size_t n)
{
	json_t *args, *ret = NULL;
	char err[256];
	int rc;

	if (!responding(srv, id, why, n))
		return -EHOSTDOWN;
	args = json_pack("{s:s}", "mode", "powerdown");
	rc = vmagent_call(srv, id, "guest-shutdown", args, AGENT_NO_REPLY, VMAGENT_SHUTDOWN_MS,
			  &ret, err, sizeof(err));
	json_decref(args);
	json_decref(ret);
	if (rc)
		snprintf(why, n, "guest agent: %s", err);
	else
		why[0] = '\0';
	return rc;
}

void vmagent_set_time(struct server *srv, int64_t id, const char *name)
{
	char p[108], why[64];
	json_t *args;

	/* Not "responding" after a long pause (its pings went unanswered): any agent that was
	 * there gets the command. */
	responding(srv, id, why, sizeof(why));
	if (!strcmp(why, "guest agent absent") || vmagent_path(srv, id, p, sizeof(p)))
		return;
	args = json_pack("{s:I}", "time", (json_int_t)(clock_real() * 1e9));
	agent_post(srv->agent, p, name, "guest-set-time", args, 0, 10000);
	json_decref(args);
}
