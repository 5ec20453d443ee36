/* Network boot on a VM built by hand without KVM (as test_firmware.c): the NICs' option ROMs
 * (Debian's iPXE from ipxe-qemu) through the PCI expansion ROM BAR of an e1000 and a
 * virtio-net on the firmware's host bridge, sized and read back byte for byte through config
 * space and the MMIO bus as firmware does; no ROM on direct kernel boot or with
 * romfile=none; romfile= with another image, and refused images; the --net and --boot
 * options; fw_cfg's bootorder and the CMOS for --boot n,c. Needs seabios and ipxe-qemu
 * (make test-deps) and libslirp (the NICs are on the user-mode network). */
#include "check.h"
#include "handvm.h"
#include "scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/firmware.h"
#include "devices/acpi_pm.h"
#include "devices/pci.h"
#include "devices/pci_rom.h"
#include "devices/rtc.h"
#include "devices/virtio/net.h"
#include "devices/virtio/options.h"
#include "vmm/evloop.h"
#include "vmm/vm.h"

static struct vm_config cfg;
static char *fw_copy; /* what x86_firmware_parse made for cfg, freed with the next */

/* A VM with (spec non-NULL: --firmware spec, its layout and chipset) or without firmware,
 * the given --net specs, its devices made. NULL when vm_devices_init failed (*err: its
 * return value). */
static struct vm *net_vm(const char *spec, const char **nets, unsigned n, int *err)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	int ret;

	free(fw_copy);
	fw_copy = NULL;
	memset(&cfg, 0, sizeof(cfg));
	cfg.nr_cpus = 1;
	cfg.mem_size = 64 << 20;
	cfg.serial = VM_SERIAL_NONE;
	cfg.nets = nets;
	cfg.nr_nets = n;
	if (spec && x86_firmware_parse(spec, &cfg, &fw_copy))
		abort();
	vm->cfg = &cfg;
	vm->kvm_fd = vm->vm_fd = -1;
	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	vm_host_init(vm);
	if (guest_mem_create_hole(cfg.mem_size, X86_FW_LOW_END, &vm->mem) ||
	    rtc_create(&vm->host, vm->mem->low_size, vm->mem->size - vm->mem->low_size, &vm->rtc) ||
	    acpi_pm_create(&vm->host, &vm->acpi_pm) || evloop_create(&vm->loop))
		abort();
	vm_host_init(vm);
	if (spec && x86_firmware_init(vm))
		abort();
	ret = vm_devices_init(vm);
	if (err)
		*err = ret;
	if (ret) {
		x86_firmware_exit(vm);
		acpi_pm_destroy(vm->acpi_pm);
		rtc_destroy(vm->rtc);
		guest_mem_destroy(vm->mem);
		bus_destroy(&vm->pio);
		bus_destroy(&vm->mmio);
		evloop_destroy(vm->loop);
		free(vm);
		return NULL;
	}
	return vm;
}

static void net_vm_free(struct vm *vm)
{
	struct evloop *loop;

	if (!vm)
		return;
	loop = vm->loop;
	vm_devices_exit(vm);
	x86_firmware_exit(vm);
	acpi_pm_destroy(vm->acpi_pm);
	rtc_destroy(vm->rtc);
	guest_mem_destroy(vm->mem);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	free(vm);
	evloop_destroy(loop);
}

static uint32_t cfg_read(struct vm *vm, unsigned slot, unsigned off)
{
	handvm_out(vm, 0xcf8, 0x80000000u | slot << 11 | (off & 0xfc), 4);
	return handvm_in(vm, 0xcfc, 4);
}

static void cfg_write(struct vm *vm, unsigned slot, unsigned off, uint32_t v)
{
	handvm_out(vm, 0xcf8, 0x80000000u | slot << 11 | (off & 0xfc), 4);
	handvm_out(vm, 0xcfc, v, 4);
}

