/* Virtual networks. See network.h. */
#include "server/network.h"
#include "server/inv.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

void network_internal_bridge(struct server *srv, int64_t id, char *buf, size_t n)
{
	uint32_t h = 2166136261u;   /* FNV-1a of the data directory: two daemons never clash */

	for (const char *p = srv->data_dir; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	snprintf(buf, n, "vi%04x-%lld", h & 0xffff, (long long)id % 1000000);
}

static int ip4(const char *s, uint32_t *out)
{
	unsigned a, b, c, d;
	char t;

	if (sscanf(s, "%u.%u.%u.%u%c", &a, &b, &c, &d, &t) != 4 || a > 255 || b > 255 || c > 255 ||
	    d > 255)
		return -EINVAL;
	*out = a << 24 | b << 16 | c << 8 | d;
	return 0;
}

static void ip4_str(uint32_t a, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

int network_nat_check(const char *subnet, const char *dhcp_start, char start[16], char end[16],
		   char *err, size_t errlen)
{
	uint32_t net = 0x0a000200, mask = 0xffffff00, d;
	unsigned p = 24;

	if (subnet) {
		char addr[16];
		char t;

		if (sscanf(subnet, "%15[0-9.]/%u%c", addr, &p, &t) != 2 || ip4(addr, &net) || p < 8 ||
		    p > 27) {
			snprintf(err, errlen, "subnet: an IPv4 network from /8 to /27, like 10.0.2.0/24");
			return -EINVAL;
		}
		mask = ~0u << (32 - p);
		if (net & ~mask) {
			snprintf(err, errlen, "subnet: %s has host bits set", subnet);
			return -EINVAL;
		}
	}
	d = net | 15;
	if (dhcp_start && ip4(dhcp_start, &d)) {
		snprintf(err, errlen, "dhcp_start: an IPv4 address");
		return -EINVAL;
	}
	/* The gateway is .2 and DNS .3; libslirp leases 16 addresses from the start. */
	if ((d & mask) != net || (d & ~mask) < 4 || (d & ~mask) + 16 > ~mask) {
		snprintf(err, errlen, "dhcp_start: inside the subnet, above .3 (gateway .2, DNS .3), "
			 "with room for the 16 addresses libslirp leases");
		return -EINVAL;
	}
	ip4_str(d, start);
	ip4_str(d + 15, end);
	return 0;
}

static int bridge_ioctl(unsigned long req, const char *name)
{
	int fd = socket(AF_LOCAL, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, req, name) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int link_up(const char *name, int up)
{
	struct ifreq ifr;
	int fd = socket(AF_LOCAL, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		rc = -errno;
	} else {
		if (up)
			ifr.ifr_flags |= IFF_UP;
		else
			ifr.ifr_flags &= ~IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			rc = -errno;
	}
	close(fd);
	return rc;
}

int network_bridge_create(const char *name)
{
	int rc = bridge_ioctl(SIOCBRADDBR, name);

	if (rc && rc != -EEXIST)
		return rc;
	return link_up(name, 1);
}

int network_bridge_remove(const char *name)
{
	int rc;

	link_up(name, 0);
	rc = bridge_ioctl(SIOCBRDELBR, name);
	return rc == -ENXIO || rc == -ENODEV ? 0 : rc;
}

static bool is_bridge(const char *name)
{
	char p[128];
	struct stat st;

	snprintf(p, sizeof(p), "/sys/class/net/%s/bridge", name);
	return stat(p, &st) == 0;
}

/* What nic_arg adds the --net arguments of a VM to. */
struct nic_args {
	struct server *srv;
	const char *vm;
	char **argv;
	int *n, max;
};

/* inv_vm_nics: the --net argument of NIC n (creating an internal network's bridge). 0 or
 * -errno. */
static int nic_arg(const struct inv_vm_nic *nic, void *arg)
{
	struct nic_args *na = arg;
	const char *net = nic->network, *kind = nic->kind, *bridge = nic->bridge;
	const char *subnet = nic->subnet, *dhcp = nic->dhcp_start, *mac = nic->mac;
	char **argv = na->argv;
	int *n = na->n, rc;
	char br[16], *spec = NULL;

	if (*n + 2 >= na->max)
		return -E2BIG;
	if (!strcmp(kind, "nat")) {
		/* hostloop=off: the gateway .2 does not lead to the host's 127.0.0.1 (the
		 * services there, etcd's, the API's, are not the guest's business) */
		if (asprintf(&spec, "user,net=%s%s%s,mac=%s,hostloop=off", subnet ? subnet : "10.0.2.0/24",
			     dhcp ? ",dhcpstart=" : "", dhcp ? dhcp : "", mac) < 0)
			spec = NULL;
	} else {
		if (!strcmp(kind, "internal")) {
			network_internal_bridge(na->srv, nic->network_id, br, sizeof(br));
			rc = network_bridge_create(br);
			if (rc) {
				vsrv_log("vm %s: cannot create bridge %s of internal network %s: %s",
					 na->vm, br, net, strerror(-rc));
				return rc;
			}
		} else {
			snprintf(br, sizeof(br), "%s", bridge ? bridge : "");
			if (!is_bridge(br)) {
				vsrv_log("vm %s: network %s: bridge %s does not exist (an "
					 "administrator creates it and enslaves the host NIC)",
					 na->vm, net, br);
				return -ENODEV;
			}
		}
		if (asprintf(&spec, "bridge=%s,mac=%s", br, mac) < 0)
			spec = NULL;
	}
	if (spec && nic->model && strcmp(nic->model, "virtio")) {
		char *m = NULL;

		if (asprintf(&m, "%s,model=%s", spec, nic->model) < 0)
			m = NULL;
		free(spec);
		spec = m;
	}
	argv[(*n)++] = strdup("--net");
	argv[(*n)++] = spec;
	if (!spec || !argv[*n - 2])
		return -ENOMEM;
	return 0;
}

int network_nic_args(struct server *srv, struct dbc *c, int64_t id, const char *vm, char **argv,
		  int *n, int max)
{
	struct nic_args na = { .srv = srv, .vm = vm, .argv = argv, .n = n, .max = max };

	return inv_vm_nics(c, id, nic_arg, &na);
}

int network_new_mac(struct dbc *c, char mac[18])
{
	for (int tries = 0; tries < 64; tries++) {
		unsigned char b[3];
		int used;

		if (getrandom(b, sizeof(b), 0) != sizeof(b))
			return -EIO;
		snprintf(mac, 18, "52:54:00:%02x:%02x:%02x", b[0], b[1], b[2]);
		used = inv_mac_used(c, mac);
		if (!used)
			return 0;
	}
	return -EIO;
}
