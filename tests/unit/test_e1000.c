/* The e1000 (82540EM) driven as a driver drives it (tests/unit/e1000drv.h): PCI config
 * space and BARs through the host bridge, registers through BAR0 (and BAR1's
 * IOADDR/IODATA), descriptor rings and buffers in this test's guest memory; the frames it
 * sends are checked where they reach the net backend interface (a recording backend, which
 * also hands frames in through the receive callback). Hostile drivers, quiescing and the
 * real backends (user-mode NAT, TAP): test_e1000_hostile.c. */
#include "check.h"
#include "e1000drv.h"

/* --- tests --- */

static void test_pci(void)
{
	uint32_t v, a;

	up(cap_backend());
	CHECK_EQ(cfg_rd(0), 0x100e8086);
	CHECK_EQ(cfg_rd(8) >> 8, 0x020000);
	CHECK_EQ(cfg_rd(0x10) & 0xf, 0);         /* 32-bit memory */
	CHECK_EQ(cfg_rd(0x14) & 0x3, 1);         /* I/O */
	CHECK_EQ((cfg_rd(0x3c) >> 8) & 0xff, 1); /* INTA# */
	CHECK(bar0 >= 0xe1000000 && bar0 % E1000_MMIO_SIZE == 0);
	CHECK(bar1 >= PCI_IO_BASE && bar1 < PCI_IO_END);
	/* STATUS through IOADDR/IODATA is STATUS through BAR0 */
	a = E1000_STATUS;
	bus_dispatch(&pio, bar1, (uint8_t *)&a, 4, true);
	bus_dispatch(&pio, bar1 + 4, (uint8_t *)&v, 4, false);
	CHECK_EQ(v, rd(E1000_STATUS));
	CHECK(v & STATUS_LU);
	CHECK(v & STATUS_FD);
	CHECK_EQ(v & (3u << 6), STATUS_SPEED_1000);
	/* a write through IODATA */
	a = E1000_IMS;
	v = ICR_RXT0;
	bus_dispatch(&pio, bar1, (uint8_t *)&a, 4, true);
	bus_dispatch(&pio, bar1 + 4, (uint8_t *)&v, 4, true);
	CHECK_EQ(rd(E1000_IMS), ICR_RXT0);
	/* sizing, as firmware and Linux do it: all ones, read the mask, put the address back */
	{
		unsigned devfn = pci_dev_devfn(e1000_pci(dev));
		uint32_t ones = ~0u, old0 = cfg_rd(0x10), old1 = cfg_rd(0x14);

		pci_cfg_access(ph, devfn, 0x10, (uint8_t *)&ones, 4, true);
		CHECK_EQ(cfg_rd(0x10), (uint32_t)-E1000_MMIO_SIZE);   /* 128 KiB, 32-bit memory */
		CHECK(rd(E1000_STATUS) == ~0u || rd(E1000_STATUS) == 0); /* not decoded meanwhile */
		pci_cfg_access(ph, devfn, 0x14, (uint8_t *)&ones, 4, true);
		CHECK_EQ(cfg_rd(0x14), (uint32_t)-E1000_IO_SIZE | 1);  /* 64 ports */
		CHECK_EQ(cfg_rd(0x18), 0);                              /* BAR2 unused */
		pci_cfg_access(ph, devfn, 0x10, (uint8_t *)&old0, 4, true);
		pci_cfg_access(ph, devfn, 0x14, (uint8_t *)&old1, 4, true);
		CHECK(rd(E1000_STATUS) & STATUS_LU);
	}
	/* the guest moves BAR1: the ports follow */
	v = 0xd000 | 1;
	pci_cfg_access(ph, pci_dev_devfn(e1000_pci(dev)), 0x14, (uint8_t *)&v, 4, true);
	a = E1000_IMS;
	v = 0;
	bus_dispatch(&pio, 0xd000, (uint8_t *)&a, 4, true);
	bus_dispatch(&pio, 0xd004, (uint8_t *)&v, 4, false);
	CHECK_EQ(v, ICR_RXT0);
	down();
}

