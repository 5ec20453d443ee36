/* libFuzzer target: the e1000 transmit descriptor walker (src/devices/e1000_tx.c) on random
 * rings. Input: bytes 0-3 = the ring's guest address (TDBA), 4-7 = its length (TDLEN), 8-9
 * = TDH, 10-11 = TDT, 12 = flags (bit 0: CTRL.VME), 13-15 unused, 16.. = the offload
 * context left by earlier packets (struct e1000_txctx, 16 bytes), 32.. = guest memory from
 * address 0 (the ring usually at 0, buffers anywhere). Guest memory comes from malloc (64
 * KiB) so ASan catches any access outside it; every frame sent is read in full, as a
 * backend would. The walk runs twice: the second finds nothing new to do when the first
 * took everything. */
#include "devices/e1000.h"
#include "vmm/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MEM (64 << 10)

static struct guest_mem fmem;
static uint8_t *buf, *seg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static int sink(void *opaque, const uint8_t *frame, size_t len)
{
	volatile uint8_t x = 0;

	for (size_t i = 0; i < len; i++)
		x ^= frame[i];
	(*(unsigned *)opaque)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct e1000_txctx ctx;
	struct e1000_tx t;
	unsigned sent = 0;
	size_t n;

	if (!fmem.host) {
		fmem.host = malloc(FUZZ_MEM);
		fmem.size = fmem.low_size = FUZZ_MEM;
		buf = malloc(E1000_TX_MAX);
		seg = malloc(E1000_TX_MAX);
	}
	if (size < 32)
		return 0;
	memset(fmem.host, 0, FUZZ_MEM);
	n = size - 32 < FUZZ_MEM ? size - 32 : FUZZ_MEM;
	memcpy(fmem.host, data + 32, n);
	memcpy(&ctx, data + 16, sizeof(ctx) < 16 ? sizeof(ctx) : 16);
	memset(&t, 0, sizeof(t));
	t.mem = &fmem;
	t.base = get32(data);
	t.len = get32(data + 4);
	t.head = (uint32_t)(data[8] | data[9] << 8);
	t.tail = (uint32_t)(data[10] | data[11] << 8);
	t.vet = 0x8100;
	t.vme = data[12] & 1;
	t.ctx = &ctx;
	t.send = sink;
	t.opaque = &sent;
	t.buf = buf;
	t.seg = seg;
	if (e1000_tx_run(&t) == 0) {
		uint32_t head = t.head;

		if (t.head >= t.len / 16)
			abort(); /* the head left the ring */
		e1000_tx_run(&t);
		if (head == t.tail && t.head != head)
			abort(); /* nothing was left, yet the second walk moved */
	}
	return 0;
}
