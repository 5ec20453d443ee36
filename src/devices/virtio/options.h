/* The virtio options of `vsrv run`: --disk, --net and --device specifications, parsed into
 * plain structs (no side effects, unit-tested). Strings point into a copy owned by the
 * parsed struct (free with the matching _free). */
#ifndef VSRV_DEVICES_VIRTIO_OPTIONS_H
#define VSRV_DEVICES_VIRTIO_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

enum vopt_transport { VOPT_MMIO, VOPT_PCI };
enum vopt_bus { VOPT_BLK, VOPT_SCSI };

/* --disk PATH[,format=vhd|raw][,readonly=on|off][,bus=virtio-blk|scsi]
 *        [,cache=none|writeback][,transport=mmio|pci][,queues=N][,serial=STR] */
struct vopt_disk {
	char *buf;           /* owned copy of the spec */
	const char *path;
	const char *format;  /* "vhd", "raw" or NULL (probe) */
	bool readonly;
	enum vopt_bus bus;
	bool nocache;        /* cache=none */
	enum vopt_transport transport;
	unsigned queues;
	const char *serial;
};

enum vopt_net_kind { VOPT_NET_TAP, VOPT_NET_BRIDGE, VOPT_NET_USER };

/* --net tap=NAME|bridge=BR|user[,net=A.B.C.D/N][,dhcpstart=IP][,mac=XX:XX:XX:XX:XX:XX]
 *       [,transport=mmio|pci][,queues=N]   (queues: 1..8 queue pairs, tap and bridge only) */
struct vopt_net {
	char *buf;
	enum vopt_net_kind kind;
	const char *ifname;  /* tap name or bridge name */
	bool has_mac;
	uint8_t mac[6];
	/* user only: the network (host order, 0 = 10.0.2.0/24) and the first DHCP address
	 * (0 = the 15th of the network) */
	uint32_t user_net, user_mask, user_dhcp;
	enum vopt_transport transport;
	unsigned queues;     /* queue pairs, 1 when not given */
};

enum vopt_dev_kind { VOPT_DEV_RNG, VOPT_DEV_CONSOLE };

/* --device rng[,transport=mmio|pci] | console,socket=PATH[,transport=mmio|pci] */
struct vopt_dev {
	char *buf;
	enum vopt_dev_kind kind;
	const char *socket;
	enum vopt_transport transport;
};

/* Parse one spec. Returns 0, or -EINVAL after logging one line quoting the spec. */
int vopt_parse_disk(const char *spec, struct vopt_disk *out);
int vopt_parse_net(const char *spec, struct vopt_net *out);
int vopt_parse_dev(const char *spec, struct vopt_dev *out);
void vopt_disk_free(struct vopt_disk *o);
void vopt_net_free(struct vopt_net *o);
void vopt_dev_free(struct vopt_dev *o);

#endif
