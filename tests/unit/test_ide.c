/* The PIIX3 IDE controller (src/devices/ide.h) driven as a guest's driver would: PCI config
 * space, IDENTIFY, PIO and bus-master DMA reads and writes checked against the image files,
 * READ/WRITE MULTIPLE, LBA48, CHS, ATAPI (INQUIRY, READ TOC, READ(10) by PIO and DMA) on an
 * ISO made by xorriso, resets, save and restore in the middle of a PIO read, and hostile
 * input: bad PRD tables, LBA past the end, data-port reads with no command, floods. */
#include "check.h"
#include "devices/ide.h"
#include "disk/disk.h"
#include "vmm/bus.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idedrv.h"

#define DISK_BYTES (4 << 20)

static struct bus pio, mmio;
static struct pci_host *host;
static struct ide *ide;
static struct disk *d0, *d1, *cd;
static char p0[64], p1[64], iso[64], isodir[64];
static bool have_iso;
static unsigned devfn;

static void mkfile(const char *path, size_t bytes)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	uint8_t *b = malloc(bytes);

	for (size_t i = 0; i < bytes; i++)
		b[i] = (uint8_t)(i * 7 + i / 512);
	CHECK(fd >= 0 && write(fd, b, bytes) == (ssize_t)bytes);
	close(fd);
	free(b);
}

static void file_read(const char *path, uint64_t off, void *buf, size_t n)
{
	int fd = open(path, O_RDONLY);

	CHECK(fd >= 0 && pread(fd, buf, n, off) == (ssize_t)n);
	close(fd);
}

static struct ide *make(void)
{
	struct ide *d;

	CHECK_EQ(ide_create(host, &pio, mem, NULL, &d), 0);
	CHECK_EQ(ide_attach(d, 0, IDE_DISK, d0, "SER-ZERO"), 0);
	CHECK_EQ(ide_attach(d, 1, IDE_DISK, d1, "SER-ONE"), 0);
	CHECK_EQ(ide_attach(d, 2, IDE_CD, cd, "SER-CD"), 0);
	return d;
}

static void up(void)
{
	char cmd[512];

	snprintf(p0, sizeof(p0), "/tmp/vsrv-ide-test.%d.0", getpid());
	snprintf(p1, sizeof(p1), "/tmp/vsrv-ide-test.%d.1", getpid());
	snprintf(iso, sizeof(iso), "/tmp/vsrv-ide-test.%d.iso", getpid());
	snprintf(isodir, sizeof(isodir), "/tmp/vsrv-ide-test.%d.d", getpid());
	mkfile(p0, DISK_BYTES);
	mkfile(p1, DISK_BYTES);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && head -c 20000 /dev/urandom > %s/r.bin && "
		 "xorriso -as mkisofs -quiet -V VSRV_IDE -o %s %s 2>/dev/null", isodir, isodir,
		 iso, isodir);
	have_iso = system(cmd) == 0;
	CHECK_EQ(guest_mem_create(MEM, &mem), 0);
	bus_init(&pio);
	bus_init(&mmio);
	dpio = &pio;
	CHECK_EQ(pci_host_create(&pio, &mmio, 0xe0000000ULL, 0xe1000000ULL, 0xfe000000ULL,
				 &host), 0);
	CHECK_EQ(disk_open(p0, "raw", 0, &d0), 0);
	CHECK_EQ(disk_open(p1, "raw", 0, &d1), 0);
	cd = NULL;
	if (have_iso)
		CHECK_EQ(disk_open(iso, "raw", DISK_RDONLY, &cd), 0);
	ide = make();
	CHECK_EQ(ide_start(ide), 0);
	devfn = pci_dev_devfn(&ide->pci);
	cfg_wr(devfn, 0x04, 2, 0x5); /* I/O decoding, bus master */
	bmide = cfg(devfn, 0x20, 4) & ~0x3u;
}

