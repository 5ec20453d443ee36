/* Unit tests of the firmware layout (arch/x86/firmware.c) on a VM built by hand without KVM
 * (as test_fw_loader.c): what SeaBIOS and OVMF find at their first instructions. The ROM
 * at the top of 4 GiB and its copy below 1 MiB, the reset vector, RAM ending at
 * 0xB0000000, the q35 host bridge and the LPC bridge through 0xCF8, PCIEXBAR moving ECAM
 * to 0xB0000000, the CMOS bytes and boot order, fw_cfg's signature, e820, SMBIOS UUID and
 * CPU count, the UEFI flash below OVMF's code, and the layout torn down again. Needs
 * Debian's seabios and ovmf (make test-deps). */
#include "check.h"
#include "handvm.h"
#include "scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/boot.h"
#include "arch/x86/firmware.h"
#include "devices/acpi_pm.h"
#include "devices/fw_cfg.h"
#include "devices/rtc.h"
#include "vmm/savestate.h"
#include "vmm/savestate_file.h"
#include "vmm/vm.h"

static struct vm_config cfg;

static struct vm *fw_vm(const char *spec, unsigned cpus, uint64_t mem)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	char *copy = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.nr_cpus = cpus;
	cfg.mem_size = mem;
	cfg.serial = VM_SERIAL_NONE;
	if (x86_firmware_parse(spec, &cfg, &copy))
		abort();
	vm->cfg = &cfg;
	vm->kvm_fd = vm->vm_fd = -1;
	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	vm_host_init(vm);
	if (guest_mem_create_hole(mem, X86_FW_LOW_END, &vm->mem) ||
	    rtc_create(&vm->host, vm->mem->low_size, vm->mem->size - vm->mem->low_size, &vm->rtc) ||
	    acpi_pm_create(&vm->host, &vm->acpi_pm))
		abort();
	return vm; /* copy leaks with the test's config: one string per test */
}

static void fw_vm_free(struct vm *vm)
{
	x86_firmware_exit(vm);
	acpi_pm_destroy(vm->acpi_pm);
	rtc_destroy(vm->rtc);
	guest_mem_destroy(vm->mem);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	free(vm);
}

static uint32_t mmio_read32(struct vm *vm, uint64_t a)
{
	uint8_t d[4] = { 0 };
	bus_dispatch(&vm->mmio, a, d, 4, false);
	return d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24;
}

static uint32_t pci_read(struct vm *vm, unsigned dev, unsigned off)
{
	handvm_out(vm, 0xcf8, 0x80000000u | dev << 11 | (off & 0xfc), 4);
	return handvm_in(vm, 0xcfc, 4);
}

static void pci_write(struct vm *vm, unsigned dev, unsigned off, uint32_t v)
{
	handvm_out(vm, 0xcf8, 0x80000000u | dev << 11 | (off & 0xfc), 4);
	handvm_out(vm, 0xcfc, v, 4);
}

static uint8_t cmos(struct vm *vm, uint8_t i)
{
	handvm_out(vm, 0x70, i, 1);
	return (uint8_t)handvm_in(vm, 0x71, 1);
}

/* fw_cfg through the traditional ports: select key, read len bytes. */
static void fwc_read(struct vm *vm, uint16_t key, uint8_t *buf, uint32_t len)
{
	handvm_out(vm, 0x510, key, 2);
	for (uint32_t i = 0; i < len; i++)
		buf[i] = (uint8_t)handvm_in(vm, 0x511, 1);
}

/* A file's size and contents (malloc'd), found through the directory; NULL when absent. */
static uint8_t *fwc_file(struct vm *vm, const char *name, uint32_t *size)
{
	uint8_t n[4], e[64];

	fwc_read(vm, 0x19, n, 4);
	for (uint32_t i = 0, c = (uint32_t)n[0] << 24 | n[1] << 16 | n[2] << 8 | n[3]; i < c; i++) {
		for (int j = 0; j < 64; j++)
			e[j] = (uint8_t)handvm_in(vm, 0x511, 1);
		if (!strcmp((char *)e + 8, name)) {
			uint8_t *b;
			*size = (uint32_t)e[0] << 24 | e[1] << 16 | e[2] << 8 | e[3];
			b = malloc(*size + 1);
			fwc_read(vm, (uint16_t)(e[4] << 8 | e[5]), b, *size);
			return b;
		}
	}
	return NULL;
}

