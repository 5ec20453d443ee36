/* The CD/DVD drive's MMC commands (scsi_mmc.c through scsi_exec) without KVM, on a real ISO
 * 9660 image made at test time by xorriso (Debian's xorriso) and opened by the block layer:
 * the primary volume descriptor ("CD001" at LBA 16) through READ(10), READ(12) and READ CD,
 * every block against the file, the TOC, the profiles and features, events, mode pages,
 * and the sense data of an empty drive, a medium change, a locked eject, writes, blocks out
 * of range and bad CDBs. */
#include "check.h"
#include "devices/virtio/scsi_mmc.h"
#include "disk/disk.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct scsi_lun luns[2];
static struct scsi_mmc mmc;
static struct disk *iso, *dvd, *odd;
static uint8_t inbuf[1 << 17], outbuf[4096];
static struct scsi_result res;
static char dir[64], iso_path[96], dvd_path[96], odd_path[96];
static uint64_t iso_blocks;

static void run_len(const uint8_t *cdb, size_t cdb_len, size_t in_len)
{
	struct iovec oi = { outbuf, sizeof(outbuf) }, ii = { inbuf, in_len };
	struct scsi_buf o = { &oi, 1, 0 }, i = { &ii, 1, in_len };

	if (cdb[0] == 0x2a || cdb[0] == 0xaa || cdb[0] == 0x0a) /* writes bring data */
		o.len = sizeof(outbuf), i.len = 0, i.n = 0;
	memset(inbuf, 0xcc, sizeof(inbuf));
	scsi_exec(luns, 2, 0, cdb, cdb_len, &o, &i, &res);
}

static void run(const uint8_t *cdb, size_t in_len)
{
	static const uint8_t len_of[8] = { 6, 10, 10, 16, 16, 12, 16, 16 };

	run_len(cdb, len_of[cdb[0] >> 5], in_len);
}

#define GOOD (res.status == SCSI_GOOD)
#define SENSE(k, a, q) (res.status == SCSI_CHECK_CONDITION && res.sense[2] == (k) && \
			res.sense[12] == (a) && res.sense[13] == (q))

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static uint16_t be16(const uint8_t *p) { return p[0] << 8 | p[1]; }

static const uint8_t TUR[6] = { 0x00 };

/* The drive holding medium d (or empty), nothing pending. */
static void drive(struct disk *d)
{
	memset(luns, 0, sizeof(luns));
	strcpy(luns[0].serial, "CD0");
	scsi_mmc_init(&luns[0], &mmc, d);
}

static bool make_images(void)
{
	char cmd[512];
	FILE *f;
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/vsrv-mmc-test.%d", getpid());
	snprintf(iso_path, sizeof(iso_path), "%s/cd.iso", dir);
	snprintf(dvd_path, sizeof(dvd_path), "%s/dvd.img", dir);
	snprintf(odd_path, sizeof(odd_path), "%s/odd.img", dir);
	if (mkdir(dir, 0700) < 0)
		return false;
	snprintf(cmd, sizeof(cmd), "mkdir %s/tree && echo hello from the CD > %s/tree/hello.txt && "
		 "xorriso -as mkisofs -quiet -V VSRV_TEST_CD -o %s %s/tree 2>/dev/null",
		 dir, dir, iso_path, dir);
	if (system(cmd) != 0)
		return false;
	/* a DVD-sized sparse image (400000 blocks) and one whose size is not a block multiple */
	fd = open(dvd_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 400000ULL * 2048) < 0)
		return false;
	close(fd);
	f = fopen(odd_path, "w");
	if (!f || fseek(f, 20 * 2048 + 512 - 1, SEEK_SET) || fputc(1, f) == EOF)
		return false;
	fclose(f);
	return disk_open(iso_path, "raw", DISK_RDONLY, &iso) == 0 &&
	       disk_open(dvd_path, "raw", DISK_RDONLY, &dvd) == 0 &&
	       disk_open(odd_path, "raw", DISK_RDONLY, &odd) == 0;
}

