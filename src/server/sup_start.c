/* The supervisor's starts (sup.h): admission, the ownership key, the spawn and its record,
 * and the record's failures (a conflict, etcd not answering) examined again. */
#include "server/sup.h"
#include "server/sup_int.h"
#include "server/cgroup.h"
#include "server/diskuse.h"
#include "server/events.h"
#include "server/hostkvm.h"
#include "server/inv.h"
#include "server/sup_ready.h"
#include "server/undo.h"
#include "server/vmdir.h"
#include "server/vmsave.h"
#include "util/clock.h"
#include "util/log.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

int sup_start_locked(struct server *srv, struct dbc *c, int64_t id, const char *who,
			bool restart)
{
	struct supervisor *s = srv->sup;
	char dir[4096], name[64], state[16] = "", why[300] = "";
	int64_t need = 0, undo_now;
	char **argv = NULL;
	struct inv_vm vm;
	struct runvm *v;
	pid_t pid = 0;
	int rc;

	/* the end of its last run is being recorded (handle_exit, without the start lock): its
	 * start comes after (not a restart: that is the end's own, under the lock) */
	pthread_mutex_lock(&s->lock);
	while (!restart && (v = sup_find(s, id)) && v->ending)
		pthread_cond_wait(&s->ended_cv, &s->lock);
	rc = s->fencing ? -ESHUTDOWN : 0;      /* (sup_fence turns this host's VMs off) */
	pthread_mutex_unlock(&s->lock);
	if (rc)
		return rc;
	rc = inv_vm_get(c, id, &vm);
	if (rc)
		return rc;
	snprintf(state, sizeof(state), "%s", vm.state);
	need = inv_vm_reserved_mib(&vm);
	snprintf(name, sizeof(name), "%s", vm.name);
	inv_vm_clear(&vm);
	if (!restart && inv_vm_state_up(state))
		return -EBUSY;
	/* No VMM can run without KVM: refused before anything is spawned or recorded (the
	 * API answers 503 with the reason, api_vmstart.c), not left to crash */
	if (hostkvm_check(why, sizeof(why))) {
		vsrv_log("vm %s: not started: %s", name, why);
		return -ENXIO;
	}
	/* A saved VM is restored from its file (sup_build_argv adds --restore); any other
	 * boots afresh, without a file left of a discard cut short (so that a file there while
	 * starting means a restore: handle_exit) */
	if (!strcmp(state, INV_VM_SAVED) && !vmsave_exists(srv, id, NULL)) {
		vsrv_log("vm %s: not started: its saved state (%s/%s) is missing", name, VMSAVE_DIR,
			 VMSAVE_FILE);
		return -ESTALE;
	}
	if (strcmp(state, INV_VM_SAVED) && vmsave_remove(srv, id))
		vsrv_log("vm %s: cannot remove a stale %s/%s", name, VMSAVE_DIR, VMSAVE_FILE);
	if (sup_reservation_used(srv, c, id) + need > (int64_t)srv->host_mem_mib)
		return -ENOSPC;
	rc = vmdir_path(srv, id, dir, sizeof(dir));
	if (rc)
		return rc;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	/* One VMM per VM: whatever is left of an earlier run (a VMM still dying after its
	 * monitor was killed) ends before the next one starts. */
	rc = sup_kill_stale(srv, id, name, 5000);
	if (rc < 0)
		return rc;
	if (rc > 0)
		vsrv_log("vm %s: killed %d process(es) left of an earlier run", name, rc);
	/* its disks are not another VM's (the API says which; here under the transaction),
	 * checked once what was left of its own earlier run has gone */
	rc = diskuse_check_start(srv, c, id, why, sizeof(why));
	if (rc) {
		vsrv_log("vm %lld: not started: %s", (long long)id, why);
		return rc;
	}
	/* in a cluster, it runs only where it holds its ownership key (cluster.h) */
	rc = sup_cluster_claim(srv, c, name, dir);
	if (rc)
		return rc;
	rc = sup_build_argv(srv, c, id, dir, &argv, name, sizeof(name));
	if (!rc) {
		cgroup_setup(srv, c, id);
		rc = sup_spawn(srv, argv, dir, id, &pid);
		sup_free_argv(argv);
	}
	/* 'running' once its VMM answers (sup_ready.h). */
	if (!rc) {
		rc = inv_vm_set_state(c, id, INV_VM_STARTING, pid, NULL);
		if (rc)
			kill(pid, SIGKILL);
	}
	if (rc) {
		sup_cluster_release(srv, name, false);
		return rc;
	}
	sup_cluster_placed(srv, c, name);
	undo_now = undo_bytes(srv, id);     /* what the start recorded (sup_spawn: undo_account) */
	pthread_mutex_lock(&s->lock);
	v = sup_find(s, id);
	if (!v) {
		v = calloc(1, sizeof(*v));
		if (v) {
			v->next = s->vms;
			s->vms = v;
		}
	} else if (v->pidfd >= 0) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, v->pidfd, NULL);
		close(v->pidfd);
	}
	if (v) {
		int qr = v->quick_restarts;
		*v = (struct runvm){ .next = v->next, .id = id, .mon_pid = pid, .ours = true,
				     .started = clock_mono(), .pidfd = -1, .deciding = true,
				     .quick_restarts = restart ? qr : 0,
				     .undo_recorded = undo_now };
		snprintf(v->name, sizeof(v->name), "%s", name);
		if (sup_watch(s, v))
			vsrv_log("vm %s: cannot watch its monitor (pid %d)", name, (int)pid);
	}
	pthread_mutex_unlock(&s->lock);
	events_emit(srv, c, "vm-starting", "vm", name, who,
		    json_pack("{s:i,s:b}", "monitor_pid", pid, "restore", !strcmp(state, INV_VM_SAVED)),
		    "%s starting%s%s", name, restart ? " again" : "",
		    !strcmp(state, INV_VM_SAVED) ? " from its saved state" : "");
	sup_ready_watch(s->ready, id, pid, name, who);
	return 0;
}

