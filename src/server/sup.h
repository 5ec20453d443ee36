/* The supervisor: one `vsrv monitor` shim (and under it one `vsrv run`) per running VM,
 * started in its own session so that VMs outlive the daemon; re-attached on start;
 * exits recorded (stopped / crashed with status and last console lines) and restarted
 * by policy; admission control and cgroup limits; per-VM usage for /metrics. */
#ifndef VSRV_SERVER_SUP_H
#define VSRV_SERVER_SUP_H

#include "server/server.h"

/* Create the supervisor and its thread. Returns 0 and *out or -errno. */
int sup_create(struct server *srv, struct supervisor **out);

/* What the undo disks of the VMs this host runs grew since their bytes were last recorded
 * (undo_account: at the start, then by the supervisor every 10 s once they moved by 1 MiB),
 * for user uid: the VMs it or a user it manages (16 levels down) owns; into *bytes. The
 * server's inv_set_usage_extra (arg: the server), so that a quota decision sees the files
 * as they are: a walk of the directory of each running VM that has them, and through c
 * (the decision's transaction) a read of the owner of one that grew, once per run, and of
 * the managers above it, once per decision. 0 or -errno.
 *
 * The bound. Nothing is asked before a guest writes: a VM that runs grows its undo disks
 * without a decision, and its owner's usage may pass its disk_bytes limit by what they
 * grow after the last decision that counted them. Each undo disk grows at most to the
 * size of a differencing VHD whose every block is allocated: the disk's virtual size, plus
 * a 512-byte bitmap per 2 MiB block, its BAT (4 bytes a block) and a few KiB of headers,
 * footers and parent locators. So the overshoot is at most the sum of that over the writable disks of the
 * user's running VMs with undo disks (less what they already hold); nothing more can be
 * admitted while over, and the next decision counts it at once. */
int sup_undo_unrecorded(struct dbc *c, int64_t uid, int64_t *bytes, void *arg);

/* Stop the supervisor's thread. Running VMs keep running. */
void sup_destroy(struct supervisor *s);

/* Re-attach to the VMs that run (from a previous daemon), record those that ended
 * while no daemon watched, and start the VMs marked autostart. Returns 0 or -errno. */
int sup_reattach(struct server *srv);

/* Start VM id (its row in vms): admission control, the shim, state 'running'. Returns 0,
 * -EBUSY when it runs, -ENOSPC when its reservation does not fit, -ENOENT, or -errno.
 * The caller holds no transaction on c. who names the caller for the event. */
int sup_start(struct server *srv, struct dbc *c, int64_t id, const char *who);
/* sup_start by a caller that holds the start lock (below): an HTTP request's, which waits
 * for it parked (api_start_locked, api.h). */
int sup_start_held(struct server *srv, struct dbc *c, int64_t id, const char *who);

/* sup_start in the caller's transaction on c (inv_begin'd, with inv_vm_start_read: the
 * caller's checks before the start read with it and are compared at its commit), which it
 * commits, or rolls back on failure. The same returns. */
int sup_start_begun(struct server *srv, struct dbc *c, int64_t id, const char *who);

/* The starts of this host one at a time, from their reads to their commit (sup_start takes
 * it itself, as does the exit handler's record of an end with its restart; the caller of
 * sup_start_begun takes it before its inv_begin and gives it up after): each start decides
 * on reads that no other start of this host changes before its commit, so that the loser
 * of two at once (one VM twice, two VMs with memory for one) is refused before its VMM
 * runs. Not held across an etcd round trip of anything but a start's. */
/* sup_start_lock waits for it (a thread that may wait: the supervisor's, a task's; it comes
 * before the parked requests); an HTTP request's handler takes it with sup_start_trylock
 * and parks its request (http.c) when it cannot, never waiting on one of the HTTP threads. */
void sup_start_lock(struct server *srv);
void sup_start_unlock(struct server *srv);

/* A parked request's place in the start lock's queue (owned by the request; zeroed, then
 * wake and arg set). wake(arg) is called, under the lock's own mutex (so it must not wait,
 * nor take the start lock: req_unpark), when the request is first in the queue and the lock
 * is free: it then calls sup_start_trylock again. */
struct sup_start_wait {
	struct sup_start_wait *next;
	bool queued;
	void (*wake)(void *arg);
	void *arg;
};

/* Take the start lock without waiting: 0 when taken (w out of the queue); -EAGAIN when
 * another holds it or others came first: w is then in the queue (once), in order, and is
 * woken in its turn. */
int sup_start_trylock(struct server *srv, struct sup_start_wait *w);

/* w leaves the queue, if in it (its request ended while parked); the next is woken. */
void sup_start_wait_cancel(struct server *srv, struct sup_start_wait *w);

/* The restart of VM id waiting for the start lock, if any, cancelled (a user's stop or
 * delete of the VM: not restarted); its ownership key given up. 0 and its name (n bytes),
 * or -ENOENT when none waits. (sup_start.c) */
int sup_restart_cancel(struct server *srv, int64_t id, char *name, size_t n);

enum sup_stop { SUP_OFF, SUP_SHUTDOWN, SUP_RESET };

/* Turn the VM off (kill the VMM), ask it to shut down (power button, turning it off
 * after the server's shutdown timeout) or reset it (a cold restart of the VMM). undo
 * ("keep", "commit", "discard" or NULL for the VM's setting) is what happens to its undo
 * disks once it has ended (undo.h). Returns 0, -EBUSY when it is not running, or -errno. */
int sup_stop(struct server *srv, struct dbc *c, int64_t id, enum sup_stop how, const char *undo,
	     const char *who);

