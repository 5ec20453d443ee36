/* virtio-net's control queue, receive filter, save/restore and multi-queue TAP, driven
 * through virtio-mmio with the test driver (rings in memory, no KVM). Received frames come
 * from a small in-test backend (the frames a callback backend such as slirp would hand
 * over, delivered from this thread with virtio_net_receive) or from a real multi-queue TAP. */
#include "check.h"
#include "vdrv.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#define BASE 0xd0000000ULL
#define RXB (VDRV_DATA)             /* 32 receive buffers of 2 KiB per receive queue */
#define CMD (VDRV_DATA + 0x40000)   /* control command: header, data at +16, ack at +0x1000 */
#define TXB (VDRV_DATA + 0x80000)

#define F_MAC 5
#define F_MRG 15
#define F_STATUS 16
#define F_CTRL_VQ 17
#define F_CTRL_RX 18
#define F_RX_EXTRA 20
#define F_ANNOUNCE 21
#define F_MQ 22
#define F_MAC_ADDR 23
#define ALL_CTRL (1ULL << F_MAC | 1ULL << F_STATUS | 1ULL << F_CTRL_VQ | 1ULL << F_CTRL_RX | \
		  1ULL << F_RX_EXTRA | 1ULL << F_ANNOUNCE | 1ULL << F_MAC_ADDR)

static struct guest_mem *mem;
static struct bus bus;
static struct virtio_host host;
static struct virtio_net *net;
static struct virtio_mmio *mm;
static struct vdrv v;
static unsigned cq; /* the control queue */

static const uint8_t gmac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t other[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };
static const uint8_t added[6] = { 0x52, 0x54, 0x00, 0x01, 0x02, 0x03 };
static const uint8_t mcast_in[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
static const uint8_t mcast_out[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x99 };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* The in-test backend: counts what the guest sends; frames to the guest come from the
 * test thread through virtio_net_receive. */
struct test_be {
	struct net_backend b;
	unsigned sent;
};

static int tb_send(struct net_backend *b, unsigned q, const struct iovec *iov, int n, size_t len)
{
	(void)q; (void)iov; (void)n; (void)len;
	((struct test_be *)b)->sent++;
	return 0;
}

static void tb_destroy(struct net_backend *b)
{
	free(b);
}

static struct net_backend *test_backend(void)
{
	struct test_be *t = calloc(1, sizeof(*t));

	t->b.kind = "test";
	t->b.send = tb_send;
	t->b.destroy = tb_destroy;
	return &t->b;
}

static void post_rx(unsigned q, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		struct vdrv_buf b = { RXB + q * 0x10000 + (i % 32) * 2048, 2048, true };

		vdrv_submit(&v, q, &b, 1);
	}
}

static uint32_t up(struct net_backend *be, uint64_t want, unsigned nq)
{
	uint32_t st;

	CHECK_EQ(guest_mem_create(16 << 20, &mem), 0);
	bus_init(&bus);
	host.mem = mem;
	host.mmio = &bus;
	CHECK_EQ(virtio_net_create(&host, be, gmac, "virtio-net0", &net), 0);
	CHECK_EQ(virtio_mmio_create(virtio_net_dev(net), BASE, 5, &mm), 0);
	v = (struct vdrv){ .bus = &bus, .mem = mem, .base = BASE };
	st = vdrv_setup(&v, want, nq);
	cq = (want >> F_MQ) & 1 ? nq - 1 : 2;
	post_rx(0, 32);
	return st;
}

static void down(void)
{
	virtio_mmio_destroy(mm);
	virtio_net_destroy(net);
	bus_destroy(&bus);
	guest_mem_destroy(mem);
}

/* One control command with its data in `parts` descriptors (1 or more; 0 bytes: none).
 * Returns the ack byte, or -1 when nothing came back, -2 when no byte was written. */
