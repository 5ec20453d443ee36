/* Boot: image detection, the guest memory map, and the registers of vCPU 0 for each entry
 * mode (32-bit protected mode for multiboot, long mode with an identity map for Linux). */
#include "arch/x86/boot.h"
#include "arch/x86/boot_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/vm.h"

int x86_map_file(const char *what, const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	void *p;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		vsrv_log("%s %s: %s", what, path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		vsrv_log("%s %s: %s", what, path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		vsrv_log("%s %s: not a regular file", what, path);
		goto out;
	}
	if ((uint64_t)st.st_size > VM_MAX_MEM) {
		ret = -EFBIG;
		vsrv_log("%s %s: file too large", what, path);
		goto out;
	}
	ret = 0;
	*len = (size_t)st.st_size;
	if (!st.st_size) {
		*buf = NULL;
		goto out;
	}
	/* A private read-only mapping of the page cache: no copy, no heap. */
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		vsrv_log("%s %s: %s", what, path, strerror(errno));
		goto out;
	}
	*buf = p;
out:
	close(fd);
	return ret;
}

void x86_unmap_file(uint8_t *buf, size_t len)
{
	if (buf)
		munmap(buf, len);
}

size_t x86_mem_map(const struct vm *vm, struct x86_mem_range *out, size_t max)
{
	const struct guest_mem *m = vm->mem;
	struct x86_mem_range r[6];
	size_t n = 0, i;

	r[n++] = (struct x86_mem_range){ 0, BOOT_EBDA_ADDR, 1 };
	r[n++] = (struct x86_mem_range){ BOOT_EBDA_ADDR, 0xa0000 - BOOT_EBDA_ADDR, 2 };
	r[n++] = (struct x86_mem_range){ BOOT_ACPI_ADDR, 0x100000 - BOOT_ACPI_ADDR, 2 };
	if (m->low_size > BOOT_KERNEL_ADDR)
		r[n++] = (struct x86_mem_range){ BOOT_KERNEL_ADDR, m->low_size - BOOT_KERNEL_ADDR, 1 };
	/* PCI ECAM (bus 0): reserved, as Linux wants before it trusts the MCFG table. */
	if (vm->pci.ecam_base)
		r[n++] = (struct x86_mem_range){ vm->pci.ecam_base, 1 << 20, 2 };
	if (m->size > m->low_size)
		r[n++] = (struct x86_mem_range){ MEM_HIGH_START, m->size - m->low_size, 1 };
	for (i = 0; i < n && i < max; i++)
		out[i] = r[i];
	return i;
}

int x86_boot_load_image(struct vm *vm, const uint8_t *img, size_t len)
{
	const char *path = vm->cfg->kernel;
	char why[160];
	int ret, kind;

	if (strlen(vm->cmdline) + 1 > BOOT_CMDLINE_MAX) {
		vsrv_log("kernel command line too long (%zu bytes, at most %d)",
			 strlen(vm->cmdline), BOOT_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	/* The probe the server also runs on a VM's kernel (boot_probe.h) picks the loader. */
	kind = x86_boot_probe(img, len, why, sizeof(why));
	if (kind < 0) {
		vsrv_log("kernel %s: %s", path, why);
		ret = kind;
	} else if (kind == X86_BOOT_MULTIBOOT) {
		ret = x86_boot_multiboot(vm, img, len);
	} else if (kind == X86_BOOT_BZIMAGE) {
		ret = x86_boot_bzimage(vm, img, len);
	} else {
		ret = x86_boot_vmlinux(vm, img, len);
	}
	if (ret == 0) {
		vsrv_log("kernel %s: the %s loader does not take it", path, x86_boot_kind_name(kind));
		ret = -ENOEXEC;
	}
	return ret < 0 ? ret : 0;
}

int x86_boot_load(struct vm *vm)
{
	uint8_t *img;
	size_t len;
	int ret;

	ret = x86_map_file("kernel", vm->cfg->kernel, &img, &len);
	if (ret < 0)
		return ret;
	ret = x86_boot_load_image(vm, img, len);
	x86_unmap_file(img, len);
	return ret;
}

/* A flat segment. type: 0xb code, 0x3 data. */
static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool l, bool db)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->l = l;
	s->db = db;
	s->g = 1;
}

