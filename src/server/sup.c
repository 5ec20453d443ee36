/* The VM supervisor: processes, exits, restarts. See sup.h. */
#include "server/sup.h"
#include "server/sup_int.h"
#include "server/cgroup.h"
#include "server/diskuse.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/sup_exit.h"
#include "server/sup_ready.h"
#include "server/tasks.h"
#include "server/undo.h"
#include "server/vmagent.h"
#include "server/vmctl.h"
#include "server/network.h"
#include "server/vmdir.h"
#include "server/vmsave.h"
#include "util/clock.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif


static int pidfd_open_(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

static int watch(struct supervisor *s, struct runvm *v)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = v };

	v->pidfd = pidfd_open_(v->mon_pid);
	if (v->pidfd < 0)
		return -errno;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, v->pidfd, &e) < 0) {
		int e2 = -errno;
		close(v->pidfd);
		return e2;
	}
	return 0;
}

static struct runvm *find(struct supervisor *s, int64_t id)
{
	struct runvm *v;

	for (v = s->vms; v; v = v->next)
		if (v->id == id)
			return v;
	return NULL;
}

/* Start under an open transaction; the caller commits. */
static int start_locked(struct server *srv, struct dbc *c, int64_t id, const char *who,
			bool restart)
{
	struct supervisor *s = srv->sup;
	char dir[4096], name[64], state[16] = "", why[300] = "";
	int64_t need = 0;
	char **argv = NULL;
	struct inv_vm vm;
	struct runvm *v;
	pid_t pid = 0;
	int rc;

	rc = inv_vm_get(c, id, &vm);
	if (rc)
		return rc;
	snprintf(state, sizeof(state), "%s", vm.state);
	need = inv_vm_reserved_mib(&vm);
	snprintf(name, sizeof(name), "%s", vm.name);
	inv_vm_clear(&vm);
	if (!restart && inv_vm_state_up(state))
		return -EBUSY;
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
	rc = sup_cluster_claim(srv, name, dir);
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
	pthread_mutex_lock(&s->lock);
	v = find(s, id);
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
				     .started = clock_mono(), .pidfd = -1, .uncommitted = true,
				     .quick_restarts = restart ? qr : 0 };
		snprintf(v->name, sizeof(v->name), "%s", name);
		if (watch(s, v))
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

static void kill_session(struct runvm *v);

/* The transaction of v's start (start_locked) has ended, committed or not: its end may be
 * recorded. Under s->lock. */
static void start_settled(struct supervisor *s, struct runvm *v)
{
	if (v && v->uncommitted) {
		v->uncommitted = false;
		pthread_cond_broadcast(&s->committed);
	}
}

/* Wait until the start of v has committed (or failed to): a VMM that ends at once may end
 * before it, and its end read before the commit would find the state before the start
 * (stopped, crashed) and record a failure at start as the failure of a VM that ran. At most
 * 30 s (every start settles; this is a guard against one that would not). */
static void start_wait_settled(struct supervisor *s, struct runvm *v)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30;
	pthread_mutex_lock(&s->lock);
	while (v->uncommitted)
		if (pthread_cond_timedwait(&s->committed, &s->lock, &until) == ETIMEDOUT) {
			vsrv_log("vm %s: its start has not committed after 30 s: its end is "
				 "recorded all the same", v->name);
			v->uncommitted = false;
		}
	pthread_mutex_unlock(&s->lock);
}

/* The start of VM id went through but its commit did not (-EAGAIN: on etcd a write to
 * another VM meanwhile fails it, the reservation having read them all): its monitor runs,
 * so record it again, unless it has ended already (its end is handle_exit's to record; a
 * commit of that meanwhile fails this one, which then sees the end). The write that failed
 * it may be another start on this host (two at once): the reservation is checked again on
 * this transaction's reads, compared at its commit as the start's were; when the VM no
 * longer fits, its monitor is ended as a requested stop (handle_exit records it, releases
 * its ownership key) and the start fails with -ENOSPC. */
