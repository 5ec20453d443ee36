#include "arch/x86/fw_cfg_x86.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/smbios.h"
#include "arch/x86/tables.h"
#include "devices/fw_cfg.h"
#include "util/log.h"
#include "vmm/vm.h"

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int add_le(struct fw_cfg *fw, const char *name, uint64_t v, int n)
{
	uint8_t b[8];

	put_le(b, v, n);
	return fw_cfg_add_file(fw, name, b, (uint32_t)n);
}

/* etc/e820: RAM below the hole (from 0), RAM above 4 GiB, the ECAM window reserved. */
static int add_e820(struct vm *vm, struct fw_cfg *fw)
{
	const struct guest_mem *m = vm->mem;
	uint8_t t[3 * X86_E820_ENTRY_LEN] = { 0 }, *e = t;

	put_le(e, 0, 8);
	put_le(e + 8, m->low_size, 8);
	put_le(e + 16, 1, 4);
	e += X86_E820_ENTRY_LEN;
	if (m->size > m->low_size) {
		put_le(e, MEM_HIGH_START, 8);
		put_le(e + 8, m->size - m->low_size, 8);
		put_le(e + 16, 1, 4);
		e += X86_E820_ENTRY_LEN;
	}
	if (vm->pci.ecam_base) {
		put_le(e, vm->pci.ecam_base, 8);
		put_le(e + 8, 1 << 20, 8);
		put_le(e + 16, 2, 4);
		e += X86_E820_ENTRY_LEN;
	}
	return fw_cfg_add_file(fw, "etc/e820", t, (uint32_t)(e - t));
}

static int add_smbios(struct vm *vm, struct fw_cfg *fw, const struct x86_fw_config *c)
{
	struct smbios_info in = {
		.product = c->name, .version = c->version, .serial = c->serial,
		.nr_cpus = vm->cfg->nr_cpus, .mem_low = vm->mem->low_size,
		.mem_high = vm->mem->size - vm->mem->low_size,
	};
	uint8_t *ep, *table;
	size_t len;
	int ret;

	memcpy(in.uuid, c->uuid, 16);
	ret = smbios_build(&in, &ep, &table, &len);
	if (ret)
		return ret;
	ret = fw_cfg_add_file(fw, "etc/smbios/smbios-tables", table, (uint32_t)len);
	if (!ret)
		ret = fw_cfg_add_file(fw, "etc/smbios/smbios-anchor", ep, SMBIOS_EP3_LEN);
	free(ep);
	free(table);
	return ret;
}

int x86_fw_cfg_setup(struct vm *vm, struct fw_cfg *fw, const struct x86_fw_config *c)
{
	uint16_t cpus = (uint16_t)vm->cfg->nr_cpus;
	int ret;

	ret = fw_cfg_add_item(fw, FW_CFG_UUID, c->uuid, 16);
	if (!ret)
		ret = fw_cfg_add_i64(fw, FW_CFG_RAM_SIZE, vm->mem->size);
	if (!ret)
		ret = fw_cfg_add_i16(fw, FW_CFG_NOGRAPHIC, c->nographic);
	if (!ret)
		ret = fw_cfg_add_i16(fw, FW_CFG_NB_CPUS, cpus);
	if (!ret)
		ret = fw_cfg_add_i16(fw, FW_CFG_BOOT_MENU, c->boot_menu);
	if (!ret)
		ret = fw_cfg_add_i16(fw, FW_CFG_MAX_CPUS, cpus);
	if (!ret)
		ret = add_e820(vm, fw);
	if (!ret && c->bootorder && *c->bootorder)  /* its NUL included, as QEMU */
		ret = fw_cfg_add_file(fw, "bootorder", c->bootorder,
				      (uint32_t)strlen(c->bootorder) + 1);
	if (!ret && c->sercon_port)
		ret = add_le(fw, "etc/sercon-port", c->sercon_port, 2);
	if (!ret)
		ret = add_le(fw, "etc/boot-fail-wait", (uint32_t)c->boot_fail_wait_ms, 4);
	if (!ret)
		ret = add_le(fw, "etc/show-boot-menu", c->boot_menu, 2);
	if (!ret && c->boot_menu)
		ret = add_le(fw, "etc/boot-menu-wait", c->boot_menu_wait_ms, 2);
	if (!ret)
		ret = add_le(fw, "etc/max-cpus", cpus, 2);
	if (!ret)
		ret = add_smbios(vm, fw, c);
	if (ret) {
		vsrv_log("fw_cfg: cannot add the firmware's configuration: %s", strerror(-ret));
		return ret;
	}
	return x86_acpi_fw_cfg(vm, fw);  /* logs its own errors */
}