/* GDT at BOOT_GDT_ADDR: null, null, code64 (0x10), data (0x18), code32 (0x20). */
static void write_gdt(const struct vm *vm)
{
	static const uint64_t gdt[] = {
		0, 0, 0x00af9b000000ffffULL, 0x00cf93000000ffffULL, 0x00cf9b000000ffffULL,
	};
	void *p = guest_mem_ptr(vm->mem, BOOT_GDT_ADDR, sizeof(gdt));

	if (p)
		memcpy(p, gdt, sizeof(gdt));
}

/* Identity map of the first 4 GiB with 2 MiB pages: PML4 -> PDPT -> 4 page directories. */
static void write_page_tables(const struct vm *vm)
{
	uint64_t *pml4 = guest_mem_ptr(vm->mem, BOOT_PML4_ADDR, 0x6000);
	uint64_t *pdpt = pml4 + 512, *pd = pml4 + 1024;
	unsigned i;

	if (!pml4)
		return;
	memset(pml4, 0, 0x6000);
	pml4[0] = (BOOT_PML4_ADDR + 0x1000) | 0x3;
	for (i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PML4_ADDR + 0x2000 + i * 0x1000ULL) | 0x3;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x83; /* present, writable, 2 MiB page */
}

/* The state after RESET (SDM 9.1.1): real mode, CS 0xF000 with base 0xFFFF0000 (the
 * firmware's first instruction at 0xFFFFFFF0), data segments 0 with 64 KiB limits. */
static void reset_vector(struct kvm_sregs *s)
{
	struct kvm_segment data = { .base = 0, .limit = 0xffff, .selector = 0, .type = 3,
				    .present = 1, .s = 1 };

	s->cs = data;
	s->cs.selector = 0xf000;
	s->cs.base = 0xffff0000;
	s->cs.type = 0xb;
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->gdt.base = 0;
	s->gdt.limit = 0xffff;
	s->idt.base = 0;
	s->idt.limit = 0xffff;
	memset(&s->ldt, 0, sizeof(s->ldt));
	s->ldt.limit = 0xffff;
	s->ldt.type = 2;
	s->ldt.present = 1;
	memset(&s->tr, 0, sizeof(s->tr));
	s->tr.limit = 0xffff;
	s->tr.type = 11;
	s->tr.present = 1;
	s->cr0 = 0x60000010; /* CD, NW, ET */
	s->cr2 = s->cr3 = s->cr4 = 0;
	s->efer = 0;
}

void x86_boot_regs(const struct vm *vm, struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	memset(regs, 0, sizeof(*regs));
	regs->rflags = 0x2;
	regs->rip = vm->boot.entry;
	if (vm->boot.mode == BOOT_MODE_FIRMWARE) {
		reset_vector(sregs);
		regs->rdx = 0x600; /* the CPU's reset signature, as after RESET */
		return;
	}
	write_gdt(vm);
	sregs->gdt.base = BOOT_GDT_ADDR;
	sregs->gdt.limit = 5 * 8 - 1;
	sregs->idt.base = 0;
	sregs->idt.limit = 0;
	memset(&sregs->tr, 0, sizeof(sregs->tr));
	sregs->tr.limit = 0x67;
	sregs->tr.type = 11; /* busy TSS */
	sregs->tr.present = 1;
	if (vm->boot.mode == BOOT_MODE_MULTIBOOT) {
		seg(&sregs->cs, 0x20, 0xb, false, true);
		seg(&sregs->ds, 0x18, 0x3, false, true);
		sregs->cr0 = 0x11;  /* PE, ET; paging off */
		sregs->cr4 = 0;
		sregs->efer = 0;
		regs->rax = 0x2badb002;
		regs->rbx = vm->boot.arg;
	} else {
		write_page_tables(vm);
		seg(&sregs->cs, 0x10, 0xb, true, false);
		seg(&sregs->ds, 0x18, 0x3, false, true);
		sregs->cr3 = BOOT_PML4_ADDR;
		sregs->cr4 = 0x20;          /* PAE */
		sregs->cr0 = 0x80000011;    /* PG, ET, PE */
		sregs->efer = 0x500;        /* LME, LMA */
		regs->rsi = vm->boot.arg;
		regs->rsp = BOOT_PARAMS_ADDR;
	}
	sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
}
