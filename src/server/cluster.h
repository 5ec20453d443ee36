/* Cluster membership on etcd (`vsrv serve --cluster URL,...`; docs/cluster.md): the host
 * registers under /vsrv/hosts/NAME with a lease it keeps alive, a watchdog stops the host's
 * VMs before that lease can expire, and a VM runs only where it holds its ownership key
 * /vsrv/vms/NAME/owner, bound to its host's lease.
 *
 * Timing (T = ttl, M = the margin, both in the struct cluster_config):
 *  - the lease is renewed every T/3; each renewal's request is sent at time s;
 *  - etcd renews at the leader after s, so the lease cannot expire before s + T (etcd only
 *    ever extends a live lease: a leader change refreshes them);
 *  - the watchdog fires at s_last + T - M, s_last the send time of the last renewal that
 *    succeeded (CLOCK_BOOTTIME, which goes on through a suspend; it checks at least every
 *    250 ms), and calls fence, which must have the VMs dead within M;
 *  - so this host's VMs are gone before its ownership keys can vanish, and no other host
 *    can claim them (create-if-absent) before they vanish.
 * A failed renewal is retried every 250 ms. The window between the last good renewal
 * and the fence is at least T - M - T/3 (T = 10: 3.7 s); it must exceed etcd's leader
 * election (1 to 2 election timeouts, 1 s by default), or killing etcd's leader fences
 * every host. A renewal that finds the lease expired fences at once too. After a fence the host
 * registers again (a new lease) once etcd answers; its VMs stay stopped. */
#ifndef VSRV_SERVER_CLUSTER_H
#define VSRV_SERVER_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The key layout (docs/cluster.md). */
#define CLUSTER_HOSTS "/vsrv/hosts/"    /* NAME/info (no lease), NAME/alive (the lease) */
#define CLUSTER_VMS "/vsrv/vms/"        /* NAME/owner (the owning host's lease), NAME/placement */

struct etcd_kv;

/* A read of the keys under a prefix made already (the inventory's, in the round trip of a
 * transaction's read: inv_side_want_range): each key to fn as etcd_range gives them, 0
 * (or fn's non-zero return); -ENODATA when it has none (the cluster reads them itself). */
typedef int cluster_read_fn(void *arg, const char *prefix,
			    int (*fn)(const struct etcd_kv *kv, void *fn_arg), void *fn_arg);

struct cluster;
struct cluster_need;

struct cluster_config {
	const char *endpoints;      /* etcd members, "http://A:2379,http://B:2379" */
	const char *name;           /* this host's name in the cluster */
	const char *api_url;        /* where other hosts and clients reach its API */
	unsigned ttl;               /* the lease's TTL, seconds (3 to 300) */
	unsigned margin_ms;         /* the watchdog's margin M (0: 30% of T, at least 1 s) */
	unsigned cpus;
	uint64_t memory_mib;        /* what admission control hands out */
	/* This host's free memory for VMs now (admission's view), MiB; called from the
	 * cluster's thread. */
	int64_t (*free_mib)(void *arg);
	/* Stop every VM of this host now (the watchdog); returns how many it stopped. Called
	 * from the watchdog's thread, why says what happened. */
	int (*fence)(void *arg, const char *why);
	/* Failover (cluster_failover.c; set only on a shared inventory, where every host sees
	 * every VM; NULL: no failover thread). vm_need: whether VM vm is to be restarted on a
	 * surviving host once its host is gone (its restart policy is on-failure or always: 1,
	 * and *need, what it needs of a host: cluster_failover_order), 0 (never, or no such VM) or
	 * -errno. vm_take: this host is the one chosen for vm, placed on host from: claim it
	 * (cluster_vm_claim), record the end of its run on from and, with start, start it here
	 * (without: no host holds the memory it needs, its policy does not restart it, or it
	 * is not meant to run: record its end if its state is still up, clear the intent
	 * (meant) of a VM whose policy is never, give the claim up again); 0 or -errno. Both
	 * are called from the failover thread. */
	const char *inventory;      /* the shared inventory's key prefix: placements name it,
	                             * and failover moves only the VMs of its own inventory */
	int (*vm_need)(void *arg, const char *vm, struct cluster_need *need);
	int (*vm_take)(void *arg, const char *vm, const char *from, bool start, bool meant);
	void *arg;
	/* A file keeping the lease's id (in the data directory): a daemon restarted while its
	 * lease lives (within T of a crash) takes the same lease up again, so the ownership
	 * keys of the VMs it re-attaches stay. NULL: none. */
	const char *lease_file;
	/* A file holding the watchdog's deadline (CLOCK_BOOTTIME ms: the last good renewal's
	 * send time + T - M), rewritten after every renewal. Each VM's monitor reads it
	 * through DIR/lease.deadline and kills its VMM once it has passed: the watchdog goes
	 * on when the daemon itself dies. NULL: none. */
	const char *deadline_file;	/* What the placement rule needs to know of this host (docs/cluster.md "Placement"):
	 * a new JSON object merged into its alive key ({"cpus", "bridges", "missing_disks"}),
	 * or NULL (nothing said). rev: etcd's revision as the caller read it last (the shared
	 * inventory's generation, inv_generation), 0 when unknown. Called at registration and
	 * then from the failover thread every T/3 (never from the renewal thread: it may stat
	 * files on shared storage); an answer that differs from the last one rewrites the
	 * alive key. NULL: none. */
	json_t *(*facts)(void *arg, int64_t rev);
};

