/* ACPI power-management registers (the fixed-hardware PM1a event and control blocks that
 * the FADT points at): a guest that writes SLP_TYP=5 (S5, as the DSDT's \_S5 says) with
 * SLP_EN to PM1a_CNT powers the VM off, ending it with status 0. This is how Linux's
 * `poweroff` (ACPI) ends `vsrv run`. SCI_EN reads as set: the machine is always in ACPI
 * mode (the FADT has no SMI command port).
 *
 * The power button is ACPI's fixed-feature button: acpi_pm_power_button sets PWRBTN_STS
 * (PM1_STS bit 8); while the guest has PWRBTN_EN (PM1_EN bit 8) set and has not cleared
 * the status (write 1), the SCI (GSI 9, level, active high as the MADT says) is asserted.
 * Linux turns it into a KEY_POWER input event (acpid or systemd-logind then power off);
 * the test guest guests/console.c powers off through PM1a_CNT. */
#ifndef VSRV_DEVICES_ACPI_PM_H
#define VSRV_DEVICES_ACPI_PM_H

#include <stdbool.h>
#include <stdint.h>

struct device_host;
struct acpi_pm;

#define ACPI_PM_BASE     0x600  /* PM1a_EVT_BLK (4 bytes), then PM1a_CNT_BLK (2 bytes) */
#define ACPI_PM1_EVT     ACPI_PM_BASE
#define ACPI_PM1_CNT     (ACPI_PM_BASE + 4)
#define ACPI_SLP_TYP_S5  5
#define ACPI_SCI_GSI     9      /* the FADT's SCI_INT */

struct acpi_pm_state {
	uint16_t pm1_sts, pm1_en, pm1_cnt;
};

/* Register the ports on h->pio (h: the VM's, kept until destroy). 0 and *out (free with acpi_pm_destroy), or -errno. */
int acpi_pm_create(const struct device_host *h, struct acpi_pm **out);
void acpi_pm_destroy(struct acpi_pm *pm);
/* Where the LPC bridge (ich9_lpc.c) puts the block: base (0: off the bus) in the ICH9
 * layout when ich9 (128 bytes: PM1 as above, the 24-bit ACPI PM timer at +8, GPE0 at
 * +0x20 reading zero, SMI_EN at +0x30 reading APMC_EN set so that SeaBIOS does not try to
 * set up SMM, which this VM does not have) or the direct-boot one (8 bytes). 0, -EINVAL
 * (base not aligned to the block's size) or -EEXIST (overlaps other ports: the block is
 * then off the bus). Any thread; the PM state is unchanged. */
#define ACPI_PM_ICH9_LEN 0x80
int acpi_pm_move(struct acpi_pm *pm, uint16_t base, bool ich9);
uint16_t acpi_pm_base(struct acpi_pm *pm);
/* Route the SCI to gsi (lowering the old line, raising the new one when asserted). */
void acpi_pm_set_sci(struct acpi_pm *pm, uint32_t gsi);
/* Press the power button (any thread). */
void acpi_pm_power_button(struct acpi_pm *pm);

void acpi_pm_save(struct acpi_pm *pm, struct acpi_pm_state *st);
int acpi_pm_restore(struct acpi_pm *pm, const struct acpi_pm_state *st);

#endif
