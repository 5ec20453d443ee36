/* Unit tests of what an x86 firmware reads from fw_cfg (arch/x86/fw_cfg_x86.c) and of the
 * ACPI tables published through the table loader (arch/x86/acpi.c, devices/fw_loader.c).
 * The test plays the firmware: it reads the file directory and the files through the
 * fw_cfg device's DMA, as SeaBIOS does, and runs etc/table-loader the way SeaBIOS's
 * romfile_loader.c does (allocate and copy each file into guest RAM, patch pointers,
 * recompute checksums, write pointers back by DMA), with OVMF's further check that a
 * pointer points inside its target file before the fix-up. Then it follows RSDP -> RSDT/XSDT ->
 * FADT -> DSDT/FACS in guest memory checking every checksum, compares the result byte for
 * byte with the tables direct boot writes at 0xE0000, and has Debian's `iasl -d`
 * (acpica-tools) disassemble each table without an error or a warning. */
#include "check.h"
#include "scratch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/boot.h"
#include "arch/x86/fw_cfg_x86.h"
#include "arch/x86/tables.h"
#include "devices/fw_cfg.h"
#include "devices/fw_loader.h"
#include "vmm/vm.h"

#define SCRATCH_GPA 0x1000      /* the firmware's DMA access struct */
#define BUF_GPA     0x200000    /* where the firmware reads whole files first */

/* ---- a VM without KVM (as tests/unit/test_vmm_x86.c) ---- */
static struct vm_config cfgs[4];
static unsigned nr_cfgs;

static struct vm *fake_vm(unsigned cpus, uint64_t mem, bool pci)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	struct vm_config *cfg = &cfgs[nr_cfgs++ % 4];

	memset(cfg, 0, sizeof(*cfg));
	cfg->nr_cpus = cpus;
	cfg->mem_size = mem;
	cfg->serial = VM_SERIAL_NONE;
	cfg->kernel = "test-kernel";
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = -1;
	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	if (guest_mem_create(mem, &vm->mem))
		abort();
	vm->host.pio = &vm->pio;
	if (pci) {
		vm->pci.ecam_base = 0xe0000000;
		vm->pci.mem_base = 0xc0000000;
		vm->pci.mem_end = 0xd0000000;
	}
	return vm;
}

static void free_vm(struct vm *vm)
{
	guest_mem_destroy(vm->mem);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	free(vm);
}

static uint8_t *gp(struct vm *vm, uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(vm->mem, gpa, len);
	if (!p)
		abort();
	return p;
}

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	while (n--)
		v = v << 8 | p[n];
	return v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

/* ---- the firmware's side of fw_cfg: DMA only, as SeaBIOS with the DMA interface ---- */
static uint32_t dma(struct vm *vm, uint32_t control, uint32_t len, uint64_t addr)
{
	uint8_t *a = gp(vm, SCRATCH_GPA, 16), d[4];

	put_be(a, control, 4);
	put_be(a + 4, len, 4);
	put_be(a + 8, addr, 8);
	put_be(d, SCRATCH_GPA, 4);
	bus_dispatch(&vm->pio, FW_CFG_PORT_DMA + 4, d, 4, true);
	return be32(a);
}

/* Look name up in the directory (key 0x19). 0 with *key and *size, or -1. */
static int fw_find(struct vm *vm, const char *name, uint16_t *key, uint32_t *size)
{
	uint8_t *b = gp(vm, BUF_GPA, 64);
	uint32_t n;

	if (dma(vm, FW_CFG_FILE_DIR << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 4, BUF_GPA))
		return -1;
	n = be32(b);
	for (uint32_t i = 0; i < n; i++) {
		if (dma(vm, FW_CFG_DMA_READ, 64, BUF_GPA))
			return -1;
		if (!strcmp((char *)b + 8, name)) {
			*size = be32(b);
			*key = (uint16_t)(b[4] << 8 | b[5]);
			return 0;
		}
	}
	return -1;
}

/* Read file name into guest memory at gpa. Its size, or -1. */
static long fw_load(struct vm *vm, const char *name, uint64_t gpa)
{
	uint16_t key;
	uint32_t size;

	if (fw_find(vm, name, &key, &size) ||
	    dma(vm, (uint32_t)key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, size, gpa))
		return -1;
	return size;
}