static int ctrl_split(uint8_t cls, uint8_t cmd, const void *data, uint32_t len, unsigned parts)
{
	struct vdrv_buf b[16];
	uint32_t off = 0;
	unsigned n = 0, i;
	long l;

	mem->host[CMD] = cls;
	mem->host[CMD + 1] = cmd;
	if (len)
		memcpy(mem->host + CMD + 16, data, len);
	mem->host[CMD + 0x1000] = 0xee;
	b[n++] = (struct vdrv_buf){ CMD, 2, false };
	for (i = 0; len && i < parts; i++) {
		uint32_t piece = i + 1 == parts ? len - off : (len / parts ? len / parts : 1);

		if (off + piece > len)
			piece = len - off;
		if (!piece)
			break;
		b[n++] = (struct vdrv_buf){ CMD + 16 + off, piece, false };
		off += piece;
	}
	b[n++] = (struct vdrv_buf){ CMD + 0x1000, 1, true };
	vdrv_submit(&v, cq, b, n);
	l = vdrv_wait(&v, cq, NULL);
	if (l < 0)
		return -1;
	if (l != 1)
		return -2;
	return mem->host[CMD + 0x1000];
}

static int ctrl(uint8_t cls, uint8_t cmd, const void *data, uint32_t len)
{
	return ctrl_split(cls, cmd, data, len, 1);
}

static int rx_mode(uint8_t cmd, uint8_t on)
{
	return ctrl(0, cmd, &on, 1);
}

static uint64_t drops(void)
{
	struct vnet_stats s;

	vnet_stats_read(virtio_net_stats(net), &s);
	return s.rx_drops;
}

/* Hand the device a frame to dst; true when the guest got it, false when the filter
 * dropped it (and counted the drop). */
