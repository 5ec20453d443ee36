/* fwboot: what the firmware told a guest it booted (guests/fwboot/boot.S loads this from a
 * disk or a CD through int 13h and enters the runtime with the BIOS's e820 map).
 * Parameters, written into the image's parameter block by the tests:
 *   mem=SIZE     the VM's memory: usable e820 RAM must be within 2 MiB below it
 *   cpus=N       the ACPI MADT's enabled processors and the threads of the SMBIOS type 4
 *                structures (one per socket)
 *   uuid=UUID    the SMBIOS type 1 UUID (SMBIOS 2.6+ byte order)
 *   sector=512|2048  the boot drive's sector size (2048: booted from a CD)
 *   ticks=N      then print `fwboot: tick K` N times, 20 ms apart (a guest to save and
 *                restore mid-run: tests/t-savestate-firmware.sh), reading before each what
 *                the firmware layout holds (the q35 PAM and SMRAM registers, the LPC
 *                bridge's PMBASE, ACPI_CNTL and PIRQ routing, fw_cfg's signature and CPU
 *                count, CMOS 0x5f, a checksum of 0xC0000-0xFFFFF where SeaBIOS lives, the
 *                MTRRs SeaBIOS set): all must stay as they were at tick 0 (check fwstate)
 * Prints `PASS fwboot-NAME` / `FAIL fwboot-NAME: why` per check, then the runtime's result. */
#include "rt/rt.h"

extern uint16_t fwb_sector_bytes;
extern uint8_t fwb_boot_drive;

static int failures;

static void check(int ok, const char *name, const char *why)
{
	if (ok) {
		rt_printf("PASS fwboot-%s\n", name);
	} else {
		rt_printf("FAIL fwboot-%s: %s\n", name, why);
		failures++;
	}
}

