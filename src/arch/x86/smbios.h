/* SMBIOS (DMI) tables of a VM, for the firmware: the structure table and an SMBIOS 3.0
 * 64-bit entry point, which the platform publishes as fw_cfg files
 * etc/smbios/smbios-tables and etc/smbios/smbios-anchor (SeaBIOS and OVMF copy the table
 * to memory and fill in its address, 0 in the anchor given here). Structures: type 0
 * (BIOS), 1 (system: manufacturer "vsrv", product, version, serial, the VM's UUID, SKU,
 * family), 3 (chassis), 4 (one per vCPU), 16 (the memory array), 17 (memory devices of at
 * most 16 GiB), 19 (one per RAM range: below the 32-bit hole and above 4 GiB), 32 (boot
 * status) and 127 (end). cloud-init, licensing and `dmidecode` in the guest read them.
 * libc only. */
#ifndef VSRV_ARCH_X86_SMBIOS_H
#define VSRV_ARCH_X86_SMBIOS_H

#include <stddef.h>
#include <stdint.h>

#define SMBIOS_EP3_LEN      0x18
#define SMBIOS_STR_MAX      64     /* longest string accepted */

/* What the tables say. Strings are the caller's, only read; NULL or "" leaves a string out
 * (shown as "Not Specified"), except where a default is named. */
struct smbios_info {
	const char *product;       /* type 1 product name: the VM's name */
	const char *version;       /* type 1 and 3 version */
	const char *serial;        /* type 1 and 3 serial number */
	const char *sku;           /* type 1 SKU number */
	const char *family;        /* type 1 family */
	const char *manufacturer;  /* types 1, 3, 4, 17: NULL gives "vsrv" */
	const char *bios_vendor;   /* type 0: NULL gives "vsrv" */
	const char *bios_version;  /* type 0 */
	const char *bios_date;     /* type 0, "mm/dd/yyyy" */
	uint8_t uuid[16];          /* as RFC 4122 writes it (the text form's byte order) */
	unsigned nr_cpus;          /* 1..4096: type 4 structures */
	uint64_t mem_low;          /* RAM bytes from address 0 (below the 32-bit hole) */
	uint64_t mem_high;         /* RAM bytes from 4 GiB */
};

/* Build the entry point (SMBIOS_EP3_LEN bytes, structure table address 0) and the table.
 * Returns 0 with *ep and *table (malloc'd, the caller frees them) and *table_len, or
 * -EINVAL (a string longer than SMBIOS_STR_MAX, no CPU or no memory) or -ENOMEM. */
int smbios_build(const struct smbios_info *in, uint8_t **ep, uint8_t **table,
		 size_t *table_len);

/* Parse a UUID in its text form (36 characters, hex digits and dashes) into out[16].
 * 0 or -EINVAL. */
int smbios_uuid_parse(const char *s, uint8_t out[16]);

#endif
