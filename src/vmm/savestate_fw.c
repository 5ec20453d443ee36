/* The save file's FIRMWARE section: the checks that need no VM (see savestate_file.h). The
 * section is written and read with the others (savestate_file.c) and filled and loaded by
 * the firmware level (arch/x86/firmware.c x86_firmware_save / x86_firmware_restore). */
#include "vmm/savestate_file.h"

#include <errno.h>

int savestate_check_firmware(const struct savestate_firmware *fw, uint64_t section_len,
			     const char **why)
{
	if (section_len < sizeof(*fw))
		return *why = "the firmware section is too short", -EINVAL;
	if (fw->version != SAVESTATE_FW_VERSION || fw->size != sizeof(*fw))
		return *why = "the firmware section has another version than this vsrv reads (1)",
		       -EINVAL;
	if (fw->vars_size != section_len - sizeof(*fw) || fw->vars_size > SAVESTATE_FW_VARS_MAX ||
	    fw->vars_size % PFLASH_BLOCK_SIZE)
		return *why = "the firmware section's variable store has a bad size", -EINVAL;
	if (fw->rom_size < 4096 || fw->rom_size > SAVESTATE_FW_VARS_MAX ||
	    fw->rom_size + fw->vars_size > SAVESTATE_FW_VARS_MAX)
		return *why = "the firmware section's ROM size is out of range", -EINVAL;
	if (fw->reserved0 || fw->reserved1 || fw->reserved2 ||
	    fw->reserved3[0] | fw->reserved3[1] | fw->reserved3[2] | fw->reserved3[3])
		return *why = "the firmware section's reserved fields are not zero", -EINVAL;
	if (q35_mch_state_check(&fw->mch))
		return *why = "the q35 chipset's saved registers are out of range", -EINVAL;
	if (pflash_state_check(&fw->flash) || (!fw->vars_size && (fw->flash.mode |
								     fw->flash.status)))
		return *why = "the flash's saved state is out of range", -EINVAL;
	if (fw_cfg_state_check(&fw->fw_cfg))
		return *why = "the fw_cfg device's saved state is out of range", -EINVAL;
	if (fw->lpc.rst_cnt & ~0x0a)
		return *why = "the LPC bridge's saved state is out of range", -EINVAL;
	for (unsigned i = 0; i < sizeof(fw->lpc.reserved); i++)
		if (fw->lpc.reserved[i])
			return *why = "the LPC bridge's saved state is out of range", -EINVAL;
	return 0;
}