static void test_inquiry_and_luns(void)
{
	const uint8_t std[6] = { 0x12, 0, 0, 0, 96, 0 };
	uint8_t vpd[6] = { 0x12, 1, 0, 0, 255, 0 };
	const uint8_t luns_cdb[12] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64 };

	drive(NULL); /* an empty drive is a unit all the same */
	run(std, 96);
	CHECK(GOOD);
	CHECK_EQ(inbuf[0], 0x05);   /* CD/DVD device */
	CHECK_EQ(inbuf[1], 0x80);   /* removable */
	CHECK(!memcmp(inbuf + 8, "VSRV    VIRTUAL CD-ROM  ", 24));
	run(vpd, 255);
	CHECK(GOOD && inbuf[0] == 0x05 && inbuf[3] == 3);
	CHECK(!memcmp(inbuf + 4, "\x00\x80\x83", 3));
	vpd[2] = 0xb0; /* block limits: SBC only */
	run(vpd, 255);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x24, 0));
	run(luns_cdb, 64);
	CHECK(GOOD && be32(inbuf) == 8);
}

static void test_capacity_and_pvd(void)
{
	uint8_t cap[10] = { 0x25 }, r10[10] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 1 };
	uint8_t r12[12] = { 0xa8, 0, 0, 0, 0, 16, 0, 0, 0, 2 };
	uint8_t rcd[12] = { 0xbe, 0x08, 0, 0, 0, 16, 0, 0, 1, 0x10 };
	uint8_t *file = malloc(iso->size);
	int fd = open(iso_path, O_RDONLY);

	drive(iso);
	run(TUR, 0);
	CHECK(GOOD);
	run(cap, 8);
	CHECK(GOOD && res.in_done == 8);
	CHECK_EQ(be32(inbuf), iso_blocks - 1);
	CHECK_EQ(be32(inbuf + 4), 2048);
	/* the primary volume descriptor: type 1, "CD001", version 1, the volume id */
	run(r10, 2048);
	CHECK(GOOD && res.in_done == 2048);
	CHECK(inbuf[0] == 1 && !memcmp(inbuf + 1, "CD001", 5) && inbuf[6] == 1);
	CHECK(!memcmp(inbuf + 40, "VSRV_TEST_CD", 12));
	CHECK_EQ(be32(inbuf + 84), iso_blocks); /* volume space size, big-endian half */
	run(r12, 4096); /* then the set terminator (type 255) */
	CHECK(GOOD && res.in_done == 4096);
	CHECK(inbuf[0] == 1 && !memcmp(inbuf + 1, "CD001", 5));
	CHECK(inbuf[2048] == 255 && !memcmp(inbuf + 2049, "CD001", 5));
	run(rcd, 2048);
	CHECK(GOOD && inbuf[0] == 1 && !memcmp(inbuf + 1, "CD001", 5));
	/* every block of the disc is the file's */
	CHECK(file && fd >= 0 && pread(fd, file, iso->size, 0) == (ssize_t)iso->size);
	for (uint32_t lba = 0; file && lba < iso_blocks; lba += 32) {
		uint32_t n = iso_blocks - lba < 32 ? iso_blocks - lba : 32;

		r10[2] = lba >> 24, r10[3] = lba >> 16, r10[4] = lba >> 8, r10[5] = lba;
		r10[7] = 0, r10[8] = n;
		run(r10, sizeof(inbuf));
		CHECK(GOOD && res.in_done == n * 2048);
		CHECK(!memcmp(inbuf, file + (size_t)lba * 2048, n * 2048));
	}
	free(file);
	close(fd);
	/* the data-in buffer holds less than asked for */
	r10[2] = r10[3] = r10[4] = 0, r10[5] = 16, r10[8] = 4;
	run(r10, 2048);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x24, 0));
	/* zero blocks: nothing, GOOD */
	r10[8] = 0;
	run(r10, 2048);
	CHECK(GOOD && res.in_done == 0);
	/* a size that is not a multiple of 2048: rounded down */
	drive(odd);
	run(cap, 8);
	CHECK(GOOD && be32(inbuf) == 19);
}

