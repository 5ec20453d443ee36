/* Inside the cluster module (cluster*.c). */
#ifndef VSRV_SERVER_CLUSTER_INT_H
#define VSRV_SERVER_CLUSTER_INT_H

#include "server/cluster.h"
#include "server/etcd.h"

#include <pthread.h>
#include <stdbool.h>

struct cluster {
	struct cluster_config cfg;
	char name[64];
	char api_url[512];
	char address[256];          /* the API URL's host */
	char inventory[256];        /* cfg.inventory's copy ("" without) */
	char lease_file[4096];
	char deadline_file[4096];
	char peer_token[65];        /* this host's credential (cluster_peer.c): never written */
	char peer_key[65];          /* its SHA-256, hex: "peer_key" in the info key */
	struct etcd *etcd;
	unsigned renew_ms, fire_ms, margin_ms;
	pthread_t renew, watchdog, failover;
	bool failover_on;           /* the failover thread runs (cfg.vm_take set) */
	pthread_mutex_t alive_lock; /* one write of the alive key at a time (the draining
	                             * mark read and written in order) */
	pthread_mutex_t lock;       /* the fields below */
	pthread_cond_t cond;        /* CLOCK_MONOTONIC; times are CLOCK_BOOTTIME (cluster_host.c) */
	int64_t lease;
	int64_t last_ok;            /* ms (cluster_now_ms): the send time of the last renewal
	                             * that succeeded */
	int64_t free_sent;          /* the free memory in the alive key */
	bool draining;              /* said in the alive key: placement skips the host; kept in
	                             * /vsrv/hosts/NAME/draining across restarts */
	json_t *facts;              /* cfg.facts's last answer, merged into the alive key */
	bool expired;               /* a renewal found the lease gone */
	bool fenced;                /* the watchdog fired: no VM may run here */
	bool stop;
	unsigned fences;
};

int64_t cluster_now_ms(void);

/* The host's lease as it is now, into *lease (0: none); whether the host is fenced (the
 * watchdog fired, or the lease expired): its keys go, or are gone. Takes cl->lock. */
bool cluster_lease_now(struct cluster *cl, int64_t *lease);

/* Sleep until ms (cluster_now_ms), the stop or a signal of cl->cond, 250 ms at most (the
 * condition variable runs on CLOCK_MONOTONIC, which a suspend stops: the callers check
 * cluster_now_ms again); cl->lock held. */
void cluster_wait_until(struct cluster *cl, int64_t ms);

/* An alive key's value into h (cluster_place.c): its free memory, draining mark, CPUs,
 * bridges and missing disks (new references: cluster_fo_hosts_clear). */
void cluster_fo_host_read(struct cluster_fo_host *h, json_t *alive);

/* Ask cfg.facts again (rev: etcd's revision read last, 0 unknown); rewrite the alive key
 * when the answer changed (cluster_host.c). */
void cluster_refresh_facts(struct cluster *cl, int64_t rev);

/* The failover thread (cluster_failover.c): every T/3 it reads the hosts' alive keys and
 * the VMs' keys and restarts here the orphaned VMs this host is chosen for. */
void *cluster_failover_thread(void *arg);

#endif
