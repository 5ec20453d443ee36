/* vnet: virtio-net over virtio-mmio or virtio-pci. Modes (mode=...):
 *   dhcp  DHCPDISCOVER, OFFER, REQUEST, ACK with the network's DHCP server (`--net user`
 *         or QEMU's -netdev user): prints `vnet: dhcp lease A.B.C.D from S.S.S.S`.
 *   echo  sends every frame of ethertype 0x88b5 back to its sender until `count` numbered
 *         frames (not the sender's probes) went back.
 *   send  sends `count` frames of `size` bytes (ethertype 0x88b5, broadcast) with up to `window`
 *         unanswered, checks every echo (sequence number and payload), and prints the rate:
 *         `vnet: sent N frames of S bytes, all echoed, P pps, M Mbit/s`.
 * The sender repeats its first frame until the first echo arrives (the peer may boot later).
 * Parameters: transport=mmio|pci, mode, count=N (default 1000), size=N (60..1514, default
 * 1514), window=N (default 32), wait=SECONDS for the peer (default 20). */
#include "rt/rt.h"
#include "virtio/vio.h"

#define NRX 64
#define NTX 64
#define BUFSZ 2048
#define HDR 12 /* virtio_net_hdr_v1 */
#define ETH_TEST 0x88b5

static struct vdev dev;
static struct vq rxq, txq;
static uint8_t *rxbuf[NRX], *txbuf[NTX];
static uint8_t mac[6];
static unsigned tx_free[NTX], ntx_free;

static void tx_reclaim(void);

static void rx_post(uint8_t *b)
{
	struct vio_sg sg = { (uint64_t)b, BUFSZ };
	if (vq_add(&rxq, &sg, 0, 1, b) < 0)
		rt_fail("vnet: rx ring full");
}

/* Frame `len` bytes (Ethernet header on) into a free tx buffer and queue it; reclaims done ones. */
static void tx(const uint8_t *frame, unsigned len)
{
	uint8_t *b;
	uint64_t end = rt_rdtsc() + 5000 * vio_tsc_per_ms;
	tx_reclaim();
	if (!ntx_free)
		vq_kick(&txq);
	while (!ntx_free) {
		tx_reclaim();
		if (rt_rdtsc() > end)
			rt_fail("vnet: transmit ring stuck");
	}
	b = txbuf[tx_free[--ntx_free]];
	memset(b, 0, HDR);
	memcpy(b + HDR, frame, len);
	struct vio_sg sg = { (uint64_t)b, HDR + len };
	if (vq_add(&txq, &sg, 1, 0, b) < 0)
		rt_fail("vnet: tx ring full");
}

static void tx_reclaim(void)
{
	uint8_t *b;
	while ((b = vq_get(&txq, NULL)) != NULL)
		for (unsigned i = 0; i < NTX; i++)
			if (txbuf[i] == b)
				tx_free[ntx_free++] = i;
}

/* Next received frame (without the virtio header) or NULL within ms; repost with rx_post. */
static uint8_t *rx(uint32_t *len, unsigned ms)
{
	uint64_t end = rt_rdtsc() + (uint64_t)ms * vio_tsc_per_ms;
	uint8_t *b;
	do {
		tx_reclaim();
		if ((b = vq_get(&rxq, len)) != NULL) {
			*len -= HDR;
			return b;
		}
	} while (rt_rdtsc() < end);
	return NULL;
}

