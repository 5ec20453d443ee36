/* libFuzzer target: the x86 kernel image probe and loaders (arch/x86/boot_probe.c,
 * boot_multiboot.c, boot_linux.c) on hostile files: the probe the server runs on the kernels
 * tenants upload, and the loaders `vsrv run` gives them to, which write into guest memory.
 * Input: an 8-byte header, then the kernel image (copied to a buffer of exactly its size:
 * ASan catches a read past it):
 *   [0] flags: bit 0 an initrd, bit 1 initrd size x512, bit 2 command line +64 KiB
 *   [1] guest RAM: 2 MiB + [1] MiB (low 5 bits)   [2] and [2] more 4 KiB pages
 *   [3..4] initrd size (bytes, x512 with flag 1)    [5..6] command line length
 *   [7] unused
 * The image goes through x86_boot_load_image (the command line's check, the probe, its
 * loader) and through each loader alone, each time on fresh guest RAM with a PROT_NONE page
 * on either side (a write outside it faults). The initrd is a memfd of that size with a
 * pattern in a page every 64 KiB and in its last. Checked after every load: nothing in the
 * first MiB was written but the boot information page (0x7000), the command line (0x20000)
 * and what lies between 0x30000 and the EBDA (the boot data pages, and the area the guest is
 * told is reserved, where the ACPI and MP tables go after the load, are left alone); after a
 * successful one, the command line and the initrd's pattern are where the boot information
 * says; a loader never declines an image the probe gave it, nor refuses it as malformed or
 * misplaced (what the server accepts, `vsrv run` boots, memory permitting).
 * Seeds: fuzz/boot_image_seeds.py. */
#include "arch/x86/boot.h"
#include "arch/x86/boot_probe.h"

#include <asm/bootparam.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/mem.h"
#include "vmm/vm.h"

#define HDR      8
#define PAGE     4096u
#define STRIDE   (64u << 10)
#define MOD_ADDR (BOOT_PARAMS_ADDR + 0x200) /* boot_multiboot.c's module entry */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int initrd_fd = -1;
static char initrd_path[64];

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(0xa5 ^ (i * 131) ^ (i >> 9));
}

/* The initrd's marked pages (one every STRIDE bytes, and its last) of an initrd of n bytes:
 * written to the file (p NULL), or checked at p in guest RAM. */
static void initrd_marks(uint64_t n, const uint8_t *p)
{
	uint8_t page[PAGE];

	for (uint64_t at = 0, k = 0; at < n; k++) {
		size_t len = n - at < PAGE ? (size_t)(n - at) : PAGE;

		for (size_t i = 0; i < len; i++)
			page[i] = pattern(at + i);
		if (p && memcmp(p + at, page, len))
			abort(); /* the initrd was overwritten after it was placed */
		if (!p && pwrite(initrd_fd, page, len, (off_t)at) != (ssize_t)len)
			abort();
		at = (k + 1) * STRIDE < n ? (k + 1) * STRIDE : at + len < n ? n - PAGE : n;
	}
}

/* The initrd: n bytes, the pattern in its marked pages (the rest a hole). */
static void initrd_make(uint64_t n)
{
	if (initrd_fd < 0) {
		initrd_fd = memfd_create("fuzz-initrd", MFD_CLOEXEC);
		if (initrd_fd < 0)
			abort();
		snprintf(initrd_path, sizeof(initrd_path), "/proc/self/fd/%d", initrd_fd);
	}
	if (ftruncate(initrd_fd, 0) || ftruncate(initrd_fd, (off_t)n))
		abort();
	initrd_marks(n, NULL);
}

/* The initrd's pattern at gpa in guest RAM (n bytes). */
static void initrd_check(const struct guest_mem *m, uint64_t gpa, uint64_t n)
{
	const uint8_t *p = guest_mem_ptr(m, gpa, n);

	if (!p)
		abort();
	initrd_marks(n, p);
}

/* Whether p[0..n) is all zero (a page at a time: no compare per byte for the fuzzer). */
static bool zero(const uint8_t *p, size_t n)
{
	static const uint8_t zeros[PAGE];

	for (size_t at = 0; at < n; at += PAGE)
		if (memcmp(p + at, zeros, n - at < PAGE ? n - at : PAGE))
			return false;
	return true;
}

/* Fresh guest RAM of size bytes between two PROT_NONE pages. */
static void ram_map(struct guest_mem *m, uint64_t size)
{
	uint8_t *p = mmap(NULL, size + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
			  MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED || mprotect(p + PAGE, size, PROT_READ | PROT_WRITE))
		abort();
	memset(m, 0, sizeof(*m));
	m->host = p + PAGE;
	m->size = m->low_size = size;
}

static void ram_unmap(struct guest_mem *m)
{
	munmap(m->host - PAGE, m->size + 2 * PAGE);
}

