/* The e1000 under a hostile driver (rings and buffers outside RAM, bad lengths, heads and
 * tails, absurd offload contexts), quiesced for a save, and on the real backends: user-mode
 * NAT (libslirp answers ARP and a ping whose checksums the device inserted) and a TAP (an
 * AF_PACKET socket on its host side). The driver is tests/unit/e1000drv.h. */
#include "check.h"
#include "e1000drv.h"

#include <netinet/in.h>

/* Quiesced (a save, a migration's last pass): the rings stay as they are until resumed. */
static void test_quiesce(void)
{
	uint8_t f[60] = { 0 };

	memcpy(f, gmac, 6);
	up(cap_backend());
	tx_setup();
	rx_setup(RCTL_SECRC, 4);
	memcpy(g(TXB), f, 60);
	txd_legacy(0, TXB, 60, TXD_CMD_EOP | TXD_CMD_RS, 0, 0);
	e1000_quiesce(dev, true);
	wr(E1000_TDT, 1);
	settle();
	CHECK_EQ(cap.n, 0);
	CHECK_EQ(rd(E1000_TDH), 0);
	inject(f, 60);
	CHECK_EQ(rd(E1000_RDH), 0);
	e1000_quiesce(dev, false);
	settle();
	CHECK_EQ(cap.n, 1);
	CHECK_EQ(rd(E1000_TDH), 1);
	inject(f, 60);
	CHECK_EQ(rd(E1000_RDH), 1);
	down();
}

/* A driver that points rings outside RAM, gives bad lengths, heads and tails, buffers
 * outside RAM, absurd TSO contexts, rings of context descriptors: errors, counted, the
 * device keeps working once set up again. */
