/* Firmware boot: the layout, ROM, flash, chipset and fw_cfg of `vsrv run --firmware`
 * (firmware.h, docs/firmware.md). */
#include "arch/x86/firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "arch/x86/boot.h"
#include "arch/x86/fw_cfg_x86.h"
#include "arch/x86/smbios.h"
#include "devices/fw_cfg.h"
#include "devices/ich9_lpc.h"
#include "devices/pci.h"
#include "devices/pflash.h"
#include "devices/q35.h"
#include "devices/rtc.h"
#include "util/log.h"
#include "vmm/savestate_file.h"
#include "vmm/vm.h"

#define SLOT_ROM   2
#define SLOT_FLASH 3

struct x86_firmware {
	struct vm *vm;
	uint8_t *rom;            /* the ROM's bytes (anonymous mapping, rom_size) */
	uint64_t rom_size, rom_base;
	uint32_t rom_crc;        /* of the image as loaded (a save names the firmware by it) */
	bool rom_slot;
	bool ro_slots;           /* KVM_CAP_READONLY_MEM: ROM and flash writes exit */
	struct pflash *flash;
	uint64_t flash_size, flash_base;
	bool flash_slot, flash_bus;
	struct pci_host *pci;
	struct q35_mch *mch;
	struct ich9_lpc *lpc;
	struct fw_cfg *fw_cfg;
	uint8_t uuid[16];        /* what fw_cfg offers: --uuid, or the boot's random one */
	uint16_t sercon_port;    /* etc/sercon-port, 0: none */
	uint8_t pam[13];         /* the attribute of each PAM region, as the guest set it */
};