/* ---- the loader, as SeaBIOS runs it ---- */
struct blob { char name[FW_LOADER_FILESZ]; uint64_t addr; uint32_t size; };

static struct blob *blob_find(struct blob *b, unsigned n, const char *name)
{
	if (name[FW_LOADER_FILESZ - 1])
		return NULL;
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(b[i].name, name))
			return &b[i];
	return NULL;
}

/* Run etc/table-loader: files in zone HIGH from *high on, FSEG from *fseg on. Returns the
 * number of commands that failed (a firmware would warn and go on). */
static int run_script(struct vm *vm, const char *name, uint64_t high, uint64_t fseg,
		      struct blob *blobs, unsigned *nr)
{
	long len = fw_load(vm, name, BUF_GPA);
	uint8_t *script;
	int bad = 0;

	*nr = 0;
	if (len <= 0 || len % FW_LOADER_ENTRY_LEN)
		return 1;
	script = malloc((size_t)len);
	memcpy(script, gp(vm, BUF_GPA, (uint64_t)len), (size_t)len);
	for (long off = 0; off < len; off += FW_LOADER_ENTRY_LEN) {
		uint8_t *e = script + off;
		uint32_t cmd = (uint32_t)le(e, 4);

		if (cmd == FW_LOADER_ALLOCATE) {
			uint32_t align = (uint32_t)le(e + FW_LOADER_ALLOC_ALIGN, 4);
			uint64_t *at = e[FW_LOADER_ALLOC_ZONE] == FW_LOADER_ZONE_FSEG ? &fseg : &high;
			struct blob *b = &blobs[*nr];
			uint16_t key;

			if (!align || (align & (align - 1)) || e[FW_LOADER_ALLOC_FILE + 55] ||
			    (e[FW_LOADER_ALLOC_ZONE] != 1 && e[FW_LOADER_ALLOC_ZONE] != 2) ||
			    fw_find(vm, (char *)e + FW_LOADER_ALLOC_FILE, &key, &b->size)) {
				bad++;
				continue;
			}
			*at = (*at + align - 1) & ~(uint64_t)(align - 1);
			b->addr = *at;
			*at += b->size;
			if (at == &fseg && *at > 0x100000) {
				bad++;
				continue;
			}
			strcpy(b->name, (char *)e + FW_LOADER_ALLOC_FILE);
			if (fw_load(vm, b->name, b->addr) != b->size) {
				bad++;
				continue;
			}
			(*nr)++;
		} else if (cmd == FW_LOADER_ADD_POINTER) {
			struct blob *d = blob_find(blobs, *nr, (char *)e + FW_LOADER_PTR_DEST);
			struct blob *s = blob_find(blobs, *nr, (char *)e + FW_LOADER_PTR_SRC);
			uint32_t o = (uint32_t)le(e + FW_LOADER_PTR_OFFSET, 4);
			uint8_t sz = e[FW_LOADER_PTR_SIZE];
			uint64_t v;
			uint8_t *p;

			if (!d || !s || (sz != 1 && sz != 2 && sz != 4 && sz != 8) ||
			    o + sz < o || o + sz > d->size) {
				bad++;
				continue;
			}
			p = gp(vm, d->addr + o, sz);
			/* OVMF also wants the field to point inside src before the fix-up */
			if (le(p, sz) >= s->size) {
				bad++;
				continue;
			}
			v = le(p, sz) + s->addr;
			for (int i = 0; i < sz; i++)
				p[i] = (uint8_t)(v >> (8 * i));
		} else if (cmd == FW_LOADER_ADD_CHECKSUM) {
			struct blob *f = blob_find(blobs, *nr, (char *)e + FW_LOADER_CKSUM_FILE);
			uint32_t o = (uint32_t)le(e + FW_LOADER_CKSUM_OFFSET, 4);
			uint32_t st = (uint32_t)le(e + FW_LOADER_CKSUM_START, 4);
			uint32_t n = (uint32_t)le(e + FW_LOADER_CKSUM_LENGTH, 4);

			if (!f || o >= f->size || st + n < st || st + n > f->size) {
				bad++;
				continue;
			}
			*gp(vm, f->addr + o, 1) -= sum(gp(vm, f->addr + st, n), n);
		} else if (cmd == FW_LOADER_WRITE_POINTER) {
			struct blob *s = blob_find(blobs, *nr, (char *)e + FW_LOADER_WP_SRC);
			uint32_t o = (uint32_t)le(e + FW_LOADER_WP_DST_OFFSET, 4);
			uint32_t so = (uint32_t)le(e + FW_LOADER_WP_SRC_OFFSET, 4);
			uint8_t sz = e[FW_LOADER_WP_SIZE], *p = gp(vm, BUF_GPA, 8);
			uint64_t v;
			uint16_t key;
			uint32_t dsize;

			if (!s || so >= s->size || (sz != 1 && sz != 2 && sz != 4 && sz != 8) ||
			    fw_find(vm, (char *)e + FW_LOADER_WP_DEST, &key, &dsize) ||
			    o + sz > dsize) {
				bad++;
				continue;
			}
			v = s->addr + so;
			for (int i = 0; i < sz; i++)
				p[i] = (uint8_t)(v >> (8 * i));
			/* select + skip to the field, then write it (SeaBIOS's qemu_cfg_write_file) */
			if (dma(vm, (uint32_t)key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_SKIP, o, 0) ||
			    dma(vm, FW_CFG_DMA_WRITE, sz, BUF_GPA))
				bad++;
		} else {
			bad++;   /* SeaBIOS skips unknown commands; ours has none */
		}
	}
	free(script);
	return bad;
}