static void test_bios_layout(void)
{
	static const uint8_t uuid[16] = { 0x5f, 0x1c, 0x2d, 0x3e, 0x4b, 0x5a, 0x49, 0x78,
					  0x8a, 0x9b, 0x0c, 0x1d, 0x2e, 0x3f, 0x4a, 0x5b };
	struct vm *vm = fw_vm("bios", 3, 3ULL << 30);
	size_t rom_len;
	uint8_t *rom = file_slurp(X86_FW_BIOS, &rom_len);
	uint8_t sig[4], *e820, *smb;
	uint32_t size;
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	memcpy(cfg.uuid, uuid, 16);
	cfg.has_uuid = true;
	cfg.name = "vm-under-test";
	CHECK(x86_firmware_parse_boot("cdrom,disk", &cfg) == 0);
	CHECK_EQ(vm->mem->low_size, 0xB0000000ULL);
	CHECK_EQ(x86_firmware_init(vm), 0);
	/* The ROM at the top of 4 GiB (the reset vector's far jump in its last 16 bytes) and
	 * its last 128 KiB in RAM below 1 MiB. */
	CHECK_EQ(mmio_read32(vm, 0xfffffff0), rom[rom_len - 16] | rom[rom_len - 15] << 8 |
		 rom[rom_len - 14] << 16 | (uint32_t)rom[rom_len - 13] << 24);
	CHECK_EQ(rom[rom_len - 16], 0xea); /* SeaBIOS: ljmp $0xf000, $... */
	CHECK(memcmp(guest_mem_ptr(vm->mem, 0xe0000, 0x20000), rom + rom_len - 0x20000, 0x20000) == 0);
	{ /* a ROM write is dropped */
		uint8_t z[4] = { 0 };
		uint32_t before = mmio_read32(vm, 0xfffe0000);
		bus_dispatch(&vm->mmio, 0xfffe0000, z, 4, true);
		CHECK_EQ(mmio_read32(vm, 0xfffe0000), before);
	}
	/* The chipset SeaBIOS probes: q35 MCH 8086:29C0 at 00:00.0, ICH9 LPC 8086:2918 at 00:1f.0. */
	CHECK_EQ(pci_read(vm, 0, 0), 0x29c08086);
	CHECK_EQ(pci_read(vm, 31, 0), 0x29188086);
	CHECK(mmio_read32(vm, X86_FW_ECAM) != 0x29c08086); /* no ECAM until PCIEXBAR */
	pci_write(vm, 0, 0x64, 0);
	pci_write(vm, 0, 0x60, 0xb0000001);
	CHECK_EQ(mmio_read32(vm, X86_FW_ECAM), 0x29c08086);
	CHECK_EQ(mmio_read32(vm, X86_FW_ECAM + (31 << 15)), 0x29188086);
	/* CMOS: CPUs - 1, boot order CD then disk, RAM from 16 MiB to 0xB0000000 in 64 KiB. */
	CHECK_EQ(cmos(vm, 0x5f), 2);
	CHECK_EQ(cmos(vm, 0x3d), 0x23);
	CHECK_EQ(cmos(vm, 0x38) >> 4, 0);
	CHECK_EQ(cmos(vm, 0x34) | cmos(vm, 0x35) << 8, (0xB0000000 - (16 << 20)) >> 16);

	CHECK_EQ(x86_firmware_boot(vm), 0);
	fwc_read(vm, 0, sig, 4);
	CHECK(memcmp(sig, "QEMU", 4) == 0);
	fwc_read(vm, 5, sig, 2);
	CHECK_EQ(sig[0] | sig[1] << 8, 3);
	e820 = fwc_file(vm, "etc/e820", &size);
	CHECK(e820 && size >= 40 && size % 20 == 0);
	if (e820 && size >= 40) {
		uint64_t a0, l0, a1, l1;
		memcpy(&a0, e820, 8); memcpy(&l0, e820 + 8, 8);
		memcpy(&a1, e820 + 20, 8); memcpy(&l1, e820 + 28, 8);
		CHECK_EQ(a0, 0);
		CHECK_EQ(l0, 0xB0000000ULL);
		CHECK_EQ(a1, 1ULL << 32);
		CHECK_EQ(l1, (3ULL << 30) - 0xB0000000ULL);
		int ecam = 0;
		for (uint32_t i = 0; i < size; i += 20) {
			uint64_t a;
			memcpy(&a, e820 + i, 8);
			if (a == X86_FW_ECAM && e820[i + 16] == 2)
				ecam = 1;
		}
		CHECK(ecam);
	}
	free(e820);
	smb = fwc_file(vm, "etc/smbios/smbios-tables", &size);
	CHECK(smb != NULL);
	if (smb) { /* type 1: the UUID, first three fields little-endian; type 4 per CPU */
		int cpus = 0, found = 0;
		for (uint8_t *p = smb; p + 4 <= smb + size && p[0] != 127;) {
			if (p[0] == 1 && p[8] == 0x3e && p[9] == 0x2d && p[10] == 0x1c && p[11] == 0x5f &&
			    !memcmp(p + 16, uuid + 8, 8))
				found = 1;
			cpus += p[0] == 4;
			p += p[1];
			while (p[0] || p[1])
				p++;
			p += 2;
		}
		CHECK(found);
		CHECK_EQ(cpus, 3);
		CHECK(memmem(smb, size, "vm-under-test", 13) != NULL);
	}
	free(smb);
	{
		uint8_t port[2] = { 0, 0 };
		uint8_t *s = fwc_file(vm, "etc/sercon-port", &size);
		(void)port;
		CHECK(s == NULL); /* --serial none: no console for the firmware */
		free(s);
	}
	{ /* the FADT: the ICH9 PM timer at PMBASE + 8, reset through 0xCF9 */
		uint8_t *t = fwc_file(vm, "etc/acpi/tables", &size), *f;
		CHECK(t != NULL);
		f = t ? memmem(t, size, "FACP", 4) : NULL;
		CHECK(f != NULL);
		if (f) {
			uint32_t pm_tmr;
			uint64_t reset;
			memcpy(&pm_tmr, f + 76, 4);
			memcpy(&reset, f + 120, 8);
			CHECK_EQ(pm_tmr, 0x608);
			CHECK_EQ(f[91], 4);
			CHECK_EQ(reset, 0xcf9);
			CHECK_EQ(f[116], 1); /* system I/O */
			CHECK_EQ(f[128], 6);
		}
		free(t);
	}
	/* vCPU 0 at the reset vector, in real mode. */
	CHECK_EQ(vm->boot.mode, BOOT_MODE_FIRMWARE);
	memset(&sregs, 0, sizeof(sregs));
	x86_boot_regs(vm, &regs, &sregs);
	CHECK_EQ(regs.rip, 0xfff0);
	CHECK_EQ(sregs.cs.selector, 0xf000);
	CHECK_EQ(sregs.cs.base, 0xffff0000);
	CHECK_EQ(sregs.cr0 & 1, 0);
	CHECK_EQ(sregs.efer, 0);
	/* Nothing of direct boot's was written into low RAM (GDT, MP table, ACPI). */
	CHECK(memcmp(guest_mem_ptr(vm->mem, 0xe0000, 0x20000), rom + rom_len - 0x20000, 0x20000) == 0);
	free(rom);
	fw_vm_free(vm);
}