static void test_out_of_range_and_bad_cdbs(void)
{
	uint8_t r10[10] = { 0x28 }, r12[12] = { 0xa8 }, cap[10] = { 0x25, 0, 0, 0, 0, 1 };
	const uint8_t bogus[6] = { 0xff }, speed[12] = { 0xbb, 0, 0xff, 0xff };
	uint8_t rcd[12] = { 0xbe, 0x04 << 2, 0, 0, 0, 16, 0, 0, 1, 0x10 };
	uint32_t last = iso_blocks - 1;

	drive(iso);
	r10[2] = iso_blocks >> 24, r10[3] = iso_blocks >> 16, r10[4] = iso_blocks >> 8;
	r10[5] = iso_blocks, r10[8] = 1;
	run(r10, 2048); /* one past the end */
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x21, 0));
	r10[2] = last >> 24, r10[3] = last >> 16, r10[4] = last >> 8, r10[5] = last, r10[8] = 2;
	run(r10, 4096); /* the last block and one more */
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x21, 0));
	r10[8] = 1;
	run(r10, 2048);
	CHECK(GOOD);
	memset(r12 + 2, 0xff, 4); /* LBA 2^32 - 1, 2^32 - 1 blocks: no overflow */
	memset(r12 + 6, 0xff, 4);
	run(r12, 2048);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x21, 0));
	memset(r12 + 2, 0, 4);
	run(r12, 2048);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x21, 0));
	run(bogus, 64);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x20, 0));
	run_len(r12, 10, 2048); /* a 12-byte command in 10 bytes */
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x20, 0));
	run_len(r12, 0, 2048);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x20, 0));
	run(cap, 8); /* PMI's LBA: obsolete */
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x24, 0));
	run(speed, 0);
	CHECK(GOOD);
	run(rcd, 2048); /* READ CD of mode 2 form 1 sectors: user data */
	CHECK(GOOD && !memcmp(inbuf + 1, "CD001", 5));
	rcd[1] = 1 << 2; /* CD-DA sectors */
	run(rcd, 2048);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x24, 0));
	rcd[1] = 0, rcd[9] = 0xf8; /* with sync, headers and EDC */
	run(rcd, 2352);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x24, 0));
}

static void test_toc(void)
{
	uint8_t toc[10] = { 0x43, 0, 0, 0, 0, 0, 0, 0, 100 };
	uint32_t lo = iso_blocks + 150;

	drive(iso);
	run(toc, 100); /* format 0, LBA */
	CHECK(GOOD && res.in_done == 20);
	CHECK(be16(inbuf) == 18 && inbuf[2] == 1 && inbuf[3] == 1);
	CHECK(inbuf[5] == 0x14 && inbuf[6] == 1 && be32(inbuf + 8) == 0);
	CHECK(inbuf[13] == 0x14 && inbuf[14] == 0xaa && be32(inbuf + 16) == iso_blocks);
	toc[1] = 0x02; /* MSF */
	run(toc, 100);
	CHECK(GOOD && inbuf[9] == 0 && inbuf[10] == 2 && inbuf[11] == 0);
	CHECK(inbuf[17] == lo / 4500 && inbuf[18] == lo / 75 % 60 && inbuf[19] == lo % 75);
	toc[6] = 0xaa; /* from the lead-out: only it */
	run(toc, 100);
	CHECK(GOOD && be16(inbuf) == 10 && inbuf[6] == 0xaa);
	toc[6] = 2; /* no track 2 */
	run(toc, 100);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x24, 0));
	toc[6] = 0, toc[1] = 0, toc[2] = 1; /* format 1: the session */
	run(toc, 100);
	CHECK(GOOD && be16(inbuf) == 10 && inbuf[2] == 1 && inbuf[3] == 1 && inbuf[6] == 1);
	CHECK_EQ(be32(inbuf + 8), 0);
	toc[2] = 0, toc[9] = 0x40; /* the format in byte 9 (SFF-8020i) */
	run(toc, 100);
	CHECK(GOOD && be16(inbuf) == 10);
	toc[9] = 0, toc[2] = 5; /* format 5: not supported */
	run(toc, 100);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x24, 0));
	toc[2] = 0, toc[8] = 4; /* the allocation length cuts the answer */
	run(toc, 100);
	CHECK(GOOD && res.in_done == 4 && be16(inbuf) == 18);
}

/* The feature codes of a GET CONFIGURATION answer, in order; returns how many. */
static unsigned features(uint16_t *codes, uint8_t *current)
{
	unsigned n = 0, off = 8, end = be32(inbuf) + 4;

	while (off + 4 <= end && n < 16) {
		codes[n] = be16(inbuf + off);
		current[n++] = inbuf[off + 2] & 1;
		off += 4 + inbuf[off + 3];
	}
	CHECK_EQ(off, end);
	return n;
}