static void down(void)
{
	char cmd[256];

	ide_destroy(ide);
	disk_close(d0);
	disk_close(d1);
	disk_close(cd);
	pci_host_destroy(host);
	bus_destroy(&mmio);
	bus_destroy(&pio);
	guest_mem_destroy(mem);
	unlink(p0);
	unlink(p1);
	unlink(iso);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", isodir);
	CHECK_EQ(system(cmd), 0);
}

static void test_pci(void)
{
	CHECK_EQ(cfg(devfn, 0, 4), 0x70108086u);
	CHECK_EQ(cfg(devfn, 0x08, 4) >> 8, 0x010180u); /* IDE, legacy mode, bus master */
	CHECK(bmide >= PCI_IO_BASE && (cfg(devfn, 0x20, 4) & 1));
	CHECK_EQ(cfg(devfn, 0x41, 1) & 0x80, 0x80);       /* both channels decoded */
	CHECK_EQ(cfg(devfn, 0x43, 1) & 0x80, 0x80);
}

static void test_identify(void)
{
	uint16_t id[256];
	uint8_t sum = 0;
	char model[41] = "";

	issue(0, 0, 0xec, 0, 0, false, 0);
	CHECK_EQ(pio_in(0, id, 512, 512) & (ATA_ERR | 0x100), 0);
	for (int i = 0; i < 512; i++)
		sum += ((uint8_t *)id)[i];
	CHECK_EQ(sum, 0);
	for (int i = 0; i < 20; i++) {
		model[2 * i] = id[27 + i] >> 8;
		model[2 * i + 1] = id[27 + i] & 0xff;
	}
	CHECK(!strncmp(model, "VSRV HARDDISK", 13));
	CHECK_EQ(id[60] | id[61] << 16, DISK_BYTES / 512);
	CHECK_EQ(id[100], DISK_BYTES / 512);
	CHECK_EQ(id[83] & 0x0400, 0x0400);     /* 48-bit */
	CHECK_EQ(id[47] & 0xff, IDE_MAX_MULTIPLE);
	CHECK_EQ(id[76], 0);                   /* parallel ATA: no SATA speeds, no NCQ */
	CHECK_EQ(id[59], 0);                   /* no READ/WRITE MULTIPLE block yet */
	/* the slave answers too; the secondary slave is absent: status 0 */
	issue(0, 1, 0xec, 0, 0, false, 0);
	CHECK_EQ(pio_in(0, id, 512, 512) & (ATA_ERR | 0x100), 0);
	select_unit(1, 1, 0);
	CHECK_EQ(in(IDE_SECONDARY + 7, 1), 0);
	/* the CD drive: IDENTIFY DEVICE aborts with the ATAPI signature */
	issue(1, 0, 0xec, 0, 0, false, 0);
	CHECK_EQ(wait_ready(1) & ATA_ERR, ATA_ERR);
	CHECK_EQ(in(IDE_SECONDARY + 4, 1), 0x14);
	CHECK_EQ(in(IDE_SECONDARY + 5, 1), 0xeb);
	issue(1, 0, 0xa1, 0, 0, false, 0);
	CHECK_EQ(pio_in(1, id, 512, 512) & (ATA_ERR | 0x100), 0);
	CHECK_EQ(id[0], 0x85c0);
}

