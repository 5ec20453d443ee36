/* The AHCI controller (src/devices/ahci.h) driven as a driver does, with no KVM: PCI config
 * space through mechanism #1, ABAR through the MMIO bus, command lists, command tables, PRD
 * tables and received-FIS areas in a test's guest memory; the controller's own I/O thread
 * runs the commands on disks opened by the block layer (raw images, a differencing VHD over
 * a dynamic one) and an ISO made by xorriso. Reset and signatures, IDENTIFY, DMA reads and
 * writes compared with the image file, NCQ with several commands in flight, flush, TRIM,
 * ATAPI with its sense after a failure, MSI and save/restore (hostile command lists:
 * test_ahci_hostile.c; the rig: ahcirig.h). */
#include "ahcirig.h"

static void test_pci_and_reset(void)
{
	unsigned msi;

	CHECK_EQ(cfg(DEVFN, 0x00, 4), 0x29228086);
	CHECK_EQ(cfg(DEVFN, 0x08, 4) >> 8, 0x010601);
	CHECK_EQ(cfg(AHCI_SLOT << 3, 0x0e, 1) & 0x80, 0x80); /* function 0: multi-function */
	CHECK_EQ(cfg(AHCI_SLOT << 3 | 1, 0x00, 4), 0xffffffff); /* nothing at 1f.1 */
	{
		/* ECAM reaches function 2 too; the slot:function is taken */
		uint32_t v = 0;
		struct pci_dev other;

		bus_dispatch(&mmio, 0xe0000000ULL + (DEVFN << 12), (uint8_t *)&v, 4, false);
		CHECK_EQ(v, 0x29228086);
		pci_dev_init(&other, "other", 0x1af4, 0x1000, 0x020000, 0, 0, 0);
		CHECK_EQ(pci_host_add_at(host, &other, AHCI_SLOT, AHCI_FN), -EBUSY);
		CHECK_EQ(pci_host_add_at(host, &other, 32, 0), -EINVAL);
	}
	CHECK(abar && abar < 0x100000000ULL && !(abar & (AHCI_ABAR_SIZE - 1)));
	/* BAR 5 sizes as a 32-bit memory BAR */
	cfg_wr(DEVFN, 0x24, 4, 0xffffffff);
	CHECK_EQ(cfg(DEVFN, 0x24, 4), (uint32_t)~(AHCI_ABAR_SIZE - 1));
	cfg_wr(DEVFN, 0x24, 4, (uint32_t)abar);
	CHECK_EQ(cfg(DEVFN, 0x24, 4), abar);
	/* MSI in the capability list */
	msi = cfg(DEVFN, 0x34, 1);
	CHECK_EQ(cfg(DEVFN, msi, 1), 0x05);
	/* generic host control */
	CHECK(rd(AHCI_CAP) & (1u << 30));            /* NCQ */
	CHECK(rd(AHCI_CAP) & (1u << 31));            /* 64-bit */
	CHECK_EQ(rd(AHCI_CAP) & 0x1f, AHCI_PORTS - 1);
	CHECK_EQ((rd(AHCI_CAP) >> 8) & 0x1f, 31);
	CHECK_EQ(rd(AHCI_PI), 0x3f);
	CHECK_EQ(rd(AHCI_VS), 0x00010300);
	CHECK(rd(AHCI_GHC) & AHCI_GHC_AE);
	/* signatures and link state */
	CHECK_EQ(prd(0, PX_SIG), AHCI_SIG_DISK);
	CHECK_EQ(prd(1, PX_SIG), AHCI_SIG_ATAPI);
	CHECK_EQ(prd(2, PX_SIG), AHCI_SIG_DISK);
	CHECK_EQ(prd(0, PX_SSTS) & 0xf, 3);
	CHECK_EQ(prd(4, PX_SSTS) & 0xf, 0);          /* no device */
	CHECK_EQ(prd(4, PX_SIG), 0xffffffff);
	CHECK_EQ(prd(0, PX_TFD) & 0xff, ATA_DRDY | ATA_DSC);
	CHECK_EQ(prd(0, PX_CMD) & (PX_CMD_CR | PX_CMD_FR), PX_CMD_CR | PX_CMD_FR);
	/* the HBA reset: IE off, ports stopped, signatures again */
	wr(AHCI_GHC, AHCI_GHC_IE);
	CHECK_EQ(rd(AHCI_GHC), AHCI_GHC_AE | AHCI_GHC_IE);
	wr(AHCI_GHC, AHCI_GHC_HR);
	CHECK_EQ(rd(AHCI_GHC), AHCI_GHC_AE);
	CHECK_EQ(prd(0, PX_CMD) & (PX_CMD_ST | PX_CMD_CR | PX_CMD_FRE), 0);
	CHECK_EQ(prd(0, PX_CLB), 0);
	CHECK_EQ(prd(1, PX_SIG), AHCI_SIG_ATAPI);
	/* a COMRESET through SCTL.DET */
	pwr(0, PX_SCTL, 1);
	CHECK_EQ(prd(0, PX_SSTS) & 0xf, 0);
	pwr(0, PX_SCTL, 0);
	CHECK_EQ(prd(0, PX_SSTS) & 0xf, 3);
	CHECK_EQ(prd(0, PX_SIG), AHCI_SIG_DISK);
	/* ports past PI and odd accesses: zeros, nothing breaks */
	CHECK_EQ(rd(AHCI_PORT(7) + PX_SIG), 0);
	wr(AHCI_PORT(7) + PX_CI, 1);
	{
		uint8_t b[2] = { 0xff, 0xff };

		bus_dispatch(&mmio, abar + AHCI_CAP, b, 2, false);
		CHECK(!b[0] && !b[1]);
	}
	/* CI without ST is dropped */
	pwr(0, PX_CI, 1);
	CHECK_EQ(prd(0, PX_CI), 0);
	for (unsigned p = 0; p < 4; p++)
		port_start(p);
}