static void test_get_configuration(void)
{
	uint8_t gc[10] = { 0x46, 0, 0, 0, 0, 0, 0, 1, 0 }; /* allocation 256 */
	static const uint16_t all[] = { 0, 1, 2, 3, 0x10, 0x1e, 0x1f };
	uint16_t codes[16];
	uint8_t cur[16];
	unsigned n;

	drive(iso);
	run(gc, 256);
	CHECK(GOOD && be16(inbuf + 6) == 0x0008); /* current profile: CD-ROM */
	n = features(codes, cur);
	CHECK_EQ(n, 7);
	CHECK(!memcmp(codes, all, sizeof(all)));
	CHECK(cur[4] && cur[5] && !cur[6]); /* random readable, CD read; not DVD read */
	/* the profile list: DVD-ROM (not current), CD-ROM (current) */
	CHECK(be16(inbuf + 12) == 0x10 && !(inbuf[14] & 1));
	CHECK(be16(inbuf + 16) == 0x08 && (inbuf[18] & 1));
	gc[1] = 1; /* RT 1: the current ones */
	run(gc, 256);
	n = features(codes, cur);
	CHECK(n == 6 && codes[5] == 0x1e);
	gc[1] = 2, gc[3] = 0x1f; /* RT 2: that one, current or not */
	run(gc, 256);
	n = features(codes, cur);
	CHECK(n == 1 && codes[0] == 0x1f && !cur[0]);
	gc[1] = 0, gc[3] = 0x10; /* RT 0 from 0x10 on */
	run(gc, 256);
	n = features(codes, cur);
	CHECK(n == 3 && codes[0] == 0x10);
	gc[1] = 3; /* RT 3: reserved */
	run(gc, 256);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x24, 0));
	gc[1] = 0, gc[3] = 0;
	drive(dvd); /* above an 80-minute CD: DVD-ROM */
	run(gc, 256);
	CHECK(GOOD && be16(inbuf + 6) == 0x0010);
	n = features(codes, cur);
	CHECK(n == 7 && !cur[5] && cur[6]);
	drive(NULL); /* empty: no current profile, nothing to read */
	run(gc, 256);
	CHECK(GOOD && be16(inbuf + 6) == 0);
	n = features(codes, cur);
	CHECK(n == 7 && !cur[4] && !cur[5] && !cur[6] && cur[3]);
}

static void test_dvd_structure_disc_track_mechanism(void)
{
	uint8_t ds[12] = { 0xad, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x04 };
	uint8_t di[10] = { 0x51, 0, 0, 0, 0, 0, 0, 0, 34 };
	uint8_t ti[10] = { 0x52, 1, 0, 0, 0, 1, 0, 0, 36 };
	const uint8_t ms[12] = { 0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8 };

	drive(iso);
	run(ds, 2052); /* a CD has no DVD structures */
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x30, 0x02));
	run(di, 34);
	CHECK(GOOD && res.in_done == 34 && be16(inbuf) == 32 && inbuf[2] == 0x0e);
	CHECK(inbuf[3] == 1 && inbuf[4] == 1 && inbuf[6] == 1);
	run(ti, 36); /* track 1 */
	CHECK(GOOD && inbuf[2] == 1 && be32(inbuf + 8) == 0 && be32(inbuf + 24) == iso_blocks);
	ti[5] = 2; /* no track 2 */
	run(ti, 36);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x24, 0));
	ti[1] = 0, ti[5] = 20; /* by an LBA within track 1 */
	run(ti, 36);
	CHECK(GOOD && inbuf[2] == 1);
	run(ms, 8);
	CHECK(GOOD && res.in_done == 8 && !(inbuf[1] & 0x10));
	drive(dvd);
	run(ds, 2052);
	CHECK(GOOD && res.in_done == 2052 && be16(inbuf) == 2050);
	CHECK(inbuf[4] == 0x01 && be32(inbuf + 8) == 0x30000);
	CHECK_EQ(be32(inbuf + 12), 0x30000 + 400000 - 1);
	ds[7] = 1; /* copyright information */
	run(ds, 8);
	CHECK(GOOD && be16(inbuf) == 6);
	ds[7] = 0x30; /* another format */
	run(ds, 64);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x24, 0));
	ds[7] = 0, ds[6] = 1; /* layer 1 of a single-layer disc */
	run(ds, 64);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x24, 0));
}