/* ---- options (before any VM: no KVM needed) ---- */
static int check_file(const char *what, const char *path, uint64_t min, uint64_t max,
		      uint64_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;
		vsrv_log("--firmware: %s %s: %s", what, path, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		vsrv_log("--firmware: %s %s: not a regular file", what, path);
		return -EINVAL;
	}
	close(fd);
	if ((uint64_t)st.st_size < min || (uint64_t)st.st_size > max || (st.st_size & 4095)) {
		vsrv_log("--firmware: %s %s: %lld bytes is not a firmware image (%llu KiB to %llu MiB, "
			 "a multiple of 4 KiB)", what, path, (long long)st.st_size,
			 (unsigned long long)(min >> 10), (unsigned long long)(max >> 20));
		return -EINVAL;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

int x86_firmware_parse(const char *spec, struct vm_config *c, char **copy)
{
	char *s = strdup(spec), *comma;
	const char *rom, *vars = NULL;
	uint64_t rom_size, vars_size = 0;
	bool uefi = false;
	int ret;

	*copy = s;
	if (!s)
		return -ENOMEM;
	comma = strchr(s, ',');
	if (comma) {
		*comma++ = 0;
		if (strncmp(comma, "vars=", 5) || !comma[5] || strchr(comma, ',')) {
			vsrv_log("--firmware %s: expected bios, uefi,vars=FILE or PATH[,vars=FILE]", spec);
			return -EINVAL;
		}
		vars = comma + 5;
	}
	if (!strcmp(s, "bios")) {
		rom = X86_FW_BIOS;
	} else if (!strcmp(s, "uefi")) {
		rom = X86_FW_UEFI;
		uefi = true;
	} else if (s[0]) {
		rom = s;
	} else {
		vsrv_log("--firmware %s: expected bios, uefi,vars=FILE or PATH[,vars=FILE]", spec);
		return -EINVAL;
	}
	if (!strcmp(s, "bios") && vars) {
		vsrv_log("--firmware %s: a BIOS has no variable store (vars= is for uefi)", spec);
		return -EINVAL;
	}
	if (uefi && !vars) {
		vsrv_log("--firmware uefi needs vars=FILE: the VM's own UEFI variable store "
			 "(created from %s when missing)", X86_FW_UEFI_VARS);
		return -EINVAL;
	}
	ret = check_file("ROM", rom, X86_FW_ROM_MIN, X86_FW_ROM_MAX, &rom_size);
	if (ret)
		return ret;
	if (vars) {
		struct stat st;
		const char *tmpl = X86_FW_UEFI_VARS;

		if (stat(vars, &st) == 0)
			ret = check_file("vars", vars, 4096, X86_FW_ROM_MAX, &vars_size);
		else if (errno == ENOENT)
			ret = check_file("vars template", tmpl, 4096, X86_FW_ROM_MAX, &vars_size);
		else {
			ret = -errno;
			vsrv_log("--firmware: vars %s: %s", vars, strerror(errno));
		}
		if (ret)
			return ret;
		if (rom_size + vars_size > X86_FW_ROM_MAX) {
			vsrv_log("--firmware %s: ROM and vars together pass %llu MiB", spec,
				 (unsigned long long)(X86_FW_ROM_MAX >> 20));
			return -EINVAL;
		}
		c->firmware_vars_template = tmpl;
	}
	c->firmware = rom;
	c->firmware_vars = vars;
	return 0;
}

/* One boot device: a name or QEMU's letter (c disk, d CD, n network); 0 when neither. */
static uint8_t boot_code(const char *p, size_t len)
{
	static const struct { const char *name; char letter; uint8_t code; } dev[] = {
		{ "disk", 'c', VM_BOOT_DISK }, { "cdrom", 'd', VM_BOOT_CDROM },
		{ "net", 'n', VM_BOOT_NET },
	};

	for (unsigned i = 0; i < 3; i++)
		if ((strlen(dev[i].name) == len && !strncmp(p, dev[i].name, len)) ||
		    (len == 1 && *p == dev[i].letter))
			return dev[i].code;
	return 0;
}

int x86_firmware_parse_boot(const char *order, struct vm_config *c)
{
	uint8_t out[3] = { 0 };
	unsigned n = 0;
	const char *p = order;

	while (*p) {
		size_t len = strcspn(p, ","), step = len;
		uint8_t code = boot_code(p, len);

		/* QEMU's -boot order=ncd: letters without commas */
		if (!code && len > 1 && len <= 3 && strspn(p, "cdn") >= len) {
			code = boot_code(p, 1);
			step = 1;
		}
		if (!code || n == 3 || memchr(out, code, n)) {
			vsrv_log("--boot %s: expected cdrom, disk and net (or QEMU's letters d, c "
				 "and n), each at most once, separated by commas", order);
			return -EINVAL;
		}
		out[n++] = code;
		p += step;
		if (step < len)
			continue;
		if (*p == ',' && *++p == 0)
			n = 0; /* a trailing comma */
	}
	if (!n) {
		vsrv_log("--boot %s: expected cdrom, disk and net (or QEMU's letters d, c and n), "
			 "each at most once, separated by commas", order);
		return -EINVAL;
	}
	memcpy(c->boot_order, out, 3);
	return 0;
}

/* ---- the ROM and the flash ---- */
static int set_slot(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, const void *host,
		    bool readonly)
{
	if (vm->vm_fd < 0)
		return 0; /* a VM built by hand without KVM (tests): the buses serve everything */
	struct kvm_userspace_memory_region r = {
		.slot = slot, .flags = readonly ? KVM_MEM_READONLY : 0, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = (uintptr_t)host,
	};

	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

/* A ROM write (the slot is read-only, so writes exit): ignored. Reads never exit (the slot
 * serves them); if one does, it gets the ROM's bytes. Any vCPU thread. */
static void rom_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct x86_firmware *f = opaque;

	if (is_write)
		return;
	for (uint32_t i = 0; i < len; i++)
		data[i] = off + i < f->rom_size ? f->rom[off + i] : 0xff;
}

/* The flash left or entered read-array mode: map its array read-only (reads are memory,
 * writes exit to pflash_io) or unmap it (everything exits). vCPU thread, in pflash_io. */
static void flash_mode(void *opaque, bool array)
{
	struct x86_firmware *f = opaque;
	int ret;

	if (!f->vm || !f->ro_slots || array == f->flash_slot)
		return; /* without read-only slots every flash access goes to pflash_io */
	ret = set_slot(f->vm, SLOT_FLASH, f->flash_base, array ? f->flash_size : 0,
		       pflash_array(f->flash), true);
	if (ret < 0)
		vsrv_log("flash: cannot %s the array: %s", array ? "map" : "unmap", strerror(-ret));
	else
		f->flash_slot = array;
}

static int load_rom(struct x86_firmware *f, const char *path, bool writable)
{
	uint8_t *buf;
	size_t len;
	int ret = x86_map_file("firmware", path, &buf, &len);

	if (ret < 0)
		return ret;
	if (len < X86_FW_ROM_MIN || len > X86_FW_ROM_MAX || (len & 4095)) {
		x86_unmap_file(buf, len);
		vsrv_log("firmware %s: %zu bytes is not a firmware image", path, len);
		return -EINVAL;
	}
	/* A private copy: the file may change under us, the ROM must not. */
	f->rom = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f->rom == MAP_FAILED) {
		f->rom = NULL;
		x86_unmap_file(buf, len);
		return -ENOMEM;
	}
	memcpy(f->rom, buf, len);
	x86_unmap_file(buf, len);
	f->rom_crc = (uint32_t)crc32(0, f->rom, (uInt)len); /* len <= 16 MiB */
	if (!writable)
		mprotect(f->rom, len, PROT_READ);
	f->rom_size = len;
	return 0;
}

/* The PAM callback: the attribute is recorded (and saved with the MCH); 0xC0000-0xFFFFF
 * stays RAM holding the ROM's copy, which SeaBIOS and OVMF both accept. */
static void on_pam(void *opaque, unsigned region, unsigned attr)
{
	struct x86_firmware *f = opaque;

	if (region < sizeof(f->pam))
		f->pam[region] = (uint8_t)attr;
}

int x86_firmware_init(struct vm *vm)
{
	const struct vm_config *c = vm->cfg;
	struct x86_firmware *f;
	uint64_t shadow;
	uint8_t *low;
	int ret;

	if (!c->firmware)
		return 0;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	vm->fw = f;
	/* Without read-only memory slots (an old or unusual KVM) the ROM is a writable copy
	 * (guest writes change it until the next reset rebuilds the VM) and the flash is all
	 * MMIO. A VM built without KVM (tests) has neither slot. */
	f->ro_slots = vm->vm_fd < 0 ||
		      ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0;
	if (!f->ro_slots)
		vsrv_log("firmware: KVM has no read-only memory slots: the ROM is writable RAM "
			 "and the flash is read through the VMM");
	ret = load_rom(f, c->firmware, !f->ro_slots);
	if (ret)
		return ret;
	f->rom_base = (1ULL << 32) - f->rom_size;
	ret = set_slot(vm, SLOT_ROM, f->rom_base, f->rom_size, f->rom, f->ro_slots);
	if (ret) {
		vsrv_log("firmware: cannot map the ROM read-only at 0x%llx: %s",
			 (unsigned long long)f->rom_base, strerror(-ret));
		return ret;
	}
	f->rom_slot = true;
	ret = bus_register(&vm->mmio, f->rom_base, f->rom_size, rom_io, f, "firmware-rom");
	if (ret)
		return ret;
	/* The ROM's last 128 KiB (all of a smaller one) below 1 MiB: a fresh copy for every
	 * build of the VM, so a reset starts from the pristine image. Not for a VM restored
	 * or migrated: its RAM comes from the saved VM (whatever the guest made of the shadow
	 * area), and only the non-zero pages are loaded over RAM that must start zero. */
	shadow = f->rom_size < X86_FW_SHADOW ? f->rom_size : X86_FW_SHADOW;
	low = guest_mem_ptr(vm->mem, 0x100000 - shadow, shadow);
	if (!low)
		return -EINVAL;
	if (!c->restore && !c->incoming)
		memcpy(low, f->rom + f->rom_size - shadow, shadow);

	if (c->firmware_vars) {
		f->vm = NULL; /* no remapping from the callback until the flash is placed */
		/* a migration's destination takes the file's lock when the source lets go of it
		 * (x86_firmware_lock): the source may run on the same file until then */
		ret = (c->incoming ? pflash_open_unlocked : pflash_open)(c->firmware_vars,
				c->firmware_vars_template, flash_mode, f, &f->flash);
		if (ret) {
			vsrv_log("firmware: vars %s: %s", c->firmware_vars, strerror(-ret));
			return ret;
		}
		f->flash_size = pflash_size(f->flash);
		f->flash_base = f->rom_base - f->flash_size;
		if (f->rom_size + f->flash_size > X86_FW_ROM_MAX) {
			vsrv_log("firmware: ROM and vars together pass 16 MiB");
			return -EINVAL;
		}
		ret = bus_register(&vm->mmio, f->flash_base, f->flash_size, pflash_io, f->flash,
				   "firmware-flash");
		if (ret)
			return ret;
		f->flash_bus = true;
		f->vm = vm;
		flash_mode(f, pflash_in_array_mode(f->flash));
	}

	/* The chipset: host bridge without a fixed ECAM, the MCH, the LPC bridge at 00:1f.0
	 * before any other function. */
	ret = pci_host_create(&vm->pio, &vm->mmio, 0, X86_FW_BAR_BASE, X86_FW_BAR_END, &f->pci);
	if (!ret)
		ret = q35_mch_create(f->pci, vm->mem->low_size, on_pam, f, &f->mch);
	if (!ret)
		ret = ich9_lpc_create(f->pci, &vm->host, vm->acpi_pm, &f->lpc);
	if (ret) {
		vsrv_log("firmware: cannot create the q35 chipset: %s", strerror(-ret));
		return ret;
	}
	vm->pci_host_fw = f->pci;
	/* For the ACPI tables (root bridge, MCFG) and etc/e820: where the firmware puts ECAM. */
	vm->pci = (struct vm_pci_info){ X86_FW_ECAM, X86_FW_BAR_BASE, X86_FW_BAR_END, { 0 } };

	rtc_cmos_firmware(vm->rtc, c->nr_cpus);
	if (c->boot_order[0])
		rtc_cmos_boot_order(vm->rtc, c->boot_order);
	return 0;
}

void x86_firmware_exit(struct vm *vm)
{
	struct x86_firmware *f = vm->fw;

	if (!f)
		return;
	fw_cfg_destroy(f->fw_cfg);
	ich9_lpc_destroy(f->lpc);
	q35_mch_destroy(f->mch);
	pci_host_destroy(f->pci);
	vm->pci_host_fw = NULL;
	vm->pci = (struct vm_pci_info){ 0, 0, 0, { 0 } };
	if (f->flash_slot)
		set_slot(vm, SLOT_FLASH, f->flash_base, 0, NULL, true);
	if (f->flash_bus)
		bus_unregister(&vm->mmio, f->flash_base);
	pflash_close(f->flash);
	if (f->rom_slot) {
		set_slot(vm, SLOT_ROM, f->rom_base, 0, NULL, true);
		bus_unregister(&vm->mmio, f->rom_base);
	}
	if (f->rom)
		munmap(f->rom, f->rom_size);
	free(f);
	vm->fw = NULL;
}

/* ---- fw_cfg and the reset vector ---- */

/* fw_cfg with its files for vm, offering uuid and the firmware console on sercon_port (0:
 * none). 0 and *out, or -errno (logged). */
static int fw_cfg_build(struct vm *vm, const uint8_t uuid[16], uint16_t sercon_port,
			struct fw_cfg **out)
{
	const struct vm_config *c = vm->cfg;
	struct x86_fw_config fc = {
		.name = c->name ? c->name : "vsrv", .serial = c->serial_number,
		.sercon_port = sercon_port, .nographic = true,
		.boot_menu = false, .boot_fail_wait_ms = 5000,
	};
	struct fw_cfg *fw = NULL;
	char *order = NULL;
	size_t order_len = 0;
	int ret;

	memcpy(fc.uuid, uuid, 16);
	/* --boot as fw_cfg's bootorder too (OVMF reads only that; SeaBIOS prefers it to the
	 * CMOS order): each kind's devices in command-line order. */
	if (c->boot_order[0]) {
		FILE *o = open_memstream(&order, &order_len);

		if (!o)
			return -ENOMEM;
		for (unsigned i = 0; i < 3 && c->boot_order[i]; i++)
			vm_devices_ofw_paths(vm, c->boot_order[i], o);
		fclose(o);
		fc.bootorder = order_len ? order : NULL;
	}
	ret = fw_cfg_create(&vm->host, vm->mem, &fw);
	if (ret) {
		free(order);
		vsrv_log("firmware: cannot create fw_cfg: %s", strerror(-ret));
		return ret;
	}
	ret = x86_fw_cfg_setup(vm, fw, &fc);
	free(order);
	if (ret) {
		fw_cfg_destroy(fw);
		return ret; /* logged */
	}
	*out = fw;
	return 0;
}

int x86_firmware_boot(struct vm *vm)
{
	const struct vm_config *c = vm->cfg;
	struct x86_firmware *f = vm->fw;
	int ret;

	if (c->has_uuid) {
		memcpy(f->uuid, c->uuid, 16);
	} else if (getrandom(f->uuid, 16, 0) == 16) { /* a version 4 UUID for this boot */
		f->uuid[6] = (f->uuid[6] & 0x0f) | 0x40;
		f->uuid[8] = (f->uuid[8] & 0x3f) | 0x80;
	}
	f->sercon_port = c->serial == VM_SERIAL_NONE ? 0 : 0x3f8;
	ret = fw_cfg_build(vm, f->uuid, f->sercon_port, &f->fw_cfg);
	if (ret)
		return ret;
	vm->boot = (struct vm_boot){ .mode = BOOT_MODE_FIRMWARE, .entry = 0xfff0, .arg = 0 };
	return 0;
}

void x86_firmware_pam(struct vm *vm, uint8_t attr[13])
{
	memcpy(attr, vm->fw->pam, 13); /* what the MCH told the VMM (on_pam) */
}

int x86_firmware_lock(struct vm *vm, bool on)
{
	return vm->fw && vm->fw->flash ? pflash_lock(vm->fw->flash, on) : 0;
}

/* ---- saved state (the save file's FIRMWARE section, savestate_file.h) ---- */
void x86_firmware_save(struct vm *vm, struct savestate_firmware *fw, const uint8_t **vars)
{
	struct x86_firmware *f = vm->fw;

	memset(fw, 0, sizeof(*fw));
	fw->version = SAVESTATE_FW_VERSION;
	fw->size = sizeof(*fw);
	fw->rom_size = f->rom_size;
	/* a writable ROM (no read-only slots) is saved as the guest left it: a restore on the
	 * pristine image then refuses it rather than run another ROM */
	fw->rom_crc = f->ro_slots ? f->rom_crc : (uint32_t)crc32(0, f->rom, (uInt)f->rom_size);
	memcpy(fw->uuid, f->uuid, 16);
	fw->sercon_port = f->sercon_port;
	if (f->fw_cfg) {
		fw_cfg_digest(f->fw_cfg, &fw->fw_cfg_crc, &fw->fw_cfg_items);
		fw_cfg_save(f->fw_cfg, &fw->fw_cfg);
	}
	pci_host_save(f->pci, &fw->pci);
	q35_mch_save(f->mch, &fw->mch);
	ich9_lpc_save(f->lpc, &fw->lpc);
	*vars = NULL;
	if (f->flash) {
		pflash_save(f->flash, &fw->flash);
		fw->vars_size = f->flash_size;
		*vars = pflash_array(f->flash);
	}
}

static void uuid_str(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

/* What x86_firmware_restore checks before it changes anything. 0 or -EINVAL (logged). */
static int restore_check(struct vm *vm, const struct savestate_firmware *fw,
			 const uint8_t *vars_data, const char *label)
{
	struct x86_firmware *f = vm->fw;
	uint64_t vars = f->flash ? f->flash_size : 0;
	char a[37], b[37];

	if (fw->rom_size != f->rom_size || fw->rom_crc != f->rom_crc) {
		vsrv_log("%s: the saved VM ran another firmware ROM (%llu KiB, CRC32 %08x) than "
			 "this one's %s (%llu KiB, CRC32 %08x): start it with the same --firmware",
			 label, (unsigned long long)(fw->rom_size >> 10), fw->rom_crc,
			 vm->cfg->firmware, (unsigned long long)(f->rom_size >> 10), f->rom_crc);
		return -EINVAL;
	}
	if (fw->vars_size != vars) {
		if (!vars || !fw->vars_size)
			vsrv_log("%s: the saved VM %s a UEFI variable store, this one %s (start "
				 "it with the same --firmware)", label,
				 fw->vars_size ? "has" : "has no", vars ? "has" : "has none");
		else
			vsrv_log("%s: the saved VM's UEFI variable store has %llu bytes, this "
				 "one's (%s) %llu", label, (unsigned long long)fw->vars_size,
				 vm->cfg->firmware_vars, (unsigned long long)vars);
		return -EINVAL;
	}
	if (fw->vars_size && !vars_data) {
		vsrv_log("%s: the saved UEFI variable store is missing", label);
		return -EINVAL;
	}
	if (vm->cfg->has_uuid && memcmp(vm->cfg->uuid, fw->uuid, 16)) {
		uuid_str(fw->uuid, a);
		uuid_str(vm->cfg->uuid, b);
		vsrv_log("%s: the saved VM has the SMBIOS UUID %s, this one --uuid %s (give the "
			 "same, or none)", label, a, b);
		return -EINVAL;
	}
	if (q35_mch_state_check(&fw->mch) ||
	    pci_dev_cfg_check(&f->pci->bridge, fw->pci.bridge_cfg) ||
	    ich9_lpc_check(f->lpc, &fw->lpc) || fw_cfg_state_check(&fw->fw_cfg) ||
	    (f->flash && pflash_state_check(&fw->flash))) {
		vsrv_log("%s: the saved state of the chipset, the flash or fw_cfg is refused",
			 label);
		return -EINVAL;
	}
	return 0;
}

int x86_firmware_restore(struct vm *vm, const struct savestate_firmware *fw,
			 const uint8_t *vars, const char *label)
{
	struct x86_firmware *f = vm->fw;
	struct fw_cfg *fc = NULL;
	uint32_t crc = 0, items = 0;
	int ret;

	if (!f || f->fw_cfg) { /* a VM built for a restore or a migration boots nothing */
		vsrv_log("%s: this VM %s", label, f ? "was booted: its state cannot be loaded" :
			 "has no firmware");
		return -EINVAL;
	}
	ret = restore_check(vm, fw, vars, label);
	if (ret)
		return ret;
	/* fw_cfg as the saved VM had it: the same UUID and console, the rest from the
	 * configuration, which must give the same items */
	ret = fw_cfg_build(vm, fw->uuid, fw->sercon_port, &fc);
	if (ret)
		return ret;
	fw_cfg_digest(fc, &crc, &items);
	if (crc != fw->fw_cfg_crc || items != fw->fw_cfg_items) {
		vsrv_log("%s: the firmware's configuration (fw_cfg: %u items, CRC32 %08x) is not "
			 "the saved VM's (%u items, CRC32 %08x): start it with the same --memory, "
			 "--cpus, --name, --serial-number, --boot and devices", label, items, crc,
			 fw->fw_cfg_items, fw->fw_cfg_crc);
		fw_cfg_destroy(fc);
		return -EINVAL;
	}
	if (f->flash && (ret = pflash_load_array(f->flash, vars, fw->vars_size))) {
		vsrv_log("%s: cannot write the saved UEFI variables into %s: %s", label,
			 vm->cfg->firmware_vars, strerror(-ret));
		fw_cfg_destroy(fc);
		return ret;
	}
	/* checked above: none of these refuses now */
	if (pci_host_restore(f->pci, &fw->pci) || q35_mch_restore(f->mch, &fw->mch) ||
	    ich9_lpc_restore(f->lpc, &fw->lpc) || fw_cfg_restore(fc, &fw->fw_cfg) ||
	    (f->flash && pflash_restore(f->flash, &fw->flash))) {
		vsrv_log("%s: the saved state of the chipset, the flash or fw_cfg is refused",
			 label);
		fw_cfg_destroy(fc);
		return -EINVAL;
	}
	f->fw_cfg = fc;
	memcpy(f->uuid, fw->uuid, 16);
	f->sercon_port = fw->sercon_port;
	return 0;
}