static uint16_t word(const uint8_t *id, unsigned w)
{
	return id[2 * w] | id[2 * w + 1] << 8;
}

static void ata_string(const uint8_t *id, unsigned w, unsigned words, char *out)
{
	for (unsigned i = 0; i < words; i++) {
		out[2 * i] = id[2 * (w + i) + 1];
		out[2 * i + 1] = id[2 * (w + i)];
	}
	out[2 * words] = 0;
}

static void test_identify(void)
{
	struct prd_ent pr = { DATA, 512, false };
	uint8_t f[20], *id = g(DATA), *rf = g(FB(0)), sum = 0;
	uint64_t n = 0;
	char s[48];

	h2d(f, 0xec, 0, 0, 0);
	memset(id, 0, 512);
	CHECK_EQ(issue(0, f, NULL, &pr, 1, false) & (PX_IS_PSS | PX_IS_FATAL), PX_IS_PSS);
	CHECK_EQ(prdbc(0, 0), 512);
	CHECK_EQ(rf[RFIS_PIO], FIS_PIO);
	CHECK_EQ(rf[RFIS_PIO + 15], ATA_DRDY | ATA_DSC); /* E_Status */
	ata_string(id, 27, 20, s);
	CHECK(!strncmp(s, "VSRV HARDDISK ", 14));
	ata_string(id, 10, 10, s);
	CHECK(!strncmp(s, "SER-ZERO  ", 10));
	for (int i = 0; i < 4; i++)
		n |= (uint64_t)word(id, 100 + i) << (16 * i);
	CHECK_EQ(n, DISK_BYTES / 512);                      /* LBA48 capacity */
	CHECK(word(id, 83) & (1 << 10));
	CHECK(word(id, 76) & (1 << 8));                     /* NCQ */
	CHECK_EQ(word(id, 75), 31);
	CHECK_EQ(word(id, 169) & 1, 1);                     /* TRIM: raw images discard */
	for (int i = 0; i < 512; i++)
		sum += id[i];
	CHECK_EQ(sum, 0);
	CHECK_EQ(id[510], 0xa5);
	/* the ATAPI drive: IDENTIFY PACKET DEVICE, and IDENTIFY DEVICE aborted with its
	 * signature */
	h2d(f, 0xa1, 0, 0, 0);
	CHECK_EQ(issue(1, f, NULL, &pr, 1, false) & PX_IS_FATAL, 0);
	CHECK_EQ(word(id, 0), 0x85c0);
	ata_string(id, 27, 20, s);
	CHECK(!strncmp(s, "VSRV DVD-ROM", 12));
	h2d(f, 0xec, 0, 0, 0);
	CHECK_EQ(issue(1, f, NULL, &pr, 1, false) & PX_IS_TFES, PX_IS_TFES);
	CHECK_EQ(prd(1, PX_TFD), ATA_E_ABRT << 8 | ATA_DRDY | ATA_ERR);
	CHECK_EQ(g(FB(1))[RFIS_D2H + 5], 0x14);
	CHECK_EQ(g(FB(1))[RFIS_D2H + 6], 0xeb);
	CHECK_EQ(prd(1, PX_CI), 1); /* the failed slot stays until the driver recovers */
	port_recover(1);
}

