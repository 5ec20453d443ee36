/* virtio-net (device id 1) with two backends: a TAP device (created or opened by name,
 * or created and attached to a Linux bridge), with checksum/TSO offloads passed through
 * the virtio-net header, and user-mode NAT through libslirp (loaded with dlopen on first
 * use: 10.0.2.0/24, guest 10.0.2.15 by DHCP, gateway 10.0.2.2, DNS forwarder 10.0.2.3).
 * Mergeable receive buffers; the control queue (receive modes, MAC filter tables, MAC
 * address, guest announce, number of queue pairs) with receive filtering in the device;
 * up to VNET_MAX_PAIRS queue pairs on a multi-queue TAP. Frames are served on the
 * device's I/O thread (TAP) or the slirp thread (user).
 *
 * Queues: receiveq0, transmitq0, receiveq1, transmitq1, ..., then the control queue at
 * index 2 * max_virtqueue_pairs (index 2 when the driver did not take VIRTIO_NET_F_MQ,
 * as the spec says). */
#ifndef VSRV_DEVICES_VIRTIO_NET_H
#define VSRV_DEVICES_VIRTIO_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/stats.h"
#include "devices/virtio/virtio.h"

#define VNET_HDR_LEN 12 /* struct virtio_net_hdr_v1 (with num_buffers) */
#define VNET_MAX_PAIRS 8    /* queue pairs: 2 * 8 + the control queue = VIRTIO_MAX_QUEUES */
#define VNET_MAC_TABLE 64   /* unicast + multicast filter entries (more: accept that kind) */

struct virtio_net;

/* Where a callback backend hands a received frame (no virtio-net header): the NIC's
 * receive function with its device. Called from the backend's thread. */
typedef void (*net_rx_fn)(void *nic, const uint8_t *frame, size_t len);

/* A backend: where guest frames go and where received frames come from. Any NIC model
 * (virtio-net, e1000) drives it the same way: send, and either read fd[] on its I/O thread
 * (TAP) or receive through the callback given to start (user-mode NAT). */
struct net_backend {
	const char *kind;                 /* "tap" or "user", for log lines */
	bool vnet_hdr;                    /* send/recv frames prefixed with the virtio-net header */
	unsigned nfd;                     /* TAP queues (fds) read by the I/O thread; 0: callbacks */
	int fd[VNET_MAX_PAIRS];           /* one per queue pair (TAP), owned by the backend */
	char ifname[16];                  /* the host interface (TAP), or "" */
	/* Send one frame (with its header when vnet_hdr) on queue pair q (< nfd, or 0).
	 * Any thread of the device. */
	int (*send)(struct net_backend *b, unsigned q, const struct iovec *iov, int n, size_t len);
	/* Apply the offloads the guest accepted (TUN_F_* flags). May be NULL. */
	int (*set_offload)(struct net_backend *b, unsigned tun_flags);
	/* Called once the device is ready to receive (callback backends start here): frames
	 * arrive as rx(nic, frame, len) from then on until stop. */
	int (*start)(struct net_backend *b, net_rx_fn rx, void *nic);
	/* Stop delivering frames (callback backends; may be NULL). Called before the device
	 * goes, then destroy after it. */
	void (*stop)(struct net_backend *b);
	void (*destroy)(struct net_backend *b);
};

/* TAP: name may be NULL (the kernel picks vsrvN); bridge, when not NULL, is the Linux
 * bridge the new TAP joins. queues (1..VNET_MAX_PAIRS): more than one opens the TAP with
 * IFF_MULTI_QUEUE, one fd per queue pair. Returns 0 and *out, or -errno after logging. */
int net_tap_open(const char *name, const char *bridge, unsigned queues,
		 struct net_backend **out);
/* User-mode NAT through libslirp on network net/mask (host byte order; net 0 means
 * 10.0.2.0/24), the host at .2, DNS at .3, and 16 DHCP addresses from dhcp (0 means
 * .15). One queue pair. Returns 0 and *out, or -errno after logging. */
int net_slirp_open(uint32_t net, uint32_t mask, uint32_t dhcp, struct net_backend **out);
/* The same with libslirp's TFTP server on the directory tftp (NULL: none; it must exist:
 * else -ENOTDIR or -errno after logging; the guest may read every file in it, and what
 * symbolic links in it point to) at the host address, and bootfile (NULL: none) as DHCP's
 * boot file name (the BOOTP file field), which iPXE fetches from the next server (the
 * host, .2). no_host_loopback: the guest's connections to the host address .2 do not lead
 * to the host's loopback (127.0.0.1), as they do otherwise. */
int net_slirp_open_boot(uint32_t net, uint32_t mask, uint32_t dhcp, const char *tftp,
			const char *bootfile, bool no_host_loopback, struct net_backend **out);

struct vopt_net;
/* A --net spec parsed (vopt_parse_net) into a new struct vopt_net, for every NIC model's
 * parse (net_kind.c): 0 and *out (the caller's, freed with net_opts_free), or -errno. */