/* The start whose monitor is pid is refused after its spawn: its monitor is ended as a
 * requested stop whose end records nothing (handle_exit: it gives the ownership key up,
 * when it is still this host's). */
void sup_start_refuse(struct supervisor *s, int64_t id, pid_t pid)
{
	struct runvm *v;

	pthread_mutex_lock(&s->lock);
	v = sup_find(s, id);
	if (v && v->mon_pid == pid) {
		v->stop_req = v->refused = true;
		sup_kill_session(v);
	}
	pthread_mutex_unlock(&s->lock);
}

/* The start of VM id went through but its commit did not: -EAGAIN (on etcd a write to
 * another VM meanwhile fails it, the reservation having read them all; its ownership key
 * taken meanwhile, compared at the commit), or any other failure (etcd did not answer: the
 * commit may have been made or not). Its monitor runs, so the start is examined again on
 * fresh reads, unless the monitor has ended already (its end is handle_exit's to record; a
 * commit of that meanwhile fails this one, which then sees the end):
 *  - recorded up with this monitor: the commit was made after all (0, nothing written);
 *  - its ownership key no longer this host's (another host took it: -EADDRINUSE), this
 *    host fenced (-ENOLINK), recorded up with another monitor (a start of it committed
 *    meanwhile: -EBUSY), or no longer fitting the host's memory (another start on this
 *    host took it: -ENOSPC): its monitor is ended as refused (sup_start_refuse) and the
 *    error returned;
 *  - else it is recorded again, its reads (and the key as claimed again) compared at this
 *    commit as the start's were.
 * *refused is set when the start was refused so (its monitor ended). A failure to read or
 * commit is returned (the caller decides). */