static int record_start(struct server *srv, struct dbc *c, int64_t id, const char *who)
{
	struct supervisor *s = srv->sup;
	struct runvm *v;
	struct pollfd p = { .events = POLLIN };
	struct inv_vm vm;
	char name[64] = "";
	int64_t need;
	pid_t pid = 0;
	int rc;

	pthread_mutex_lock(&s->lock);
	v = find(s, id);
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
	inv_vm_clear(&vm);
	if (sup_reservation_used(srv, c, id) + need > (int64_t)srv->host_mem_mib) {
		inv_rollback(c);
		vsrv_log("vm %s: not started: another start on this host took its memory "
			 "meanwhile; its monitor (pid %d) is ended", name, (int)pid);
		pthread_mutex_lock(&s->lock);
		v = find(s, id);
		if (v && v->mon_pid == pid) {
			v->stop_req = v->refused = true;
			kill_session(v);
		}
		pthread_mutex_unlock(&s->lock);
		return -ENOSPC;
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

int sup_start(struct server *srv, struct dbc *c, int64_t id, const char *who)
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

/* For tests (VSRV_TEST_COMMIT_AFTER_EXIT=1): a start's commit waits (at most 10 s) until its
 * monitor has ended, the order a VMM that fails at once can take on a busy host. */
static void test_commit_after_exit(struct supervisor *s, int64_t id)
{
	const char *e = getenv("VSRV_TEST_COMMIT_AFTER_EXIT");
	struct pollfd p = { .fd = -1, .events = POLLIN };
	struct runvm *v;

	if (!e || strcmp(e, "1"))
		return;
	pthread_mutex_lock(&s->lock);
	v = find(s, id);
	if (v)
		p.fd = pidfd_open_(v->mon_pid);
	pthread_mutex_unlock(&s->lock);
	if (p.fd < 0)
		return;
	while (poll(&p, 1, 10000) < 0 && errno == EINTR)
		;
	close(p.fd);
}

int sup_start_begun(struct server *srv, struct dbc *c, int64_t id, const char *who)
{
	int rc, tries;

	rc = start_locked(srv, c, id, who, false);
	if (rc) {
		inv_rollback(c);
		return rc;
	}
	test_commit_after_exit(srv->sup, id);
	rc = inv_commit(c);
	for (tries = 0; rc == -EAGAIN && tries < 20; tries++)
		rc = record_start(srv, c, id, who);
	pthread_mutex_lock(&srv->sup->lock);
	start_settled(srv->sup, find(srv->sup, id));
	pthread_mutex_unlock(&srv->sup->lock);
	return rc;
}

/* SIGKILL to v's monitor and every process of its session (it is the session's and its
 * process group's leader: sup_spawn); to the monitor alone while it has not got there.
 * Nothing once the monitor has ended (its pid, and so its group's, may be reused). */
static void kill_session(struct runvm *v)
{
	struct pollfd p = { .fd = v->pidfd, .events = POLLIN };

	if (v->pidfd >= 0 && poll(&p, 1, 0) > 0)
		return; /* ended: sup_thread records it */
	if (kill(-v->mon_pid, SIGKILL) < 0)
		kill(v->mon_pid, SIGKILL);
}

/* For the supervisor's other files (sup_int.h). */
struct runvm *sup_find(struct supervisor *s, int64_t id)
{
	return find(s, id);
}

int sup_watch(struct supervisor *s, struct runvm *v)
{
	return watch(s, v);
}

void sup_kill_session(struct runvm *v)
{
	kill_session(v);
}

pid_t sup_vmm_pid(struct server *srv, struct runvm *v)
{
	pid_t p = sup_read_pid(srv, v->id, "vmm.pid");
	char path[64], b[256];

	if (p <= 0)
		return 0;
	/* The VMM is the shim's child: check its parent before signalling a recycled pid. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)p);
	if (sup_read_small(path, b, sizeof(b)))
		return 0;
	{
		char *rp = strrchr(b, ')');
		int ppid = 0;
		char stc;
		if (!rp || sscanf(rp + 2, "%c %d", &stc, &ppid) != 2 || ppid != v->mon_pid)
			return 0;
	}
	return p;
}

/* The shim of v ended: record how, and restart by policy. Supervisor thread, s->lock
 * not held. */
static void handle_exit(struct supervisor *s, struct runvm *v)
{
	struct server *srv = s->srv;
	struct dbc *c = inv_get(srv->db);
	char dir[4096], p[4200], ex[64] = "", policy[16] = "never", undo[16] = "off";
	char state0[16] = "", *tail, *rec;
	const char *why;
	json_t *le;
	bool clean, requested, restart = false, restarted = false, saved, unrestored;
	struct inv_vm vm;
	int code = -1, sig = 0;

	start_wait_settled(s, v);
	if (v->ours) {
		siginfo_t si;
		waitid(P_PIDFD, v->pidfd, &si, WEXITED | WNOHANG);
	}
	/* Its VMM dies with it (PR_SET_PDEATHSIG); "stopped" is said once it is gone. */
	sup_kill_stale(srv, v->id, v->name, 5000);
	vmagent_unwatch(srv, v->id);
	vmdir_path(srv, v->id, dir, sizeof(dir));
	snprintf(p, sizeof(p), "%s/exit", dir);
	if (sup_read_small(p, ex, sizeof(ex)) == 0) {
		ex[strcspn(ex, "\n")] = '\0';
		if (sscanf(ex, "exited %d", &code) != 1 && sscanf(ex, "signal %d", &sig) == 1)
			code = -1;
	} else {
		snprintf(ex, sizeof(ex), "monitor died");
	}
	tail = sup_console_tail(dir);
	/* `vsrv run`'s exit status: 0 power-off, (V << 1) | 1 a debug-exit write of V (the
	 * guest chose to end), 1 a host-side failure, 2 a guest crash, 128 + N a signal. */
	clean = code == 0 || (code > 1 && code < 128 && (code & 1));
	requested = v->stop_req || v->reset_req || v->save_req;
	/* A migration's (sup_migrate.c): an incoming VMM that was not handed over (one whose
	 * hand-over moved the key here ended before its commit: its end is recorded), or the
	 * source's VMM that handed over (status 0): the VM's status is not this run's to write */
	if (v->incoming && sup_incoming_handed_over(srv, v->name)) {
		pthread_mutex_lock(&s->lock);
		v->incoming = false;
		pthread_mutex_unlock(&s->lock);
	}
	if (v->incoming || (v->migrate_req && code == 0)) {
		vsrv_log("vm %s: %s (%s)", v->name, v->incoming ? "the incoming migration's VMM "
			 "ended" : "migrated away", ex);
		cgroup_freeze(srv, v->id, 0, 0);
		free(tail);
		if (c)
			inv_put(c);
		return;
	}
	if (!c) {
		free(tail);
		return;
	}
	if (inv_vm_get(c, v->id, &vm) == 0) {
		snprintf(policy, sizeof(policy), "%s", vm.restart_policy);
		snprintf(undo, sizeof(undo), "%s", vm.undo_disks);
		snprintf(state0, sizeof(state0), "%s", vm.state);
		inv_vm_clear(&vm);
	}
	/* Saved (sup_save.c): its VMM wrote the file and ended with status 0; also when no daemon
	 * saw the save (a file is only there while up after a save in this run: a restore
	 * removes it once running). A restore that failed keeps the file: saved again. */
	saved = code == 0 && vmsave_exists(srv, v->id, NULL) &&
		(v->save_req || !strcmp(state0, INV_VM_RUNNING) || !strcmp(state0, INV_VM_PAUSED) ||
		 !strcmp(state0, INV_VM_STOPPING));
	unrestored = !saved && !clean && !strcmp(state0, INV_VM_STARTING) &&
		     vmsave_exists(srv, v->id, NULL);
	if (saved || unrestored)
		requested = true;
	else if (v->reset_req)
		restart = true;
	else if (!requested && (!strcmp(policy, "always") ||
				(!strcmp(policy, "on-failure") && !clean)))
		restart = true;
	/* A VM that keeps dying within 10 s of its start is given up after 5 tries. */
	if (restart && !v->reset_req) {
		if (clock_mono() - v->started < 10)
			v->quick_restarts++;
		else
			v->quick_restarts = 0;
		if (v->quick_restarts > 5)
			restart = false;
	}
	if (v->refused)
		vsrv_log("vm %s: the monitor of its refused start ended (%s)", v->name, ex);
	else if (inv_begin(c) == 0) {
		const char *state = saved || unrestored ? INV_VM_SAVED :
				    requested || clean ? INV_VM_STOPPED : INV_VM_CRASHED;
		json_t *data = json_pack("{s:s,s:i,s:i,s:s}", "exit", ex, "status", code, "signal", sig,
					 "console", tail);

		/* A failure while 'starting': its VMM never came up. A guest that ended by
		 * itself or crashed before the watcher saw it up did run (sup_ready.h). */
		rec = saved ? sup_exit_record_saved(ex) :
		      sup_exit_record(ex, code, sig, requested, !strcmp(state0, "starting") &&
				      !clean && code != 2, tail);
		inv_vm_set_state(c, v->id, state, 0, rec ? rec : ex);
		le = sup_exit_json(rec ? rec : ex);
		why = json_string_value(json_object_get(le, "reason"));
		if (data)
			json_object_set(data, "last_exit", le);
		free(rec);
		if (saved || unrestored)
			sup_save_exit_event(srv, c, v->id, v->name, v->save_who[0] ? v->save_who : NULL,
					    unrestored, data, why ? why : ex);
		else if (!strcmp(state, INV_VM_CRASHED))
			events_emit(srv, c, "vm-crashed", "vm", v->name, NULL, data,
				    "%s crashed (%s): %s", v->name, ex, why ? why : ex);
		else
			events_emit(srv, c, "vm-stopped", "vm", v->name, NULL, data,
				    "%s stopped (%s): %s", v->name, ex, why ? why : ex);
		json_decref(le);
		cgroup_freeze(srv, v->id, 0, 0);
		if (restart) {
			inv_vm_count_restart(c, v->id);
			if (start_locked(srv, c, v->id, NULL, true))
				vsrv_log("vm %s: restart failed", v->name);
			else
				restarted = true;
		}
		if (inv_commit(c))
			vsrv_log("vm %s: cannot record its exit (%s)", v->name, ex);
		if (restart) {               /* (start_locked under this transaction) */
			pthread_mutex_lock(&s->lock);
			start_settled(s, v);
			pthread_mutex_unlock(&s->lock);
		}
	}
	vsrv_log("vm %s: %s%s", v->name, ex, restart ? "; restarted" : "");
	inv_put(c);
	if (!restarted)
		sup_cluster_release(srv, v->name, !restart && clean && !requested);
	/* Undo disks: decided when the VM ends for good, never after a crash (kept then). */
	if (!restart && !saved && !unrestored && strcmp(undo, "off") && (requested || clean)) {
		const char *action = v->undo[0] ? v->undo : undo;
		int rc = undo_finish(srv, v->id, v->name, action, NULL);

		if (rc)
			vsrv_log("vm %s: undo disks (%s): %s; they are kept", v->name, action,
				 strerror(-rc));
	}
	free(tail);
}

/* Undo disks grow as their guests write: every UNDO_REFRESH_S seconds the running VMs'
 * undo disks' bytes are recorded again (undo_account: their owners' disk_bytes) when they
 * moved by UNDO_REFRESH_BYTES or more since the last record. */
#define UNDO_REFRESH_S 10.0
#define UNDO_REFRESH_BYTES (1LL << 20)

static void undo_refresh(struct supervisor *s)
{
	int64_t *ids = NULL, *last, now;
	struct runvm *v;
	size_t n = 0, cap = 0, i;

	/* every running VM (however many: not the first so many of the list) */
	pthread_mutex_lock(&s->lock);
	for (v = s->vms; v; v = v->next)
		cap++;
	ids = cap ? malloc(2 * cap * sizeof(*ids)) : NULL;
	last = ids ? ids + cap : NULL;
	for (v = s->vms; ids && v && n < cap; v = v->next) {
		ids[n] = v->id;
		last[n++] = v->undo_recorded;
	}
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < n; i++) {
		now = undo_bytes(s->srv, ids[i]);
		if (now - last[i] < UNDO_REFRESH_BYTES && last[i] - now < UNDO_REFRESH_BYTES)
			continue;
		if (undo_account(s->srv, NULL, ids[i], &now))
			continue;
		pthread_mutex_lock(&s->lock);
		for (v = s->vms; v; v = v->next)
			if (v->id == ids[i])
				v->undo_recorded = now;
		pthread_mutex_unlock(&s->lock);
	}
	free(ids);
}

static void *sup_thread(void *arg)
{
	struct supervisor *s = arg;
	double undo_next = clock_mono() + UNDO_REFRESH_S;

	while (!s->srv->stopping) {
		struct epoll_event ev[16];
		int n = epoll_wait(s->epfd, ev, 16, 500), i;
		double now = clock_mono();
		struct runvm *v, **pp;

		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == NULL) {
				char b[64];
				while (read(s->wake[0], b, sizeof(b)) > 0)
					;
				continue;
			}
			v = ev[i].data.ptr;
			pthread_mutex_lock(&s->lock);
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, v->pidfd, NULL);
			pthread_mutex_unlock(&s->lock);
			handle_exit(s, v);
			pthread_mutex_lock(&s->lock);
			/* handle_exit may have started it again (a new pidfd): keep it then. */
			if (!(v->started >= now)) {
				if (v->pidfd >= 0)
					close(v->pidfd);
				for (pp = &s->vms; *pp; pp = &(*pp)->next)
					if (*pp == v) {
						*pp = v->next;
						free(v);
						break;
					}
			}
			pthread_mutex_unlock(&s->lock);
		}
		/* Shutdown timeouts. */
		pthread_mutex_lock(&s->lock);
		for (v = s->vms; v; v = v->next)
			if (v->shutdown_deadline && now >= v->shutdown_deadline) {
				pid_t vp = sup_vmm_pid(s->srv, v);
				vsrv_log("vm %s: no power-off after %us: turning it off", v->name,
					 s->srv->shutdown_timeout);
				v->shutdown_deadline = 0;
				if (vp > 0) {
					cgroup_freeze(s->srv, v->id, vp, 0);
					kill(vp, SIGKILL);
				} else {
					kill_session(v);
				}
			}
		pthread_mutex_unlock(&s->lock);
		if (now >= undo_next) {
			undo_refresh(s);
			undo_next = now + UNDO_REFRESH_S;
		}
	}
	return NULL;
}

