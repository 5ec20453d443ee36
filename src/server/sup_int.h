/* The supervisor's internal pieces shared between sup.c, sup_spawn.c and sup_migrate.c. */
#ifndef VSRV_SERVER_SUP_INT_H
#define VSRV_SERVER_SUP_INT_H

#include "server/server.h"

#include <jansson.h>

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* A pidfd of pid (pidfd_open(2), which glibc wraps only from 2.36): the fd, or -1 with
 * errno. */
static inline int sup_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* One running VM as the supervisor knows it (sup.c; the fields under the supervisor's
 * lock). */
struct runvm {
	struct runvm *next;
	int64_t id;
	char name[64];
	pid_t mon_pid;
	int pidfd;
	bool ours;              /* our child: reap it */
	bool stop_req;          /* an exit we asked for: off, shutdown */
	bool refused;           /* a start refused after its spawn (record_start): its end
				 * is not recorded, the inventory never said it started */
	bool reset_req;         /* start again after the exit */
	char undo[8];           /* the stop request's undo-disk action, or "" (the setting) */
	bool save_req;          /* its VMM is saving it and ends after (sup_save.c) */
	char save_who[64];      /* who asked for the save, for its event */
	bool migrate_req;       /* its VMM is migrating it away (sup_migrate.c) */
	bool incoming;          /* a migration's destination, not yet handed over */
	bool deciding;          /* its start has not decided yet (committed or refused it:
				 * sup_start_begun; the start lock held meanwhile) */
	bool ending;            /* its end is being handled without the start lock: a start of
				 * its VM waits (ended_cv) */
	pid_t prior_pid;        /* a monitor the VM's record may still name for this run (its
				 * end then recorded all the same): the run a restart whose record
				 * went unconfirmed followed, or a migration's source's */
	double shutdown_deadline;
	double started;
	int quick_restarts;
	int64_t undo_recorded;  /* its undo disks' bytes as last recorded (sup.c undo_refresh;
				 * at its start, sup_start.c); 0: it has none */
	int64_t owner;          /* its owner once sup_undo_unrecorded has read it (a VM's owner
				 * is set at its create and never changes); 0: not yet */
};

struct supervisor {
	struct server *srv;
	pthread_t thread;
	int epfd;
	int wake[2];
	pthread_mutex_t lock;
	/* sup_start_lock (taken before lock, never after): start_mu guards the fields after it */
	pthread_mutex_t start_mu;
	pthread_cond_t start_cv;    /* the lock was given up (threads in sup_start_lock) */
	bool start_held;
	unsigned start_blocked;     /* threads waiting in sup_start_lock: before the queue */
	struct sup_start_wait *start_q, *start_qtail;   /* parked requests, in order */
	struct runvm *vms;
	struct sup_restart *restarts;   /* (lock) restarts waiting for the start lock */
	pthread_cond_t ended_cv;    /* (with lock) a run's ending was cleared */
	bool fencing;               /* (lock) sup_fence runs, or ran for good: no start */
	struct sup_ready *ready;    /* 'starting' -> 'running' (sup_ready.h) */
	struct sup_dynmem *dyn;     /* dynamic memory's loop (sup_dynmem.c) */
	/* for tests, read once by sup_create: VSRV_TEST_COMMIT_AFTER_EXIT=1 (sup_start.c) */
	bool test_commit_after_exit;
};

/* Start and stop dynamic memory (sup_dynmem.c): s->dyn, with its thread (a step every
 * 5 s) when thread is true; without, steps are sup_dynmem_step's (tests). 0 or -errno. */
int sup_dynmem_start(struct supervisor *s, bool thread);
void sup_dynmem_stop(struct supervisor *s);
/* One step of the policy over the VMs of s->vms, on the calling thread. */
void sup_dynmem_step(struct supervisor *s);

/* The run of VM id (NULL: none), under s->lock; watch v's monitor (its pidfd into the
 * epoll set); SIGKILL to v's monitor's session unless it has ended (sup.c). */
struct runvm *sup_find(struct supervisor *s, int64_t id);
int sup_watch(struct supervisor *s, struct runvm *v);
void sup_kill_session(struct runvm *v);
/* sup_stop's signal alone (sup_stop.c): the request marked on VM id's run here (its undo
 * action with it) and its VMM killed (how: enum sup_stop, sup.h; SUP_OFF), its power button to be pressed
 * (SUP_SHUTDOWN: its deadline set; the press is the caller's) or its run to start again
 * (SUP_RESET). Nothing recorded. 0 and its name (n bytes), or -EBUSY when it does not run
 * under this supervisor. */