static void test_eeprom(void)
{
	uint16_t sum = 0, w[64];

	up(cap_backend());
	for (unsigned i = 0; i < 64; i++) {
		w[i] = ee_read(i);
		sum += w[i];
	}
	CHECK_EQ(sum, 0xbaba); /* what e1000_validate_eeprom_checksum wants */
	CHECK_EQ(w[0], 0x5452);
	CHECK_EQ(w[1], 0xe100);
	CHECK_EQ(w[2], 0x0100);
	CHECK_EQ(w[0x0d], 0x100e);
	/* EERD gives the same words */
	for (unsigned i = 0; i < 64; i += 7) {
		uint32_t v;

		wr(E1000_EERD, i << 8 | EERD_START);
		v = rd(E1000_EERD);
		CHECK(v & EERD_DONE);
		CHECK_EQ(v >> 16, w[i]);
	}
	down();
}

static void test_phy(void)
{
	up(cap_backend());
	CHECK_EQ(phy_read(1, PHY_ID1), 0x0141); /* M88E1011 */
	CHECK_EQ(phy_read(1, PHY_ID2), 0x0c20);
	CHECK(phy_read(1, PHY_STATUS) & 0x04);  /* link */
	CHECK(phy_read(1, PHY_STATUS) & 0x20);  /* autonegotiation complete */
	CHECK(rd(E1000_MDIC) & MDIC_READY);
	CHECK(!(rd(E1000_MDIC) & MDIC_ERROR));
	/* a restart of autonegotiation completes at once; another PHY address is an error */
	wr(E1000_MDIC, MDIC_OP_WRITE | 1 << 21 | PHY_CTRL << 16 | 0x1340);
	CHECK_EQ(phy_read(1, PHY_CTRL), 0x1140);
	phy_read(2, PHY_ID1);
	CHECK(rd(E1000_MDIC) & MDIC_ERROR);
	/* the PHY ids are read-only */
	wr(E1000_MDIC, MDIC_OP_WRITE | 1 << 21 | PHY_ID1 << 16 | 0x1234);
	CHECK_EQ(phy_read(1, PHY_ID1), 0x0141);
	down();
}

static void test_reset(void)
{
	up(cap_backend());
	wr(E1000_IMS, 0xff);
	wr(E1000_RCTL, RCTL_EN | RCTL_UPE);
	wr(E1000_TDLEN, 4096);
	wr(E1000_RA + 8, 0x11223344);
	wr(E1000_ICS, ICR_TXDW);
	CHECK_EQ(lvl(), 1);
	wr(E1000_CTRL, rd(E1000_CTRL) | CTRL_RST);
	CHECK_EQ(lvl(), 0);
	CHECK(!(rd(E1000_CTRL) & CTRL_RST)); /* self-clearing */
	CHECK_EQ(rd(E1000_IMS), 0);
	CHECK_EQ(rd(E1000_RCTL), 0);
	CHECK_EQ(rd(E1000_TDLEN), 0);
	CHECK_EQ(rd(E1000_RA + 8), 0);
	CHECK_EQ(rd(E1000_ICR), 0);
	/* RA[0] holds the EEPROM's address, valid */
	CHECK_EQ(rd(E1000_RA), 0xe1005452);
	CHECK_EQ(rd(E1000_RA + 4), 0x0100u | RAH_AV);
	CHECK_EQ(rd(E1000_VET), 0x8100);
	down();
}

