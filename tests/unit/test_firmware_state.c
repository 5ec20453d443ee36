/* A firmware-booted VM's own state (the save file's FIRMWARE section, x86_firmware_save /
 * x86_firmware_restore) on VMs built by hand without KVM, as test_firmware.c builds them. A
 * guest's writes through the ports and MMIO (PCIEXBAR, every PAM register, SMRAM, the LPC
 * bridge's PMBASE, ACPI_CNTL, PIRQ routing and RCBA, RST_CNT, the 0xCF8 latch, fw_cfg halfway
 * through an item with half a DMA address, the CFI flash halfway through a command with a
 * block erased and programmed) are saved and restored into a fresh VM built for a restore: the
 * saved state is the same again, and the guest sees the same (ECAM where it was, the PAM
 * regions mapped as before, the PM block at PMBASE, fw_cfg's next bytes and the random UUID,
 * the flash's status and array, the vars file's bytes). Refused, and the fresh VM unchanged:
 * another ROM, a variable store of another size or none, another --uuid, --name or CPU count
 * (fw_cfg's items), and every register state no device can be in. The vars file's lock handed
 * over as a live migration does. Needs Debian's seabios and ovmf (make test-deps). */
#include "check.h"
#include "fwvm.h"
#include "scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/firmware.h"
#include "devices/acpi_pm.h"
#include "devices/fw_cfg.h"
#include "devices/rtc.h"
#include "vmm/savestate_file.h"
#include "vmm/vm.h"

static void pci_write(struct vm *vm, unsigned dev, unsigned off, uint32_t v, uint32_t len)
{
	out(vm, 0xcf8, 0x80000000u | dev << 11 | (off & 0xfc), 4);
	out(vm, (uint16_t)(0xcfc + (off & 3)), v, len);
}

static uint32_t pci_read(struct vm *vm, unsigned dev, unsigned off)
{
	out(vm, 0xcf8, 0x80000000u | dev << 11 | (off & 0xfc), 4);
	return in(vm, 0xcfc, 4);
}

/* What a guest does to the chipset and fw_cfg while the firmware runs. */
static void guest_writes(struct vm *vm)
{
	pci_write(vm, 0, 0x64, 0, 4);
	pci_write(vm, 0, 0x60, 0xb0000001, 4);          /* ECAM at 0xB0000000 */
	pci_write(vm, 0, 0x90, 0x23123130, 4);          /* PAM0-3: every attribute */
	pci_write(vm, 0, 0x94, 0x00210033, 4);          /* PAM4-6 */
	pci_write(vm, 0, 0x9d, 0x4a, 1);                /* SMRAM: D_OPEN, G_SMRAME */
	pci_write(vm, 31, 0x40, 0x601, 4);              /* PMBASE 0x600 */
	pci_write(vm, 31, 0x44, 0x81, 1);               /* ACPI_EN, the SCI on IRQ 10 */
	pci_write(vm, 31, 0x60, 0x0b0a8005, 4);         /* PIRQA-D */
	pci_write(vm, 31, 0x68, 0x80808003, 4);         /* PIRQE-H */
	pci_write(vm, 31, 0xf0, 0xfed1c001, 4);         /* RCBA */
	out(vm, 0xcf9, 0x02, 1);                        /* RST_CNT: SYS_RST */
	out(vm, 0x510, FW_CFG_FILE_DIR, 2);             /* fw_cfg: the directory, 10 bytes in */
	for (int i = 0; i < 10; i++)
		in(vm, 0x511, 1);
	out(vm, 0x514, 0x78563412, 4);                  /* half a DMA address */
	out(vm, 0xcf8, 0x8000f840, 4);                  /* the latch at the LPC's PMBASE */
}

static void fwcfg_read(struct vm *vm, uint8_t *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)in(vm, 0x511, 1);
}

