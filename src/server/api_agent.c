/* A VM's guest agent in the API: GET and POST /api/v1/vms/{name}/agent. The commands go
 * to the agent service (vmagent.h) by a table that says which permission each needs. */
#include "server/agent.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/inv.h"
#include "server/valid.h"
#include "server/vmagent.h"
#include "server/vmrow.h"

#include <errno.h>
#include <string.h>

#define AGENT_API_TIMEOUT_MS 10000

/* The commands the API carries, and what each needs on the VM. Reading what the agent says
 * of the guest is view; changing the guest's state is control; reaching into the guest
 * (processes, files, passwords, keys) is guest-agent, which "full" does not include. */
static const struct agent_cmd {
	const char *cmd;
	int need;
	int flags;
} agent_cmds[] = {
	{ "guest-ping", PERM_VIEW, 0 },
	{ "guest-info", PERM_VIEW, 0 },
	{ "guest-get-osinfo", PERM_VIEW, 0 },
	{ "guest-get-host-name", PERM_VIEW, 0 },
	{ "guest-network-get-interfaces", PERM_VIEW, 0 },
	{ "guest-get-users", PERM_VIEW, 0 },
	{ "guest-get-time", PERM_VIEW, 0 },
	{ "guest-get-timezone", PERM_VIEW, 0 },
	{ "guest-get-fsinfo", PERM_VIEW, 0 },
	{ "guest-get-vcpus", PERM_VIEW, 0 },
	{ "guest-fsfreeze-status", PERM_VIEW, 0 },
	{ "guest-set-time", PERM_CONTROL, 0 },
	{ "guest-shutdown", PERM_CONTROL, AGENT_NO_REPLY },
	{ "guest-fsfreeze-freeze", PERM_CONTROL, 0 },
	{ "guest-fsfreeze-freeze-list", PERM_CONTROL, 0 },
	{ "guest-fsfreeze-thaw", PERM_CONTROL, 0 },
	{ "guest-fstrim", PERM_CONTROL, 0 },
	{ "guest-exec", PERM_GUEST_AGENT, 0 },
	{ "guest-exec-status", PERM_GUEST_AGENT, 0 },
	{ "guest-file-open", PERM_GUEST_AGENT, 0 },
	{ "guest-file-close", PERM_GUEST_AGENT, 0 },
	{ "guest-file-read", PERM_GUEST_AGENT, 0 },
	{ "guest-file-write", PERM_GUEST_AGENT, 0 },
	{ "guest-file-seek", PERM_GUEST_AGENT, 0 },
	{ "guest-file-flush", PERM_GUEST_AGENT, 0 },
	{ "guest-set-user-password", PERM_GUEST_AGENT, 0 },
	{ "guest-ssh-get-authorized-keys", PERM_GUEST_AGENT, 0 },
	{ "guest-ssh-add-authorized-keys", PERM_GUEST_AGENT, 0 },
	{ "guest-ssh-remove-authorized-keys", PERM_GUEST_AGENT, 0 },
};

static const struct agent_cmd *agent_cmd_find(const char *cmd)
{
	for (size_t i = 0; i < sizeof(agent_cmds) / sizeof(agent_cmds[0]); i++)
		if (!strcmp(agent_cmds[i].cmd, cmd))
			return &agent_cmds[i];
	return NULL;
}

/* The VM's id and state; 0 or the status set on r. */
static int vm_state(struct req *r, int need, int64_t *id, struct inv_vm_status *st)
{
	int rc;

	if (vm_lookup(r, id) || auth_require_object(r, "vm", *id, r->args[0], need))
		return r->status;
	rc = inv_vm_get_status(r->c, *id, st);
	if (rc)
		return req_error(r, rc == -ENOENT ? -ENOENT : -EIO, "%s: %s", r->args[0],
				 rc == -ENOENT ? "the VM went away" : "inventory error");
	return 0;
}

int api_vm_agent_get(struct req *r)
{
	struct inv_vm_status st;
	int64_t id;

	if (vm_state(r, PERM_VIEW, &id, &st))
		return r->status;
	r->out = vmagent_json(r->srv, id, st.name, st.state);
	inv_vm_status_clear(&st);
	return r->out ? 200 : req_error(r, -ENOMEM, "out of memory");
}

static const struct valid_field agent_fields[] = {
	{ "command", V_STR, 1, 0, 63, K_TEXT, NULL },
	{ "arguments", V_OBJECT, 0, 0, 0, 0, NULL },
	{ "timeout_ms", V_INT, 0, 100, 60000, 0, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

int api_vm_agent_post(struct req *r)
{
	const struct agent_cmd *ac;
	struct inv_vm_status st;
	json_t *t, *ret = NULL;
	const char *cmd;
	char err[300];
	int64_t id;
	int rc, timeout = AGENT_API_TIMEOUT_MS;
	bool running;

	if (valid_object(r->body, agent_fields, err, sizeof(err)))
		return req_error(r, -EINVAL, "%s", err);
	cmd = json_string_value(json_object_get(r->body, "command"));
	ac = agent_cmd_find(cmd);
	if (!ac)
		return req_error(r, -EINVAL, "command: '%s' is not one the API carries (see "
				 "POST /api/v1/vms/{name}/agent)", cmd);
	/* the VM's existence first, then the command's permission */
	if (vm_state(r, ac->need, &id, &st))
		return r->status;
	running = !strcmp(st.state, INV_VM_RUNNING);
	inv_vm_status_clear(&st);
	if (!running)
		return req_error(r, -EBUSY, "%s is not running: its guest agent cannot answer",
				 r->args[0]);
	if ((t = json_object_get(r->body, "timeout_ms")))
		timeout = (int)json_integer_value(t);
	rc = vmagent_call(r->srv, id, cmd, json_object_get(r->body, "arguments"), ac->flags,
			  timeout, &ret, err, sizeof(err));
	switch (rc) {
	case 0:
		r->out = json_pack("{s:o}", "return", ret ? ret : json_null());
		return r->out ? 200 : req_error(r, -ENOMEM, "out of memory");
	case -ETIMEDOUT:
		return req_error(r, 504, "%s: the guest agent did not answer: %s", r->args[0], err);
	case -EREMOTEIO:
		return req_error(r, 502, "%s: the guest agent refused %s: %s", r->args[0], cmd, err);
	case -EINVAL:
		return req_error(r, -EINVAL, "%s: %s", cmd, err);
	case -EBUSY:
		return req_error(r, -EBUSY, "%s: the guest agent is busy: %s", r->args[0], err);
	case -EPROTO:
		return req_error(r, 502, "%s: the guest agent misbehaves: %s", r->args[0], err);
	default:
		return req_error(r, -EBUSY, "%s: no guest agent to talk to: %s", r->args[0], err);
	}
}