static void test_mode_sense(void)
{
	uint8_t ms10[10] = { 0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 255 };
	uint8_t ms6[6] = { 0x1a, 0, 0x3f, 0, 255 };
	const uint8_t prevent[6] = { 0x1e, 0, 0, 0, 1 }, allow[6] = { 0x1e };

	drive(iso);
	run(ms10, 255);
	CHECK(GOOD && be16(inbuf) == 8 - 2 + 22 && inbuf[8] == 0x2a && inbuf[9] == 0x14);
	CHECK((inbuf[8 + 2] & 0x08) && (inbuf[8 + 6] & 0x29) == 0x29 && !(inbuf[8 + 6] & 0x02));
	run(prevent, 0);
	CHECK(GOOD);
	run(ms10, 255);
	CHECK(inbuf[8 + 6] & 0x02); /* the lock state */
	run(allow, 0);
	run(ms6, 255); /* all pages: 0x01, 0x0d, 0x2a */
	CHECK(GOOD && inbuf[0] == 4 - 1 + 12 + 8 + 22);
	CHECK(inbuf[4] == 0x01 && inbuf[16] == 0x0d && inbuf[24] == 0x2a);
	CHECK(be16(inbuf + 16 + 4) == 60 && be16(inbuf + 16 + 6) == 75);
	ms6[2] = 0xc0 | 0x2a; /* saved values */
	run(ms6, 255);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x39, 0));
	ms6[2] = 0x08; /* the caching page is a disk's */
	run(ms6, 255);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x24, 0));
	drive(NULL); /* no medium needed */
	ms6[2] = 0x2a;
	run(ms6, 255);
	CHECK(GOOD);
}

static void test_writes_refused(void)
{
	const uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 16, 0, 0, 1 };
	const uint8_t w12[12] = { 0xaa, 0, 0, 0, 0, 16, 0, 0, 0, 1 };
	const uint8_t blank[12] = { 0xa1 }, sync[10] = { 0x35 };

	drive(iso);
	run(w10, 0);
	CHECK(SENSE(SK_DATA_PROTECT, 0x27, 0));
	run(w12, 0);
	CHECK(SENSE(SK_DATA_PROTECT, 0x27, 0));
	run(blank, 0);
	CHECK(SENSE(SK_DATA_PROTECT, 0x27, 0));
	run(sync, 0);
	CHECK(GOOD);
	drive(NULL);
	run(w10, 0);
	CHECK(SENSE(SK_NOT_READY, 0x3a, 0x01));
}

static void gesn(uint8_t *event, uint8_t *status)
{
	const uint8_t cdb[10] = { 0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8 };

	run(cdb, 8);
	CHECK(GOOD && res.in_done == 8 && inbuf[2] == 4 && inbuf[3] == 0x10);
	*event = inbuf[4] & 0x0f;
	*status = inbuf[5];
}

static void test_events_and_unit_attention(void)
{
	uint8_t ev, st, rs[6] = { 0x03, 0, 0, 0, 18 };
	const uint8_t async[10] = { 0x4a, 0, 0, 0, 0x10, 0, 0, 0, 8 };
	const uint8_t other[10] = { 0x4a, 1, 0, 0, 0x02, 0, 0, 0, 8 };
	const uint8_t gc[10] = { 0x46, 0, 0, 0, 0, 0, 0, 0, 8 };
	struct disk *old;

	drive(NULL); /* empty, tray closed */
	run(TUR, 0);
	CHECK(SENSE(SK_NOT_READY, 0x3a, 0x01));
	run(rs, 18);
	CHECK(GOOD && inbuf[2] == SK_NOT_READY && inbuf[12] == 0x3a && inbuf[13] == 0x01);
	gesn(&ev, &st);
	CHECK(ev == MMC_EV_NONE && st == 0);
	run(async, 8); /* asynchronous notification: not supported */
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x24, 0));
	run(other, 8); /* no class we have: NEA */
	CHECK(GOOD && (inbuf[2] & 0x80) && be16(inbuf) == 2);

	/* a medium goes in: one unit attention, one new-media event; GET CONFIGURATION and
	 * GET EVENT STATUS NOTIFICATION do not take the unit attention */
	scsi_mmc_load(&luns[0], iso);
	gesn(&ev, &st);
	CHECK(ev == MMC_EV_NEW_MEDIA && st == 0x02);
	gesn(&ev, &st);
	CHECK(ev == MMC_EV_NONE && st == 0x02); /* reported once */
	run(gc, 8);
	CHECK(GOOD && be16(inbuf + 6) == 0x0008);
	run(TUR, 0);
	CHECK(SENSE(SK_UNIT_ATTENTION, 0x28, 0));
	run(TUR, 0);
	CHECK(GOOD); /* once */
	scsi_mmc_load(&luns[0], iso); /* REQUEST SENSE returns it and clears it */
	run(rs, 18);
	CHECK(GOOD && inbuf[2] == SK_UNIT_ATTENTION && inbuf[12] == 0x28);
	run(TUR, 0);
	CHECK(GOOD);
	run(rs, 18);
	CHECK(GOOD && inbuf[2] == SK_NO_SENSE);

	/* the host ejects: the tray opens, a media-removal event */
	CHECK_EQ(scsi_mmc_unload(&luns[0], false, &old), 0);
	CHECK(old == iso && luns[0].disk == NULL);
	run(TUR, 0);
	CHECK(SENSE(SK_NOT_READY, 0x3a, 0x02));
	gesn(&ev, &st);
	CHECK(ev == MMC_EV_MEDIA_REMOVAL && st == 0x01);
	/* a reset's unit attention is not replaced by the medium's */
	luns[0].ua_asc = 0x29, luns[0].ua_ascq = 0x03;
	scsi_mmc_load(&luns[0], iso);
	run(TUR, 0);
	CHECK(SENSE(SK_UNIT_ATTENTION, 0x29, 0x03));
	run(TUR, 0);
	CHECK(GOOD);
}