static int record_start(struct server *srv, struct dbc *c, int64_t id, const char *who,
			bool *refused)
{
	struct supervisor *s = srv->sup;
	struct runvm *v;
	struct pollfd p = { .events = POLLIN };
	struct inv_vm vm;
	char name[64] = "";
	int64_t need;
	pid_t pid = 0, was;
	bool up;
	int rc;

	pthread_mutex_lock(&s->lock);
	v = sup_find(s, id);
	if (v && (p.fd = v->pidfd) >= 0 && poll(&p, 1, 0) == 0) {
		pid = v->mon_pid;
		snprintf(name, sizeof(name), "%s", v->name);
	}
	pthread_mutex_unlock(&s->lock);
	if (pid <= 0)
		return 0;
	rc = inv_begin(c);
	if (rc)
		return rc;
	sup_cluster_start_want(srv, c, false);      /* (the reservation's, as sup_start) */
	rc = inv_vm_start_read(c, id);
	if (!rc)
		rc = inv_vm_get(c, id, &vm);
	if (rc) {
		inv_rollback(c);
		return rc;
	}
	need = inv_vm_reserved_mib(&vm);
	up = inv_vm_state_up(vm.state);
	was = vm.monitor_pid;
	inv_vm_clear(&vm);
	if (up && was == pid) {
		inv_rollback(c);
		return 0;
	}
	/* (its refusal logged there) */
	rc = sup_cluster_claim(srv, c, name, NULL);
	if (rc && rc != -EADDRINUSE && rc != -ENOLINK) {
		inv_rollback(c);
		return rc;
	}
	if (!rc && up) {
		rc = -EBUSY;
		vsrv_log("vm %s: not started: another start of it was recorded meanwhile; its "
			 "monitor (pid %d) is ended", name, (int)pid);
	} else if (!rc && sup_reservation_used(srv, c, id) + need > (int64_t)srv->host_mem_mib) {
		rc = -ENOSPC;
		vsrv_log("vm %s: not started: another start on this host took its memory "
			 "meanwhile; its monitor (pid %d) is ended", name, (int)pid);
	}
	if (rc) {
		inv_rollback(c);
		sup_start_refuse(s, id, pid);
		*refused = true;
		return rc;
	}
	rc = inv_vm_set_state(c, id, INV_VM_STARTING, pid, NULL);
	if (!rc)
		sup_cluster_placed(srv, c, name);      /* (it went with the failed commit) */
	if (!rc)
		rc = events_emit(srv, c, "vm-starting", "vm", name, who, json_pack("{s:i}",
				 "monitor_pid", pid), "%s starting", name);
	if (rc) {
		inv_rollback(c);
		return rc;
	}
	return inv_commit(c);
}

int sup_start_record(struct server *srv, struct dbc *c, int64_t id, const char *name,
		     pid_t pid)
{
	int rc;

	rc = sup_cluster_claim(srv, c, name, NULL);
	if (!rc)
		rc = inv_vm_set_state(c, id, INV_VM_STARTING, pid, NULL);
	if (!rc) {
		sup_cluster_placed(srv, c, name);
		rc = events_emit(srv, c, "vm-starting", "vm", name, NULL,
				 json_pack("{s:i}", "monitor_pid", pid), "%s starting again", name);
	}
	return rc;
}

/* The lock is free: a waiting thread takes it first, else the first parked request is woken
 * to take it (start_mu held). */
static void start_pass(struct supervisor *s)
{
	if (s->start_held)
		return;
	if (s->start_blocked)
		pthread_cond_signal(&s->start_cv);
	else if (s->start_q)
		s->start_q->wake(s->start_q->arg);
}

void sup_start_lock(struct server *srv)
{
	struct supervisor *s = srv->sup;

	pthread_mutex_lock(&s->start_mu);
	s->start_blocked++;
	while (s->start_held)
		pthread_cond_wait(&s->start_cv, &s->start_mu);
	s->start_blocked--;
	s->start_held = true;
	pthread_mutex_unlock(&s->start_mu);
}

void sup_start_unlock(struct server *srv)
{
	struct supervisor *s = srv->sup;
	bool restarts;

	pthread_mutex_lock(&s->start_mu);
	s->start_held = false;
	start_pass(s);
	pthread_mutex_unlock(&s->start_mu);
	/* restarts that wait for it: the supervisor's thread makes them (sup_restart_pending) */
	pthread_mutex_lock(&s->lock);
	restarts = s->restarts != NULL;
	pthread_mutex_unlock(&s->lock);
	if (restarts && write(s->wake[1], "x", 1) < 0) {
		/* (the thread also looks every 500 ms) */
	}
}

int sup_start_trynow(struct server *srv)
{
	struct supervisor *s = srv->sup;
	int rc = -EAGAIN;

	pthread_mutex_lock(&s->start_mu);
	if (!s->start_held && !s->start_blocked && !s->start_q) {
		s->start_held = true;
		rc = 0;
	}
	pthread_mutex_unlock(&s->start_mu);
	return rc;
}

struct sup_restart {
	struct sup_restart *next;
	int64_t id;
	char name[64];
	int quick;
	bool reset, clean;      /* a reset's restart; its run ended cleanly */
};

void sup_restart_later(struct supervisor *s, int64_t id, const char *name, int quick, bool reset,
		       bool clean)
{
	struct sup_restart *r = calloc(1, sizeof(*r)), **p;

	if (!r) {
		vsrv_log("vm %s: not restarted: out of memory", name);
		sup_cluster_release(s->srv, name, false);
		return;
	}
	r->id = id;
	r->quick = quick;
	r->reset = reset;
	r->clean = clean;
	snprintf(r->name, sizeof(r->name), "%s", name);
	pthread_mutex_lock(&s->lock);
	for (p = &s->restarts; *p; p = &(*p)->next)
		;
	*p = r;         /* (in order) */
	pthread_mutex_unlock(&s->lock);
}