int sup_create(struct server *srv, struct supervisor **out)
{
	struct supervisor *s = calloc(1, sizeof(*s));
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };

	if (!s)
		return -ENOMEM;
	s->srv = srv;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->committed, NULL);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0 || pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wake[0], &e) < 0) {
		free(s);
		return -errno;
	}
	srv->sup = s;
	if (sup_ready_create(srv, &s->ready)) {
		srv->sup = NULL;
		close(s->epfd);
		free(s);
		return -EAGAIN;
	}
	if (sup_dynmem_start(s, true)) {
		srv->sup = NULL;
		sup_ready_destroy(s->ready);
		close(s->epfd);
		free(s);
		return -EAGAIN;
	}
	if (pthread_create(&s->thread, NULL, sup_thread, s)) {
		srv->sup = NULL;
		sup_dynmem_stop(s);
		sup_ready_destroy(s->ready);
		close(s->epfd);
		free(s);
		return -EAGAIN;
	}
	*out = s;
	return 0;
}

void sup_destroy(struct supervisor *s)
{
	struct runvm *v, *n;

	if (!s)
		return;
	s->srv->stopping = true;
	if (write(s->wake[1], "x", 1) < 0) {
		/* the thread also wakes every 500 ms */
	}
	pthread_join(s->thread, NULL);
	sup_dynmem_stop(s);
	sup_ready_destroy(s->ready);
	for (v = s->vms; v; v = n) {
		n = v->next;
		if (v->pidfd >= 0)
			close(v->pidfd);
		free(v);
	}
	close(s->wake[0]);
	close(s->wake[1]);
	close(s->epfd);
	pthread_cond_destroy(&s->committed);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The VMs sup_reattach looks at: id, name, bit 1 autostart, bit 2 not stopped or crashed. */
struct known {
	int n;
	int64_t ids[4096];
	int flags[4096];
	char names[4096][64];
};

static int add_known(const struct inv_vm *v, void *arg)
{
	struct known *k = arg;

	if (k->n == 4096)
		return 1;
	k->ids[k->n] = v->id;
	k->flags[k->n] = (v->autostart ? 1 : 0) |
			 (strcmp(v->state, INV_VM_STOPPED) && strcmp(v->state, INV_VM_CRASHED) &&
			  strcmp(v->state, INV_VM_SAVED) ? 2 : 0);
	snprintf(k->names[k->n], sizeof(k->names[0]), "%s", v->name);
	k->n++;
	return 0;
}

int sup_reattach(struct server *srv)
{
	struct supervisor *s = srv->sup;
	struct dbc *c = inv_get(srv->db);
	struct known *k;
	int64_t *ids;
	int n, i, *autostart, rc;

	if (!c)
		return -EIO;
	k = calloc(1, sizeof(*k));
	if (!k) {
		inv_put(c);
		return -ENOMEM;
	}
	/* Every VM with a runtime directory or a live state is looked at: a daemon killed
	 * between starting a shim and committing still finds it. */
	rc = inv_vm_each(c, add_known, k);
	if (rc < 0) {
		free(k);
		inv_put(c);
		return rc;
	}
	n = k->n;
	ids = k->ids;
	autostart = k->flags;
	for (i = 0; i < n; i++) {
		pid_t mp = sup_read_pid(srv, ids[i], "monitor.pid");
		struct runvm *v;
		const char *name = k->names[i];

		if (sup_is_our_monitor(srv, ids[i], mp)) {
			v = calloc(1, sizeof(*v));
			if (!v)
				break;
			v->id = ids[i];
			v->mon_pid = mp;
			v->pidfd = -1;
			v->started = clock_mono() - 3600;
			snprintf(v->name, sizeof(v->name), "%s", name);
			pthread_mutex_lock(&s->lock);
			v->next = s->vms;
			s->vms = v;
			if (watch(s, v))
				vsrv_log("vm %s: cannot watch its monitor (pid %d)", name, (int)mp);
			pthread_mutex_unlock(&s->lock);
			if (!(autostart[i] & 2) && inv_begin(c) == 0) {
				inv_vm_set_state(c, ids[i], INV_VM_STARTING, mp, NULL);
				inv_commit(c);
			}
			/* One that was still starting: 'running' once its VMM answers. */
			sup_ready_watch(s->ready, ids[i], mp, name, NULL);
			vmagent_watch(srv, ids[i], name);
			vsrv_log("vm %s: re-attached (monitor pid %d)", name, (int)mp);
			continue;
		}
		if (autostart[i] & 2 && sup_cluster_held_elsewhere(srv, name)) {
			/* A shared inventory (etcd): recorded up, and running on the host that
			 * holds its ownership key. Its status is that host's to write. */
			vsrv_log("vm %s: runs on another host of the cluster: left alone", name);
			continue;
		}
		if (autostart[i] & 2) {
			/* It ended while no daemon watched (or never started). */
			struct runvm tmp = { .id = ids[i], .pidfd = -1, .mon_pid = mp,
					     .started = clock_mono() - 3600 };
			snprintf(tmp.name, sizeof(tmp.name), "%s", name);
			handle_exit(s, &tmp);
			continue;
		}
		if (autostart[i] & 1) {
			int rc = sup_start(srv, c, ids[i], NULL);
			if (rc)
				vsrv_log("vm %s: autostart failed: %s", name, strerror(-rc));
		}
	}
	free(k);
	inv_put(c);
	return 0;
}