static void test_pio(void)
{
	uint8_t *buf = malloc(64 * 512), *ref = malloc(64 * 512);

	/* READ SECTORS: 5 at LBA 100, one DRQ block each */
	issue(0, 0, 0x20, 100, 5, false, 0);
	CHECK_EQ(pio_in(0, buf, 5 * 512, 512) & (ATA_ERR | 0x100), 0);
	file_read(p0, 100 * 512, ref, 5 * 512);
	CHECK(!memcmp(buf, ref, 5 * 512));
	/* WRITE SECTORS on the slave, read back from the file */
	for (int i = 0; i < 3 * 512; i++)
		buf[i] = (uint8_t)(i ^ 0x5a);
	issue(0, 1, 0x30, 7, 3, false, 0);
	CHECK_EQ(pio_out(0, buf, 3 * 512, 512) & (ATA_ERR | 0x100), 0);
	file_read(p1, 7 * 512, ref, 3 * 512);
	CHECK(!memcmp(buf, ref, 3 * 512));
	/* READ MULTIPLE before SET MULTIPLE: aborted; after it, 4 sectors per DRQ block */
	issue(0, 0, 0xc4, 0, 8, false, 0);
	CHECK_EQ(wait_ready(0) & ATA_ERR, ATA_ERR);
	CHECK_EQ(in(IDE_PRIMARY + 1, 1), ATA_E_ABRT);
	issue(0, 0, 0xc6, 0, 8, false, 0); /* more than the drive's 4 */
	CHECK_EQ(wait_ready(0) & ATA_ERR, ATA_ERR);
	issue(0, 0, 0xc6, 0, 4, false, 0);
	CHECK_EQ(wait_ready(0) & ATA_ERR, 0);
	{
		uint16_t id[256];

		issue(0, 0, 0xec, 0, 0, false, 0);
		CHECK_EQ(pio_in(0, id, 512, 512) & (ATA_ERR | 0x100), 0);
		CHECK_EQ(id[59], 0x0104); /* the block SET MULTIPLE chose */
	}
	issue(0, 0, 0xc4, 200, 10, false, 0); /* blocks of 4, 4 and 2 */
	CHECK_EQ(pio_in(0, buf, 8 * 512, 4 * 512) & (ATA_ERR | 0x100), 0);
	CHECK_EQ(pio_in(0, buf + 8 * 512, 2 * 512, 2 * 512) & (ATA_ERR | 0x100), 0);
	file_read(p0, 200 * 512, ref, 10 * 512);
	CHECK(!memcmp(buf, ref, 10 * 512));
	/* WRITE MULTIPLE EXT (LBA48) of 6 sectors, then READ SECTORS EXT */
	for (int i = 0; i < 6 * 512; i++)
		buf[i] = (uint8_t)(i * 3);
	issue(0, 0, 0x39, 8000, 6, true, 0);
	CHECK_EQ(pio_out(0, buf, 4 * 512, 4 * 512) & (ATA_ERR | 0x100), 0);
	CHECK_EQ(pio_out(0, buf + 4 * 512, 2 * 512, 2 * 512) & (ATA_ERR | 0x100), 0);
	file_read(p0, 8000 * 512, ref, 6 * 512);
	CHECK(!memcmp(buf, ref, 6 * 512));
	memset(buf, 0, 6 * 512);
	issue(0, 0, 0x24, 8000, 6, true, 0);
	CHECK_EQ(pio_in(0, buf, 6 * 512, 512) & (ATA_ERR | 0x100), 0);
	CHECK(!memcmp(buf, ref, 6 * 512));
	/* a write to a read-only image is aborted before any data moves */
	{
		struct disk *ro = NULL;

		CHECK_EQ(disk_open(p1, "raw", DISK_RDONLY | DISK_NOLOCK, &ro), 0);
		ide->unit[1].disk = ro ? ro : d1;
		issue(0, 1, 0x30, 0, 1, false, 0);
		CHECK_EQ(wait_ready(0) & (ATA_ERR | ATA_DRQ), ATA_ERR);
		CHECK_EQ(in(IDE_PRIMARY + 1, 1), ATA_E_ABRT);
		ide->unit[1].disk = d1;
		disk_close(ro);
	}
	/* FLUSH CACHE (EXT) */
	issue(0, 0, 0xe7, 0, 0, false, 0);
	CHECK_EQ(wait_ready(0) & ATA_ERR, 0);
	issue(0, 0, 0xea, 0, 0, false, 0);
	CHECK_EQ(wait_ready(0) & ATA_ERR, 0);
	free(buf);
	free(ref);
}

