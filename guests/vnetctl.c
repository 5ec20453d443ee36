/* vnetctl: virtio-net's control queue and multi-queue, over virtio-mmio or virtio-pci, against
 * the peer program tests/netctl-peer.py on the other end of a TAP. Modes (mode=...):
 *   filter  receive modes and MAC filtering through the control queue: asks the peer for
 *           one frame to each of a list of MAC addresses (foreign, own, a filter-table entry,
 *           multicast in and out of the table, broadcast) and checks which ones arrive:
 *           promiscuous (the reset state), PROMISC off with MAC_TABLE_SET, ALLMULTI, NOBCAST,
 *           then MAC_ADDR_SET (the config space follows; the old address is foreign now).
 *           Prints `vnetctl: filter ok ...`.
 *   mq      two queue pairs: VQ_PAIRS_SET (and out-of-range values refused), UDP flows sent
 *           alternately on transmit queues 0 and 1 and echoed by the peer, flows the peer
 *           starts spread over both receive queues, and after VQ_PAIRS_SET 1 all of them on
 *           receive queue 0. Prints `vnetctl: mq ok ...`.
 * Peer protocol (ethertype 0x88b6, payload: seq u32, op): op 'M' n MAC[n]: one frame to each
 * MAC (payload seq, 'D', index), then an 'E' frame to the requester; op 'F' n: n UDP frames
 * of new flows to the requester, then 'E'. UDP frames to port 7777 come back swapped.
 * Parameters: transport=mmio|pci, mode, wait=SECONDS for the peer (default 20). */
#include "rt/rt.h"
#include "virtio/vio.h"

#define NRX 32
#define NTX 32
#define BUFSZ 2048
#define HDR 12
#define ETH_CTL 0x88b6
#define UDP_PORT 7777

#define F_MAC 5
#define F_CTRL_VQ 17
#define F_CTRL_RX 18
#define F_RX_EXTRA 20
#define F_MQ 22
#define F_MAC_ADDR 23

static struct vdev dev;
static struct vq rxq[2], txq[2], ctlq;
static unsigned npairs;
static uint8_t mac[6];
static uint8_t *txbuf[2][NTX];
static unsigned txfree[2][NTX], ntxfree[2];
static uint8_t *cbuf; /* control command: header at 0, data at 16, ack at 1024 */
static uint32_t seq = 1;

static const uint8_t FOREIGN[6] = { 0x52, 0x54, 0x00, 0xde, 0xad, 0x01 };
static const uint8_t ADDED[6] = { 0x52, 0x54, 0x00, 0xad, 0xde, 0x02 };
static const uint8_t NEWMAC[6] = { 0x52, 0x54, 0x00, 0x56, 0x53, 0x52 };
static const uint8_t MC_IN[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };
static const uint8_t MC_OUT[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfc };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void rx_post(unsigned p, uint8_t *b)
{
	struct vio_sg sg = { (uint64_t)b, BUFSZ };
	if (vq_add(&rxq[p], &sg, 0, 1, b) < 0)
		rt_fail("vnetctl: rx ring %u full", p);
}

static void tx_reclaim(unsigned p)
{
	uint8_t *b;
	while ((b = vq_get(&txq[p], NULL)) != NULL)
		for (unsigned i = 0; i < NTX; i++)
			if (txbuf[p][i] == b)
				txfree[p][ntxfree[p]++] = i;
}

/* Send a frame (Ethernet header on) on transmit queue p. */
static void tx(unsigned p, const uint8_t *frame, unsigned len)
{
	uint64_t end = rt_rdtsc() + 3000 * vio_tsc_per_ms;
	tx_reclaim(p);
	while (!ntxfree[p]) {
		tx_reclaim(p);
		if (rt_rdtsc() > end)
			rt_fail("vnetctl: transmit queue %u stuck", p);
	}
	uint8_t *b = txbuf[p][txfree[p][--ntxfree[p]]];
	memset(b, 0, HDR);
	memcpy(b + HDR, frame, len);
	struct vio_sg sg = { (uint64_t)b, HDR + len };
	if (vq_add(&txq[p], &sg, 1, 0, b) < 0)
		rt_fail("vnetctl: tx ring full");
	vq_kick(&txq[p]);
}