static void test_hostile(void)
{
	uint8_t f[60] = { 0 };
	unsigned err;

	memcpy(f, gmac, 6);
	up(cap_backend());
	memcpy(g(TXB), f, 60);
	tx_setup();
	/* ring outside RAM */
	wr(E1000_TDBAL, 0xf0000000);
	wr(E1000_TDT, 1);
	settle();
	CHECK_EQ(e1000_errors(dev), 1);
	CHECK_EQ(rd(E1000_TDH), 0);
	/* a ring that ends past RAM */
	wr(E1000_TDBAL, MEM - 64);
	wr(E1000_TDT, 1);
	settle();
	CHECK_EQ(e1000_errors(dev), 2);
	/* length 0, length not a multiple of 128 */
	wr(E1000_TDBAL, (uint32_t)TXR);
	wr(E1000_TDLEN, 0);
	wr(E1000_TDT, 1);
	settle();
	CHECK_EQ(e1000_errors(dev), 3);
	wr(E1000_TDLEN, 100);
	wr(E1000_TDT, 1);
	settle();
	CHECK_EQ(e1000_errors(dev), 4);
	/* tail past the ring */
	wr(E1000_TDLEN, NDESC * 16);
	wr(E1000_TDT, NDESC + 3);
	settle();
	CHECK_EQ(e1000_errors(dev), 5);
	CHECK_EQ(cap.n, 0);
	/* set up again: it works; a buffer outside RAM and one that wraps past 2^64 drop their
	 * packets (completed, counted) */
	tx_setup();
	txd_legacy(0, 0xfffff000ULL, 60, TXD_CMD_EOP | TXD_CMD_RS, 0, 0);
	txd_legacy(1, ~0ULL - 10, 60, TXD_CMD_EOP | TXD_CMD_RS, 0, 0);
	txd_legacy(2, TXB, 0, TXD_CMD_EOP | TXD_CMD_RS, 0, 0); /* empty packet */
	/* TSO with MSS 0, then header length 0 */
	txd_ctx(3, 14, 24, 33, 34, 50, 4000, TXD_CMD_TSE | TXD_TUCMD_IP | TXD_TUCMD_TCP, 54, 0);
	txd_data(4, TXB, 60, TXD_CMD_TSE | TXD_CMD_EOP | TXD_CMD_RS, TXD_POPTS_TXSM);
	txd_ctx(5, 14, 24, 33, 34, 50, 4000, TXD_CMD_TSE | TXD_TUCMD_IP | TXD_TUCMD_TCP, 0, 1460);
	txd_data(6, TXB, 60, TXD_CMD_TSE | TXD_CMD_EOP | TXD_CMD_RS, TXD_POPTS_TXSM);
	/* checksum offsets past the packet */
	txd_ctx(7, 14, 250, 0, 200, 254, 0, TXD_TUCMD_IP, 0, 0);
	txd_data(8, TXB, 60, TXD_CMD_EOP | TXD_CMD_RS, TXD_POPTS_TXSM | TXD_POPTS_IXSM);
	txd_legacy(9, TXB, 60, TXD_CMD_EOP | TXD_CMD_RS, 0, 0); /* a good one */
	wr(E1000_TDT, 10);
	settle();
	err = e1000_errors(dev);
	CHECK(err >= 5 + 6);
	CHECK_EQ(rd(E1000_TDH), 10);
	CHECK(g(TXR + 16)[12] & TXD_STAT_DD);
	CHECK(cap.n >= 1);
	CHECK_EQ(cap.len[cap.n - 1], 60);
	/* a ring full of context descriptors: walked once, no hang */
	for (unsigned i = 0; i < NDESC; i++)
		txd_ctx(i, 1, 2, 3, 4, 5, 6, TXD_CMD_RS, 7, 8);
	wr(E1000_TDH, 10);
	wr(E1000_TDT, 9);
	settle();
	CHECK_EQ(rd(E1000_TDH), 9);
	/* receive: ring outside RAM, then a buffer outside RAM */
	rx_setup(RCTL_SECRC, 4);
	wr(E1000_RDBAL, 0xfff00000);
	inject(f, 60);
	CHECK_EQ(rd(E1000_STATS + 4 * ST_MPC), 1);
	CHECK(e1000_errors(dev) > err);
	rx_setup(RCTL_SECRC, 4);
	{
		uint64_t a = 0xf0000000ULL;

		memcpy(g(RXR), &a, 8);
	}
	inject(f, 60);
	CHECK_EQ(g(RXR)[13], 0x80); /* RXE: the driver drops it */
	inject(f, 60);
	CHECK_EQ(g(RXR + 16)[13], 0);
	CHECK(!memcmp(g(RXB + 2048), f, 60));
	/* heads past the ring, a ring of length 0, of a length not a multiple of 128 */
	err = e1000_errors(dev);
	wr(E1000_RDH, NDESC + 1);
	inject(f, 60);
	CHECK_EQ(rd(E1000_RDH), NDESC + 1);
	CHECK_EQ(e1000_errors(dev), err + 1);
	rx_setup(RCTL_SECRC, 4);
	wr(E1000_RDLEN, 0);
	inject(f, 60);
	CHECK_EQ(rd(E1000_RDH), 0);
	CHECK_EQ(e1000_errors(dev), err + 2);
	wr(E1000_RDLEN, 200);
	inject(f, 60);
	CHECK_EQ(rd(E1000_RDH), 0);
	CHECK_EQ(e1000_errors(dev), err + 3);
	/* and a good ring again */
	rx_setup(RCTL_SECRC, 4);
	inject(f, 60);
	CHECK_EQ(rd(E1000_RDH), 1);
	down();
}

/* End to end through the user-mode NAT: the gateway answers ARP, then a ping whose IP and
 * ICMP checksums the device inserted (libslirp drops a packet with a bad one). */
