/* The e1000 (82540EM) driven as a driver drives it: PCI config space and BARs through the
 * host bridge, registers through BAR0 (and BAR1's IOADDR/IODATA), descriptor rings and
 * buffers in this test's guest memory. Frames leave through the net backend interface
 * (a backend of this test records what the device sends there and hands frames in
 * through the receive callback, as the user-mode backend does) and, end to end, through
 * the real user-mode NAT (libslirp answers ARP and ping, checking the checksums the
 * device inserted). */
#include "check.h"
#include "devices/e1000.h"
#include "devices/pci.h"
#include "devices/virtio/net.h"
#include "devices/virtio/virtio.h"
#include "vmm/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define MEM (16 << 20)
#define TXR 0x100000ULL   /* transmit ring */
#define RXR 0x101000ULL   /* receive ring */
#define TXB 0x200000ULL   /* transmit buffers */
#define RXB 0x400000ULL   /* receive buffers, 2 KiB each */
#define NDESC 16

static struct guest_mem *mem;
static struct bus pio, mmio;
static struct pci_host *ph;
static struct e1000 *dev;
static struct virtio_host host;
static uint64_t bar0;
static uint32_t bar1;
static int line, rises;

static const uint8_t gmac[6] = { 0x52, 0x54, 0x00, 0xe1, 0x00, 0x01 };

/* --- the recording backend --- */
#define CAP_MAX 64
static struct {
	struct net_backend b;
	pthread_mutex_t lock;
	net_rx_fn rx;
	void *nic;
	int n;
	size_t len[CAP_MAX];
	uint8_t f[CAP_MAX][2048];
} cap = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int cap_send(struct net_backend *b, unsigned q, const struct iovec *iov, int n,
		    size_t len)
{
	size_t off = 0;

	(void)b;
	(void)q;
	pthread_mutex_lock(&cap.lock);
	if (cap.n < CAP_MAX) {
		for (int i = 0; i < n; i++) {
			size_t c = iov[i].iov_len;

			if (off + c > sizeof(cap.f[0]))
				c = off < sizeof(cap.f[0]) ? sizeof(cap.f[0]) - off : 0;
			memcpy(cap.f[cap.n] + off, iov[i].iov_base, c);
			off += iov[i].iov_len;
		}
		cap.len[cap.n++] = len;
	}
	pthread_mutex_unlock(&cap.lock);
	return 0;
}

static int cap_start(struct net_backend *b, net_rx_fn rx, void *nic)
{
	(void)b;
	cap.rx = rx;
	cap.nic = nic;
	return 0;
}

static void cap_destroy(struct net_backend *b) { (void)b; }

static struct net_backend *cap_backend(void)
{
	cap.n = 0;
	cap.b = (struct net_backend){ .kind = "test", .send = cap_send, .start = cap_start,
				      .destroy = cap_destroy };
	return &cap.b;
}

static int irq_line(void *vm, uint32_t gsi, int level)
{
	(void)vm;
	CHECK_EQ(gsi, 11);
	if (level)
		__atomic_fetch_add(&rises, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&line, level, __ATOMIC_RELEASE);
	return 0;
}

/* The interrupt line's level as the VM last saw it (set from the device's threads). */
static int lvl(void) { return __atomic_load_n(&line, __ATOMIC_ACQUIRE); }

/* --- a driver --- */

static void wr(uint32_t off, uint32_t v) { bus_dispatch(&mmio, bar0 + off, (uint8_t *)&v, 4, true); }
static uint32_t rd(uint32_t off)
{
	uint32_t v = 0;

	bus_dispatch(&mmio, bar0 + off, (uint8_t *)&v, 4, false);
	return v;
}

static uint32_t cfg_rd(unsigned off)
{
	uint32_t v;

	pci_cfg_access(ph, e1000_pci(dev)->slot, off, (uint8_t *)&v, 4, false);
	return v;
}

static void up(struct net_backend *be)
{
	uint32_t cmd = PCI_CMD_IO | PCI_CMD_MEM | 4;

	CHECK_EQ(guest_mem_create(MEM, &mem), 0);
	bus_init(&pio);
	bus_init(&mmio);
	CHECK_EQ(pci_host_create(&pio, &mmio, 0xe0000000, 0xe1000000, 0xfe000000, &ph), 0);
	host = (struct virtio_host){ .mem = mem, .mmio = &mmio, .pio = &pio,
				     .irq_line = irq_line };
	line = 0;
	CHECK_EQ(e1000_create(&host, be, gmac, 11, "e1000-0", &dev), 0);
	CHECK_EQ(pci_host_add(ph, e1000_pci(dev)), 0);
	pci_cfg_access(ph, e1000_pci(dev)->slot, 4, (uint8_t *)&cmd, 2, true);
	bar0 = cfg_rd(0x10) & ~0xfu;
	bar1 = cfg_rd(0x14) & ~0x3u;
}

