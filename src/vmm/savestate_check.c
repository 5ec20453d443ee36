/* The saved-VM file's checks (savestate_file.h): what a parsed file or a state about to be
 * restored must hold before anything of it is used. Pure functions. */
#include "vmm/savestate_file.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/enlight.h"
#include "vmm/savestate_int.h"
#include "vmm/vm.h"

static int check_config(const struct savestate_config *c, const char **why)
{
	if (c->nr_cpus < 1 || c->nr_cpus > VM_MAX_VCPUS)
		return *why = "the vCPU count is out of range", -EINVAL;
	if (c->mem_size < VM_MIN_MEM || c->mem_size > VM_MAX_MEM || c->mem_size % SAVESTATE_PAGE)
		return *why = "the memory size is out of range", -EINVAL;
	if (c->nr_devs > VDEVS_MAX || c->has_pci > 1)
		return *why = "the device table is out of range", -EINVAL;
	if (c->enlightenments > X86_ENLIGHT_LAST)
		return *why = "the enlightenments are unknown", -EINVAL;
	for (uint32_t i = 0; i < c->nr_devs; i++)
		if (!device_kind_by_id(c->dev[i].kind) || c->dev[i].on_pci > 1)
			return *why = "the device table names an unknown device", -EINVAL;
	return 0;
}

/* A bool field read as a byte: only 0 and 1 are valid (anything else is undefined). */
static bool bool_ok(const bool *b)
{
	return *(const uint8_t *)b <= 1;
}

int savestate_check_legacy(const struct savestate_legacy *l, const char **why)
{
	if (l->serial.rx_head >= SERIAL_RX_FIFO || l->serial.rx_count > SERIAL_RX_FIFO ||
	    !bool_ok(&l->serial.thri) || !bool_ok(&l->serial.irq_level))
		return *why = "the UART state is out of range", -EINVAL;
	if (l->rtc.index > 127 ||
	    i8042_state_check(&l->i8042, l->ps2.version ? &l->ps2 : NULL))
		return *why = "the RTC or i8042 state is out of range", -EINVAL;
	return 0;
}

int savestate_check_devices(const struct savestate_config *c, const struct vm_devices_state *d,
			    const char **why)
{
	if (d->n != c->nr_devs || d->has_pci != c->has_pci)
		return *why = "the device state does not match the file's configuration", -EINVAL;
	for (uint32_t i = 0; i < d->n; i++)
		if (d->e[i].kind != c->dev[i].kind || d->e[i].on_pci != c->dev[i].on_pci)
			return *why = "the device state does not match the file's configuration",
			       -EINVAL;
	return 0;
}

int savestate_check(const struct savestate *s, const char **why)
{
	int ret;

	*why = "";
	ret = check_config(&s->config, why);
	for (uint32_t i = 0; !ret && i < s->config.nr_cpus; i++)
		if (s->vcpus[i].nr_msrs > X86_STATE_MAX_MSRS)
			return *why = "a vCPU's MSR count is out of range", -EINVAL;
	if (!ret)
		ret = savestate_check_legacy(&s->legacy, why);
	if (!ret)
		ret = savestate_check_devices(&s->config, s->devices, why);
	if (!ret && s->config.enlightenments == X86_ENLIGHT_XEN)
		ret = x86_xen_state_check(&s->xen, s->config.nr_cpus, NULL, why);
	if (!ret && s->has_fw > 1)
		return *why = "the firmware flag is out of range", -EINVAL;
	if (!ret && s->has_fw) {
		ret = savestate_check_firmware(&s->fw, sizeof(s->fw) + s->fw.vars_size, why);
		if (!ret && s->fw.vars_size && !s->fw_vars)
			return *why = "the variable store is missing", -EINVAL;
	}
	return ret;
}

int savestate_check_config(const struct savestate_config *c, const char **why)
{
	*why = "";
	return check_config(c, why);
}
