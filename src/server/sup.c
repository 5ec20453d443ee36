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

static int watch(struct supervisor *s, struct runvm *v)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = v };

	v->pidfd = sup_pidfd_open(v->mon_pid);
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

/* v's end is being handled without the start lock (on), or not any more: a start of its VM
 * waits meanwhile (sup_start_locked). */
static void exit_ending(struct supervisor *s, struct runvm *v, bool on)
{
	pthread_mutex_lock(&s->lock);
	v->ending = on;
	if (!on)
		pthread_cond_broadcast(&s->ended_cv);
	pthread_mutex_unlock(&s->lock);
}

/* The shim of v ended: record how, and restart by policy. Supervisor thread, s->lock
 * not held. */
static void handle_exit(struct supervisor *s, struct runvm *v)
{
	struct server *srv = s->srv;
	struct dbc *c = inv_get(srv->db);
	char dir[4096], p[4200], ex[64] = "", policy[16] = "never", undo[16] = "off";
	char state0[16] = "", owner[64] = "", *tail, *rec;
	const char *why;
	json_t *le;
	bool clean, requested, asked, restart = false, restarted = false, saved = false;
	bool unrestored = false, began, other = false, reset, refused, save_req, ours, locked;
	bool later = false, due = false;
	bool unstarted = false;     /* its restart was refused (no KVM, no memory...) */
	struct inv_vm vm;
	int code = -1, sig = 0, tries, fails = 0, quick = 0, quick0, rc = 0, gr;
	pid_t pid0, ended, prior;
	double started;

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
	/* A start of it under way decides first whether this was its refused one: the start
	 * lock, which that start holds until it has. Its restart, a start, takes it too (below).
	 * Else its end is recorded without it, not behind another VM's start whose commit
	 * etcd is slow to answer; a start of this VM waits meanwhile (ending). */
	pthread_mutex_lock(&s->lock);
	locked = v->deciding;
	v->ending = !locked;
	pthread_mutex_unlock(&s->lock);
	if (locked)
		sup_start_lock(srv);
	asked = requested;
	/* this run's, as they were at its end (a restart spawned by a try whose commit then
	 * failed has made v the restart's: sup_start_locked) */
	reset = v->reset_req;
	refused = v->refused;
	save_req = v->save_req;
	ours = v->ours;
	ended = v->mon_pid;
	prior = v->prior_pid;
	started = v->started;
	quick0 = v->quick_restarts;
	for (tries = 0;; tries++) {
		/* its state read in the transaction that records the end (compared at its
		 * commit: a stop's or another host's write meanwhile fails it, and the end is
		 * examined again on what they wrote) */
		began = !refused && inv_begin(c) == 0;
		pid0 = 0;
		gr = inv_vm_get(c, v->id, &vm);
		if (gr == 0) {
			snprintf(policy, sizeof(policy), "%s", vm.restart_policy);
			snprintf(undo, sizeof(undo), "%s", vm.undo_disks);
			snprintf(state0, sizeof(state0), "%s", vm.state);
			pid0 = vm.monitor_pid;
			inv_vm_clear(&vm);
		}
		/* Saved (sup_save.c): its VMM wrote the file and ended with status 0; also when
		 * no daemon saw the save (a file is only there while up after a save in this
		 * run: a restore removes it once running). A restore that failed keeps the file:
		 * saved again. */
		saved = code == 0 && vmsave_exists(srv, v->id, NULL) &&
			(save_req || !strcmp(state0, INV_VM_RUNNING) ||
			 !strcmp(state0, INV_VM_PAUSED) || !strcmp(state0, INV_VM_STOPPING));
		unrestored = !saved && !clean && !strcmp(state0, INV_VM_STARTING) &&
			     vmsave_exists(srv, v->id, NULL);
		requested = asked || saved || unrestored;
		due = !saved && !unrestored &&
		      (reset || (!requested && (!strcmp(policy, "always") ||
					(!strcmp(policy, "on-failure") && !clean))));
		/* A VM that keeps dying within 10 s of its start is given up after 5 tries. */
		quick = clock_mono() - started < 10 ? quick0 + 1 : 0;
		if (due && !reset && quick > 5)
			due = false;
		restart = due && !later;
		if (refused) {
			vsrv_log("vm %s: the monitor of its refused start ended (%s)", v->name, ex);
			break;
		}
		if (!began)
			break;
		if (restart && !locked) {
			inv_rollback(c);
			if (!sup_start_trynow(srv)) {
				/* (read again under the start lock: no start of it runs then) */
				exit_ending(s, v, false);
				locked = true;
			} else {
				/* another start holds it (its commit, which etcd may be slow to
				 * answer): the end recorded now, its restart once the lock is free
				 * (sup_restart_pending), its ownership key kept for it */
				later = true;
			}
			continue;
		}
		/* not read (etcd did not answer): again, a few times */
		if (gr && gr != -ENOENT) {
			inv_rollback(c);
			rc = gr;
			if (fails++ < (restarted ? 3 : 1))
				continue;
			break;
		}
		/* a try before went unanswered and its commit was made after all: recorded (its
		 * restart up with the restart's monitor, or its end) */
		if (fails && (restarted ? inv_vm_state_up(state0) && pid0 == v->mon_pid :
			      !inv_vm_state_up(state0))) {
			inv_rollback(c);
			rc = 0;
			break;
		}
		/* its status is this host's to write only while its ownership key is this
		 * host's or nobody's, compared at the commit: a VM that went on elsewhere (a
		 * failover once this host's lease had gone, a hand-over) keeps that host's
		 * record */
		rc = sup_cluster_status_mine(srv, c, v->name, owner, sizeof(owner));
		if (rc) {
			if (rc == -EADDRINUSE)
				vsrv_log("vm %s: %s; it is host %s's now (its ownership key): its "
					 "record left as it is", v->name, ex, owner);
			inv_rollback(c);
			if (rc != -EADDRINUSE && fails++ < (restarted ? 3 : 1))
				continue;
			if (restarted)
				sup_start_refuse(s, v->id, v->mon_pid);
			restart = restarted = false;
			other = rc == -EADDRINUSE;
			break;
		}
		/* recorded up with another monitor: not this run's record (another host's start
		 * once this host's ownership key had gone, or a later start here); its end
		 * changes nothing of it. (One its run followed, whose end the record may not
		 * have: prior, is this run's.) */
		if (ours && inv_vm_state_up(state0) && pid0 > 0 && pid0 != ended && pid0 != prior) {
			vsrv_log("vm %s: %s; its record is another run's (monitor pid %d): left as "
				 "it is", v->name, ex, (int)pid0);
			inv_rollback(c);
			restart = false;
			other = true;
			break;
		}
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
		if (restart && restarted) {
			/* spawned by a try whose commit failed: that monitor, running, is
			 * recorded with this end (not spawned again); its key gone meanwhile,
			 * it is ended as a refused start's */
			inv_vm_count_restart(c, v->id);
			rc = sup_start_record(srv, c, v->id, v->name, v->mon_pid);
			if (rc) {
				vsrv_log("vm %s: its restart (monitor pid %d) cannot be recorded "
					 "(%s): it is ended", v->name, (int)v->mon_pid, strerror(-rc));
				sup_start_refuse(s, v->id, v->mon_pid);
				restart = restarted = false;
			}
		} else if (restart) {
			/* counted when made: a refused restart is not one (its reason is logged) */
			unstarted = sup_start_locked(srv, c, v->id, NULL, true) != 0;
			if (unstarted) {
				vsrv_log("vm %s: restart failed", v->name);
			} else {
				inv_vm_count_restart(c, v->id);
				restarted = true;
			}
		} else if (restarted) {
			/* no longer restarted on what the conflict's writer wrote */
			sup_start_refuse(s, v->id, v->mon_pid);
			restarted = false;
		}
		rc = inv_commit(c);
		/* again on a conflict (a restart spawned meanwhile recorded with it); and when
		 * etcd did not answer, once, or a few times with a restart running (the commit
		 * may have been made: the next try's reads say) */
		if ((rc == -EAGAIN && tries < INV_COMMIT_TRIES) ||
		    (rc && rc != -EAGAIN && fails++ < (restarted ? 3 : 1)))
			continue;
		break;
	}
	if (rc && began && !other)
		vsrv_log("vm %s: cannot record its exit (%s): %s", v->name, ex, strerror(-rc));
	if (rc && restarted) {
		/* Its restart runs and its record is not confirmed (the commit may have been
		 * made or not): no VMM runs that the inventory may not know of. The restart's
		 * monitor is ended as a requested stop, whose end is recorded whichever way the
		 * commit went (the record naming that monitor, or this run's: prior). */
		pthread_mutex_lock(&s->lock);
		v->stop_req = true;
		v->prior_pid = ended;
		sup_kill_session(v);
		pthread_mutex_unlock(&s->lock);
		vsrv_log("vm %s: its restart (monitor pid %d) cannot be recorded: it is ended",
			 v->name, (int)v->mon_pid);
	}
	if (restart && !reset)
		v->quick_restarts = quick;
	later = later && due && !rc && began && !other;
	if (later)
		sup_restart_later(s, v->id, v->name, reset ? quick0 : quick, reset, clean);
	if (restarted) {
		pthread_mutex_lock(&s->lock);
		v->deciding = false;
		pthread_mutex_unlock(&s->lock);
	}
	if (locked)
		sup_start_unlock(srv);
	vsrv_log("vm %s: %s%s", v->name, ex, restart && !unstarted ? "; restarted" :
		 restart ? "; not restarted" :
		 later ? "; restarted once the start lock is free" : "");
	inv_put(c);
	/* (another run's record: the key, when this host's, and the disks are that run's) */
	if (!restarted && !other && !later)
		sup_cluster_release(srv, v->name, !restart && clean && !requested);
	/* Undo disks: decided when the VM ends for good, never after a crash (kept then). */
	if (!other && !restart && !later && !saved && !unrestored && strcmp(undo, "off") &&
	    (requested || clean)) {
		const char *action = v->undo[0] ? v->undo : undo;
		int rc = undo_finish(srv, v->id, v->name, action, NULL);

		if (rc)
			vsrv_log("vm %s: undo disks (%s): %s; they are kept", v->name, action,
				 strerror(-rc));
	} else if (!other && !restart && !later && undo_pending(srv, v->id)) {
		/* kept (a crash, a save): their final size, what they grew since the last
		 * record too, which no decision sees once the VM no longer runs */
		int64_t rec = 0;

		if (undo_account(srv, NULL, v->id, &rec)) {
			vsrv_log("vm %s: the final size of its kept undo disks is not recorded",
				 v->name);
		} else {
			pthread_mutex_lock(&s->lock);
			v->undo_recorded = rec;
			pthread_mutex_unlock(&s->lock);
		}
	}
	exit_ending(s, v, false);
	free(tail);
}