static void test_chs(void)
{
	uint8_t buf[512], ref[512];
	uint16_t id[256];

	/* INITIALIZE DEVICE PARAMETERS: 4 heads, 17 sectors per track; then C/H/S 3/2/5 is
	 * LBA (3 * 4 + 2) * 17 + 4 = 242 */
	select_unit(0, 0, 3);
	out(IDE_PRIMARY + 2, 1, 17);
	out(IDE_PRIMARY + 7, 1, 0x91);
	CHECK_EQ(wait_ready(0) & ATA_ERR, 0);
	out(IDE_PRIMARY + 6, 1, 0xa0 | 2); /* CHS, head 2 */
	out(IDE_PRIMARY + 2, 1, 1);
	out(IDE_PRIMARY + 3, 1, 5);
	out(IDE_PRIMARY + 4, 1, 3);
	out(IDE_PRIMARY + 5, 1, 0);
	out(IDE_PRIMARY + 7, 1, 0x20);
	CHECK_EQ(pio_in(0, buf, 512, 512) & (ATA_ERR | 0x100), 0);
	file_read(p0, 242 * 512, ref, 512);
	CHECK(!memcmp(buf, ref, 512));
	/* sector 0 does not exist */
	out(IDE_PRIMARY + 6, 1, 0xa0);
	out(IDE_PRIMARY + 3, 1, 0);
	out(IDE_PRIMARY + 7, 1, 0x20);
	CHECK_EQ(wait_ready(0) & ATA_ERR, ATA_ERR);
	CHECK_EQ(in(IDE_PRIMARY + 1, 1), ATA_E_IDNF);
	/* IDENTIFY reports the translation */
	issue(0, 0, 0xec, 0, 0, false, 0);
	CHECK_EQ(pio_in(0, id, 512, 512) & (ATA_ERR | 0x100), 0);
	CHECK_EQ(id[53] & 1, 1);
	CHECK_EQ(id[55], 4);
	CHECK_EQ(id[56], 17);
	CHECK_EQ(id[54], DISK_BYTES / 512 / 68);
}

static void test_dma(void)
{
	uint8_t *ref = malloc(256 * 512), bms;

	/* READ DMA: 64 sectors through 8 PRDs of 4 KiB */
	memset(g(DATA), 0, 64 * 512);
	prd_table(8, 4096);
	issue(0, 0, 0xc8, 1000, 64, false, 0);
	CHECK_EQ(in(IDE_PRIMARY + IDE_CTL_OFF, 1) & ATA_BSY, ATA_BSY); /* waits for the bus master */
	CHECK_EQ(dma_run(0, PRD_TABLE, true, &bms) & ATA_ERR, 0);
	CHECK_EQ(bms & (BM_ST_INTR | BM_ST_ERROR | BM_ST_ACTIVE), BM_ST_INTR);
	file_read(p0, 1000 * 512, ref, 64 * 512);
	CHECK(!memcmp(g(DATA), ref, 64 * 512));
	/* WRITE DMA EXT of 256 sectors (a 64 KiB entry: length 0) on the slave */
	for (int i = 0; i < 256 * 512; i++)
		g(DATA)[i] = (uint8_t)(i * 13 + 1);
	prd_table(2, 0);
	issue(0, 1, 0x35, 4096, 256, true, 0);
	CHECK_EQ(dma_run(0, PRD_TABLE, false, &bms) & ATA_ERR, 0);
	CHECK_EQ(bms & BM_ST_ERROR, 0);
	file_read(p1, 4096ull * 512, ref, 256 * 512);
	CHECK(!memcmp(g(DATA), ref, 256 * 512));
	/* the bus master started before the command: it runs at once */
	prd_table(1, 512);
	out(bmide + BM_PRD, 4, PRD_TABLE);
	out(bmide + BM_CMD, 1, BM_CMD_START | BM_CMD_READ);
	issue(0, 0, 0x25, 3, 1, true, 0);
	CHECK_EQ(wait_ready(0) & ATA_ERR, 0);
	out(bmide + BM_CMD, 1, 0);
	file_read(p0, 3 * 512, ref, 512);
	CHECK(!memcmp(g(DATA), ref, 512));
	CHECK(ide->ch[0].r.irq);
	(void)in(IDE_PRIMARY + 7, 1);
	CHECK(!ide->ch[0].r.irq);
	free(ref);
}

