/* A running VM's memory balloon ("dynamic memory"): GET /api/v1/vms/{name}/balloon (view)
 * shows what the VMM's balloon says (the memory the guest is asked to keep and keeps, the
 * guest's own memory figures) with the dynamic memory policy's "mode" for the VM; PUT with
 * {"target_mib": N} (control) asks the guest to keep N MiB (1 up to the VM's memory_mib):
 * the VMM's control socket relays it to the guest's balloon driver, which inflates or
 * deflates on its own time. Not saved in the inventory: a VM starts with all its memory.
 * 409 when the VM is neither running nor paused, or has no balloon (its "balloon" setting
 * was off when it started).
 *
 * The policy and a manual target (sup_dynmem.c, dynmem.h): the server moves the target of
 * a VM whose memory_min_mib is below its memory_mib by itself. A PUT with target_mib takes
 * the VM out of the policy ("mode": "manual"): the target stays what the user set until
 * the VM starts again, its memory_min_mib, memory_buffer_pct or memory_mib is written (a
 * PATCH naming one, on this host; a changed value on any host), or a PUT {"auto": true}
 * hands it back ("mode": "policy", which takes it from the target it finds). A manual
 * target may be below memory_min_mib: the user's word goes; the policy brings it back
 * within bounds once it has the VM again. */
#include "server/api.h"
#include "server/auth.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/sup.h"
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

/* The answer of VM id's VMM to a balloon command (vmctl_send's rc and reply, taken): the
 * reply (without ok and id) into r->out. The status. */
static int answer(struct req *r, int rc, json_t *reply)
{
	const char *e;

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

/* Add the policy's mode for VM id to r->out (a balloon reply). */
static void add_mode(struct req *r, int64_t id)
{
	json_t *vm = vm_json(r->srv, r->c, id, 0), *dm;

	if (!vm)
		return;
	json_object_set_new(vm, "runtime", json_pack("{s:O}", "balloon", r->out));
	dm = sup_dynmem_json(r->srv, id, vm);
	json_object_set(r->out, "mode", json_object_get(dm, "mode"));
	json_decref(dm);
	json_decref(vm);
}

int api_vm_balloon_get(struct req *r)
{
	json_t *reply = NULL;
	int64_t id;
	int st;

	if (running_vm(r, PERM_VIEW, &id))
		return r->status;
	st = answer(r, vmctl_call(r->srv, id, "balloon", BALLOON_TIMEOUT_MS, &reply), reply);
	if (st == 200)
		add_mode(r, id);
	return st;
}

/* PUT {"auto": true}: the VM's target is the policy's again. */
static int balloon_auto(struct req *r)
{
	json_t *reply = NULL;
	int64_t id;
	int st;

	if (running_vm(r, PERM_CONTROL, &id))
		return r->status;
	st = answer(r, vmctl_call(r->srv, id, "balloon", BALLOON_TIMEOUT_MS, &reply), reply);
	if (st != 200)
		return st;
	sup_dynmem_manual(r->srv, id, false, 0, 0, 0);
	events_emit(r->srv, r->c, "vm-memory-target", "vm", r->args[0], r->who.name,
		    json_pack("{s:s}", "by", "policy"), "%s: memory target handed back to dynamic "
		    "memory by %s", r->args[0], r->who.name);
	add_mode(r, id);
	return 200;
}

int api_vm_balloon_put(struct req *r)
{
	struct inv_vm_hw hw;
	struct inv_vm vm = { 0 };
	json_t *t, *reply = NULL;
	json_int_t target;
	int64_t id, memory;
	int st;

	if (json_is_object(r->body) && json_object_size(r->body) == 1 &&
	    json_is_true(json_object_get(r->body, "auto")))
		return balloon_auto(r);
	t = json_object_get(r->body, "target_mib");
	if (!json_is_object(r->body) || json_object_size(r->body) != 1 || !json_is_integer(t) ||
	    json_integer_value(t) < 1)
		return req_error(r, -EINVAL, "the body must be {\"target_mib\": N} (a positive "
				 "integer: the memory the guest should keep), or {\"auto\": true} "
				 "(dynamic memory sets it)");
	target = json_integer_value(t);
	if (running_vm(r, PERM_CONTROL, &id))
		return r->status;
	if (inv_vm_get(r->c, id, &vm) || inv_vm_hw_get(r->c, id, &hw)) {
		inv_vm_clear(&vm);
		return req_error(r, -EIO, "inventory error");
	}
	memory = vm.memory_mib;
	inv_vm_clear(&vm);
	if (target > memory)
		return req_error(r, -EINVAL, "target_mib: %lld is more than the VM's memory_mib (%lld)",
				 (long long)target, (long long)memory);
	st = answer(r, sup_dynmem_user_target(r->srv, r->c, id, r->args[0], target, r->who.name,
					      json_pack("{s:s}", "by", "user"), &reply,
					      hw.memory_min_mib, hw.memory_buffer_pct, memory), reply);
	if (st == 200)
		add_mode(r, id);
	return st;
}