static bool rx_to(const uint8_t *dst)
{
	uint8_t f[60];
	uint64_t d0 = drops();
	uint16_t used = *(volatile uint16_t *)(mem->host + vdrv_ring(0, 2) + 2);
	bool got;

	memset(f, 0, sizeof(f));
	memcpy(f, dst, 6);
	memcpy(f + 6, other, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	CHECK_EQ(virtio_net_receive(net, f, sizeof(f)), 0);
	got = *(volatile uint16_t *)(mem->host + vdrv_ring(0, 2) + 2) != used;
	if (got) {
		CHECK_EQ(drops(), d0);
		CHECK_EQ(vdrv_wait(&v, 0, NULL), VNET_HDR_LEN + 60);
		post_rx(0, 1);
	} else {
		CHECK_EQ(drops(), d0 + 1);
	}
	return got;
}

/* A MAC_TABLE_SET command body: nu unicast entries from u, nm multicast from m. */
static uint32_t table(uint8_t *buf, const uint8_t *u, uint32_t nu, const uint8_t *m, uint32_t nm)
{
	uint32_t off = 0, i;

	memcpy(buf, &nu, 4);
	off = 4;
	for (i = 0; i < nu; i++, off += 6)
		memcpy(buf + off, u ? u : added, 6);
	memcpy(buf + off, &nm, 4);
	off += 4;
	for (i = 0; i < nm; i++, off += 6)
		memcpy(buf + off, m, 6);
	return off;
}

static void test_features(void)
{
	uint64_t f;

	CHECK_EQ(up(test_backend(), ALL_CTRL, 3), 15);
	vdrv_wr(&v, 0x14, 4, 0);
	f = vdrv_rd(&v, 0x10, 4);
	CHECK(f >> F_CTRL_VQ & 1);
	CHECK(f >> F_CTRL_RX & 1);
	CHECK(f >> F_RX_EXTRA & 1);
	CHECK(f >> F_ANNOUNCE & 1);
	CHECK(f >> F_MAC_ADDR & 1);
	CHECK(!(f >> F_MQ & 1)); /* one queue pair */
	CHECK_EQ(vdrv_rd(&v, 0x34, 4) > 0, 1);
	CHECK_EQ(vdrv_rd(&v, 0x100 + 8, 2), 1); /* max_virtqueue_pairs */
	vdrv_wr(&v, 0x30, 4, 3);                 /* no queue 3 with one pair */
	CHECK_EQ(vdrv_rd(&v, 0x34, 4), 0);
	down();
}

static void test_rx_modes(void)
{
	CHECK_EQ(up(test_backend(), ALL_CTRL, 3), 15);
	/* after reset: promiscuous */
	CHECK(rx_to(other));
	CHECK(rx_to(mcast_out));
	CHECK_EQ(rx_mode(0, 0), 0); /* PROMISC off */
	CHECK(!rx_to(other));
	CHECK(rx_to(gmac));
	CHECK(rx_to(bcast));
	CHECK(!rx_to(mcast_out));
	CHECK_EQ(rx_mode(1, 1), 0); /* ALLMULTI */
	CHECK(rx_to(mcast_out));
	CHECK_EQ(rx_mode(3, 1), 0); /* NOMULTI wins over ALLMULTI */
	CHECK(!rx_to(mcast_out));
	CHECK(rx_to(bcast));        /* broadcast is not multicast here */
	CHECK_EQ(rx_mode(5, 1), 0); /* NOBCAST */
	CHECK(!rx_to(bcast));
	CHECK_EQ(rx_mode(2, 1), 0); /* ALLUNI */
	CHECK(rx_to(other));
	CHECK_EQ(rx_mode(4, 1), 0); /* NOUNI: not even our own */
	CHECK(!rx_to(gmac));
	CHECK(!rx_to(other));
	CHECK_EQ(rx_mode(0, 1), 0); /* PROMISC overrides everything */
	CHECK(rx_to(other));
	CHECK(rx_to(bcast));
	CHECK_EQ(vdrv_status(&v), 15);
	down();
}

static void test_mac_table(void)
{
	uint8_t buf[1024], many[70 * 6];
	uint32_t len, i;

	CHECK_EQ(up(test_backend(), ALL_CTRL, 3), 15);
	CHECK_EQ(rx_mode(0, 0), 0);
	len = table(buf, added, 1, mcast_in, 1);
	CHECK_EQ(ctrl(1, 0, buf, len), 0);
	CHECK(rx_to(added));
	CHECK(rx_to(gmac));
	CHECK(!rx_to(other));
	CHECK(rx_to(mcast_in));
	CHECK(!rx_to(mcast_out));
	/* the same table, its data in 7 descriptors cut at odd places */
	len = table(buf, other, 1, mcast_out, 1);
	CHECK_EQ(ctrl_split(1, 0, buf, len, 7), 0);
	CHECK(rx_to(other));
	CHECK(!rx_to(added));
	CHECK(rx_to(mcast_out));
	CHECK(!rx_to(mcast_in));
	/* empty tables */
	len = table(buf, NULL, 0, NULL, 0);
	CHECK_EQ(ctrl(1, 0, buf, len), 0);
	CHECK(!rx_to(other));
	CHECK(!rx_to(mcast_out));
	CHECK(rx_to(gmac));
	/* 70 unicast entries: more than the table holds, so every unicast address passes */
	for (i = 0; i < 70; i++) {
		memcpy(many + 6 * i, added, 6);
		many[6 * i + 5] = (uint8_t)i;
	}
	len = table(buf, NULL, 0, NULL, 0);
	memcpy(buf, &(uint32_t){ 70 }, 4);
	memcpy(buf + 4, many, sizeof(many));
	memset(buf + 4 + sizeof(many), 0, 4);
	CHECK_EQ(ctrl(1, 0, buf, 4 + sizeof(many) + 4), 0);
	CHECK(rx_to(other));
	CHECK(!rx_to(mcast_out));
	CHECK_EQ(vdrv_status(&v), 15);
	down();
}

static void test_addr_set(void)
{
	uint8_t m[6];
	unsigned i;

	CHECK_EQ(up(test_backend(), ALL_CTRL, 3), 15);
	CHECK_EQ(rx_mode(0, 0), 0);
	CHECK_EQ(ctrl(1, 1, added, 6), 0);
	for (i = 0; i < 6; i++)
		CHECK_EQ(vdrv_rd(&v, 0x100 + i, 1), added[i]);
	virtio_net_mac(net, m);
	CHECK(!memcmp(m, added, 6));
	CHECK(rx_to(added));
	CHECK(!rx_to(gmac));
	/* a reset brings back the configured address and promiscuous mode */
	CHECK_EQ(vdrv_setup(&v, ALL_CTRL, 3), 15);
	post_rx(0, 32);
	CHECK_EQ(vdrv_rd(&v, 0x100 + 5, 1), gmac[5]);
	CHECK(rx_to(other));
	down();
}

static void test_bad_commands(void)
{
	uint8_t buf[256], two[2] = { 1, 1 }, mc[6] = { 0x01, 2, 3, 4, 5, 6 }, zero[6] = { 0 };
	uint32_t len, huge = 0xffffffffu;

	CHECK_EQ(up(test_backend(), ALL_CTRL, 3), 15);
	CHECK_EQ(rx_mode(0, 0), 0);
	CHECK_EQ(ctrl(9, 0, NULL, 0), 1);          /* unknown class */
	CHECK_EQ(ctrl(0, 6, two, 1), 1);           /* unknown receive-mode command */
	CHECK_EQ(ctrl(0, 0, NULL, 0), 1);          /* no data byte */
	CHECK_EQ(ctrl(0, 1, two, 2), 1);           /* two data bytes */
	CHECK_EQ(ctrl(1, 0, buf, 3), 1);           /* TABLE_SET shorter than its counts */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &huge, 4);                     /* unicast count far beyond the command */
	CHECK_EQ(ctrl(1, 0, buf, 8), 1);
	len = table(buf, added, 1, mcast_in, 1);
	memcpy(buf + 10, &(uint32_t){ 2 }, 4);     /* multicast count beyond the command */
	CHECK_EQ(ctrl(1, 0, buf, len), 1);
	len = table(buf, added, 1, mcast_in, 1);
	CHECK_EQ(ctrl(1, 0, buf, len + 3), 1);     /* bytes after the tables */
	CHECK_EQ(ctrl(1, 1, added, 5), 1);         /* ADDR_SET of 5 bytes */
	CHECK_EQ(ctrl(1, 1, mc, 6), 1);            /* ADDR_SET multicast */
	CHECK_EQ(ctrl(1, 1, zero, 6), 1);          /* ADDR_SET zero */
	CHECK_EQ(ctrl(1, 2, NULL, 0), 1);          /* unknown MAC command */
	CHECK_EQ(ctrl(3, 0, NULL, 0), 1);          /* ANNOUNCE_ACK, nothing pending */
	CHECK_EQ(ctrl(4, 0, two, 2), 1);           /* VQ_PAIRS_SET without MQ */
	CHECK_EQ(ctrl(2, 0, two, 2), 1);           /* VLAN: not offered */
	/* a 1-byte header */
	{
		struct vdrv_buf b[2] = { { CMD, 1, false }, { CMD + 0x1000, 1, true } };

		mem->host[CMD + 0x1000] = 0xee;
		vdrv_submit(&v, cq, b, 2);
		CHECK_EQ(vdrv_wait(&v, cq, NULL), 1);
		CHECK_EQ(mem->host[CMD + 0x1000], 1);
	}
	/* no byte to answer in: completed with nothing written, not executed */
	{
		struct vdrv_buf b[2] = { { CMD, 2, false }, { CMD + 16, 1, false } };

		mem->host[CMD] = 0;
		mem->host[CMD + 1] = 0;
		mem->host[CMD + 16] = 1; /* PROMISC on */
		vdrv_submit(&v, cq, b, 2);
		CHECK_EQ(vdrv_wait(&v, cq, NULL), 0);
		CHECK(!rx_to(other));
	}
	/* none of it changed the filter or broke the device */
	CHECK(!rx_to(other));
	CHECK(rx_to(gmac));
	CHECK(!rx_to(mcast_in));
	CHECK_EQ(vdrv_status(&v), 15);
	CHECK_EQ(rx_mode(1, 1), 0);
	CHECK(rx_to(mcast_in));
	down();
}

