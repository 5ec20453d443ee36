#include "devices/virtio/net.h"
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

#define F_CSUM 0
#define F_GUEST_CSUM 1
#define F_MTU 3
#define F_MAC 5
#define F_GUEST_TSO4 7
#define F_GUEST_TSO6 8
#define F_GUEST_ECN 9
#define F_HOST_TSO4 11
#define F_HOST_TSO6 12
#define F_MRG_RXBUF 15
#define F_STATUS 16

#define Q_RX 0
#define Q_TX 1
#define MAX_FRAME (65536 + VNET_HDR_LEN)
#define MAX_MERGE 64

struct net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
} __attribute__((packed));

struct virtio_net {
	struct virtio_dev dev;
	struct net_config cfg;
	struct net_backend *be;
	bool rx_blocked;          /* TAP reading paused until the guest adds buffers */
	bool logged;
	struct virtq_elem tx, rx;
	uint8_t rxbuf[MAX_FRAME];  /* one frame read from the TAP */
	uint8_t txbuf[MAX_FRAME];  /* one frame gathered for a header-less backend */
	/* rx_*: the receiving thread (I/O thread for TAP, slirp calls under its lock);
	 * tx_*: the I/O thread. Not saved. */
	struct vnet_stats st;
};

static void net_config(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len,
		       bool is_write)
{
	struct virtio_net *n = d->priv;

	if (!is_write)
		virtio_config_copy(&n->cfg, sizeof(n->cfg), off, data, len);
}

static void net_status(struct virtio_dev *d, bool active)
{
	struct virtio_net *n = d->priv;
	unsigned f = 0;

	if (!active || !n->be->set_offload)
		return;
	if (virtio_has(d, F_GUEST_CSUM)) {
		f |= TUN_F_CSUM;
		if (virtio_has(d, F_GUEST_TSO4))
			f |= TUN_F_TSO4;
		if (virtio_has(d, F_GUEST_TSO6))
			f |= TUN_F_TSO6;
		if (virtio_has(d, F_GUEST_ECN))
			f |= TUN_F_TSO_ECN;
	}
	if (n->be->set_offload(n->be, f))
		vsrv_log("%s: cannot set TAP offloads 0x%x", d->name, f);
}

/* Copy len bytes of frame (header included) into as many receive chains as it takes.
 * Returns 0 or -EAGAIN (nothing consumed). */
