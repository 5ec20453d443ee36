/* vahci: the AHCI controller (ICH9 at 00:1f.2) driven as firmware and drivers do, polling:
 * PCI config space (8086:2922, class 01 06 01, function 0 of slot 0x1f multi-function), BAR 5,
 * an HBA reset, the port signatures (a disk on port 0, an ATAPI drive on port 1), IDENTIFY
 * (prints "vahci: disk MODEL SECTORS"), a pattern written over the first 1 MiB with WRITE
 * DMA EXT (sector s holds bytes (s * 7 + i) & 0xff), FLUSH CACHE EXT, read back with eight
 * NCQ commands in flight at once and compared, a read past the end refused (TFES, IDNF), a
 * PRD outside RAM refused (HBDS) with the port working after the driver's recovery, and on
 * the ATAPI drive TEST UNIT READY (a first UNIT ATTENTION and its sense through REQUEST
 * SENSE), READ(10) of the primary volume descriptor ("CD001"; prints "vahci: volume ID").
 * Ends with "vahci: ok" (tests/t-ahci.sh checks the image on the host). */
#include "rt/rt.h"

#define DEVFN (0x1f << 3 | 2)
#define SECTORS 2048u /* the pattern: 1 MiB */

static uint8_t clb[2][1024] __attribute__((aligned(1024)));
static uint8_t fis[2][256] __attribute__((aligned(256)));
static uint8_t ctab[32][256] __attribute__((aligned(128)));
static uint8_t buf[8][65536] __attribute__((aligned(4096)));
static volatile uint32_t *abar;

static uint32_t cfg(unsigned off)
{
	rt_outl(0xcf8, 0x80000000u | DEVFN << 8 | (off & 0xfc));
	return rt_inl(0xcfc);
}

static void cfg_w(unsigned off, uint32_t v)
{
	rt_outl(0xcf8, 0x80000000u | DEVFN << 8 | (off & 0xfc));
	rt_outl(0xcfc, v);
}

static uint32_t pr(unsigned p, unsigned r) { return abar[(0x100 + p * 0x80 + r) / 4]; }
static void pw(unsigned p, unsigned r, uint32_t v) { abar[(0x100 + p * 0x80 + r) / 4] = v; }

static void port_start(unsigned p)
{
	pw(p, 0x18, 0);
	pw(p, 0x00, (uint32_t)(uint64_t)clb[p]);
	pw(p, 0x04, (uint32_t)((uint64_t)clb[p] >> 32));
	pw(p, 0x08, (uint32_t)(uint64_t)fis[p]);
	pw(p, 0x0c, (uint32_t)((uint64_t)fis[p] >> 32));
	pw(p, 0x10, ~0u);
	pw(p, 0x18, 0x11); /* FRE, ST */
}

static void recover(unsigned p)
{
	pw(p, 0x18, 0x10);
	for (int i = 0; i < 1000000 && (pr(p, 0x18) & 0x8000); i++)
		rt_pause();
	pw(p, 0x10, ~0u);
	pw(p, 0x18, 0x11);
}

/* Slot s of port p: an H2D FIS for cmd and one PRD of len bytes at data. */
static void build(unsigned p, unsigned s, uint8_t cmd, uint64_t lba, uint16_t count,
		  uint16_t feat, void *data, uint32_t len, int write, const uint8_t *cdb)
{
	uint8_t *h = clb[p] + s * 32, *t = ctab[s];
	uint64_t ct = (uint64_t)t, d = (uint64_t)data;
	uint32_t dw0 = 5 | (cdb ? 0x20 : 0) | (write ? 0x40 : 0) | (len ? 1u << 16 : 0);
	uint32_t dw3 = len - 1;

	memset(h, 0, 32);
	memcpy(h, &dw0, 4);
	memcpy(h + 8, &ct, 8);
	memset(t, 0, 256);
	t[0] = 0x27, t[1] = 0x80, t[2] = cmd, t[3] = feat & 0xff, t[11] = feat >> 8;
	t[4] = lba, t[5] = lba >> 8, t[6] = lba >> 16, t[7] = 0x40;
	t[8] = lba >> 24, t[9] = lba >> 32, t[10] = lba >> 40;
	t[12] = count, t[13] = count >> 8;
	if (cdb)
		memcpy(t + 0x40, cdb, 12);
	memcpy(t + 0x80, &d, 8);
	memcpy(t + 0x8c, &dw3, 4);
}

/* Issue the slots in bits (NCQ: through SACT too) and poll: PxIS. */
static uint32_t run(unsigned p, uint32_t bits, int ncq)
{
	pw(p, 0x10, ~0u);
	if (ncq)
		pw(p, 0x34, bits);
	pw(p, 0x38, bits);
	for (uint64_t i = 0; i < 200000000ull; i++) {
		uint32_t is = pr(p, 0x10);

		if (!((pr(p, 0x38) | pr(p, 0x34)) & bits) || (is & 0x7d000000u))
			return is;
		rt_pause();
	}
	rt_fail("vahci: port %u: the command never ended", p);
}

static uint8_t pattern(uint32_t s, uint32_t i) { return (uint8_t)(s * 7 + i); }

