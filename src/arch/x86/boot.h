/* x86 boot: load a kernel image into guest memory and describe how vCPU 0 enters it.
 * Supported images (detected in this order): multiboot v1 (ELF32/ELF64 with a multiboot
 * header, or the a.out kludge), Linux bzImage (64-bit boot protocol, setup header 2.12+),
 * and an uncompressed Linux ELF64 vmlinux. */
#ifndef VSRV_ARCH_X86_BOOT_H
#define VSRV_ARCH_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct kvm_regs;
struct kvm_sregs;

enum boot_mode {
	BOOT_MODE_MULTIBOOT = 1, /* 32-bit protected mode, paging off, EAX=0x2BADB002, EBX=info */
	BOOT_MODE_LINUX64,       /* long mode, identity map of 4 GiB, RSI=boot_params */
	BOOT_MODE_FIRMWARE,      /* the reset vector: real mode, CS base 0xFFFF0000, IP 0xFFF0 */
};

/* Fixed guest-physical layout of boot data (below 1 MiB). */
#define BOOT_GDT_ADDR      0x500
#define BOOT_PARAMS_ADDR   0x7000   /* Linux zero page / multiboot info */
#define BOOT_PML4_ADDR     0x9000   /* then PDPT 0xa000, PDs 0xb000..0xefff */
#define BOOT_CMDLINE_ADDR  0x20000
#define BOOT_CMDLINE_MAX   0x10000
#define BOOT_ACPI_ADDR     0xe0000  /* RSDP and the ACPI tables, in the BIOS area */
#define BOOT_MPTABLE_ADDR  0xf0000  /* MP floating pointer and table, in the BIOS area */
#define BOOT_EBDA_ADDR     0x9fc00  /* RAM below this is usable */
#define BOOT_KERNEL_ADDR   0x100000

/* Load cfg->kernel (and initrd, command line vm->cmdline) into vm->mem, write the boot
 * information the protocol needs, and fill vm->boot. vm->mem must be fresh guest RAM (all
 * zero, as guest_mem_create maps it): a kernel's bss is not zeroed again. Returns 0 or -errno after logging
 * one line naming the file and the problem. */
int x86_boot_load(struct vm *vm);

/* x86_boot_load of the kernel image img[0..len) (the caller's, only read; cfg->kernel only
 * names it in messages): the command line's length checked, the image probed
 * (boot_probe.h) and given to its loader. 0 or -errno (logged). */
int x86_boot_load_image(struct vm *vm, const uint8_t *img, size_t len);

/* Registers for vCPU 0 according to vm->boot (sregs as read from KVM, modified). */
void x86_boot_regs(const struct vm *vm, struct kvm_regs *regs, struct kvm_sregs *sregs);

/* The e820-style memory map of the guest: usable RAM and reserved ranges, in order.
 * Returns the number of entries written (at most max). type: 1 RAM, 2 reserved. */
struct x86_mem_range { uint64_t addr, len; uint32_t type; };
size_t x86_mem_map(const struct vm *vm, struct x86_mem_range *out, size_t max);

/* Map a whole regular file read-only (*buf NULL when it is empty; release with
 * x86_unmap_file). Returns 0 or -errno, logging one line naming what ("kernel",
 * "initrd") and the path. */
int x86_map_file(const char *what, const char *path, uint8_t **buf, size_t *len);
void x86_unmap_file(uint8_t *buf, size_t len);

/* Multiboot and Linux loaders (boot_multiboot.c, boot_linux.c): return 1 when the image is
 * theirs and was loaded, 0 when it is not theirs, -errno on failure (logged). */
int x86_boot_multiboot(struct vm *vm, const uint8_t *img, size_t len);
int x86_boot_bzimage(struct vm *vm, const uint8_t *img, size_t len);
int x86_boot_vmlinux(struct vm *vm, const uint8_t *img, size_t len);

#endif
