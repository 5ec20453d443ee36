/* Linux x86 64-bit boot protocol (Documentation/x86/boot.rst): a bzImage (setup header 2.12
 * or later with a 64-bit entry) or an uncompressed ELF64 vmlinux. The zero page at
 * BOOT_PARAMS_ADDR carries the setup header, the command line pointer, the initrd (placed
 * as high as the kernel allows in low RAM) and the e820 map; vCPU 0 enters in long mode
 * with an identity map of 4 GiB and RSI pointing at the zero page. */
#include "arch/x86/boot.h"

#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/vm.h"

#define HDR_MAGIC 0x53726448 /* "HdrS" */

/* Load the initrd at the highest 2 MiB-aligned address below min(max_addr, low RAM) that
 * leaves it above kernel_end. Fills the zero page's ramdisk fields. */
static int load_initrd(struct vm *vm, struct boot_params *bp, uint64_t kernel_end,
		       uint64_t max_addr)
{
	const char *path = vm->cfg->initrd;
	uint64_t top = vm->mem->low_size, addr;
	struct stat st;
	size_t done = 0;
	uint8_t *dst;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		vsrv_log("initrd %s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		vsrv_log("initrd %s: not a regular file", path);
		ret = -EINVAL;
		goto out;
	}
	if (max_addr + 1 < top)
		top = max_addr + 1;
	if ((uint64_t)st.st_size > top || ((top - (uint64_t)st.st_size) & ~0x1fffffULL) < kernel_end) {
		vsrv_log("initrd %s: does not fit in memory above the kernel (%llu MiB of RAM)",
			 path, (unsigned long long)(vm->mem->size >> 20));
		ret = -E2BIG;
		goto out;
	}
	addr = (top - (uint64_t)st.st_size) & ~0x1fffffULL;
	dst = guest_mem_ptr(vm->mem, addr, (uint64_t)st.st_size);
	while (dst && done < (size_t)st.st_size) {
		ssize_t n = read(fd, dst + done, (size_t)st.st_size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			vsrv_log("initrd %s: %s", path, strerror(-ret));
			goto out;
		}
		done += (size_t)n;
	}
	bp->hdr.ramdisk_image = (uint32_t)addr;
	bp->hdr.ramdisk_size = (uint32_t)st.st_size;
out:
	close(fd);
	return ret;
}

/* Fill the parts of the zero page common to bzImage and vmlinux. */
static int zero_page_finish(struct vm *vm, struct boot_params *bp, uint64_t kernel_end,
			    uint64_t initrd_max)
{
	struct x86_mem_range map[8];
	size_t n, i, cmdlen = strlen(vm->cmdline);
	int ret;

	bp->hdr.type_of_loader = 0xff;
	bp->acpi_rsdp_addr = BOOT_ACPI_ADDR; /* read by kernels of boot protocol 2.14+ */
	bp->hdr.cmd_line_ptr = BOOT_CMDLINE_ADDR;
	if (bp->hdr.cmdline_size && cmdlen > bp->hdr.cmdline_size) {
		vsrv_log("kernel command line too long for this kernel (%zu bytes, at most %u)",
			 cmdlen, bp->hdr.cmdline_size);
		return -E2BIG;
	}
	memcpy(guest_mem_ptr(vm->mem, BOOT_CMDLINE_ADDR, cmdlen + 1), vm->cmdline, cmdlen + 1);
	n = x86_mem_map(vm, map, 8);
	for (i = 0; i < n; i++) {
		bp->e820_table[i].addr = map[i].addr;
		bp->e820_table[i].size = map[i].len;
		bp->e820_table[i].type = map[i].type;
	}
	bp->e820_entries = (uint8_t)n;
	if (vm->cfg->initrd) {
		ret = load_initrd(vm, bp, kernel_end, initrd_max);
		if (ret < 0)
			return ret;
	}
	vm->boot.mode = BOOT_MODE_LINUX64;
	vm->boot.arg = BOOT_PARAMS_ADDR;
	return 0;
}

static struct boot_params *zero_page(struct vm *vm)
{
	struct boot_params *bp = guest_mem_ptr(vm->mem, BOOT_PARAMS_ADDR, sizeof(*bp));

	memset(bp, 0, sizeof(*bp));
	return bp;
}

