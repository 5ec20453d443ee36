/* virtio-net's data path (receive, transmit, the TAP queues) and its set-up; the control
 * queue and the receive filter are in net_ctrl.c. */
#include "devices/virtio/net_int.h"
#include "devices/virtio/stats.h"

#include "util/log.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#define MAX_MERGE 64

static void net_config(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len,
		       bool is_write)
{
	struct virtio_net *n = d->priv;

	if (!is_write) /* the MAC is read-only for modern drivers: CTRL_MAC_ADDR_SET changes it */
		virtio_config_copy(&n->s.cfg, sizeof(n->s.cfg), off, data, len);
}

void vnet_apply_offloads(struct virtio_net *n)
{
	struct virtio_dev *d = &n->dev;
	unsigned f = 0;

	if (!n->be->set_offload)
		return;
	if (virtio_has(d, VNET_F_GUEST_CSUM)) {
		f |= TUN_F_CSUM;
		if (virtio_has(d, VNET_F_GUEST_TSO4))
			f |= TUN_F_TSO4;
		if (virtio_has(d, VNET_F_GUEST_TSO6))
			f |= TUN_F_TSO6;
		if (virtio_has(d, VNET_F_GUEST_ECN))
			f |= TUN_F_TSO_ECN;
	}
	if (n->be->set_offload(n->be, f))
		vsrv_log("%s: cannot set TAP offloads 0x%x", d->name, f);
}

static void net_status(struct virtio_dev *d, bool active)
{
	struct virtio_net *n = d->priv;

	if (active)
		vnet_apply_offloads(n);
	else
		vnet_state_reset(n);
}

/* Copy len bytes of frame (header included) into as many chains of receive queue q as it
 * takes. Returns 0 or -EAGAIN (nothing consumed). */
static int rx_deliver(struct virtio_net *n, unsigned q, uint8_t *frame, size_t len)
{
	struct virtio_dev *d = &n->dev;
	uint16_t heads[MAX_MERGE];
	uint32_t lens[MAX_MERGE], gen = 0, g;
	uint8_t *first_hdr_at[2] = { NULL, NULL };
	size_t done = 0;
	unsigned k = 0, i;
	bool mrg = virtio_has(d, VNET_F_MRG_RXBUF);

	while (done < len) {
		size_t put;
		int r;

		if (k == MAX_MERGE || (k && !mrg))
			goto undo;
		r = virtio_pop(d, q, &n->rx, &g);
		if (r != 1)
			goto undo;
		gen = g;
		if (n->rx.in_len < (k ? 1 : VNET_HDR_LEN)) {
			/* a receive buffer too small for the header: the guest is broken */
			if (!n->logged)
				vsrv_log("%s: receive buffer of %u bytes; dropping", d->name,
					 n->rx.in_len);
			n->logged = true;
			k++;
			heads[k - 1] = n->rx.head;
			lens[k - 1] = 0;
			goto fail_all;
		}
		if (k == 0) {
			/* remember where num_buffers lives (bytes 10-11 of the header) */
			size_t off = 10;

			for (i = n->rx.n_out; i < (unsigned)n->rx.n_out + n->rx.n_in; i++) {
				if (off < n->rx.iov[i].iov_len) {
					first_hdr_at[0] = (uint8_t *)n->rx.iov[i].iov_base + off;
					first_hdr_at[1] = off + 1 < n->rx.iov[i].iov_len ?
						first_hdr_at[0] + 1 :
						(uint8_t *)n->rx.iov[i + 1].iov_base;
					break;
				}
				off -= n->rx.iov[i].iov_len;
			}
		}
		put = virtq_elem_write(&n->rx, 0, frame + done, len - done);
		heads[k] = n->rx.head;
		lens[k++] = put;
		done += put;
	}
	if (first_hdr_at[0]) {
		*first_hdr_at[0] = k & 0xff;
		*first_hdr_at[1] = k >> 8;
	}
	for (i = 0; i < k; i++)
		virtio_push(d, q, gen, heads[i], lens[i]);
	vstat_add(&n->st.rx_packets, 1);
	vstat_add(&n->st.rx_bytes, len - VNET_HDR_LEN);
	return 0;
undo:
	if (k && !mrg && done < len) {
		/* one chain too small for the frame without merging: drop the frame */
		goto fail_all;
	}
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < k; i++)
		virtq_unpop(&d->vq[q]);
	pthread_mutex_unlock(&d->lock);
	return -EAGAIN;