static void test_dma(void)
{
	/* three PRDs of uneven sizes: 1 KiB, 6 KiB, 1 KiB */
	struct prd_ent pr[3] = { { DATA, 1024, false }, { DATA + 0x10000, 6144, false },
				 { DATA + 0x20000, 1024, true } };
	uint8_t f[20], *rf = g(FB(0)), *buf = malloc(8192);
	uint32_t is;

	/* READ DMA EXT of 16 sectors at 100 */
	h2d(f, 0x25, 100, 16, 0);
	is = issue(0, f, NULL, pr, 3, false);
	CHECK_EQ(is & (PX_IS_DHRS | PX_IS_DPS | PX_IS_FATAL), PX_IS_DHRS | PX_IS_DPS);
	CHECK_EQ(prdbc(0, 0), 8192);
	CHECK_EQ(rf[RFIS_D2H], FIS_D2H);
	CHECK_EQ(rf[RFIS_D2H + 2], ATA_DRDY | ATA_DSC);
	CHECK(file_equals(p0, 100 * 512, g(DATA), 1024));
	CHECK(file_equals(p0, 100 * 512 + 1024, g(DATA + 0x10000), 6144));
	CHECK(file_equals(p0, 100 * 512 + 7168, g(DATA + 0x20000), 1024));
	/* WRITE DMA EXT of a new pattern, then the file has it */
	for (int i = 0; i < 8192; i++)
		buf[i] = (uint8_t)(i ^ 0x5a);
	memcpy(g(DATA), buf, 1024);
	memcpy(g(DATA + 0x10000), buf + 1024, 6144);
	memcpy(g(DATA + 0x20000), buf + 7168, 1024);
	h2d(f, 0x35, 2000, 16, 0);
	CHECK_EQ(issue(0, f, NULL, pr, 3, true) & PX_IS_FATAL, 0);
	CHECK_EQ(prdbc(0, 0), 8192);
	CHECK(file_equals(p0, 2000 * 512, buf, 8192));
	/* READ DMA (28-bit) reads it back */
	memset(g(DATA), 0, 0x30000);
	h2d(f, 0xc8, 2000, 16, 0);
	CHECK_EQ(issue(0, f, NULL, pr, 3, false) & PX_IS_FATAL, 0);
	CHECK(!memcmp(g(DATA), buf, 1024) && !memcmp(g(DATA + 0x20000), buf + 7168, 1024));
	/* the other disk is its own */
	h2d(f, 0x25, 2000, 2, 0);
	CHECK_EQ(issue(2, f, NULL, pr, 1, false) & PX_IS_FATAL, 0);
	CHECK(file_equals(p2, 2000 * 512, g(DATA), 1024));
	CHECK(memcmp(g(DATA), buf, 1024));
	CHECK_EQ(a->port[0].st.write_ops, 1);
	free(buf);
}

