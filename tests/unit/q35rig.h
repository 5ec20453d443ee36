/* A firmware-boot chipset built as a VM would build it, without KVM: port and MMIO buses,
 * a device_host that records interrupt levels and stop requests, the PCI host bridge
 * without a fixed ECAM, the q35 MCH registers, the ACPI PM block and the ICH9 LPC bridge.
 * For test_q35.c and test_ich9_lpc.c. */
#ifndef VSRV_TESTS_UNIT_Q35RIG_H
#define VSRV_TESTS_UNIT_Q35RIG_H

#include <stdlib.h>
#include <string.h>

#include "devices/acpi_pm.h"
#include "devices/host.h"
#include "devices/ich9_lpc.h"
#include "devices/pci.h"
#include "devices/q35.h"
#include "pcicfg.h"
#include "vmm/bus.h"

#define RIG_LOW_RAM 0xb0000000ULL   /* RAM below the ECAM SeaBIOS and OVMF choose */

struct rig {
	struct bus pio, mmio;
	struct device_host host;
	struct pci_host *ph;
	struct acpi_pm *pm;
	struct q35_mch *mch;
	struct ich9_lpc *lpc;
	int irq[32];            /* last level per GSI, -1: never set */
	int irq_changes;
	int stop;               /* last request_stop code, -1: none */
	int pam[Q35_PAM_REGIONS];
	int pam_calls;
};

static inline int rig_irq(void *opaque, uint32_t gsi, int level)
{
	struct rig *r = opaque;

	if (gsi < 32)
		r->irq[gsi] = level;
	r->irq_changes++;
	return 0;
}

static inline void rig_stop(void *opaque, int code)
{
	((struct rig *)opaque)->stop = code;
}

static inline void rig_pam(void *opaque, unsigned region, unsigned attr)
{
	struct rig *r = opaque;

	r->pam[region] = (int)attr;
	r->pam_calls++;
}

static inline void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	memset(r->irq, -1, sizeof(r->irq));
	memset(r->pam, -1, sizeof(r->pam));
	r->stop = -1;
	bus_init(&r->pio);
	bus_init(&r->mmio);
	r->host.opaque = r;
	r->host.pio = &r->pio;
	r->host.request_stop = rig_stop;
	r->host.irq_line = rig_irq;
	if (pci_host_create(&r->pio, &r->mmio, 0, 0xe1000000ULL, 0xfe000000ULL, &r->ph) ||
	    acpi_pm_create(&r->host, &r->pm) ||
	    q35_mch_create(r->ph, RIG_LOW_RAM, rig_pam, r, &r->mch) ||
	    ich9_lpc_create(r->ph, &r->host, r->pm, &r->lpc))
		abort();
}

static inline void rig_free(struct rig *r)
{
	ich9_lpc_destroy(r->lpc);
	q35_mch_destroy(r->mch);
	pci_host_destroy(r->ph);
	acpi_pm_destroy(r->pm);
	bus_destroy(&r->mmio);
	bus_destroy(&r->pio);
}

static inline uint32_t mmio_read32(struct rig *r, uint64_t addr, int *ret)
{
	uint32_t v = 0x5a5a5a5a;
	int rc = bus_dispatch(&r->mmio, addr, (uint8_t *)&v, 4, false);

	if (ret)
		*ret = rc;
	return rc ? 0xffffffffu : v;
}

static inline uint32_t inl_(struct rig *r, uint16_t port, unsigned len, int *ret)
{
	uint32_t v = 0;
	int rc = bus_dispatch(&r->pio, port, (uint8_t *)&v, len, false);

	if (ret)
		*ret = rc;
	return rc ? 0xffffffffu : v;
}

static inline void outl_(struct rig *r, uint16_t port, unsigned len, uint32_t v)
{
	bus_dispatch(&r->pio, port, (uint8_t *)&v, len, true);
}

#endif
