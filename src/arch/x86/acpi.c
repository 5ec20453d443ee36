/* Minimal ACPI tables, for a clean power-off and for CPU enumeration when the guest uses
 * ACPI: RSDP (ACPI 2.0+), RSDT and XSDT, FADT (revision 6, not hardware-reduced: the guest
 * keeps its PIC and PIT) with the PM1a blocks of devices/acpi_pm.c and the i8042 as reset
 * register, FACS, a DSDT holding \_S5 and, when the VM has PCI, the root bridge
 * \_SB.PCI0 (bus 0, its memory window), an MCFG for its ECAM, and a MADT (LAPICs, the
 * IOAPIC, LINT1 NMI). For direct boot all in the BIOS area at 0xE0000, which the e820 map
 * marks reserved; for firmware boot the same tables as fw_cfg files with a loader script
 * (devices/fw_loader.h) that tells the firmware where the pointers and checksums are.
 * (An ACPI guest enumerates PCI only through root bridges in the DSDT: Linux with ACPI
 * does no legacy probe of bus 0.) */
#include "arch/x86/tables.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "devices/acpi_pm.h"
#include "devices/fw_cfg.h"
#include "devices/fw_loader.h"
#include "devices/pci.h"
#include "util/log.h"
#include "vmm/vm.h"

/* Offsets in the tables area (direct boot: from BOOT_ACPI_ADDR, the RSDP at 0; firmware
 * boot: ACPI_FILE_TABLES is the area from FILE_START on, 64-byte aligned). */
#define RSDT_OFF   0x040
#define XSDT_OFF   0x080
#define FADT_OFF   0x100
#define FACS_OFF   0x240  /* 64-byte aligned */
#define MADT_OFF   0x300  /* up to 0x700: 64 CPUs take 0x24e bytes */
#define MCFG_OFF   0x700
#define DSDT_OFF   0x800
#define FILE_START RSDT_OFF
#define DSDT_MAX   0x800
#define ACPI_SIZE  0x1000