int sup_stop_signal(struct server *srv, int64_t id, int how, const char *undo, char *name,
		    size_t n);
/* The start lock taken only when it is free and nobody waits for it: 0, or -EAGAIN
 * (sup_start.c). */
int sup_start_trynow(struct server *srv);
/* A restart by policy of VM id (name) whose end was recorded while another start held the
 * start lock: made by the supervisor's thread once the lock is free (sup_restart_pending),
 * quick then its quick_restarts, unless its restart policy no longer asks for it then (reset:
 * a reset's, made whatever the policy; clean: its run ended cleanly); on failure its
 * ownership key is given up. sup_restart_drop forgets those left (the supervisor ends).
 * (sup_start.c) */
void sup_restart_later(struct supervisor *s, int64_t id, const char *name, int quick, bool reset,
		       bool clean);
void sup_restart_pending(struct server *srv);
void sup_restart_drop(struct supervisor *s);
/* Start VM id under c's open transaction (sup_start_lock held; the caller commits), again
 * by its restart policy with restart (sup_start.c). 0 or -errno; nothing spawned on an
 * error. */
struct dbc;
int sup_start_locked(struct server *srv, struct dbc *c, int64_t id, const char *who,
		     bool restart);
/* The start of VM id whose monitor pid runs (name) is refused after its spawn: its monitor
 * is ended as a requested stop whose end records nothing (sup_start.c). */
void sup_start_refuse(struct supervisor *s, int64_t id, pid_t pid);
/* Record under c's open transaction that VM name (id) is starting with monitor pid, already
 * spawned (a restart whose first commit failed): its ownership key claimed again and compared
 * at the commit, its placement and a vm-starting event with it. 0 or -errno (-EADDRINUSE,
 * -ENOLINK: the key is not this host's; the caller ends the monitor). */
int sup_start_record(struct server *srv, struct dbc *c, int64_t id, const char *name,
		     pid_t pid);
/* The pid of v's VMM (vmm.pid, checked to be a child of v's monitor, so never a recycled
 * pid), or 0 (sup.c). */
pid_t sup_vmm_pid(struct server *srv, struct runvm *v);

/* Build the monitor's argv (monitor DIR -- vsrv run ...) for VM id from its inventory row,
 * preparing undo disks and network arguments. name receives the VM's name. Returns 0 and
 * *out (a NULL-terminated array owned by the caller: free with sup_free_argv), or -ENOENT
 * (no such VM), -EBUSY (an undo commit still runs), -ENAMETOOLONG, -ENOMEM, -errno. */
int sup_build_argv(struct server *srv, struct dbc *c, int64_t id, const char *dir,
		   char ***out, char *name, size_t namelen);

/* Free an argv from sup_build_argv. NULL is allowed. */
void sup_free_argv(char **a);

/* Fork the monitor for VM id in its own session (stdin /dev/null, output to DIR/monitor.log,
 * placed in the VM's cgroups), exec argv, and record DIR/monitor.pid. argv stays the
 * caller's. Returns 0 and *out (the monitor's pid), or -errno. */
int sup_spawn(struct server *srv, char **argv, const char *dir, int64_t id, pid_t *out);

/* Kill (SIGKILL) every process left of VM id's earlier runs (any whose command line names
 * the VM's directory or its control socket: monitors and VMMs) and wait up to timeout_ms
 * for them to end, so that one VM never has two VMMs. Call it only while no monitor of
 * the VM is meant to run. name is for the log. Returns how many it killed (all ended),
 * -EBUSY (some still run after the wait, logged) or -errno. */
int sup_kill_stale(struct server *srv, int64_t id, const char *name, int timeout_ms);

/* The command line of pid (its NUL-separated arguments) into buf, NUL-terminated. Its
 * length (> 0), or 0 for none (no such process, a zombie, a kernel thread). */
size_t sup_cmdline(pid_t pid, char *buf, size_t n);

/* Read a small file (a pid, /proc/PID/stat) into buf, NUL-terminated, at most n - 1 bytes.
 * Returns 0, or -errno when it cannot be opened, -EIO when it cannot be read. */
int sup_read_small(const char *path, char *buf, size_t n);

/* The pid in file (monitor.pid, vmm.pid) of VM id's directory: 0 when there is none. */
pid_t sup_read_pid(struct server *srv, int64_t id, const char *file);

/* Whether pid is alive and is our shim for VM id (`vsrv monitor DIR`). */
bool sup_is_our_monitor(struct server *srv, int64_t id, pid_t pid);

