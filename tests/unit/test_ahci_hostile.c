/* What a hostile guest can do to the AHCI controller's command walker (src/devices/ahci.h),
 * driven as test_ahci.c does (ahcirig.h, ahcidrv.h), with no KVM: command lists, tables and
 * PRDs outside guest RAM or past what they hold, each ending in an error on its port while
 * the other ports work on. */
#include "ahcirig.h"

/* What a hostile guest can do to the command walker: each ends in an error with the right
 * bits on its port, and the other ports (and this one, after recovery) work on. */
static void test_hostile(void)
{
	struct prd_ent pr = { DATA, 4096, false };
	uint8_t f[20];
	uint32_t is;

	/* a command list outside RAM: host bus fatal error */
	pwr(0, PX_CMD, PX_CMD_FRE);
	pwr(0, PX_CLB, 0xfffff000);
	pwr(0, PX_CLBU, 0x7);
	pwr(0, PX_CMD, PX_CMD_FRE | PX_CMD_ST);
	pwr(0, PX_CI, 1);
	is = wait_done(0, 1);
	CHECK_EQ(is & PX_IS_HBFS, PX_IS_HBFS);
	CHECK_EQ(prd(0, PX_TFD) & ATA_ERR, ATA_ERR);
	/* meanwhile the other disk works */
	h2d(f, 0x25, 0, 8, 0);
	CHECK_EQ(issue(2, f, NULL, &pr, 1, false) & PX_IS_FATAL, 0);
	port_start(0);
	/* a command table outside RAM */
	h2d(f, 0x25, 0, 8, 0);
	build(0, 0, f, NULL, &pr, 1, false);
	{
		uint64_t ct = MEM + 0x1000ULL;

		memcpy(g(CLB(0) + 8), &ct, 8);
	}
	pwr(0, PX_CI, 1);
	CHECK_EQ(wait_done(0, 1) & PX_IS_HBFS, PX_IS_HBFS);
	port_recover(0);
	/* a PRD outside RAM, one that wraps: host bus data error */
	{
		struct prd_ent out[2] = { { DATA, 2048, false }, { MEM - 1024, 2048, false } };

		CHECK_EQ(issue(0, f, NULL, out, 2, false) & PX_IS_HBDS, PX_IS_HBDS);
		port_recover(0);
		out[1].gpa = 0xfffffffffffff000ULL;
		CHECK_EQ(issue(0, f, NULL, out, 2, false) & PX_IS_HBDS, PX_IS_HBDS);
		port_recover(0);
	}
	/* PRDs holding less than the read moves: overflow */
	{
		struct prd_ent small = { DATA, 1024, false };

		CHECK_EQ(issue(0, f, NULL, &small, 1, false) & PX_IS_OFS, PX_IS_OFS);
		port_recover(0);
		h2d(f, 0x35, 0, 8, 0); /* a write that short: aborted */
		CHECK_EQ(issue(0, f, NULL, &small, 1, true) & PX_IS_TFES, PX_IS_TFES);
		port_recover(0);
	}
	/* the most PRDs a header can name, each the largest (4 MiB) over the same buffer:
	 * bounded work, a clean result (the read is past the disk's end) */
	{
		uint8_t *h, *t;
		uint32_t dw0 = 5 | 0xffffu << 16, dw3 = 0x3fffff;
		uint64_t ct = 0x400000ULL, buf = 0x800000ULL;

		h2d(f, 0x25, 0, 0, 0); /* 65536 sectors */
		h = g(CLB(0));
		t = g(ct);
		memset(h, 0, 32);
		memcpy(h, &dw0, 4);
		memcpy(h + 8, &ct, 8);
		memcpy(t, f, 20);
		for (unsigned i = 0; i < 0xffff; i++) {
			memcpy(t + 0x80 + i * 16, &buf, 8);
			memcpy(t + 0x80 + i * 16 + 12, &dw3, 4);
		}
		pwr(0, PX_IS, ~0u);
		pwr(0, PX_CI, 1);
		CHECK_EQ(wait_done(0, 1) & PX_IS_TFES, PX_IS_TFES);
		CHECK_EQ(prd(0, PX_TFD) >> 8, ATA_E_IDNF);
		port_recover(0);
	}
	/* FIS garbage: another FIS type, no C bit, a command FIS length of 0 */
	h2d(f, 0x25, 0, 8, 0);
	f[0] = 0x39;
	CHECK_EQ(issue(0, f, NULL, &pr, 1, false) & PX_IS_TFES, PX_IS_TFES);
	CHECK_EQ(prd(0, PX_TFD), ATA_E_ABRT << 8 | ATA_DRDY | ATA_ERR);
	port_recover(0);
	h2d(f, 0x25, 0, 8, 0);
	f[1] = 0;
	CHECK_EQ(issue(0, f, NULL, &pr, 1, false) & PX_IS_TFES, PX_IS_TFES);
	port_recover(0);
	h2d(f, 0x25, 0, 8, 0);
	build(0, 0, f, NULL, &pr, 1, false);
	g(CLB(0))[0] &= ~0x1f;
	pwr(0, PX_IS, ~0u);
	pwr(0, PX_CI, 1);
	CHECK_EQ(wait_done(0, 1) & PX_IS_TFES, PX_IS_TFES);
	port_recover(0);
	/* bad command codes */
	for (unsigned c = 0; c < 256; c += 17) {
		h2d(f, c, 0, 1, 0);
		if (c == 0xec || c == 0x2f)
			continue;
		issue(0, f, NULL, &pr, 1, false);
		if (prd(0, PX_IS) & PX_IS_FATAL)
			port_recover(0);
	}
	h2d(f, 0xff, 0, 1, 0);
	CHECK_EQ(issue(0, f, NULL, &pr, 1, false) & PX_IS_TFES, PX_IS_TFES);
	port_recover(0);
	/* an LBA past the disk */
	h2d(f, 0x25, DISK_BYTES / 512 - 4, 8, 0);
	CHECK_EQ(issue(0, f, NULL, &pr, 1, false) & PX_IS_TFES, PX_IS_TFES);
	CHECK_EQ(prd(0, PX_TFD) >> 8, ATA_E_IDNF);
	port_recover(0);
	h2d(f, 0x25, 0xffffffffffffULL, 0xffff, 0);
	CHECK_EQ(issue(0, f, NULL, &pr, 1, false) & PX_IS_TFES, PX_IS_TFES);
	port_recover(0);
	/* CI on an implemented port with no device: an error there, nothing else */
	port_start(4);
	h2d(f, 0x25, 0, 8, 0);
	CHECK_EQ(issue(4, f, NULL, &pr, 1, false) & PX_IS_TFES, PX_IS_TFES);
	/* NCQ without its SACT bit: a plain command, refused */
	h2d(f, 0x60, 0, 0, 8);
	CHECK_EQ(issue(0, f, NULL, &pr, 1, false) & PX_IS_TFES, PX_IS_TFES);
	port_recover(0);
	/* ST cleared with commands pending: CI and SACT go, the port starts clean */
	ahci_quiesce(a);
	h2d(f, 0x25, 0, 8, 0);
	build(0, 0, f, NULL, &pr, 1, false);
	pwr(0, PX_CI, 1);
	pwr(0, PX_CMD, PX_CMD_FRE);
	CHECK_EQ(prd(0, PX_CI), 0);
	ahci_resume(a);
	pwr(0, PX_CMD, PX_CMD_FRE | PX_CMD_ST);
	/* and after all that, both disks read correctly */
	h2d(f, 0x25, 100, 8, 0);
	CHECK_EQ(issue(0, f, NULL, &pr, 1, false) & PX_IS_FATAL, 0);
	CHECK(file_equals(p0, 100 * 512, g(DATA), 4096));
	CHECK_EQ(issue(2, f, NULL, &pr, 1, false) & PX_IS_FATAL, 0);
	CHECK(file_equals(p2, 100 * 512, g(DATA), 4096));
}

int main(void)
{
	up();
	RUN(test_hostile);
	down();
	return check_done();
}
