/* virtio-net's control queue (virtio 1.2, 5.1.6.5): receive modes, the MAC filter tables,
 * the MAC address, guest announcements and the number of queue pairs; the receive filter
 * those settings drive (as QEMU applies it); the reset state; save and restore.
 *
 * A command is one chain: a 2-byte header (class, command) and the command's data in the
 * device-readable part, then one device-writable byte for the answer (VIRTIO_NET_OK or
 * VIRTIO_NET_ERR). Everything in it is untrusted: every malformed command (short header,
 * wrong length, tables larger than the command, unknown class or command, a feature the
 * driver did not take, values out of range) is answered VIRTIO_NET_ERR and logged in one
 * line (the first MAX_LOGS of them), and changes nothing. */
#include "devices/virtio/net_int.h"

#include "util/log.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#define CTRL_RX 0
#define CTRL_RX_PROMISC 0
#define CTRL_RX_ALLMULTI 1
#define CTRL_RX_ALLUNI 2
#define CTRL_RX_NOMULTI 3
#define CTRL_RX_NOUNI 4
#define CTRL_RX_NOBCAST 5
#define CTRL_MAC 1
#define CTRL_MAC_TABLE_SET 0
#define CTRL_MAC_ADDR_SET 1
#define CTRL_ANNOUNCE 3
#define CTRL_ANNOUNCE_ACK 0
#define CTRL_MQ 4
#define CTRL_MQ_VQ_PAIRS_SET 0

#define NET_OK 0
#define NET_ERR 1

#define MAX_LOGS 32

unsigned vnet_ctrl_queue(struct virtio_net *n)
{
	return virtio_has(&n->dev, VNET_F_MQ) ? 2 * n->max_pairs : 2;
}

void vnet_state_reset(struct virtio_net *n)
{
	struct vnet_state *s = &n->s;

	memcpy(s->cfg.mac, n->mac0, 6);
	s->cfg.status = VNET_S_LINK_UP;
	s->promisc = 1; /* like QEMU: a driver that never uses the control queue gets every frame */
	s->allmulti = s->alluni = s->nomulti = s->nouni = s->nobcast = 0;
	s->uni_overflow = s->multi_overflow = 0;
	s->active_pairs = 1;
	s->n_uni = s->n_multi = 0;
	memset(s->table, 0, sizeof(s->table));
}

unsigned vnet_active_pairs(struct virtio_net *n)
{
	unsigned a;

	pthread_mutex_lock(&n->dev.lock);
	a = n->s.active_pairs;
	pthread_mutex_unlock(&n->dev.lock);
	return a;
}

static bool in_table(const struct vnet_state *s, unsigned from, unsigned to, const uint8_t *mac)
{
	unsigned i;

	for (i = from; i < to; i++)
		if (!memcmp(s->table[i], mac, 6))
			return true;
	return false;
}

/* The filter itself, under dev.lock. */
static bool accept_locked(const struct vnet_state *s, const uint8_t *f, size_t len)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	if (s->promisc)
		return true;
	if (len < 6)
		return false;
	if (f[0] & 1) { /* group address */
		if (!memcmp(f, bcast, 6))
			return !s->nobcast;
		if (s->nomulti)
			return false;
		if (s->allmulti || s->multi_overflow)
			return true;
		return in_table(s, s->n_uni, s->n_uni + s->n_multi, f);
	}
	if (s->nouni)
		return false;
	if (s->alluni || s->uni_overflow || !memcmp(f, s->cfg.mac, 6))
		return true;
	return in_table(s, 0, s->n_uni, f);
}

bool vnet_rx_accept(struct virtio_net *n, const uint8_t *frame, size_t len)
{
	bool ok;

	pthread_mutex_lock(&n->dev.lock);
	ok = accept_locked(&n->s, frame, len);
	pthread_mutex_unlock(&n->dev.lock);
	return ok;
}

/* --- commands: each returns NULL (done, VIRTIO_NET_OK) or why it was refused --- */

