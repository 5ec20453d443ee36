/* The multiboot ELF loader (src/arch/x86/boot_multiboot.c) and the probe that picks it
 * (boot_probe.c) on higher-half kernels: segments loaded at their physical address and an
 * ELF entry given at its virtual one, entered (as QEMU's multiboot loader does) at the
 * physical address of the code it names. */
#include "check.h"
#include "arch/x86/boot.h"
#include "arch/x86/boot_probe.h"

#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#include "vmm/mem.h"
#include "vmm/vm.h"

#define RAM   (8u << 20)
#define SEG   0x1000    /* the code segment's file offset, and the multiboot header's */
#define PADDR 0x100000u

static uint8_t img[2 * SEG];
static char why[200];

/* The multiboot header (ELF: no a.out kludge) at SEG, inside the code segment. */
static void mb_header(void)
{
	uint32_t h[3] = { 0x1badb002, 0, -(uint32_t)0x1badb002 };

	memcpy(img + SEG, h, sizeof(h));
}

/* A 32-bit kernel linked at vaddr, loaded at PADDR, entered at vaddr + 0x10. */
static size_t elf32(uint32_t vaddr)
{
	Elf32_Ehdr e = { .e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS32,
				      ELFDATA2LSB, EV_CURRENT },
			 .e_type = ET_EXEC, .e_machine = EM_386, .e_version = EV_CURRENT,
			 .e_entry = vaddr + 0x10, .e_phoff = sizeof(Elf32_Ehdr),
			 .e_ehsize = sizeof(Elf32_Ehdr), .e_phentsize = sizeof(Elf32_Phdr),
			 .e_phnum = 1 };
	Elf32_Phdr p = { .p_type = PT_LOAD, .p_offset = SEG, .p_vaddr = vaddr,
			 .p_paddr = PADDR, .p_filesz = SEG, .p_memsz = 2 * SEG,
			 .p_flags = PF_R | PF_X, .p_align = SEG };

	memset(img, 0, sizeof(img));
	memcpy(img, &e, sizeof(e));
	memcpy(img + sizeof(e), &p, sizeof(p));
	mb_header();
	return sizeof(img);
}

/* The same as ELF64, linked at vaddr (above 4 GiB for a 64-bit higher-half kernel). */
static size_t elf64(uint64_t vaddr)
{
	Elf64_Ehdr e = { .e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64,
				      ELFDATA2LSB, EV_CURRENT },
			 .e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
			 .e_entry = vaddr + 0x10, .e_phoff = sizeof(Elf64_Ehdr),
			 .e_ehsize = sizeof(Elf64_Ehdr), .e_phentsize = sizeof(Elf64_Phdr),
			 .e_phnum = 1 };
	Elf64_Phdr p = { .p_type = PT_LOAD, .p_offset = SEG, .p_vaddr = vaddr,
			 .p_paddr = PADDR, .p_filesz = SEG, .p_memsz = 2 * SEG,
			 .p_flags = PF_R | PF_X, .p_align = SEG };

	memset(img, 0, sizeof(img));
	memcpy(img, &e, sizeof(e));
	memcpy(img + sizeof(e), &p, sizeof(p));
	mb_header();
	return sizeof(img);
}

/* Load img[0..len) on fresh RAM: the loader's return, the entry in *entry. */
static int load(size_t len, uint64_t *entry)
{
	static struct vm vm;
	struct vm_config cfg = { .kernel = "test-kernel", .nr_cpus = 1 };
	struct guest_mem m = { .size = RAM, .low_size = RAM };
	int ret;

	m.host = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m.host == MAP_FAILED)
		return -1000;
	memset(&vm.boot, 0, sizeof(vm.boot));
	vm.cfg = &cfg;
	vm.mem = &m;
	vm.cmdline = "";
	ret = x86_boot_multiboot(&vm, img, len);
	*entry = vm.boot.entry;
	if (ret == 1 && memcmp(m.host + PADDR, img + SEG, SEG))
		ret = -2000; /* the code is not at its physical address */
	munmap(m.host, RAM);
	return ret;
}

static void test_identity_entry(void)
{
	uint64_t entry = 0;
	size_t len = elf32(PADDR);

	CHECK_EQ(x86_boot_probe(img, len, why, sizeof(why)), X86_BOOT_MULTIBOOT);
	CHECK_EQ(load(len, &entry), 1);
	CHECK_EQ(entry, PADDR + 0x10);
}

static void test_higher_half_entry32(void)
{
	uint64_t entry = 0;
	size_t len = elf32(0xc0000000u + PADDR);

	CHECK_EQ(x86_boot_probe(img, len, why, sizeof(why)), X86_BOOT_MULTIBOOT);
	CHECK_EQ(load(len, &entry), 1);
	CHECK_EQ(entry, PADDR + 0x10);
}

static void test_higher_half_entry64(void)
{
	uint64_t entry = 0;
	size_t len = elf64(0xffffffff80000000ull + PADDR);

	CHECK_EQ(x86_boot_probe(img, len, why, sizeof(why)), X86_BOOT_MULTIBOOT);
	CHECK_EQ(load(len, &entry), 1);
	CHECK_EQ(entry, PADDR + 0x10);
}

/* An entry outside the code's file part (or in a segment that is not code) is not moved:
 * one above 4 GiB stays malformed. */
static void test_entry_outside_code(void)
{
	uint64_t entry = 0;
	size_t len = elf64(0xffffffff80000000ull + PADDR);
	Elf64_Ehdr e;

	memcpy(&e, img, sizeof(e));
	e.e_entry += SEG; /* in the bss */
	memcpy(img, &e, sizeof(e));
	CHECK_EQ(x86_boot_probe(img, len, why, sizeof(why)), -ENOEXEC);
	CHECK_EQ(load(len, &entry), -ENOEXEC);
	len = elf64(0xffffffff80000000ull + PADDR);
	img[sizeof(Elf64_Ehdr) + offsetof(Elf64_Phdr, p_flags)] = PF_R | PF_W; /* data */
	CHECK_EQ(x86_boot_probe(img, len, why, sizeof(why)), -ENOEXEC);
	CHECK_EQ(load(len, &entry), -ENOEXEC);
}

int main(void)
{
	RUN(test_identity_entry);
	RUN(test_higher_half_entry32);
	RUN(test_higher_half_entry64);
	RUN(test_entry_outside_code);
	return check_done();
}
