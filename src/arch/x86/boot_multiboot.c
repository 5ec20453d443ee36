/* Multiboot v1: an ELF32 (or ELF64 below 4 GiB) kernel with a multiboot header in its first
 * 8 KiB, or a binary with the a.out kludge (header flag 16). The boot information holds
 * the memory bounds, the memory map, the command line, the boot loader's name and, with
 * --initrd, one module. Entry in 32-bit protected mode, EAX=0x2BADB002, EBX=info. */
#include "arch/x86/boot.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "vmm/vm.h"

#define MB_MAGIC       0x1badb002u
#define MB_SEARCH      8192
#define MB_F_AOUT      (1u << 16)
#define MB_F_UNKNOWN   0x0000fff8u /* required features we do not offer: bits 3..15 */
#define MB_F_VIDEO     (1u << 2)

#define MBI_MEM        (1u << 0)
#define MBI_CMDLINE    (1u << 2)
#define MBI_MODS       (1u << 3)
#define MBI_MMAP       (1u << 6)
#define MBI_LOADER     (1u << 9)

struct mb_header {
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr, config_table, boot_loader_name, apm_table;
	uint32_t vbe[6];
} __attribute__((packed));

struct mb_mmap {
	uint32_t size;
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

struct mb_module {
	uint32_t start, end, string, reserved;
};

/* Layout of our boot information, in the page at BOOT_PARAMS_ADDR. */
#define MBI_ADDR      BOOT_PARAMS_ADDR
#define MBI_MMAP_ADDR (BOOT_PARAMS_ADDR + 0x100)
#define MBI_MOD_ADDR  (BOOT_PARAMS_ADDR + 0x200)
#define MBI_NAME_ADDR (BOOT_PARAMS_ADDR + 0x280)

static const struct mb_header *mb_find(const uint8_t *img, size_t len, size_t *off)
{
	size_t o;

	for (o = 0; o + sizeof(struct mb_header) <= len && o < MB_SEARCH; o += 4) {
		const struct mb_header *h = (const void *)(img + o);
		if (h->magic == MB_MAGIC && h->magic + h->flags + h->checksum == 0) {
			*off = o;
			return h;
		}
	}
	return NULL;
}

/* Copy [src, src + filesz) to guest gpa; the rest up to memsz (the bss) is left as it is:
 * guest RAM is fresh, all zero, when the kernel is loaded (see x86_boot_load), and
 * zeroing it again would touch and account every page of it. */
static int place(struct vm *vm, uint64_t gpa, const uint8_t *src, uint64_t filesz,
		 uint64_t memsz, uint64_t *end)
{
	uint8_t *dst;

	if (memsz < filesz)
		return -ENOEXEC;
	dst = guest_mem_ptr(vm->mem, gpa, memsz);
	if (!dst || gpa + memsz > vm->mem->low_size)
		return -E2BIG;
	/* Anywhere in RAM but over our boot data (below 0x30000) and the area the memory map
	 * says is reserved (the EBDA to 1 MiB: the ACPI and MP tables are written there after
	 * the kernel). gpa + memsz cannot wrap: guest_mem_ptr took it. */
	if (gpa < BOOT_CMDLINE_ADDR + BOOT_CMDLINE_MAX ||
	    (gpa < BOOT_KERNEL_ADDR && gpa + memsz > BOOT_EBDA_ADDR)) {
		vsrv_log("kernel %s: segment at %#llx overlaps the boot data or the reserved area "
			 "(below 0x30000, or from %#x to 1 MiB)", vm->cfg->kernel,
			 (unsigned long long)gpa, BOOT_EBDA_ADDR);
		return -EINVAL;
	}
	memcpy(dst, src, filesz);
	if (gpa + memsz > *end)
		*end = gpa + memsz;
	return 0;
}

static int load_elf(struct vm *vm, const uint8_t *img, size_t len, uint64_t *entry,
		    uint64_t *end)
{
	const Elf32_Ehdr *e32 = (const void *)img;
	bool is64;
	unsigned i, phnum;
	uint64_t phoff, phentsize, e_entry;
	int ret;

	if (len < sizeof(Elf64_Ehdr) || memcmp(img, ELFMAG, SELFMAG))
		return -ENOEXEC;
	is64 = img[EI_CLASS] == ELFCLASS64;
	if (is64) {
		const Elf64_Ehdr *e = (const void *)img;
		phoff = e->e_phoff; phnum = e->e_phnum; phentsize = e->e_phentsize;
		e_entry = e->e_entry;
		if (e->e_phentsize != sizeof(Elf64_Phdr))
			return -ENOEXEC;
	} else {
		phoff = e32->e_phoff; phnum = e32->e_phnum; phentsize = e32->e_phentsize;
		e_entry = e32->e_entry;
		if (e32->e_phentsize != sizeof(Elf32_Phdr))
			return -ENOEXEC;
	}
	if (phoff > len || phnum * phentsize > len - phoff)
		return -ENOEXEC;
	*entry = e_entry;
	for (i = 0; i < phnum; i++) {
		uint64_t type, flags, off, vaddr, paddr, filesz, memsz;
		if (is64) {
			Elf64_Phdr p;
			memcpy(&p, img + phoff + i * phentsize, sizeof(p)); /* may be unaligned */
			type = p.p_type; flags = p.p_flags; off = p.p_offset;
			vaddr = p.p_vaddr; paddr = p.p_paddr;
			filesz = p.p_filesz; memsz = p.p_memsz;
		} else {
			Elf32_Phdr p;
			memcpy(&p, img + phoff + i * phentsize, sizeof(p));
			type = p.p_type; flags = p.p_flags; off = p.p_offset;
			vaddr = p.p_vaddr; paddr = p.p_paddr;
			filesz = p.p_filesz; memsz = p.p_memsz;
		}
		if (type != PT_LOAD || !memsz)
			continue;
		if (off > len || filesz > len - off)
			return -ENOEXEC;
		ret = place(vm, paddr, img + off, filesz, memsz, end);
		if (ret < 0)
			return ret;
		/* An entry at a virtual address (a higher-half kernel) is entered at its
		 * physical one, as QEMU does: when it lies in the file part of an
		 * executable segment loaded elsewhere than its address (boot_probe.c too). */
		if (vaddr != paddr && (flags & PF_X) && e_entry >= vaddr &&
		    e_entry - vaddr < filesz)
			*entry = e_entry - vaddr + paddr;
	}
	if (*entry >= MEM_HIGH_START)
		return -ENOEXEC;
	return 0;
}

static int load_aout(struct vm *vm, const struct mb_header *h, size_t hoff, const uint8_t *img,
		     size_t len, uint64_t *entry, uint64_t *end)
{
	uint64_t off, filesz, memsz;

	if (h->header_addr < h->load_addr || h->header_addr - h->load_addr > hoff)
		return -ENOEXEC;
	off = hoff - (h->header_addr - h->load_addr);
	filesz = h->load_end_addr ? (uint64_t)h->load_end_addr - h->load_addr : len - off;
	if (filesz > len - off)
		return -ENOEXEC;
	memsz = h->bss_end_addr > h->load_addr + filesz ? h->bss_end_addr - h->load_addr : filesz;
	*entry = h->entry_addr;
	return place(vm, h->load_addr, img + off, filesz, memsz, end);
}

/* Place the initrd as a module, page-aligned after the kernel. */
static int load_module(struct vm *vm, uint64_t kernel_end, struct mb_info *mbi)
{
	struct mb_module *mod = guest_mem_ptr(vm->mem, MBI_MOD_ADDR, sizeof(*mod));
	const char *path = vm->cfg->initrd;
	uint64_t start = (kernel_end + 0xfff) & ~0xfffULL;
	uint8_t *buf, *dst;
	size_t len;
	int ret;

	ret = x86_map_file("initrd", path, &buf, &len);
	if (ret < 0)
		return ret;
	/* Never over the boot data (a kernel of no loadable segment ends at 0), and with a
	 * kernel below the EBDA, below it too, else from 1 MiB (never over the reserved area,
	 * where the ACPI and MP tables go after it). */
	if (start < BOOT_CMDLINE_ADDR + BOOT_CMDLINE_MAX)
		start = BOOT_CMDLINE_ADDR + BOOT_CMDLINE_MAX;
	if (start < BOOT_KERNEL_ADDR && start + len > BOOT_EBDA_ADDR)
		start = BOOT_KERNEL_ADDR;
	dst = guest_mem_ptr(vm->mem, start, len);
	if (!dst || start + len > vm->mem->low_size) {
		vsrv_log("initrd %s: does not fit in memory after the kernel", path);
		x86_unmap_file(buf, len);
		return -E2BIG;
	}
	if (len)
		memcpy(dst, buf, len);
	x86_unmap_file(buf, len);
	mod->start = (uint32_t)start;
	mod->end = (uint32_t)(start + len);
	mod->string = BOOT_CMDLINE_ADDR; /* the module's string: the command line */
	mod->reserved = 0;
	mbi->flags |= MBI_MODS;
	mbi->mods_count = 1;
	mbi->mods_addr = MBI_MOD_ADDR;
	return 0;
}

int x86_boot_multiboot(struct vm *vm, const uint8_t *img, size_t len)
{
	const char *path = vm->cfg->kernel;
	const struct mb_header *h;
	struct x86_mem_range map[8];
	struct mb_mmap *mm;
	struct mb_info *mbi;
	uint64_t entry = 0, end = 0;
	size_t hoff, n, i;
	int ret;

	h = mb_find(img, len, &hoff);
	if (!h)
		return 0;
	if (h->flags & MB_F_UNKNOWN & 0xffff) {
		vsrv_log("kernel %s: multiboot header requires unsupported features (flags %#x)",
			 path, h->flags);
		return -ENOTSUP;
	}
	if (h->flags & MB_F_AOUT)
		ret = load_aout(vm, h, hoff, img, len, &entry, &end);
	else
		ret = load_elf(vm, img, len, &entry, &end);
	if (ret == -E2BIG) {
		vsrv_log("kernel %s: does not fit in %llu MiB of memory", path,
			 (unsigned long long)(vm->mem->size >> 20));
		return ret;
	}
	if (ret == -ENOEXEC)
		vsrv_log("kernel %s: malformed multiboot image", path);
	if (ret < 0)
		return ret;

	mbi = guest_mem_ptr(vm->mem, MBI_ADDR, 0x1000);
	memset(mbi, 0, 0x1000);
	mbi->flags = MBI_MEM | MBI_CMDLINE | MBI_MMAP | MBI_LOADER;
	mbi->mem_lower = BOOT_EBDA_ADDR >> 10;
	mbi->mem_upper = (uint32_t)((vm->mem->low_size - BOOT_KERNEL_ADDR) >> 10);
	n = x86_mem_map(vm, map, 8);
	mm = guest_mem_ptr(vm->mem, MBI_MMAP_ADDR, n * sizeof(*mm));
	for (i = 0; i < n; i++) {
		mm[i].size = sizeof(*mm) - 4;
		mm[i].addr = map[i].addr;
		mm[i].len = map[i].len;
		mm[i].type = map[i].type;
	}
	mbi->mmap_addr = MBI_MMAP_ADDR;
	mbi->mmap_length = (uint32_t)(n * sizeof(*mm));
	strcpy(guest_mem_ptr(vm->mem, MBI_NAME_ADDR, 8), "vsrv");
	mbi->boot_loader_name = MBI_NAME_ADDR;
	strcpy(guest_mem_ptr(vm->mem, BOOT_CMDLINE_ADDR, strlen(vm->cmdline) + 1), vm->cmdline);
	mbi->cmdline = BOOT_CMDLINE_ADDR;
	if (vm->cfg->initrd) {
		ret = load_module(vm, end, mbi);
		if (ret < 0)
			return ret;
	}
	vm->boot.mode = BOOT_MODE_MULTIBOOT;
	vm->boot.entry = entry;
	vm->boot.arg = MBI_ADDR;
	return 1;
}