/* Undo disks grow as their guests write: every UNDO_REFRESH_S seconds the running VMs'
 * undo disks' bytes are recorded again (undo_account: their owners' disk_bytes) when they
 * moved by UNDO_REFRESH_BYTES or more since the last record. What a usage shows lags so;
 * a quota decision does not: it adds what the files grew since (sup_undo_unrecorded). */
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

/* Whether user o is uid or a user uid manages (16 levels, as quota.c), through c; memo
 * (*nmemo entries, at most 16) keeps the answers of this decision: many VMs share owners. */
static int in_tree(struct dbc *c, int64_t uid, int64_t o, int64_t memo[16][2], size_t *nmemo,
		   bool *in)
{
	int64_t x = o;
	size_t k;
	int depth, rc = 0;

	*in = false;
	for (k = 0; k < *nmemo; k++)
		if (memo[k][0] == o) {
			*in = memo[k][1];
			return 0;
		}
	for (depth = 0; !rc && x && depth < 16 && !*in; depth++) {
		*in = x == uid;
		if (!*in)
			rc = inv_owner_get(c, "user", x, &x);
	}
	if (!rc && *nmemo < 16) {
		memo[*nmemo][0] = o;
		memo[(*nmemo)++][1] = *in;
	}
	return rc;
}

int sup_undo_unrecorded(struct dbc *c, int64_t uid, int64_t *bytes, void *arg)
{
	struct server *srv = arg;
	struct supervisor *s = srv->sup;
	int64_t (*vm)[3] = NULL, now, memo[16][2];
	struct runvm *v;
	size_t n = 0, cap = 0, nmemo = 0, i;
	bool in;
	int rc = 0;

	*bytes = 0;
	if (!s)
		return 0;
	/* the running VMs that have undo disks: id, what was last recorded, owner (0: not
	 * read yet) */
	pthread_mutex_lock(&s->lock);
	for (v = s->vms; v; v = v->next)
		cap += v->undo_recorded > 0;
	vm = cap ? malloc(cap * sizeof(*vm)) : NULL;
	for (v = s->vms; vm && v && n < cap; v = v->next)
		if (v->undo_recorded > 0) {
			vm[n][0] = v->id;
			vm[n][1] = v->undo_recorded;
			vm[n++][2] = v->owner;
		}
	pthread_mutex_unlock(&s->lock);
	if (cap && !vm)
		return -ENOMEM;
	for (i = 0; !rc && i < n; i++) {
		/* a stat of each file (undo_bytes): what grew since the record counts for its
		 * owner and every manager above it */
		now = undo_bytes(srv, vm[i][0]);
		if (now <= vm[i][1])
			continue;
		if (!vm[i][2] && !(rc = inv_owner_get(c, "vm", vm[i][0], &vm[i][2])) && vm[i][2]) {
			pthread_mutex_lock(&s->lock);
			if ((v = find(s, vm[i][0])))
				v->owner = vm[i][2];
			pthread_mutex_unlock(&s->lock);
		}
		if (!rc && vm[i][2] && !(rc = in_tree(c, uid, vm[i][2], memo, &nmemo, &in)) && in)
			*bytes += now - vm[i][1];
	}
	free(vm);
	return rc;
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
		/* Restarts that waited for the start lock, when it is free. */
		sup_restart_pending(s->srv);
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
	s->test_commit_after_exit = getenv("VSRV_TEST_COMMIT_AFTER_EXIT") &&
				    !strcmp(getenv("VSRV_TEST_COMMIT_AFTER_EXIT"), "1");
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->start_mu, NULL);
	pthread_cond_init(&s->start_cv, NULL);
	pthread_cond_init(&s->ended_cv, NULL);
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
	sup_restart_drop(s);
	close(s->wake[0]);
	close(s->wake[1]);
	close(s->epfd);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->start_mu);
	pthread_cond_destroy(&s->start_cv);
	pthread_cond_destroy(&s->ended_cv);
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
			int64_t rec = 0;

			/* its undo disks as they are now: what the record and its growth
			 * since (sup_undo_unrecorded) count from */
			if (undo_pending(srv, ids[i]) && undo_account(srv, c, ids[i], &rec))
				rec = undo_bytes(srv, ids[i]);
			v = calloc(1, sizeof(*v));
			if (!v)
				break;
			v->undo_recorded = rec;
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