int net_opts_parse(const char *spec, struct vopt_net **out);
/* Free what net_opts_parse made (NULL: nothing). */
void net_opts_free(void *opts);
/* The backend's word for the device table ("user", "bridge" or "tap"). */
const char *net_backend_word(const struct vopt_net *o);
/* The backend a parsed --net spec names (TAP, bridge or user), for every NIC model
 * (net_kind.c). Returns 0 and *out, or -errno after logging. */
int net_backend_open(const struct vopt_net *o, struct net_backend **out);

struct vdevs;
struct device_entry;
#define NET_ROM_VIRTIO "/usr/lib/ipxe/qemu/efi-virtio.rom" /* Debian's ipxe-qemu, as QEMU's */
#define NET_ROM_E1000 "/usr/lib/ipxe/qemu/efi-e1000.rom"
/* The NIC's option ROM (iPXE, for network boot) into e->rom, for every NIC model's create:
 * only when the VM boots firmware (direct kernel boot: none), o's romfile= or else dflt
 * (its absence is one log line and no ROM; an explicit file's is an error); romfile=none:
 * none. 0 or -errno after logging (pci_rom_load). */
int net_rom_load(struct vdevs *v, struct device_entry *e, const struct vopt_net *o,
		 const char *dflt);
/* The kinds' check of a --net spec before the VM is built: romfile= and tftp= exist.
 * 0 or -errno after logging. */
int net_opts_check(const void *opts);

/* The device configuration space (virtio 1.2, 5.1.4), little-endian. */
struct virtio_net_config {
	uint8_t mac[6];
	uint16_t status;               /* VNET_S_LINK_UP | VNET_S_ANNOUNCE */
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
} __attribute__((packed));

#define VNET_S_LINK_UP  1
#define VNET_S_ANNOUNCE 2

/* The device's own state, plain data: what the control queue changes and save/restore
 * keeps. Receive modes are 0 or 1. table[0 .. n_uni) are unicast filter entries, then
 * n_multi multicast ones; an *_overflow flag means the driver gave more than fit (every
 * address of that kind is then accepted, as QEMU does). */
struct vnet_state {
	struct virtio_net_config cfg;
	uint8_t promisc, allmulti, alluni, nomulti, nouni, nobcast;
	uint8_t uni_overflow, multi_overflow;
	uint16_t active_pairs;         /* 1 .. cfg.max_virtqueue_pairs (VQ_PAIRS_SET) */
	uint16_t n_uni, n_multi;
	uint8_t table[VNET_MAC_TABLE][6];
};

/* Everything save/restore keeps for one virtio-net device. */
struct virtio_net_state {
	struct virtio_dev_state dev;   /* the transport-independent core */
	struct vnet_state net;
};

/* Create the device on backend b (owned from then on). mac may be NULL (a random local
 * address). The device gets max(1, b->nfd) queue pairs. Returns 0 and *out, or -errno. */
int virtio_net_create(struct virtio_host *h, struct net_backend *b, const uint8_t *mac,
		      const char *name, struct virtio_net **out);
struct virtio_dev *virtio_net_dev(struct virtio_net *n);
/* The device's counters (read them with vnet_stats_read); valid until destroy. Frames the
 * receive filter refused count in rx_drops. */
const struct vnet_stats *virtio_net_stats(const struct virtio_net *n);
/* The device's current MAC address (the driver may change it with CTRL_MAC_ADDR_SET; a
 * reset brings back the one given at create). Any thread. */
void virtio_net_mac(struct virtio_net *n, uint8_t mac[6]);
void virtio_net_destroy(struct virtio_net *n);

/* Copy the device's whole state into *st (the caller owns st). Call with the VM paused. */
void virtio_net_save(struct virtio_net *n, struct virtio_net_state *st);
/* Restore from *st (the caller keeps st). The device-specific part is validated first (a
 * different max_virtqueue_pairs or mtu, active pairs out of range, receive modes not 0/1,
 * a multicast MAC, unknown status bits, table counts over VNET_MAC_TABLE): -EINVAL and the
 * device is unchanged. Then the core is restored (virtio_dev_restore: a bad saved ring
 * makes the device need reset and returns -EINVAL). Returns 0 or -EINVAL. */
int virtio_net_restore(struct virtio_net *n, const struct virtio_net_state *st);
/* Ask the driver to announce itself (gratuitous ARP etc.), e.g. after a restore on another
 * host: sets VNET_S_ANNOUNCE and raises a config interrupt when the driver took
 * VIRTIO_NET_F_GUEST_ANNOUNCE and is running; returns 0, or -ENOTSUP otherwise. The driver
 * acknowledges with VIRTIO_NET_CTRL_ANNOUNCE_ACK. */
int virtio_net_announce(struct virtio_net *n);

/* For callback backends: hand one frame (no virtio-net header) to the guest. Returns 0
 * (delivered, or refused by the receive filter and counted as a drop), or -EAGAIN when
 * the guest has no receive buffers (the frame is dropped). One thread only. */
int virtio_net_receive(struct virtio_net *n, const uint8_t *frame, size_t len);

#endif