/* Next received frame on any receive queue within ms: the buffer (frame at +HDR), its
 * length without the header and the pair it came on; NULL on time-out. Repost with rx_post. */
static uint8_t *rx(uint32_t *len, unsigned *pair, unsigned ms)
{
	uint64_t end = rt_rdtsc() + (uint64_t)ms * vio_tsc_per_ms;
	do {
		for (unsigned p = 0; p < npairs; p++) {
			uint8_t *b = vq_get(&rxq[p], len);
			if (b) {
				*len -= HDR;
				*pair = p;
				return b;
			}
		}
	} while (rt_rdtsc() < end);
	return NULL;
}

/* One control command; returns the ack (0 OK, 1 ERR). */
static int ctrl(uint8_t cls, uint8_t cmd, const void *data, unsigned len)
{
	struct vio_sg sg[3];
	unsigned n = 0;
	cbuf[0] = cls;
	cbuf[1] = cmd;
	memcpy(cbuf + 16, data, len);
	cbuf[1024] = 0xee;
	sg[n++] = (struct vio_sg){ (uint64_t)cbuf, 2 };
	if (len)
		sg[n++] = (struct vio_sg){ (uint64_t)cbuf + 16, len };
	sg[n++] = (struct vio_sg){ (uint64_t)cbuf + 1024, 1 };
	if (vq_add(&ctlq, sg, n - 1, 1, cbuf) < 0)
		rt_fail("vnetctl: control queue full");
	vq_kick(&ctlq);
	if (vq_wait(&ctlq, NULL, 3000) != cbuf)
		rt_fail("vnetctl: control command %u.%u: no answer", cls, cmd);
	if (cbuf[1024] > 1)
		rt_fail("vnetctl: control command %u.%u: answer %u", cls, cmd, cbuf[1024]);
	return cbuf[1024];
}

static void ctrl_ok(uint8_t cls, uint8_t cmd, const void *data, unsigned len)
{
	if (ctrl(cls, cmd, data, len) != 0)
		rt_fail("vnetctl: control command %u.%u refused", cls, cmd);
}

static void rx_mode(uint8_t cmd, uint8_t on)
{
	ctrl_ok(0, cmd, &on, 1);
}

/* A request to the peer: op and its arguments. */
static void request(uint8_t op, const uint8_t *arg, unsigned alen)
{
	uint8_t f[128];
	memset(f, 0, sizeof(f));
	memcpy(f, BCAST, 6);
	memcpy(f + 6, mac, 6);
	f[12] = ETH_CTL >> 8;
	f[13] = ETH_CTL & 0xff;
	memcpy(f + 14, &seq, 4);
	f[18] = op;
	memcpy(f + 19, arg, alen);
	tx(0, f, 19 + alen < 60 ? 60 : 19 + alen);
}

/* Is b a peer frame of the current request? Returns its kind ('D', 'E') or 0. */
static int peer_frame(const uint8_t *f, uint32_t len)
{
	uint32_t s;
	if (len < 20 || f[12] != (ETH_CTL >> 8) || f[13] != (ETH_CTL & 0xff))
		return 0;
	memcpy(&s, f + 14, 4);
	if (s != seq || (f[18] != 'D' && f[18] != 'E'))
		return 0;
	return f[18];
}