/* The memory that the up VMs of this host but VM except hold from admission control (on a
 * shared inventory only those this host runs). */
struct dbc;
int64_t sup_reservation_used(struct server *srv, struct dbc *c, int64_t except);

/* In cluster mode (srv->cluster), take VM name's ownership key before it starts (0, or
 * cluster_vm_claim's -errno, logged) and link dir/lease.deadline to the watchdog's deadline
 * file (its monitor enforces it: monitor.c); without a cluster, remove that link. Give the
 * key up once it has ended (sup_cluster.c). dir may be NULL (a VM already running). c: the
 * start's open transaction, or NULL: on a shared inventory the key's revision as claimed
 * is compared at its commit (a key taken meanwhile fails it: -EAGAIN). */
int sup_cluster_claim(struct server *srv, struct dbc *c, const char *name, const char *dir);
/* done: it ended by itself and is not restarted (a clean end its restart policy does not
 * restart): its intent to run is cleared too (cluster_vm_unplace), no host restarts it. */
void sup_cluster_release(struct server *srv, const char *name, bool done);
/* A start here succeeded: on a shared inventory, record the VM placed here and meant to
 * run (cluster_vm_place: failover restarts it elsewhere when this host dies), in c's
 * transaction (written with its commit: inv_side_put) when c has one, else alone. */
void sup_cluster_placed(struct server *srv, struct dbc *c, const char *name);
/* On a shared inventory, the VMs whose ownership key this host holds: a new object NAME ->
 * true (admission counts only those); NULL otherwise or when etcd does not answer. The
 * keys as read with c's start read when it read them (sup_cluster_start_want; c may be
 * NULL), else read here. */
json_t *sup_cluster_mine(struct server *srv, struct dbc *c);
/* On a shared inventory (etcd), whether this host may write VM name's status under c's open
 * transaction: its ownership key is this host's or nobody's, read now and its revision
 * compared at c's commit (another host's claim meanwhile, a failover's or a hand-over's,
 * fails it: -EAGAIN). 0; -EADDRINUSE when another host holds it (its name into owner, n
 * bytes: the status is that host's to write); -errno when etcd does not answer. 0 alone
 * or on a host's own SQLite. */
int sup_cluster_status_mine(struct server *srv, struct dbc *c, const char *name, char *owner,
			    size_t n);
/* In a cluster on a shared inventory (etcd): does another host hold vm's ownership key (or
 * can that not be known: etcd does not answer)? Then this host must not write the VM's
 * status. false alone or on a host's own SQLite. */
bool sup_cluster_held_elsewhere(struct server *srv, const char *vm);

/* Mark VM id's run as being saved (on) or not any more (a save that failed): its exit is
 * then recorded as saved when the file is there (sup.c). 0, or -EBUSY when it does not run
 * under this supervisor or a stop or reset was asked for. */
int sup_mark_save(struct server *srv, int64_t id, bool on, const char *who);

/* The event of an exit recorded as saved (sup_save.c), under the exit's transaction:
 * vm-saved with the file's size and time, or with unrestored, vm-restore-failed (a start
 * from the saved state that ended before running: the file stays) with why. data (the exit's
 * record) is taken; who: the user who asked for the save, or NULL. */
void sup_save_exit_event(struct server *srv, struct dbc *c, int64_t id, const char *name,
			 const char *who, bool unrestored, json_t *data, const char *why);

/* Live migration (sup_migrate.c). sup_mark_migrate: set 1: VM id's VMM is migrating it away
 * (its exit with status 0 is then not recorded: the VM runs on elsewhere); 0: not any more
 * (the migration failed); -1: the incoming VM of a migration here is handed over (its exits
 * are recorded from then on). Its monitor's pid, or -EBUSY (not in that state here). */
int sup_mark_migrate(struct server *srv, int64_t id, int set);
/* Supervise monitor pid of VM id as a migration's destination (its exit is not recorded:
 * the VM's status is the source's): -EBUSY when the supervisor has a run of id already;
 * pid 0: only that check (0: none); with kill_it, kill the session of the incoming run of
 * id instead, if its monitor is pid (pid 0: whichever; -ENOENT: none). */
int sup_incoming_add(struct server *srv, int64_t id, const char *name, pid_t pid, bool kill_it);
/* Whether VM name's ownership key is this host's (an incoming run that ended after the
 * hand-over's Txn, before its commit: its end is the VM's). */
bool sup_incoming_handed_over(struct server *srv, const char *name);

#endif