/* The serial console for the firmware, and a disk given without transport=: on the
 * firmware's host bridge (virtio-pci, 1af4:1042 after the MCH), the bridge surviving the
 * device level's teardown. */
static void test_sercon_and_disk(void)
{
	struct vm *vm = fw_vm("bios", 1, 64 << 20);
	uint32_t size = 0;
	uint8_t *s;
	const char *disks[1] = { P("disk.raw") };
	int fd = open(disks[0], O_CREAT | O_RDWR, 0600);

	CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
	close(fd);
	cfg.serial = VM_SERIAL_STDIO;
	cfg.disks = disks;
	cfg.nr_disks = 1;
	CHECK_EQ(evloop_create(&vm->loop), 0);
	vm_host_init(vm);
	CHECK_EQ(x86_firmware_init(vm), 0);
	CHECK_EQ(vm_devices_init(vm), 0);
	CHECK_EQ(pci_read(vm, 1, 0), 0x10421af4);
	vm_devices_exit(vm);
	CHECK_EQ(pci_read(vm, 1, 0), 0xffffffffu);
	CHECK_EQ(pci_read(vm, 0, 0), 0x29c08086); /* the host bridge is the firmware level's */
	CHECK_EQ(vm->mem->low_size, 64 << 20);
	CHECK_EQ(cmos(vm, 0x3d), 0x32); /* the default: disk, CD */
	CHECK_EQ(x86_firmware_boot(vm), 0);
	s = fwc_file(vm, "etc/sercon-port", &size);
	CHECK(s && size >= 2 && (s[0] | s[1] << 8) == 0x3f8);
	free(s);
	struct evloop *loop = vm->loop;
	fw_vm_free(vm);
	evloop_destroy(loop);
}