/* NCQ: eight queued commands (writes of their tag's pattern to their own LBAs) issued at
 * once, all in flight at the same time before the I/O thread takes any (quiesced), then
 * every one completed through set-device-bits FISes; they read back. */
static void test_ncq(void)
{
	uint8_t f[20];
	uint32_t sdb;

	ahci_quiesce(a);
	pwr(0, PX_IS, ~0u);
	for (unsigned s = 0; s < 8; s++) {
		struct prd_ent pr = { DATA + s * 0x2000, 4096, false };

		memset(g(DATA + s * 0x2000), 0xa0 + s, 4096);
		h2d(f, 0x61, 3000 + s * 8, 0, 8); /* count in FEATURES, tag in COUNT */
		f[12] = s << 3;
		build(0, s, f, NULL, &pr, 1, true);
	}
	pwr(0, PX_SACT, 0xff);
	pwr(0, PX_CI, 0xff);
	CHECK_EQ(prd(0, PX_SACT), 0xff);
	CHECK_EQ(prd(0, PX_CI), 0xff);
	ahci_resume(a);
	CHECK_EQ(wait_done(0, 0xff) & (PX_IS_SDBS | PX_IS_FATAL), PX_IS_SDBS);
	/* raw images: the queued commands went to io_uring (where the kernel has one) */
	if (a->uring_ok)
		CHECK_EQ(a->ring_cmds, 8);
	else
		printf("# no io_uring here: NCQ ran through the disk layer\n");
	CHECK_EQ(prd(0, PX_SACT), 0);
	CHECK_EQ(prd(0, PX_CI), 0);
	memcpy(&sdb, g(FB(0) + RFIS_SDB + 4), 4);
	CHECK(sdb && !(sdb & ~0xffu));
	CHECK_EQ(g(FB(0))[RFIS_SDB], FIS_SDB);
	for (unsigned s = 0; s < 8; s++) {
		uint8_t want[4096];

		memset(want, 0xa0 + s, sizeof(want));
		CHECK(file_equals(p0, (3000 + s * 8) * 512ULL, want, sizeof(want)));
	}
	/* queued reads of the same, several at once */
	memset(g(DATA), 0, 0x10000);
	for (unsigned s = 0; s < 4; s++) {
		struct prd_ent pr = { DATA + s * 0x2000, 4096, false };

		h2d(f, 0x60, 3000 + s * 8, 0, 8);
		f[12] = s << 3;
		build(0, s, f, NULL, &pr, 1, false);
	}
	pwr(0, PX_SACT, 0xf);
	pwr(0, PX_CI, 0xf);
	CHECK_EQ(wait_done(0, 0xf) & PX_IS_FATAL, 0);
	for (unsigned s = 0; s < 4; s++)
		CHECK(g(DATA + s * 0x2000)[4095] == 0xa0 + s);
	/* a queued command whose tag is not its slot fails; READ LOG EXT 10h names it */
	{
		struct prd_ent pr = { DATA, 4096, false }, lp = { DATA + 0x8000, 512, false };

		h2d(f, 0x60, 0, 0, 8);
		f[12] = 5 << 3;
		pwr(0, PX_IS, ~0u);
		build(0, 3, f, NULL, &pr, 1, false);
		pwr(0, PX_SACT, 1 << 3);
		pwr(0, PX_CI, 1 << 3);
		CHECK_EQ(wait_done(0, 1 << 3) & PX_IS_TFES, PX_IS_TFES);
		CHECK_EQ(prd(0, PX_SACT), 1 << 3);
		port_recover(0);
		h2d(f, 0x2f, 0x10, 1, 0);
		CHECK_EQ(issue(0, f, NULL, &lp, 1, false) & PX_IS_FATAL, 0);
		CHECK_EQ(g(DATA + 0x8000)[0], 3);
		CHECK_EQ(g(DATA + 0x8000)[2] & ATA_ERR, ATA_ERR);
	}
}