void sup_restart_drop(struct supervisor *s)
{
	struct sup_restart *r;

	while ((r = s->restarts)) {
		s->restarts = r->next;
		free(r);
	}
}

int sup_restart_cancel(struct server *srv, int64_t id, char *name, size_t n)
{
	struct supervisor *s = srv->sup;
	struct sup_restart *r, **p;

	pthread_mutex_lock(&s->lock);
	for (p = &s->restarts; *p && (*p)->id != id; p = &(*p)->next)
		;
	r = *p;
	if (r)
		*p = r->next;
	pthread_mutex_unlock(&s->lock);
	if (!r)
		return -ENOENT;
	snprintf(name, n, "%s", r->name);
	vsrv_log("vm %s: its restart, which waited for the start lock, is cancelled", r->name);
	/* the key kept for it given up, as a dropped restart's (sup_restart_pending) */
	sup_cluster_release(srv, r->name, false);
	free(r);
	return 0;
}

/* Whether r's restart is still due by its VM's restart policy, read in c's transaction
 * (compared at its commit): the policy may have changed while it waited (an edit to
 * "never": not restarted). 0 or -ECANCELED, or the read's error. */
static int restart_still_due(struct dbc *c, const struct sup_restart *r)
{
	struct inv_vm vm;
	bool due;
	int rc;

	rc = inv_vm_get(c, r->id, &vm);
	if (rc)
		return rc;
	due = r->reset || !strcmp(vm.restart_policy, "always") ||
	      (!strcmp(vm.restart_policy, "on-failure") && !r->clean);
	if (!due)
		vsrv_log("vm %s: not restarted: its restart policy is now %s", r->name,
			 vm.restart_policy);
	inv_vm_clear(&vm);
	return due ? 0 : -ECANCELED;
}

void sup_restart_pending(struct server *srv)
{
	struct supervisor *s = srv->sup;
	struct sup_restart *r;
	struct runvm *v;
	struct dbc *c;
	int rc;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		r = s->restarts;
		pthread_mutex_unlock(&s->lock);
		if (!r || sup_start_trynow(srv))
			return;
		pthread_mutex_lock(&s->lock);
		r = s->restarts;
		s->restarts = r->next;
		pthread_mutex_unlock(&s->lock);
		/* a start as any (its end recorded: not up, else someone started it meanwhile:
		 * -EBUSY), with the restart counted */
		c = inv_get(srv->db);
		rc = c ? inv_begin(c) : -EIO;
		if (!rc) {
			sup_cluster_start_want(srv, c, false);
			rc = inv_vm_start_read(c, r->id);
			if (!rc)
				rc = restart_still_due(c, r);
			if (!rc)
				rc = inv_vm_count_restart(c, r->id);
			if (rc)
				inv_rollback(c);
			else
				rc = sup_start_begun(srv, c, r->id, NULL);
		}
		pthread_mutex_lock(&s->lock);
		v = sup_find(s, r->id);
		if (!rc && v)
			v->quick_restarts = r->quick;
		pthread_mutex_unlock(&s->lock);
		sup_start_unlock(srv);
		if (rc && rc != -ECANCELED)
			vsrv_log("vm %s: restart failed: %s", r->name, strerror(-rc));
		/* the key kept for it, given up unless a monitor of it runs (the end of one
		 * spawned and ended gives it up: handle_exit) or another start took it (-EBUSY) */
		if (rc && rc != -EBUSY && !v)
			sup_cluster_release(srv, r->name, false);
		if (c)
			inv_put(c);
		free(r);
	}
}

/* w out of the queue (start_mu held). */
static void start_dequeue(struct supervisor *s, struct sup_start_wait *w)
{
	struct sup_start_wait **p, *prev = NULL;

	for (p = &s->start_q; *p && *p != w; p = &(*p)->next)
		prev = *p;
	if (*p)
		*p = w->next;
	if (s->start_qtail == w)
		s->start_qtail = prev;
	w->next = NULL;
	w->queued = false;
}