/* Ask the peer for one frame to each of n addresses; returns the mask of those received. */
static unsigned probe(const uint8_t (*macs)[6], unsigned n, unsigned wait_ms)
{
	uint8_t arg[1 + 6 * 8];
	uint64_t end = rt_rdtsc() + (uint64_t)wait_ms * vio_tsc_per_ms;
	unsigned mask = 0, pair;
	uint32_t len;
	arg[0] = (uint8_t)n;
	for (unsigned i = 0; i < n; i++)
		memcpy(arg + 1 + 6 * i, macs[i], 6);
	for (;;) {
		seq++;
		mask = 0;
		request('M', arg, 1 + 6 * n);
		for (;;) {
			uint8_t *b = rx(&len, &pair, 300);
			if (!b)
				break;
			int k = peer_frame(b + HDR, len);
			if (k == 'D' && b[HDR + 19] < n)
				mask |= 1u << b[HDR + 19];
			rx_post(pair, b);
			vq_kick(&rxq[pair]);
			if (k == 'E')
				return mask;
		}
		if (rt_rdtsc() > end)
			rt_fail("vnetctl: the peer does not answer");
	}
}

static void expect(const char *what, const uint8_t (*macs)[6], unsigned n, unsigned want)
{
	unsigned got = probe(macs, n, 3000);
	rt_printf("vnetctl: %s: received 0x%02x\n", what, got);
	if (got != want)
		rt_fail("vnetctl: %s: received 0x%02x, expected 0x%02x", what, got, want);
}

static void mode_filter(void)
{
	uint8_t macs[7][6], tbl[4 + 6 + 4 + 6], old[6];
	uint32_t one = 1;
	uint64_t wait = rt_param_u64("wait", 20) * 1000;

	memcpy(macs[0], FOREIGN, 6);
	memcpy(macs[1], mac, 6);
	memcpy(macs[2], ADDED, 6);
	memcpy(macs[3], MC_IN, 6);
	memcpy(macs[4], MC_OUT, 6);
	memcpy(macs[5], BCAST, 6);
	/* 1. the reset state is promiscuous; also waits for the peer */
	probe(macs, 6, (unsigned)wait);
	expect("promiscuous", macs, 6, 0x3f);
	/* 2. filtering: our address, the table's unicast entry and multicast entry, broadcast */
	rx_mode(0, 0);
	memcpy(tbl, &one, 4);
	memcpy(tbl + 4, ADDED, 6);
	memcpy(tbl + 10, &one, 4);
	memcpy(tbl + 14, MC_IN, 6);
	ctrl_ok(1, 0, tbl, sizeof(tbl));
	expect("filtered", macs, 6, 0x2e);
	rx_mode(1, 1);
	expect("allmulti", macs, 6, 0x3e);
	rx_mode(1, 0);
	rx_mode(5, 1);
	expect("nobcast", macs, 6, 0x0e);
	rx_mode(5, 0);
	/* 3. a new address: the config space shows it, the old one is foreign now */
	memcpy(old, mac, 6);
	ctrl_ok(1, 1, NEWMAC, 6);
	for (unsigned i = 0; i < 6; i++)
		if (vio_cfg_read(&dev, i, 1) != NEWMAC[i])
			rt_fail("vnetctl: config space mac byte %u is %#x after MAC_ADDR_SET", i,
				vio_cfg_read(&dev, i, 1));
	memcpy(mac, NEWMAC, 6);
	memcpy(macs[1], mac, 6);
	memcpy(macs[6], old, 6);
	expect("new mac", macs, 7, 0x2e);
	/* 4. promiscuous again: everything */
	rx_mode(0, 1);
	expect("promiscuous again", macs, 7, 0x7f);
	rt_printf("vnetctl: filter ok\n");
}