static void write_file(const char *path, const uint8_t *b, size_t len)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

	if (fd < 0 || write(fd, b, len) != (ssize_t)len)
		abort();
	close(fd);
}

/* The ROM of the function at slot as firmware finds it: the BAR's size by the sizing
 * protocol (all ones written, the address bits read back), then the BAR enabled at its
 * address with memory decoding on, and the whole BAR read through the MMIO bus; it must
 * equal want (len bytes) padded with 0xFF. The enable bit off takes it off the bus again. */
static void check_rom(struct vm *vm, unsigned slot, const uint8_t *want, size_t len,
		      uint32_t bar_size)
{
	uint32_t a = cfg_read(vm, slot, PCI_ROM_ADDRESS), v = 0, bad = 0;
	uint64_t base;

	CHECK(a != 0);
	CHECK_EQ(a & 0x7ff, 0);     /* enable bit off until the firmware sets it */
	base = a & ~0x7ffu;
	CHECK(bus_dispatch(&vm->mmio, base, (uint8_t *)&v, 4, false) == -ENOENT);
	cfg_write(vm, slot, PCI_ROM_ADDRESS, 0xfffff800u);
	CHECK_EQ(cfg_read(vm, slot, PCI_ROM_ADDRESS), ~(bar_size - 1));
	cfg_write(vm, slot, PCI_ROM_ADDRESS, (uint32_t)base | 1);
	CHECK_EQ(cfg_read(vm, slot, PCI_ROM_ADDRESS), (uint32_t)base | 1);
	/* not decoded until the command register's memory bit is set too */
	CHECK(bus_dispatch(&vm->mmio, base, (uint8_t *)&v, 4, false) == -ENOENT);
	cfg_write(vm, slot, 0x04, cfg_read(vm, slot, 0x04) | PCI_CMD_MEM);
	for (uint32_t off = 0; off < bar_size; off += 4) {
		uint8_t d[4];

		CHECK_EQ(bus_dispatch(&vm->mmio, base + off, d, 4, false), 0);
		for (int k = 0; k < 4; k++)
			bad += d[k] != (off + k < len ? want[off + k] : 0xff);
	}
	CHECK_EQ(bad, 0);
	v = 0;
	CHECK_EQ(bus_dispatch(&vm->mmio, base, (uint8_t *)&v, 4, true), 0); /* read-only */
	CHECK_EQ(bus_dispatch(&vm->mmio, base, (uint8_t *)&v, 2, false), 0);
	CHECK_EQ(v, 0xaa55);
	cfg_write(vm, slot, PCI_ROM_ADDRESS, (uint32_t)base);
	CHECK(bus_dispatch(&vm->mmio, base, (uint8_t *)&v, 4, false) == -ENOENT);
}

/* --firmware bios with an e1000 and a virtio-net: Debian's iPXE ROMs (249 KiB: a 256 KiB
 * BAR) behind both, as QEMU's defaults. */
static void test_rom_default(void)
{
	const char *nets[2] = { "user,model=e1000", "user" };
	size_t elen, vlen;
	uint8_t *e = file_slurp(NET_ROM_E1000, &elen), *v = file_slurp(NET_ROM_VIRTIO, &vlen);
	struct vm *vm = net_vm("bios", nets, 2, NULL);

	CHECK(vm != NULL);
	if (vm) {
		CHECK_EQ(cfg_read(vm, 1, 0), 0x100e8086);
		CHECK_EQ(cfg_read(vm, 2, 0), 0x10411af4);
		check_rom(vm, 1, e, elen, 256 << 10);
		check_rom(vm, 2, v, vlen, 256 << 10);
	}
	net_vm_free(vm);
	free(e);
	free(v);
}

/* No ROM: direct kernel boot (no --firmware), and romfile=none or romfile= empty. 0x30
 * then reads as zero and ignores writes. */