int sup_start_trylock(struct server *srv, struct sup_start_wait *w)
{
	struct supervisor *s = srv->sup;
	int rc = -EAGAIN;

	pthread_mutex_lock(&s->start_mu);
	if (!s->start_held && !s->start_blocked && (!s->start_q || s->start_q == w)) {
		if (w->queued)
			start_dequeue(s, w);
		s->start_held = true;
		rc = 0;
	} else if (!w->queued) {
		w->queued = true;
		w->next = NULL;
		if (s->start_qtail)
			s->start_qtail->next = w;
		else
			s->start_q = w;
		s->start_qtail = w;
	}
	pthread_mutex_unlock(&s->start_mu);
	return rc;
}

void sup_start_wait_cancel(struct server *srv, struct sup_start_wait *w)
{
	struct supervisor *s = srv->sup;

	pthread_mutex_lock(&s->start_mu);
	if (w->queued) {
		bool first = s->start_q == w;

		start_dequeue(s, w);
		if (first)
			start_pass(s);
	}
	pthread_mutex_unlock(&s->start_mu);
}

int sup_start_held(struct server *srv, struct dbc *c, int64_t id, const char *who)
{
	int rc = inv_begin(c);

	if (rc)
		return rc;
	sup_cluster_start_want(srv, c, false);      /* (the reservation's) */
	rc = inv_vm_start_read(c, id);
	if (rc) {
		inv_rollback(c);
		return rc;
	}
	return sup_start_begun(srv, c, id, who);
}

int sup_start(struct server *srv, struct dbc *c, int64_t id, const char *who)
{
	int rc;

	sup_start_lock(srv);
	rc = sup_start_held(srv, c, id, who);
	sup_start_unlock(srv);
	return rc;
}

/* For tests (VSRV_TEST_COMMIT_AFTER_EXIT=1 when the server started): a start's commit waits
 * (at most 10 s) until its monitor has ended, the order a VMM that fails at once can take on
 * a busy host. Its end is then recorded after the commit all the same: handle_exit takes
 * sup_start_lock, held here. */
static void test_commit_after_exit(struct supervisor *s, int64_t id)
{
	struct pollfd p = { .fd = -1, .events = POLLIN };
	struct runvm *v;

	if (!s->test_commit_after_exit)
		return;
	pthread_mutex_lock(&s->lock);
	v = sup_find(s, id);
	if (v)
		p.fd = sup_pidfd_open(v->mon_pid);
	pthread_mutex_unlock(&s->lock);
	if (p.fd < 0)
		return;
	while (poll(&p, 1, 10000) < 0 && errno == EINTR)
		;
	close(p.fd);
}

int sup_start_begun(struct server *srv, struct dbc *c, int64_t id, const char *who)
{
	int rc, tries, fails = 0;
	bool refused = false;
	char name[64] = "?";
	struct runvm *v;
	pid_t pid = 0;

	rc = sup_start_locked(srv, c, id, who, false);
	if (rc) {
		inv_rollback(c);
		return rc;
	}
	test_commit_after_exit(srv->sup, id);
	rc = inv_commit(c);
	/* a conflict, examined again (record_start) as often as it comes back; any other
	 * failure (etcd did not answer) a few times */
	for (tries = 0; rc && !refused && tries < 20 && (rc == -EAGAIN || fails++ < 3); tries++)
		rc = record_start(srv, c, id, who, &refused);
	/* decided (its end may be handled now: handle_exit; the start lock still held) */
	pthread_mutex_lock(&srv->sup->lock);
	v = sup_find(srv->sup, id);
	if (v)
		v->deciding = false;
	pthread_mutex_unlock(&srv->sup->lock);
	if (!rc || refused)
		return rc;
	/* Neither recorded nor refused (etcd did not answer; the commit may have been made;
	 * or it met a conflict 20 times):
	 * no VMM runs that the inventory may not know of. Its monitor is ended as a
	 * requested stop whose end is recorded as any (stopped, whichever way the commit
	 * went: handle_exit reads the state then) and the start fails with -EIO. */
	pthread_mutex_lock(&srv->sup->lock);
	v = sup_find(srv->sup, id);
	if (v) {
		pid = v->mon_pid;
		snprintf(name, sizeof(name), "%s", v->name);
		v->stop_req = true;
		sup_kill_session(v);
	}
	pthread_mutex_unlock(&srv->sup->lock);
	vsrv_log("vm %s: not started: its start cannot be recorded (%s); its monitor (pid %d) "
		 "is ended", name, strerror(-rc), (int)pid);
	return -EIO;
}