static int run_loader(struct vm *vm, uint64_t high, uint64_t fseg, struct blob *blobs,
		      unsigned *nr)
{
	return run_script(vm, FW_LOADER_FILE, high, fseg, blobs, nr);
}

/* ---- checking the tables the guest sees ---- */
static const char *iasl_bin(void)
{
	static const char *c[] = { "/usr/bin/iasl", "/usr/local/bin/iasl" };
	for (unsigned i = 0; i < 2; i++)
		if (!access(c[i], X_OK))
			return c[i];
	return NULL;
}

/* Disassemble the table at gpa (len bytes) with iasl -d: 0 when it does so without an
 * error or a warning (nor an incorrect checksum). */
static int iasl_check(struct vm *vm, uint64_t gpa, uint32_t len, const char *name)
{
	char cmd[1024], line[512], path[64];
	FILE *f;
	int bad = 0;

	snprintf(path, sizeof(path), "%s.dat", name);
	f = fopen(P(path), "wb");
	if (!f || fwrite(gp(vm, gpa, len), 1, len, f) != len)
		bad++;
	if (f)
		fclose(f);
	snprintf(cmd, sizeof(cmd), "cd %s && %s -d %s 2>&1 && cat %s.dsl", scratch_dir, iasl_bin(),
		 path, name);
	f = popen(cmd, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "Warning") || strstr(line, "Error") || strstr(line, "Incorrect") ||
		    strstr(line, "Invalid") || strstr(line, "Unknown") || strstr(line, "does not")) {
			printf("iasl %s: %s", name, line);
			bad++;
		}
	if (!f || pclose(f) != 0)
		bad++;
	return bad;
}

static uint64_t table_ok(struct vm *vm, uint64_t gpa, const char *sig, int *bad)
{
	uint8_t *h = guest_mem_ptr(vm->mem, gpa, 36);
	uint32_t len;

	if (!h || memcmp(h, sig, 4)) {
		printf("no %s at 0x%llx\n", sig, (unsigned long long)gpa);
		(*bad)++;
		return 0;
	}
	len = (uint32_t)le(h + 4, 4);
	if (!guest_mem_ptr(vm->mem, gpa, len) || sum(h, len)) {
		printf("%s at 0x%llx: bad length or checksum\n", sig, (unsigned long long)gpa);
		(*bad)++;
	}
	return len;
}

/* Follow the chain from the RSDP found in 0xF0000-0xFFFFF (as a guest OS does). Returns
 * the problems found; *rsdp_at the RSDP's address. With iasl, disassemble every table. */