static void test_flush_trim(void)
{
	struct prd_ent pr = { DATA, 512, false };
	uint8_t f[20], zero[4096] = { 0 };
	uint64_t range;

	h2d(f, 0xea, 0, 0, 0);
	CHECK_EQ(issue(0, f, NULL, NULL, 0, false) & (PX_IS_DHRS | PX_IS_FATAL), PX_IS_DHRS);
	h2d(f, 0xe7, 0, 0, 0);
	CHECK_EQ(issue(0, f, NULL, NULL, 0, false) & PX_IS_FATAL, 0);
	CHECK(a->port[0].st.flush_ops >= 2);
	/* TRIM 8 sectors at 512: they read as zeros from the image afterwards */
	CHECK(!file_equals(p0, 512 * 512, zero, 4096));
	memset(g(DATA), 0, 512);
	range = 512 | 8ULL << 48;
	memcpy(g(DATA), &range, 8);
	h2d(f, 0x06, 0, 1, 1);
	CHECK_EQ(issue(0, f, NULL, &pr, 1, true) & PX_IS_FATAL, 0);
	CHECK(file_equals(p0, 512 * 512, zero, 4096));
	CHECK_EQ(a->port[0].st.discard_ops, 1);
	/* a range past the end is refused, nothing trimmed */
	range = (DISK_BYTES / 512 - 4) | 8ULL << 48;
	memcpy(g(DATA), &range, 8);
	CHECK_EQ(issue(0, f, NULL, &pr, 1, true) & PX_IS_TFES, PX_IS_TFES);
	CHECK_EQ(prd(0, PX_TFD) >> 8, ATA_E_IDNF);
	port_recover(0);
	/* SET FEATURES: write cache off and on, a transfer mode; an unknown one aborts */
	h2d(f, 0xef, 0, 0, 0x82);
	CHECK_EQ(issue(0, f, NULL, NULL, 0, false) & PX_IS_FATAL, 0);
	h2d(f, 0xef, 0, 0x45, 0x03); /* UDMA 5 */
	CHECK_EQ(issue(0, f, NULL, NULL, 0, false) & PX_IS_FATAL, 0);
	h2d(f, 0xef, 0, 0, 0x02);
	CHECK_EQ(issue(0, f, NULL, NULL, 0, false) & PX_IS_FATAL, 0);
	h2d(f, 0xef, 0, 0, 0x77);
	CHECK_EQ(issue(0, f, NULL, NULL, 0, false) & PX_IS_TFES, PX_IS_TFES);
	port_recover(0);
}

static uint32_t packet(unsigned p, const uint8_t *cdb, uint64_t buf, uint32_t len)
{
	struct prd_ent pr = { buf, len, false };
	uint8_t f[20], acmd[16] = { 0 };

	memcpy(acmd, cdb, 12);
	h2d(f, 0xa0, 0, 0, 1); /* DMA */
	f[5] = len, f[6] = len >> 8;
	return issue(p, f, acmd, &pr, len ? 1 : 0, false);
}

