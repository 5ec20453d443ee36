/* libFuzzer target: a hostile guest driving the firmware-boot chipset: the CFI flash
 * (devices/pflash.c, 15 blocks over a memfd), the q35 MCH registers and the ICH9 LPC
 * bridge (devices/q35.c, ich9_lpc.c) through configuration mechanism #1 and ECAM, the ACPI
 * PM block wherever the guest moves it, the reset register and the CMOS (devices/rtc.c) on
 * the port bus. The input is a list of operations, each one byte (the low 3 bits) and its
 * operands (little-endian):
 *   0 flash write OFF(2) W(1) DATA(8): W & 3 selects 1, 2, 4 or 8 bytes
 *   1 flash read OFF(2) W(1)
 *   2 port write PORT(2) W(1) VAL(4): W & 3 selects 1, 2 or 4 bytes (3: 4)
 *   3 port read PORT(2) W(1)
 *   4 MMIO write ADDR(4) W(1) VAL(4), into 0xa0000000-0xffffffff (ECAM wherever it is)
 *   5 MMIO read ADDR(4) W(1)
 *   6 restore the flash, the MCH and the LPC from the next bytes (their state structs:
 *     refused or loaded), then save them again
 *   7 the power button
 * Port operations reach 0xcf8/0xcfc (config space of 00:00.0 and 00:1f.0), 0xcf9, the
 * CMOS and the PM block. Seeds in fuzz/corpus/chipset (tests/t-chipset-fuzz.sh). */
#include "devices/acpi_pm.h"
#include "devices/host.h"
#include "devices/ich9_lpc.h"
#include "devices/pci.h"
#include "devices/pflash.h"
#include "devices/q35.h"
#include "devices/rtc.h"
#include "vmm/bus.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FLASH_SIZE (15 * PFLASH_BLOCK_SIZE)  /* 16-bit offsets reach past its end */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

static int irq_line(void *o, uint32_t gsi, int level) { (void)o; sink += gsi + level; return 0; }
static void request_stop(void *o, int code) { (void)o; sink += (unsigned)code; }
static void on_mode(void *o, bool array) { (void)o; sink += array; }
static void on_pam(void *o, unsigned r, unsigned a) { (void)o; sink += r * a; }

static uint32_t le(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int memfd = -1;
	static char path[64];
	struct device_host host = { 0 };
	struct bus pio, mmio;
	struct pci_host *ph;
	struct acpi_pm *pm;
	struct q35_mch *mch;
	struct ich9_lpc *lpc;
	struct rtc *rtc;
	struct pflash *pf;
	size_t i = 0;

	if (memfd < 0) {
		memfd = memfd_create("chipset-fuzz-flash", 0);
		if (memfd < 0 || ftruncate(memfd, FLASH_SIZE))
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	bus_init(&pio);
	bus_init(&mmio);
	host.pio = &pio;
	host.irq_line = irq_line;
	host.request_stop = request_stop;
	if (pci_host_create(&pio, &mmio, 0, 0xe1000000ULL, 0xfe000000ULL, &ph) ||
	    acpi_pm_create(&host, &pm) || q35_mch_create(ph, 0xb0000000ULL, on_pam, NULL, &mch) ||
	    ich9_lpc_create(ph, &host, pm, &lpc) ||
	    rtc_create(&host, 0xb0000000ULL, 1ULL << 30, &rtc) ||
	    pflash_open(path, NULL, on_mode, NULL, &pf))
		abort();
	rtc_cmos_firmware(rtc, 2);

	while (i < size) {
		static const unsigned widths[4] = { 1, 2, 4, 4 };
		uint8_t op = data[i++] & 7, b[8];
		size_t need = op == 0 ? 11 : op == 1 ? 3 : op == 2 ? 7 : op == 3 ? 3 :
			      op == 4 ? 9 : op == 5 ? 5 : op == 6 ?
			      sizeof(struct pflash_state) + sizeof(struct q35_mch_state) +
			      sizeof(struct ich9_lpc_state) : 0;
		uint32_t w;
		uint64_t a;

		if (size - i < need)
			break;
		switch (op) {
		case 0:
			w = 1u << (data[i + 2] & 3);
			memcpy(b, data + i + 3, 8);
			pflash_io(pf, le(data + i, 2) % (FLASH_SIZE + 16), b, w, true);
			break;
		case 1:
			w = 1u << (data[i + 2] & 3);
			pflash_io(pf, le(data + i, 2) % (FLASH_SIZE + 16), b, w, false);
			sink += b[0];
			break;
		case 2:
			w = widths[data[i + 2] & 3];
			memcpy(b, data + i + 3, 4);
			bus_dispatch(&pio, le(data + i, 2), b, w, true);
			break;
		case 3:
			w = widths[data[i + 2] & 3];
			bus_dispatch(&pio, le(data + i, 2), b, w, false);
			sink += b[0];
			break;
		case 4:
			a = 0xa0000000ULL + le(data + i, 4) % 0x60000000ULL;
			w = widths[data[i + 4] & 3];
			memcpy(b, data + i + 5, 4);
			bus_dispatch(&mmio, a, b, w, true);
			break;
		case 5:
			a = 0xa0000000ULL + le(data + i, 4) % 0x60000000ULL;
			w = widths[data[i + 4] & 3];
			bus_dispatch(&mmio, a, b, w, false);
			sink += b[0];
			break;
		case 6: {
			struct pflash_state fs;
			struct q35_mch_state ms;
			struct ich9_lpc_state ls;
			const uint8_t *p = data + i;

			memcpy(&fs, p, sizeof(fs));
			memcpy(&ms, p + sizeof(fs), sizeof(ms));
			memcpy(&ls, p + sizeof(fs) + sizeof(ms), sizeof(ls));
			sink += (unsigned)pflash_restore(pf, &fs) + (unsigned)q35_mch_restore(mch, &ms) +
				(unsigned)ich9_lpc_restore(lpc, &ls);
			pflash_save(pf, &fs);
			q35_mch_save(mch, &ms);
			ich9_lpc_save(lpc, &ls);
			break;
		}
		case 7:
			acpi_pm_power_button(pm);
			break;
		}
		i += need;
	}
	pflash_close(pf);
	rtc_destroy(rtc);
	ich9_lpc_destroy(lpc);
	q35_mch_destroy(mch);
	pci_host_destroy(ph);
	acpi_pm_destroy(pm);
	bus_destroy(&mmio);
	bus_destroy(&pio);
	return 0;
}
