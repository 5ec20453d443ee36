/* libFuzzer target: a hostile guest driving the fw_cfg device (devices/fw_cfg.c) through its
 * ports, DMA above all. Guest RAM is 64 KiB below the hole and 64 KiB at 4 GiB, in one
 * malloc'd block sized exactly, so ASan catches any access outside it. The device has a
 * read-only file, a writable one, legacy and arch keys. The input is a list of operations,
 * each one byte (the low 3 bits) and its operands:
 *   0 select KEY(2)                   1 read N(1) bytes from the data port
 *   2 DMA address ADDR(8), both halves 3 DMA address low half only LOW(4)
 *   4 put an access struct at OFF(2) (bit 15: high RAM) from 16 input bytes
 *   5 copy LEN(1) input bytes to guest RAM at OFF(2) (bit 15: high RAM)
 *   6 restore the device from 16 input bytes (struct fw_cfg_state), then save it again
 *   7 reset
 * Seeds in fuzz/corpus/fw_cfg_dma (tests/t-fw-cfg-fuzz.sh replays them). */
#include "devices/fw_cfg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/host.h"
#include "vmm/bus.h"
#include "vmm/mem.h"

#define PART (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *ram_at(struct guest_mem *m, uint16_t off)
{
	return m->host + (off & 0x8000 ? PART : 0) + (off & 0x7fff) * 2u;
}

static void written(void *opaque, const uint8_t *d, uint32_t off, uint32_t len)
{
	/* touch what the device says it wrote */
	for (uint32_t i = 0; i < len; i++)
		*(volatile uint8_t *)opaque ^= d[off + i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t sink;
	static const uint8_t ro[64] = "read-only file: 0123456789abcdefghijklmnopqrstuvwxyz";
	struct guest_mem mem = { 0 };
	struct device_host host = { 0 };
	struct fw_cfg_state st;
	struct fw_cfg *fw;
	struct bus pio;
	size_t i = 0;

	mem.host = calloc(1, 2 * PART);
	mem.size = 2 * PART;
	mem.low_size = PART;
	bus_init(&pio);
	host.pio = &pio;
	if (!mem.host || fw_cfg_create(&host, &mem, &fw))
		abort();
	if (fw_cfg_add_file(fw, "etc/ro", ro, sizeof(ro)) ||
	    fw_cfg_add_file_writable(fw, "etc/rw", ro, 16, written, &sink) ||
	    fw_cfg_add_file(fw, "etc/empty", NULL, 0) ||
	    fw_cfg_add_i16(fw, FW_CFG_NB_CPUS, 2) || fw_cfg_add_i32(fw, FW_CFG_ARCH_LOCAL | 3, 1))
		abort();

	while (i < size) {
		uint8_t op = data[i++] & 7, b[16];
		size_t need = op == 0 ? 2 : op == 1 ? 1 : op == 2 ? 8 : op == 3 ? 4 : op == 4 ? 18 :
			      op == 5 ? 3 : op == 6 ? 16 : 0;
		uint16_t off;

		if (size - i < need)
			break;
		switch (op) {
		case 0:
			bus_dispatch(&pio, FW_CFG_PORT_SEL, (uint8_t *)data + i, 2, true);
			break;
		case 1:
			for (unsigned n = data[i]; n; n--) {
				bus_dispatch(&pio, FW_CFG_PORT_DATA, b, 1, false);
				sink ^= b[0];
			}
			break;
		case 2:
			memcpy(b, data + i, 8);
			bus_dispatch(&pio, FW_CFG_PORT_DMA, b, 4, true);
			bus_dispatch(&pio, FW_CFG_PORT_DMA + 4, b + 4, 4, true);
			break;
		case 3:
			memcpy(b, data + i, 4);
			bus_dispatch(&pio, FW_CFG_PORT_DMA + 4, b, 4, true);
			break;
		case 4:
			off = (uint16_t)(data[i] | data[i + 1] << 8);
			if ((off & 0x7fff) * 2u + 16 <= PART)
				memcpy(ram_at(&mem, off), data + i + 2, 16);
			break;
		case 5:
			off = (uint16_t)(data[i] | data[i + 1] << 8);
			need += data[i + 2];
			if (size - i < need)
				goto out;
			if ((off & 0x7fff) * 2u + data[i + 2] <= PART)
				memcpy(ram_at(&mem, off), data + i + 3, data[i + 2]);
			break;
		case 6:
			memcpy(&st, data + i, sizeof(st));
			fw_cfg_restore(fw, &st);
			fw_cfg_save(fw, &st);
			break;
		case 7:
			fw_cfg_reset(fw);
			break;
		}
		i += need;
	}
out:
	fw_cfg_destroy(fw);
	bus_destroy(&pio);
	free(mem.host);
	return 0;
}