static void test_atapi(void)
{
	uint8_t tur[12] = { 0x00 }, rs[12] = { 0x03, 0, 0, 0, 18 };
	uint8_t rd10[12] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 1 };
	uint8_t inq[12] = { 0x12, 0, 0, 0, 36 }, *b = g(DATA);

	if (!have_iso) {
		printf("SKIP test_atapi: no ISO (xorriso: make test-deps)\n");
		return;
	}
	/* the first command after the reset: unit attention, its sense kept by the port */
	CHECK_EQ(packet(1, tur, 0, 0) & PX_IS_TFES, PX_IS_TFES);
	CHECK_EQ(prd(1, PX_TFD), (SK_UNIT_ATTENTION << 4) << 8 | ATA_DRDY | ATA_ERR);
	port_recover(1);
	memset(b, 0xee, 18);
	CHECK_EQ(packet(1, rs, DATA, 18) & PX_IS_FATAL, 0);
	CHECK_EQ(b[2] & 0xf, SK_UNIT_ATTENTION);
	CHECK_EQ(b[12], 0x29);
	/* INQUIRY from the shared code: a CD/DVD device */
	CHECK_EQ(packet(1, inq, DATA, 36) & PX_IS_FATAL, 0);
	CHECK_EQ(b[0] & 0x1f, 5);
	/* READ(10) of block 16: the ISO 9660 primary volume descriptor */
	CHECK_EQ(packet(1, rd10, DATA, 2048) & PX_IS_FATAL, 0);
	CHECK_EQ(prdbc(1, 0), 2048);
	CHECK(!memcmp(b + 1, "CD001", 5));
	CHECK(file_equals(iso, 16 * 2048, b, 2048));
	/* past the end: CHECK CONDITION, ILLEGAL REQUEST; REQUEST SENSE returns that sense
	 * once, then the drive's current state */
	rd10[2] = 0x7f;
	CHECK_EQ(packet(1, rd10, DATA, 2048) & PX_IS_TFES, PX_IS_TFES);
	CHECK_EQ(prd(1, PX_TFD) >> 8, SK_ILLEGAL_REQUEST << 4 | ATA_E_ABRT);
	port_recover(1);
	CHECK_EQ(packet(1, rs, DATA, 18) & PX_IS_FATAL, 0);
	CHECK_EQ(b[2] & 0xf, SK_ILLEGAL_REQUEST);
	CHECK_EQ(b[12], 0x21); /* LOGICAL BLOCK ADDRESS OUT OF RANGE */
	CHECK_EQ(packet(1, rs, DATA, 18) & PX_IS_FATAL, 0);
	CHECK_EQ(b[2] & 0xf, SK_NO_SENSE);
	/* an unknown opcode and a write to the disc: errors, the drive works on */
	{
		uint8_t bad[12] = { 0xff, 0xff, 0xff, 0xff }, w10[12] = { 0x2a, 0, 0, 0, 0, 0, 0,
									   0, 1 };

		CHECK_EQ(packet(1, bad, 0, 0) & PX_IS_TFES, PX_IS_TFES);
		port_recover(1);
		CHECK_EQ(packet(1, w10, DATA, 2048) & PX_IS_TFES, PX_IS_TFES);
		port_recover(1);
		CHECK_EQ(packet(1, rs, DATA, 18) & PX_IS_FATAL, 0);
		CHECK_EQ(b[2] & 0xf, SK_DATA_PROTECT);
	}
	rd10[2] = 0;
	CHECK_EQ(packet(1, rd10, DATA, 2048) & PX_IS_FATAL, 0);
	CHECK(!memcmp(b + 1, "CD001", 5));
}

static void test_msi(void)
{
	unsigned msi = cfg(DEVFN, 0x34, 1);
	struct prd_ent pr = { DATA, 4096, false };
	uint8_t f[20];
	uint64_t n = 0;
	struct pollfd pf = { a->irq_fd, POLLIN, 0 };

	while (read(a->irq_fd, &n, 8) == 8)
		;
	wr(AHCI_GHC, AHCI_GHC_IE);
	/* MSI off: no message */
	h2d(f, 0x25, 0, 8, 0);
	CHECK_EQ(issue(0, f, NULL, &pr, 1, false) & PX_IS_DHRS, PX_IS_DHRS);
	CHECK_EQ(poll(&pf, 1, 0), 0);
	CHECK(rd(AHCI_IS) & 1);
	wr(AHCI_IS, 1); /* PxIS still holds the cause: the bit stays */
	CHECK(rd(AHCI_IS) & 1);
	pwr(0, PX_IS, ~0u);
	wr(AHCI_IS, 1);
	CHECK_EQ(rd(AHCI_IS) & 1, 0);
	/* MSI on: one message per completion the driver wants */
	cfg_wr(DEVFN, msi + 4, 4, 0xfee00000);
	cfg_wr(DEVFN, msi + 12, 2, 0x4041);
	cfg_wr(DEVFN, msi + 2, 2, 1);
	CHECK_EQ(issue(0, f, NULL, &pr, 1, false) & PX_IS_DHRS, PX_IS_DHRS);
	CHECK_EQ(poll(&pf, 1, 1000), 1);
	CHECK(read(a->irq_fd, &n, 8) == 8 && n >= 1);
	CHECK(rd(AHCI_IS) & 1);
	/* masked in PxIE: none */
	pwr(0, PX_IE, 0);
	wr(AHCI_IS, ~0u);
	CHECK_EQ(issue(0, f, NULL, &pr, 1, false) & PX_IS_DHRS, PX_IS_DHRS);
	CHECK_EQ(poll(&pf, 1, 0), 0);
	CHECK_EQ(rd(AHCI_IS) & 1, 0);
	pwr(0, PX_IE, ~0u);
	cfg_wr(DEVFN, msi + 2, 2, 0);
	wr(AHCI_GHC, 0);
}

