/* SCSI command emulation without KVM: every supported command, sense data for errors. */
#include "check.h"
#include "testdisk.h"
#include "devices/virtio/scsi_emu.h"

#include <stdio.h>

static struct scsi_lun luns[2];
static struct disk *dk;
static uint8_t inbuf[131072], outbuf[131072];
static struct scsi_result res;
static char path[64];

static void run(unsigned lun, const uint8_t *cdb, size_t cdb_len, size_t out_len, size_t in_len)
{
	struct iovec oi = { outbuf, out_len }, ii = { inbuf, in_len };
	struct scsi_buf o = { &oi, 1, out_len }, i = { &ii, 1, in_len };

	memset(inbuf, 0xcc, sizeof(inbuf));
	scsi_exec(luns, 2, lun, cdb, cdb_len, &o, &i, &res);
}

#define SENSE(k, a) (res.status == SCSI_CHECK_CONDITION && res.sense[2] == (k) && res.sense[12] == (a))

static void up(bool ro)
{
	snprintf(path, sizeof(path), "/tmp/vsrv-scsi-test.%d", getpid());
	unlink(path);
	dk = testdisk_open(path, 1 << 20, ro);
	memset(luns, 0, sizeof(luns));
	luns[0].disk = dk;
	luns[0].nblocks = 2048;
	luns[0].readonly = ro;
	strcpy(luns[0].serial, "SERIAL0");
	luns[0].naa = 0x6001405000000001ULL;
}

static void down(void)
{
	testdisk_close(dk);
	unlink(path);
}

static void test_inquiry(void)
{
	const uint8_t std[6] = { 0x12, 0, 0, 0, 96, 0 };
	uint8_t vpd[6] = { 0x12, 1, 0, 0, 255, 0 };

	up(false);
	run(0, std, 6, 0, 96);
	CHECK_EQ(res.status, 0);
	CHECK_EQ(res.in_done, 36);
	CHECK_EQ(inbuf[0], 0);
	CHECK(!memcmp(inbuf + 8, "VSRV    VIRTUAL DISK    ", 24));
	run(1, std, 6, 0, 96); /* absent LUN */
	CHECK_EQ(inbuf[0], 0x7f);
	run(0, vpd, 6, 0, 255);
	CHECK_EQ(inbuf[3], 6);
	CHECK(!memcmp(inbuf + 4, "\x00\x80\x83\xb0\xb1\xb2", 6));
	vpd[2] = 0x80;
	run(0, vpd, 6, 0, 255);
	CHECK(!memcmp(inbuf + 4, "SERIAL0", 7));
	vpd[2] = 0x83;
	run(0, vpd, 6, 0, 255);
	CHECK_EQ(inbuf[4], 1);
	CHECK_EQ(inbuf[8], 0x60);
	vpd[2] = 0xb0;
	run(0, vpd, 6, 0, 255);
	CHECK_EQ(inbuf[3], 0x3c);
	/* Block limits: granularity is the 16-bit field at 6; the transfer lengths (8 and 12)
	 * must not cap requests at a few blocks (Linux takes io_opt from bytes 12-15). */
	CHECK_EQ((inbuf[6] << 8) | inbuf[7], 8);
	CHECK_EQ((uint32_t)inbuf[8] << 24 | inbuf[9] << 16 | inbuf[10] << 8 | inbuf[11], 65536);
	CHECK_EQ((uint32_t)inbuf[12] << 24 | inbuf[13] << 16 | inbuf[14] << 8 | inbuf[15], 65536);
	vpd[2] = 0xb2;
	run(0, vpd, 6, 0, 255);
	CHECK(inbuf[5] & 0x80);
	vpd[2] = 0x99;
	run(0, vpd, 6, 0, 255);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x24));
	/* allocation length truncates */
	vpd[2] = 0;
	vpd[4] = 5;
	run(0, vpd, 6, 0, 255);
	CHECK_EQ(res.in_done, 5);
	down();
}

static void test_capacity_luns_tur(void)
{
	const uint8_t rc10[10] = { 0x25 };
	const uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32 };
	const uint8_t rl[12] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	const uint8_t tur[6] = { 0 };
	const uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };

	up(false);
	run(0, rc10, 10, 0, 8);
	CHECK_EQ(inbuf[3], 0xff);
	CHECK_EQ(inbuf[2], 0x07); /* last LBA 2047 */
	CHECK_EQ(inbuf[6], 2);    /* 512 */
	run(0, rc16, 16, 0, 32);
	CHECK_EQ(inbuf[7], 0xff);
	CHECK_EQ(inbuf[14] & 0x80, 0x80);
	run(0, rl, 12, 0, 256);
	CHECK_EQ(inbuf[3], 8); /* one LUN */
	CHECK_EQ(inbuf[9], 0);
	run(0, tur, 6, 0, 0);
	CHECK_EQ(res.status, 0);
	run(1, tur, 6, 0, 0);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x25));
	run(0, rs, 6, 0, 18);
	CHECK_EQ(inbuf[0], 0x70);
	CHECK_EQ(inbuf[2], 0);
	down();
}