/* What one load left in guest RAM; ok: it succeeded. */
static void check(const struct vm *vm, bool ok, uint64_t initrd_len)
{
	const struct guest_mem *m = vm->mem;
	const uint8_t *h = m->host;
	size_t cl = strlen(vm->cmdline) + 1;

	if (!zero(h, BOOT_PARAMS_ADDR) || !zero(h + BOOT_PARAMS_ADDR + PAGE,
						BOOT_CMDLINE_ADDR - BOOT_PARAMS_ADDR - PAGE) ||
	    !zero(h + BOOT_EBDA_ADDR, BOOT_KERNEL_ADDR - BOOT_EBDA_ADDR))
		abort(); /* written over boot data or the reserved area below 1 MiB */
	if (!ok)
		return;
	if (cl > BOOT_CMDLINE_MAX || memcmp(h + BOOT_CMDLINE_ADDR, vm->cmdline, cl))
		abort(); /* the command line is not whole where the boot information says */
	if (!zero(h + BOOT_CMDLINE_ADDR + cl, BOOT_CMDLINE_MAX - cl))
		abort();
	if (!vm->cfg->initrd)
		return;
	if (vm->boot.mode == BOOT_MODE_MULTIBOOT) {
		const uint32_t *mod = (const uint32_t *)(h + MOD_ADDR);
		if (mod[1] - mod[0] != initrd_len)
			abort();
		initrd_check(m, mod[0], initrd_len);
	} else if (vm->boot.mode == BOOT_MODE_LINUX64) {
		const struct boot_params *bp = (const void *)(h + BOOT_PARAMS_ADDR);
		if (bp->hdr.ramdisk_size != initrd_len)
			abort();
		initrd_check(m, bp->hdr.ramdisk_image, initrd_len);
	} else {
		abort();
	}
}

typedef int loader_fn(struct vm *vm, const uint8_t *img, size_t len);

/* One load on fresh RAM: fn (a loader, or NULL: x86_boot_load_image). Returns its value. */
static int load(struct vm *vm, uint64_t ram, loader_fn *fn, const uint8_t *img, size_t len,
		uint64_t initrd_len)
{
	struct guest_mem m;
	int ret;

	ram_map(&m, ram);
	vm->mem = &m;
	memset(&vm->boot, 0, sizeof(vm->boot));
	ret = fn ? fn(vm, img, len) : x86_boot_load_image(vm, img, len);
	if (ret < -4095 || ret > 1 || (!fn && ret > 0))
		abort();
	check(vm, fn ? ret == 1 : ret == 0, initrd_len);
	ram_unmap(&m);
	vm->mem = NULL;
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static loader_fn *const loaders[] = {
		[X86_BOOT_MULTIBOOT] = x86_boot_multiboot,
		[X86_BOOT_BZIMAGE] = x86_boot_bzimage,
		[X86_BOOT_VMLINUX] = x86_boot_vmlinux,
	};
	static struct vm vm;
	struct vm_config cfg = { .kernel = "fuzz-kernel", .nr_cpus = 1 };
	uint64_t ram, initrd_len, cmdlen;
	uint8_t *img;
	size_t len;
	char why[160];
	int kind;

	if (size < HDR)
		return 0;
	ram = (2ULL << 20) + (uint64_t)(data[1] & 31) * (1 << 20) + (uint64_t)data[2] * PAGE;
	initrd_len = (uint64_t)(data[3] | data[4] << 8) * (data[0] & 2 ? 512 : 1);
	cmdlen = (uint64_t)(data[5] | data[6] << 8) + (data[0] & 4 ? 65536 : 0);
	if (data[0] & 1) {
		initrd_make(initrd_len);
		cfg.initrd = initrd_path;
	}
	cfg.mem_size = ram;
	vm.cfg = &cfg;
	vm.cmdline = malloc(cmdlen + 1);
	len = size - HDR;
	img = malloc(len ? len : 1);
	if (!vm.cmdline || !img)
		abort();
	memset(vm.cmdline, 'c', cmdlen);
	vm.cmdline[cmdlen] = '\0';
	memcpy(img, data + HDR, len);

	kind = x86_boot_probe(img, len, why, sizeof(why));
	if (kind < 0 ? !why[0] : kind > X86_BOOT_VMLINUX)
		abort(); /* a refusal says why; a kind is one of the three */
	load(&vm, ram, NULL, img, len, initrd_len);
	if (cmdlen < BOOT_CMDLINE_MAX) {
		for (int k = X86_BOOT_MULTIBOOT; k <= X86_BOOT_VMLINUX; k++) {
			int ret = load(&vm, ram, loaders[k], img, len, initrd_len);

			if (k == kind && (ret == 0 || (k != X86_BOOT_VMLINUX &&
			    (ret == -ENOEXEC || ret == -ENOTSUP || ret == -EINVAL))))
				abort(); /* the probe's loader refuses what it accepted (but for
					  * the VM's RAM: a vmlinux's entry point too) */
		}
	}
	free(img);
	free(vm.cmdline);
	vm.cmdline = NULL;
	return 0;
}
