/* The kernel probe (src/arch/x86/boot_probe.c) that `vsrv run` and the server share: the
 * test guests in their three forms are kernels; files that are not, or kernels this VMM
 * cannot boot, are refused with a reason. */
#include "check.h"
#include "arch/x86/boot_probe.h"

#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <string.h>

static char why[200];

static int probe(const void *img, size_t len)
{
	return x86_boot_probe(img, len, why, sizeof(why));
}

static void test_guests_are_kernels(void)
{
	CHECK_EQ(x86_boot_probe_file("build/guests/hello.elf", why, sizeof(why)), X86_BOOT_MULTIBOOT);
	CHECK_EQ(x86_boot_probe_file("build/guests/linuxboot.bzImage", why, sizeof(why)), X86_BOOT_BZIMAGE);
	CHECK_EQ(x86_boot_probe_file("build/guests/linuxboot.vmlinux", why, sizeof(why)), X86_BOOT_VMLINUX);
}

static void test_not_kernels(void)
{
	static const char text[] = "not a kernel, but a file\n";
	Elf64_Ehdr e = { .e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64 },
			 .e_type = ET_DYN, .e_machine = EM_X86_64,
			 .e_phentsize = sizeof(Elf64_Phdr) };

	CHECK_EQ(probe(text, sizeof(text) - 1), -ENOEXEC);
	CHECK(!strcmp(why, "not a bzImage, ELF64 vmlinux or multiboot image"));
	CHECK_EQ(probe(text, 0), -ENOEXEC);
	/* a program (a shared object, like /bin/sh), not a kernel */
	CHECK_EQ(probe(&e, sizeof(e)), -ENOEXEC);
	CHECK(!strcmp(why, "not an x86-64 executable ELF"));
	/* an executable with no loadable segment */
	e.e_type = ET_EXEC;
	CHECK_EQ(probe(&e, sizeof(e)), -ENOEXEC);
	CHECK(strstr(why, "no loadable segment") != NULL);
	CHECK_EQ(x86_boot_probe_file("build", why, sizeof(why)), -EINVAL);
	CHECK(!strcmp(why, "not a regular file"));
	CHECK_EQ(x86_boot_probe_file("build/no-such-kernel", why, sizeof(why)), -ENOENT);
}

static void test_bzimage_headers(void)
{
	static uint8_t img[8192];
	struct setup_header h = { 0 };

	img[0x1fe] = 0x55;
	img[0x1ff] = 0xaa;
	h.boot_flag = 0xaa55;               /* at 0x1fe, as img has it */
	h.header = 0x53726448;
	h.version = 0x20a;                  /* too old: no 64-bit entry */
	h.setup_sects = 4;
	memcpy(img + 0x1f1, &h, sizeof(h));
	CHECK_EQ(probe(img, sizeof(img)), -ENOTSUP);
	CHECK(strstr(why, "boot protocol 2.10") != NULL);
	h.version = 0x20f;
	h.xloadflags = XLF_KERNEL_64;
	h.loadflags = LOADED_HIGH;
	h.setup_sects = 30;                 /* its setup runs past the end of the file */
	memcpy(img + 0x1f1, &h, sizeof(h));
	CHECK_EQ(probe(img, sizeof(img)), -ENOEXEC);
	CHECK(!strcmp(why, "truncated bzImage"));
	h.setup_sects = 4;
	memcpy(img + 0x1f1, &h, sizeof(h));
	CHECK_EQ(probe(img, sizeof(img)), X86_BOOT_BZIMAGE);
}

static void test_multiboot_headers(void)
{
	static uint32_t img[1024];
	uint32_t flags = 1u << 16;          /* the a.out kludge: addresses in the header */

	img[4] = 0x1badb002;
	img[5] = flags | (1u << 3);         /* a feature we do not offer */
	img[6] = -(img[4] + img[5]);
	CHECK_EQ(probe(img, sizeof(img)), -ENOTSUP);
	CHECK(strstr(why, "unsupported features") != NULL);
	img[5] = flags;
	img[6] = -(img[4] + img[5]);
	img[7] = 0x100010;                  /* header_addr */
	img[8] = 0x100000;                  /* load_addr: the file from offset 0 */
	img[9] = 0x100000 + sizeof(img);    /* load_end_addr */
	CHECK_EQ(probe(img, sizeof(img)), X86_BOOT_MULTIBOOT);
	img[9] = 0x100000 + 2 * sizeof(img);/* more than the file holds */
	CHECK_EQ(probe(img, sizeof(img)), -ENOEXEC);
	CHECK(!strcmp(why, "malformed multiboot image"));
}

int main(void)
{
	RUN(test_guests_are_kernels);
	RUN(test_not_kernels);
	RUN(test_bzimage_headers);
	RUN(test_multiboot_headers);
	return check_done();
}