static void test_user_ping(void)
{
	struct net_backend *be;
	uint8_t *p, gw[6] = { 0 };
	bool arp = false, pong = false;
	uint64_t end;
	unsigned next = 0;

	if (net_slirp_open(0, 0, 0, &be)) {
		printf("SKIP test_user_ping: libslirp unavailable\n");
		return;
	}
	up(be);
	p = g(TXB);
	rx_setup(RCTL_BAM | RCTL_SECRC, NDESC - 1);
	tx_setup();
	memset(p, 0, 42);
	memset(p, 0xff, 6);
	memcpy(p + 6, gmac, 6);
	p[12] = 0x08; p[13] = 0x06;
	p[15] = 1; p[16] = 0x08; p[18] = 6; p[19] = 4; p[21] = 1;
	memcpy(p + 22, gmac, 6);
	memcpy(p + 28, "\x0a\x00\x02\x0f", 4);
	memcpy(p + 38, "\x0a\x00\x02\x02", 4);
	txd_legacy(0, TXB, 42, TXD_CMD_EOP | TXD_CMD_RS, 0, 0);
	wr(E1000_TDT, 1);
	end = now_ms() + 5000;
	while (!pong && now_ms() < end) {
		uint16_t len;
		uint8_t st, er;
		const uint8_t *r;

		if (next == rd(E1000_RDH)) {
			usleep(1000);
			continue;
		}
		r = rx_frame(next, &len, &st, &er);
		next++;
		if (!arp && r[12] == 0x08 && r[13] == 0x06 && r[21] == 2) {
			/* the reply: now the ping, checksums left to the device */
			uint8_t *q = g(TXB + 0x1000);

			arp = true;
			memcpy(gw, r + 22, 6);
			memset(q, 0, 98);
			memcpy(q, gw, 6);
			memcpy(q + 6, gmac, 6);
			q[12] = 0x08;
			q[14] = 0x45; q[17] = 84; q[22] = 64; q[23] = 1;
			memcpy(q + 26, "\x0a\x00\x02\x0f\x0a\x00\x02\x02", 8);
			q[34] = 8; /* echo request */
			q[38] = 0x12; q[39] = 0x34; q[41] = 1;
			memcpy(q + 42, "vsrv e1000 ping", 15);
			txd_ctx(1, 14, 24, 33, 34, 36, 0, TXD_TUCMD_IP, 0, 0);
			txd_data(2, TXB + 0x1000, 98, TXD_CMD_EOP | TXD_CMD_RS,
				 TXD_POPTS_IXSM | TXD_POPTS_TXSM);
			wr(E1000_TDT, 3);
		} else if (arp && r[12] == 0x08 && r[13] == 0x00 && r[23] == 1 && r[34] == 0 &&
			   !memcmp(r + 42, "vsrv e1000 ping", 15)) {
			pong = true;
		}
	}
	CHECK(arp);
	CHECK(pong);
	CHECK(gw[0] || gw[1] || gw[5]);
	down();
}

/* The next frame the device put in the receive ring within ms, its buffer given back to
 * the device (RDT) once read; NULL at the deadline. */
static const uint8_t *next_frame(unsigned *next, unsigned ms, uint16_t *len)
{
	uint64_t end = now_ms() + ms;
	uint8_t st, er;
	const uint8_t *r;

	while (*next == rd(E1000_RDH))
		if (now_ms() >= end)
			return NULL;
		else
			usleep(1000);
	r = rx_frame(*next, len, &st, &er);
	wr(E1000_RDT, *next); /* the one before it is the driver's again */
	*next = (*next + 1) % NDESC;
	return r;
}

/* TCP through user-mode NAT to a socket of this test: the handshake, then one TSO packet of
 * 4000 bytes that the device cuts into segments; libslirp's TCP checks every segment's
 * checksums and sequence numbers, and the test's socket reads the 4000 bytes in order. */