static uint16_t csum(const uint8_t *p, unsigned n)
{
	uint32_t s = 0;
	for (unsigned i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static unsigned dhcp_frame(uint8_t *f, int type, const uint8_t *req_ip, const uint8_t *server)
{
	unsigned o = 42 + 240;
	memset(f, 0, 600);
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x08;
	uint8_t *ip = f + 14, *udp = f + 34, *bp = f + 42;
	bp[0] = 1; bp[1] = 1; bp[2] = 6;
	bp[4] = 0x56; bp[5] = 0x53; bp[6] = 0x52; bp[7] = 0x56; /* xid */
	memcpy(bp + 28, mac, 6);
	bp[236] = 99; bp[237] = 130; bp[238] = 83; bp[239] = 99;
	f[o++] = 53; f[o++] = 1; f[o++] = (uint8_t)type;
	if (req_ip) {
		f[o++] = 50; f[o++] = 4; memcpy(f + o, req_ip, 4); o += 4;
		f[o++] = 54; f[o++] = 4; memcpy(f + o, server, 4); o += 4;
	}
	f[o++] = 255;
	unsigned udp_len = o - 34;
	ip[0] = 0x45; ip[2] = (uint8_t)((o - 14) >> 8); ip[3] = (uint8_t)(o - 14);
	ip[8] = 64; ip[9] = 17;
	memset(ip + 16, 0xff, 4);
	uint16_t c = csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8); ip[11] = (uint8_t)c;
	udp[1] = 68; udp[3] = 67; udp[4] = (uint8_t)(udp_len >> 8); udp[5] = (uint8_t)udp_len;
	return o;
}

/* Wait for a DHCP reply of `type` (2 OFFER, 5 ACK); fills yiaddr and the server id. */
static int dhcp_wait(int type, uint8_t *yi, uint8_t *server)
{
	uint64_t end = rt_rdtsc() + 3000 * vio_tsc_per_ms;
	uint32_t len;
	while (rt_rdtsc() < end) {
		uint8_t *b = rx(&len, 100);
		if (!b)
			continue;
		uint8_t *f = b + HDR;
		int ok = 0;
		if (len > 42 + 240 && f[12] == 8 && f[13] == 0 && f[23] == 17 && f[36] == 0 && f[37] == 68 &&
		    f[42] == 2 && !memcmp(f + 42 + 4, "\x56\x53\x52\x56", 4)) {
			for (unsigned o = 42 + 240; o + 2 < len && f[o] != 255; o += f[o] ? 2u + f[o + 1] : 1u) {
				if (f[o] == 53 && f[o + 2] == type)
					ok = 1;
				if (f[o] == 54 && f[o + 1] == 4)
					memcpy(server, f + o + 2, 4);
			}
			memcpy(yi, f + 42 + 16, 4);
		}
		rx_post(b);
		vq_kick(&rxq);
		if (ok)
			return 0;
	}
	return -1;
}

static void mode_dhcp(void)
{
	uint8_t f[600], yi[4], server[4] = { 0 };
	int tries;
	for (tries = 0; tries < 3; tries++) {
		tx(f, dhcp_frame(f, 1, NULL, NULL));
		vq_kick(&txq);
		if (dhcp_wait(2, yi, server) == 0)
			break;
	}
	if (tries == 3)
		rt_fail("vnet: no DHCPOFFER");
	rt_printf("vnet: dhcp offer %u.%u.%u.%u\n", yi[0], yi[1], yi[2], yi[3]);
	tx(f, dhcp_frame(f, 3, yi, server));
	vq_kick(&txq);
	if (dhcp_wait(5, yi, server) < 0)
		rt_fail("vnet: no DHCPACK");
	rt_printf("vnet: dhcp lease %u.%u.%u.%u from %u.%u.%u.%u\n", yi[0], yi[1], yi[2], yi[3], server[0], server[1],
		  server[2], server[3]);
}

static int is_test(const uint8_t *f, uint32_t len)
{
	return len >= 60 && f[12] == (ETH_TEST >> 8) && f[13] == (ETH_TEST & 0xff);
}

static void mode_echo(unsigned count)
{
	unsigned n = 0;
	uint32_t len;
	uint64_t wait = rt_param_u64("wait", 20) * 1000;
	while (n < count) {
		uint8_t *b = rx(&len, (unsigned)wait);
		if (!b)
			rt_fail("vnet: echo: %u of %u frames, then nothing", n, count);
		uint8_t *f = b + HDR;
		if (is_test(f, len) && memcmp(f + 6, mac, 6)) {
			uint8_t out[1514];
			memcpy(out, f + 6, 6);
			memcpy(out + 6, mac, 6);
			memcpy(out + 12, f + 12, len - 12);
			tx(out, len);
			uint32_t seq;
			memcpy(&seq, f + 14, 4);
			n += seq != 0xffffffffu; /* the sender's probes do not count */
		}
		rx_post(b);
		vq_kick(&rxq);
		vq_kick(&txq);
		wait = 5000;
	}
	/* Let the device finish sending before the VM ends (a monitor may drop queued frames). */
	vq_kick(&txq);
	uint64_t end = rt_rdtsc() + 2000 * vio_tsc_per_ms;
	while (ntx_free < NTX && ntx_free < txq.size && rt_rdtsc() < end)
		tx_reclaim();
	end = rt_rdtsc() + 100 * vio_tsc_per_ms;
	while (rt_rdtsc() < end)
		rt_pause();
	rt_printf("vnet: echoed %u frames\n", n);
}

static void test_frame(uint8_t *f, unsigned size, uint32_t seq)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = ETH_TEST >> 8; f[13] = ETH_TEST & 0xff;
	memcpy(f + 14, &seq, 4);
	for (unsigned i = 18; i < size; i++)
		f[i] = (uint8_t)(seq + i);
}