static void down(void)
{
	pci_host_remove(ph, e1000_pci(dev));
	e1000_destroy(dev);
	pci_host_destroy(ph);
	bus_destroy(&mmio);
	bus_destroy(&pio);
	guest_mem_destroy(mem);
}

static uint8_t *g(uint64_t gpa) { return mem->host + gpa; }

/* Linux's Microwire read: CS, start bit and READ opcode (110), 6 address bits, 16 bits out. */
static void ee_clock(uint32_t *v, bool rise)
{
	*v = rise ? *v | EECD_SK : *v & ~EECD_SK;
	wr(E1000_EECD, *v);
}

static uint16_t ee_read(unsigned word)
{
	uint32_t v = EECD_CS, bits = 6u << 6 | word;
	uint16_t d = 0;

	wr(E1000_EECD, v);
	for (int i = 8; i >= 0; i--) {
		v = (bits >> i) & 1 ? v | EECD_DI : v & ~EECD_DI;
		wr(E1000_EECD, v);
		ee_clock(&v, true);
		ee_clock(&v, false);
	}
	v &= ~EECD_DI;
	for (int i = 0; i < 16; i++) {
		ee_clock(&v, true);
		d = (uint16_t)(d << 1 | !!(rd(E1000_EECD) & EECD_DO));
		ee_clock(&v, false);
	}
	wr(E1000_EECD, 0);
	return d;
}

static uint16_t phy_read(unsigned phy, unsigned reg)
{
	wr(E1000_MDIC, MDIC_OP_READ | phy << 21 | reg << 16);
	return rd(E1000_MDIC) & 0xffff;
}

static void tx_setup(void)
{
	memset(g(TXR), 0, NDESC * 16);
	wr(E1000_TDBAL, (uint32_t)TXR);
	wr(E1000_TDBAH, 0);
	wr(E1000_TDLEN, NDESC * 16);
	wr(E1000_TDH, 0);
	wr(E1000_TDT, 0);
	wr(E1000_TCTL, TCTL_EN);
}

static void rx_setup(uint32_t rctl, unsigned bufs)
{
	memset(g(RXR), 0, NDESC * 16);
	for (unsigned i = 0; i < NDESC; i++) {
		uint64_t a = RXB + i * 2048;

		memcpy(g(RXR + i * 16), &a, 8);
	}
	wr(E1000_RDBAL, (uint32_t)RXR);
	wr(E1000_RDBAH, 0);
	wr(E1000_RDLEN, NDESC * 16);
	wr(E1000_RDH, 0);
	wr(E1000_RDT, bufs);
	wr(E1000_RCTL, rctl | RCTL_EN);
}

/* A legacy descriptor at index i. */
static void txd_legacy(unsigned i, uint64_t addr, uint16_t len, uint8_t cmd, uint8_t cso,
		       uint8_t css)
{
	uint8_t *d = g(TXR + i * 16);

	memset(d, 0, 16);
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 2);
	d[10] = cso;
	d[11] = cmd;
	d[13] = css;
}

static void txd_data(unsigned i, uint64_t addr, uint32_t len, uint8_t dcmd, uint8_t popts)
{
	uint8_t *d = g(TXR + i * 16);
	uint32_t w = len | TXD_DTYP_DATA << 20 | (uint32_t)(dcmd | TXD_CMD_DEXT) << 24;

	memset(d, 0, 16);
	memcpy(d, &addr, 8);
	memcpy(d + 8, &w, 4);
	d[13] = popts;
}

static void txd_ctx(unsigned i, uint8_t ipcss, uint8_t ipcso, uint16_t ipcse, uint8_t tucss,
		    uint8_t tucso, uint32_t paylen, uint8_t tucmd, uint8_t hdrlen, uint16_t mss)
{
	uint8_t *d = g(TXR + i * 16);
	uint32_t w = (paylen & 0xfffff) | (uint32_t)(tucmd | TXD_CMD_DEXT) << 24;

	memset(d, 0, 16);
	d[0] = ipcss;
	d[1] = ipcso;
	memcpy(d + 2, &ipcse, 2);
	d[4] = tucss;
	d[5] = tucso;
	memcpy(d + 8, &w, 4);
	d[13] = hdrlen;
	memcpy(d + 14, &mss, 2);
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)be16(p) << 16 | be16(p + 2); }

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += be16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* An Ethernet + IPv4 + (TCP or UDP) frame at p, payload n bytes of a pattern; returns its
 * length. Checksums are left for the device (the transport one holds what drivers put
 * there: the pseudo-header sum, with the length unless tso). */
