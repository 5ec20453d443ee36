/* virtio-net (device id 1) with two backends: a TAP device (created or opened by name,
 * or created and attached to a Linux bridge), with checksum/TSO offloads passed through
 * the virtio-net header, and user-mode NAT through libslirp (loaded with dlopen on first
 * use: 10.0.2.0/24, guest 10.0.2.15 by DHCP, gateway 10.0.2.2, DNS forwarder 10.0.2.3).
 * Mergeable receive buffers; one queue pair. Frames are served on the device's I/O
 * thread (TAP) or the slirp thread (user). */
#ifndef VSRV_DEVICES_VIRTIO_NET_H
#define VSRV_DEVICES_VIRTIO_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/stats.h"
#include "devices/virtio/virtio.h"

#define VNET_HDR_LEN 12 /* struct virtio_net_hdr_v1 (with num_buffers) */

struct virtio_net;

/* A backend: where guest frames go and where received frames come from. */
struct net_backend {
	const char *kind;                 /* "tap" or "user", for log lines */
	bool vnet_hdr;                    /* send/recv frames prefixed with the virtio-net header */
	int fd;                           /* read by the device's I/O thread (TAP), or -1 */
	char ifname[16];                  /* the host interface (TAP), or "" */
	/* Send one frame (with its header when vnet_hdr). Any thread of the device. */
	int (*send)(struct net_backend *b, const struct iovec *iov, int n, size_t len);
	/* Apply the offloads the guest accepted (TUN_F_* flags). May be NULL. */
	int (*set_offload)(struct net_backend *b, unsigned tun_flags);
	/* Called once the device is ready to receive (callback backends start here). */
	int (*start)(struct net_backend *b, struct virtio_net *n);
	void (*destroy)(struct net_backend *b);
};

/* TAP: name may be NULL (the kernel picks vsrvN); bridge, when not NULL, is the Linux
 * bridge the new TAP joins. Returns 0 and *out, or -errno after logging. */
int net_tap_open(const char *name, const char *bridge, struct net_backend **out);
/* User-mode NAT through libslirp on network net/mask (host byte order; net 0 means
 * 10.0.2.0/24), the host at .2, DNS at .3, and 16 DHCP addresses from dhcp (0 means
 * .15). Returns 0 and *out, or -errno after logging. */
int net_slirp_open(uint32_t net, uint32_t mask, uint32_t dhcp, struct net_backend **out);

/* Create the device on backend b (owned from then on). mac may be NULL (a random local
 * address). Returns 0 and *out, or -errno. */
int virtio_net_create(struct virtio_host *h, struct net_backend *b, const uint8_t *mac,
		      const char *name, struct virtio_net **out);
struct virtio_dev *virtio_net_dev(struct virtio_net *n);
/* The device's counters (read them with vnet_stats_read); valid until destroy. */
const struct vnet_stats *virtio_net_stats(const struct virtio_net *n);
/* The device's MAC address (fixed at create). */
void virtio_net_mac(const struct virtio_net *n, uint8_t mac[6]);
void virtio_net_destroy(struct virtio_net *n);

/* For callback backends: hand one frame (no virtio-net header) to the guest. Returns 0, or
 * -EAGAIN when the guest has no receive buffers (the frame is dropped). One thread only. */
int virtio_net_receive(struct virtio_net *n, const uint8_t *frame, size_t len);

#endif