static int rx_deliver(struct virtio_net *n, uint8_t *frame, size_t len)
{
	struct virtio_dev *d = &n->dev;
	uint16_t heads[MAX_MERGE];
	uint32_t lens[MAX_MERGE], gen = 0, g;
	uint8_t *first_hdr_at[2] = { NULL, NULL };
	size_t done = 0;
	unsigned k = 0, i;
	bool mrg = virtio_has(d, F_MRG_RXBUF);

	while (done < len) {
		size_t put;
		int r;

		if (k == MAX_MERGE || (k && !mrg))
			goto undo;
		r = virtio_pop(d, Q_RX, &n->rx, &g);
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
		virtio_push(d, Q_RX, gen, heads[i], lens[i]);
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
		virtq_unpop(&d->vq[Q_RX]);
	pthread_mutex_unlock(&d->lock);
	return -EAGAIN;
fail_all:
	for (i = 0; i < k; i++)
		virtio_push(d, Q_RX, gen, heads[i], 0);
	vstat_add(&n->st.rx_drops, 1);
	return 0;
}

int virtio_net_receive(struct virtio_net *n, const uint8_t *frame, size_t len)
{
	int ret;

	if (len > MAX_FRAME - VNET_HDR_LEN) {
		vstat_add(&n->st.rx_drops, 1);
		return 0;
	}
	memset(n->rxbuf, 0, VNET_HDR_LEN);
	memcpy(n->rxbuf + VNET_HDR_LEN, frame, len);
	ret = rx_deliver(n, n->rxbuf, len + VNET_HDR_LEN);
	if (!ret)
		virtio_notify(&n->dev, Q_RX);
	else
		vstat_add(&n->st.rx_drops, 1);
	return ret;
}

static void on_tap(struct virtio_dev *d, int fd, uint32_t events)
{
	struct virtio_net *n = d->priv;
	bool any = false;
	int i;

	(void)events;
	for (i = 0; i < 256; i++) {
		ssize_t got;

		if (!virtio_has_avail(d, Q_RX) && !virtio_arm(d, Q_RX)) {
			n->rx_blocked = true;
			virtio_dev_watch_mod(d, fd, 0);
			break;
		}
		got = read(fd, n->rxbuf, sizeof(n->rxbuf));
		if (got <= VNET_HDR_LEN)
			break;
		if (rx_deliver(n, n->rxbuf, got) == 0)
			any = true;
		else /* -EAGAIN: not enough buffers for a merged frame; it is dropped */
			vstat_add(&n->st.rx_drops, 1);
	}
	if (any)
		virtio_notify(d, Q_RX);
}

static void tx_queue(struct virtio_net *n)
{
	struct virtio_dev *d = &n->dev;
	uint32_t gen;
	bool any = false;

	while (virtio_pop(d, Q_TX, &n->tx, &gen) == 1) {
		struct virtq_elem *e = &n->tx;
		int ret = -EINVAL;

		if (e->out_len < VNET_HDR_LEN || e->out_len > MAX_FRAME) {
			if (!n->logged)
				vsrv_log("%s: transmit frame of %u bytes; dropping", d->name,
					 e->out_len);
			n->logged = true;
		} else if (n->be->vnet_hdr) {
			ret = n->be->send(n->be, e->iov, e->n_out, e->out_len);
		} else {
			struct iovec v;
			size_t l = virtq_elem_read(e, VNET_HDR_LEN, n->txbuf,
						   e->out_len - VNET_HDR_LEN);

			v.iov_base = n->txbuf;
			v.iov_len = l;
			ret = n->be->send(n->be, &v, 1, l);
		}
		if (ret) {
			vstat_add(&n->st.tx_drops, 1);
		} else {
			vstat_add(&n->st.tx_packets, 1);
			vstat_add(&n->st.tx_bytes, e->out_len - VNET_HDR_LEN);
		}
		virtio_push(d, Q_TX, gen, e->head, 0);
		any = true;
	}
	if (any)
		virtio_notify(d, Q_TX);
}

static void net_queue(struct virtio_dev *d, unsigned q)
{
	struct virtio_net *n = d->priv;

	if (q == Q_TX) {
		tx_queue(n);
	} else if (n->rx_blocked && n->be->fd >= 0) {
		n->rx_blocked = false;
		virtio_dev_watch_mod(d, n->be->fd, EPOLLIN);
	}
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
	struct virtio_net *n = calloc(1, sizeof(*n));
	uint64_t feat = 1ULL << F_MAC | 1ULL << F_STATUS | 1ULL << F_MRG_RXBUF | 1ULL << F_MTU;
	int ret;

	if (!n)
		return -ENOMEM;
	if (b->vnet_hdr)
		feat |= 1ULL << F_CSUM | 1ULL << F_GUEST_CSUM | 1ULL << F_GUEST_TSO4 |
			1ULL << F_GUEST_TSO6 | 1ULL << F_GUEST_ECN | 1ULL << F_HOST_TSO4 |
			1ULL << F_HOST_TSO6;
	if (mac) {
		memcpy(n->cfg.mac, mac, 6);
	} else {
		if (getrandom(n->cfg.mac, 6, 0) != 6)
			memset(n->cfg.mac, 0x5a, 6);
		n->cfg.mac[0] = 0x52; /* locally administered, unicast: 52:54:xx like QEMU */
		n->cfg.mac[1] = 0x54;
	}
	n->cfg.status = 1; /* link up */
	n->cfg.max_virtqueue_pairs = 1;
	n->cfg.mtu = 1500;
	n->be = b;
	ret = virtio_dev_init(&n->dev, &net_ops, n, h, name, 2, 256, feat);
	if (ret)
		goto err;
	if (b->fd >= 0) {
		ret = virtio_dev_watch(&n->dev, b->fd, EPOLLIN, on_tap);
		if (ret)
			goto err_dev;
	}
	ret = virtio_dev_start(&n->dev);
	if (ret)
		goto err_dev;
	if (b->start) {
		ret = b->start(b, n);
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

void virtio_net_mac(const struct virtio_net *n, uint8_t mac[6])
{
	memcpy(mac, n->cfg.mac, 6);
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (!n)
		return;
	if (n->be->fd >= 0) { /* the I/O thread reads the TAP: stop it first */
		virtio_dev_destroy(&n->dev);
		n->be->destroy(n->be);
	} else { /* callback backends stop delivering first */
		n->be->destroy(n->be);
		virtio_dev_destroy(&n->dev);
	}
	free(n);
}