static void test_atapi(void)
{
	uint8_t inq[12] = { 0x12, 0, 0, 0, 96 }, toc[12] = { 0x43, 0, 0, 0, 0, 0, 0, 0, 100 };
	uint8_t tur[12] = { 0 }, rs[12] = { 0x03, 0, 0, 0, 18 };
	uint8_t rd10[12] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 3 };
	uint8_t *buf = malloc(65536), *ref = malloc(65536), bms;
	long n;

	if (!have_iso) {
		printf("SKIP test_atapi: cannot make the ISO (xorriso: make test-deps)\n");
		free(buf);
		free(ref);
		return;
	}
	/* the reset's unit attention first, then REQUEST SENSE tells it */
	n = atapi_pio(1, 0, tur, buf, 65536, 2048);
	CHECK(n < 0 && ((-n >> 8) & 0xf0) == SK_UNIT_ATTENTION << 4);
	CHECK_EQ(atapi_pio(1, 0, rs, buf, 65536, 2048), 18);
	CHECK_EQ(buf[2] & 0xf, SK_UNIT_ATTENTION);
	CHECK_EQ(buf[12], 0x29);
	CHECK_EQ(atapi_pio(1, 0, tur, buf, 65536, 2048), 0);
	n = atapi_pio(1, 0, inq, buf, 65536, 2048);
	CHECK(n >= 36);
	CHECK_EQ(buf[0] & 0x1f, 5); /* CD/DVD */
	n = atapi_pio(1, 0, toc, buf, 65536, 2048);
	CHECK(n >= 12);
	CHECK_EQ(buf[2], 1); /* first track */
	/* READ(10) of 3 blocks by PIO, in DRQ chunks of a 1000-byte limit */
	n = atapi_pio(1, 0, rd10, buf, 65536, 1000);
	CHECK_EQ(n, 3 * 2048);
	file_read(iso, 16 * 2048, ref, 3 * 2048);
	CHECK(!memcmp(buf, ref, 3 * 2048));
	CHECK(!memcmp(buf + 1, "CD001", 5) && !memcmp(buf + 40, "VSRV_IDE", 8));
	/* the same by DMA */
	memset(g(DATA), 0, 3 * 2048);
	CHECK_EQ(atapi_dma(1, 0, rd10, 3 * 2048, &bms) & ATA_ERR, 0);
	CHECK_EQ(bms & BM_ST_ERROR, 0);
	CHECK(!memcmp(g(DATA), ref, 3 * 2048));
	/* past the end of the medium: ILLEGAL REQUEST */
	{
		uint8_t far[12] = { 0x28, 0, 0, 0x10, 0, 0, 0, 0, 1 };

		n = atapi_pio(1, 0, far, buf, 65536, 2048);
		CHECK(n < 0 && ((-n >> 8) & 0xf0) == SK_ILLEGAL_REQUEST << 4);
	}
	free(buf);
	free(ref);
}

