/* The ICH9 LPC bridge at 00:1f.0 (8086:2918, an ISA bridge), as SeaBIOS (pciinit.c
 * mch_isa_bridge_setup) and OVMF (PlatformInitLib) program it, with the ICH's reset
 * control register. Only for firmware boot (direct boot has neither).
 *
 *   0x40 PMBASE (32-bit): bits 15:7 the ACPI PM I/O block's base, bit 0 reads 1 (I/O)
 *   0x44 ACPI_CNTL: bit 7 ACPI_EN (the PM block decodes only while set), bits 2:0 the SCI's
 *        IRQ (0: 9, 1: 10, 2: 11, 4-7: 20-23; 3 is reserved and routes to 9)
 *   0x60-0x63, 0x68-0x6b PIRQA-H_ROUT: bit 7 disable, bits 3:0 IRQ (recorded; the VMM's
 *        PCI functions interrupt through MSI-X, legacy INTx routing is not modelled)
 *   0xf0 RCBA (32-bit): bits 31:14 and bit 0 recorded (no chipset configuration registers
 *        are decoded there)
 *   port 0xcf9 RST_CNT: bits 1 (SYS_RST) and 3 (FULL_RST) read back; writing bit 2
 *        (RST_CPU) resets the VM (device_host.request_stop(DEVICE_STOP_RESET)).
 * The PM block (devices/acpi_pm.c) moves in its 128-byte ICH9 layout to PMBASE when
 * ACPI_EN is set and leaves the port bus when it is cleared or PMBASE moves; a base that
 * overlaps other ports (0xcf8, the UART...) or is 0 is refused (logged, the block off).
 *
 * Threads: config accesses run on vCPU threads under the PCI host's lock; 0xcf9 too. */
#ifndef VSRV_DEVICES_ICH9_LPC_H
#define VSRV_DEVICES_ICH9_LPC_H

#include <stdint.h>

#include "devices/pci.h"

struct acpi_pm;
struct device_host;
struct ich9_lpc;

#define ICH9_LPC_PMBASE     0x40
#define ICH9_LPC_ACPI_CNTL  0x44
#define ICH9_LPC_ACPI_EN    0x80
#define ICH9_LPC_PIRQA      0x60
#define ICH9_LPC_PIRQE      0x68
#define ICH9_LPC_RCBA       0xf0
#define ICH9_RST_CNT_PORT   0xcf9
#define ICH9_RST_CPU        0x04

/* The device's whole state: its config space (PMBASE, ACPI_CNTL, PIRQ, RCBA and the
 * header's command register among it) and RST_CNT. */
struct ich9_lpc_state {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t rst_cnt;
	uint8_t reserved[7];
};

/* Put the bridge at 00:1f.0 of h (before any other function takes slot 31), hook 0xcf9,
 * and take pm (the VM's, created at its direct-boot place) off the port bus until the
 * firmware enables it. host: the VM's device_host (request_stop), kept until destroy.
 * Returns 0 and *out (free with ich9_lpc_destroy, before pci_host_destroy), or -errno. */
int ich9_lpc_create(struct pci_host *h, const struct device_host *host, struct acpi_pm *pm,
		    struct ich9_lpc **out);
void ich9_lpc_destroy(struct ich9_lpc *l);

/* The SCI's GSI as ACPI_CNTL selects it. */
uint32_t ich9_lpc_sci_gsi(uint8_t acpi_cntl);

void ich9_lpc_save(struct ich9_lpc *l, struct ich9_lpc_state *st);
/* 0 when st could be l's (what ich9_lpc_restore checks), else -EINVAL; l unchanged. */
int ich9_lpc_check(struct ich9_lpc *l, const struct ich9_lpc_state *st);
/* Load the state (the PM block moves, the SCI is routed, as after the guest's writes).
 * 0, or -EINVAL (nothing changed) for bits the guest cannot set (read-only config bytes
 * that differ, RST_CNT bits other than 1 and 3, reserved bytes). */
int ich9_lpc_restore(struct ich9_lpc *l, const struct ich9_lpc_state *st);

#endif
