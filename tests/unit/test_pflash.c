/* Unit tests of the CFI flash (devices/pflash.c) over a vars file made from Debian's
 * OVMF_VARS_4M.fd (package ovmf): OVMF's own sequences (QemuFlashDetected's probe,
 * QemuFlashEraseBlock, QemuFlashWrite), the CFI query table and read ID, program and
 * erase semantics, garbage commands, accesses beyond the
 * device, persistence across a re-open, the file lock, bad files, save and restore. */
#include "check.h"
#include "scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/pflash.h"

#define VARS_SIZE 540672u   /* OVMF_VARS_4M.fd: 132 blocks of 4 KiB */

static int mode_calls;
static bool mode_array = true;

static void on_mode(void *opaque, bool array)
{
	(void)opaque;
	mode_calls++;
	mode_array = array;
}

static void wb(struct pflash *pf, uint64_t off, uint8_t v)
{
	pflash_io(pf, off, &v, 1, true);
}

static uint8_t rb(struct pflash *pf, uint64_t off)
{
	uint8_t v = 0x5a;

	pflash_io(pf, off, &v, 1, false);
	return v;
}

static struct pflash *open_vars(const char *name)
{
	struct pflash *pf = NULL;

	if (pflash_open(P(name), PFLASH_VARS_TEMPLATE, on_mode, NULL, &pf))
		return NULL;
	return pf;
}

static bool file_equals_template(const char *path)
{
	static uint8_t a[VARS_SIZE], b[VARS_SIZE];
	int fa = open(path, O_RDONLY), fb = open(PFLASH_VARS_TEMPLATE, O_RDONLY);
	bool eq = fa >= 0 && fb >= 0 && read(fa, a, sizeof(a)) == VARS_SIZE &&
		  read(fb, b, sizeof(b)) == VARS_SIZE && !memcmp(a, b, sizeof(a));

	close(fa);
	close(fb);
	return eq;
}

static uint8_t file_byte(const char *path, uint64_t off)
{
	uint8_t v = 0;
	int fd = open(path, O_RDONLY);

	if (pread(fd, &v, 1, (off_t)off) != 1)
		v = 0x5a;
	close(fd);
	return v;
}

static void test_template(void)
{
	struct stat sb;
	struct pflash *pf;

	CHECK_EQ(stat(PFLASH_VARS_TEMPLATE, &sb), 0);  /* Debian's ovmf: mk/deps.sh test */
	CHECK_EQ(sb.st_size, VARS_SIZE);
	CHECK_EQ(stat(P("t.fd"), &sb), -1);
	pf = open_vars("t.fd");
	CHECK(pf != NULL);
	if (!pf)
		return;
	CHECK_EQ(pflash_size(pf), VARS_SIZE);
	CHECK(file_equals_template(P("t.fd")));
	CHECK(!memcmp(pflash_array(pf) + 0x28, "_FVH", 4));  /* the variable store's FV */
	CHECK(pflash_in_array_mode(pf));
	pflash_close(pf);
	/* An existing file is used as it is, never replaced by the template. */
	CHECK_EQ(truncate(P("t.fd"), 2 * PFLASH_BLOCK_SIZE), 0);
	pf = open_vars("t.fd");
	CHECK(pf && pflash_size(pf) == 2 * PFLASH_BLOCK_SIZE);
	pflash_close(pf);
	/* No file and no template. */
	CHECK_EQ(pflash_open(P("none.fd"), NULL, NULL, NULL, &pf), -ENOENT);
	CHECK_EQ(pflash_open(P("none.fd"), P("missing-template"), NULL, NULL, &pf), -ENOENT);
	CHECK_EQ(stat(P("none.fd"), &sb), -1);
}

/* OvmfPkg QemuFlashDetected: the first byte of block 0 that is not 0x50, 0x70 or 0x00;
 * write 0x50 and read (RAM would give 0x50 back), write 0x70 and read (flash: the cleared
 * status 0x00; ROM: the original byte), program the original byte over itself and read
 * the status (bit 4 set: write-protected), then 0xFF. */