static void test_not_negotiated(void)
{
	uint8_t buf[64];

	/* the control queue without CTRL_RX, RX_EXTRA or MAC_ADDR */
	CHECK_EQ(up(test_backend(), 1ULL << F_MAC | 1ULL << F_CTRL_VQ, 3), 15);
	CHECK_EQ(rx_mode(0, 0), 1);
	CHECK_EQ(rx_mode(2, 1), 1);
	CHECK_EQ(ctrl(1, 0, buf, table(buf, NULL, 0, NULL, 0)), 1);
	CHECK_EQ(ctrl(1, 1, added, 6), 1);
	CHECK(rx_to(other)); /* still promiscuous */
	down();
	/* CTRL_RX without RX_EXTRA: PROMISC works, NOBCAST does not */
	CHECK_EQ(up(test_backend(), 1ULL << F_MAC | 1ULL << F_CTRL_VQ | 1ULL << F_CTRL_RX, 3), 15);
	CHECK_EQ(rx_mode(0, 0), 0);
	CHECK_EQ(rx_mode(5, 1), 1);
	CHECK(rx_to(bcast));
	down();
}

static void test_announce(void)
{
	CHECK_EQ(up(test_backend(), ALL_CTRL, 3), 15);
	CHECK_EQ(vdrv_rd(&v, 0x100 + 6, 2), 1);     /* status: link up */
	CHECK_EQ(virtio_net_announce(net), 0);
	CHECK_EQ(vdrv_rd(&v, 0x100 + 6, 2), 3);     /* link up, announce */
	CHECK(vdrv_rd(&v, 0x60, 4) & 2);            /* config interrupt */
	CHECK_EQ(ctrl(3, 0, NULL, 0), 0);
	CHECK_EQ(vdrv_rd(&v, 0x100 + 6, 2), 1);
	CHECK_EQ(ctrl(3, 0, NULL, 0), 1);           /* nothing pending any more */
	down();
	CHECK_EQ(up(test_backend(), 1ULL << F_CTRL_VQ, 3), 15);
	CHECK_EQ(virtio_net_announce(net), -ENOTSUP);
	CHECK_EQ(vdrv_rd(&v, 0x100 + 6, 2), 1);
	down();
}

