/* A running VM's memory balloon ("dynamic memory"): GET /api/v1/vms/{name}/balloon (view)
 * shows what the VMM's balloon says (the memory the guest is asked to keep and keeps, the
 * guest's own memory figures), PUT with {"target_mib": N} (control) asks the guest to keep
 * N MiB (1 up to the VM's memory_mib): the VMM's control socket relays it to the guest's
 * balloon driver, which inflates or deflates on its own time. Not saved in the inventory:
 * a VM starts with all its memory. 409 when the VM is neither running nor paused, or has
 * no balloon (its "balloon" setting was off when it started). */
#include "server/api.h"
#include "server/auth.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/vmctl.h"
#include "server/vmrow.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define BALLOON_TIMEOUT_MS 5000

/* The VM's id after the permission check; 0, or the status set on r (409: its VMM does
 * not run). */
static int running_vm(struct req *r, int need, int64_t *id)
{
	struct inv_vm_status st;
	bool up;
	int rc;

	if (vm_lookup(r, id) || auth_require_object(r, "vm", *id, r->args[0], need))
		return r->status;
	rc = inv_vm_get_status(r->c, *id, &st);
	if (rc)
		return req_error(r, rc == -ENOENT ? -ENOENT : -EIO, "%s: %s", r->args[0],
				 rc == -ENOENT ? "the VM went away" : "inventory error");
	up = !strcmp(st.state, INV_VM_RUNNING) || !strcmp(st.state, INV_VM_PAUSED);
	if (!up)
		req_error(r, -EBUSY, "%s is %s: its memory balloon exists while it runs",
			  r->args[0], st.state);
	inv_vm_status_clear(&st);
	return up ? 0 : r->status;
}

/* Send msg to VM id's VMM; the reply (without ok and id) into r->out. The status. */
static int relay(struct req *r, int64_t id, json_t *msg)
{
	json_t *reply = NULL;
	const char *e;
	int rc = vmctl_send(r->srv, id, msg, BALLOON_TIMEOUT_MS, &reply);

	if (rc == -EPROTO) {
		e = json_string_value(json_object_get(reply, "error"));
		e = e ? e : "refused";
		if (strstr(e, "no memory balloon"))
			req_error(r, -EBUSY, "%s has no memory balloon (its \"balloon\" setting was "
				  "off when it started)", r->args[0]);
		else if (strstr(e, "target_mib"))
			req_error(r, -EINVAL, "target_mib: %s", e);
		else
			req_error(r, 502, "%s: the VMM refused: %s", r->args[0], e);
		json_decref(reply);
		return r->status;
	}
	if (rc) {
		json_decref(reply);
		return req_error(r, rc == -ENOENT || rc == -ECONNREFUSED ? -EBUSY : 502,
				 "%s: the VMM does not answer (%s)", r->args[0], strerror(-rc));
	}
	json_object_del(reply, "ok");
	json_object_del(reply, "id");
	r->out = reply;
	return 200;
}

int api_vm_balloon_get(struct req *r)
{
	json_t *msg;
	int64_t id;
	int st;

	if (running_vm(r, PERM_VIEW, &id))
		return r->status;
	msg = json_pack("{s:s}", "cmd", "balloon");
	if (!msg)
		return req_error(r, -ENOMEM, "out of memory");
	st = relay(r, id, msg);
	json_decref(msg);
	return st;
}

int api_vm_balloon_put(struct req *r)
{
	struct inv_vm vm;
	json_t *msg, *t;
	json_int_t target;
	int64_t id;
	int st;

	t = json_object_get(r->body, "target_mib");
	if (!json_is_object(r->body) || json_object_size(r->body) != 1 || !json_is_integer(t) ||
	    json_integer_value(t) < 1)
		return req_error(r, -EINVAL, "the body must be {\"target_mib\": N} (a positive "
				 "integer: the memory the guest should keep)");
	target = json_integer_value(t);
	if (running_vm(r, PERM_CONTROL, &id))
		return r->status;
	if (inv_vm_get(r->c, id, &vm))
		return req_error(r, -EIO, "inventory error");
	st = target > vm.memory_mib;
	if (st)
		req_error(r, -EINVAL, "target_mib: %lld is more than the VM's memory_mib (%lld)",
			  (long long)target, (long long)vm.memory_mib);
	inv_vm_clear(&vm);
	if (st)
		return r->status;
	msg = json_pack("{s:s,s:I}", "cmd", "balloon", "target_mib", target);
	if (!msg)
		return req_error(r, -ENOMEM, "out of memory");
	st = relay(r, id, msg);
	json_decref(msg);
	if (st == 200)
		events_emit(r->srv, r->c, "vm-memory-target", "vm", r->args[0], r->who.name,
			    json_pack("{s:I}", "target_mib", target),
			    "%s: memory target %lld MiB set by %s", r->args[0], (long long)target,
			    r->who.name);
	return st;
}