static void test_ovmf_probe(void)
{
	struct pflash *pf = open_vars("probe.fd");
	uint64_t off;
	uint8_t orig, probe;

	CHECK(pf != NULL);
	if (!pf)
		return;
	for (off = 0; off < PFLASH_BLOCK_SIZE; off++) {
		probe = pflash_array(pf)[off];
		if (probe != 0x50 && probe != 0x70 && probe != 0x00)
			break;
	}
	CHECK_EQ(off, 0x10);  /* the FV header's GUID after 16 zero bytes */
	orig = rb(pf, off);
	CHECK_EQ(orig, 0x8d);
	mode_calls = 0;
	wb(pf, off, 0x50);
	probe = rb(pf, off);
	CHECK_EQ(probe, orig);            /* not RAM */
	wb(pf, off, 0x70);
	CHECK(!mode_array);
	probe = rb(pf, off);
	CHECK_EQ(probe, 0x00);            /* "FD behaves as FLASH" */
	/* ... and writable: program the original byte over itself, read the status, bit 4
	 * (program error) must be clear */
	wb(pf, off, 0x10);
	wb(pf, off, orig);
	wb(pf, off, 0x70);
	probe = rb(pf, off);
	CHECK_EQ(probe & 0x10, 0);
	CHECK_EQ(probe, PFLASH_SR_READY);
	wb(pf, off, 0xff);
	CHECK(mode_array);
	CHECK_EQ(mode_calls, 2);          /* left array mode once, came back once */
	CHECK_EQ(rb(pf, off), orig);
	pflash_close(pf);
	CHECK(file_equals_template(P("probe.fd")));
}

/* QemuFlashEraseBlock then QemuFlashWrite, as OVMF's FVB driver does them. */
static void erase_block(struct pflash *pf, uint64_t lba)
{
	wb(pf, lba * PFLASH_BLOCK_SIZE, 0x20);
	wb(pf, lba * PFLASH_BLOCK_SIZE, 0xd0);
}

static void flash_write(struct pflash *pf, uint64_t lba, uint64_t off, const uint8_t *buf,
			size_t n)
{
	uint64_t p = lba * PFLASH_BLOCK_SIZE + off;

	for (size_t i = 0; i < n; i++, p++) {
		wb(pf, p, 0x10);
		wb(pf, p, buf[i]);
	}
	if (n)
		wb(pf, p - 1, 0xff);
}

static void test_ovmf_erase_write(void)
{
	struct pflash *pf = open_vars("ew.fd");
	const uint8_t *a;
	uint8_t buf[300], st;
	uint64_t base = 0x41 * PFLASH_BLOCK_SIZE; /* the FTW working block */
	size_t i;

	CHECK(pf != NULL);
	if (!pf)
		return;
	a = pflash_array(pf);
	CHECK(a[base] != 0xff);
	erase_block(pf, 0x41);
	CHECK(!pflash_in_array_mode(pf));
	st = rb(pf, base + 123);          /* after an erase, reads give the status */
	CHECK_EQ(st, PFLASH_SR_READY);
	for (i = 0; i < PFLASH_BLOCK_SIZE; i++)
		if (a[base + i] != 0xff)
			break;
	CHECK_EQ(i, PFLASH_BLOCK_SIZE);  /* the mapping shows the erase at once */
	CHECK(a[base - 1] != 0xff || a[base + PFLASH_BLOCK_SIZE] != 0xff ||
	      a[0x10] == 0x8d);           /* neighbours untouched */
	CHECK_EQ(a[0x10], 0x8d);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37 + 1);
	mode_calls = 0;
	flash_write(pf, 0x41, 100, buf, sizeof(buf));
	CHECK(pflash_in_array_mode(pf));
	CHECK_EQ(mode_calls, 1);          /* 300 byte programs: the VMM remaps once, at 0xFF */
	CHECK(!memcmp(a + base + 100, buf, sizeof(buf)));
	for (i = 0; i < sizeof(buf); i++)
		CHECK_EQ(rb(pf, base + 100 + i), buf[i]);
	CHECK_EQ(a[base + 99], 0xff);
	CHECK_EQ(a[base + 100 + sizeof(buf)], 0xff);
	/* The file has it (already written when the guest's 0xFF returned). */
	CHECK_EQ(file_byte(P("ew.fd"), base + 100 + 7), buf[7]);
	/* A program stores the byte as written (QEMU's pflash_cfi01 does; OVMF relies on
	 * nothing else); an erase sets the whole block to 0xFF again. */
	buf[0] = 0x0f;
	flash_write(pf, 0x41, 0, buf, 1);
	CHECK_EQ(a[base], 0x0f);
	buf[0] = 0xf3;
	flash_write(pf, 0x41, 0, buf, 1);
	CHECK_EQ(a[base], 0xf3);
	erase_block(pf, 0x41);
	wb(pf, base, 0xff);
	CHECK_EQ(a[base], 0xff);
	CHECK_EQ(a[base + 100], 0xff);
	/* 0x40 is a program too, and a 32-bit data write programs 4 bytes. */
	{
		uint32_t v = 0x12345678;

		wb(pf, base + 8, 0x40);
		pflash_io(pf, base + 8, (uint8_t *)&v, 4, true);
		CHECK_EQ(rb(pf, base + 8), PFLASH_SR_READY);  /* status until 0xFF */
		wb(pf, base + 8, 0xff);
		CHECK(!memcmp(a + base + 8, &v, 4));
	}
	pflash_close(pf);
}