static void test_bios_roundtrip(void)
{
	struct vm_config ca, cb;
	struct savestate_firmware fa, fb;
	const uint8_t *va = (const uint8_t *)1, *vb = (const uint8_t *)1, *low;
	const char *why = "";
	uint8_t pa[13], pb[13], x[16], y[16];
	struct vm *a = mk(&ca, "bios", "vm-a", 2, 0), *b;
	int zero = 1;

	guest_writes(a);
	x86_firmware_save(a, &fa, &va);
	CHECK(va == NULL);
	CHECK_EQ(fa.vars_size, 0);
	CHECK_EQ(fa.sercon_port, 0x3f8);
	CHECK(fa.fw_cfg_items > 10);
	CHECK_EQ(fa.fw_cfg.selector, FW_CFG_FILE_DIR);
	CHECK_EQ(fa.fw_cfg.offset, 10);
	CHECK_EQ(fa.lpc.rst_cnt, 2);
	CHECK_EQ(fa.pci.cf8, 0x8000f840);
	CHECK_EQ(savestate_check_firmware(&fa, sizeof(fa), &why), 0);

	/* a VM built for a restore: no copy of the ROM in the shadow area (the saved RAM
	 * goes there), no fw_cfg until the restore */
	b = mk(&cb, "bios", "vm-a", 2, 1);
	low = guest_mem_ptr(b->mem, 0xc0000, 0x40000);
	for (unsigned i = 0; low && i < 0x40000; i++)
		zero &= low[i] == 0;
	CHECK(low && zero);
	CHECK_EQ(x86_firmware_restore(b, &fa, NULL, "test"), 0);
	x86_firmware_save(b, &fb, &vb);
	CHECK(vb == NULL);
	CHECK(memcmp(&fa, &fb, sizeof(fa)) == 0);

	/* what the guest sees */
	CHECK_EQ(in(b, 0xcf8, 4), 0x8000f840);
	CHECK_EQ(in(b, 0xcfc, 4), 0x601);
	CHECK_EQ(mmio32(b, X86_FW_ECAM), 0x29c08086);   /* ECAM moved where PCIEXBAR says */
	CHECK_EQ(mmio32(b, X86_FW_ECAM + (31 << 15)), 0x29188086);
	x86_firmware_pam(a, pa);
	x86_firmware_pam(b, pb);
	CHECK(memcmp(pa, pb, 13) == 0);
	CHECK_EQ(pb[0], 3);                              /* 0xF0000: DRAM */
	CHECK_EQ(pb[1], 1);                              /* 0xC0000: read DRAM */
	CHECK_EQ(pb[2], 3);
	CHECK_EQ(pb[3], 2);                              /* 0xC8000: write DRAM */
	CHECK_EQ(pb[9], 0);                              /* 0xE0000: ROM */
	CHECK_EQ(pb[12], 2);
	CHECK_EQ(pci_read(b, 0, 0x90), 0x23123130);
	CHECK_EQ(pci_read(b, 0, 0x9c) >> 8 & 0xff, 0x4a);
	CHECK_EQ(acpi_pm_base(b->acpi_pm), 0x600);      /* the PM block at PMBASE */
	CHECK_EQ(pci_read(b, 31, 0x60), 0x0b0a8005);
	CHECK_EQ(pci_read(b, 31, 0xf0), 0xfed1c001);
	CHECK_EQ(in(b, 0xcf9, 1), 2);
	fwcfg_read(a, x, 16);                            /* fw_cfg goes on where it was */
	fwcfg_read(b, y, 16);
	CHECK(memcmp(x, y, 16) == 0);
	out(a, 0x510, FW_CFG_UUID, 2);                   /* the boot's random UUID, kept */
	out(b, 0x510, FW_CFG_UUID, 2);
	fwcfg_read(a, x, 16);
	fwcfg_read(b, y, 16);
	CHECK(memcmp(x, y, 16) == 0);
	CHECK(memcmp(x, fa.uuid, 16) == 0);
	rm(b);
	rm(a);
}

/* restore of bad into a fresh VM for spec/name/cpus (uuid: --uuid, or NULL): refused, and
 * the VM's saved state the same before and after. */
static int refused(const struct savestate_firmware *bad, const uint8_t *vars, const char *spec,
		   const char *name, unsigned cpus, const uint8_t *uuid)
{
	struct vm_config c;
	struct savestate_firmware before, after;
	const uint8_t *v;
	struct vm *b = mk(&c, spec, name, cpus, 1);
	int ret;

	if (uuid) {
		c.has_uuid = true;
		memcpy(c.uuid, uuid, 16);
	}
	x86_firmware_save(b, &before, &v);
	ret = x86_firmware_restore(b, bad, vars, "test");
	x86_firmware_save(b, &after, &v);
	CHECK(memcmp(&before, &after, sizeof(before)) == 0);
	CHECK_EQ(after.fw_cfg_items, 0);                 /* no fw_cfg was kept */
	CHECK_EQ(acpi_pm_base(b->acpi_pm), 0);
	rm(b);
	return ret;
}