static size_t ip_frame(uint8_t *p, bool tcp, size_t n, bool tso)
{
	size_t th = tcp ? 20 : 8, len = 14 + 20 + th + n;
	uint32_t ps;

	memset(p, 0, len);
	memcpy(p, "\x52\x54\x00\x99\x99\x99", 6);
	memcpy(p + 6, gmac, 6);
	p[12] = 0x08;
	p[14] = 0x45;
	if (!tso) {
		p[16] = (uint8_t)((20 + th + n) >> 8);
		p[17] = (uint8_t)(20 + th + n);
	}
	p[18] = 0x12; p[19] = 0x34; /* id */
	p[22] = 64;
	p[23] = tcp ? 6 : 17;
	memcpy(p + 26, "\x0a\x00\x02\x0f\x0a\x00\x02\x02", 8);
	p[34] = 0x30; p[35] = 0x39; p[36] = 0x00; p[37] = 0x50; /* ports */
	if (tcp) {
		memcpy(p + 38, "\x00\x01\x00\x00", 4); /* seq 65536 */
		p[46] = 0x50;                          /* data offset 5 */
		p[47] = 0x18;                          /* PSH ACK */
		p[48] = 0xff;
	} else {
		p[38] = (uint8_t)((8 + n) >> 8);
		p[39] = (uint8_t)(8 + n);
	}
	for (size_t i = 0; i < n; i++)
		p[14 + 20 + th + i] = (uint8_t)(i * 7 + 3);
	ps = sum16(0, p + 26, 8) + (tcp ? 6 : 17) + (tso ? 0 : (uint32_t)(th + n));
	ps = fold(ps);
	p[34 + (tcp ? 16 : 6)] = (uint8_t)(ps >> 8);
	p[34 + (tcp ? 17 : 7)] = (uint8_t)ps;
	return len;
}

/* The IPv4 header checksum and the TCP/UDP checksum of frame f verify. */
static bool ip_ok(const uint8_t *f, size_t len)
{
	size_t tot = be16(f + 16);
	uint32_t ps;

	if (14 + tot != len || fold(sum16(0, f + 14, 20)) != 0xffff)
		return false;
	ps = sum16(0, f + 26, 8) + f[23] + (uint32_t)(tot - 20);
	return fold(sum16(ps, f + 34, tot - 20)) == 0xffff;
}

static void settle(void) { e1000_sync(dev); }

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
		unsigned slot = e1000_pci(dev)->slot;
		uint32_t ones = ~0u, old0 = cfg_rd(0x10), old1 = cfg_rd(0x14);

		pci_cfg_access(ph, slot, 0x10, (uint8_t *)&ones, 4, true);
		CHECK_EQ(cfg_rd(0x10), (uint32_t)-E1000_MMIO_SIZE);   /* 128 KiB, 32-bit memory */
		CHECK(rd(E1000_STATUS) == ~0u || rd(E1000_STATUS) == 0); /* not decoded meanwhile */
		pci_cfg_access(ph, slot, 0x14, (uint8_t *)&ones, 4, true);
		CHECK_EQ(cfg_rd(0x14), (uint32_t)-E1000_IO_SIZE | 1);  /* 64 ports */
		CHECK_EQ(cfg_rd(0x18), 0);                              /* BAR2 unused */
		pci_cfg_access(ph, slot, 0x10, (uint8_t *)&old0, 4, true);
		pci_cfg_access(ph, slot, 0x14, (uint8_t *)&old1, 4, true);
		CHECK(rd(E1000_STATUS) & STATUS_LU);
	}
	/* the guest moves BAR1: the ports follow */
	v = 0xd000 | 1;
	pci_cfg_access(ph, e1000_pci(dev)->slot, 0x14, (uint8_t *)&v, 4, true);
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

static const uint8_t *rx_frame(unsigned i, uint16_t *len, uint8_t *status, uint8_t *err)
{
	const uint8_t *d = g(RXR + i * 16);

	memcpy(len, d + 8, 2);
	*status = d[12];
	*err = d[13];
	return g(RXB + i * 2048);
}

static void inject(const uint8_t *f, size_t len)
{
	cap.rx(cap.nic, f, len);
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

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool wait_line(int want, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (__atomic_load_n(&line, __ATOMIC_ACQUIRE) != want && now_ms() < end)
		usleep(1000);
	return __atomic_load_n(&line, __ATOMIC_ACQUIRE) == want;
}

/* ITR: no more than one rise per interval; RDTR/RADV and TIDV: the causes wait. */
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
	RUN(test_quiesce);
	RUN(test_hostile);
	RUN(test_user_ping);
	RUN(test_tap);
	return check_done();
}