static int check_chain(struct vm *vm, bool pci, bool with_iasl, uint64_t *rsdp_at)
{
	uint8_t *r = NULL, *rsdt, *xsdt, *fadt;
	uint64_t a, facs, dsdt;
	uint32_t n, len;
	int bad = 0, seen_fadt = 0, seen_madt = 0, seen_mcfg = 0;

	for (a = 0xf0000; a < 0x100000; a += 16)
		if (!memcmp(gp(vm, a, 8), "RSD PTR ", 8)) {
			r = gp(vm, a, 36);
			break;
		}
	if (!r)
		return 1;
	*rsdp_at = a;
	if (sum(r, 20) || sum(r, 36) || r[15] != 2)
		bad++;
	a = le(r + 16, 4);
	len = (uint32_t)table_ok(vm, a, "RSDT", &bad);
	if (!len)
		return bad;
	rsdt = gp(vm, a, len);
	if (with_iasl)
		bad += iasl_check(vm, a, len, "rsdt");
	a = le(r + 24, 8);
	if (!table_ok(vm, a, "XSDT", &bad))
		return bad;
	xsdt = gp(vm, a, 36);
	if (with_iasl)
		bad += iasl_check(vm, a, (uint32_t)le(xsdt + 4, 4), "xsdt");
	n = (len - 36) / 4;
	if (le(xsdt + 4, 4) != 36 + 8 * n)
		bad++;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t t = le(rsdt + 36 + 4 * i, 4);
		uint8_t *h;
		char sig[5] = { 0 };

		if (t != le(gp(vm, a + 36 + 8 * i, 8), 8))   /* RSDT and XSDT agree */
			bad++;
		h = guest_mem_ptr(vm->mem, t, 36);
		if (!h) {
			bad++;
			continue;
		}
		memcpy(sig, h, 4);
		len = (uint32_t)table_ok(vm, t, sig, &bad);
		if (with_iasl && len)
			bad += iasl_check(vm, t, len, !strcmp(sig, "FACP") ? "facp" :
					  !strcmp(sig, "APIC") ? "apic" : "mcfg");
		if (!strcmp(sig, "FACP")) {
			seen_fadt++;
			fadt = h;
			facs = le(fadt + 36, 4);
			dsdt = le(fadt + 40, 4);
			if (facs != le(fadt + 132, 8) || dsdt != le(fadt + 140, 8) || facs % 64)
				bad++;
			if (memcmp(gp(vm, facs, 4), "FACS", 4) || le(gp(vm, facs + 4, 4), 4) != 64)
				bad++;
			len = (uint32_t)table_ok(vm, dsdt, "DSDT", &bad);
			if (with_iasl && len) {
				bad += iasl_check(vm, dsdt, len, "dsdt");
				bad += iasl_check(vm, facs, 64, "facs");
			}
		} else if (!strcmp(sig, "APIC")) {
			seen_madt++;
		} else if (!strcmp(sig, "MCFG")) {
			seen_mcfg++;
		} else {
			bad++;
		}
	}
	if (seen_fadt != 1 || seen_madt != 1 || seen_mcfg != (pci ? 1 : 0))
		bad++;
	return bad;
}

static const struct x86_fw_config fwc = {
	.name = "vm1", .serial = "S1", .version = "1",
	.uuid = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8 },
	.bootorder = "/pci@i0cf8/*@2\nHALT", .sercon_port = 0x3f8, .nographic = true,
	.boot_fail_wait_ms = -1,
};