static void test_read_write(void)
{
	uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 10, 0, 0, 4, 0 };
	uint8_t r16[16] = { 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 4 };
	uint8_t r6[6] = { 0x08, 0, 0, 10, 1, 0 };
	uint8_t w6[6] = { 0x0a, 0, 0, 20, 0, 0 }; /* 0 blocks means 256 */
	int i;

	up(false);
	for (i = 0; i < 2048; i++)
		outbuf[i] = i * 3;
	run(0, w10, 10, 2048, 0);
	CHECK_EQ(res.status, 0);
	run(0, r16, 16, 0, 2048);
	CHECK_EQ(res.status, 0);
	CHECK_EQ(res.in_done, 2048);
	CHECK(!memcmp(inbuf, outbuf, 2048));
	run(0, r6, 6, 0, 512);
	CHECK(!memcmp(inbuf, outbuf, 512));
	run(0, w6, 6, 256 * 512, 0);
	CHECK_EQ(res.status, 0);
	/* errors: beyond the end, short buffer */
	r16[8] = 0x10;
	run(0, r16, 16, 0, 2048);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x21));
	r16[8] = 0;
	r16[9] = 0xff;
	r16[6] = 0xff; /* huge lba */
	run(0, r16, 16, 0, 2048);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x21));
	run(0, w10, 10, 100, 0);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x24));
	down();
	up(true);
	run(0, w10, 10, 2048, 0);
	CHECK(SENSE(SK_DATA_PROTECT, 0x27));
	down();
}

static void test_unmap_write_same_sync(void)
{
	uint8_t um[10] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 };
	uint8_t ws16[16] = { 0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16 };
	uint8_t ws10[10] = { 0x41, 0, 0, 0, 0, 100, 0, 0, 4, 0 };
	uint8_t sync[10] = { 0x35 };
	uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 100, 0, 0, 4, 0 };
	uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 16, 0 };

	up(false);
	memset(outbuf, 0x77, 8192);
	run(0, w10, 10, 8192, 0);
	memset(outbuf, 0, 24);
	outbuf[1] = 22;
	outbuf[3] = 16;
	outbuf[15] = 8; /* lba 0, 8 blocks */
	outbuf[19] = 8;
	run(0, um, 10, 24, 0);
	CHECK_EQ(res.status, 0);
	outbuf[15] = 0;
	outbuf[12] = 0xff; /* beyond the end */
	run(0, um, 10, 24, 0);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x21));
	run(0, um, 10, 4, 0); /* short parameter list */
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x1a));
	memset(outbuf, 0, 512);
	run(0, ws16, 16, 512, 0); /* zeros with UNMAP */
	CHECK_EQ(res.status, 0);
	memset(outbuf, 0x42, 512);
	run(0, ws10, 10, 512, 0); /* pattern */
	CHECK_EQ(res.status, 0);
	run(0, r10, 10, 0, 2048);
	CHECK_EQ(inbuf[0], 0x42);
	CHECK_EQ(inbuf[2047], 0x42);
	run(0, ws16, 16, 512, 0); /* UNMAP with non-zero data */
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x24));
	run(0, sync, 10, 0, 0);
	CHECK_EQ(res.status, 0);
	down();
}

static void test_mode_sense_and_unknown(void)
{
	uint8_t ms6[6] = { 0x1a, 0, 0x08, 0, 255, 0 };
	uint8_t ms10[10] = { 0x5a, 0x08, 0x3f, 0, 0, 0, 0, 0, 255, 0 };
	uint8_t bad[6] = { 0xc5 };

	up(true);
	run(0, ms6, 6, 0, 255);
	CHECK_EQ(res.status, 0);
	CHECK_EQ(inbuf[2], 0x80); /* write protected */
	CHECK_EQ(inbuf[3], 8);    /* block descriptor */
	CHECK_EQ(inbuf[12], 0x08);
	CHECK_EQ(inbuf[14] & 4, 4);
	CHECK_EQ(inbuf[0] + 1, (int)res.in_done);
	run(0, ms10, 10, 0, 255);
	CHECK_EQ(res.status, 0);
	CHECK_EQ(inbuf[8], 0x08); /* DBD: pages right after the header */
	ms6[2] = 0x1c;
	run(0, ms6, 6, 0, 255);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x24));
	run(0, bad, 6, 0, 0);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x20));
	run(0, bad, 0, 0, 0);
	CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x20));
	{
		uint8_t shortcdb[3] = { 0x88 }; /* READ 16 with 3 bytes */

		run(0, shortcdb, 3, 0, 0);
		CHECK(SENSE(SK_ILLEGAL_REQUEST, 0x20));
	}
	down();
}

int main(void)
{
	RUN(test_inquiry);
	RUN(test_capacity_luns_tur);
	RUN(test_read_write);
	RUN(test_unmap_write_same_sync);
	RUN(test_mode_sense_and_unknown);
	return check_done();
}