static void test_reset(void)
{
	uint8_t buf[512];

	/* SRST in the middle of a PIO read: the transfer is gone, the signature is back */
	issue(0, 0, 0x20, 0, 4, false, 0);
	CHECK_EQ(wait_ready(0) & ATA_DRQ, ATA_DRQ);
	for (int i = 0; i < 10; i++)
		(void)in(IDE_PRIMARY, 2);
	out(IDE_PRIMARY + IDE_CTL_OFF, 1, IDE_CTL_SRST);
	CHECK_EQ(in(IDE_PRIMARY + IDE_CTL_OFF, 1) & ATA_BSY, ATA_BSY);
	out(IDE_PRIMARY + IDE_CTL_OFF, 1, 0);
	CHECK_EQ(wait_ready(0), ATA_DRDY | ATA_DSC);
	CHECK_EQ(in(IDE_PRIMARY + 2, 1), 1);
	CHECK_EQ(in(IDE_PRIMARY + 3, 1), 1);
	CHECK_EQ(in(IDE_PRIMARY + 1, 1), 1); /* diagnostics passed */
	CHECK_EQ(in(IDE_PRIMARY, 2), 0xffff); /* no data any more */
	/* the drive works after it */
	issue(0, 0, 0x20, 1, 1, false, 0);
	CHECK_EQ(pio_in(0, buf, 512, 512) & (ATA_ERR | 0x100), 0);
	/* DEVICE RESET on the CD drive: its signature, no DRDY */
	issue(1, 0, 0x08, 0, 0, false, 0);
	CHECK_EQ(in(IDE_SECONDARY + 4, 1), 0x14);
	CHECK_EQ(in(IDE_SECONDARY + 5, 1), 0xeb);
	CHECK_EQ(in(IDE_SECONDARY + 7, 1) & ATA_BSY, 0);
	/* nIEN masks the line; HOB reads the previous bytes */
	out(IDE_PRIMARY + IDE_CTL_OFF, 1, IDE_CTL_NIEN);
	issue(0, 0, 0xe7, 0, 0, false, 0);
	wait_ready(0);
	CHECK(ide->ch[0].r.irq && !ide->ch[0].level);
	out(IDE_PRIMARY + IDE_CTL_OFF, 1, 0);
	CHECK_EQ(ide->ch[0].level, 1);
	(void)in(IDE_PRIMARY + 7, 1);
	CHECK_EQ(ide->ch[0].level, 0);
	out(IDE_PRIMARY + 3, 1, 0x12);
	out(IDE_PRIMARY + 3, 1, 0x34);
	out(IDE_PRIMARY + IDE_CTL_OFF, 1, IDE_CTL_HOB);
	CHECK_EQ(in(IDE_PRIMARY + 3, 1), 0x12);
	out(IDE_PRIMARY + IDE_CTL_OFF, 1, 0);
	CHECK_EQ(in(IDE_PRIMARY + 3, 1), 0x34);
}

