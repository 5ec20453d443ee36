/* The supervisor's requests to a running VM: stop (by the guest's power button, the agent,
 * or a kill), pause and resume, and the mark of a save in progress. See sup.h. */
#include "server/sup.h"
#include "server/sup_int.h"
#include "server/cgroup.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/undo.h"
#include "server/vmagent.h"
#include "server/vmctl.h"
#include "server/vmsave.h"
#include "util/clock.h"
#include "util/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sup_stop_signal(struct server *srv, int64_t id, int how, const char *undo, char *name,
		    size_t n)
{
	struct supervisor *s = srv->sup;
	struct runvm *v;
	pid_t vp = 0;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	v = sup_find(s, id);
	if (!v || v->mon_pid <= 0) {
		rc = -EBUSY;
	} else {
		snprintf(name, n, "%s", v->name);
		vp = sup_vmm_pid(srv, v);
		if (how == SUP_RESET)
			v->reset_req = true;
		else
			v->stop_req = true;
		snprintf(v->undo, sizeof(v->undo), "%s", undo ? undo : "");
		if (how == SUP_SHUTDOWN) {
			/* The ACPI power button; a guest that does not power off within the
			 * server's shutdown timeout is turned off (sup_thread). */
			v->shutdown_deadline = clock_mono() + srv->shutdown_timeout;
		} else if (vp > 0) {
			cgroup_freeze(srv, id, vp, 0);
			kill(vp, SIGKILL);
		} else {
			/* The VMM is not (yet) known: the shim goes with its whole session (the
			 * VMM dies with it in any case: PR_SET_PDEATHSIG, see monitor.c). */
			sup_kill_session(v);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int sup_stop(struct server *srv, struct dbc *c, int64_t id, enum sup_stop how, const char *undo,
	     const char *who)
{
	char name[64] = "", via[400] = "";
	json_t *data = NULL;
	int rc;

	rc = sup_stop_signal(srv, id, how, undo, name, sizeof(name));
	if (rc == -EBUSY && how != SUP_RESET &&
	    !sup_restart_cancel(srv, id, name, sizeof(name))) {
		/* ended (recorded crashed) with its restart waiting for the start lock: that
		 * restart is cancelled and the VM is now stopped, as asked */
		rc = inv_vm_set_state(c, id, INV_VM_STOPPED, 0, NULL);
		events_emit(srv, c, "vm-stopped", "vm", name, who, NULL, "%s: stopped (%s "
			    "requested; its pending restart cancelled)", name,
			    how == SUP_OFF ? "turn off" : "shutdown");
		return rc;
	}
	if (rc)
		return rc;
	if (how == SUP_SHUTDOWN) {
		/* The guest agent first; the ACPI power button when it does not respond. */
		char why[300] = "";
		json_t *rep = NULL;
		int pr = vmagent_shutdown(srv, id, why, sizeof(why));

		if (pr) {
			pr = vmctl_call(srv, id, "power-button", 2000, &rep);
			json_decref(rep);
			if (pr)
				vsrv_log("vm %s: cannot press its power button (%s): turning it off "
					 "after %us", name, strerror(-pr), srv->shutdown_timeout);
		}
		data = json_pack("{s:s,s:s,s:i}", "method", why[0] ? "acpi" : "agent",
				 "agent", why[0] ? why : "guest agent responding", "timeout_s",
				 (int)srv->shutdown_timeout);
		if (why[0])
			snprintf(via, sizeof(via), " (%s: the ACPI power button instead; turned off "
				 "after %us)", why, srv->shutdown_timeout);
		else
			snprintf(via, sizeof(via), " (through the guest agent; turned off after %us)",
				 srv->shutdown_timeout);
	}
	if (how != SUP_RESET) {
		/* The VMM may be gone already (a sandboxed one dies at once) and its exit
		 * recorded by sup_thread: a final state stays. */
		rc = inv_vm_mark_stopping(c, id);
	}
	events_emit(srv, c, how == SUP_RESET ? "vm-reset" : "vm-stopping", "vm", name, who, data,
		    "%s: %s requested%s", name, how == SUP_OFF ? "turn off" :
		    how == SUP_SHUTDOWN ? "shutdown" : "reset", via);
	return rc;
}

int sup_pause(struct server *srv, struct dbc *c, int64_t id, int pause, const char *who)
{
	struct supervisor *s = srv->sup;
	struct runvm *v;
	struct inv_vm vm;
	char name[64] = "", state[16] = "";
	pid_t vp = 0;
	int rc;

	rc = inv_begin(c);
	if (rc)
		return rc;
	rc = inv_vm_get(c, id, &vm);
	if (rc == -EIO) {
		inv_rollback(c);
		return -EIO;
	}
	if (!rc)
		snprintf(state, sizeof(state), "%s", vm.state);
	inv_vm_clear(&vm);
	if (strcmp(state, pause ? INV_VM_RUNNING : INV_VM_PAUSED)) {
		inv_rollback(c);
		return -EBUSY;
	}
	pthread_mutex_lock(&s->lock);
	v = sup_find(s, id);
	if (v) {
		snprintf(name, sizeof(name), "%s", v->name);
		vp = sup_vmm_pid(srv, v);
	}
	pthread_mutex_unlock(&s->lock);
	if (vp <= 0) {
		inv_rollback(c);
		return -EBUSY;
	}
	/* The VMM parks its vCPUs (its devices and control loop keep running). A VMM without
	 * a control socket (started by an older vsrv) is frozen whole instead. */
	{
		json_t *rep = NULL;

		rc = vmctl_call(srv, id, pause ? "pause" : "resume", 5000, &rep);
		json_decref(rep);
		vmctl_stats_forget(id);
		if (rc == -ENOENT || rc == -ECONNREFUSED)
			rc = cgroup_freeze(srv, id, vp, pause);
		else if (rc)
			vsrv_log("vm %s: %s through its control socket failed: %s", name,
				 pause ? "pause" : "resume", strerror(-rc));
	}
	if (!rc)
		rc = inv_vm_set_state(c, id, pause ? INV_VM_PAUSED : INV_VM_RUNNING, 0, NULL);
	if (!rc)
		rc = inv_vm_set_pid(c, id, v ? v->mon_pid : 0);
	if (!rc)
		rc = events_emit(srv, c, pause ? "vm-paused" : "vm-resumed", "vm", name, who, NULL,
				 "%s %s", name, pause ? "paused" : "resumed");
	if (rc) {
		inv_rollback(c);
		return rc;
	}
	rc = inv_commit(c);
	/* Its clock stood still while paused: the guest agent sets it (vmagent.h). */
	if (!rc && !pause)
		vmagent_set_time(srv, id, name);
	return rc;
}

int sup_mark_save(struct server *srv, int64_t id, bool on, const char *who)
{
	struct supervisor *s = srv->sup;
	struct runvm *v;
	int rc = -EBUSY;

	pthread_mutex_lock(&s->lock);
	v = sup_find(s, id);
	if (v && v->mon_pid > 0 && !v->stop_req && !v->reset_req) {
		v->save_req = on;
		snprintf(v->save_who, sizeof(v->save_who), "%s", who ? who : "");
		rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