int x86_boot_bzimage(struct vm *vm, const uint8_t *img, size_t len)
{
	const char *path = vm->cfg->kernel;
	struct setup_header h;
	struct boot_params *bp;
	uint64_t setup_size, ksize, need, hdr_end;
	uint8_t *dst;

	if (len < 0x1f1 + sizeof(h) || img[0x1fe] != 0x55 || img[0x1ff] != 0xaa)
		return 0; /* too short for the setup header read below */
	memcpy(&h, img + 0x1f1, sizeof(h));
	if (h.header != HDR_MAGIC)
		return 0;
	if (h.version < 0x20c || !(h.xloadflags & XLF_KERNEL_64) || !(h.loadflags & LOADED_HIGH)) {
		vsrv_log("kernel %s: bzImage boot protocol %u.%02u without a 64-bit entry "
			 "(need 2.12 or later with XLF_KERNEL_64)", path, h.version >> 8,
			 h.version & 0xff);
		return -ENOTSUP;
	}
	setup_size = ((uint64_t)(h.setup_sects ? h.setup_sects : 4) + 1) * 512;
	if (setup_size >= len) {
		vsrv_log("kernel %s: truncated bzImage", path);
		return -ENOEXEC;
	}
	ksize = len - setup_size;
	need = ksize > h.init_size ? ksize : h.init_size;
	dst = guest_mem_ptr(vm->mem, BOOT_KERNEL_ADDR, need);
	if (!dst || BOOT_KERNEL_ADDR + need > vm->mem->low_size) {
		vsrv_log("kernel %s: does not fit in %llu MiB of memory (needs %llu MiB)", path,
			 (unsigned long long)(vm->mem->size >> 20),
			 (unsigned long long)((BOOT_KERNEL_ADDR + need + (1 << 20) - 1) >> 20));
		return -E2BIG;
	}
	memcpy(dst, img + setup_size, ksize);

	bp = zero_page(vm);
	/* The setup header as the image has it: from 0x1f1 to the end given at 0x201. */
	hdr_end = 0x202 + img[0x201];
	if (hdr_end > 0x1f1 + sizeof(bp->hdr))
		hdr_end = 0x1f1 + sizeof(bp->hdr);
	memcpy((uint8_t *)bp + 0x1f1, img + 0x1f1, hdr_end - 0x1f1);
	bp->hdr.code32_start = BOOT_KERNEL_ADDR;
	vm->boot.entry = BOOT_KERNEL_ADDR + 0x200; /* startup_64 */
	return zero_page_finish(vm, bp, BOOT_KERNEL_ADDR + need, h.initrd_addr_max) ?: 1;
}

int x86_boot_vmlinux(struct vm *vm, const uint8_t *img, size_t len)
{
	const char *path = vm->cfg->kernel;
	const Elf64_Ehdr *e = (const void *)img;
	struct boot_params *bp;
	uint64_t end = 0, entry;
	unsigned i;

	if (len < sizeof(*e) || memcmp(img, ELFMAG, SELFMAG) || img[EI_CLASS] != ELFCLASS64)
		return 0;
	if (e->e_machine != EM_X86_64 || e->e_type != ET_EXEC ||
	    e->e_phentsize != sizeof(Elf64_Phdr) || e->e_phoff > len ||
	    (uint64_t)e->e_phnum * sizeof(Elf64_Phdr) > len - e->e_phoff) {
		vsrv_log("kernel %s: not an x86-64 executable ELF", path);
		return -ENOEXEC;
	}
	entry = e->e_entry;
	for (i = 0; i < e->e_phnum; i++) {
		Elf64_Phdr ph, *p = &ph;
		uint8_t *dst;

		memcpy(&ph, img + e->e_phoff + i * sizeof(Elf64_Phdr), sizeof(ph)); /* may be unaligned */

		if (p->p_type != PT_LOAD || !p->p_memsz)
			continue;
		if (p->p_offset > len || p->p_filesz > len - p->p_offset ||
		    p->p_filesz > p->p_memsz || p->p_paddr < BOOT_KERNEL_ADDR) {
			vsrv_log("kernel %s: malformed ELF program header %u", path, i);
			return -ENOEXEC;
		}
		dst = guest_mem_ptr(vm->mem, p->p_paddr, p->p_memsz);
		if (!dst || p->p_paddr + p->p_memsz > vm->mem->low_size) {
			vsrv_log("kernel %s: does not fit in %llu MiB of memory", path,
				 (unsigned long long)(vm->mem->size >> 20));
			return -E2BIG;
		}
		/* The bss needs no zeroing: guest RAM is fresh (see x86_boot_load). */
		memcpy(dst, img + p->p_offset, p->p_filesz);
		if (p->p_paddr + p->p_memsz > end)
			end = p->p_paddr + p->p_memsz;
		/* A virtual entry point: translate it through its segment. */
		if (e->e_entry >= p->p_vaddr && e->e_entry - p->p_vaddr < p->p_memsz &&
		    p->p_vaddr != p->p_paddr)
			entry = e->e_entry - p->p_vaddr + p->p_paddr;
	}
	if (!end || entry >= vm->mem->low_size) {
		vsrv_log("kernel %s: ELF has no loadable segment holding its entry point", path);
		return -ENOEXEC;
	}
	bp = zero_page(vm);
	bp->hdr.boot_flag = 0xaa55;
	bp->hdr.header = HDR_MAGIC;
	bp->hdr.version = 0x20f;
	bp->hdr.loadflags = LOADED_HIGH;
	bp->hdr.kernel_alignment = 0x1000000;
	bp->hdr.cmdline_size = BOOT_CMDLINE_MAX - 1;
	bp->hdr.initrd_addr_max = 0x7fffffff;
	vm->boot.entry = entry;
	return zero_page_finish(vm, bp, end, bp->hdr.initrd_addr_max) ?: 1;
}