fail_all:
	for (i = 0; i < k; i++)
		virtio_push(d, q, gen, heads[i], 0);
	vstat_add(&n->st.rx_drops, 1);
	return 0;
}

int virtio_net_receive(struct virtio_net *n, const uint8_t *frame, size_t len)
{
	int ret;

	if (len > VNET_MAX_FRAME - VNET_HDR_LEN || !vnet_rx_accept(n, frame, len)) {
		vstat_add(&n->st.rx_drops, 1);
		return 0;
	}
	memset(n->rxbuf, 0, VNET_HDR_LEN);
	memcpy(n->rxbuf + VNET_HDR_LEN, frame, len);
	ret = rx_deliver(n, 0, n->rxbuf, len + VNET_HDR_LEN);
	if (!ret)
		virtio_notify(&n->dev, 0);
	else
		vstat_add(&n->st.rx_drops, 1);
	return ret;
}

static void vnet_rx_cb(void *nic, const uint8_t *frame, size_t len)
{
	virtio_net_receive(nic, frame, len); /* dropped when the guest has no buffers */
}

/* The receive pair that frames of TAP queue k go to: k itself while it is active, else
 * one of the active pairs (the kernel spreads flows over every queue it has). */
static unsigned rx_pair(unsigned k, unsigned active)
{
	return k < active ? k : k % active;
}

static void on_tap(struct virtio_dev *d, int fd, uint32_t events)
{
	struct virtio_net *n = d->priv;
	unsigned k, q;
	bool any = false;
	int i;

	(void)events;
	for (k = 0; k < n->be->nfd && n->be->fd[k] != fd; k++)
		;
	if (k == n->be->nfd)
		return;
	q = 2 * rx_pair(k, vnet_active_pairs(n));
	for (i = 0; i < 256; i++) {
		ssize_t got;

		if (!virtio_has_avail(d, q) && !virtio_arm(d, q)) {
			n->rx_blocked[k] = true;
			virtio_dev_watch_mod(d, fd, 0);
			break;
		}
		got = read(fd, n->rxbuf, sizeof(n->rxbuf));
		if (got <= VNET_HDR_LEN)
			break;
		if (!vnet_rx_accept(n, n->rxbuf + VNET_HDR_LEN, got - VNET_HDR_LEN))
			vstat_add(&n->st.rx_drops, 1); /* the receive filter refused it */
		else if (rx_deliver(n, q, n->rxbuf, got) == 0)
			any = true;
		else /* -EAGAIN: not enough buffers for a merged frame; it is dropped */
			vstat_add(&n->st.rx_drops, 1);
	}
	if (any)
		virtio_notify(d, q);
}

/* Receive queue of pair p has new buffers: read the TAP queues that wait for it. */
static void rx_unblock(struct virtio_net *n, unsigned p, bool all)
{
	unsigned k, active = vnet_active_pairs(n);

	for (k = 0; k < n->be->nfd; k++) {
		if (n->rx_blocked[k] && (all || rx_pair(k, active) == p)) {
			n->rx_blocked[k] = false;
			virtio_dev_watch_mod(&n->dev, n->be->fd[k], EPOLLIN);
		}
	}
}

void vnet_rx_unblock_all(struct virtio_net *n)
{
	rx_unblock(n, 0, true);
}

static void tx_queue(struct virtio_net *n, unsigned q)
{
	struct virtio_dev *d = &n->dev;
	unsigned pair = q / 2, bq = pair < n->be->nfd ? pair : 0;
	uint32_t gen;
	bool any = false;

	while (virtio_pop(d, q, &n->tx, &gen) == 1) {
		struct virtq_elem *e = &n->tx;
		int ret = -EINVAL;

		if (e->out_len < VNET_HDR_LEN || e->out_len > VNET_MAX_FRAME) {
			if (!n->logged)
				vsrv_log("%s: transmit frame of %u bytes; dropping", d->name,
					 e->out_len);
			n->logged = true;
		} else if (n->be->vnet_hdr) {
			ret = n->be->send(n->be, bq, e->iov, e->n_out, e->out_len);
		} else {
			struct iovec v;
			size_t l = virtq_elem_read(e, VNET_HDR_LEN, n->txbuf,
						   e->out_len - VNET_HDR_LEN);

			v.iov_base = n->txbuf;
			v.iov_len = l;
			ret = n->be->send(n->be, bq, &v, 1, l);
		}
		if (ret) {
			vstat_add(&n->st.tx_drops, 1);
		} else {
			vstat_add(&n->st.tx_packets, 1);
			vstat_add(&n->st.tx_bytes, e->out_len - VNET_HDR_LEN);
		}
		virtio_push(d, q, gen, e->head, 0);
		any = true;
	}
	if (any)
		virtio_notify(d, q);
}