static void udp_frame(uint8_t *f, uint16_t sport, uint32_t tag)
{
	memset(f, 0, 64);
	memcpy(f, BCAST, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x08;
	uint8_t *ip = f + 14, *udp = f + 34;
	ip[0] = 0x45; ip[3] = 50; ip[8] = 64; ip[9] = 17;
	ip[12] = 10; ip[15] = 2; ip[16] = 10; ip[19] = 1; /* 10.0.0.2 -> 10.0.0.1 */
	udp[0] = (uint8_t)(sport >> 8); udp[1] = (uint8_t)sport;
	udp[2] = UDP_PORT >> 8; udp[3] = UDP_PORT & 0xff;
	udp[5] = 30;
	memcpy(udp + 8, &tag, 4);
}

/* Whether f is an echo of udp_frame(sport, tag) and which tag. */
static int udp_echo(const uint8_t *f, uint32_t len, uint32_t *tag)
{
	if (len < 46 || f[12] != 0x08 || f[13] != 0 || f[23] != 17 || memcmp(f, mac, 6) ||
	    f[34] != (UDP_PORT >> 8) || f[35] != (UDP_PORT & 0xff)) /* from the echo port */
		return 0;
	memcpy(tag, f + 42, 4);
	return 1;
}

/* The peer starts n new UDP flows to us; counts them per receive queue. The peer's end
 * frame may come before the last flows: the queues are not ordered among themselves. */
static void peer_flows(unsigned n, unsigned *per)
{
	uint8_t arg = (uint8_t)n;
	uint32_t len;
	unsigned pair, got = 0;
	int end = 0;
	per[0] = per[1] = 0;
	seq++;
	request('F', &arg, 1);
	while (!end || got < n) {
		uint8_t *b = rx(&len, &pair, 3000);
		if (!b)
			rt_fail("vnetctl: peer flows: %u of %u%s, then nothing", got, n,
				end ? " and the end" : "");
		const uint8_t *f = b + HDR;
		uint32_t s;
		end |= peer_frame(f, len) == 'E';
		if (len >= 46 && f[12] == 0x08 && f[23] == 17 && f[36] == 0x23 && f[37] == 0x28) {
			memcpy(&s, f + 42, 4);
			if (s == seq) {
				per[pair]++;
				got++;
			}
		}
		rx_post(pair, b);
		vq_kick(&rxq[pair]);
	}
}

static void mode_mq(void)
{
	uint16_t maxp = (uint16_t)vio_cfg_read(&dev, 8, 2), p;
	uint8_t f[64];
	uint32_t len, tag, seen = 0;
	unsigned pair, per_rx[2] = { 0, 0 }, same = 0, flows[2], flows1[2];
	uint64_t wait = rt_param_u64("wait", 20) * 1000, end;

	p = (uint16_t)(maxp + 1);
	if (ctrl(4, 0, &p, 2) != 1)
		rt_fail("vnetctl: VQ_PAIRS_SET %u accepted", p);
	p = 0;
	if (ctrl(4, 0, &p, 2) != 1)
		rt_fail("vnetctl: VQ_PAIRS_SET 0 accepted");
	p = 2;
	ctrl_ok(4, 0, &p, 2);
	/* until the peer echoes: a probe flow every 100 ms */
	end = rt_rdtsc() + wait * vio_tsc_per_ms;
	for (;;) {
		udp_frame(f, 3999, 0xffffffffu);
		tx(0, f, 64);
		uint8_t *b = rx(&len, &pair, 100);
		int ok = 0;
		if (b) {
			ok = udp_echo(b + HDR, len, &tag) && tag == 0xffffffffu;
			rx_post(pair, b);
			vq_kick(&rxq[pair]);
		}
		if (ok)
			break;
		if (rt_rdtsc() > end)
			rt_fail("vnetctl: mq: the peer never echoed");
	}
	/* 32 flows, even ones on transmit queue 0, odd ones on 1 */
	for (unsigned i = 0; i < 32; i++) {
		udp_frame(f, (uint16_t)(4000 + i), i);
		tx(i & 1, f, 64);
	}
	while (seen != 0xffffffffu) {
		uint8_t *b = rx(&len, &pair, 3000);
		if (!b)
			rt_fail("vnetctl: mq: echoes 0x%08x, then nothing", seen);
		if (udp_echo(b + HDR, len, &tag) && tag < 32) {
			seen |= 1u << tag;
			per_rx[pair]++;
			same += (tag & 1) == pair;
		}
		rx_post(pair, b);
		vq_kick(&rxq[pair]);
	}
	if (!per_rx[0] || !per_rx[1])
		rt_fail("vnetctl: mq: echoes on receive queues %u/%u: one queue unused", per_rx[0],
			per_rx[1]);
	peer_flows(32, flows);
	if (!flows[0] || !flows[1])
		rt_fail("vnetctl: mq: peer flows on receive queues %u/%u", flows[0], flows[1]);
	p = 1;
	ctrl_ok(4, 0, &p, 2);
	peer_flows(32, flows1);
	if (flows1[1])
		rt_fail("vnetctl: mq: %u frames on receive queue 1 after VQ_PAIRS_SET 1", flows1[1]);
	rt_printf("vnetctl: mq ok: %u pairs; 32 echoes on receive queues %u/%u (%u on the pair "
		  "they left from); peer flows %u/%u; one pair: %u/%u\n", maxp, per_rx[0], per_rx[1],
		  same, flows[0], flows[1], flows1[0], flows1[1]);
}

static long run(long arg)
{
	char mode[16] = "filter";
	int mq;
	uint64_t want;
	(void)arg;

	rt_param("mode", mode, sizeof(mode));
	mq = !strcmp(mode, "mq");
	if (vio_find(VIO_ID_NET, 0, vio_param_transport(), &dev) < 0)
		rt_fail("vnetctl: no virtio-net device");
	want = 1ull << VIO_F_EVENT_IDX | 1ull << F_MAC | 1ull << F_CTRL_VQ | 1ull << F_CTRL_RX |
	       1ull << F_RX_EXTRA | 1ull << F_MAC_ADDR | (mq ? 1ull << F_MQ : 0);
	if (vio_negotiate(&dev, want) < 0)
		rt_fail("%s: feature negotiation failed", dev.name);
	if ((dev.features & want) != want)
		rt_fail("%s: the device lacks features %#lx", dev.name,
			(unsigned long)(want & ~dev.features));
	npairs = mq ? 2 : 1;
	uint16_t maxp = mq ? (uint16_t)vio_cfg_read(&dev, 8, 2) : 1;
	if (maxp < npairs)
		rt_fail("%s: max_virtqueue_pairs %u", dev.name, maxp);
	for (unsigned p = 0; p < npairs; p++)
		if (vq_setup(&dev, &rxq[p], (uint16_t)(2 * p), NRX, 0) < 0 ||
		    vq_setup(&dev, &txq[p], (uint16_t)(2 * p + 1), NTX, 0) < 0)
			rt_fail("%s: queue pair %u set-up failed", dev.name, p);
	if (vq_setup(&dev, &ctlq, (uint16_t)(2 * maxp), 8, 0) < 0)
		rt_fail("%s: control queue %u set-up failed", dev.name, 2 * maxp);
	cbuf = vio_alloc(2048, 64);
	for (unsigned p = 0; p < npairs; p++) {
		for (unsigned i = 0; i < NRX && i < rxq[p].size; i++)
			rx_post(p, vio_alloc(BUFSZ, 64));
		for (unsigned i = 0; i < NTX && i < txq[p].size; i++) {
			txbuf[p][i] = vio_alloc(BUFSZ, 64);
			txfree[p][ntxfree[p]++] = i;
		}
	}
	for (unsigned i = 0; i < 6; i++)
		mac[i] = (uint8_t)vio_cfg_read(&dev, i, 1);
	vio_driver_ok(&dev);
	for (unsigned p = 0; p < npairs; p++)
		vq_kick(&rxq[p]);
	rt_printf("vnetctl: %s, mac %02x:%02x:%02x:%02x:%02x:%02x, mode %s, control queue %u\n",
		  dev.name, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], mode, 2 * maxp);
	if (mq)
		mode_mq();
	else if (!strcmp(mode, "filter"))
		mode_filter();
	else
		rt_fail("vnetctl: unknown mode %s", mode);
	if (vio_status(&dev) & VIO_S_NEEDS_RESET)
		rt_fail("%s: device needs reset", dev.name);
	rt_printf("vnetctl: ok\n");
	return 0;
}

int main(void)
{
	long ret = -1;
	vio_init();
	if (rt_user_call(run, 0, &ret) < 0)
		rt_fail("vnetctl: ring-3 call failed");
	return (int)ret;
}