static void test_rom_absent(void)
{
	const char *direct[2] = { "user,model=e1000", "user,transport=pci" };
	const char *none[2] = { "user,model=e1000,romfile=none", "user,romfile=" };
	struct vm *vm = net_vm(NULL, direct, 2, NULL);

	CHECK(vm != NULL);
	for (int pass = 0; pass < 2 && vm; pass++) {
		for (unsigned slot = 1; slot <= 2; slot++) {
			CHECK_EQ(cfg_read(vm, slot, 0) & 0xffff, slot == 1 ? 0x8086 : 0x1af4);
			CHECK_EQ(cfg_read(vm, slot, PCI_ROM_ADDRESS), 0);
			cfg_write(vm, slot, PCI_ROM_ADDRESS, 0xfffff801u);
			CHECK_EQ(cfg_read(vm, slot, PCI_ROM_ADDRESS), 0);
		}
		net_vm_free(vm);
		vm = pass ? NULL : net_vm("bios", none, 2, NULL);
		CHECK(pass || vm != NULL);
	}
}

/* romfile=PATH: that image instead (3000 bytes: a 4 KiB BAR); images refused with a
 * reason: missing, without the 0x55AA signature, larger than PCI_ROM_MAX, empty. */
static void test_romfile(void)
{
	static uint8_t img[3000] = { 0x55, 0xaa, 0x06, [2999] = 0x5a };
	char spec[2][400];
	const char *nets[2] = { spec[0], spec[1] };
	uint8_t *big = calloc(1, PCI_ROM_MAX + 1);
	struct vm *vm;
	int err = 0;

	write_file(P("rom.bin"), img, sizeof(img));
	snprintf(spec[0], sizeof(spec[0]), "user,model=e1000,romfile=%s", P("rom.bin"));
	snprintf(spec[1], sizeof(spec[1]), "user,romfile=%s", P("rom.bin"));
	vm = net_vm("bios", nets, 2, NULL);
	CHECK(vm != NULL);
	if (vm) {
		check_rom(vm, 1, img, sizeof(img), 4096);
		check_rom(vm, 2, img, sizeof(img), 4096);
	}
	net_vm_free(vm);

	/* refused: the VM is not made */
	snprintf(spec[0], sizeof(spec[0]), "user,model=e1000,romfile=%s", P("missing.rom"));
	CHECK(net_vm("bios", nets, 1, &err) == NULL);
	CHECK_EQ(err, -ENOENT);
	cfg.nets = nets;
	cfg.nr_nets = 1;
	CHECK_EQ(vm_devices_check(&cfg), -ENOENT); /* before the VM is built, too */
	img[1] = 0xab;
	write_file(P("nosig.rom"), img, sizeof(img));
	snprintf(spec[0], sizeof(spec[0]), "user,romfile=%s", P("nosig.rom"));
	CHECK(net_vm("bios", nets, 1, &err) == NULL);
	CHECK_EQ(err, -EINVAL);
	big[0] = 0x55;
	big[1] = 0xaa;
	write_file(P("big.rom"), big, PCI_ROM_MAX + 1);
	snprintf(spec[0], sizeof(spec[0]), "user,model=e1000,romfile=%s", P("big.rom"));
	CHECK(net_vm("bios", nets, 1, &err) == NULL);
	CHECK_EQ(err, -EINVAL);
	write_file(P("empty.rom"), big, 0);
	snprintf(spec[0], sizeof(spec[0]), "user,romfile=%s", P("empty.rom"));
	CHECK(net_vm("bios", nets, 1, &err) == NULL);
	CHECK_EQ(err, -EINVAL);
	snprintf(spec[0], sizeof(spec[0]), "user,romfile=%s", scratch_dir); /* a directory */
	CHECK(net_vm("bios", nets, 1, &err) == NULL);
	CHECK_EQ(err, -EINVAL);
	free(big);
}

/* A ROM whose PCI data structure names other ids (a legacy virtio-net's 1af4:1000): each
 * function serves it with its own ids, the image's byte sum unchanged (byte 6). */