static void loader_case(unsigned cpus, uint64_t mem, bool pci, bool with_iasl)
{
	struct vm *vm = fake_vm(cpus, mem, pci), *direct = fake_vm(cpus, mem, pci);
	struct fw_cfg *fw;
	struct blob blobs[8];
	unsigned nr;
	uint64_t rsdp;
	long tables_len;

	if (fw_cfg_create(&vm->host, vm->mem, &fw))
		abort();
	CHECK_EQ(x86_fw_cfg_setup(vm, fw, &fwc), 0);
	/* the tables where direct boot puts them: the result must be the same bytes */
	CHECK_EQ(run_loader(vm, BOOT_ACPI_ADDR + 0x40, 0xf0000, blobs, &nr), 0);
	CHECK_EQ(nr, 2);
	CHECK_EQ(check_chain(vm, pci, with_iasl, &rsdp), 0);
	CHECK_EQ(rsdp, 0xf0000);
	CHECK_EQ(x86_acpi_write(direct), 0);
	tables_len = blobs[0].size;    /* the area after the RSDP's 0x40 bytes */
	CHECK(!strcmp(blobs[0].name, ACPI_FILE_TABLES));
	CHECK(!memcmp(gp(vm, BOOT_ACPI_ADDR + 0x40, 4), "RSDT", 4));
	CHECK(tables_len > 0x7c0 && tables_len <= 0x1000 - 0x40);
	CHECK(!memcmp(gp(vm, BOOT_ACPI_ADDR + 0x40, (uint64_t)tables_len),
		      gp(direct, BOOT_ACPI_ADDR + 0x40, (uint64_t)tables_len), (size_t)tables_len));
	CHECK(!memcmp(gp(vm, 0xf0000, 36), gp(direct, BOOT_ACPI_ADDR, 36), 36));
	/* elsewhere: the pointers follow (an unaligned FSEG start gets aligned) */
	memset(gp(vm, 0xe0000, 0x20000), 0, 0x20000);
	CHECK_EQ(run_loader(vm, 0x3456780, 0xf1234, blobs, &nr), 0);
	CHECK_EQ(blobs[0].addr, 0x3456780);
	CHECK_EQ(check_chain(vm, pci, false, &rsdp), 0);
	CHECK_EQ(rsdp, 0xf1240);
	fw_cfg_destroy(fw);
	free_vm(vm);
	free_vm(direct);
}

static void test_loader_acpi_small(void)
{
	loader_case(1, 64ULL << 20, false, iasl_bin() != NULL);
}

static void test_loader_acpi_pci(void)
{
	loader_case(4, 256ULL << 20, true, iasl_bin() != NULL);
}

static void test_loader_acpi_64cpus_high_ram(void)
{
	loader_case(64, MEM_HOLE_START + (1ULL << 30), true, iasl_bin() != NULL);
}

static void test_iasl_present(void)
{
	if (!iasl_bin())
		printf("SKIP iasl: iasl is not installed (acpica-tools, mk/deps.sh test)\n");
	else
		CHECK(iasl_bin());
}