/* Save with a command pending (the controller quiesced), restore into a fresh controller
 * with the same drives: the same state, and the command runs there; corrupt states are
 * refused with nothing changed. */
static void test_state(void)
{
	static struct ahci_state st, st2, fresh, bad;
	struct prd_ent pr = { DATA, 4096, false };
	struct pci_host *h2;
	struct ahci *b;
	uint8_t f[20];

	ahci_quiesce(a);
	h2d(f, 0x25, 200, 8, 0);
	pwr(0, PX_IS, ~0u);
	build(0, 0, f, NULL, &pr, 1, false);
	memset(g(DATA), 0, 4096);
	pwr(0, PX_CI, 1);
	ahci_save(a, &st);
	CHECK_EQ(st.port[0].ci, 1);
	CHECK_EQ(st.nports, 4);
	CHECK_EQ(st.drive[1], AHCI_CD);
	/* a fresh controller on a PCI host of its own */
	{
		struct bus pio2, mmio2;

		bus_init(&pio2);
		bus_init(&mmio2);
		CHECK_EQ(pci_host_create(&pio2, &mmio2, 0xe0000000ULL, 0xe1000000ULL,
					 0xfe000000ULL, &h2), 0);
		CHECK_EQ(ahci_create(h2, mem, NULL, &b), 0);
		CHECK_EQ(ahci_attach(b, AHCI_DISK, d0, "SER-ZERO"), 0);
		CHECK_EQ(ahci_attach(b, AHCI_CD, cd, "SER-CD"), 0);
		CHECK_EQ(ahci_attach(b, AHCI_DISK, d2, "SER-TWO"), 0);
		CHECK_EQ(ahci_attach(b, AHCI_DISK, dv, "SER-VHD"), 0);
		ahci_save(b, &fresh);
		for (int how = 0; how < 9; how++) {
			bad = st;
			switch (how) {
			case 0: bad.nports = 2; break;
			case 1: bad.drive[1] = AHCI_DISK; break;
			case 2: bad.port[0].halted = 2; break;
			case 3: bad.port[0].clb |= 4; break;
			case 4: bad.port[0].cmd &= ~PX_CMD_ST; break; /* CI without ST */
			case 5: bad.ghc = 0; break;
			case 6: bad.cfg[0] ^= 1; break;              /* another vendor */
			case 7: bad.port[0].sense_valid = 1; break;  /* sense on a disk */
			case 8: bad.port[1].event = 9; break;
			}
			CHECK_EQ(ahci_restore(b, &bad), -EINVAL);
			ahci_save(b, &st2);
			CHECK(!memcmp(&st2, &fresh, sizeof(st2)));
		}
		CHECK_EQ(ahci_restore(b, &st), 0);
		ahci_save(b, &st2);
		CHECK(!memcmp(&st2, &st, sizeof(st2)));
		/* the pending command runs in the restored controller (its thread) */
		CHECK_EQ(ahci_start(b), 0);
		{
			uint32_t v = 0;
			int i;

			for (i = 0; i < 20000; i++) {
				ahci_mmio(b, AHCI_PORT(0) + PX_CI, (uint8_t *)&v, 4, false);
				if (!v)
					break;
				nanosleep(&(struct timespec){ 0, 500000 }, NULL);
			}
			CHECK_EQ(v, 0);
		}
		CHECK(file_equals(p0, 200 * 512, g(DATA), 4096));
		ahci_destroy(b);
		pci_host_destroy(h2);
		bus_destroy(&mmio2);
		bus_destroy(&pio2);
	}
	/* the original drops its pending command: stop and start the port */
	pwr(0, PX_CMD, PX_CMD_FRE);
	ahci_resume(a);
	port_start(0);
}