/* Connect, register the host (refused with -EEXIST when a live host has the name) and
 * start the renewal and watchdog threads. 0 and *out (cluster_stop it), -EINVAL for a bad
 * configuration, or the etcd client's -errno (etcd.h; the reason is logged). */
int cluster_start(const struct cluster_config *cfg, struct cluster **out);

/* Stop the threads, revoke the lease (this host's keys go with it) and free cl. The
 * caller has stopped the VMs first: their ownership keys go with the lease. NULL-safe. */
void cluster_stop(struct cluster *cl);

/* The deadline file (cluster_config), or NULL. */
const char *cluster_deadline_file(const struct cluster *cl);

/* This host's name, the watchdog's timing (ms) and its fences so far. */
const char *cluster_name(const struct cluster *cl);
void cluster_timing(const struct cluster *cl, unsigned *ttl_ms, unsigned *renew_ms,
		    unsigned *fire_ms);
unsigned cluster_fences(const struct cluster *cl);

/* The cluster's hosts for GET /api/v1/hosts: {"hosts": [...], "cluster": {...}}. 0 and
 * *out (a new reference) or the etcd client's -errno. */
int cluster_hosts_json(struct cluster *cl, json_t **out);

/* Claim VM vm for this host: create /vsrv/vms/VM/owner bound to the host's lease, unless
 * it exists (then 0 when it is already this host's under this lease). 0, -EADDRINUSE when
 * another host holds it (its name in owner, n bytes, when not NULL), -ENOLINK while the
 * host is fenced or has no lease, or the etcd client's -errno. */
int cluster_vm_claim(struct cluster *cl, const char *vm, char *owner, size_t n);

/* cluster_vm_claim, and on 0 the key's mod_revision as claimed (*rev): a start compares it
 * at its commit (inv_side_compare), so that a key taken meanwhile fails the commit. */
int cluster_vm_claim_at(struct cluster *cl, const char *vm, char *owner, size_t n,
			int64_t *rev);

/* The host that holds VM vm's ownership key, into host (n bytes). 0, -ENOENT or -errno. */
int cluster_vm_owner(struct cluster *cl, const char *vm, char *host, size_t n);
/* cluster_vm_owner, and the key's mod_revision (*rev; 0 when it is absent: -ENOENT), for a
 * transaction that compares it at its commit (inv_side_compare). */
int cluster_vm_owner_at(struct cluster *cl, const char *vm, char *host, size_t n, int64_t *rev);

/* VM vm's ownership key (etcd's key, into key: n bytes), and the host named by a value of
 * it (len bytes; into host: n bytes, "?" when it names none), for a reader that read the
 * key itself (inv_side_want). 0, -EINVAL or -ENAMETOOLONG. */
int cluster_vm_owner_key(const char *vm, char *key, size_t n);
void cluster_vm_owner_of(const char *value, size_t len, char *host, size_t n);

/* Give the claim up (the VM has ended here): delete the key if it is still this host's.
 * 0 or -errno (logged; the key goes with the lease in any case). */
int cluster_vm_release(struct cluster *cl, const char *vm);

/* Record that VM vm is placed on this host and meant to run: /vsrv/vms/VM/placement =
 * {"host", "lease", "intent": "running", "since"} (no lease: it outlives the host). Called
 * once a start here has succeeded. 0, -ENOLINK (fenced or no lease) or -errno (logged). */