/* --boot cdrom,disk: fw_cfg's bootorder lists the CD, then the disks (virtio-blk, SCSI) in
 * command-line order, with QEMU's OpenFirmware paths (slot 1 virtio-blk, slot 2 the
 * virtio-scsi controller: the CD at target 0, the SCSI disk at target 1). */
static void test_bootorder(void)
{
	struct vm *vm = fw_vm("bios", 1, 64 << 20);
	const char *disks[3] = { P("b.raw"), NULL, NULL };
	char cd[300], sd[300];
	uint32_t size = 0;
	uint8_t *b;
	const char *want = "/pci@i0cf8/scsi@2/channel@0/disk@0,0\n"
			   "/pci@i0cf8/scsi@1/disk@0,0\n"
			   "/pci@i0cf8/scsi@2/channel@0/disk@1,0\n";

	for (int i = 0; i < 3; i++) {
		const char *n[3] = { "b.raw", "c.iso", "s.raw" };
		int fd = open(P(n[i]), O_CREAT | O_RDWR, 0600);
		CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
		close(fd);
	}
	snprintf(cd, sizeof(cd), "%s,media=cdrom", P("c.iso"));
	snprintf(sd, sizeof(sd), "%s,format=raw,bus=scsi", P("s.raw"));
	disks[1] = cd;
	disks[2] = sd;
	cfg.disks = disks;
	cfg.nr_disks = 3;
	CHECK(x86_firmware_parse_boot("cdrom,disk", &cfg) == 0);
	CHECK_EQ(evloop_create(&vm->loop), 0);
	vm_host_init(vm);
	CHECK_EQ(x86_firmware_init(vm), 0);
	CHECK_EQ(vm_devices_init(vm), 0);
	CHECK_EQ(x86_firmware_boot(vm), 0);
	b = fwc_file(vm, "bootorder", &size);
	CHECK(b != NULL);
	if (b) {
		CHECK_EQ(size, strlen(want) + 1);
		CHECK(memcmp(b, want, strlen(want) + 1) == 0);
		if (memcmp(b, want, strlen(want)))
			printf("bootorder: %.*s\n", (int)size, (char *)b);
	}
	free(b);
	CHECK_EQ(pci_read(vm, 1, 0), 0x10421af4); /* virtio-blk */
	CHECK_EQ(pci_read(vm, 2, 0), 0x10481af4); /* virtio-scsi */
	vm_devices_exit(vm);
	struct evloop *loop = vm->loop;
	fw_vm_free(vm);
	evloop_destroy(loop);
}

/* --boot cdrom,disk with IDE drives (a disk at the primary master, a CD drive at the primary
 * slave): the PIIX3 IDE function on the firmware's host bridge and SeaBIOS's ATA paths in
 * fw_cfg's bootorder, the CD first. */