static void test_refusals(void)
{
	struct vm_config ca;
	struct savestate_firmware fa, bad;
	const uint8_t *va;
	const char *why = "";
	struct vm *a = mk(&ca, "bios", "vm-a", 2, 0);
	uint8_t other[16] = { 1, 2, 3 };

	guest_writes(a);
	x86_firmware_save(a, &fa, &va);
	/* the configuration the saved VM had */
	CHECK(refused(&fa, NULL, "bios", "vm-b", 2, NULL) < 0);      /* --name: fw_cfg */
	CHECK(refused(&fa, NULL, "bios", "vm-a", 1, NULL) < 0);      /* --cpus: fw_cfg */
	CHECK(refused(&fa, NULL, "bios", "vm-a", 2, other) < 0);     /* --uuid */
	{
		char spec[600];

		snprintf(spec, sizeof(spec), "uefi,vars=%s", P("r_VARS.fd"));
		CHECK(refused(&fa, NULL, spec, "vm-a", 2, NULL) < 0); /* another ROM, a flash */
	}
	/* and the right configuration with --uuid the saved one: accepted */
	{
		struct vm_config c;
		struct vm *b = mk(&c, "bios", "vm-a", 2, 1);

		c.has_uuid = true;
		memcpy(c.uuid, fa.uuid, 16);
		CHECK_EQ(x86_firmware_restore(b, &fa, NULL, "test"), 0);
		rm(b);
	}
	/* the section itself */
	bad = fa; bad.rom_crc ^= 1;
	CHECK(refused(&bad, NULL, "bios", "vm-a", 2, NULL) < 0);
	bad = fa; bad.rom_size += 4096;
	CHECK(refused(&bad, NULL, "bios", "vm-a", 2, NULL) < 0);
	bad = fa; bad.fw_cfg_crc ^= 0x100;
	CHECK(refused(&bad, NULL, "bios", "vm-a", 2, NULL) < 0);
	bad = fa; bad.fw_cfg_items++;
	CHECK(refused(&bad, NULL, "bios", "vm-a", 2, NULL) < 0);
	bad = fa; bad.vars_size = 4096;                              /* a flash it has not */
	CHECK(refused(&bad, (const uint8_t *)&fa, "bios", "vm-a", 2, NULL) < 0);
	bad = fa; bad.mch.pam[2] = 0x44;
	CHECK(refused(&bad, NULL, "bios", "vm-a", 2, NULL) < 0);
	CHECK(savestate_check_firmware(&bad, sizeof(bad), &why) < 0);
	bad = fa; bad.mch.pciexbar |= 1ULL << 40;
	CHECK(refused(&bad, NULL, "bios", "vm-a", 2, NULL) < 0);
	bad = fa; bad.mch.smram = 0x01;
	CHECK(refused(&bad, NULL, "bios", "vm-a", 2, NULL) < 0);
	bad = fa; bad.lpc.cfg[0] ^= 1;                               /* its vendor ID */
	CHECK(refused(&bad, NULL, "bios", "vm-a", 2, NULL) < 0);
	bad = fa; bad.lpc.rst_cnt = 0x04;
	CHECK(refused(&bad, NULL, "bios", "vm-a", 2, NULL) < 0);
	CHECK(savestate_check_firmware(&bad, sizeof(bad), &why) < 0);
	bad = fa; bad.pci.bridge_cfg[2] ^= 1;                        /* the MCH's device ID */
	CHECK(refused(&bad, NULL, "bios", "vm-a", 2, NULL) < 0);
	bad = fa; bad.fw_cfg.reserved = 1;
	CHECK(refused(&bad, NULL, "bios", "vm-a", 2, NULL) < 0);
	CHECK(savestate_check_firmware(&bad, sizeof(bad), &why) < 0);
	rm(a);
}

