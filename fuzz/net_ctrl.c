/* libFuzzer target: random commands on virtio-net's control queue, through the real device
 * (net.c, net_ctrl.c, the virtio core and the virtqueue walker) on malloc'd guest memory.
 * Input: byte 0 = the driver's features (bit 0 CTRL_RX, 1 CTRL_RX_EXTRA, 2 CTRL_MAC_ADDR,
 * 3 GUEST_ANNOUNCE, 4 an announcement pending), byte 1 = bits 0-2: the command's readable
 * part cut into that many + 1 descriptors, bit 7: no writable byte for the answer; the rest
 * is the readable part (header and data). Every command must complete (the used index moves)
 * with the device still running; then the receive filter judges a few frames with whatever
 * state the command left. The filter state is reset before each input.
 * Built with fuzz/run_corpus.c instead of libFuzzer it replays files: the test suite runs the
 * seed corpus fuzz/corpus/net_ctrl that way under ASan/UBSan (tests/t-net-ctrl-fuzz.sh). */
#include "devices/virtio/net_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FMEM (1 << 20)
#define QSZ 16
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define CMD 0x10000
#define ACKB 0x20000
#define MAXCMD 0x8000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem fmem;
static struct virtio_host fhost;
static struct virtio_net *fnet;
static uint16_t avail_idx;

static int tb_send(struct net_backend *b, unsigned q, const struct iovec *iov, int n, size_t len)
{
	(void)b; (void)q; (void)iov; (void)n; (void)len;
	return 0;
}

static void tb_destroy(struct net_backend *b)
{
	free(b);
}

static void setup(void)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	struct net_backend *b = calloc(1, sizeof(*b));
	struct virtio_dev *d;

	fmem.host = calloc(1, FMEM);
	fmem.size = fmem.low_size = FMEM;
	fhost.mem = &fmem;
	b->kind = "fuzz";
	b->send = tb_send;
	b->destroy = tb_destroy;
	if (!fmem.host || virtio_net_create(&fhost, b, mac, "virtio-net-fuzz", &fnet))
		abort();
	d = virtio_net_dev(fnet);
	pthread_mutex_lock(&d->lock);
	virtio_dev_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_dev_features_write(d, 0, 0xffffffff);
	virtio_dev_features_write(d, 1, 1); /* VERSION_1; not RING_PACKED: the rings here are split */
	virtio_dev_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			      VIRTIO_STATUS_FEATURES_OK);
	d->vq[2].s.size = QSZ;
	d->vq[2].s.desc_gpa = DESC;
	d->vq[2].s.avail_gpa = AVAIL;
	d->vq[2].s.used_gpa = USED;
	virtio_dev_queue_enable(d, 2);
	virtio_dev_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	pthread_mutex_unlock(&d->lock);
	/* DRIVER_OK kicks every queue once: let the I/O thread find them empty, so that from
	 * now on only this thread serves the control queue (nothing notifies it). */
	usleep(20000);
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags)
{
	struct virtq_desc *t = (struct virtq_desc *)(fmem.host + DESC);

	t[i].addr = addr;
	t[i].len = len;
	t[i].flags = flags;
	t[i].next = (uint16_t)(i + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t frames[5][6] = {
		{ 0x52, 0x54, 0, 0x12, 0x34, 0x56 }, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		{ 0x01, 0x00, 0x5e, 0, 0, 1 }, { 0x52, 0x54, 0, 1, 2, 3 }, { 0x33, 0x33, 0, 0, 0, 1 } };
	struct virtio_dev *d;
	uint64_t feat;
	uint16_t *avail, used_before;
	size_t len, off = 0;
	unsigned pieces, n = 0, i;
	bool noack;

	if (size < 2)
		return 0;
	if (!fnet)
		setup();
	d = virtio_net_dev(fnet);
	feat = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VNET_F_CTRL_VQ | 1ULL << VNET_F_MAC;
	if (data[0] & 1)
		feat |= 1ULL << VNET_F_CTRL_RX;
	if (data[0] & 2)
		feat |= 1ULL << VNET_F_CTRL_RX_EXTRA;
	if (data[0] & 4)
		feat |= 1ULL << VNET_F_CTRL_MAC_ADDR;
	if (data[0] & 8)
		feat |= 1ULL << VNET_F_GUEST_ANNOUNCE;
	pthread_mutex_lock(&d->lock);
	d->st.driver_features = feat;
	vnet_state_reset(fnet);
	if (data[0] & 16)
		fnet->s.cfg.status |= VNET_S_ANNOUNCE;
	pthread_mutex_unlock(&d->lock);
	len = size - 2 < MAXCMD ? size - 2 : MAXCMD;
	memcpy(fmem.host + CMD, data + 2, len);
	pieces = (data[1] & 7) + 1;
	noack = data[1] & 0x80;
	if (pieces > len)
		pieces = (unsigned)len;
	for (i = 0; i < pieces; i++) {
		size_t p = i + 1 == pieces ? len - off : len / pieces;

		desc(n++, CMD + off, (uint32_t)p, VIRTQ_DESC_F_NEXT);
		off += p;
	}
	if (!noack)
		desc(n++, ACKB, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT);
	if (!n)
		return 0;
	((struct virtq_desc *)(fmem.host + DESC))[n - 1].flags &= ~VIRTQ_DESC_F_NEXT;
	avail = (uint16_t *)(fmem.host + AVAIL);
	used_before = *(uint16_t *)(fmem.host + USED + 2);
	avail[2 + avail_idx % QSZ] = 0;
	avail_idx++;
	__atomic_store_n(&avail[1], avail_idx, __ATOMIC_RELEASE);
	vnet_ctrl_serve(fnet);
	if (*(volatile uint16_t *)(fmem.host + USED + 2) != (uint16_t)(used_before + 1))
		abort(); /* every command completes */
	if (!virtio_dev_running(d))
		abort(); /* and none breaks the device */
	for (i = 0; i < 5; i++)
		vnet_rx_accept(fnet, frames[i], 6);
	vnet_rx_accept(fnet, frames[0], 3);
	return 0;
}