static void test_hostile(void)
{
	uint8_t bms, buf[512];
	uint32_t e[2];

	/* a data-port read with no command, a write with none */
	CHECK_EQ(in(IDE_PRIMARY, 2), 0xffff);
	CHECK_EQ(in(IDE_PRIMARY, 4), 0xffffffffu);
	out(IDE_PRIMARY, 2, 0x1234);
	CHECK_EQ(wait_ready(0), ATA_DRDY | ATA_DSC);
	/* LBA past the end: IDNF, by PIO, DMA and LBA48 */
	issue(0, 0, 0x20, DISK_BYTES / 512, 1, false, 0);
	CHECK_EQ(wait_ready(0) & ATA_ERR, ATA_ERR);
	CHECK_EQ(in(IDE_PRIMARY + 1, 1), ATA_E_IDNF);
	issue(0, 0, 0xc8, DISK_BYTES / 512 - 1, 2, false, 0);
	CHECK_EQ(wait_ready(0) & ATA_ERR, ATA_ERR);
	issue(0, 0, 0x25, 1ull << 40, 1, true, 0);
	CHECK_EQ(wait_ready(0) & ATA_ERR, ATA_ERR);
	CHECK_EQ(in(IDE_PRIMARY + 1, 1), ATA_E_IDNF);
	/* a PRD outside RAM */
	e[0] = MEM - 256;
	e[1] = 0x80000000u | 4096;
	memcpy(g(PRD_TABLE), e, 8);
	issue(0, 0, 0xc8, 0, 8, false, 0);
	CHECK_EQ(dma_run(0, PRD_TABLE, true, &bms) & ATA_ERR, ATA_ERR);
	CHECK_EQ(bms & BM_ST_ERROR, BM_ST_ERROR);
	/* a table outside RAM */
	issue(0, 0, 0xc8, 0, 1, false, 0);
	CHECK_EQ(dma_run(0, 0xfffffff0u, true, &bms) & ATA_ERR, ATA_ERR);
	CHECK_EQ(bms & BM_ST_ERROR, BM_ST_ERROR);
	/* a table without an end mark (all of the RAM after it: entries of 512 bytes) */
	for (unsigned i = 0; i < IDE_PRD_MAX + 8; i++) {
		uint32_t f[2] = { DATA, 512 };

		memcpy(g(PRD_TABLE + i * 8), f, 8);
	}
	issue(0, 0, 0xc8, 0, 1, false, 0);
	CHECK_EQ(dma_run(0, PRD_TABLE, true, &bms) & ATA_ERR, ATA_ERR);
	CHECK_EQ(bms & BM_ST_ERROR, BM_ST_ERROR);
	/* PRDs holding less than the command moves, for a read and for a write */
	prd_table(1, 1024);
	issue(0, 0, 0xc8, 0, 4, false, 0);
	CHECK_EQ(dma_run(0, PRD_TABLE, true, &bms) & ATA_ERR, ATA_ERR);
	CHECK_EQ(bms & BM_ST_ERROR, BM_ST_ERROR);
	issue(0, 0, 0xca, 0, 4, false, 0);
	CHECK_EQ(dma_run(0, PRD_TABLE, false, &bms) & ATA_ERR, ATA_ERR);
	/* a flood of garbage on every port of both channels and the bus master */
	srand(7);
	for (int i = 0; i < 200000; i++) {
		static const uint16_t ports[] = { 0x1f0, 0x1f1, 0x1f2, 0x1f3, 0x1f4, 0x1f5, 0x1f6,
						  0x1f7, 0x3f6, 0x170, 0x171, 0x172, 0x173, 0x174,
						  0x175, 0x176, 0x177, 0x376 };
		unsigned r = rand();
		uint16_t port = r % 3 == 0 ? bmide + (r >> 8) % 16 : ports[(r >> 4) % 18];
		unsigned len = 1u << ((r >> 12) % 3);

		if (port == 0x3f6 || port == 0x376) /* no SRST storm: it is tested above */
			len = 1;
		if ((r >> 16) & 1)
			out(port, len, rand());
		else
			(void)in(port, len);
	}
	/* the controller still works after a reset */
	out(bmide + BM_CMD, 1, 0);
	out(bmide + 8 + BM_CMD, 1, 0);
	for (unsigned ch = 0; ch < 2; ch++) {
		out(base(ch) + IDE_CTL_OFF, 1, IDE_CTL_SRST);
		out(base(ch) + IDE_CTL_OFF, 1, 0);
	}
	CHECK(wait_ready(0) != 0xff && wait_ready(1) != 0xff);
	issue(0, 0, 0x20, 5, 1, false, 0);
	CHECK_EQ(pio_in(0, buf, 512, 512) & (ATA_ERR | 0x100), 0);
}

static void test_state(void)
{
	uint8_t buf[8 * 512], ref[8 * 512];
	struct ide_state *st = malloc(sizeof(*st));
	struct ide *fresh;

	/* in the middle of a READ SECTORS of 8: 3 sectors and 100 bytes read */
	issue(0, 0, 0x20, 50, 8, false, 0);
	CHECK_EQ(pio_in(0, buf, 3 * 512, 512) & ATA_ERR, 0);
	CHECK_EQ(wait_ready(0) & ATA_DRQ, ATA_DRQ);
	for (int i = 0; i < 100; i += 2) {
		uint16_t w = in(IDE_PRIMARY, 2);

		memcpy(buf + 3 * 512 + i, &w, 2);
	}
	ide_save(ide, st);
	/* another controller with the same drives takes it, and the guest reads on */
	ide_destroy(ide);
	ide = fresh = make();
	CHECK_EQ(ide_restore(fresh, st), 0);
	CHECK_EQ(ide_start(fresh), 0);
	CHECK_EQ(cfg(pci_dev_devfn(&fresh->pci), 0x20, 4) & ~3u, bmide);
	for (int i = 100; i < 512; i += 2) {
		uint16_t w = in(IDE_PRIMARY, 2);

		memcpy(buf + 3 * 512 + i, &w, 2);
	}
	CHECK_EQ(pio_in(0, buf + 4 * 512, 4 * 512, 512) & (ATA_ERR | 0x100), 0);
	file_read(p0, 50 * 512, ref, 8 * 512);
	CHECK(!memcmp(buf, ref, 8 * 512));
	/* refused: a window past its end, a drive that is not there */
	ide_save(ide, st);
	st->ch[0].end = IDE_WINDOW + 2;
	CHECK_EQ(ide_state_check(ide, st), -EINVAL);
	ide_save(ide, st);
	st->drive[3] = IDE_DISK;
	CHECK_EQ(ide_restore(ide, st), -EINVAL);
	/* ... a read with nothing left, a packet on a disk, a write window past what is left */
	ide_save(ide, st);
	st->ch[0].xfer = X_NEXT_IN;
	st->ch[0].left = 0;
	CHECK_EQ(ide_state_check(ide, st), -EINVAL);
	ide_save(ide, st);
	st->ch[0].xfer = X_PACKET;
	st->ch[0].cmd = 0xa0;
	st->ch[0].end = 12;
	CHECK_EQ(ide_state_check(ide, st), -EINVAL);
	ide_save(ide, st);
	st->ch[0].xfer = X_WRITE;
	st->ch[0].cmd = 0x30;
	st->ch[0].end = 1024;
	st->ch[0].left = 1;
	CHECK_EQ(ide_state_check(ide, st), -EINVAL);
	st->ch[0].left = 2;
	CHECK_EQ(ide_state_check(ide, st), 0);
	free(st);
}

