/* ACPI power-management registers (the fixed-hardware PM1a event and control blocks that
 * the FADT points at): a guest that writes SLP_TYP=5 (S5, as the DSDT's \_S5 says) with
 * SLP_EN to PM1a_CNT powers the VM off, ending it with status 0. This is how Linux's
 * `poweroff` (ACPI) ends `vsrv run`. SCI_EN reads as set: the machine is always in ACPI
 * mode (the FADT has no SMI command port). No SCI is ever raised. */
#ifndef VSRV_DEVICES_ACPI_PM_H
#define VSRV_DEVICES_ACPI_PM_H

#include <stdint.h>

struct vm;
struct acpi_pm;

#define ACPI_PM_BASE     0x600  /* PM1a_EVT_BLK (4 bytes), then PM1a_CNT_BLK (2 bytes) */
#define ACPI_PM1_EVT     ACPI_PM_BASE
#define ACPI_PM1_CNT     (ACPI_PM_BASE + 4)
#define ACPI_SLP_TYP_S5  5

struct acpi_pm_state {
	uint16_t pm1_sts, pm1_en, pm1_cnt;
};

/* Register the ports on vm->pio. 0 and *out (free with acpi_pm_destroy), or -errno. */
int acpi_pm_create(struct vm *vm, struct acpi_pm **out);
void acpi_pm_destroy(struct acpi_pm *pm);
void acpi_pm_save(struct acpi_pm *pm, struct acpi_pm_state *st);
int acpi_pm_restore(struct acpi_pm *pm, const struct acpi_pm_state *st);

#endif