/* Read len bytes of the command's data at off (after the header). */
static void data_read(const struct virtq_elem *e, uint32_t off, void *buf, uint32_t len)
{
	virtq_elem_read(e, 2 + (size_t)off, buf, len);
}

/* Lock and check that no reset came between the pop (generation gen) and now. */
static bool lock_same_gen(struct virtio_net *n, uint32_t gen)
{
	pthread_mutex_lock(&n->dev.lock);
	if (n->dev.st.generation == gen)
		return true;
	pthread_mutex_unlock(&n->dev.lock);
	return false;
}

static const char *cmd_rx(struct virtio_net *n, uint8_t cmd, const struct virtq_elem *e,
			  uint32_t len, uint32_t gen)
{
	struct vnet_state *s = &n->s;
	uint8_t *flag[6] = { &s->promisc, &s->allmulti, &s->alluni, &s->nomulti, &s->nouni,
			     &s->nobcast };
	uint8_t v;

	if (cmd > CTRL_RX_NOBCAST)
		return "unknown receive-mode command";
	if (!virtio_has(&n->dev, cmd <= CTRL_RX_ALLMULTI ? VNET_F_CTRL_RX : VNET_F_CTRL_RX_EXTRA))
		return "receive-mode command of a feature the driver did not take";
	if (len != 1)
		return "receive-mode command without exactly one data byte";
	data_read(e, 0, &v, 1);
	if (lock_same_gen(n, gen)) {
		*flag[cmd] = v != 0;
		pthread_mutex_unlock(&n->dev.lock);
	}
	return NULL;
}

static const char *mac_table_set(struct virtio_net *n, const struct virtq_elem *e,
				 uint32_t len, uint32_t gen)
{
	uint8_t tab[VNET_MAC_TABLE][6];
	uint32_t uc, mc, off;
	unsigned nu = 0, nm = 0;
	bool uo = false, mo = false;

	if (!virtio_has(&n->dev, VNET_F_CTRL_RX))
		return "MAC_TABLE_SET without VIRTIO_NET_F_CTRL_RX";
	if (len < 8)
		return "MAC_TABLE_SET shorter than its two entry counts";
	data_read(e, 0, &uc, 4);
	uc = le32toh(uc);
	if (uc > (len - 8) / 6)
		return "MAC_TABLE_SET unicast table larger than the command";
	off = 4 + 6 * uc;
	data_read(e, off, &mc, 4);
	mc = le32toh(mc);
	if (mc > (len - off - 4) / 6)
		return "MAC_TABLE_SET multicast table larger than the command";
	if (off + 4 + 6 * mc != len)
		return "MAC_TABLE_SET with bytes after its tables";
	if (uc <= VNET_MAC_TABLE) {
		data_read(e, 4, tab, 6 * uc);
		nu = uc;
	} else {
		uo = true;
	}
	if (mc <= VNET_MAC_TABLE - nu) {
		data_read(e, off + 4, tab[nu], 6 * mc);
		nm = mc;
	} else {
		mo = true;
	}
	if (lock_same_gen(n, gen)) {
		memset(n->s.table, 0, sizeof(n->s.table));
		memcpy(n->s.table, tab, 6 * (nu + nm));
		n->s.n_uni = nu;
		n->s.n_multi = nm;
		n->s.uni_overflow = uo;
		n->s.multi_overflow = mo;
		pthread_mutex_unlock(&n->dev.lock);
	}
	return NULL;
}

static const char *mac_addr_set(struct virtio_net *n, const struct virtq_elem *e,
				uint32_t len, uint32_t gen)
{
	static const uint8_t zero[6];
	uint8_t mac[6];

	if (!virtio_has(&n->dev, VNET_F_CTRL_MAC_ADDR))
		return "MAC_ADDR_SET without VIRTIO_NET_F_CTRL_MAC_ADDR";
	if (len != 6)
		return "MAC_ADDR_SET without exactly 6 data bytes";
	data_read(e, 0, mac, 6);
	if ((mac[0] & 1) || !memcmp(mac, zero, 6))
		return "MAC_ADDR_SET with a multicast or all-zero address";
	if (lock_same_gen(n, gen)) {
		memcpy(n->s.cfg.mac, mac, 6);
		n->dev.st.config_gen++; /* a config field changed (the driver asked: no interrupt) */
		pthread_mutex_unlock(&n->dev.lock);
	}
	return NULL;
}