static void test_rom_patch_ids(void)
{
	static uint8_t img[2048] = { 0x55, 0xaa, 0x04, [0x18] = 0x1c, [0x1c] = 'P', 'C', 'I', 'R',
				     0xf4, 0x1a, 0x00, 0x10 };
	uint8_t want[2][2048];
	char spec[2][400];
	const char *nets[2] = { spec[0], spec[1] };
	unsigned sum = 0;
	struct vm *vm;

	img[6] = 0x42;
	for (int i = 0; i < 2048; i++)
		sum += img[i];
	write_file(P("legacy.rom"), img, sizeof(img));
	snprintf(spec[0], sizeof(spec[0]), "user,model=e1000,romfile=%s", P("legacy.rom"));
	snprintf(spec[1], sizeof(spec[1]), "user,romfile=%s", P("legacy.rom"));
	memcpy(want[0], img, sizeof(img));
	memcpy(want[0] + 0x20, "\x86\x80\x0e\x10", 4);     /* 8086:100e */
	want[0][6] = (uint8_t)(0x42 + 0xf4 + 0x1a + 0x00 + 0x10 - 0x86 - 0x80 - 0x0e - 0x10);
	memcpy(want[1], img, sizeof(img));
	memcpy(want[1] + 0x20, "\xf4\x1a\x41\x10", 4);     /* 1af4:1041 */
	want[1][6] = (uint8_t)(0x42 + 0x00 + 0x10 - 0x41 - 0x10);
	for (int k = 0; k < 2; k++) {
		unsigned s2 = 0;

		for (int i = 0; i < 2048; i++)
			s2 += want[k][i];
		CHECK_EQ(s2 & 0xff, sum & 0xff);
	}
	vm = net_vm("bios", nets, 2, NULL);
	CHECK(vm != NULL);
	if (vm) {
		check_rom(vm, 1, want[0], sizeof(img), 2048);
		check_rom(vm, 2, want[1], sizeof(img), 2048);
	}
	net_vm_free(vm);
}

/* The --net items of network boot, and what is refused. */
static void test_net_options(void)
{
	struct vopt_net o;
	char long_name[200];

	CHECK_EQ(vopt_parse_net("user,tftp=/srv/tftp,bootfile=pxelinux.0", &o), 0);
	CHECK(o.tftp && !strcmp(o.tftp, "/srv/tftp"));
	CHECK(o.bootfile && !strcmp(o.bootfile, "pxelinux.0"));
	CHECK(!o.has_romfile);
	vopt_net_free(&o);
	CHECK_EQ(vopt_parse_net("model=e1000,romfile=/x/ipxe.rom,user", &o), 0);
	CHECK(o.has_romfile && o.romfile && !strcmp(o.romfile, "/x/ipxe.rom"));
	vopt_net_free(&o);
	CHECK_EQ(vopt_parse_net("user,romfile=", &o), 0);
	CHECK(o.has_romfile && o.romfile == NULL);
	vopt_net_free(&o);
	CHECK_EQ(vopt_parse_net("tap=t0,romfile=none", &o), 0);
	CHECK(o.has_romfile && o.romfile == NULL);
	vopt_net_free(&o);
	/* TFTP and the boot file are libslirp's: not on a TAP or a bridge */
	CHECK_EQ(vopt_parse_net("tap=t0,tftp=/srv", &o), -EINVAL);
	CHECK_EQ(vopt_parse_net("bridge=br0,bootfile=a", &o), -EINVAL);
	CHECK_EQ(vopt_parse_net("user,tftp=", &o), -EINVAL);
	CHECK_EQ(vopt_parse_net("user,bootfile=", &o), -EINVAL);
	CHECK_EQ(vopt_parse_net("user,romfile", &o), -EINVAL);
	memset(long_name, 'a', sizeof(long_name));
	memcpy(long_name, "user,bootfile=", 14);
	long_name[14 + 128] = 0;
	CHECK_EQ(vopt_parse_net(long_name, &o), -EINVAL);
	long_name[14 + 127] = 0;
	CHECK_EQ(vopt_parse_net(long_name, &o), 0);
	vopt_net_free(&o);
	/* tftp= must be a directory that exists: checked before the VM is built */
	{
		const char *nets[1];
		char spec[300];

		nets[0] = spec;
		memset(&cfg, 0, sizeof(cfg));
		cfg.nets = nets;
		cfg.nr_nets = 1;
		snprintf(spec, sizeof(spec), "user,tftp=%s", P("no-such-dir"));
		CHECK_EQ(vm_devices_check(&cfg), -ENOENT);
		write_file(P("afile"), (const uint8_t *)"x", 1);
		snprintf(spec, sizeof(spec), "user,tftp=%s", P("afile"));
		CHECK_EQ(vm_devices_check(&cfg), -ENOTDIR);
		snprintf(spec, sizeof(spec), "user,tftp=%s,bootfile=boot.ipxe", scratch_dir);
		CHECK_EQ(vm_devices_check(&cfg), 0);
		CHECK(vm_devices_serve_files(&cfg)); /* the sandbox lets libslirp open them */
		snprintf(spec, sizeof(spec), "user,bootfile=http://10.0.2.2/boot.ipxe");
		CHECK(!vm_devices_serve_files(&cfg));
	}
}

