/* libFuzzer target: a hostile driver of the virtio-input keyboard and tablet
 * (devices/virtio/input.c, the virtio core and the virtqueue walker) on calloc'd guest
 * memory, with the front-end's keys and pointer events in between. The input is a list of
 * operations, each one byte (the low 3 bits; bit 3 picks the queue or the device) and its
 * operands:
 *   0 config write OFF(1) VAL(1)      1 config read OFF(1) LEN(1) (1, 2, 4 or 8)
 *   2 a chain on the eventq (bit 3: the statusq): HEAD(1) N(1, 1..4) then per descriptor
 *     ADDR(2, times 16; bit 15 of LEN: far outside memory) LEN(2) FLAGS(1) NEXT(1), raw
 *     into the descriptor table; the avail index moves on and the queue is served
 *   3 a key CODE(2) (bit 15: up) on the keyboard
 *   4 a tablet event X(2) Y(2) BUTTONS(1)
 *   5 serve both queues of the device
 *   6 the driver resets the device and sets it up again
 *   7 save the device and restore the state into it
 * The device may give up on a ring (NEEDS_RESET) but must never crash, hang or hold more
 * than VINPUT_PENDING events (checked after each input); a saved state always restores. Seeds in
 * fuzz/corpus/virtio_input (fuzz/virtio_input_seeds.py); tests/t-virtio-input-fuzz.sh
 * replays them under ASan/UBSan. */
#include "devices/virtio/input.h"
#include "vmm/input.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FMEM (1 << 20)
#define QSZ 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem fmem;
static struct virtio_host fhost;
static struct virtio_input *fdev[2];
static uint16_t avail_idx[2][2];
static struct virtio_input_state fst;

static uint64_t ring(unsigned dev, unsigned q, unsigned part)
{
	return 0x1000 + (dev * 2 + q) * 0x3000 + part * 0x1000; /* desc, avail, used */
}

static void setup_dev(unsigned i)
{
	struct virtio_dev *d = virtio_input_dev(fdev[i]);

	memset(fmem.host + ring(i, 0, 0), 0, 0x6000);
	avail_idx[i][0] = avail_idx[i][1] = 0;
	pthread_mutex_lock(&d->lock);
	virtio_dev_set_status(d, 0);
	virtio_dev_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_dev_features_write(d, 0, 0);
	virtio_dev_features_write(d, 1, 1); /* VERSION_1 only: split rings, no event index */
	virtio_dev_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			      VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < 2; q++) {
		d->vq[q].s.size = QSZ;
		d->vq[q].s.desc_gpa = ring(i, q, 0);
		d->vq[q].s.avail_gpa = ring(i, q, 1);
		d->vq[q].s.used_gpa = ring(i, q, 2);
		virtio_dev_queue_enable(d, q);
	}
	virtio_dev_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	pthread_mutex_unlock(&d->lock);
}

static void setup(void)
{
	fmem.host = calloc(1, FMEM);
	fmem.size = fmem.low_size = FMEM;
	fhost.mem = &fmem;
	if (!fmem.host || virtio_input_create(&fhost, VINPUT_KEYBOARD, "fuzz-kbd", &fdev[0]) ||
	    virtio_input_create(&fhost, VINPUT_TABLET, "fuzz-tablet", &fdev[1]))
		abort();
	setup_dev(0);
	setup_dev(1);
}

static uint32_t le16(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i = 0;

	if (!fmem.host)
		setup();
	setup_dev(0);
	setup_dev(1);
	while (i < size) {
		uint8_t op = data[i] & 7;
		unsigned q = data[i] >> 3 & 1;
		struct virtio_input *in = fdev[data[i] >> 4 & 1];
		struct virtio_dev *d = virtio_input_dev(in);
		struct input_sink s;
		uint8_t b[8];

		i++;
		switch (op) {
		case 0:
			if (size - i < 2)
				goto done;
			pthread_mutex_lock(&d->lock);
			d->ops->config_access(d, data[i] % 160, (uint8_t *)&data[i + 1], 1, true);
			pthread_mutex_unlock(&d->lock);
			i += 2;
			break;
		case 1:
			if (size - i < 2)
				goto done;
			pthread_mutex_lock(&d->lock);
			d->ops->config_access(d, data[i] % 160, b, 1u << (data[i + 1] & 3), false);
			pthread_mutex_unlock(&d->lock);
			i += 2;
			break;
		case 2: {
			unsigned dv = in == fdev[1], head, n;
			struct virtq_desc *t = (struct virtq_desc *)(fmem.host + ring(dv, q, 0));
			uint16_t *avail = (uint16_t *)(fmem.host + ring(dv, q, 1));

			if (size - i < 2)
				goto done;
			head = data[i] % QSZ;
			n = data[i + 1] % 4 + 1;
			i += 2;
			if (size - i < n * 6)
				goto done;
			for (unsigned k = 0; k < n; k++, i += 6) {
				struct virtq_desc *e = &t[(head + k) % QSZ];
				uint32_t len = le16(data + i + 2);

				e->addr = (uint64_t)le16(data + i) * 16 +
					  (len & 0x8000 ? 0xffffffff00000000ULL : 0);
				e->len = len & 0x7fff;
				e->flags = data[i + 4] & 7;
				e->next = data[i + 5] % 32;
			}
			avail[2 + avail_idx[dv][q] % QSZ] = (uint16_t)head;
			avail_idx[dv][q]++;
			__atomic_store_n(&avail[1], avail_idx[dv][q], __ATOMIC_RELEASE);
			virtio_input_serve(in, q);
			break;
		}
		case 3:
			if (size - i < 2)
				goto done;
			virtio_input_sink(fdev[0], &s);
			s.ops->key(s.opaque, le16(data + i) & 0x7fff, !(data[i + 1] & 0x80));
			i += 2;
			break;
		case 4:
			if (size - i < 5)
				goto done;
			virtio_input_sink(fdev[1], &s);
			s.ops->pointer_abs(s.opaque, le16(data + i) * 2, le16(data + i + 2),
					   data[i + 4]);
			i += 5;
			break;
		case 5:
			virtio_input_serve(in, 0);
			virtio_input_serve(in, 1);
			break;
		case 6:
			setup_dev(in == fdev[1]);
			break;
		case 7:
			if (virtio_input_save(in, &fst) || virtio_input_restore(in, &fst))
				abort(); /* a state the device saved restores */
			break;
		}
	}
done:
	for (unsigned k = 0; k < 2; k++)
		if (virtio_input_save(fdev[k], &fst) || fst.count > VINPUT_PENDING ||
		    fst.head >= VINPUT_PENDING)
			abort();
	return 0;
}
