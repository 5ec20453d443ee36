/* virtio-net over virtio-mmio with the test driver: the TAP backend (frames both ways
 * through an AF_PACKET socket on the TAP), and user-mode NAT (ARP for the gateway). */
#include "check.h"
#include "vdrv.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/net.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <sys/socket.h>

#define BASE 0xd0000000ULL
#define TXB (VDRV_DATA)
#define RXB (VDRV_DATA + 0x10000)

static struct guest_mem *mem;
static struct bus bus;
static struct virtio_host host;
static struct virtio_net *net;
static struct virtio_mmio *mm;
static struct vdrv v;

static const uint8_t gmac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static int up(struct net_backend *be)
{
	CHECK_EQ(guest_mem_create(16 << 20, &mem), 0);
	bus_init(&bus);
	host.mem = mem;
	host.mmio = &bus;
	CHECK_EQ(virtio_net_create(&host, be, gmac, "virtio-net0", &net), 0);
	CHECK_EQ(virtio_mmio_create(virtio_net_dev(net), BASE, 5, &mm), 0);
	v = (struct vdrv){ .bus = &bus, .mem = mem, .base = BASE };
	return vdrv_setup(&v, 1ULL << 15 | 1ULL << 5, 2); /* MRG_RXBUF, MAC */
}

static void down(void)
{
	virtio_mmio_destroy(mm);
	virtio_net_destroy(net);
	bus_destroy(&bus);
	guest_mem_destroy(mem);
}

static void post_rx(unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		struct vdrv_buf b = { RXB + i * 2048, 2048, true };

		vdrv_submit(&v, 0, &b, 1);
	}
}

/* A guest frame: 12-byte header then an Ethernet frame. */
static void send_frame(const uint8_t *frame, size_t len)
{
	struct vdrv_buf b = { TXB, VNET_HDR_LEN + len, false };

	memset(mem->host + TXB, 0, VNET_HDR_LEN);
	memcpy(mem->host + TXB + VNET_HDR_LEN, frame, len);
	vdrv_submit(&v, 1, &b, 1);
	CHECK_EQ(vdrv_wait(&v, 1, NULL), 0);
}

static void test_tap(void)
{
	struct net_backend *be;
	char name[IFNAMSIZ];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	uint8_t frame[60], buf[2048];
	uint16_t id = 0;
	long len;
	int ps, i;
	bool seen = false;

	snprintf(name, sizeof(name), "vsrvt%d", getpid() % 100000);
	if (access("/dev/net/tun", R_OK | W_OK) || net_tap_open(name, NULL, 1, &be)) {
		printf("SKIP test_tap: cannot create a TAP device here\n");
		return;
	}
	CHECK_EQ(up(be), 15);
	CHECK_EQ(vdrv_rd(&v, 0x100 + 5, 1), 0x56); /* config: mac */
	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	CHECK(ps >= 0);
	sll.sll_ifindex = if_nametoindex(name);
	CHECK_EQ(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);
	/* guest -> host */
	memset(frame, 0, sizeof(frame));
	memset(frame, 0xff, 6);
	memcpy(frame + 6, gmac, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5; /* local experimental ethertype */
	memcpy(frame + 14, "vsrv-net-test", 13);
	send_frame(frame, sizeof(frame));
	for (i = 0; i < 50 && !seen; i++) {
		ssize_t n = recv(ps, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == sizeof(frame) && !memcmp(buf + 14, "vsrv-net-test", 13))
			seen = true;
		else if (n < 0)
			usleep(2000);
	}
	CHECK(seen);
	/* host -> guest: the frame waits for a receive buffer */
	memcpy(frame, gmac, 6);
	memcpy(frame + 14, "to-the-guest!", 13);
	CHECK_EQ(send(ps, frame, sizeof(frame), 0), (long)sizeof(frame));
	usleep(20000);
	post_rx(4);
	for (i = 0; i < 8; i++) {
		len = vdrv_wait(&v, 0, &id);
		if (len < 0 || !memcmp(mem->host + RXB + id * 2048 + VNET_HDR_LEN + 14,
				       "to-the-guest!", 13))
			break; /* IPv6 chatter from the host may come first */
		post_rx(1);
	}
	CHECK_EQ(len, VNET_HDR_LEN + (long)sizeof(frame));
	CHECK_EQ(mem->host[RXB + id * 2048 + 10], 1); /* num_buffers */
	close(ps);
	down();
}

static void test_user_arp(void)
{
	struct net_backend *be;
	uint8_t arp[42];
	uint16_t id = 0;
	long len = -1;
	int i;

	if (net_slirp_open(0, 0, 0, &be)) {
		printf("SKIP test_user_arp: libslirp unavailable\n");
		return;
	}
	CHECK_EQ(up(be), 15);
	post_rx(4);
	memset(arp, 0, sizeof(arp));
	memset(arp, 0xff, 6);
	memcpy(arp + 6, gmac, 6);
	arp[12] = 0x08; arp[13] = 0x06;            /* ARP */
	arp[15] = 1; arp[16] = 0x08; arp[18] = 6; arp[19] = 4; arp[21] = 1; /* request */
	memcpy(arp + 22, gmac, 6);
	memcpy(arp + 28, "\x0a\x00\x02\x0f", 4);   /* 10.0.2.15 */
	memcpy(arp + 38, "\x0a\x00\x02\x02", 4);   /* who has 10.0.2.2 */
	send_frame(arp, sizeof(arp));
	for (i = 0; i < 4; i++) {
		len = vdrv_wait(&v, 0, &id);
		if (len < 0)
			break;
		if (mem->host[RXB + id * 2048 + VNET_HDR_LEN + 13] == 0x06)
			break;
	}
	CHECK(len >= VNET_HDR_LEN + 42);
	CHECK_EQ(mem->host[RXB + id * 2048 + VNET_HDR_LEN + 21], 2); /* ARP reply */
	CHECK(!memcmp(mem->host + RXB + id * 2048 + VNET_HDR_LEN + 28, "\x0a\x00\x02\x02", 4));
	down();
}

static void test_bad_tx(void)
{
	struct net_backend *be;
	struct vdrv_buf b = { TXB, 4, false };

	if (net_slirp_open(0, 0, 0, &be)) {
		printf("SKIP test_bad_tx: libslirp unavailable\n");
		return;
	}
	CHECK_EQ(up(be), 15);
	vdrv_submit(&v, 1, &b, 1); /* shorter than the header: dropped, completed */
	CHECK_EQ(vdrv_wait(&v, 1, NULL), 0);
	CHECK_EQ(vdrv_status(&v), 15);
	down();
}

int main(void)
{
	RUN(test_tap);
	RUN(test_user_arp);
	RUN(test_bad_tx);
	return check_done();
}