static void test_tx_legacy(void)
{
	uint8_t f[100];
	uint32_t icr;

	up(cap_backend());
	tx_setup();
	wr(E1000_IMS, ICR_TXDW);
	memset(f, 0, sizeof(f));
	memset(f, 0xff, 6);
	memcpy(f + 6, gmac, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	for (unsigned i = 14; i < sizeof(f); i++)
		f[i] = (uint8_t)i;
	/* split over two descriptors; a checksum of bytes 20.. inserted at 16 */
	memcpy(g(TXB), f, 40);
	memcpy(g(TXB + 0x1000), f + 40, 60);
	g(TXB)[16] = g(TXB)[17] = 0;
	txd_legacy(0, TXB, 40, 0, 0, 0);
	txd_legacy(1, 0, 0, 0, 0, 0); /* zero length: nothing to gather */
	txd_legacy(2, TXB + 0x1000, 60, TXD_CMD_EOP | TXD_CMD_RS | TXD_CMD_IC, 16, 20);
	wr(E1000_TDT, 3);
	settle();
	CHECK_EQ(cap.n, 1);
	CHECK_EQ(cap.len[0], 100);
	f[16] = f[17] = 0;
	{
		uint16_t c = (uint16_t)~fold(sum16(0, f + 20, 80));

		f[16] = (uint8_t)(c >> 8);
		f[17] = (uint8_t)c;
	}
	CHECK(!memcmp(cap.f[0], f, 100));
	CHECK_EQ(rd(E1000_TDH), 3);
	CHECK(g(TXR + 2 * 16)[12] & TXD_STAT_DD);
	CHECK_EQ(lvl(), 1);
	icr = rd(E1000_ICR);
	CHECK_EQ(icr, ICR_TXDW | ICR_TXQE);
	CHECK_EQ(lvl(), 0);
	CHECK_EQ(rd(E1000_ICR), 0); /* read to clear */
	CHECK_EQ(rd(E1000_STATS + 4 * ST_GPTC), 1);
	CHECK_EQ(rd(E1000_STATS + 4 * ST_TPT), 1);
	CHECK_EQ(rd(E1000_STATS + 4 * ST_BPTC), 1);
	CHECK_EQ(rd(E1000_STATS + 4 * ST_GOTCL), 104); /* with the FCS */
	CHECK_EQ(rd(E1000_STATS + 4 * ST_GOTCH), 0);
	CHECK_EQ(rd(E1000_STATS + 4 * ST_GPTC), 0);    /* read to clear */
	/* a packet whose EOP is not written yet waits */
	txd_legacy(3, TXB, 60, 0, 0, 0);
	wr(E1000_TDT, 4);
	settle();
	CHECK_EQ(cap.n, 1);
	CHECK_EQ(rd(E1000_TDH), 3);
	txd_legacy(4, TXB, 60, TXD_CMD_EOP | TXD_CMD_RS, 0, 0);
	wr(E1000_TDT, 5);
	settle();
	CHECK_EQ(cap.n, 2);
	CHECK_EQ(cap.len[1], 120);
	CHECK_EQ(rd(E1000_TDH), 5);
	/* queued while the transmitter is off: sent once it is on */
	wr(E1000_TCTL, 0);
	txd_legacy(5, TXB, 60, TXD_CMD_EOP | TXD_CMD_RS, 0, 0);
	wr(E1000_TDT, 6);
	settle();
	CHECK_EQ(cap.n, 2);
	wr(E1000_TCTL, TCTL_EN); /* no settle(): the write itself must get the I/O thread going */
	{
		uint64_t end = now_ms() + 2000;
		int n = 0;

		while (n < 3 && now_ms() < end) {
			pthread_mutex_lock(&cap.lock);
			n = cap.n;
			pthread_mutex_unlock(&cap.lock);
			usleep(1000);
		}
		CHECK_EQ(n, 3);
	}
	settle();
	CHECK_EQ(rd(E1000_TDH), 6);
	down();
}

/* One TDT write sends every packet queued before it, with one interrupt. */
static void test_tx_batch(void)
{
	up(cap_backend());
	tx_setup();
	wr(E1000_IMS, ICR_TXDW);
	for (unsigned i = 0; i < 12; i++) {
		uint8_t *f = g(TXB + i * 0x100);

		memset(f, 0, 60);
		memcpy(f, gmac, 6);
		f[59] = (uint8_t)i;
		txd_legacy(i, TXB + i * 0x100, 60, TXD_CMD_EOP | TXD_CMD_RS, 0, 0);
	}
	__atomic_store_n(&rises, 0, __ATOMIC_RELAXED);
	wr(E1000_TDT, 12);
	settle();
	CHECK_EQ(cap.n, 12);
	for (int i = 0; i < cap.n; i++)
		CHECK_EQ(cap.f[i][59], i); /* in ring order */
	CHECK_EQ(rd(E1000_TDH), 12);
	CHECK_EQ(__atomic_load_n(&rises, __ATOMIC_RELAXED), 1);
	CHECK_EQ(rd(E1000_STATS + 4 * ST_GPTC), 12);
	down();
}

/* TSO as Linux's e1000_tso sets it up: a context descriptor, then the headers and the
 * payload in data descriptors with TSE, IXSM and TXSM. */
static void test_tx_tso(void)
{
	unsigned seg[] = { 1460, 1460, 1080 };
	size_t len, off = 0;
	uint8_t *p;

	up(cap_backend());
	p = g(TXB);
	len = ip_frame(p, true, 4000, true);
	tx_setup();
	txd_ctx(0, 14, 24, 33, 34, 50, 4000, TXD_CMD_TSE | TXD_TUCMD_IP | TXD_TUCMD_TCP | TXD_CMD_RS,
		54, 1460);
	txd_data(1, TXB, 54, TXD_CMD_TSE, TXD_POPTS_IXSM | TXD_POPTS_TXSM);
	txd_data(2, TXB + 54, 2000, TXD_CMD_TSE, 0);
	txd_data(3, TXB + 2054, (uint32_t)len - 2054, TXD_CMD_TSE | TXD_CMD_EOP | TXD_CMD_RS, 0);
	wr(E1000_TDT, 4);
	settle();
	CHECK_EQ(cap.n, 3);
	for (int i = 0; i < 3 && i < cap.n; i++) {
		const uint8_t *f = cap.f[i];

		CHECK_EQ(cap.len[i], 54 + seg[i]);
		CHECK_EQ(be16(f + 16), 40 + seg[i]);      /* IP total length */
		CHECK_EQ(be16(f + 18), 0x1234 + i);       /* IP id */
		CHECK_EQ(be32(f + 38), 65536 + 1460 * i); /* sequence */
		CHECK_EQ(f[47], i < 2 ? 0x10 : 0x18);     /* PSH on the last one only */
		CHECK(ip_ok(f, cap.len[i]));
		CHECK(!memcmp(f + 54, p + 54 + off, seg[i]));
		off += seg[i];
	}
	CHECK_EQ(rd(E1000_STATS + 4 * ST_TSCTC), 1);
	CHECK_EQ(rd(E1000_STATS + 4 * ST_GPTC), 3);
	CHECK(g(TXR)[12] & TXD_STAT_DD);
	CHECK(g(TXR + 3 * 16)[12] & TXD_STAT_DD);
	CHECK_EQ(rd(E1000_TDH), 4);
	down();
}

/* Checksum offload without TSO (CHECKSUM_PARTIAL): UDP and TCP. */
static void test_tx_csum(void)
{
	up(cap_backend());
	tx_setup();
	for (int tcp = 0; tcp < 2; tcp++) {
		size_t len = ip_frame(g(TXB + tcp * 0x1000), tcp, 301, false);

		txd_ctx(2 * tcp, 14, 24, 33, 34, tcp ? 50 : 40, 0, tcp ? TXD_TUCMD_TCP | TXD_TUCMD_IP :
			TXD_TUCMD_IP, 0, 0);
		txd_data(2 * tcp + 1, TXB + tcp * 0x1000, (uint32_t)len, TXD_CMD_EOP | TXD_CMD_RS,
			 TXD_POPTS_IXSM | TXD_POPTS_TXSM);
	}
	wr(E1000_TDT, 4);
	settle();
	CHECK_EQ(cap.n, 2);
	for (int i = 0; i < cap.n; i++)
		CHECK(ip_ok(cap.f[i], cap.len[i]));
	down();
}

static void test_rx(void)
{
	uint8_t f[200], st, er;
	uint16_t len;
	uint32_t crc;
	const uint8_t *p;

	up(cap_backend());
	rx_setup(RCTL_BAM | RCTL_SECRC, 8);
	wr(E1000_IMS, ICR_RXT0);
	ip_frame(f, false, 100, false);
	memcpy(f, gmac, 6);
	/* the UDP checksum, correct */
	f[40] = f[41] = 0;
	{
		uint32_t ps = sum16(0, f + 26, 8) + 17 + 108;
		uint16_t c = (uint16_t)~fold(sum16(ps, f + 34, 108));

		f[40] = (uint8_t)(c >> 8);
		f[41] = (uint8_t)c;
	}
	f[24] = f[25] = 0;
	{
		uint16_t c = (uint16_t)~fold(sum16(0, f + 14, 20));

		f[24] = (uint8_t)(c >> 8);
		f[25] = (uint8_t)c;
	}
	inject(f, 142);
	CHECK_EQ(rd(E1000_RDH), 1);
	p = rx_frame(0, &len, &st, &er);
	CHECK_EQ(len, 142);
	CHECK(!memcmp(p, f, 142));
	CHECK_EQ(st & (RXD_STAT_DD | RXD_STAT_EOP), RXD_STAT_DD | RXD_STAT_EOP);
	CHECK(st & RXD_STAT_IPCS);
	CHECK(st & RXD_STAT_TCPCS);
	CHECK_EQ(er, 0);
	CHECK_EQ(lvl(), 1);
	CHECK(rd(E1000_ICR) & ICR_RXT0);
	CHECK_EQ(lvl(), 0);
	/* a bad UDP checksum is reported */
	f[41] ^= 1;
	inject(f, 142);
	rx_frame(1, &len, &st, &er);
	CHECK(st & RXD_STAT_TCPCS);
	CHECK_EQ(er, RXD_ERR_TCPE);
	f[41] ^= 1;
	/* without SECRC the FCS is there, and counted; a short frame is padded to 60 */
	wr(E1000_RCTL, RCTL_EN | RCTL_BAM);
	inject(f, 42);
	p = rx_frame(2, &len, &st, &er);
	CHECK_EQ(len, 64);
	crc = (uint32_t)crc32(0, p, 60);
	CHECK(!memcmp(p + 60, &crc, 4));
	CHECK(!memcmp(p, f, 42));
	/* a frame longer than a buffer (256 bytes) spans descriptors */
	wr(E1000_RCTL, RCTL_EN | RCTL_SECRC | 3u << RCTL_BSIZE_SHIFT);
	memset(f + 42, 0x5a, sizeof(f) - 42);
	{
		static uint8_t big[600];

		memcpy(big, f, sizeof(f));
		inject(big, 600);
	}
	rx_frame(3, &len, &st, &er);
	CHECK_EQ(len, 256);
	CHECK_EQ(st & RXD_STAT_EOP, 0);
	rx_frame(5, &len, &st, &er);
	CHECK_EQ(len, 600 - 512);
	CHECK(st & RXD_STAT_EOP);
	CHECK_EQ(rd(E1000_RDH), 6);
	CHECK_EQ(rd(E1000_STATS + 4 * ST_GPRC), 4);
	CHECK_EQ(rd(E1000_STATS + 4 * ST_GORCL), 146 + 146 + 64 + 600 + 4);
	CHECK_EQ(rd(E1000_STATS + 4 * ST_GORCH), 0);
	/* only 2 descriptors left (RDT 8): a 3-descriptor frame is dropped and counted */
	inject((uint8_t[600]){ 0x52, 0x54, 0x00, 0xe1, 0x00, 0x01 }, 600);
	CHECK_EQ(rd(E1000_RDH), 6);
	CHECK_EQ(rd(E1000_STATS + 4 * ST_MPC), 1);
	CHECK_EQ(rd(E1000_STATS + 4 * ST_RNBC), 1);
	down();
}

/* 802.1Q with CTRL.VME: a VLE descriptor's tag inserted (VET), a received tag stripped into
 * the descriptor's special field with VP. */
static void test_vlan(void)
{
	uint8_t f[64] = { 0 }, st, er;
	uint16_t len, special;

	up(cap_backend());
	tx_setup();
	rx_setup(RCTL_SECRC, 4);
	wr(E1000_CTRL, rd(E1000_CTRL) | CTRL_VME);
	memcpy(f, gmac, 6);
	f[12] = 0x08;
	memcpy(f + 14, "payload", 7);
	memcpy(g(TXB), f, 60);
	txd_legacy(0, TXB, 60, TXD_CMD_EOP | TXD_CMD_RS | TXD_CMD_VLE, 0, 0);
	g(TXR)[14] = 0x23; /* special: VLAN 0x123 */
	g(TXR)[15] = 0x01;
	wr(E1000_TDT, 1);
	settle();
	CHECK_EQ(cap.n, 1);
	CHECK_EQ(cap.len[0], 64);
	CHECK(!memcmp(cap.f[0] + 12, "\x81\x00\x01\x23\x08\x00payload", 13));
	/* what came out goes back in: the tag leaves the frame */
	inject(cap.f[0], 64);
	rx_frame(0, &len, &st, &er);
	memcpy(&special, g(RXR) + 14, 2);
	CHECK_EQ(len, 60);
	CHECK(st & RXD_STAT_VP);
	CHECK_EQ(special, 0x0123);
	CHECK(!memcmp(g(RXB), f, 60));
	/* a frame that ends inside its tag: nothing to strip, nothing read past it */
	f[12] = 0x81;
	f[13] = 0x00;
	inject(f, 15);
	rx_frame(1, &len, &st, &er);
	CHECK_EQ(len, 60);
	CHECK(!(st & RXD_STAT_VP));
	down();
}

static bool rx_takes(const uint8_t dst[6])
{
	uint8_t f[60] = { 0 };
	uint32_t h = rd(E1000_RDH);

	memcpy(f, dst, 6);
	memcpy(f + 6, "\x52\x54\x00\x99\x99\x99", 6);
	inject(f, sizeof(f));
	return rd(E1000_RDH) != h;
}

static void test_rx_filters(void)
{
	static const uint8_t other[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x02 },
			     bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
			     mc[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };
	unsigned h = (mc[4] >> 4 | mc[5] << 4) & 0xfff; /* MO 0: bits 47:36 */

	up(cap_backend());
	rx_setup(0, NDESC - 1);
	CHECK(rx_takes(gmac));
	CHECK(!rx_takes(other));
	CHECK(!rx_takes(bc));
	CHECK(!rx_takes(mc));
	wr(E1000_RCTL, rd(E1000_RCTL) | RCTL_BAM);
	CHECK(rx_takes(bc));
	wr(E1000_MTA + 4 * (h >> 5), 1u << (h & 31));
	CHECK(rx_takes(mc));
	wr(E1000_MTA + 4 * (h >> 5), 0);
	CHECK(!rx_takes(mc));
	wr(E1000_RCTL, rd(E1000_RCTL) | RCTL_MPE);
	CHECK(rx_takes(mc));
	CHECK(!rx_takes(other));
	/* a second exact address, then promiscuous */
	wr(E1000_RA + 8, 0x00005452);
	wr(E1000_RA + 12, 0x0200 | RAH_AV);
	CHECK(rx_takes(other));
	wr(E1000_RA + 12, 0);
	CHECK(!rx_takes(other));
	wr(E1000_RCTL, rd(E1000_RCTL) | RCTL_UPE);
	CHECK(rx_takes(other));
	/* receiver off: nothing */
	wr(E1000_RCTL, 0);
	CHECK(!rx_takes(gmac));
	down();
}

static void test_moderation(void)
{
	uint8_t f[60] = { 0 };
	uint64_t t0;

	memcpy(f, gmac, 6);
	up(cap_backend());
	rx_setup(RCTL_SECRC, NDESC - 1);
	wr(E1000_IMS, ICR_RXT0 | ICR_TXDW);
	wr(E1000_ITR, 0xffff); /* 16.8 ms between interrupts */
	t0 = now_ms();
	inject(f, 60);
	CHECK_EQ(lvl(), 1);      /* the first one at once */
	rd(E1000_ICR);
	CHECK_EQ(lvl(), 0);
	inject(f, 60);
	inject(f, 60);
	if (now_ms() - t0 < 16)  /* only while the interval surely runs (a slow host) */
		CHECK_EQ(lvl(), 0);
	CHECK(wait_line(1, 2000)); /* then it comes, once, for both frames */
	CHECK(now_ms() - t0 >= 16);
	CHECK_EQ(rd(E1000_ICR), ICR_RXT0);
	wr(E1000_ITR, 0);
	/* RDTR: the receive interrupt waits 65 ms after the last frame, RADV bounds it */
	wr(E1000_RDTR, 0xffff);
	wr(E1000_RADV, 0);
	t0 = now_ms();
	inject(f, 60);
	if (now_ms() - t0 < 60)
		CHECK_EQ(lvl(), 0);
	CHECK(wait_line(1, 3000));
	CHECK(now_ms() - t0 >= 60);
	rd(E1000_ICR);
	/* a flush (FPD) fires it at once */
	inject(f, 60);
	wr(E1000_RDTR, 0xffff | RDTR_FPD);
	CHECK_EQ(lvl(), 1);
	CHECK_EQ(rd(E1000_ICR), ICR_RXT0);
	/* TIDV: a descriptor with IDE waits */
	tx_setup();
	wr(E1000_TIDV, 0xffff);
	memcpy(g(TXB), f, 60);
	txd_legacy(0, TXB, 60, TXD_CMD_EOP | TXD_CMD_RS | TXD_CMD_IDE, 0, 0);
	t0 = now_ms();
	wr(E1000_TDT, 1);
	settle();
	CHECK_EQ(cap.n, 1);
	if (now_ms() - t0 < 60)
		CHECK_EQ(lvl(), 0);
	CHECK(wait_line(1, 3000));
	CHECK(rd(E1000_ICR) & ICR_TXDW);
	down();
}


int main(void)
{
	RUN(test_pci);
	RUN(test_eeprom);
	RUN(test_phy);
	RUN(test_reset);
	RUN(test_tx_legacy);
	RUN(test_tx_batch);
	RUN(test_tx_tso);
	RUN(test_tx_csum);
	RUN(test_rx);
	RUN(test_rx_filters);
	RUN(test_vlan);
	RUN(test_moderation);
	return check_done();
}
