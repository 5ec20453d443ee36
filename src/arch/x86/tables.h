/* x86 platform tables and per-vCPU set-up: CPUID (cpuid.c), the MP table (mptable.c), the
 * ACPI tables (acpi.c). */
#ifndef VSRV_ARCH_X86_TABLES_H
#define VSRV_ARCH_X86_TABLES_H

#include <stdint.h>

#include "arch/x86/enlight.h"

struct vm;
struct kvm_cpuid2;
struct fw_cfg;

/* APIC id of the IOAPIC in the MP table (after the CPUs' ids 0..nr-1). */
#define X86_IOAPIC_ADDR 0xfec00000u

/* Fetch KVM_GET_SUPPORTED_CPUID once per VM. Returns 0 and *out (free()) or -errno. */
int x86_cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out);

/* Set the CPUID of vCPU id of nr_cpus with KVM_SET_CPUID2 on vcpu_fd: x86_cpuid_build
 * (arch/x86/enlight.h) of supported and hv (KVM_GET_SUPPORTED_HV_CPUID, only for
 * X86_ENLIGHT_HYPERV, else NULL) for enlightenments e; with Hyper-V's SynIC on offer, also
 * enables KVM_CAP_HYPERV_SYNIC2 on the vCPU. Reads its inputs only. 0 or -errno. */
int x86_cpuid_set(int vcpu_fd, const struct kvm_cpuid2 *supported, const struct kvm_cpuid2 *hv,
		  enum x86_enlight e, unsigned id, unsigned nr_cpus);

/* Write the MP floating pointer and configuration table (CPUs, ISA bus, IOAPIC, ISA
 * interrupts) at BOOT_MPTABLE_ADDR. Returns 0 or -errno (logged). */
int x86_mptable_write(struct vm *vm);

/* Write the ACPI tables (RSDP at BOOT_ACPI_ADDR, XSDT, FADT with the PM1a blocks of
 * devices/acpi_pm.h, FACS, DSDT with \_S5, MADT). Returns 0 or -errno (logged). */
int x86_acpi_write(struct vm *vm);

/* The fw_cfg files of the same tables for a firmware (SeaBIOS, OVMF): ACPI_FILE_TABLES
 * (everything but the RSDP, pointers holding offsets in that file), ACPI_FILE_RSDP and the
 * loader script FW_LOADER_FILE (devices/fw_loader.h: allocate both, patch the pointers,
 * recompute the checksums), added to fw. Returns 0 or -errno (logged). */
#define ACPI_FILE_TABLES "etc/acpi/tables"
#define ACPI_FILE_RSDP   "etc/acpi/rsdp"
int x86_acpi_fw_cfg(struct vm *vm, struct fw_cfg *fw);

#endif