int cluster_vm_place(struct cluster *cl, const char *vm);

/* cluster_vm_place's key (into key, n bytes) and value (*text, malloc'd: free it), for a
 * caller that writes it in a transaction of its own (the start's commit). 0, -ENOLINK
 * (fenced or no lease), -ENAMETOOLONG, -EINVAL or -ENOMEM. */
int cluster_vm_placement(struct cluster *cl, const char *vm, char *key, size_t n,
			 char **text);

/* Clear VM vm's intent to run (a user's stop, or its clean end that its restart policy does
 * not restart): the placement's intent becomes "stopped" (host and lease kept), so no host
 * restarts it when its host dies. *was_running: the intent was "running". 0 (also when
 * there is no placement) or -errno. */
int cluster_vm_unplace(struct cluster *cl, const char *vm, bool *was_running);

/* cluster_vm_unplace, unless another host holds VM vm's ownership key (-EADDRINUSE: the
 * host that runs it is the one to stop it): the key is read with the placement, in one
 * round trip. */
int cluster_vm_unplace_mine(struct cluster *cl, const char *vm, bool *was_running);

/* The ownership keys: a new object VM name -> host name (*out, the caller's), and the
 * store's revision of that read (*rev, NULL allowed). 0 or -errno. */
int cluster_vm_owners(struct cluster *cl, json_t **out, int64_t *rev);

/* cluster_vm_owners from read's (NULL, or -ENODATA from it: read here); no revision. */
int cluster_vm_owners_in(struct cluster *cl, cluster_read_fn *read, void *arg, json_t **out);

/* The placement rule (docs/cluster.md "Placement"), the one rule of a start without a
 * host, failover, drain and balance. What a VM needs of a host: */
#define CLUSTER_NEED_MAX 32
struct cluster_need {
	int64_t mib;                /* its reservation (admission control's) */
	int cpus;                   /* its vCPUs */
	size_t nbridges;            /* the bridges of its NICs on bridged networks */
	char bridges[CLUSTER_NEED_MAX][16];
	size_t ndisks;              /* the inventory disks it opens where they are (not copied) */
	int64_t disks[CLUSTER_NEED_MAX];
	char disk_names[CLUSTER_NEED_MAX][64];
};

/* What the rule knows of an alive host: its alive key. bridges and missing are new
 * references owned by whoever filled the struct (cluster_fo_hosts_clear); a copy made
 * with memcpy borrows them. */
struct cluster_fo_host {
	char name[64];
	int64_t free_mib;
	bool draining;              /* its alive key says "draining": true */
	bool no_kvm;                /* its alive key says "kvm": false (no VM can run there) */
	int cpus;                   /* its online CPUs; 0: not said (an older vsrv: not checked) */
	json_t *bridges;            /* its Linux bridges' names; NULL: not said (not checked) */
	json_t *missing;            /* the inventory disks (ids) it cannot reach; NULL: none */
	bool fits;                  /* set by cluster_failover_order */
};

/* Whether host h can run a VM that needs need: it has KVM, it is not draining, its free memory holds
 * the reservation, it has as many online CPUs as the VM has vCPUs, every bridge of the
 * VM's bridged NICs and every disk of need. true, or false with why ("2 CPUs, the VM has
 * 4, no bridge br1": every reason, n bytes; why may be NULL). */
bool cluster_host_fits(const struct cluster_fo_host *h, const struct cluster_need *need,
		       char *why, size_t n);

/* The rule's choice, the same on every host: order the n alive hosts h for need: those
 * that fit (cluster_host_fits) first, the most free memory first, ties by name; then the
 * others by name. Returns how many fit (h[0] is the choice when it is not 0). why (n
 * bytes, may be NULL) gets each host that does not fit with its reasons, "b: 2 CPUs, the
 * VM has 4; c: no bridge br1" ("" when all fit, "no host is alive" when n is 0). */
size_t cluster_failover_order(struct cluster_fo_host *h, size_t n,
			      const struct cluster_need *need, char *why, size_t whylen);

/* Release the references of n hosts (bridges, missing). NULL-safe. */
void cluster_fo_hosts_clear(struct cluster_fo_host *h, size_t n);

/* The alive hosts of this host's inventory (their alive keys), at most max into h, *n of
 * them (the caller's: cluster_fo_hosts_clear). 0 or the etcd client's -errno. */
