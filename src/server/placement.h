/* What the placement rule (cluster.h cluster_failover_order; docs/cluster.md "Placement")
 * needs from this server: what a VM of the inventory needs of a host, and what this host
 * has, for its alive key. */
#ifndef VSRV_SERVER_PLACEMENT_H
#define VSRV_SERVER_PLACEMENT_H

#include "server/cluster.h"
#include "server/server.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* What VM id needs of a host into *need: its reservation, its vCPUs, the bridges of its
 * NICs on bridged networks (a NAT network is the VMM's own, an internal one's bridge is
 * made by the host that runs it) and, for a VM that opens its disks where they are
 * (in_place: a start, failover, a migration with disks "shared"), every disk it has; for
 * a migration with disks "copy", only its read-only disks (the destination makes the
 * writable ones). 0, -ENOENT, -E2BIG (more than CLUSTER_NEED_MAX bridges or disks) or
 * -EIO. */
int placement_need(struct dbc *c, int64_t id, bool in_place, struct cluster_need *need);

/* This host's facts for its alive key (cluster_config.facts; arg: the struct server):
 * {"cpus": its online CPUs (--host-cpus), "bridges": the Linux bridges it has (sorted),
 * "missing_disks": on the shared inventory, the ids of the inventory's disks it cannot
 * reach (the image, or a VM's top layer over it, is not there), sorted}. A new object,
 * NULL without memory. The disks are looked at again only when the inventory changed:
 * rev, etcd's revision as the caller read it last (0: the inventory's generation is read
 * here), moved. */
json_t *placement_facts(void *arg, int64_t rev);

#endif