/* --boot: names and QEMU's letters (n network, c disk, d CD), with or without commas. */
static void test_boot_letters(void)
{
	static const struct { const char *s; uint8_t want[3]; } ok[] = {
		{ "n,c", { VM_BOOT_NET, VM_BOOT_DISK, 0 } },
		{ "n", { VM_BOOT_NET, 0, 0 } },
		{ "ncd", { VM_BOOT_NET, VM_BOOT_DISK, VM_BOOT_CDROM } },
		{ "net,disk", { VM_BOOT_NET, VM_BOOT_DISK, 0 } },
		{ "d,net", { VM_BOOT_CDROM, VM_BOOT_NET, 0 } },
		{ "cdrom,disk", { VM_BOOT_CDROM, VM_BOOT_DISK, 0 } },
	};
	static const char *const bad[] = { "n,n", "nn", "x", "", ",", "nx", "network", "n,c,d,n",
					   "ncdn", "a" };
	struct vm_config c;

	for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		memset(&c, 0, sizeof(c));
		CHECK_EQ(x86_firmware_parse_boot(ok[i].s, &c), 0);
		CHECK(memcmp(c.boot_order, ok[i].want, 3) == 0);
	}
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 0, sizeof(c));
		CHECK_EQ(x86_firmware_parse_boot(bad[i], &c), -EINVAL);
	}
}

/* fw_cfg through the traditional ports: a file's contents (malloc'd) by its name. */
static uint8_t *fwc_file(struct vm *vm, const char *name, uint32_t *size)
{
	uint8_t e[64];
	uint32_t n = 0;

	handvm_out(vm, 0x510, 0x19, 2);
	for (int i = 0; i < 4; i++)
		n = n << 8 | (uint8_t)handvm_in(vm, 0x511, 1);
	for (uint32_t i = 0; i < n; i++) {
		for (int j = 0; j < 64; j++)
			e[j] = (uint8_t)handvm_in(vm, 0x511, 1);
		if (!strcmp((char *)e + 8, name)) {
			uint8_t *b;

			*size = (uint32_t)e[0] << 24 | e[1] << 16 | e[2] << 8 | e[3];
			b = calloc(1, *size + 1);
			handvm_out(vm, 0x510, (uint16_t)(e[4] << 8 | e[5]), 2);
			for (uint32_t k = 0; k < *size; k++)
				b[k] = (uint8_t)handvm_in(vm, 0x511, 1);
			return b;
		}
	}
	return NULL;
}

