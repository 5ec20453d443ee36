/* A test driver for the e1000 (tests/unit/test_e1000*.c): a guest's memory with its rings,
 * the host bridge and the device's BARs on the buses, register access as a driver does it,
 * descriptor and frame builders, and a backend that records what the device sends and hands
 * frames in through the receive callback (the net backend interface's seam, as user-mode
 * NAT uses it). One device at a time (up/down). */
#ifndef VSRV_TESTS_UNIT_E1000DRV_H
#define VSRV_TESTS_UNIT_E1000DRV_H

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

static inline int cap_send(struct net_backend *b, unsigned q, const struct iovec *iov, int n,
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

static inline int cap_start(struct net_backend *b, net_rx_fn rx, void *nic)
{
	(void)b;
	cap.rx = rx;
	cap.nic = nic;
	return 0;
}

static inline void cap_destroy(struct net_backend *b) { (void)b; }

static inline struct net_backend *cap_backend(void)
{
	cap.n = 0;
	cap.b = (struct net_backend){ .kind = "test", .send = cap_send, .start = cap_start,
				      .destroy = cap_destroy };
	return &cap.b;
}

static inline int irq_line(void *vm, uint32_t gsi, int level)
{
	(void)vm;
	CHECK_EQ(gsi, 11);
	if (level)
		__atomic_fetch_add(&rises, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&line, level, __ATOMIC_RELEASE);
	return 0;
}

/* The interrupt line's level as the VM last saw it (set from the device's threads). */
static inline int lvl(void) { return __atomic_load_n(&line, __ATOMIC_ACQUIRE); }

/* --- a driver --- */

static inline void wr(uint32_t off, uint32_t v) { bus_dispatch(&mmio, bar0 + off, (uint8_t *)&v, 4, true); }
static inline uint32_t rd(uint32_t off)
{
	uint32_t v = 0;

	bus_dispatch(&mmio, bar0 + off, (uint8_t *)&v, 4, false);
	return v;
}

static inline uint32_t cfg_rd(unsigned off)
{
	uint32_t v;

	pci_cfg_access(ph, pci_dev_devfn(e1000_pci(dev)), off, (uint8_t *)&v, 4, false);
	return v;
}

static inline void up(struct net_backend *be)
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
	pci_cfg_access(ph, pci_dev_devfn(e1000_pci(dev)), 4, (uint8_t *)&cmd, 2, true);
	bar0 = cfg_rd(0x10) & ~0xfu;
	bar1 = cfg_rd(0x14) & ~0x3u;
}

static inline void down(void)
{
	pci_host_remove(ph, e1000_pci(dev));
	e1000_destroy(dev);
	pci_host_destroy(ph);
	bus_destroy(&mmio);
	bus_destroy(&pio);
	guest_mem_destroy(mem);
}

static inline uint8_t *g(uint64_t gpa) { return mem->host + gpa; }

/* Linux's Microwire read: CS, start bit and READ opcode (110), 6 address bits, 16 bits out. */
static inline void ee_clock(uint32_t *v, bool rise)
{
	*v = rise ? *v | EECD_SK : *v & ~EECD_SK;
	wr(E1000_EECD, *v);
}

static inline uint16_t ee_read(unsigned word)
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

static inline uint16_t phy_read(unsigned phy, unsigned reg)
{
	wr(E1000_MDIC, MDIC_OP_READ | phy << 21 | reg << 16);
	return rd(E1000_MDIC) & 0xffff;
}

static inline void tx_setup(void)
{
	memset(g(TXR), 0, NDESC * 16);
	wr(E1000_TDBAL, (uint32_t)TXR);
	wr(E1000_TDBAH, 0);
	wr(E1000_TDLEN, NDESC * 16);
	wr(E1000_TDH, 0);
	wr(E1000_TDT, 0);
	wr(E1000_TCTL, TCTL_EN);
}

static inline void rx_setup(uint32_t rctl, unsigned bufs)
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
static inline void txd_legacy(unsigned i, uint64_t addr, uint16_t len, uint8_t cmd, uint8_t cso,
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

static inline void txd_data(unsigned i, uint64_t addr, uint32_t len, uint8_t dcmd, uint8_t popts)
{
	uint8_t *d = g(TXR + i * 16);
	uint32_t w = len | TXD_DTYP_DATA << 20 | (uint32_t)(dcmd | TXD_CMD_DEXT) << 24;

	memset(d, 0, 16);
	memcpy(d, &addr, 8);
	memcpy(d + 8, &w, 4);
	d[13] = popts;
}

static inline void txd_ctx(unsigned i, uint8_t ipcss, uint8_t ipcso, uint16_t ipcse, uint8_t tucss,
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

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t be32(const uint8_t *p) { return (uint32_t)be16(p) << 16 | be16(p + 2); }

static inline uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += be16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static inline uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* An Ethernet + IPv4 + (TCP or UDP) frame at p, payload n bytes of a pattern; returns its
 * length. Checksums are left for the device (the transport one holds what drivers put
 * there: the pseudo-header sum, with the length unless tso). */
static inline size_t ip_frame(uint8_t *p, bool tcp, size_t n, bool tso)
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
static inline bool ip_ok(const uint8_t *f, size_t len)
{
	size_t tot = be16(f + 16);
	uint32_t ps;

	if (14 + tot != len || fold(sum16(0, f + 14, 20)) != 0xffff)
		return false;
	ps = sum16(0, f + 26, 8) + f[23] + (uint32_t)(tot - 20);
	return fold(sum16(ps, f + 34, tot - 20)) == 0xffff;
}

static inline void settle(void) { e1000_sync(dev); }
static inline const uint8_t *rx_frame(unsigned i, uint16_t *len, uint8_t *status, uint8_t *err)
{
	const uint8_t *d = g(RXR + i * 16);

	memcpy(len, d + 8, 2);
	*status = d[12];
	*err = d[13];
	return g(RXB + i * 2048);
}

static inline void inject(const uint8_t *f, size_t len)
{
	cap.rx(cap.nic, f, len);
}

static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline bool wait_line(int want, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (__atomic_load_n(&line, __ATOMIC_ACQUIRE) != want && now_ms() < end)
		usleep(1000);
	return __atomic_load_n(&line, __ATOMIC_ACQUIRE) == want;
}

/* ITR: no more than one rise per interval; RDTR/RADV and TIDV: the causes wait. */

#endif
