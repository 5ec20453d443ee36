/* Firmware boot (`vsrv run --firmware bios|uefi|PATH`): the layout a BIOS or UEFI firmware
 * (Debian's SeaBIOS and OVMF, unmodified) expects, used only with --firmware; direct kernel
 * boot keeps the default layout (vm.c, mem.h, devices.c) untouched. See docs/firmware.md.
 *
 *   RAM            [0, min(mem, 0xB0000000)) and the rest from 4 GiB
 *   ECAM           where the firmware programs PCIEXBAR (SeaBIOS and OVMF: 0xB0000000)
 *   PCI BARs       [0xC0000000, 0xFEC00000), reassigned by the firmware
 *   flash (UEFI)   the variable store just below the ROM (CFI, devices/pflash.h)
 *   ROM            read-only at 4 GiB - its size; its last 128 KiB copied to RAM at
 *                  0xE0000-0xFFFFF at every build of the VM (a reset rebuilds it)
 *   chipset        q35 MCH (PCIEXBAR, PAM) at 00:00.0, ICH9 LPC with the ACPI PM block and
 *                  0xCF9 at 00:1f.0, CMOS firmware bytes and boot order
 *   fw_cfg         e820, ACPI through the table loader, SMBIOS (--uuid, --name,
 *                  --serial-number), etc/sercon-port 0x3f8
 *   vCPU 0         the reset vector in real mode (CS base 0xFFFF0000, IP 0xFFF0)
 * Main thread unless said otherwise. */
#ifndef VSRV_ARCH_X86_FIRMWARE_H
#define VSRV_ARCH_X86_FIRMWARE_H

#include <stdbool.h>
#include <stdint.h>

struct savestate_firmware;
struct vm;
struct vm_config;

#define X86_FW_LOW_END   0xB0000000ULL /* RAM below 4 GiB ends here */
#define X86_FW_ECAM      0xB0000000ULL /* the ECAM SeaBIOS and OVMF program */
#define X86_FW_BAR_BASE  0xC0000000ULL
#define X86_FW_BAR_END   0xFEC00000ULL
#define X86_FW_ROM_MIN   (64ULL << 10)
#define X86_FW_ROM_MAX   (16ULL << 20) /* ROM and flash together */
#define X86_FW_SHADOW    (128ULL << 10) /* copied below 1 MiB */
#define X86_FW_BIOS      "/usr/share/seabios/bios.bin"
#define X86_FW_UEFI      "/usr/share/OVMF/OVMF_CODE_4M.fd"
#define X86_FW_UEFI_VARS "/usr/share/OVMF/OVMF_VARS_4M.fd"

/* Parse --firmware SPEC (bios, uefi,vars=FILE or PATH[,vars=FILE]) into c->firmware,
 * c->firmware_vars and c->firmware_vars_template, and check, before any VM exists, that
 * the ROM is a readable regular file of a plausible size (64 KiB to 16 MiB, a multiple of
 * 4 KiB) and that the vars file or its template is one too. *copy gets a malloc'd string
 * the config then points into (the caller frees it after the VM is gone). Returns 0 or
 * -errno after logging one line. */
int x86_firmware_parse(const char *spec, struct vm_config *c, char **copy);

/* --boot ORDER (cdrom,disk,net, each at most once) into c->boot_order. 0 or -EINVAL. */
int x86_firmware_parse_boot(const char *order, struct vm_config *c);

/* The level after the base devices (vm.c): map the ROM (and the flash), create the host
 * bridge with the q35 MCH and the LPC bridge (vm->pci_host_fw), fill the CMOS. Sets
 * vm->fw; x86_firmware_exit undoes it (also after a partial init). */
int x86_firmware_init(struct vm *vm);
void x86_firmware_exit(struct vm *vm);

/* The boot level's part (after the devices): fw_cfg with its files, vCPU 0 at the reset
 * vector (vm->boot.mode = BOOT_MODE_FIRMWARE). 0 or -errno (logged). */
int x86_firmware_boot(struct vm *vm);

/* What each of the 13 PAM regions of 0xC0000-0xFFFFF (q35.h) is mapped as now (enum
 * q35_pam_attr, as the guest last set it); vm->fw set. The area stays guest RAM holding
 * what the firmware put there, whatever the attribute (SeaBIOS and OVMF accept that). */
void x86_firmware_pam(struct vm *vm, uint8_t attr[13]);

/* Live migration: the UEFI vars file's lock, as the disks' (vm_devices_lock_disks). The
 * source lets go of it (!on: synced first) while it stops its guest for the last round and
 * takes it back if the migration fails; the destination, whose flash was opened without it
 * (cfg->incoming), takes it when the state arrives. 0, or -EBUSY (another VM holds it,
 * logged) or the sync's -errno. 0 for a VM without a flash. */
int x86_firmware_lock(struct vm *vm, bool on);

/* Saved state (the save file's and the migration stream's FIRMWARE section).
 *
 * _save fills fw (zeroed first) from vm (vm->fw set, vCPUs stopped): the ROM's size and
 * CRC32, fw_cfg's items' digest, UUID and console port, the registers of the host bridge
 * (0xCF8 latch, config space), the q35 MCH (PCIEXBAR, PAM: the shadow area's mapping),
 * the LPC bridge, the flash and fw_cfg. *vars gets the flash's array (fw->vars_size
 * bytes, the UEFI variables; NULL without a flash), valid until x86_firmware_exit.
 *
 * _restore loads fw (passed savestate_check_firmware) and vars into vm, which was built
 * for a restore or an incoming migration (nothing booted: no fw_cfg yet). It checks first,
 * changing nothing when it refuses: the same ROM image, a variable store of the same size
 * (or none on both sides), --uuid (when given) equal to the saved UUID, fw_cfg rebuilt
 * from the configuration with the saved UUID and console port holding exactly the saved
 * VM's items (digest), and every register state one the devices accept. Then it writes
 * the saved variables into the vars file (the blocks that differ, synced), loads the
 * registers (ECAM moves, the PAM regions and the flash's mapping follow, the ACPI PM block
 * moves to PMBASE) and keeps the new fw_cfg. Guest RAM (the shadow area 0xC0000-0xFFFFF
 * with it) comes from the saved memory. 0, or -errno after logging "LABEL: ...". */
void x86_firmware_save(struct vm *vm, struct savestate_firmware *fw, const uint8_t **vars);
int x86_firmware_restore(struct vm *vm, const struct savestate_firmware *fw,
			 const uint8_t *vars, const char *label);

#endif
