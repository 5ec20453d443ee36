/* What an x86 VM's firmware (SeaBIOS, OVMF) reads from fw_cfg (devices/fw_cfg.h), filled in
 * from the VM: the legacy keys (UUID, RAM size, NOGRAPHIC, NB_CPUS, boot menu, MAX_CPUS),
 * etc/e820 (the VM's RAM ranges and the PCI ECAM reservation, {le64 addr, le64 len, le32
 * type} each, RAM listed from address 0 as QEMU does: the firmware reserves its own areas),
 * bootorder, etc/sercon-port, etc/boot-fail-wait, etc/show-boot-menu, etc/boot-menu-wait,
 * etc/max-cpus, the SMBIOS tables (arch/x86/smbios.h) and the ACPI tables with their loader
 * script (tables.h: x86_acpi_fw_cfg). Used by `vsrv run --firmware` (arch/x86/firmware.c). */
#ifndef VSRV_ARCH_X86_FW_CFG_X86_H
#define VSRV_ARCH_X86_FW_CFG_X86_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct fw_cfg;

#define X86_E820_ENTRY_LEN 20

struct x86_fw_config {
	const char *name;            /* SMBIOS product name: the VM's name */
	const char *serial;          /* SMBIOS serial number, or NULL */
	const char *version;         /* SMBIOS system version, or NULL */
	uint8_t uuid[16];            /* RFC 4122 byte order */
	const char *bootorder;       /* OpenFirmware device paths, one a line, or NULL */
	uint16_t sercon_port;        /* the firmware's console on this UART (0x3f8), 0: none */
	bool nographic;              /* no display: FW_CFG_NOGRAPHIC */
	bool boot_menu;              /* offer the boot menu ("Press ESC") */
	uint16_t boot_menu_wait_ms;  /* how long it is offered (with boot_menu) */
	int32_t boot_fail_wait_ms;   /* retry booting after this long; -1: never */
};

/* Add all of the above to fw (empty, fresh from fw_cfg_create) for vm (its memory, CPU
 * count and PCI host bridge as built). Returns 0 or -errno (logged). Main thread, before
 * the vCPUs run. */
int x86_fw_cfg_setup(struct vm *vm, struct fw_cfg *fw, const struct x86_fw_config *c);

#endif