/* The cluster's watchdog (cluster.h): kill every VM of this host at once (SIGKILL to each
 * one's session), as a requested stop (no restart by policy), and wait up to wait_ms for
 * their ends to be handled. No VM starts here meanwhile (-ESHUTDOWN), nor after with
 * for_good (the daemon stops). Returns how many were killed; why goes into the log. */
int sup_fence(struct server *srv, const char *why, int wait_ms, bool for_good);

/* In a cluster, after sup_reattach: every VM recorded up here takes its ownership key
 * (cluster.h); one that cannot (another host runs it now, or etcd does not answer) is
 * turned off at once. Returns how many were turned off. */
int sup_cluster_adopt(struct server *srv);

/* The host a VM runs on, for the API's "host": in a cluster, the host holding its
 * ownership key (owners: cluster_vm_owners' map, or NULL for one read of the key, or its
 * read with c's rows: sup_cluster_owner_want; c may be NULL); alone,
 * this host's name (the system's, up to the first dot) while state is up. null otherwise.
 * New reference. */
json_t *sup_vm_host_json(struct server *srv, struct dbc *c, const char *name,
			 const char *state, json_t *owners);

/* On a cluster, VM name's ownership key is read with the session's next read of the VM's
 * rows (inv_side_want), for sup_vm_host_json on c (which reads it alone otherwise). */
void sup_cluster_owner_want(struct server *srv, struct dbc *c, const char *name);

/* On a shared inventory (etcd), the cluster's keys a VM's start reads are read with c's
 * start read (inv_vm_start_read, next), in its round trip, not as the transaction's reads:
 * the VMs' ownership keys (the host's reservation: sup_cluster_mine) and, with hosts, the
 * hosts (the placement: api_vm_start_placed, through sup_cluster_side_read). */
void sup_cluster_start_want(struct server *srv, struct dbc *c, bool hosts);

struct etcd_kv;

/* A cluster_read_fn (cluster.h) of what c's read had beside its rows (arg: the struct
 * dbc *; inv_side_take_range). */
int sup_cluster_side_read(void *arg, const char *prefix,
			  int (*fn)(const struct etcd_kv *kv, void *fn_arg), void *fn_arg);

/* A user's off or shutdown of VM name: on a shared inventory, clear its intent to run (no
 * failover restarts it; *was_running: it was meant to run). -EADDRINUSE when another host
 * holds its ownership key (that host is to stop it), 0 or -errno. */
int sup_cluster_unplace(struct server *srv, const char *name, bool *was_running);

/* Failover's callbacks (cluster_config's vm_need and vm_take; arg is the server):
 * whether VM vm is restarted elsewhere when its host dies (its restart policy) and what
 * it needs of a host (placement_need, disks in place); and its restart here: claim its ownership key, record the end of its
 * run on the dead host from (an up state becomes crashed) and, with start, emit
 * vm-failover {from, to} and start it; without, only when its state is up or it is meant
 * to run (meant) with policy never: record its end, clear that intent, give the key up. */
struct cluster_need;
int sup_cluster_need(void *arg, const char *vm, struct cluster_need *need);
int sup_cluster_take(void *arg, const char *vm, const char *from, bool start, bool meant);

/* Pause or resume the VM's vCPUs. Returns 0, -EBUSY in the wrong state, or -errno. */
int sup_pause(struct server *srv, struct dbc *c, int64_t id, int pause, const char *who);

/* Add the runtime view of VM id (pid, uptime, CPU seconds, RSS, I/O) to obj. */
void sup_runtime_json(struct server *srv, int64_t id, json_t *obj);

/* Host capacity for /api/v1/host. New reference. */
json_t *sup_host_json(struct server *srv, struct dbc *c);

/* Per-VM metrics in Prometheus text format, appended to buf. */
int sup_metrics_render(struct server *srv, struct dbc *c, char **buf, size_t *len, size_t *cap);

/* Dynamic memory (sup_dynmem.c, the policy in dynmem.h). sup_balloon_target: ask VM id's
 * VMM (the VM runs here) for a balloon target of target_mib and, when it took it, record the
 * event vm-memory-target through c (data, taken, gets target_mib; who NULL: the policy, its
 * data say why). 0 and *reply (the VMM's, a new reference), or vmctl_send's error (-EPROTO
 * with *reply: the VMM refused). */
int sup_balloon_target(struct server *srv, struct dbc *c, int64_t id, const char *name,
		       int64_t target_mib, const char *who, json_t *data, json_t **reply);
/* A user set VM id's target by hand (manual): the policy leaves the VM alone until its run
 * ends, a call with manual false, or its settings differ from these (min_mib 0: its
 * memory_mib; max_mib: its memory_mib). */
void sup_dynmem_manual(struct server *srv, int64_t id, bool manual, int64_t min_mib,
		       int buffer_pct, int64_t max_mib);
/* A user's target for VM id's balloon (PUT .../balloon): sup_balloon_target, then, when it
 * was set, sup_dynmem_manual(true, min_mib, buffer_pct, max_mib), both before the policy can
 * send its own (its look at the manual mark and its send are one step against this). */
int sup_dynmem_user_target(struct server *srv, struct dbc *c, int64_t id, const char *name,
			   int64_t target_mib, const char *who, json_t *data, json_t **reply,
			   int64_t min_mib, int buffer_pct, int64_t max_mib);
/* VM id's "dynamic_memory" for the API from its JSON vm (memory_mib, memory_min_mib,
 * memory_buffer_pct, balloon, runtime.balloon) and what the loop saw last. New reference. */
json_t *sup_dynmem_json(struct server *srv, int64_t id, const json_t *vm);

/* The UEFI variable store of a VM with firmware uefi, in its directory (vmdir.h): the VMM
 * makes it from the firmware's template when it is missing; it goes with the directory when
 * the VM is deleted. */
#define SUP_UEFI_VARS "OVMF_VARS.fd"

#endif