/* A disk master and a CD slave on one channel: after a reset each shows its own signature
 * (a driver classifies the drives by them), and a write to the task file reaches both. */
static void test_signatures(void)
{
	ide_destroy(ide);
	CHECK_EQ(ide_create(host, &pio, mem, NULL, &ide), 0);
	CHECK_EQ(ide_attach(ide, 0, IDE_DISK, d0, "M"), 0);
	CHECK_EQ(ide_attach(ide, 1, IDE_CD, cd, "S"), 0);
	CHECK_EQ(ide_start(ide), 0);
	out(IDE_PRIMARY + IDE_CTL_OFF, 1, IDE_CTL_SRST);
	out(IDE_PRIMARY + IDE_CTL_OFF, 1, 0);
	CHECK_EQ(wait_ready(0), ATA_DRDY | ATA_DSC);
	CHECK_EQ(in(IDE_PRIMARY + 4, 1), 0);
	CHECK_EQ(in(IDE_PRIMARY + 5, 1), 0);
	select_unit(0, 1, 0);
	CHECK_EQ(in(IDE_PRIMARY + 2, 1), 1);
	CHECK_EQ(in(IDE_PRIMARY + 4, 1), 0x14);
	CHECK_EQ(in(IDE_PRIMARY + 5, 1), 0xeb);
	CHECK_EQ(in(IDE_PRIMARY + 7, 1), 0);   /* a CD drive: no DRDY before IDENTIFY PACKET */
	out(IDE_PRIMARY + 4, 1, 0x42);
	select_unit(0, 0, 0);
	CHECK_EQ(in(IDE_PRIMARY + 4, 1), 0x42);
	/* EXECUTE DEVICE DIAGNOSTIC: both signatures again, the master selected */
	select_unit(0, 1, 0);
	out(IDE_PRIMARY + 7, 1, 0x90);
	CHECK_EQ(wait_ready(0) & ATA_ERR, 0);
	CHECK_EQ(in(IDE_PRIMARY + 6, 1) & 0x10, 0);
	CHECK_EQ(in(IDE_PRIMARY + 4, 1), 0);
	select_unit(0, 1, 0);
	CHECK_EQ(in(IDE_PRIMARY + 5, 1), 0xeb);
	/* the usual controller back */
	ide_destroy(ide);
	ide = make();
	CHECK_EQ(ide_start(ide), 0);
}

int main(void)
{
	up();
	RUN(test_pci);
	RUN(test_identify);
	RUN(test_pio);
	RUN(test_chs);
	RUN(test_dma);
	RUN(test_atapi);
	RUN(test_reset);
	RUN(test_hostile);
	RUN(test_state);
	RUN(test_signatures);
	down();
	return check_done();
}