/* The other files and keys, read as the firmware reads them. */
static void test_fw_cfg_x86_files(void)
{
	struct vm *vm = fake_vm(3, MEM_HOLE_START + (256ULL << 20), true);
	struct fw_cfg *fw;
	uint8_t *b = gp(vm, 0x300000, 4096), *e;
	struct x86_fw_config c = fwc;
	long n;

	if (fw_cfg_create(&vm->host, vm->mem, &fw))
		abort();
	c.boot_menu = true;
	c.boot_menu_wait_ms = 1500;
	CHECK_EQ(x86_fw_cfg_setup(vm, fw, &c), 0);
	n = fw_load(vm, "etc/e820", 0x300000);
	CHECK_EQ(n, 3 * X86_E820_ENTRY_LEN);
	e = b;
	CHECK(le(e, 8) == 0 && le(e + 8, 8) == MEM_HOLE_START && le(e + 16, 4) == 1);
	e += X86_E820_ENTRY_LEN;
	CHECK(le(e, 8) == MEM_HIGH_START && le(e + 8, 8) == 256ULL << 20 && le(e + 16, 4) == 1);
	e += X86_E820_ENTRY_LEN;
	CHECK(le(e, 8) == 0xe0000000 && le(e + 8, 8) == 1 << 20 && le(e + 16, 4) == 2);
	CHECK_EQ(fw_load(vm, "bootorder", 0x300000), strlen(c.bootorder) + 1);
	CHECK(!strcmp((char *)b, c.bootorder));
	CHECK_EQ(fw_load(vm, "etc/sercon-port", 0x300000), 2);
	CHECK_EQ(le(b, 2), 0x3f8);
	CHECK_EQ(fw_load(vm, "etc/boot-fail-wait", 0x300000), 4);
	CHECK_EQ(le(b, 4), 0xffffffffu);
	CHECK_EQ(fw_load(vm, "etc/show-boot-menu", 0x300000), 2);
	CHECK_EQ(le(b, 2), 1);
	CHECK_EQ(fw_load(vm, "etc/boot-menu-wait", 0x300000), 2);
	CHECK_EQ(le(b, 2), 1500);
	CHECK_EQ(fw_load(vm, "etc/max-cpus", 0x300000), 2);
	CHECK_EQ(le(b, 2), 3);
	/* SMBIOS: SeaBIOS wants the anchor's size and the table length to agree */
	CHECK_EQ(fw_load(vm, "etc/smbios/smbios-anchor", 0x300000), 0x18);
	CHECK(!memcmp(b, "_SM3_", 5));
	n = (long)le(b + 12, 4);
	CHECK_EQ(fw_load(vm, "etc/smbios/smbios-tables", 0x300000), n);
	/* legacy keys, by DMA */
	CHECK_EQ(dma(vm, FW_CFG_NB_CPUS << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 2, 0x300000), 0);
	CHECK_EQ(le(b, 2), 3);
	CHECK_EQ(dma(vm, FW_CFG_MAX_CPUS << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 2, 0x300000), 0);
	CHECK_EQ(le(b, 2), 3);
	CHECK_EQ(dma(vm, FW_CFG_RAM_SIZE << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 8, 0x300000), 0);
	CHECK_EQ(le(b, 8), MEM_HOLE_START + (256ULL << 20));
	CHECK_EQ(dma(vm, FW_CFG_NOGRAPHIC << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 2, 0x300000), 0);
	CHECK_EQ(le(b, 2), 1);
	CHECK_EQ(dma(vm, FW_CFG_BOOT_MENU << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 2, 0x300000), 0);
	CHECK_EQ(le(b, 2), 1);
	CHECK_EQ(dma(vm, FW_CFG_UUID << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 16, 0x300000), 0);
	CHECK(!memcmp(b, c.uuid, 16));
	/* a second set-up on the same device is refused (the files exist) */
	CHECK(x86_fw_cfg_setup(vm, fw, &c) < 0);
	fw_cfg_destroy(fw);
	free_vm(vm);
	/* no high RAM, no PCI, no boot order, no serial console: one e820 entry, fewer files */
	vm = fake_vm(1, 64ULL << 20, false);
	if (fw_cfg_create(&vm->host, vm->mem, &fw))
		abort();
	c = fwc;
	c.bootorder = NULL;
	c.sercon_port = 0;
	CHECK_EQ(x86_fw_cfg_setup(vm, fw, &c), 0);
	b = gp(vm, 0x300000, 64);
	CHECK_EQ(fw_load(vm, "etc/e820", 0x300000), X86_E820_ENTRY_LEN);
	CHECK(le(b, 8) == 0 && le(b + 8, 8) == 64ULL << 20 && le(b + 16, 4) == 1);
	CHECK_EQ(fw_cfg_file_key(fw, "bootorder"), -ENOENT);
	CHECK_EQ(fw_cfg_file_key(fw, "etc/sercon-port"), -ENOENT);
	CHECK_EQ(fw_cfg_file_key(fw, "etc/boot-menu-wait"), -ENOENT);
	CHECK_EQ(fw_load(vm, "etc/show-boot-menu", 0x300000), 2);
	CHECK_EQ(le(b, 2), 0);
	fw_cfg_destroy(fw);
	free_vm(vm);
}

/* WRITE_POINTER through the device: the firmware writes an allocated address back into a
 * writable fw_cfg file; and the builder refuses malformed commands. */