int cluster_alive_hosts(struct cluster *cl, struct cluster_fo_host *h, size_t max, size_t *n);

/* cluster_alive_hosts from read's (NULL, or -ENODATA from it: read here). */
int cluster_alive_hosts_in(struct cluster *cl, cluster_read_fn *read, void *arg,
			   struct cluster_fo_host *h, size_t max, size_t *n);

/* Balance on request (docs/cluster.md "Balance"): a running VM of the cluster, on host
 * (an index into the hosts given with it) and what it needs; movable false with why when
 * it cannot move at all (undo disks, a migration of it runs). */
struct cluster_bal_vm {
	char name[64];
	size_t host;
	struct cluster_need need;
	bool movable;
	char why[128];
};
struct cluster_bal_move {
	size_t vm;                  /* index into the VMs */
	size_t from, to;            /* indices into the hosts */
};

/* The plan that evens out the n hosts' free memory, pure: repeatedly, the destination is
 * the host with the most free memory that is not draining (ties by name), and the sources
 * the others that are not draining, the least free first; from the first source that has
 * one, the VM moves that is running there, movable, not moved yet by the plan, smaller
 * than the difference d of the two hosts' free memory, accepted by the placement rule on
 * the destination, and leaves the two closest (|d - 2 x its memory| smallest, ties by
 * name). Each move lowers the sum of the squares of the free memories, so the plan ends;
 * it stops when no move qualifies or after max moves. h's free_mib become the plan's end
 * state. The moves into moves (max), *nmoves of them. 0 or -EINVAL (a VM on no host). */
int cluster_balance_plan(struct cluster_fo_host *h, size_t n, const struct cluster_bal_vm *vms,
			 size_t nvms, struct cluster_bal_move *moves, size_t max, size_t *nmoves);

/* The API URL of host (its info key) while it is alive: 0 and url (n bytes), -EHOSTDOWN
 * (no alive key: not running, or not a host of the cluster; -ENOENT: no info either), or
 * -errno. */
int cluster_host_api_url(struct cluster *cl, const char *host, char *url, size_t n);

/* The host part of this host's API URL (where a destination of a live migration listens). */
const char *cluster_address(const struct cluster *cl);

/* Mark this host draining (on) or not (docs/cluster.md "Drain"): the key
 * /vsrv/hosts/NAME/draining (no lease: a restarted daemon reads it and comes back
 * draining) is written or deleted, then the alive key says "draining": true while it is,
 * and placement and failover choose it no more. 0, -ENOLINK (fenced or no lease: the mark
 * is kept for the next registration) or the etcd client's -errno. */
int cluster_set_draining(struct cluster *cl, bool on);

/* Ask cfg.facts again now and rewrite this host's alive key when the answer changed (a
 * start that found KVM gone: the placement rule learns it at once, not at the next T/3).
 * Not under a lock of the caller's: it may wait for etcd. */
void cluster_facts_again(struct cluster *cl);
bool cluster_draining(struct cluster *cl);
/* A live migration's hand-over (cluster_migrate.c): in one Txn, VM vm's ownership key, if it
 * is still this host's under its lease, becomes host to's, bound to to's lease (its alive
 * key's, compared too: to still lives), and its placement says to, intent running. 0,
 * -EADDRINUSE (the key is not this host's), -ENOLINK (no key, or this host is fenced),
 * -EHOSTDOWN (to is not alive), -EAGAIN (a key read changed meanwhile: nothing written),
 * -EINVAL, or the etcd client's -errno (after -ETIMEDOUT the outcome is unknown: read the
 * owner key again). */
int cluster_vm_move(struct cluster *cl, const char *vm, const char *to);

/* Host credentials (cluster_peer.c): the header value "VsrvHost NAME TOKEN" with which this
 * host calls another's server-only endpoints, into buf. 0, or -EINVAL when n is too small. */
int cluster_peer_auth(const struct cluster *cl, char *buf, size_t n);

/* Is cred ("NAME TOKEN", what follows "VsrvHost ") the credential of a live host of the
 * cluster? 0 and the host's name into host, -EACCES (no such host, not alive, or not its
 * token) or -errno (etcd does not answer). */
int cluster_peer_check(struct cluster *cl, const char *cred, char *host, size_t n);

/* Draw this host's token and its key (at start: before the first registration). 0 or -EIO. */
int cluster_peer_init(struct cluster *cl);

#endif
