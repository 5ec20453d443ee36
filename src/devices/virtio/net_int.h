/* Internal to virtio-net (net.c: data path, set-up; net_ctrl.c: control queue, receive
 * filter, reset and save/restore of the device's own state). Not for other files. */
#ifndef VSRV_DEVICES_VIRTIO_NET_INT_H
#define VSRV_DEVICES_VIRTIO_NET_INT_H

#include "devices/virtio/net.h"

#define VNET_F_CSUM 0
#define VNET_F_GUEST_CSUM 1
#define VNET_F_MTU 3
#define VNET_F_MAC 5
#define VNET_F_GUEST_TSO4 7
#define VNET_F_GUEST_TSO6 8
#define VNET_F_GUEST_ECN 9
#define VNET_F_HOST_TSO4 11
#define VNET_F_HOST_TSO6 12
#define VNET_F_MRG_RXBUF 15
#define VNET_F_STATUS 16
#define VNET_F_CTRL_VQ 17
#define VNET_F_CTRL_RX 18
#define VNET_F_CTRL_RX_EXTRA 20
#define VNET_F_GUEST_ANNOUNCE 21
#define VNET_F_MQ 22
#define VNET_F_CTRL_MAC_ADDR 23

#define VNET_MAX_FRAME (65536 + VNET_HDR_LEN)

struct virtio_net {
	struct virtio_dev dev;
	/* The device's own state: changed by the control queue (I/O thread) and by resets
	 * (vCPU threads), read by the receiving thread: always under dev.lock. */
	struct vnet_state s;
	uint8_t mac0[6];           /* the MAC given at create, back after every reset */
	unsigned max_pairs;
	struct net_backend *be;
	/* I/O thread only: */
	bool rx_blocked[VNET_MAX_PAIRS]; /* TAP queue k not read until its receive queue fills */
	bool logged;
	unsigned ctrl_logged;      /* bad control commands logged so far */
	struct virtq_elem tx, ctl;
	uint8_t txbuf[VNET_MAX_FRAME];  /* one frame gathered for a header-less backend */
	/* The receiving thread (I/O thread for TAP, slirp under its lock): */
	struct virtq_elem rx;
	uint8_t rxbuf[VNET_MAX_FRAME];  /* one frame read from the TAP */
	/* rx_*: the receiving thread; tx_*: the I/O thread. Not saved. */
	struct vnet_stats st;
};

/* net_ctrl.c */
/* The control queue's index for the negotiated features. */
unsigned vnet_ctrl_queue(struct virtio_net *n);
/* Serve the control queue (I/O thread). */
void vnet_ctrl_serve(struct virtio_net *n);
/* Whether the receive filter lets a frame to this destination through (takes dev.lock). */
bool vnet_rx_accept(struct virtio_net *n, const uint8_t *frame, size_t len);
/* The number of queue pairs receiving now (takes dev.lock). */
unsigned vnet_active_pairs(struct virtio_net *n);
/* Back to the reset state (under dev.lock): promiscuous, tables empty, one pair, mac0. */
void vnet_state_reset(struct virtio_net *n);

/* net.c */
/* The pairs changed (I/O thread): read every TAP queue again. */
void vnet_rx_unblock_all(struct virtio_net *n);
/* Set the TAP offloads for the negotiated features (any thread; no dev.lock needed). */
void vnet_apply_offloads(struct virtio_net *n);

#endif