static void test_prevent_and_eject(void)
{
	const uint8_t prevent[6] = { 0x1e, 0, 0, 0, 1 }, allow[6] = { 0x1e };
	const uint8_t eject[6] = { 0x1b, 0, 0, 0, 0x02 }, load[6] = { 0x1b, 0, 0, 0, 0x03 };
	const uint8_t ms[12] = { 0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8 };
	const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 1 };
	uint8_t ev, st;
	struct disk *old;

	drive(iso);
	run(prevent, 0);
	CHECK(GOOD && mmc.prevent);
	run(eject, 0); /* the guest's own eject, locked */
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x53, 0x02));
	CHECK_EQ(scsi_mmc_unload(&luns[0], false, &old), -EBUSY); /* the host's */
	CHECK(old == NULL && luns[0].disk == iso);
	gesn(&ev, &st);
	CHECK(ev == MMC_EV_EJECT_REQUEST && st == 0x02);
	run(r10, 2048);
	CHECK(GOOD); /* still readable */
	run(allow, 0);
	run(eject, 0);
	CHECK(GOOD && mmc.tray_open);
	run(TUR, 0);
	CHECK(SENSE(SK_NOT_READY, 0x3a, 0x02));
	run(r10, 2048);
	CHECK(SENSE(SK_NOT_READY, 0x3a, 0x02));
	run(ms, 8);
	CHECK(GOOD && (inbuf[1] & 0x10)); /* door open */
	gesn(&ev, &st);
	CHECK(ev == MMC_EV_MEDIA_REMOVAL && st == 0x01);
	run(load, 0); /* the disc still in the tray comes back */
	CHECK(GOOD && !mmc.tray_open);
	gesn(&ev, &st);
	CHECK(ev == MMC_EV_NEW_MEDIA && st == 0x02);
	run(r10, 2048);
	CHECK(GOOD && !memcmp(inbuf + 1, "CD001", 5));
	run(prevent, 0); /* forced: taken out all the same */
	CHECK_EQ(scsi_mmc_unload(&luns[0], true, &old), 0);
	CHECK(old == iso && mmc.tray_open);
	run(TUR, 0);
	CHECK(SENSE(SK_NOT_READY, 0x3a, 0x02));
}

int main(void)
{
	if (!make_images()) {
		printf("SKIP test_scsi_mmc: cannot make the ISO image (xorriso: make test-deps)\n");
		return 0;
	}
	iso_blocks = iso->size / 2048;
	RUN(test_inquiry_and_luns);
	RUN(test_capacity_and_pvd);
	RUN(test_out_of_range_and_bad_cdbs);
	RUN(test_toc);
	RUN(test_get_configuration);
	RUN(test_dvd_structure_disc_track_mechanism);
	RUN(test_mode_sense);
	RUN(test_writes_refused);
	RUN(test_events_and_unit_attention);
	RUN(test_prevent_and_eject);
	disk_close(iso);
	disk_close(dvd);
	disk_close(odd);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return check_done();
}