static void test_bootorder_ide(void)
{
	struct vm *vm = fw_vm("bios", 1, 64 << 20);
	const char *disks[2];
	char hd[300], cd[300];
	uint32_t size = 0;
	uint8_t *b;
	const char *want = "/pci@i0cf8/ide@1/drive@0/disk@1\n/pci@i0cf8/ide@1/drive@0/disk@0\n";

	for (int i = 0; i < 2; i++) {
		const char *n[2] = { "i.raw", "i.iso" };
		int fd = open(P(n[i]), O_CREAT | O_RDWR, 0600);
		CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
		close(fd);
	}
	snprintf(hd, sizeof(hd), "%s,format=raw,bus=ide", P("i.raw"));
	snprintf(cd, sizeof(cd), "%s,bus=ide,media=cdrom", P("i.iso"));
	disks[0] = hd;
	disks[1] = cd;
	cfg.disks = disks;
	cfg.nr_disks = 2;
	CHECK(x86_firmware_parse_boot("cdrom,disk", &cfg) == 0);
	CHECK_EQ(evloop_create(&vm->loop), 0);
	vm_host_init(vm);
	CHECK_EQ(x86_firmware_init(vm), 0);
	CHECK_EQ(vm_devices_init(vm), 0);
	CHECK_EQ(x86_firmware_boot(vm), 0);
	b = fwc_file(vm, "bootorder", &size);
	CHECK(b != NULL);
	if (b) {
		CHECK_EQ(size, strlen(want) + 1);
		CHECK(memcmp(b, want, strlen(want) + 1) == 0);
		if (memcmp(b, want, strlen(want)))
			printf("bootorder: %.*s\n", (int)size, (char *)b);
	}
	free(b);
	CHECK_EQ(pci_read(vm, 1, 0), 0x70108086); /* PIIX3 IDE */
	CHECK_EQ(pci_read(vm, 1, 8) >> 8, 0x010180);
	vm_devices_exit(vm);
	CHECK_EQ(pci_read(vm, 1, 0), 0xffffffffu);
	struct evloop *loop = vm->loop;
	fw_vm_free(vm);
	evloop_destroy(loop);
}

static void test_uefi_flash(void)
{
	char vars[512];
	size_t tlen, clen;
	uint8_t *tmpl = file_slurp(X86_FW_UEFI_VARS, &tlen), *code = file_slurp(X86_FW_UEFI, &clen);
	struct vm *vm;
	uint64_t base = (1ULL << 32) - clen - tlen;
	struct stat st;

	snprintf(vars, sizeof(vars), "%s/vm1_VARS.fd", scratch_dir);
	char spec[600];
	snprintf(spec, sizeof(spec), "uefi,vars=%s", vars);
	vm = fw_vm(spec, 2, 256 << 20);
	CHECK_EQ(x86_firmware_init(vm), 0);
	CHECK(stat(vars, &st) == 0 && (size_t)st.st_size == tlen); /* made from the template */
	/* OVMF's code at the top, the flash just below it: the template's first bytes. */
	CHECK_EQ(mmio_read32(vm, (1ULL << 32) - clen), code[0] | code[1] << 8 | code[2] << 16 |
		 (uint32_t)code[3] << 24);
	CHECK_EQ(mmio_read32(vm, base), tmpl[0] | tmpl[1] << 8 | tmpl[2] << 16 |
		 (uint32_t)tmpl[3] << 24);
	CHECK_EQ(mmio_read32(vm, base + 0x28), 0x4856465f); /* "_FVH" of the vars volume */
	{ /* read ID through the bus (as OVMF's probe): 0x89 then array mode again */
		uint8_t c = 0x90, d = 0;
		bus_dispatch(&vm->mmio, base, &c, 1, true);
		bus_dispatch(&vm->mmio, base, &d, 1, false);
		CHECK_EQ(d, 0x89);
		c = 0xff;
		bus_dispatch(&vm->mmio, base, &c, 1, true);
		CHECK_EQ(mmio_read32(vm, base + 0x28), 0x4856465f);
	}
	CHECK_EQ(x86_firmware_boot(vm), 0);
	fw_vm_free(vm);
	/* A second VM on the same vars file while the first holds it: refused (the lock). */
	vm = fw_vm(spec, 1, 64 << 20);
	struct vm *vm2 = fw_vm(spec, 1, 64 << 20);
	CHECK_EQ(x86_firmware_init(vm), 0);
	CHECK(x86_firmware_init(vm2) < 0);
	fw_vm_free(vm2);
	fw_vm_free(vm);
	free(tmpl);
	free(code);
}

int main(void)
{
	if (access(X86_FW_BIOS, R_OK) || access(X86_FW_UEFI, R_OK) || access(X86_FW_UEFI_VARS, R_OK)) {
		printf("SKIP firmware: Debian's seabios and ovmf are not installed (make test-deps)\n");
		return 0;
	}
	if (scratch_make("vsrv-firmware"))
		return 1;
	RUN(test_bios_layout);
	RUN(test_sercon_and_disk);
	RUN(test_bootorder);
	RUN(test_bootorder_ide);
	RUN(test_uefi_flash);
	scratch_remove();
	return check_done();
}