static void test_save_restore(void)
{
	static struct virtio_net_state st, bad, after;
	uint8_t buf[64], *snap;
	struct vdrv vsnap;

	CHECK_EQ(up(test_backend(), ALL_CTRL, 3), 15);
	CHECK_EQ(rx_mode(0, 0), 0);
	CHECK_EQ(ctrl(1, 0, buf, table(buf, added, 1, mcast_in, 1)), 0);
	CHECK_EQ(ctrl(1, 1, other, 6), 0);
	virtio_net_save(net, &st);
	CHECK_EQ(st.net.promisc, 0);
	CHECK_EQ(st.net.n_uni, 1);
	CHECK_EQ(st.net.n_multi, 1);
	CHECK(!memcmp(st.net.cfg.mac, other, 6));
	CHECK(st.dev.status & VIRTIO_STATUS_DRIVER_OK);
	/* the guest's side of the snapshot: its memory (rings) and its driver */
	snap = malloc(mem->size);
	CHECK(snap != NULL);
	memcpy(snap, mem->host, mem->size);
	vsnap = v;
	/* change everything, then restore memory, driver and device */
	CHECK_EQ(rx_mode(0, 1), 0);
	CHECK_EQ(ctrl(1, 1, gmac, 6), 0);
	CHECK(rx_to(mcast_out));
	memcpy(mem->host, snap, mem->size);
	v = vsnap;
	free(snap);
	CHECK_EQ(virtio_net_restore(net, &st), 0);
	CHECK_EQ(vdrv_rd(&v, 0x100 + 5, 1), other[5]);
	CHECK(rx_to(other));
	CHECK(rx_to(added));
	CHECK(rx_to(mcast_in));
	CHECK(!rx_to(mcast_out));
	CHECK(!rx_to(gmac));
	virtio_net_save(net, &after);
	CHECK(!memcmp(&after.net, &st.net, sizeof(st.net)));
	/* the rings still work after the restore */
	CHECK_EQ(rx_mode(1, 1), 0);
	CHECK(rx_to(mcast_out));
	/* refused states leave the device as it was */
	virtio_net_save(net, &st);
	bad = st; bad.net.active_pairs = 0;
	CHECK_EQ(virtio_net_restore(net, &bad), -EINVAL);
	bad = st; bad.net.active_pairs = 2;
	CHECK_EQ(virtio_net_restore(net, &bad), -EINVAL);
	bad = st; bad.net.cfg.max_virtqueue_pairs = 4;
	CHECK_EQ(virtio_net_restore(net, &bad), -EINVAL);
	bad = st; bad.net.n_uni = 60; bad.net.n_multi = 5;
	CHECK_EQ(virtio_net_restore(net, &bad), -EINVAL);
	bad = st; bad.net.nobcast = 2;
	CHECK_EQ(virtio_net_restore(net, &bad), -EINVAL);
	bad = st; bad.net.cfg.mac[0] = 1;
	CHECK_EQ(virtio_net_restore(net, &bad), -EINVAL);
	bad = st; bad.net.cfg.status = 0x80;
	CHECK_EQ(virtio_net_restore(net, &bad), -EINVAL);
	bad = st; bad.net.cfg.mtu = 9000;
	CHECK_EQ(virtio_net_restore(net, &bad), -EINVAL);
	virtio_net_save(net, &after);
	CHECK(!memcmp(&after.net, &st.net, sizeof(st.net)));
	CHECK(rx_to(mcast_out));
	CHECK_EQ(vdrv_status(&v), 15);
	/* a saved ring outside guest memory: refused, nothing changed, the device goes on */
	bad = st;
	bad.dev.vq[0].desc_gpa = 1ULL << 40;
	bad.net.promisc = 0;
	CHECK_EQ(virtio_net_restore(net, &bad), -EINVAL);
	CHECK_EQ(vdrv_status(&v), 15);
	virtio_net_save(net, &after);
	CHECK(!memcmp(&after.net, &st.net, sizeof(st.net)));
	CHECK(rx_to(mcast_out));
	down();
}