/* A differencing VHD (the disk layer's chains): reads see the parent's data, writes land
 * in the child and the parent keeps its own. */
static void test_vhd_chain(void)
{
	struct prd_ent pr = { DATA, 8192, false };
	uint8_t f[20], want[8192];
	struct disk *base;

	h2d(f, 0x25, 8, 16, 0);
	memset(g(DATA), 0, 8192);
	CHECK_EQ(issue(3, f, NULL, &pr, 1, false) & PX_IS_FATAL, 0);
	memset(want, 0x33, sizeof(want));
	CHECK(!memcmp(g(DATA), want, sizeof(want)));
	for (int i = 0; i < 8192; i++)
		g(DATA)[i] = (uint8_t)(i * 13);
	memcpy(want, g(DATA), sizeof(want));
	h2d(f, 0x35, 8, 16, 0);
	CHECK_EQ(issue(3, f, NULL, &pr, 1, true) & PX_IS_FATAL, 0);
	memset(g(DATA), 0, 8192);
	h2d(f, 0x25, 8, 16, 0);
	CHECK_EQ(issue(3, f, NULL, &pr, 1, false) & PX_IS_FATAL, 0);
	CHECK(!memcmp(g(DATA), want, sizeof(want)));
	/* the parent still holds 0x33 there */
	CHECK_EQ(disk_open(vb, NULL, DISK_RDONLY, &base), 0);
	if (base) {
		struct iovec io = { want, sizeof(want) };

		CHECK_EQ(disk_readv(base, 8, &io, 1), 0);
		CHECK(want[0] == 0x33 && want[8191] == 0x33);
		disk_close(base);
	}
}

/* The options: --disk PATH,bus=ahci and a CD/DVD drive with bus=ahci are the AHCI kinds;
 * a CD without bus= stays on virtio-scsi; a missing image is refused before any VM. */
static void test_options(void)
{
	const struct device_kind *k;
	struct vm_config c = { 0 };
	const char *specs[1];

	k = device_kind_for("disk", "x.img,bus=ahci");
	CHECK(k && !strcmp(k->name, "SATA disk"));
	k = device_kind_for("disk", "x.iso,media=cdrom,bus=ahci");
	CHECK(k && !strcmp(k->name, "ATAPI CD/DVD drive"));
	k = device_kind_for("disk", ",bus=ahci,media=cdrom");
	CHECK(k && !strcmp(k->name, "ATAPI CD/DVD drive"));
	k = device_kind_for("disk", "x.iso,media=cdrom");
	CHECK(k && !strcmp(k->name, "SCSI CD/DVD drive"));
	k = device_kind_for("disk", "x.iso,media=cdrom,bus=scsi");
	CHECK(k && !strcmp(k->name, "SCSI CD/DVD drive"));
	specs[0] = "/nonexistent/vsrv-ahci.img,bus=ahci";
	c.disks = specs;
	c.nr_disks = 1;
	CHECK_EQ(vm_devices_check(&c), -ENOENT);
	specs[0] = "/nonexistent/x.iso,media=cdrom,bus=ahci";
	CHECK_EQ(vm_devices_check(&c), -ENOENT);
	specs[0] = ",media=cdrom,bus=ahci";
	CHECK_EQ(vm_devices_check(&c), 0);
	specs[0] = "x.img,bus=ahci,transport=pci";
	CHECK_EQ(vm_devices_check(&c), -EINVAL);
}

int main(void)
{
	up();
	RUN(test_pci_and_reset);
	RUN(test_identify);
	RUN(test_dma);
	RUN(test_ncq);
	RUN(test_flush_trim);
	RUN(test_atapi);
	RUN(test_msi);
	RUN(test_vhd_chain);
	RUN(test_state);
	RUN(test_options);
	down();
	return check_done();
}
