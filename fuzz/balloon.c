/* libFuzzer target: hostile buffers on virtio-balloon's queues, through the real device
 * (balloon.c, the virtio core and the virtqueue walker) on real guest memory (vmm/mem.c, so
 * inflated and reported pages are really released).
 * Input: byte 0 = bits 0-1: the queue (0 inflate, 1 deflate, 2 statistics, 3 free page
 * reporting), bit 2: the descriptors are device-writable; byte 1 = bits 0-2: the buffer cut
 * into that many + 1 descriptors; the rest is the buffer (PFNs, statistics), or for the
 * reporting queue pairs of little-endian u32 (guest address, length) used as the chain's
 * descriptors as they are. Every chain must complete (the used index moves) or, for a
 * chain the walker refuses, the device must ask for a reset; statistics buffers are held
 * (the previous one completes); the counters must add up (every whole PFN is either taken
 * or refused). The device is reset and set up again when a chain broke it.
 * Built with fuzz/run_corpus.c instead of libFuzzer it replays files: the test suite runs
 * the seed corpus fuzz/corpus/balloon that way under ASan/UBSan (tests/t-balloon-fuzz.sh). */
#include "devices/virtio/balloon.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FMEM (4 << 20)
#define QSZ 16
#define RINGS 0x10000 /* queue q: desc, avail, used at RINGS + q * 0x4000 + 0, 0x1000, 0x2000 */
#define DATA 0x100000
#define MAXBUF 0x10000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem *fmem;
static struct virtio_host fhost;
static struct virtio_balloon *fb;
static uint16_t avail_idx[4];
static bool rings_hit; /* an inflate released ring pages: set everything up again */

static uint64_t ring(unsigned q, unsigned part)
{
	return RINGS + q * 0x4000ULL + part * 0x1000ULL;
}

static void setup(void)
{
	struct vballoon_opts o = { .deflate_on_oom = true, .reporting = true };
	struct virtio_dev *d;
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	if (!fb) {
		if (guest_mem_create(FMEM, &fmem))
			abort();
		fhost.mem = fmem;
		if (virtio_balloon_create(&fhost, &o, "virtio-balloon-fuzz", &fb))
			abort();
	}
	d = virtio_balloon_dev(fb);
	memset(fmem->host + RINGS, 0, 4 * 0x4000);
	memset(avail_idx, 0, sizeof(avail_idx));
	pthread_mutex_lock(&d->lock);
	virtio_dev_set_status(d, 0);
	virtio_dev_set_status(d, s);
	virtio_dev_features_write(d, 0, 0xffffffff);
	virtio_dev_features_write(d, 1, 1); /* VERSION_1; not RING_PACKED: the rings are split */
	virtio_dev_set_status(d, s |= VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < 4; q++) {
		d->vq[q].s.size = QSZ;
		d->vq[q].s.desc_gpa = ring(q, 0);
		d->vq[q].s.avail_gpa = ring(q, 1);
		d->vq[q].s.used_gpa = ring(q, 2);
		virtio_dev_queue_enable(d, q);
	}
	virtio_dev_set_status(d, s | VIRTIO_STATUS_DRIVER_OK);
	pthread_mutex_unlock(&d->lock);
	/* DRIVER_OK kicks every queue once: let the I/O thread find them empty, so that from
	 * now on only this thread serves the queues (nothing notifies them). */
	usleep(20000);
}

static void desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags)
{
	struct virtq_desc *t = (struct virtq_desc *)(fmem->host + ring(q, 0));

	t[i].addr = addr;
	t[i].len = len;
	t[i].flags = flags;
	t[i].next = (uint16_t)(i + 1);
}

/* Whether the PFNs of buf name a page of the rings: the guest then destroys its own rings
 * (an inflated page reads zero), and the device may rightly find them malformed. */
static bool hits_rings(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i + 4 <= len; i += 4) {
		uint32_t pfn;

		memcpy(&pfn, buf + i, 4);
		if (pfn >= RINGS / 4096 && pfn < (RINGS + 4 * 0x4000) / 4096)
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vballoon_info a, z;
	struct virtio_dev *d;
	unsigned q, pieces, n = 0, i;
	uint16_t wr, *avail, used_before;
	size_t len, off = 0, readable = 0;
	uint64_t reported = 0;
	bool report_rings = false;

	if (size < 2)
		return 0;
	if (!fb || !virtio_dev_running(virtio_balloon_dev(fb)) || rings_hit)
		setup();
	rings_hit = false;
	d = virtio_balloon_dev(fb);
	q = data[0] & 3;
	wr = (data[0] & 4) ? VIRTQ_DESC_F_WRITE : 0;
	len = size - 2 < MAXBUF ? size - 2 : MAXBUF;
	if (q == 3) {
		for (i = 0; i + 8 <= len && n < QSZ; i += 8, n++) {
			uint32_t ad, l;

			memcpy(&ad, data + 2 + i, 4);
			memcpy(&l, data + 6 + i, 4);
			desc(q, n, ad, l, wr | VIRTQ_DESC_F_NEXT);
			reported += l;
			if ((uint64_t)ad < RINGS + 4 * 0x4000 && (uint64_t)ad + l > RINGS)
				report_rings = true;
		}
	} else {
		memcpy(fmem->host + DATA, data + 2, len);
		pieces = (data[1] & 7) + 1;
		if (pieces > len)
			pieces = (unsigned)len;
		for (i = 0; i < pieces; i++) {
			size_t p = i + 1 == pieces ? len - off : len / pieces;

			desc(q, n++, DATA + off, (uint32_t)p, wr | VIRTQ_DESC_F_NEXT);
			off += p;
		}
		readable = wr ? 0 : len;
	}
	if (!n)
		return 0;
	((struct virtq_desc *)(fmem->host + ring(q, 0)))[n - 1].flags &= ~VIRTQ_DESC_F_NEXT;
	/* the rings are rewritten each time: an inflated page may have held them */
	avail = (uint16_t *)(fmem->host + ring(q, 1));
	used_before = *(volatile uint16_t *)(fmem->host + ring(q, 2) + 2);
	avail[2 + avail_idx[q] % QSZ] = 0;
	avail_idx[q]++;
	__atomic_store_n(&avail[1], avail_idx[q], __ATOMIC_RELEASE);
	rings_hit = (q == 0 && hits_rings(data + 2, readable)) || report_rings;
	virtio_balloon_info(fb, &a);
	virtio_balloon_serve(fb, q);
	virtio_balloon_info(fb, &z);
	if (!virtio_dev_running(d)) {
		if (q == 1 || q == 2 || (q == 0 && !rings_hit))
			abort(); /* only raw descriptors or an inflated ring may break it */
		return 0; /* set up again by the next input */
	}
	if (z.inflated > z.inflate_pages || z.bad_pfns < a.bad_pfns)
		abort();
	switch (q) {
	case 0:
	case 1:
		if ((z.inflate_pages - a.inflate_pages) + (z.deflate_pages - a.deflate_pages) +
		    (z.bad_pfns - a.bad_pfns) != readable / 4)
			abort(); /* every whole PFN is taken or refused, once */
		break;
	case 2:
		if (z.stats_updates != a.stats_updates + 1)
			abort();
		return 0; /* held: completes with the next statistics buffer */
	case 3:
		if (z.reported < a.reported || z.reported - a.reported > reported)
			abort();
		break;
	}
	/* (an inflate may release its own used ring's page: the device writes the index after) */
	wr = *(volatile uint16_t *)(fmem->host + ring(q, 2) + 2);
	if (wr != (uint16_t)(used_before + 1))
		abort(); /* every chain completes */
	return 0;
}