static void mode_send(unsigned count)
{
	unsigned size = (unsigned)rt_param_u64("size", 1514), window = (unsigned)rt_param_u64("window", 32);
	uint64_t wait = rt_param_u64("wait", 20) * 1000, t0 = 0, end;
	uint32_t sent = 0, got = 0, len;
	uint8_t f[1514];

	if (size < 60 || size > 1514)
		size = 1514;
	if (window < 1 || window > NTX / 2)
		window = 32;
	/* Until the peer answers: the first frame, every 100 ms. */
	end = rt_rdtsc() + wait * vio_tsc_per_ms;
	for (;;) {
		test_frame(f, size, 0xffffffffu);
		tx(f, size);
		vq_kick(&txq);
		uint8_t *b = rx(&len, 100);
		int answered = 0;
		if (b) {
			answered = is_test(b + HDR, len) && !memcmp(b + HDR, mac, 6);
			rx_post(b);
			vq_kick(&rxq);
		}
		if (answered)
			break;
		if (rt_rdtsc() > end)
			rt_fail("vnet: send: the peer never answered");
	}
	t0 = rt_rdtsc();
	while (got < count) {
		while (sent < count && sent - got < window) {
			test_frame(f, size, sent++);
			tx(f, size);
		}
		vq_kick(&txq);
		uint8_t *b = rx(&len, 5000);
		if (!b)
			rt_fail("vnet: send: %u of %u echoes, then nothing", got, count);
		uint8_t *r = b + HDR;
		if (is_test(r, len) && !memcmp(r, mac, 6)) {
			uint32_t seq;
			memcpy(&seq, r + 14, 4);
			if (seq != 0xffffffffu) {
				if (seq != got || len != size)
					rt_fail("vnet: echo %u: sequence %u length %u", got, seq, len);
				test_frame(f, size, seq);
				if (memcmp(r + 14, f + 14, size - 14))
					rt_fail("vnet: echo %u: payload differs", seq);
				got++;
			}
		}
		rx_post(b);
		vq_kick(&rxq);
	}
	uint64_t us = (rt_rdtsc() - t0) * 1000 / vio_tsc_per_ms;
	if (!us)
		us = 1;
	rt_printf("vnet: sent %u frames of %u bytes, all echoed, %lu pps, %lu Mbit/s (round trips, window %u, %lu kicks)\n",
		  count, size, (unsigned long)(2ull * count * 1000000 / us),
		  (unsigned long)(2ull * count * size * 8 / us), window, (unsigned long)(txq.kicks + rxq.kicks));
}

static long run(long arg)
{
	char mode[16] = "dhcp";
	unsigned count = (unsigned)rt_param_u64("count", 1000), i;
	(void)arg;

	rt_param("mode", mode, sizeof(mode));
	if (vio_find(VIO_ID_NET, 0, vio_param_transport(), &dev) < 0)
		rt_fail("vnet: no virtio-net device");
	if (vio_negotiate(&dev, 1ull << VIO_F_EVENT_IDX | 1ull << 5 /* MAC */) < 0 ||
	    vq_setup(&dev, &rxq, 0, NRX, 0) < 0 || vq_setup(&dev, &txq, 1, NTX, 0) < 0)
		rt_fail("%s: set-up failed", dev.name);
	for (i = 0; i < 6; i++)
		mac[i] = vio_has(&dev, 5) ? (uint8_t)vio_cfg_read(&dev, i, 1) : (uint8_t)(i ? 0x10 + i : 0x52);
	for (i = 0; i < NRX && i < rxq.size; i++) {
		rxbuf[i] = vio_alloc(BUFSZ, 64);
		rx_post(rxbuf[i]);
	}
	for (i = 0; i < NTX && i < txq.size; i++) {
		txbuf[i] = vio_alloc(BUFSZ, 64);
		tx_free[ntx_free++] = i;
	}
	vio_driver_ok(&dev);
	vq_kick(&rxq);
	rt_printf("vnet: %s, mac %02x:%02x:%02x:%02x:%02x:%02x, mode %s\n", dev.name, mac[0], mac[1], mac[2], mac[3],
		  mac[4], mac[5], mode);
	if (!strcmp(mode, "dhcp"))
		mode_dhcp();
	else if (!strcmp(mode, "echo"))
		mode_echo(count);
	else if (!strcmp(mode, "send"))
		mode_send(count);
	else
		rt_fail("vnet: unknown mode %s", mode);
	if (vio_status(&dev) & VIO_S_NEEDS_RESET)
		rt_fail("%s: device needs reset", dev.name);
	rt_printf("vnet: ok\n");
	return 0;
}

int main(void)
{
	long ret = -1;
	vio_init();
	if (rt_user_call(run, 0, &ret) < 0)
		rt_fail("vnet: ring-3 call failed");
	return (int)ret;
}