static void disk(void)
{
	uint16_t *id = (uint16_t *)buf[0];
	char model[41];
	uint64_t n = 0;

	RT_CHECK(pr(0, 0x24) == 0x00000101);
	build(0, 0, 0xec, 0, 0, 0, buf[0], 512, 0, NULL);
	RT_CHECK(!(run(0, 1, 0) & 0x7d000000u));
	for (int i = 0; i < 20; i++)
		model[2 * i] = id[27 + i] >> 8, model[2 * i + 1] = id[27 + i] & 0xff;
	model[40] = 0;
	for (int i = 39; i >= 0 && model[i] == ' '; i--)
		model[i] = 0;
	for (int i = 0; i < 4; i++)
		n |= (uint64_t)id[100 + i] << (16 * i);
	rt_printf("vahci: disk %s %lu sectors ncq=%u\n", model, (unsigned long)n, id[75] + 1);
	RT_CHECK(n >= SECTORS && (id[76] & 0x100));
	/* the pattern, 128 sectors per WRITE DMA EXT */
	for (uint32_t s = 0; s < SECTORS; s += 128) {
		for (uint32_t i = 0; i < 65536; i++)
			buf[0][i] = pattern(s + i / 512, i);
		build(0, 0, 0x35, s, 128, 0, buf[0], 65536, 1, NULL);
		RT_CHECK(!(run(0, 1, 0) & 0x7d000000u));
	}
	build(0, 0, 0xea, 0, 0, 0, buf[0], 0, 0, NULL);
	RT_CHECK(!(run(0, 1, 0) & 0x7d000000u));
	/* read back: eight queued reads at a time */
	for (uint32_t s = 0; s < SECTORS; s += 8 * 128) {
		for (unsigned t = 0; t < 8; t++) {
			memset(buf[t], 0, 65536);
			build(0, t, 0x60, s + t * 128, t << 3, 128, buf[t], 65536, 0, NULL);
		}
		RT_CHECK((run(0, 0xff, 1) & 0x7d000008u) == 0x8); /* SDB FIS, no error */
		for (unsigned t = 0; t < 8; t++)
			for (uint32_t i = 0; i < 65536; i++)
				if (buf[t][i] != pattern(s + t * 128 + i / 512, i))
					rt_fail("vahci: sector %u byte %u differs", s + t * 128 + i / 512,
						i % 512);
	}
	rt_printf("vahci: wrote, flushed and verified %u KiB (NCQ)\n", SECTORS / 2);
	/* errors: past the end, a PRD outside RAM */
	build(0, 0, 0x25, n - 1, 8, 0, buf[0], 4096, 0, NULL);
	RT_CHECK((run(0, 1, 0) & 0x40000000u) && (pr(0, 0x20) >> 8) == 0x10);
	recover(0);
	build(0, 0, 0x25, 0, 8, 0, (void *)0x7ffffffff000ull, 4096, 0, NULL);
	RT_CHECK(run(0, 1, 0) & 0x10000000u);
	recover(0);
	build(0, 0, 0x25, 0, 1, 0, buf[0], 512, 0, NULL);
	RT_CHECK(!(run(0, 1, 0) & 0x7d000000u) && buf[0][511] == pattern(0, 511));
}

static void atapi(void)
{
	uint8_t tur[12] = { 0 }, rs[12] = { 3, 0, 0, 0, 18 };
	uint8_t rd[12] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 1 };
	char vol[33];

	RT_CHECK(pr(1, 0x24) == 0xeb140101u);
	build(1, 0, 0xa0, 0, 0, 1, buf[0], 0, 0, tur);
	if (run(1, 1, 0) & 0x40000000u) { /* the unit attention after the reset */
		recover(1);
		build(1, 0, 0xa0, 0, 0, 1, buf[0], 18, 0, rs);
		RT_CHECK(!(run(1, 1, 0) & 0x7d000000u) && (buf[0][2] & 0xf) == 6);
	}
	build(1, 0, 0xa0, 0, 0, 1, buf[0], 2048, 0, rd);
	RT_CHECK(!(run(1, 1, 0) & 0x7d000000u));
	RT_CHECK(!memcmp(buf[0] + 1, "CD001", 5));
	memcpy(vol, buf[0] + 40, 32);
	vol[32] = 0;
	for (int i = 31; i >= 0 && vol[i] == ' '; i--)
		vol[i] = 0;
	rt_printf("vahci: volume ID %s\n", vol);
}

int main(void)
{
	uint32_t id = cfg(0);

	if (id != 0x29228086)
		rt_fail("vahci: no ICH9 AHCI at 00:1f.2 (%08x)", id);
	RT_CHECK(cfg(8) >> 8 == 0x010601);
	rt_outl(0xcf8, 0x80000000u | (0x1f << 11) | 0x0c);
	RT_CHECK(rt_inl(0xcfc) & 0x800000); /* 00:1f.0 says multi-function */
	cfg_w(4, cfg(4) | 0x6);
	abar = (volatile uint32_t *)(uint64_t)(cfg(0x24) & ~0xfu);
	abar[1] = 1; /* GHC.HR */
	for (int i = 0; i < 1000000 && (abar[1] & 1); i++)
		rt_pause();
	RT_CHECK(abar[1] & 0x80000000u);
	RT_CHECK((abar[0] & 0x40000000u) && abar[3] == 0x3f && abar[4] == 0x10300);
	port_start(0);
	port_start(1);
	disk();
	atapi();
	rt_printf("vahci: ok\n");
	return 0;
}