/* Two queue pairs on a multi-queue TAP: VQ_PAIRS_SET, frames out of both transmit queues,
 * frames of many flows into both receive queues. */
static void test_mq_tap(void)
{
	struct net_backend *be;
	char name[IFNAMSIZ];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	uint8_t f[64], buf[2048];
	uint16_t pairs;
	unsigned q, i, seen = 0, got[2] = { 0, 0 };
	int ps;

	snprintf(name, sizeof(name), "vsrvm%d", getpid() % 100000);
	if (access("/dev/net/tun", R_OK | W_OK) || net_tap_open(name, NULL, 2, &be)) {
		printf("SKIP test_mq_tap: cannot create a TAP device here\n");
		return;
	}
	CHECK_EQ(be->nfd, 2u);
	CHECK_EQ(up(be, ALL_CTRL | 1ULL << F_MQ | 1ULL << F_MRG, 5), 15);
	CHECK_EQ(vdrv_rd(&v, 0x100 + 8, 2), 2); /* max_virtqueue_pairs */
	CHECK_EQ(cq, 4u);
	pairs = 3;
	CHECK_EQ(ctrl(4, 0, &pairs, 2), 1);
	pairs = 0;
	CHECK_EQ(ctrl(4, 0, &pairs, 2), 1);
	pairs = 2;
	CHECK_EQ(ctrl(4, 0, &pairs, 2), 0);
	post_rx(2, 32);
	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	CHECK(ps >= 0);
	sll.sll_ifindex = if_nametoindex(name);
	CHECK_EQ(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);
	/* guest -> host on transmit queues 1 and 3 */
	for (q = 1; q <= 3; q += 2) {
		struct vdrv_buf b = { TXB, VNET_HDR_LEN + 60, false };

		memset(mem->host + TXB, 0, VNET_HDR_LEN + 60);
		memset(mem->host + TXB + VNET_HDR_LEN, 0xff, 6);
		memcpy(mem->host + TXB + VNET_HDR_LEN + 6, gmac, 6);
		mem->host[TXB + VNET_HDR_LEN + 12] = 0x88;
		mem->host[TXB + VNET_HDR_LEN + 13] = 0xb5;
		mem->host[TXB + VNET_HDR_LEN + 14] = (uint8_t)q;
		vdrv_submit(&v, q, &b, 1);
		CHECK_EQ(vdrv_wait(&v, q, NULL), 0);
	}
	for (i = 0; i < 100 && seen != 3; i++) {
		ssize_t n = recv(ps, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 60 && buf[12] == 0x88 && buf[13] == 0xb5 && (buf[14] == 1 || buf[14] == 3))
			seen |= buf[14] == 1 ? 1 : 2;
		else if (n < 0)
			usleep(2000);
	}
	CHECK_EQ(seen, 3u);
	/* host -> guest: 32 UDP flows; the kernel spreads them over its two queues */
	for (i = 0; i < 32; i++) {
		memset(f, 0, sizeof(f));
		memcpy(f, gmac, 6);
		memcpy(f + 6, other, 6);
		f[12] = 0x08;
		f[14] = 0x45;
		f[17] = 50;                     /* IP total length */
		f[22] = 64;
		f[23] = 17;                     /* UDP */
		memcpy(f + 26, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
		f[34] = 0x10;
		f[35] = (uint8_t)i;             /* source port */
		f[36] = 0x20;
		f[37] = 0x01;
		f[39] = 30;
		CHECK_EQ(send(ps, f, 64, 0), 64L);
	}
	for (i = 0; i < 500 && got[0] + got[1] < 32; i++) {
		for (q = 0; q < 2; q++) {
			uint8_t *used = mem->host + vdrv_ring(2 * q, 2);

			while (*(volatile uint16_t *)(used + 2) != v.used_seen[2 * q]) {
				uint16_t id;
				long l = vdrv_wait(&v, 2 * q, &id);
				struct virtq_desc *d = (struct virtq_desc *)(mem->host +
									     vdrv_ring(2 * q, 0));
				uint8_t *fr = mem->host + d[id].addr + VNET_HDR_LEN;

				if (l == VNET_HDR_LEN + 64 && fr[23] == 17 && fr[34] == 0x10)
					got[q]++;
				post_rx(2 * q, 1);
			}
		}
		usleep(2000);
	}
	CHECK_EQ(got[0] + got[1], 32u);
	CHECK(got[0] > 0);
	CHECK(got[1] > 0);
	/* back to one pair: every flow lands on receive queue 0 */
	pairs = 1;
	CHECK_EQ(ctrl(4, 0, &pairs, 2), 0);
	CHECK_EQ(vdrv_status(&v), 15);
	close(ps);
	down();
}

int main(void)
{
	RUN(test_features);
	RUN(test_rx_modes);
	RUN(test_mac_table);
	RUN(test_addr_set);
	RUN(test_bad_commands);
	RUN(test_not_negotiated);
	RUN(test_announce);
	RUN(test_save_restore);
	RUN(test_mq_tap);
	return check_done();
}