static void test_user_tcp(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	struct net_backend *be;
	uint8_t gw[6], *p, got[4000];
	const uint8_t *r = NULL;
	unsigned next = 0, port;
	uint32_t srv_seq = 0;
	size_t have = 0, len;
	uint64_t end;
	uint16_t rl;
	int ls, cs = -1;

	if (net_slirp_open(0, 0, 0, &be)) {
		printf("SKIP test_user_tcp: libslirp unavailable\n");
		return;
	}
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	CHECK(ls >= 0);
	CHECK_EQ(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_EQ(listen(ls, 1), 0);
	CHECK_EQ(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	up(be);
	rx_setup(RCTL_BAM | RCTL_SECRC, NDESC - 1);
	tx_setup();
	/* ARP for the gateway */
	p = g(TXB);
	memset(p, 0, 42);
	memset(p, 0xff, 6);
	memcpy(p + 6, gmac, 6);
	p[12] = 0x08; p[13] = 0x06;
	p[15] = 1; p[16] = 0x08; p[18] = 6; p[19] = 4; p[21] = 1;
	memcpy(p + 22, gmac, 6);
	memcpy(p + 28, "\x0a\x00\x02\x0f", 4);
	memcpy(p + 38, "\x0a\x00\x02\x02", 4);
	txd_legacy(0, TXB, 42, TXD_CMD_EOP | TXD_CMD_RS, 0, 0);
	wr(E1000_TDT, 1);
	while ((r = next_frame(&next, 5000, &rl)) && !(r[12] == 0x08 && r[13] == 0x06 && r[21] == 2))
		;
	CHECK(r != NULL);
	if (!r)
		goto out;
	memcpy(gw, r + 22, 6);
	/* SYN to 10.0.2.2:port (the host's loopback), checksums by the device */
	p = g(TXB + 0x1000);
	len = ip_frame(p, true, 0, false);
	memcpy(p, gw, 6);
	p[36] = (uint8_t)(port >> 8);
	p[37] = (uint8_t)port;
	memcpy(p + 38, "\x00\x00\x03\xe8", 4); /* seq 1000 */
	p[47] = 0x02;                            /* SYN */
	txd_ctx(1, 14, 24, 33, 34, 50, 0, TXD_TUCMD_TCP | TXD_TUCMD_IP, 0, 0);
	txd_data(2, TXB + 0x1000, (uint32_t)len, TXD_CMD_EOP | TXD_CMD_RS,
		 TXD_POPTS_IXSM | TXD_POPTS_TXSM);
	wr(E1000_TDT, 3);
	while ((r = next_frame(&next, 5000, &rl)))
		if (r[12] == 0x08 && r[13] == 0x00 && r[23] == 6 && (r[47] & 0x12) == 0x12) {
			srv_seq = be32(r + 38);
			break;
		}
	CHECK(r != NULL);
	if (!r)
		goto out;
	/* the handshake's ACK travels with the data: one TSO packet of 4000 bytes */
	p = g(TXB + 0x2000);
	len = ip_frame(p, true, 4000, true);
	memcpy(p, gw, 6);
	p[36] = (uint8_t)(port >> 8);
	p[37] = (uint8_t)port;
	memcpy(p + 38, "\x00\x00\x03\xe9", 4); /* seq 1001 */
	p[42] = (uint8_t)((srv_seq + 1) >> 24);
	p[43] = (uint8_t)((srv_seq + 1) >> 16);
	p[44] = (uint8_t)((srv_seq + 1) >> 8);
	p[45] = (uint8_t)(srv_seq + 1);
	txd_ctx(3, 14, 24, 33, 34, 50, 4000, TXD_CMD_TSE | TXD_TUCMD_IP | TXD_TUCMD_TCP, 54, 1460);
	txd_data(4, TXB + 0x2000, (uint32_t)len, TXD_CMD_TSE | TXD_CMD_EOP | TXD_CMD_RS,
		 TXD_POPTS_IXSM | TXD_POPTS_TXSM);
	wr(E1000_TDT, 5);
	end = now_ms() + 5000;
	while (have < sizeof(got) && now_ms() < end) {
		ssize_t n;

		next_frame(&next, 0, &rl); /* keep the receive ring going (slirp's ACKs) */
		if (cs < 0) {
			cs = accept4(ls, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (cs < 0) {
				usleep(1000);
				continue;
			}
		}
		n = recv(cs, got + have, sizeof(got) - have, 0);
		if (n > 0)
			have += (size_t)n;
		else
			usleep(1000);
	}
	CHECK_EQ(have, sizeof(got));
	CHECK(!memcmp(got, p + 54, sizeof(got)));
	/* and back: the host's data arrives with the receive checksum status a driver trusts */
	if (cs >= 0) {
		uint8_t st = 0, er = 0xff;

		CHECK_EQ(send(cs, "pong-from-host", 14, 0), 14);
		while ((r = next_frame(&next, 5000, &rl)))
			if (r[23] == 6 && rl >= 54 + 14 && !memcmp(r + 54, "pong-from-host", 14)) {
				unsigned k = (next + NDESC - 1) % NDESC;

				st = g(RXR + k * 16)[12];
				er = g(RXR + k * 16)[13];
				break;
			}
		CHECK(r != NULL);
		CHECK_EQ(st & (RXD_STAT_IPCS | RXD_STAT_TCPCS), RXD_STAT_IPCS | RXD_STAT_TCPCS);
		CHECK_EQ(er, 0);
	}
out:
	if (cs >= 0)
		close(cs);
	close(ls);
	down();
}

/* The TAP backend: TSO segments reach the host's side of the TAP (an AF_PACKET socket on it)
 * one by one, and a frame from the host that finds no receive buffer waits in the TAP's
 * queue until the driver gives buffers (RNBC counts the wait), then arrives. */
static void test_tap(void)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct net_backend *be;
	char name[IFNAMSIZ];
	uint8_t buf[2048], f[60] = { 0 };
	unsigned got = 0;
	uint64_t end;
	size_t len;
	int ps;

	snprintf(name, sizeof(name), "vsrve%d", getpid() % 100000);
	if (access("/dev/net/tun", R_OK | W_OK) || net_tap_open(name, NULL, 1, &be)) {
		printf("SKIP test_tap: cannot create a TAP device here\n");
		return;
	}
	up(be);
	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	CHECK(ps >= 0);
	sll.sll_ifindex = (int)if_nametoindex(name);
	CHECK_EQ(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);
	/* guest -> host: one TSO packet of 3000 bytes, 3 segments of 1000 */
	tx_setup();
	len = ip_frame(g(TXB), true, 3000, true);
	txd_ctx(0, 14, 24, 33, 34, 50, 3000, TXD_CMD_TSE | TXD_TUCMD_IP | TXD_TUCMD_TCP, 54, 1000);
	txd_data(1, TXB, (uint32_t)len, TXD_CMD_TSE | TXD_CMD_EOP | TXD_CMD_RS,
		 TXD_POPTS_IXSM | TXD_POPTS_TXSM);
	wr(E1000_TDT, 2);
	end = now_ms() + 2000;
	while (got < 3 && now_ms() < end) {
		ssize_t n = recv(ps, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0) {
			usleep(1000);
			continue;
		}
		if (n == 1054 && buf[23] == 6 && be16(buf + 18) == 0x1234 + got) {
			CHECK(ip_ok(buf, (size_t)n));
			got++;
		}
	}
	CHECK_EQ(got, 3);
	/* host -> guest: no buffers yet */
	rx_setup(RCTL_SECRC, 0);
	memcpy(f, gmac, 6);
	memcpy(f + 6, "\x52\x54\x00\x99\x99\x99", 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	memcpy(f + 14, "to-the-guest", 12);
	CHECK_EQ(send(ps, f, sizeof(f), 0), (long)sizeof(f));
	end = now_ms() + 2000;
	while (!rd(E1000_STATS + 4 * ST_RNBC) && now_ms() < end)
		usleep(1000);
	CHECK_EQ(rd(E1000_RDH), 0);
	wr(E1000_RDT, 4); /* buffers: the frame comes out of the TAP's queue */
	end = now_ms() + 2000;
	while (!rd(E1000_RDH) && now_ms() < end)
		usleep(1000);
	CHECK_EQ(rd(E1000_RDH), 1);
	CHECK(!memcmp(g(RXB), f, 60));
	CHECK_EQ(rd(E1000_STATS + 4 * ST_MPC), 0); /* waited, not dropped */
	close(ps);
	down();
}

int main(void)
{
	RUN(test_quiesce);
	RUN(test_hostile);
	RUN(test_user_ping);
	RUN(test_user_tcp);
	RUN(test_tap);
	return check_done();
}
