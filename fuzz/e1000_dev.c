/* libFuzzer target: the whole e1000 driven by a hostile guest and a hostile network. Input:
 * 256 bytes of transmit ring (16 descriptors at guest address 0), then a sequence of 9-byte
 * operations: op (byte 0 mod 4: 0 register write, 1 register read,
 * 2 a frame from the network, 3 an I/O port access), a 32-bit register offset and a 32-bit
 * value (little-endian); a frame takes its length from the value (mod 2048) and its bytes
 * from the input after the operation. Guest memory (1 MiB from malloc: ASan sees any access
 * outside it) starts zeroed with a transmit and a receive ring set up; every TDT write is
 * served before the next operation. The frames the device sends go to a backend that reads
 * them in full. */
#include "devices/e1000.h"
#include "devices/virtio/net.h"
#include "devices/virtio/virtio.h"
#include "vmm/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MEM (1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static net_rx_fn rx_fn;
static void *rx_nic;

static int be_send(struct net_backend *b, unsigned q, const struct iovec *iov, int n,
		   size_t len)
{
	volatile uint8_t x = 0;

	(void)b;
	(void)q;
	(void)len;
	for (int i = 0; i < n; i++)
		for (size_t j = 0; j < iov[i].iov_len; j++)
			x ^= ((const uint8_t *)iov[i].iov_base)[j];
	return 0;
}

static int be_start(struct net_backend *b, net_rx_fn rx, void *nic)
{
	(void)b;
	rx_fn = rx;
	rx_nic = nic;
	return 0;
}

static void be_destroy(struct net_backend *b) { (void)b; }

static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static void wr(struct e1000 *e, uint32_t off, uint32_t v)
{
	e1000_mmio(e, off, (uint8_t *)&v, 4, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem mem;
	static struct net_backend be = { .kind = "fuzz", .send = be_send, .start = be_start,
					 .destroy = be_destroy };
	struct virtio_host h = { .mem = &mem };
	struct e1000 *e;
	size_t i = 256;

	if (!mem.host) {
		mem.host = malloc(FUZZ_MEM);
		mem.size = mem.low_size = FUZZ_MEM;
	}
	memset(mem.host, 0, FUZZ_MEM);
	if (size < 256)
		return 0;
	memcpy(mem.host, data, 256);
	if (e1000_create(&h, &be, NULL, 5, "e1000-fuzz", &e))
		return 0;
	/* rings a driver would set up: 16 descriptors each, buffers at 64 KiB */
	for (unsigned k = 0; k < 16; k++) {
		uint64_t a = 0x10000 + k * 2048;

		memcpy(mem.host + 0x1000 + k * 16, &a, 8);
	}
	wr(e, E1000_TDBAL, 0);
	wr(e, E1000_TDLEN, 256);
	wr(e, E1000_TCTL, TCTL_EN);
	wr(e, E1000_RDBAL, 0x1000);
	wr(e, E1000_RDLEN, 256);
	wr(e, E1000_RDT, 15);
	wr(e, E1000_RCTL, RCTL_EN | RCTL_UPE | RCTL_MPE | RCTL_BAM);
	wr(e, E1000_IMS, ~0u);
	while (i + 9 <= size) {
		uint8_t op = data[i] & 3;
		uint32_t off = get32(data + i + 1) % E1000_MMIO_SIZE, v = get32(data + i + 5);
		uint8_t buf[4];

		i += 9;
		switch (op) {
		case 0:
			e1000_mmio(e, off & ~3u, (uint8_t *)&v, 4, true);
			if ((off & ~3u) == E1000_TDT)
				e1000_sync(e);
			break;
		case 1: {
			uint32_t len = 1 + (v & 3);

			if ((off & 3) + len > 4)
				len = 1;
			e1000_mmio(e, off, buf, len, false);
			break;
		}
		case 2: {
			size_t n = v % 2048;

			if (n > size - i)
				n = size - i;
			rx_fn(rx_nic, data + i, n);
			i += n;
			break;
		}
		case 3:
			e1000_pio(e, off & 4, (uint8_t *)&v, 4, data[i - 9] & 4);
			break;
		}
	}
	e1000_sync(e);
	e1000_destroy(e);
	return 0;
}