static const char *announce_ack(struct virtio_net *n, uint32_t len, uint32_t gen)
{
	const char *why = NULL;

	if (!virtio_has(&n->dev, VNET_F_GUEST_ANNOUNCE))
		return "ANNOUNCE_ACK without VIRTIO_NET_F_GUEST_ANNOUNCE";
	if (len != 0)
		return "ANNOUNCE_ACK with data";
	if (lock_same_gen(n, gen)) {
		if (n->s.cfg.status & VNET_S_ANNOUNCE)
			n->s.cfg.status &= ~VNET_S_ANNOUNCE;
		else
			why = "ANNOUNCE_ACK with no announcement pending";
		pthread_mutex_unlock(&n->dev.lock);
	}
	return why;
}

static const char *mq_pairs_set(struct virtio_net *n, const struct virtq_elem *e,
				uint32_t len, uint32_t gen)
{
	uint16_t pairs;

	if (!virtio_has(&n->dev, VNET_F_MQ))
		return "VQ_PAIRS_SET without VIRTIO_NET_F_MQ";
	if (len != 2)
		return "VQ_PAIRS_SET without exactly 2 data bytes";
	data_read(e, 0, &pairs, 2);
	pairs = le16toh(pairs);
	if (pairs < 1 || pairs > n->max_pairs)
		return "VQ_PAIRS_SET out of 1..max_virtqueue_pairs";
	if (lock_same_gen(n, gen)) {
		n->s.active_pairs = pairs;
		pthread_mutex_unlock(&n->dev.lock);
	}
	vnet_rx_unblock_all(n); /* TAP queues now feed other receive queues */
	return NULL;
}

static const char *ctrl_exec(struct virtio_net *n, uint8_t cls, uint8_t cmd,
			     const struct virtq_elem *e, uint32_t len, uint32_t gen)
{
	switch (cls) {
	case CTRL_RX:
		return cmd_rx(n, cmd, e, len, gen);
	case CTRL_MAC:
		if (cmd == CTRL_MAC_TABLE_SET)
			return mac_table_set(n, e, len, gen);
		if (cmd == CTRL_MAC_ADDR_SET)
			return mac_addr_set(n, e, len, gen);
		return "unknown MAC command";
	case CTRL_ANNOUNCE:
		if (cmd == CTRL_ANNOUNCE_ACK)
			return announce_ack(n, len, gen);
		return "unknown announce command";
	case CTRL_MQ:
		if (cmd == CTRL_MQ_VQ_PAIRS_SET)
			return mq_pairs_set(n, e, len, gen);
		return "unsupported multi-queue command";
	default:
		return "unknown class";
	}
}

static void ctrl_log(struct virtio_net *n, const uint8_t *hdr, const char *why,
		     const char *answer)
{
	if (n->ctrl_logged < MAX_LOGS) {
		if (hdr)
			vsrv_log("%s: control command %u.%u: %s; %s", n->dev.name, hdr[0], hdr[1],
				 why, answer);
		else
			vsrv_log("%s: control command: %s; %s", n->dev.name, why, answer);
	} else if (n->ctrl_logged == MAX_LOGS) {
		vsrv_log("%s: more malformed control commands; not logging them", n->dev.name);
	}
	n->ctrl_logged++;
}