static void test_cfi_query(void)
{
	struct pflash *pf = open_vars("cfi.fd");
	uint32_t blocks, bsize, i;
	uint8_t t[0x40];

	CHECK(pf != NULL);
	if (!pf)
		return;
	wb(pf, 0x55, 0x98);
	CHECK(!mode_array);
	for (i = 0; i < sizeof(t); i++)
		t[i] = rb(pf, i);
	CHECK(!memcmp(t + 0x10, "QRY", 3));
	CHECK_EQ(t[0x13] | t[0x14] << 8, 0x0001);  /* Intel/Sharp command set */
	CHECK_EQ(t[0x15] | t[0x16] << 8, 0x0031);  /* extended table address */
	CHECK(!memcmp(t + 0x31, "PRI", 3));
	CHECK_EQ(t[0x34], '1');
	CHECK_EQ(t[0x27], 20);                     /* 2^20 >= 528 KiB > 2^19 */
	CHECK_EQ(t[0x28] | t[0x29] << 8, 0);       /* x8 */
	CHECK_EQ(t[0x2c], 1);
	blocks = (uint32_t)(t[0x2d] | t[0x2e] << 8) + 1;
	bsize = (uint32_t)(t[0x2f] | t[0x30] << 8) * 256;
	CHECK_EQ(blocks, 132);
	CHECK_EQ(bsize, PFLASH_BLOCK_SIZE);
	CHECK_EQ((uint64_t)blocks * bsize, pflash_size(pf));
	CHECK_EQ(t[0x3f], 0);                      /* past the table */
	/* The same table from any block (address bits above 8 are ignored). */
	CHECK_EQ(rb(pf, 5 * PFLASH_BLOCK_SIZE + 0x11), 'R');
	/* Read ID */
	wb(pf, 0, 0x90);
	CHECK_EQ(rb(pf, 0), PFLASH_MANUFACTURER);
	CHECK_EQ(rb(pf, 1), PFLASH_DEVICE_ID);
	CHECK_EQ(rb(pf, 2), 0);                    /* block 0 unlocked */
	CHECK_EQ(rb(pf, 3 * PFLASH_BLOCK_SIZE + 2), 0);
	wb(pf, 0, 0xff);
	CHECK(mode_array);
	CHECK_EQ(rb(pf, 0x10), 0x8d);
	pflash_close(pf);
	CHECK(file_equals_template(P("cfi.fd")));
}