/* The parser's checks of the fixed part (savestate_check_firmware). */
static void test_section_checks(void)
{
	struct savestate_firmware ok = { .version = SAVESTATE_FW_VERSION, .size = sizeof(ok),
					 .rom_size = 256 << 10 }, f;
	const char *why = "";

	ok.mch.smram = 0x02;
	CHECK_EQ(savestate_check_firmware(&ok, sizeof(ok), &why), 0);
	CHECK(savestate_check_firmware(&ok, sizeof(ok) - 1, &why) < 0);
	CHECK(strstr(why, "too short") != NULL);
	CHECK(savestate_check_firmware(&ok, sizeof(ok) + 4096, &why) < 0); /* vars_size 0 */
	f = ok; f.version = 2;
	CHECK(savestate_check_firmware(&f, sizeof(f), &why) < 0);
	CHECK(strstr(why, "version") != NULL);
	f = ok; f.size = sizeof(f) + 8;
	CHECK(savestate_check_firmware(&f, sizeof(f) + 8, &why) < 0);
	f = ok; f.vars_size = 4096;
	CHECK_EQ(savestate_check_firmware(&f, sizeof(f) + 4096, &why), 0);
	CHECK(savestate_check_firmware(&f, sizeof(f), &why) < 0);
	f = ok; f.vars_size = 100;
	CHECK(savestate_check_firmware(&f, sizeof(f) + 100, &why) < 0);
	f = ok; f.vars_size = SAVESTATE_FW_VARS_MAX;
	CHECK(savestate_check_firmware(&f, sizeof(f) + f.vars_size, &why) < 0); /* + ROM */
	f = ok; f.vars_size = 1ULL << 62;
	CHECK(savestate_check_firmware(&f, sizeof(f) + f.vars_size, &why) < 0);
	f = ok; f.rom_size = 0;
	CHECK(savestate_check_firmware(&f, sizeof(f), &why) < 0);
	f = ok; f.rom_size = ~0ULL;
	CHECK(savestate_check_firmware(&f, sizeof(f), &why) < 0);
	f = ok; f.reserved0 = 1;
	CHECK(savestate_check_firmware(&f, sizeof(f), &why) < 0);
	f = ok; f.reserved3[3] = 1;
	CHECK(savestate_check_firmware(&f, sizeof(f), &why) < 0);
	f = ok; f.flash.mode = PFLASH_MODE_COUNT;
	f.vars_size = 4096;
	CHECK(savestate_check_firmware(&f, sizeof(f) + 4096, &why) < 0);
	f = ok; f.flash.mode = PFLASH_READ_STATUS;                  /* a flash it has not */
	CHECK(savestate_check_firmware(&f, sizeof(f), &why) < 0);
	f = ok; f.flash.status = 0x01;
	f.vars_size = 4096;
	CHECK(savestate_check_firmware(&f, sizeof(f) + 4096, &why) < 0);
	f = ok; f.lpc.reserved[6] = 1;
	CHECK(savestate_check_firmware(&f, sizeof(f), &why) < 0);
}

/* UEFI: the variable store travels with the state and lands in the destination's vars
 * file; the flash goes on in the mode it was in. */
