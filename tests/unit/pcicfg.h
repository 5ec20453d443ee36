/* PCI configuration mechanism #1 (0xcf8 address, 0xcfc data) through a test's port bus, as
 * a guest's driver uses it: for the unit tests of the PCI host bridge and virtio-pci. */
#ifndef VSRV_TESTS_UNIT_PCICFG_H
#define VSRV_TESTS_UNIT_PCICFG_H

#include <stdint.h>

#include "vmm/bus.h"

static inline uint32_t pcicfg_read(struct bus *pio, unsigned slot, unsigned off, unsigned len)
{
	uint32_t a = 0x80000000u | slot << 11 | (off & 0xfc), v = 0;

	bus_dispatch(pio, 0xcf8, (uint8_t *)&a, 4, true);
	bus_dispatch(pio, 0xcfc + (off & 3), (uint8_t *)&v, len, false);
	return v;
}

static inline void pcicfg_write(struct bus *pio, unsigned slot, unsigned off, unsigned len,
				uint32_t v)
{
	uint32_t a = 0x80000000u | slot << 11 | (off & 0xfc);

	bus_dispatch(pio, 0xcf8, (uint8_t *)&a, 4, true);
	bus_dispatch(pio, 0xcfc + (off & 3), (uint8_t *)&v, len, true);
}

#endif