static void test_garbage(void)
{
	static const uint8_t junk[] = { 0x00, 0x01, 0x42, 0x60, 0xe8, 0xd0, 0x30, 0x80 };
	struct pflash *pf = open_vars("junk.fd");
	uint64_t base = 0x50 * PFLASH_BLOCK_SIZE;
	unsigned i, seed = 12345;

	CHECK(pf != NULL);
	if (!pf)
		return;
	wb(pf, 0, 0x50);
	for (i = 0; i < sizeof(junk); i++) {
		wb(pf, 0x20, junk[i]);
		CHECK(pflash_in_array_mode(pf));   /* back to read array */
		CHECK_EQ(rb(pf, 0x10), 0x8d);
		wb(pf, 0x20, 0x70);
		CHECK_EQ(rb(pf, 0x20), PFLASH_SR_READY | PFLASH_SR_ERASE_ERR | PFLASH_SR_PROG_ERR);
		wb(pf, 0x20, 0x50);
		wb(pf, 0x20, 0x70);
		CHECK_EQ(rb(pf, 0x20), 0);
		wb(pf, 0x20, 0xff);
	}
	/* An erase setup not confirmed: nothing erased, a sequence error. */
	erase_block(pf, 0x50);
	flash_write(pf, 0x50, 0, (const uint8_t *)"\x11", 1);
	wb(pf, base, 0x20);
	wb(pf, base, 0x10);
	CHECK(pflash_in_array_mode(pf));
	CHECK_EQ(pflash_array(pf)[base], 0x11);
	wb(pf, base, 0x70);
	CHECK_EQ(rb(pf, base) & 0x30, 0x30);
	/* An erase setup cancelled by 0xFF: nothing erased, no error. */
	wb(pf, base, 0x50);
	wb(pf, base, 0x20);
	wb(pf, base, 0xff);
	CHECK_EQ(pflash_array(pf)[base], 0x11);
	wb(pf, base, 0x70);
	CHECK_EQ(rb(pf, base), 0);
	/* Random commands and data at random places, inside and past the end: the device
	 * survives, and the usual sequence works afterwards. */
	for (i = 0; i < 20000; i++) {
		uint8_t d[4];
		uint32_t len = 1u << ((seed >> 7) & 3) % 3;

		seed = seed * 1103515245 + 12345;
		memcpy(d, &seed, 4);
		seed = seed * 1103515245 + 12345;
		pflash_io(pf, (seed >> 8) % (VARS_SIZE + 64), d, len, (seed & 3) != 0);
	}
	wb(pf, 0, 0x50);
	CHECK(pflash_in_array_mode(pf));
	erase_block(pf, 3);
	flash_write(pf, 3, 5, (const uint8_t *)"ok", 2);
	CHECK(!memcmp(pflash_array(pf) + 3 * PFLASH_BLOCK_SIZE + 5, "ok", 2));
	pflash_close(pf);
}

static void test_beyond(void)
{
	struct pflash *pf = open_vars("beyond.fd");
	uint32_t v = 0;
	uint8_t last;

	CHECK(pf != NULL);
	if (!pf)
		return;
	last = pflash_array(pf)[VARS_SIZE - 1];
	/* A program straddling the end: refused, a program error, nothing written. */
	wb(pf, VARS_SIZE - 2, 0x10);
	pflash_io(pf, VARS_SIZE - 2, (uint8_t *)&v, 4, true);
	CHECK_EQ(rb(pf, VARS_SIZE - 2), PFLASH_SR_READY | PFLASH_SR_PROG_ERR);
	wb(pf, 0, 0xff);
	CHECK_EQ(pflash_array(pf)[VARS_SIZE - 1], last);
	CHECK_EQ(file_byte(P("beyond.fd"), VARS_SIZE - 1), last);
	/* Program and erase at or past the end (an access delivered at any offset). */
	wb(pf, 0, 0x50);
	wb(pf, VARS_SIZE, 0x10);
	wb(pf, VARS_SIZE, 0x00);
	CHECK_EQ(rb(pf, 0), PFLASH_SR_READY | PFLASH_SR_PROG_ERR);
	wb(pf, 0, 0x50);
	wb(pf, UINT64_MAX - 1, 0x20);
	wb(pf, UINT64_MAX - 1, 0xd0);
	CHECK_EQ(rb(pf, 0), PFLASH_SR_READY | PFLASH_SR_ERASE_ERR);
	wb(pf, 0, 0xff);
	/* Reads past the end: 0xFF, in every mode. */
	CHECK_EQ(rb(pf, VARS_SIZE), 0xff);
	v = 0;
	pflash_io(pf, VARS_SIZE - 1, (uint8_t *)&v, 4, false);
	CHECK_EQ(v, 0xffffff00u | last);
	wb(pf, 0, 0x98);
	CHECK_EQ(rb(pf, VARS_SIZE + 0x10), 0xff);
	wb(pf, 0, 0xff);
	CHECK_EQ(file_byte(P("beyond.fd"), VARS_SIZE), 0x5a);  /* the file did not grow */
	pflash_close(pf);
}