static void test_loader_write_pointer(void)
{
	struct vm *vm = fake_vm(1, 64ULL << 20, false);
	struct fw_loader ld = { 0 };
	struct fw_cfg *fw;
	struct blob blobs[4];
	unsigned nr;
	uint8_t addr[8], blob[32] = "0123456789";

	if (fw_cfg_create(&vm->host, vm->mem, &fw))
		abort();
	CHECK_EQ(fw_loader_allocate(&ld, "test/blob", 4096, FW_LOADER_ZONE_HIGH), 0);
	CHECK_EQ(fw_loader_add_pointer(&ld, "test/blob", 16, 8, "test/blob"), 0);
	CHECK_EQ(fw_loader_add_checksum(&ld, "test/blob", 31, 0, 32), 0);
	CHECK_EQ(fw_loader_write_pointer(&ld, "test/addr", 4, 4, "test/blob", 10), 0);
	CHECK_EQ(fw_loader_error(&ld), 0);
	CHECK_EQ(ld.len, 4 * FW_LOADER_ENTRY_LEN);
	CHECK_EQ(fw_cfg_add_file(fw, "test/blob", blob, sizeof(blob)), 0);
	CHECK_EQ(fw_cfg_add_file_writable(fw, "test/addr", "\0\0\0\0\0\0\0\0", 8, NULL, NULL), 0);
	CHECK_EQ(fw_cfg_add_file(fw, FW_LOADER_FILE, ld.p, (uint32_t)ld.len), 0);
	CHECK_EQ(run_loader(vm, 0x123400, 0xf0000, blobs, &nr), 0);
	CHECK_EQ(nr, 1);
	CHECK_EQ(blobs[0].addr, 0x124000);
	CHECK_EQ(le(gp(vm, 0x124000 + 16, 8), 8), 0x124000);   /* the pointer */
	CHECK_EQ(sum(gp(vm, 0x124000, 32), 32), 0);              /* the checksum */
	CHECK_EQ(fw_cfg_file_read(fw, "test/addr", addr, 8), 8);
	CHECK_EQ(le(addr + 4, 4), 0x124000 + 10);
	CHECK_EQ(le(addr, 4), 0);
	fw_loader_free(&ld);

	/* a WRITE_POINTER into a read-only file fails at the device */
	CHECK_EQ(fw_loader_allocate(&ld, "test/blob", 16, FW_LOADER_ZONE_HIGH), 0);
	CHECK_EQ(fw_loader_write_pointer(&ld, "test/blob", 0, 8, "test/blob", 0), 0);
	CHECK_EQ(fw_cfg_add_file(fw, "test/loader2", ld.p, (uint32_t)ld.len), 0);
	CHECK_EQ(run_script(vm, "test/loader2", 0x200000, 0xf0000, blobs, &nr), 1);
	CHECK_EQ(fw_cfg_file_read(fw, "test/blob", blob, sizeof(blob)), 32);
	CHECK(!memcmp(blob, "0123456789\0", 11));
	fw_loader_free(&ld);

	CHECK_EQ(fw_loader_allocate(&ld, "x", 3, FW_LOADER_ZONE_HIGH), -EINVAL);
	CHECK_EQ(fw_loader_allocate(&ld, "x", 16, 3), -EINVAL);
	CHECK_EQ(fw_loader_allocate(&ld, "", 16, FW_LOADER_ZONE_HIGH), -EINVAL);
	CHECK_EQ(fw_loader_add_pointer(&ld, "a", 0, 3, "b"), -EINVAL);
	CHECK_EQ(fw_loader_add_pointer(&ld, "a", 0xfffffffe, 4, "b"), -EINVAL);
	CHECK_EQ(fw_loader_add_checksum(&ld, "a", 0, 0xfffffff0, 0x20), -EINVAL);
	CHECK_EQ(fw_loader_write_pointer(&ld,
		 "0123456789012345678901234567890123456789012345678901234567", 0, 8, "b", 0), -EINVAL);
	CHECK_EQ(fw_loader_error(&ld), -EINVAL);
	CHECK_EQ(ld.len, 0);
	fw_loader_free(&ld);
	fw_cfg_destroy(fw);
	free_vm(vm);
}

int main(void)
{
	if (scratch_make("vsrv-fwloader"))
		return 1;
	RUN(test_iasl_present);
	RUN(test_fw_cfg_x86_files);
	RUN(test_loader_acpi_small);
	RUN(test_loader_acpi_pci);
	RUN(test_loader_acpi_64cpus_high_ram);
	RUN(test_loader_write_pointer);
	scratch_remove();
	return check_done();
}
