/* Virtual networks as VMs see them: NAT (libslirp inside each VMM, `--net user`),
 * bridged to a host interface (an administrator's Linux bridge, `--net bridge=BR`) and
 * internal between VMs (a bridge without uplink that the daemon creates when the first VM
 * on it starts and removes with the network). */
#ifndef VSRV_SERVER_NETWORK_H
#define VSRV_SERVER_NETWORK_H

#include "server/server.h"

#include <stddef.h>

/* The bridge name of internal network id of this server (at most 15 characters, unique per
 * data directory), into buf (at least 16 bytes). */
void network_internal_bridge(struct server *srv, int64_t id, char *buf, size_t n);

/* Check a NAT network's subnet and DHCP start (either may be NULL: the defaults
 * 10.0.2.0/24 and its .15). Writes the first and last DHCP addresses (libslirp hands out
 * 16) into start and end. Returns 0 or -EINVAL with a message in err. */
int network_nat_check(const char *subnet, const char *dhcp_start, char start[16], char end[16],
		      char *err, size_t errlen);

/* Append the `--net SPEC` arguments of VM id's NICs to argv (at *n, below max; each
 * string malloc'd), creating internal networks' bridges as needed. Returns 0, -ENODEV
 * when a bridged network's bridge does not exist (logged), -E2BIG or -errno. */
int network_nic_args(struct server *srv, struct dbc *c, int64_t id, const char *vm, char **argv,
		     int *n, int max);

/* Create (and bring up) or remove a Linux bridge. Create succeeds when it exists; remove
 * when it is gone. Return 0 or -errno. */
int network_bridge_create(const char *name);
int network_bridge_remove(const char *name);

/* A new locally administered unicast MAC (52:54:00 prefix as QEMU's, 3 random bytes) that
 * no NIC in the inventory has, into mac (18 bytes). Returns 0 or -EIO. */
int network_new_mac(struct dbc *c, char mac[18]);

#endif