static void test_persistence(void)
{
	struct pflash *pf = open_vars("keep.fd"), *pf2 = NULL;
	uint64_t base = 7 * PFLASH_BLOCK_SIZE;

	CHECK(pf != NULL);
	if (!pf)
		return;
	erase_block(pf, 7);
	flash_write(pf, 7, 16, (const uint8_t *)"Boot0001", 8);
	/* The file is locked: a second VM on it is refused. */
	CHECK_EQ(pflash_open(P("keep.fd"), PFLASH_VARS_TEMPLATE, NULL, NULL, &pf2), -EBUSY);
	pflash_close(pf);
	pf = open_vars("keep.fd");
	CHECK(pf != NULL);
	if (!pf)
		return;
	CHECK(!memcmp(pflash_array(pf) + base + 16, "Boot0001", 8));
	CHECK_EQ(pflash_array(pf)[base + 15], 0xff);
	CHECK_EQ(pflash_array(pf)[base + 24], 0xff);
	CHECK_EQ(pflash_flush(pf), 0);
	pflash_close(pf);
}

static void test_bad_files(void)
{
	struct pflash *pf = NULL;
	int fd;

	fd = open(P("odd.fd"), O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0 && ftruncate(fd, 1000) == 0);
	close(fd);
	CHECK_EQ(pflash_open(P("odd.fd"), NULL, NULL, NULL, &pf), -EINVAL);
	fd = open(P("empty.fd"), O_CREAT | O_WRONLY, 0600);
	close(fd);
	CHECK_EQ(pflash_open(P("empty.fd"), NULL, NULL, NULL, &pf), -EINVAL);
	fd = open(P("huge.fd"), O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0 && ftruncate(fd, PFLASH_MAX_SIZE + PFLASH_BLOCK_SIZE) == 0);
	close(fd);
	CHECK_EQ(pflash_open(P("huge.fd"), NULL, NULL, NULL, &pf), -EINVAL);
	CHECK_EQ(mkdir(P("dir.fd"), 0700), 0);
	CHECK(pflash_open(P("dir.fd"), NULL, NULL, NULL, &pf) < 0);
	/* A bad template creates nothing. */
	CHECK_EQ(pflash_open(P("new.fd"), P("odd.fd"), NULL, NULL, &pf), -EINVAL);
	CHECK_EQ(access(P("new.fd"), F_OK), -1);
}

static void test_save_restore(void)
{
	struct pflash *a = open_vars("sa.fd"), *b = open_vars("sb.fd");
	struct pflash_state st, bad;
	uint64_t base = 9 * PFLASH_BLOCK_SIZE;

	CHECK(a && b);
	if (!a || !b)
		return;
	erase_block(a, 9);
	wb(a, base, 0x10);                 /* a program pending */
	pflash_save(a, &st);
	CHECK_EQ(st.mode, PFLASH_PROGRAM);
	CHECK_EQ(st.status, PFLASH_SR_READY);
	erase_block(b, 9);                 /* the contents come with the file, not the state */
	wb(b, base, 0xff);
	CHECK(mode_array);
	CHECK_EQ(pflash_restore(b, &st), 0);
	CHECK(!mode_array);                /* the VMM is told to unmap the array */
	wb(b, base, 0x42);                 /* the data cycle of the restored program */
	wb(b, base, 0xff);
	CHECK_EQ(pflash_array(b)[base], 0x42);
	pflash_save(b, &st);
	CHECK_EQ(st.mode, PFLASH_READ_ARRAY);
	bad = st;
	bad.mode = PFLASH_MODE_COUNT;
	CHECK_EQ(pflash_restore(b, &bad), -EINVAL);
	bad = st;
	bad.status = 0x08;                 /* VPP low: never set by this device */
	CHECK_EQ(pflash_restore(b, &bad), -EINVAL);
	bad = st;
	bad.reserved[3] = 1;
	CHECK_EQ(pflash_restore(b, &bad), -EINVAL);
	pflash_save(b, &bad);
	CHECK(!memcmp(&bad, &st, sizeof(st)));  /* refused restores changed nothing */
	pflash_close(a);
	pflash_close(b);
}

int main(void)
{
	if (scratch_make("vsrv-pflash"))
		return 1;
	RUN(test_template);
	RUN(test_ovmf_probe);
	RUN(test_ovmf_erase_write);
	RUN(test_cfi_query);
	RUN(test_garbage);
	RUN(test_beyond);
	RUN(test_persistence);
	RUN(test_bad_files);
	RUN(test_save_restore);
	scratch_remove();
	return check_done();
}