static void test_uefi_vars(void)
{
	static const uint8_t data[8] = { 'v', 's', 'r', 'v', 0x5a, 0xa5, 0x01, 0xfe };
	char sa[600], sb[600], sc[600];
	struct vm_config ca, cb;
	struct savestate_firmware fa, fb;
	const uint8_t *va, *vb;
	uint8_t *fa_file, *fb_file, *fc_file, *fc_after;
	size_t la, lb, lc, lc2;
	struct vm *a, *b;
	uint64_t base;
	int fd;

	snprintf(sa, sizeof(sa), "uefi,vars=%s", P("a_VARS.fd"));
	snprintf(sb, sizeof(sb), "uefi,vars=%s", P("b_VARS.fd"));
	snprintf(sc, sizeof(sc), "uefi,vars=%s", P("c_VARS.fd"));
	a = mk(&ca, sa, "vm-u", 1, 0);
	x86_firmware_save(a, &fa, &va);
	base = (1ULL << 32) - fa.rom_size - fa.vars_size;
	guest_writes(a);
	/* erase the block at 0x3000, program 8 bytes into it: the flash is left in read
	 * status mode (what OVMF sees between its program and its 0xFF) */
	mmio8(a, base + 0x3000, 0x20);
	mmio8(a, base + 0x3000, 0xd0);
	mmio8(a, base + 0x3010, 0x40);
	bus_dispatch(&a->mmio, base + 0x3010, (uint8_t *)data, 8, 1);
	x86_firmware_save(a, &fa, &va);
	CHECK(va != NULL);
	CHECK_EQ(fa.flash.mode, PFLASH_READ_STATUS);
	CHECK(va && !memcmp(va + 0x3010, data, 8) && va[0x3000] == 0xff);

	b = mk(&cb, sb, "vm-u", 1, 1);                 /* vars made from the template */
	fb_file = file_slurp(P("b_VARS.fd"), &lb);
	CHECK(memcmp(fb_file + 0x3010, data, 8) != 0);
	free(fb_file);
	CHECK_EQ(x86_firmware_restore(b, &fa, va, "test"), 0);
	x86_firmware_save(b, &fb, &vb);
	CHECK(memcmp(&fa, &fb, sizeof(fa)) == 0);
	fa_file = file_slurp(P("a_VARS.fd"), &la);
	fb_file = file_slurp(P("b_VARS.fd"), &lb);             /* the file holds the saved store */
	CHECK(la == lb && !memcmp(fa_file, fb_file, la));
	CHECK_EQ(mmio32(b, base + 0x3010) & 0xff, 0x80);  /* status: ready */
	mmio8(b, base + 0x3010, 0xff);                    /* read array: the programmed bytes */
	CHECK_EQ(mmio32(b, base + 0x3010), 'v' | 's' << 8 | 'r' << 16 | (uint32_t)'v' << 24);
	free(fa_file);
	free(fb_file);
	rm(b);

	/* a vars file of another size: refused, the file untouched */
	fd = open(P("c_VARS.fd"), O_CREAT | O_RDWR | O_TRUNC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, 64 * 4096) == 0);
	close(fd);
	fc_file = file_slurp(P("c_VARS.fd"), &lc);
	CHECK(refused(&fa, va, sc, "vm-u", 1, NULL) < 0);
	fc_after = file_slurp(P("c_VARS.fd"), &lc2);
	CHECK(lc == lc2 && !memcmp(fc_file, fc_after, lc));
	free(fc_file);
	free(fc_after);
	CHECK(refused(&fa, NULL, sb, "vm-u", 1, NULL) < 0);  /* the store itself missing */
	/* a BIOS VM does not take it, nor a UEFI one the flash state of a bad mode */
	CHECK(refused(&fa, va, "bios", "vm-u", 1, NULL) < 0);
	{
		struct savestate_firmware bad = fa;

		bad.flash.mode = PFLASH_MODE_COUNT;
		CHECK(refused(&bad, va, sb, "vm-u", 1, NULL) < 0);
	}
	rm(a);
}

/* A migration's destination opens the vars file without its lock (the source runs on it)
 * and takes it when the state arrives; the source lets go of it first and can take it back
 * (x86_firmware_lock). */
static void test_vars_lock_handover(void)
{
	char spec[600];
	struct vm_config ca, cb;
	struct vm *a, *b;

	snprintf(spec, sizeof(spec), "uefi,vars=%s", P("m_VARS.fd"));
	a = mk(&ca, spec, "vm-m", 1, 0);
	b = mk(&cb, spec, "vm-m", 1, 2);                  /* --incoming on the same file */
	CHECK_EQ(x86_firmware_lock(b, true), -EBUSY);     /* the source holds it */
	CHECK_EQ(x86_firmware_lock(a, false), 0);         /* the source stops: lets go */
	CHECK_EQ(x86_firmware_lock(b, true), 0);          /* the destination takes it */
	CHECK_EQ(x86_firmware_lock(a, true), -EBUSY);     /* not back while the other has it */
	CHECK_EQ(x86_firmware_lock(b, false), 0);         /* the destination refused the state */
	CHECK_EQ(x86_firmware_lock(a, true), 0);          /* the source goes on with it */
	rm(b);
	{
		struct vm *c = calloc(1, sizeof(*c));     /* direct boot: nothing to lock */

		CHECK_EQ(x86_firmware_lock(c, true), 0);
		free(c);
	}
	rm(a);
}

int main(void)
{
	if (access(X86_FW_BIOS, R_OK) || access(X86_FW_UEFI, R_OK) ||
	    access(X86_FW_UEFI_VARS, R_OK)) {
		printf("SKIP firmware-state: Debian's seabios and ovmf are not installed\n");
		return 0;
	}
	if (scratch_make("vsrv-fwstate"))
		return 1;
	RUN(test_bios_roundtrip);
	RUN(test_refusals);
	RUN(test_section_checks);
	RUN(test_uefi_vars);
	RUN(test_vars_lock_handover);
	scratch_remove();
	return check_done();
}