struct acpi_header {
	char sig[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct gas { /* Generic Address Structure */
	uint8_t space, bit_width, bit_offset, access_size;
	uint64_t address;
} __attribute__((packed));

struct fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl, dsdt;
	uint8_t reserved0, pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk, pm2_cnt_blk;
	uint32_t pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len, gpe0_blk_len, gpe1_blk_len;
	uint8_t gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl, x_dsdt;
	struct gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct gas sleep_control_reg, sleep_status_reg;
	uint64_t hypervisor_vendor;
} __attribute__((packed));

struct rsdp {
	char sig[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum, reserved[3];
} __attribute__((packed));

_Static_assert(sizeof(struct fadt) == 276, "FADT layout");
_Static_assert(sizeof(struct rsdp) == 36, "RSDP layout");

/* DefinitionBlock body: Name (_S5, Package (4) { 5, 5, 0, 0 }) -- SLP_TYP 5 for S5. */
static const uint8_t dsdt_s5[] = {
	0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, ACPI_SLP_TYP_S5, 0x0a, ACPI_SLP_TYP_S5,
	0x00, 0x00,
};

/* ---- a little AML ---- */
struct aml {
	uint8_t *p;
	size_t len, max;
};

static void aml_bytes(struct aml *a, const void *b, size_t n)
{
	if (a->len + n <= a->max)
		memcpy(a->p + a->len, b, n);
	a->len += n;
}

static void aml_u8(struct aml *a, uint8_t v) { aml_bytes(a, &v, 1); }
static void aml_u16(struct aml *a, uint16_t v) { aml_bytes(a, &v, 2); }
static void aml_u32(struct aml *a, uint32_t v) { aml_bytes(a, &v, 4); }

/* Close a package opened at start (where 2 bytes were left for its PkgLength): encode the
 * length (which counts itself) in 1 or 2 bytes, moving the body when 1 is enough. */
static void aml_pkg_end(struct aml *a, size_t start)
{
	size_t body = a->len - start - 2;

	if (a->len > a->max)
		return;
	if (body + 1 < 0x40) {
		memmove(a->p + start + 1, a->p + start + 2, body);
		a->p[start] = (uint8_t)(body + 1);
		a->len--;
	} else {
		a->p[start] = (uint8_t)(0x40 | ((body + 2) & 0xf));
		a->p[start + 1] = (uint8_t)((body + 2) >> 4);
	}
}

static size_t aml_pkg_begin(struct aml *a)
{
	size_t start = a->len;

	aml_u16(a, 0);
	return start;
}

/* Name (_PRT, Package () { Package () { 0xSSSSFFFF, 0, 0, GSI }, ... }): INTA# of each slot
 * with a legacy interrupt (pci->intx_gsi) wired straight to its IOAPIC pin (level, as a
 * GSI-sourced _PRT entry is). Virtio devices use MSI-X only and need none. */
static void aml_prt(struct aml *a, const struct vm_pci_info *pci)
{
	size_t prt, ent;
	uint8_t n = 0;

	for (unsigned s = 0; s < 32; s++)
		n += pci->intx_gsi[s] != 0;
	if (!n)
		return;
	aml_bytes(a, "\x08_PRT\x12", 6);              /* Name (_PRT, Package () {...}) */
	prt = aml_pkg_begin(a);
	aml_u8(a, n);
	for (unsigned s = 0; s < 32; s++) {
		if (!pci->intx_gsi[s])
			continue;
		aml_u8(a, 0x12);                      /* PackageOp */
		ent = aml_pkg_begin(a);
		aml_u8(a, 4);
		aml_u8(a, 0x0c);                      /* DWordConst: the slot, any function */
		aml_u32(a, s << 16 | 0xffff);
		aml_u8(a, 0x00);                      /* pin: INTA# */
		aml_u8(a, 0x00);                      /* source: none, a GSI */
		aml_u8(a, 0x0a);                      /* ByteConst: the GSI */
		aml_u8(a, pci->intx_gsi[s]);
		aml_pkg_end(a, ent);
	}
	aml_pkg_end(a, prt);
}

/* Scope (\_SB) { Device (PCI0) { _HID PNP0A03, _UID 0, _SEG 0, _BBN 0, _CRS: bus 0, the
 * I/O BAR ports, the BAR window, _PRT when a device has a legacy interrupt } }. */
static void aml_pci_root(struct aml *a, const struct vm_pci_info *pci)
{
	size_t scope, dev, crs, buf;

	aml_u8(a, 0x10);                              /* ScopeOp */
	scope = aml_pkg_begin(a);
	aml_bytes(a, "\\_SB_", 5);
	aml_bytes(a, "\x5b\x82", 2);                  /* DeviceOp */
	dev = aml_pkg_begin(a);
	aml_bytes(a, "PCI0", 4);
	aml_bytes(a, "\x08_HID\x0c", 6);              /* Name (_HID, EisaId ("PNP0A03")) */
	aml_u32(a, 0x030ad041);
	aml_bytes(a, "\x08_UID\x00", 6);              /* Name (_UID, Zero) */
	aml_bytes(a, "\x08_SEG\x00", 6);
	aml_bytes(a, "\x08_BBN\x00", 6);
	aml_bytes(a, "\x08_CRS\x11", 6);              /* Name (_CRS, Buffer () {...}) */
	crs = aml_pkg_begin(a);
	aml_u8(a, 0x0a);                              /* BufferSize: ByteConst */
	buf = a->len;
	aml_u8(a, 0);
	{
		size_t body = a->len;
		/* WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode): bus 0..0 */
		aml_bytes(a, "\x88\x0d\x00\x02\x0c\x00", 6);
		aml_u16(a, 0); aml_u16(a, 0); aml_u16(a, 0); aml_u16(a, 0); aml_u16(a, 1);
		/* WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange): the
		 * ports I/O BARs get (an e1000's BAR1); Linux assigns none outside it */
		aml_bytes(a, "\x88\x0d\x00\x01\x0c\x03", 6);
		aml_u16(a, 0); aml_u16(a, PCI_IO_BASE); aml_u16(a, PCI_IO_END - 1); aml_u16(a, 0);
		aml_u16(a, PCI_IO_END - PCI_IO_BASE);
		/* DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable,
		 * ReadWrite): the BAR window */
		aml_bytes(a, "\x87\x17\x00\x00\x0c\x01", 6);
		aml_u32(a, 0);
		aml_u32(a, (uint32_t)pci->mem_base);
		aml_u32(a, (uint32_t)(pci->mem_end - 1));
		aml_u32(a, 0);
		aml_u32(a, (uint32_t)(pci->mem_end - pci->mem_base));
		aml_bytes(a, "\x79\x00", 2);                /* EndTag */
		if (a->len <= a->max)
			a->p[buf] = (uint8_t)(a->len - body);
	}
	aml_pkg_end(a, crs);
	aml_prt(a, pci);
	aml_pkg_end(a, dev);
	aml_pkg_end(a, scope);
}

/* The DSDT at p (at most DSDT_MAX bytes). Returns its length, or 0 when it does not fit. */
static uint32_t write_dsdt(const struct vm *vm, uint8_t *p)
{
	struct aml a = { p + sizeof(struct acpi_header), 0, DSDT_MAX - sizeof(struct acpi_header) };

	aml_bytes(&a, dsdt_s5, sizeof(dsdt_s5));
	if (vm->pci.ecam_base)
		aml_pci_root(&a, &vm->pci);
	if (a.len > a.max)
		return 0;
	return (uint32_t)(sizeof(struct acpi_header) + a.len);
}

static uint8_t checksum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (n--)
		s += *b++;
	return (uint8_t)-s;
}

/* Where the tables are written. Direct boot: in guest memory at BOOT_ACPI_ADDR (base), the
 * RSDP at offset 0. Firmware boot: in a buffer whose part from FILE_START on becomes fw_cfg
 * file ACPI_FILE_TABLES (a pointer holds its target's offset in the file: base is
 * -FILE_START), the RSDP in ACPI_FILE_RSDP, and every pointer and checksum also becomes a
 * loader command for the firmware to fix up once it has placed the files. */
struct acpi_out {
	uint8_t *t;
	uint64_t base;
	struct fw_loader *ld;   /* NULL: direct boot */
};

/* A pointer at t[field] to t[target], 4 or 8 bytes. */
static void acpi_ptr(struct acpi_out *o, uint32_t field, uint32_t target, uint8_t size)
{
	uint64_t v = o->base + target;

	memcpy(o->t + field, &v, size);  /* little-endian host */
	if (o->ld)
		fw_loader_add_pointer(o->ld, ACPI_FILE_TABLES, field - FILE_START, size,
				      ACPI_FILE_TABLES);
}

/* Fill the header of the table at t[off] and its checksum, after its pointers. */
static void header(struct acpi_out *o, uint32_t off, const char *sig, uint32_t len,
		   uint8_t rev)
{
	struct acpi_header *h = (struct acpi_header *)(o->t + off);

	memcpy(h->sig, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, "VSRV  ", 6);
	memcpy(h->oem_table_id, "VSRVVM  ", 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, "VSRV", 4);
	h->creator_revision = 1;
	h->checksum = 0;
	h->checksum = checksum(h, len);
	if (o->ld)
		fw_loader_add_checksum(o->ld, ACPI_FILE_TABLES, off - FILE_START +
				       offsetof(struct acpi_header, checksum), off - FILE_START, len);
}

static struct gas io_gas(uint64_t port, uint8_t bytes)
{
	struct gas g = { .space = 1, .bit_width = (uint8_t)(bytes * 8), .access_size = bytes,
			 .address = port };
	return g;
}

static uint32_t write_madt(struct vm *vm, uint8_t *p)
{
	unsigned i, nr = vm->cfg->nr_cpus;
	uint8_t *e = p + sizeof(struct acpi_header) + 8;
	uint32_t lapic = 0xfee00000u, flags = 1; /* PCAT_COMPAT: 8259s present */

	memcpy(p + 36, &lapic, 4);
	memcpy(p + 40, &flags, 4);
	for (i = 0; i < nr; i++, e += 8) {
		uint32_t enabled = 1;
		e[0] = 0;               /* Processor Local APIC */
		e[1] = 8;
		e[2] = (uint8_t)i;      /* ACPI processor UID */
		e[3] = (uint8_t)i;      /* APIC id */
		memcpy(e + 4, &enabled, 4);
	}
	{
		uint32_t addr = X86_IOAPIC_ADDR, gsi_base = 0;
		e[0] = 1;               /* I/O APIC */
		e[1] = 12;
		e[2] = (uint8_t)nr;     /* its id, after the CPUs' (as in the MP table) */
		e[3] = 0;
		memcpy(e + 4, &addr, 4);
		memcpy(e + 8, &gsi_base, 4);
		e += 12;
	}
	{
		uint32_t gsi = 9;       /* the SCI: ISA IRQ 9, level-triggered, active high */
		uint16_t f = 0x000d;
		e[0] = 2;               /* Interrupt Source Override */
		e[1] = 10;
		e[2] = 0;               /* ISA */
		e[3] = 9;
		memcpy(e + 4, &gsi, 4);
		memcpy(e + 8, &f, 2);
		e += 10;
	}
	e[0] = 4;                       /* Local APIC NMI: LINT1 on every processor */
	e[1] = 6;
	e[2] = 0xff;
	e[3] = 0;
	e[4] = 0;
	e[5] = 1;
	e += 6;
	return (uint32_t)(e - p);
}

/* The RSDP at r (36 bytes; in the tables area for direct boot, in its own file otherwise). */
static void write_rsdp(struct acpi_out *o, struct rsdp *r)
{
	uint64_t u64 = o->base + RSDT_OFF;
	uint32_t u32 = (uint32_t)u64;

	memcpy(r->sig, "RSD PTR ", 8);
	memcpy(r->oem_id, "VSRV  ", 6);
	r->revision = 2;
	r->rsdt = u32;
	r->length = sizeof(*r);
	r->xsdt = o->base + XSDT_OFF;
	r->checksum = checksum(r, 20);
	r->ext_checksum = checksum(r, sizeof(*r));
	if (o->ld) {
		fw_loader_add_pointer(o->ld, ACPI_FILE_RSDP, offsetof(struct rsdp, rsdt), 4,
				      ACPI_FILE_TABLES);
		fw_loader_add_pointer(o->ld, ACPI_FILE_RSDP, offsetof(struct rsdp, xsdt), 8,
				      ACPI_FILE_TABLES);
		fw_loader_add_checksum(o->ld, ACPI_FILE_RSDP, offsetof(struct rsdp, checksum), 0, 20);
		fw_loader_add_checksum(o->ld, ACPI_FILE_RSDP, offsetof(struct rsdp, ext_checksum), 0,
				       sizeof(*r));
	}
}

/* Every table but the RSDP into o->t (ACPI_SIZE bytes, zero). Returns the length used
 * (the end of the DSDT), or -errno (logged). */
static int build_tables(struct vm *vm, struct acpi_out *o)
{
	struct fadt *fadt = (struct fadt *)(o->t + FADT_OFF);
	uint8_t *facs = o->t + FACS_OFF, *mcfg = o->t + MCFG_OFF;
	uint32_t u32, madt_len, dsdt_len, tables[3] = { FADT_OFF, MADT_OFF }, nr_tables = 2, i;

	/* DSDT */
	dsdt_len = write_dsdt(vm, o->t + DSDT_OFF);
	if (!dsdt_len) {
		vsrv_log("the DSDT does not fit in %u bytes", DSDT_MAX);
		return -E2BIG;
	}
	header(o, DSDT_OFF, "DSDT", dsdt_len, 2);

	/* MCFG: ECAM of PCI segment 0, bus 0 */
	if (vm->pci.ecam_base) {
		uint64_t ecam = vm->pci.ecam_base;

		memcpy(mcfg + 44, &ecam, 8);   /* segment 0, buses 0..0 follow (zero) */
		header(o, MCFG_OFF, "MCFG", 44 + 16, 1);
		tables[nr_tables++] = MCFG_OFF;
	}

	/* FACS (no checksum) */
	memcpy(facs, "FACS", 4);
	u32 = 64;
	memcpy(facs + 4, &u32, 4);
	facs[32] = 2; /* version */

	/* FADT */
	acpi_ptr(o, FADT_OFF + offsetof(struct fadt, firmware_ctrl), FACS_OFF, 4);
	acpi_ptr(o, FADT_OFF + offsetof(struct fadt, dsdt), DSDT_OFF, 4);
	acpi_ptr(o, FADT_OFF + offsetof(struct fadt, x_firmware_ctrl), FACS_OFF, 8);
	acpi_ptr(o, FADT_OFF + offsetof(struct fadt, x_dsdt), DSDT_OFF, 8);
	fadt->sci_int = 9;
	fadt->pm1a_evt_blk = ACPI_PM1_EVT;
	fadt->pm1a_cnt_blk = ACPI_PM1_CNT;
	fadt->pm1_evt_len = 4;
	fadt->pm1_cnt_len = 2;
	fadt->x_pm1a_evt_blk = io_gas(ACPI_PM1_EVT, 4);
	fadt->x_pm1a_cnt_blk = io_gas(ACPI_PM1_CNT, 2);
	fadt->p_lvl2_lat = 101;  /* > 100: no C2 */
	fadt->p_lvl3_lat = 1001; /* > 1000: no C3 */
	fadt->century = 0x32;
	fadt->iapc_boot_arch = (1 << 1) | (1 << 2); /* an 8042; no VGA */
	/* WBINVD, C1 on all CPUs, a fixed-feature power button (PM1 bit 8), no sleep button,
	 * reset reg */
	fadt->flags = (1 << 0) | (1 << 2) | (1 << 5) | (1 << 10);
	fadt->reset_reg = io_gas(0x64, 1);
	fadt->reset_value = 0xfe;
	if (vm->fw) {
		/* --firmware: the ICH9 PM block the firmware puts at 0x600 has the PM timer at
		 * +8 (24-bit), and the reset register 0xCF9 (RST_CPU | SYS_RST). */
		fadt->pm_tmr_blk = ACPI_PM1_EVT + 8;
		fadt->pm_tmr_len = 4;
		fadt->x_pm_tmr_blk = io_gas(ACPI_PM1_EVT + 8, 4);
		fadt->reset_reg = io_gas(0xcf9, 1);
		fadt->reset_value = 0x06;
	}
	memcpy(&fadt->hypervisor_vendor, "VSRV", 4);
	header(o, FADT_OFF, "FACP", sizeof(*fadt), 6);

	/* MADT */
	madt_len = write_madt(vm, o->t + MADT_OFF);
	header(o, MADT_OFF, "APIC", madt_len, 4);

	/* RSDT (32-bit pointers) and XSDT (64-bit) */
	for (i = 0; i < nr_tables; i++) {
		acpi_ptr(o, RSDT_OFF + 36 + 4 * i, tables[i], 4);
		acpi_ptr(o, XSDT_OFF + 36 + 8 * i, tables[i], 8);
	}
	header(o, RSDT_OFF, "RSDT", 36 + 4 * nr_tables, 1);
	header(o, XSDT_OFF, "XSDT", 36 + 8 * nr_tables, 1);
	return DSDT_OFF + dsdt_len;
}

int x86_acpi_write(struct vm *vm)
{
	struct acpi_out o = { guest_mem_ptr(vm->mem, BOOT_ACPI_ADDR, ACPI_SIZE), BOOT_ACPI_ADDR,
			      NULL };
	int ret;

	if (!o.t) {
		vsrv_log("no room for the ACPI tables");
		return -ENOMEM;
	}
	memset(o.t, 0, ACPI_SIZE);
	ret = build_tables(vm, &o);
	if (ret < 0)
		return ret;
	write_rsdp(&o, (struct rsdp *)o.t);
	return 0;
}

int x86_acpi_fw_cfg(struct vm *vm, struct fw_cfg *fw)
{
	struct fw_loader ld = { 0 };
	struct acpi_out o = { calloc(1, ACPI_SIZE), -(uint64_t)FILE_START, &ld };
	struct rsdp rsdp;
	int ret = -ENOMEM, len;

	if (!o.t)
		goto out;
	memset(&rsdp, 0, sizeof(rsdp));
	/* The firmware allocates both before anything points into them. */
	fw_loader_allocate(&ld, ACPI_FILE_TABLES, 64, FW_LOADER_ZONE_HIGH); /* FACS: 64 */
	fw_loader_allocate(&ld, ACPI_FILE_RSDP, 16, FW_LOADER_ZONE_FSEG);
	len = build_tables(vm, &o);
	if (len < 0) {
		ret = len;
		goto out;
	}
	write_rsdp(&o, &rsdp);
	ret = fw_loader_error(&ld);
	if (!ret)
		ret = fw_cfg_add_file(fw, ACPI_FILE_TABLES, o.t + FILE_START,
				      (uint32_t)len - FILE_START);
	if (!ret)
		ret = fw_cfg_add_file(fw, ACPI_FILE_RSDP, &rsdp, sizeof(rsdp));
	if (!ret)
		ret = fw_cfg_add_file(fw, FW_LOADER_FILE, ld.p, (uint32_t)ld.len);
	if (ret)
		vsrv_log("cannot publish the ACPI tables through fw_cfg: %s", strerror(-ret));
out:
	fw_loader_free(&ld);
	free(o.t);
	return ret;
}
