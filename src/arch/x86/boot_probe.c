/* Kernel image probe: the detection half of the loaders, shared by `vsrv run` and the
 * server. See boot_probe.h. */
#include "arch/x86/boot_probe.h"
#include "arch/x86/boot.h"

#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MB_MAGIC     0x1badb002u
#define MB_SEARCH    8192
#define MB_F_AOUT    (1u << 16)
#define MB_F_UNKNOWN 0x0000fff8u /* required features we do not offer: bits 3..15 */
#define HDR_MAGIC    0x53726448  /* "HdrS" */
#define LOW_4G       0x100000000ULL
#define PROBE_HEAD   65536       /* where the headers must lie: the first 64 KiB */

struct mb_header {
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

static int say(char *why, size_t n, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && n) {
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return err;
}

const char *x86_boot_kind_name(int kind)
{
	switch (kind) {
	case X86_BOOT_MULTIBOOT: return "multiboot";
	case X86_BOOT_BZIMAGE: return "bzImage";
	case X86_BOOT_VMLINUX: return "vmlinux";
	default: return "unknown";
	}
}

/* One program header of an ELF32 or ELF64 image, as 64-bit fields. */
struct phdr {
	uint64_t type, off, vaddr, paddr, filesz, memsz, flags;
};

static void get_phdr(const uint8_t *img, bool is64, uint64_t at, struct phdr *p)
{
	if (is64) {
		Elf64_Phdr h;
		memcpy(&h, img + at, sizeof(h)); /* may be unaligned */
		*p = (struct phdr){ h.p_type, h.p_offset, h.p_vaddr, h.p_paddr, h.p_filesz, h.p_memsz,
				      h.p_flags };
	} else {
		Elf32_Phdr h;
		memcpy(&h, img + at, sizeof(h));
		*p = (struct phdr){ h.p_type, h.p_offset, h.p_vaddr, h.p_paddr, h.p_filesz, h.p_memsz,
				      h.p_flags };
	}
}

/* The ELF header's program header table: 0, or -ENOEXEC when it lies outside the file. */
static int elf_table(const uint8_t *img, size_t avail, bool *is64, uint64_t *phoff,
		     unsigned *phnum, uint64_t *entry)
{
	uint64_t size;

	if (avail < sizeof(Elf64_Ehdr) || memcmp(img, ELFMAG, SELFMAG))
		return -ENOEXEC;
	*is64 = img[EI_CLASS] == ELFCLASS64;
	if (*is64) {
		Elf64_Ehdr e;
		memcpy(&e, img, sizeof(e));
		*phoff = e.e_phoff; *phnum = e.e_phnum; *entry = e.e_entry;
		size = e.e_phentsize;
		if (size != sizeof(Elf64_Phdr))
			return -ENOEXEC;
	} else {
		Elf32_Ehdr e;
		memcpy(&e, img, sizeof(e));
		*phoff = e.e_phoff; *phnum = e.e_phnum; *entry = e.e_entry;
		size = e.e_phentsize;
		if (size != sizeof(Elf32_Phdr))
			return -ENOEXEC;
	}
	if (*phoff > avail || (uint64_t)*phnum * size > avail - *phoff)
		return -ENOEXEC;
	return 0;
}

/* Whether a multiboot segment of memsz bytes at gpa lies where the loader refuses it
 * (boot_multiboot.c): over the boot data below 0x30000, or the reserved area from the EBDA
 * to 1 MiB. */
static bool mb_overlaps(uint64_t gpa, uint64_t memsz)
{
	if (gpa < BOOT_CMDLINE_ADDR + BOOT_CMDLINE_MAX)
		return true;
	if (gpa >= BOOT_KERNEL_ADDR)
		return false;
	return gpa >= BOOT_EBDA_ADDR || memsz > BOOT_EBDA_ADDR - gpa;
}

static int probe_multiboot(const struct mb_header *h, size_t hoff, const uint8_t *img,
			   size_t avail, size_t len, char *why, size_t n)
{
	uint64_t phoff, entry, e_entry, off, filesz;
	unsigned phnum, i;
	bool is64;

	if (h->flags & MB_F_UNKNOWN & 0xffff)
		return say(why, n, -ENOTSUP, "multiboot header requires unsupported features "
			   "(flags %#x)", h->flags);
	if (h->flags & MB_F_AOUT) {
		if (h->header_addr < h->load_addr || h->header_addr - h->load_addr > hoff)
			goto bad;
		off = hoff - (h->header_addr - h->load_addr);
		filesz = h->load_end_addr ? (uint64_t)h->load_end_addr - h->load_addr : len - off;
		if (filesz > len - off)
			goto bad;
		if (mb_overlaps(h->load_addr, h->bss_end_addr > h->load_addr + filesz ?
				h->bss_end_addr - h->load_addr : filesz))
			goto overlap;
		return X86_BOOT_MULTIBOOT;
	}
	if (elf_table(img, avail, &is64, &phoff, &phnum, &e_entry))
		goto bad;
	entry = e_entry;
	for (i = 0; i < phnum; i++) {
		struct phdr p;

		get_phdr(img, is64, phoff + (uint64_t)i * (is64 ? sizeof(Elf64_Phdr) :
							  sizeof(Elf32_Phdr)), &p);
		if (p.type != PT_LOAD || !p.memsz)
			continue;
		if (p.off > len || p.filesz > len - p.off || p.memsz < p.filesz)
			goto bad;
		if (mb_overlaps(p.paddr, p.memsz))
			goto overlap;
		/* a virtual entry is entered at its physical address (boot_multiboot.c) */
		if (p.vaddr != p.paddr && (p.flags & PF_X) && e_entry >= p.vaddr &&
		    e_entry - p.vaddr < p.filesz)
			entry = e_entry - p.vaddr + p.paddr;
	}
	if (entry >= LOW_4G)
		goto bad;
	return X86_BOOT_MULTIBOOT;
bad:
	return say(why, n, -ENOEXEC, "malformed multiboot image");
overlap:
	return say(why, n, -ENOEXEC, "multiboot segment overlaps the boot data or the reserved "
		   "area (below 0x30000, or from %#x to 1 MiB)", BOOT_EBDA_ADDR);
}

static int probe_bzimage(const uint8_t *img, size_t len, char *why, size_t n)
{
	struct setup_header h;
	uint64_t setup_size;

	memcpy(&h, img + 0x1f1, sizeof(h));
	if (h.version < 0x20c || !(h.xloadflags & XLF_KERNEL_64) || !(h.loadflags & LOADED_HIGH))
		return say(why, n, -ENOTSUP, "bzImage boot protocol %u.%02u without a 64-bit entry "
			   "(need 2.12 or later with XLF_KERNEL_64)", h.version >> 8,
			   h.version & 0xff);
	setup_size = ((uint64_t)(h.setup_sects ? h.setup_sects : 4) + 1) * 512;
	if (setup_size >= len)
		return say(why, n, -ENOEXEC, "truncated bzImage");
	return X86_BOOT_BZIMAGE;
}

static int probe_vmlinux(const uint8_t *img, size_t avail, size_t len, char *why, size_t n)
{
	Elf64_Ehdr e;
	unsigned i, loads = 0;

	memcpy(&e, img, sizeof(e));
	if (e.e_machine != EM_X86_64 || e.e_type != ET_EXEC ||
	    e.e_phentsize != sizeof(Elf64_Phdr) || e.e_phoff > avail ||
	    (uint64_t)e.e_phnum * sizeof(Elf64_Phdr) > avail - e.e_phoff)
		return say(why, n, -ENOEXEC, "not an x86-64 executable ELF");
	for (i = 0; i < e.e_phnum; i++) {
		struct phdr p;

		get_phdr(img, true, e.e_phoff + (uint64_t)i * sizeof(Elf64_Phdr), &p);
		if (p.type != PT_LOAD || !p.memsz)
			continue;
		if (p.off > len || p.filesz > len - p.off || p.filesz > p.memsz ||
		    p.paddr < BOOT_KERNEL_ADDR)
			return say(why, n, -ENOEXEC, "malformed ELF program header %u", i);
		loads++;
	}
	if (!loads)
		return say(why, n, -ENOEXEC, "ELF has no loadable segment holding its entry point");
	return X86_BOOT_VMLINUX;
}

/* img[0..avail) holds the first bytes of an image of len bytes: the headers must lie there,
 * the segments they describe within len. */
static int probe(const uint8_t *img, size_t avail, size_t len, char *why, size_t whylen)
{
	size_t o;

	if (why && whylen)
		why[0] = '\0';
	/* The order of x86_boot_load: multiboot first (a multiboot ELF64 is also an ELF64). */
	for (o = 0; o + sizeof(struct mb_header) <= avail && o < MB_SEARCH; o += 4) {
		struct mb_header h;

		memcpy(&h, img + o, sizeof(h));
		if (h.magic == MB_MAGIC && h.magic + h.flags + h.checksum == 0)
			return probe_multiboot(&h, o, img, avail, len, why, whylen);
	}
	if (avail >= 0x1f1 + sizeof(struct setup_header) && img[0x1fe] == 0x55 && img[0x1ff] == 0xaa) {
		uint32_t magic;

		memcpy(&magic, img + 0x202, sizeof(magic));
		if (magic == HDR_MAGIC)
			return probe_bzimage(img, len, why, whylen);
	}
	if (avail >= sizeof(Elf64_Ehdr) && !memcmp(img, ELFMAG, SELFMAG) &&
	    img[EI_CLASS] == ELFCLASS64)
		return probe_vmlinux(img, avail, len, why, whylen);
	return say(why, whylen, -ENOEXEC, "not a bzImage, ELF64 vmlinux or multiboot image");
}

int x86_boot_probe(const uint8_t *img, size_t len, char *why, size_t whylen)
{
	return probe(img, len < PROBE_HEAD ? len : PROBE_HEAD, len, why, whylen);
}

int x86_boot_probe_file(const char *path, char *why, size_t whylen)
{
	struct stat st;
	uint8_t *head;
	size_t want, got = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return say(why, whylen, -errno, "%s", strerror(errno));
	if (fstat(fd, &st) < 0) {
		ret = say(why, whylen, -errno, "%s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = say(why, whylen, -EINVAL, "not a regular file");
		goto out;
	}
	/* Only the head is read (never a mapping: a file truncated meanwhile cannot fault). */
	want = (uint64_t)st.st_size < PROBE_HEAD ? (size_t)st.st_size : PROBE_HEAD;
	head = malloc(want ? want : 1);
	if (!head) {
		ret = say(why, whylen, -ENOMEM, "out of memory");
		goto out;
	}
	while (got < want) {
		ssize_t r = pread(fd, head + got, want - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	ret = probe(head, got, (size_t)st.st_size, why, whylen);
	free(head);
out:
	close(fd);
	return ret;
}
