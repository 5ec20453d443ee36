/* The virtio options of `vsrv run`: --disk and --net specifications and the items of a
 * --device specification, parsed into plain structs (no side effects, unit-tested).
 * Strings point into a copy owned by the parsed struct (free with the matching _free).
 * Which device kind a spec is for is the kinds' business (kind.h). */
#ifndef VSRV_DEVICES_VIRTIO_OPTIONS_H
#define VSRV_DEVICES_VIRTIO_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

enum vopt_transport { VOPT_MMIO, VOPT_PCI };

/* --disk PATH[,format=vhd|raw][,readonly=on|off][,bus=NAME][,media=disk|cdrom]
 *        [,cache=none|writeback][,transport=mmio|pci][,queues=N][,serial=STR]
 * With media=cdrom (a CD/DVD drive, always read-only) PATH may be empty: an empty drive. */
struct vopt_disk {
	char *buf;           /* owned copy of the spec */
	const char *path;
	const char *format;  /* "vhd", "raw" or NULL (probe) */
	bool readonly;
	const char *bus;     /* as given (the device kind's word), or NULL */
	bool nocache;        /* cache=none */
	enum vopt_transport transport;
	unsigned queues;
	const char *serial;
	bool cdrom;          /* media=cdrom */
};

enum vopt_net_kind { VOPT_NET_TAP, VOPT_NET_BRIDGE, VOPT_NET_USER };

/* --net tap=NAME|bridge=BR|user[,net=A.B.C.D/N][,dhcpstart=IP][,mac=XX:XX:XX:XX:XX:XX]
 *       [,transport=mmio|pci][,queues=N]   (queues: 1..8 queue pairs, tap and bridge only)
 *       [,romfile=PATH|none]  (the NIC's option ROM with --firmware; romfile= empty: none)
 *       [,tftp=DIR][,bootfile=NAME]  (user only: libslirp's TFTP server and DHCP boot file)
 *       [,hostloop=on|off]  (user only: off, the gateway .2 does not lead to the host's
 *                            loopback, 127.0.0.1, and the services listening there) */
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
	const char *model;   /* model=virtio|e1000 (in buf), or NULL: virtio */
	bool has_transport;  /* transport= was given */
	/* romfile=: given (has_romfile) with a path, or none (romfile NULL: no option ROM);
	 * not given: the model's iPXE ROM with --firmware */
	bool has_romfile;
	const char *romfile;
	const char *tftp;      /* user only: the TFTP root (a directory), or NULL */
	const char *bootfile;  /* user only: DHCP's boot file name (the BOOTP file field), or NULL */
	bool no_host_loopback; /* user only: hostloop=off */
};

#define VOPT_KV_MAX 8

/* --device NAME[,KEY=VALUE]...[,transport=mmio|pci]: the items after the kind's name. */
struct vopt_kv {
	char *buf;
	enum vopt_transport transport;
	const char *val[VOPT_KV_MAX];  /* val[i]: the value given for keys[i], or NULL */
};

/* Parse one spec. Returns 0, or -EINVAL after logging one line quoting the spec. */
int vopt_parse_disk(const char *spec, struct vopt_disk *out);
int vopt_parse_net(const char *spec, struct vopt_net *out);
/* Parse the items after the first of spec: each KEY=VALUE with KEY one of keys (at most
 * VOPT_KV_MAX, NULL-terminated; a non-empty value) or transport. 0, or -EINVAL without
 * logging (the kind logs its usage), -ENOMEM. */
int vopt_parse_kv(const char *spec, const char *const *keys, struct vopt_kv *out);
void vopt_disk_free(struct vopt_disk *o);
void vopt_net_free(struct vopt_net *o);
void vopt_kv_free(struct vopt_kv *o);

#endif