static void net_queue(struct virtio_dev *d, unsigned q)
{
	struct virtio_net *n = d->priv;
	unsigned pairs = virtio_has(d, VNET_F_MQ) ? n->max_pairs : 1;

	if (virtio_has(d, VNET_F_CTRL_VQ) && q == vnet_ctrl_queue(n))
		vnet_ctrl_serve(n);
	else if (q / 2 >= pairs)
		return; /* a queue the negotiated features do not have */
	else if (q & 1)
		tx_queue(n, q);
	else
		rx_unblock(n, q / 2, false);
}

static const struct virtio_dev_ops net_ops = {
	.device_id = VIRTIO_ID_NET,
	.config_access = net_config,
	.queue_notify = net_queue,
	.status_change = net_status,
};

int virtio_net_create(struct virtio_host *h, struct net_backend *b, const uint8_t *mac,
		      const char *name, struct virtio_net **out)
{
	struct virtio_net *n;
	uint64_t feat = 1ULL << VNET_F_MAC | 1ULL << VNET_F_STATUS | 1ULL << VNET_F_MRG_RXBUF |
			1ULL << VNET_F_MTU | 1ULL << VNET_F_CTRL_VQ | 1ULL << VNET_F_CTRL_RX |
			1ULL << VNET_F_CTRL_RX_EXTRA | 1ULL << VNET_F_GUEST_ANNOUNCE |
			1ULL << VNET_F_CTRL_MAC_ADDR;
	unsigned k, pairs = b->nfd > 1 ? b->nfd : 1;
	int ret;

	if (pairs > VNET_MAX_PAIRS)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	if (b->vnet_hdr)
		feat |= 1ULL << VNET_F_CSUM | 1ULL << VNET_F_GUEST_CSUM |
			1ULL << VNET_F_GUEST_TSO4 | 1ULL << VNET_F_GUEST_TSO6 |
			1ULL << VNET_F_GUEST_ECN | 1ULL << VNET_F_HOST_TSO4 |
			1ULL << VNET_F_HOST_TSO6;
	if (pairs > 1)
		feat |= 1ULL << VNET_F_MQ;
	if (mac) {
		memcpy(n->mac0, mac, 6);
	} else {
		if (getrandom(n->mac0, 6, 0) != 6)
			memset(n->mac0, 0x5a, 6);
		n->mac0[0] = 0x52; /* locally administered, unicast: 52:54:xx like QEMU */
		n->mac0[1] = 0x54;
	}
	n->max_pairs = pairs;
	n->s.cfg.max_virtqueue_pairs = pairs;
	n->s.cfg.mtu = 1500;
	vnet_state_reset(n);
	n->be = b;
	ret = virtio_dev_init(&n->dev, &net_ops, n, h, name, 2 * pairs + 1, 256, feat);
	if (ret)
		goto err;
	for (k = 0; k < b->nfd; k++) {
		ret = virtio_dev_watch(&n->dev, b->fd[k], EPOLLIN, on_tap);
		if (ret)
			goto err_dev;
	}
	ret = virtio_dev_start(&n->dev);
	if (ret)
		goto err_dev;
	if (b->start) {
		ret = b->start(b, vnet_rx_cb, n);
		if (ret)
			goto err_dev;
	}
	*out = n;
	return 0;
err_dev:
	virtio_dev_destroy(&n->dev);
err:
	free(n);
	return ret;
}

struct virtio_dev *virtio_net_dev(struct virtio_net *n)
{
	return &n->dev;
}

const struct vnet_stats *virtio_net_stats(const struct virtio_net *n)
{
	return &n->st;
}

void virtio_net_mac(struct virtio_net *n, uint8_t mac[6])
{
	pthread_mutex_lock(&n->dev.lock);
	memcpy(mac, n->s.cfg.mac, 6);
	pthread_mutex_unlock(&n->dev.lock);
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (!n)
		return;
	if (n->be->stop) /* callback backends stop delivering first */
		n->be->stop(n->be);
	virtio_dev_destroy(&n->dev); /* then the I/O thread, which sends through the backend */
	n->be->destroy(n->be);
	free(n);
}