/* --boot n,c with a virtio-blk disk (slot 1), an e1000 (slot 2) and a virtio-net (slot 3):
 * fw_cfg's bootorder lists both NICs first in --net order with the paths QEMU gives a NIC
 * with a bootindex (read from QEMU 7.2's bootorder through SeaBIOS's debug log:
 * "/pci@i0cf8/ethernet@1/ethernet-phy@0"), then the disk; the CMOS says network, disk. */
static void test_bootorder_net(void)
{
	const char *nets[2] = { "user,model=e1000", "user" };
	const char *disks[1] = { P("d.raw") };
	const char *want = "/pci@i0cf8/ethernet@2/ethernet-phy@0\n"
			   "/pci@i0cf8/ethernet@3/ethernet-phy@0\n"
			   "/pci@i0cf8/scsi@1/disk@0,0\n";
	struct vm *vm = calloc(1, sizeof(*vm));
	char *copy = NULL;
	uint32_t size = 0;
	uint8_t *b;
	int fd = open(disks[0], O_CREAT | O_RDWR, 0600);

	CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
	close(fd);
	memset(&cfg, 0, sizeof(cfg));
	cfg.nr_cpus = 1;
	cfg.mem_size = 64 << 20;
	cfg.serial = VM_SERIAL_NONE;
	cfg.nets = nets;
	cfg.nr_nets = 2;
	cfg.disks = disks;
	cfg.nr_disks = 1;
	if (x86_firmware_parse("bios", &cfg, &copy))
		abort();
	CHECK_EQ(x86_firmware_parse_boot("n,c", &cfg), 0);
	vm->cfg = &cfg;
	vm->kvm_fd = vm->vm_fd = -1;
	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	vm_host_init(vm);
	if (guest_mem_create_hole(cfg.mem_size, X86_FW_LOW_END, &vm->mem) ||
	    rtc_create(&vm->host, vm->mem->low_size, vm->mem->size - vm->mem->low_size, &vm->rtc) ||
	    acpi_pm_create(&vm->host, &vm->acpi_pm) || evloop_create(&vm->loop))
		abort();
	vm_host_init(vm);
	CHECK_EQ(x86_firmware_init(vm), 0);
	CHECK_EQ(vm_devices_init(vm), 0);
	CHECK_EQ(x86_firmware_boot(vm), 0);
	CHECK_EQ(cfg_read(vm, 1, 0), 0x10421af4); /* virtio-blk */
	CHECK_EQ(cfg_read(vm, 2, 0), 0x100e8086); /* e1000 */
	CHECK_EQ(cfg_read(vm, 3, 0), 0x10411af4); /* virtio-net */
	b = fwc_file(vm, "bootorder", &size);
	CHECK(b != NULL);
	if (b) {
		CHECK_EQ(size, strlen(want) + 1);
		CHECK(strcmp((char *)b, want) == 0);
		if (strcmp((char *)b, want))
			printf("bootorder: %s\n", (char *)b);
	}
	free(b);
	handvm_out(vm, 0x70, 0x3d, 1);
	CHECK_EQ(handvm_in(vm, 0x71, 1), 0x24); /* network first, then the hard disk */
	net_vm_free(vm);
	free(copy);
}

int main(void)
{
	struct net_backend *be;

	if (access(X86_FW_BIOS, R_OK) || access(NET_ROM_E1000, R_OK) ||
	    access(NET_ROM_VIRTIO, R_OK)) {
		printf("SKIP netboot: Debian's seabios and ipxe-qemu are not installed "
		       "(make test-deps)\n");
		return 0;
	}
	if (net_slirp_open(0, 0, 0, &be)) {
		printf("SKIP netboot: libslirp unavailable\n");
		return 0;
	}
	be->destroy(be);
	if (scratch_make("vsrv-netboot"))
		return 1;
	RUN(test_rom_default);
	RUN(test_rom_absent);
	RUN(test_romfile);
	RUN(test_rom_patch_ids);
	RUN(test_net_options);
	RUN(test_boot_letters);
	RUN(test_bootorder_net);
	scratch_remove();
	free(fw_copy);
	return check_done();
}