void vnet_ctrl_serve(struct virtio_net *n)
{
	struct virtio_dev *d = &n->dev;
	struct virtq_elem *e = &n->ctl;
	unsigned q = vnet_ctrl_queue(n);
	uint32_t gen;
	bool any = false;

	while (virtio_pop(d, q, e, &gen) == 1) {
		uint8_t hdr[2], ack;
		const char *why;
		uint32_t put = 0;

		any = true;
		if (e->in_len < 1) {
			ctrl_log(n, NULL, "no writable byte for the answer", "not executed");
		} else if (e->out_len < 2) {
			ack = NET_ERR;
			put = virtq_elem_write(e, 0, &ack, 1);
			ctrl_log(n, NULL, "shorter than its 2-byte header",
				 "answered VIRTIO_NET_ERR");
		} else {
			virtq_elem_read(e, 0, hdr, 2);
			why = ctrl_exec(n, hdr[0], hdr[1], e, e->out_len - 2, gen);
			ack = why ? NET_ERR : NET_OK;
			put = virtq_elem_write(e, 0, &ack, 1);
			if (why)
				ctrl_log(n, hdr, why, "answered VIRTIO_NET_ERR");
		}
		virtio_push(d, q, gen, e->head, put);
	}
	if (any)
		virtio_notify(d, q);
}

/* --- save, restore, announce --- */

void virtio_net_save(struct virtio_net *n, struct virtio_net_state *st)
{
	memset(st, 0, sizeof(*st));
	virtio_dev_save(&n->dev, &st->dev);
	pthread_mutex_lock(&n->dev.lock);
	st->net = n->s;
	pthread_mutex_unlock(&n->dev.lock);
}

static const char *state_check(const struct virtio_net *n, const struct vnet_state *s)
{
	const uint8_t flags[8] = { s->promisc, s->allmulti, s->alluni, s->nomulti, s->nouni,
				   s->nobcast, s->uni_overflow, s->multi_overflow };
	unsigned i;

	if (s->cfg.max_virtqueue_pairs != n->max_pairs)
		return "max_virtqueue_pairs differs from the device's";
	if (s->cfg.mtu != n->s.cfg.mtu)
		return "mtu differs from the device's";
	if (s->active_pairs < 1 || s->active_pairs > n->max_pairs)
		return "active queue pairs out of range";
	for (i = 0; i < 8; i++)
		if (flags[i] > 1)
			return "a receive mode is neither 0 nor 1";
	if (s->cfg.status & ~(VNET_S_LINK_UP | VNET_S_ANNOUNCE))
		return "unknown status bits";
	if (s->cfg.mac[0] & 1)
		return "multicast MAC address";
	if (s->n_uni > VNET_MAC_TABLE || s->n_multi > VNET_MAC_TABLE - s->n_uni)
		return "MAC filter table larger than the device's";
	return NULL;
}

int virtio_net_restore(struct virtio_net *n, const struct virtio_net_state *st)
{
	const char *why = state_check(n, &st->net);
	int ret;

	if (why) {
		vsrv_log("%s: saved state refused: %s", n->dev.name, why);
		return -EINVAL;
	}
	/* the core's part is checked before anything changes: a refused state leaves the
	 * device as it was */
	if (virtio_dev_check(&n->dev, &st->dev))
		return -EINVAL;
	pthread_mutex_lock(&n->dev.lock);
	n->s = st->net;
	pthread_mutex_unlock(&n->dev.lock);
	ret = virtio_dev_restore(&n->dev, &st->dev);
	if (n->dev.st.status & VIRTIO_STATUS_DRIVER_OK)
		vnet_apply_offloads(n);
	return ret;
}

int virtio_net_announce(struct virtio_net *n)
{
	struct virtio_dev *d = &n->dev;
	bool ok;

	pthread_mutex_lock(&d->lock);
	ok = virtio_has(d, VNET_F_GUEST_ANNOUNCE) && virtio_dev_running(d);
	if (ok)
		n->s.cfg.status |= VNET_S_ANNOUNCE;
	pthread_mutex_unlock(&d->lock);
	if (!ok)
		return -ENOTSUP;
	virtio_config_changed(d);
	return 0;
}
