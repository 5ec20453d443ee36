/* libFuzzer target: random rings for the virtqueue walker, split and packed.
 * Input: byte 0 = queue size (split: log2 of it, mod 11; packed: size - 1, so 1..256 and not
 * only powers of two), byte 1 = features (bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2
 * RING_PACKED; packed only: bit 3/4 the device's avail/used wrap counters start flipped),
 * bytes 2-3 = last_avail (packed: modulo the size; used_idx starts equal); the rest is copied
 * to guest address 0 onwards: descriptor table (or ring) at 0, avail ring (driver event
 * suppression) at 0x4000, used ring (device event suppression) at 0x5000, data anywhere.
 * Guest memory comes from malloc so ASan catches any access outside it. Every popped chain
 * is read and written in full, as a device would; packed chains are completed in batches of
 * up to four in reverse order (out of order, as a device may), and every seventh pop is
 * undone once and popped again. */
#include "devices/virtio/virtq.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MEM (1 << 20)

static struct guest_mem fmem;
static struct virtq_elem fel;
static uint8_t scratch[1 << 16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq q;
	bool packed = size >= 2 && (data[1] & 4);
	uint16_t held[4];
	uint32_t held_len[4];
	unsigned i, n, nheld = 0, pops = 0;
	int ret;

	if (!fmem.host) {
		fmem.host = calloc(1, FUZZ_MEM);
		fmem.size = fmem.low_size = FUZZ_MEM;
	}
	if (size < 4)
		return 0;
	memset(fmem.host, 0, 0x8000);
	n = size - 4 < FUZZ_MEM ? size - 4 : FUZZ_MEM;
	memcpy(fmem.host, data + 4, n);
	virtq_init(&q, &fmem, "fuzz");
	virtq_reset(&q, packed ? data[0] + 1u : 1u << (data[0] % 11));
	q.s.packed = packed;
	q.s.desc_gpa = 0;
	q.s.avail_gpa = 0x4000;
	q.s.used_gpa = 0x5000;
	q.s.last_avail = data[2] | data[3] << 8;
	if (packed) {
		q.s.last_avail %= q.s.size;
		q.s.wrapped = (data[1] & 8 ? VIRTQ_WRAPPED_AVAIL : 0) |
			      (data[1] & 16 ? VIRTQ_WRAPPED_USED : 0);
	}
	q.s.used_idx = q.s.last_avail;
	if (virtq_enable(&q, data[1] & 1, data[1] & 2))
		return 0;
	for (i = 0; i < 2 * VIRTQ_MAX_SIZE; i++) {
		size_t got, put;

		ret = virtq_pop(&q, &fel);
		if (ret == 0 && virtq_arm(&q))
			ret = virtq_pop(&q, &fel);
		if (ret > 0 && packed && ++pops % 7 == 0) {
			virtq_unpop(&q);
			ret = virtq_pop(&q, &fel);
		}
		if (ret <= 0)
			break;
		got = virtq_elem_read(&fel, 0, scratch, sizeof(scratch));
		put = virtq_elem_write(&fel, 0, scratch, got);
		/* Touch every byte of every buffer the walker handed out. */
		for (unsigned k = 0; k < (unsigned)fel.n_out + fel.n_in; k++)
			if (fel.iov[k].iov_len)
				((volatile uint8_t *)fel.iov[k].iov_base)[fel.iov[k].iov_len - 1] ^= 0;
		if (!packed) {
			virtq_push(&q, fel.head, put);
			virtq_should_notify(&q);
			continue;
		}
		held[nheld] = fel.head;
		held_len[nheld++] = (uint32_t)put;
		if (nheld == 4 || !virtq_has_avail(&q)) {
			while (nheld--)
				virtq_push(&q, held[nheld], held_len[nheld]);
			nheld = 0;
			virtq_should_notify(&q);
		}
	}
	while (packed && nheld--)
		virtq_push(&q, held[nheld], held_len[nheld]);
	return 0;
}