static uint8_t sum8(const uint8_t *p, uint32_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

/* ---- e820 ---- */
static void check_e820(uint64_t mem)
{
	uint64_t usable = 0, low_end = 0;
	int hole_ok = 1;
	for (int i = 0; i < rt_boot.nmem; i++) {
		const struct rt_mem_range *m = &rt_boot.mem[i];
		rt_printf("fwboot: e820 %016lx-%016lx type %u\n", m->base, m->base + m->len - 1, m->type);
		if (m->type != 1)
			continue;
		usable += m->len;
		if (m->base < 0x100000 && m->base + m->len > 0xa0000)
			hole_ok = 0;
		if (m->base <= 0x100000 && m->base + m->len > 0x100000)
			low_end = m->base + m->len;
	}
	char why[160];
	rt_snprintf(why, sizeof(why), "usable RAM %lu bytes, the VM has %lu", usable, mem);
	check(usable <= mem && usable + (2ull << 20) >= mem, "e820-size", why);
	check(hole_ok, "e820-hole", "usable RAM over 0xA0000-0xFFFFF");
	check(low_end > 0x100000, "e820-1m", "no usable RAM at 1 MiB");
}

/* ---- ACPI: the RSDP in the EBDA or 0xE0000-0xFFFFF, then the MADT ---- */
static const uint8_t *find_rsdp(void)
{
	uint64_t ebda = (uint64_t)*(const uint16_t *)0x40e << 4;
	uint64_t ranges[2][2] = { { ebda, ebda + 1024 }, { 0xe0000, 0x100000 } };
	for (int r = 0; r < 2; r++)
		for (uint64_t a = ranges[r][0]; a && a + 20 <= ranges[r][1]; a += 16)
			if (!memcmp((const void *)a, "RSD PTR ", 8) && !sum8((const void *)a, 20))
				return (const uint8_t *)a;
	return NULL;
}

static int madt_cpus(void)
{
	const uint8_t *rsdp = find_rsdp();
	if (!rsdp)
		return -1;
	const uint8_t *sdt;
	int entry;
	if (rsdp[15] >= 2 && *(const uint64_t *)(rsdp + 24)) {
		sdt = (const uint8_t *)*(const uint64_t *)(rsdp + 24);
		entry = 8;
	} else {
		sdt = (const uint8_t *)(uint64_t)*(const uint32_t *)(rsdp + 16);
		entry = 4;
	}
	uint32_t len = *(const uint32_t *)(sdt + 4);
	if (len < 36 || sum8(sdt, len))
		return -2;
	for (uint32_t off = 36; off + entry <= len; off += entry) {
		uint64_t a = entry == 8 ? *(const uint64_t *)(sdt + off) : *(const uint32_t *)(sdt + off);
		const uint8_t *t = (const uint8_t *)a;
		if (a >= 0x100000000ull || memcmp(t, "APIC", 4))
			continue;
		uint32_t tl = *(const uint32_t *)(t + 4);
		if (sum8(t, tl))
			return -3;
		int n = 0;
		for (uint32_t p = 44; p + 2 <= tl && t[p + 1] >= 2; p += t[p + 1]) {
			if (t[p] == 0 && (t[p + 4] & 1))
				n++;
			if (t[p] == 9 && (t[p + 8] & 1))
				n++;
		}
		return n;
	}
	return -4;
}

/* ---- SMBIOS: the entry point in 0xF0000-0xFFFFF, then the structures ---- */
struct smbios_info {
	int found, cpus, have_uuid;
	uint8_t uuid[16];
	int major, minor;
};

static void smbios_scan(struct smbios_info *si)
{
	uint64_t table = 0, tlen = 0;
	for (uint64_t a = 0xf0000; a < 0x100000; a += 16) {
		const uint8_t *p = (const uint8_t *)a;
		if (!memcmp(p, "_SM3_", 5) && p[6] <= 32 && !sum8(p, p[6])) {
			si->major = p[7];
			si->minor = p[8];
			tlen = *(const uint32_t *)(p + 12);
			table = *(const uint64_t *)(p + 16);
			break;
		}
		if (!memcmp(p, "_SM_", 4) && p[5] <= 32 && !sum8(p, p[5])) {
			si->major = p[6];
			si->minor = p[7];
			tlen = *(const uint16_t *)(p + 22);
			table = *(const uint32_t *)(p + 24);
			break;
		}
	}
	if (!table || table + tlen > 0x100000000ull)
		return;
	si->found = 1;
	const uint8_t *p = (const uint8_t *)table, *end = p + tlen;
	while (p + 4 <= end && p[1] >= 4) {
		if (p[0] == 127)
			break;
		if (p[0] == 4) /* one per socket: its thread count (SMBIOS 2.5+), else 1 */
			si->cpus += p[1] > 0x25 && p[0x25] ? p[0x25] : 1;
		if (p[0] == 1 && p[1] >= 0x18) {
			memcpy(si->uuid, p + 8, 16);
			si->have_uuid = 1;
		}
		const uint8_t *s = p + p[1]; /* the string set ends with two NULs */
		while (s + 1 < end && (s[0] || s[1]))
			s++;
		p = s + 2;
	}
}

static void uuid_format(const uint8_t *u, int le, char *out)
{
	static const int order_le[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	char *o = out;
	for (int i = 0; i < 16; i++) {
		o += rt_snprintf(o, 3, "%02x", u[le ? order_le[i] : i]);
		if (i == 3 || i == 5 || i == 7 || i == 9)
			*o++ = '-';
	}
	*o = 0;
}

static int same_uuid(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a >= 'A' && *a <= 'F' ? *a + 32 : *a, y = *b >= 'A' && *b <= 'F' ? *b + 32 : *b;
		if (x != y)
			return 0;
	}
	return !*a && !*b;
}

/* The checks, in ring 3 (ring-0 code is emulated instruction by instruction on PVM hosts). */
static long checks(long arg)
{
	(void)arg;
	char why[160], want_uuid[64] = "", got[40];
	uint64_t mem = rt_param_u64("mem", 0), cpus = rt_param_u64("cpus", 0);
	uint64_t sector = rt_param_u64("sector", 0);
	rt_param("uuid", want_uuid, sizeof(want_uuid));
	rt_printf("fwboot: booted from drive 0x%x (%u-byte sectors), parameters: %s\n",
		  fwb_boot_drive, fwb_sector_bytes, rt_boot.cmdline);
	if (!mem || !cpus || !want_uuid[0] || !sector) {
		rt_printf("FAIL fwboot-params: mem= cpus= uuid= sector= missing (the test writes them)\n");
		return 1;
	}

	rt_snprintf(why, sizeof(why), "drive has %u-byte sectors, expected %lu", fwb_sector_bytes, sector);
	check(fwb_sector_bytes == sector, "medium", why);

	check_e820(mem);

	int n = madt_cpus();
	rt_snprintf(why, sizeof(why), "MADT: %d enabled processors (negative: no valid table), expected %lu", n, cpus);
	check(n == (int)cpus, "cpus-madt", why);

	struct smbios_info si = { 0 };
	smbios_scan(&si);
	check(si.found, "smbios", "no SMBIOS entry point in 0xF0000-0xFFFFF");
	rt_snprintf(why, sizeof(why), "SMBIOS type 4 threads: %d, expected %lu", si.cpus, cpus);
	check(si.cpus == (int)cpus, "cpus-smbios", why);
	got[0] = 0;
	if (si.have_uuid)
		uuid_format(si.uuid, si.major > 2 || (si.major == 2 && si.minor >= 6), got);
	rt_printf("fwboot: SMBIOS %d.%d, type 1 UUID %s\n", si.major, si.minor, got[0] ? got : "(none)");
	rt_snprintf(why, sizeof(why), "type 1 UUID %s, expected %s", got[0] ? got : "(none)", want_uuid);
	check(si.have_uuid && same_uuid(got, want_uuid), "uuid", why);

	return failures;
}

/* ---- ticks=N: the firmware layout's state across a save and restore ---- */
struct fwstate {
	uint64_t mtrr_def, mtrr_fix, mtrr_var[2];
	uint32_t pam[2], smram, pmbase, cntl, pirq[2], cmos, ncpus, shadow;
	uint8_t sig[4];
};

static uint32_t pci_read(unsigned dev, unsigned off)
{
	rt_outl(0xcf8, 0x80000000u | dev << 11 | off);
	return rt_inl(0xcfc);
}

static void fw_snapshot(struct fwstate *s)
{
	const volatile uint32_t *w = (const volatile uint32_t *)0xc0000;

	memset(s, 0, sizeof(*s));
	s->mtrr_def = rt_rdmsr(0x2ff);  /* the MTRRs the firmware set: MTRRdefType, */
	s->mtrr_fix = rt_rdmsr(0x250);  /* MTRRfix64K_00000, the first variable range */
	s->mtrr_var[0] = rt_rdmsr(0x200);
	s->mtrr_var[1] = rt_rdmsr(0x201);
	s->pam[0] = pci_read(0, 0x90);
	s->pam[1] = pci_read(0, 0x94);
	s->smram = pci_read(0, 0x9c);
	s->pmbase = pci_read(31, 0x40);
	s->cntl = pci_read(31, 0x44);
	s->pirq[0] = pci_read(31, 0x60);
	s->pirq[1] = pci_read(31, 0x68);
	rt_outw(0x510, 0);              /* fw_cfg: the signature */
	for (int i = 0; i < 4; i++)
		s->sig[i] = rt_inb(0x511);
	rt_outw(0x510, 5);              /* NB_CPUS */
	s->ncpus = rt_inb(0x511);
	s->ncpus |= (uint32_t)rt_inb(0x511) << 8;
	rt_outb(0x70, 0x5f);
	s->cmos = rt_inb(0x71);
	s->shadow = 0;
	for (unsigned i = 0; i < 0x40000 / 4; i++)
		s->shadow = (s->shadow << 5 | s->shadow >> 27) ^ w[i];
}

static void tick_loop(uint64_t n)
{
	struct fwstate first, now;
	uint64_t hz = rt_tsc_calibrate(), k;
	char why[200];
	int same = 1;

	fw_snapshot(&first);
	rt_printf("fwboot: layout PAM %08x %08x PMBASE %x fw_cfg %c%c%c%c cpus %u shadow %08x "
		  "MTRRdefType %lx\n", first.pam[0], first.pam[1], first.pmbase, first.sig[0],
		  first.sig[1], first.sig[2], first.sig[3], first.ncpus, first.shadow,
		  first.mtrr_def);
	for (k = 0; k < n && same; k++) {
		uint64_t t = rt_rdtsc();

		while (rt_rdtsc() - t < hz / 50)
			rt_pause();
		fw_snapshot(&now);
		same = !memcmp(&first, &now, sizeof(now));
		rt_printf("fwboot: tick %lu\n", k);
	}
	rt_snprintf(why, sizeof(why), "at tick %lu: PAM %08x %08x PMBASE %x fw_cfg %c%c%c%c cpus "
		    "%u shadow %08x MTRRdefType %lx", k - 1, now.pam[0], now.pam[1], now.pmbase,
		    now.sig[0], now.sig[1], now.sig[2], now.sig[3], now.ncpus, now.shadow,
		    now.mtrr_def);
	check(same && first.sig[0] == 'Q' && first.pmbase > 1, "fwstate", why);
}

int main(void)
{
	long failed = 0;
	uint64_t ticks = rt_param_u64("ticks", 0);

	if (rt_user_call(checks, 0, &failed))
		rt_fail("rt_user_call failed");
	if (!failed && ticks)
		tick_loop(ticks);
	if (failures)
		rt_fail("%d check(s) failed", failures);
	return 0;
}
