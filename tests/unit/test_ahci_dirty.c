/* The AHCI controller marks its disk's dirty-block bitmap (disk.h) for every write it
 * completes: queued (NCQ) writes that go to io_uring on the raw image's direct_fd (around
 * the disk layer: the controller marks at the completion) and plain DMA writes through the
 * disk layer; reads mark nothing. A migration copying the disk (vmm/migrate_disk.h) relies
 * on it. The rig: ahcirig.h (no KVM). */
#include "ahcirig.h"

#define BS (DISK_DIRTY_BLOCK / 512)

static void test_ncq_writes_mark(void)
{
	uint8_t f[20];

	CHECK_EQ(disk_dirty_start(d0, false), 0);
	ahci_quiesce(a);
	pwr(0, PX_IS, ~0u);
	/* eight queued writes, each over the end of block 10 + s and the start of the next */
	for (unsigned s = 0; s < 8; s++) {
		struct prd_ent pr = { DATA + s * 0x2000, 4096, false };

		memset(g(DATA + s * 0x2000), 0xc0 + s, 4096);
		h2d(f, 0x61, (10 + s) * BS + BS - 4, 0, 8);
		f[12] = s << 3;
		build(0, s, f, NULL, &pr, 1, true);
	}
	pwr(0, PX_SACT, 0xff);
	pwr(0, PX_CI, 0xff);
	ahci_resume(a);
	CHECK_EQ(wait_done(0, 0xff) & (PX_IS_SDBS | PX_IS_FATAL), PX_IS_SDBS);
	if (a->uring_ok)
		CHECK_EQ(a->ring_cmds, 8);
	else
		printf("# no io_uring here: NCQ ran through the disk layer\n");
	CHECK_EQ(disk_dirty_take(d0, 0), 0x1ffULL << 10);
	CHECK(file_equals(p0, ((10 + 7) * BS + BS - 4) * 512ULL, g(DATA + 7 * 0x2000), 4096));
	/* queued reads of the same: nothing */
	for (unsigned s = 0; s < 4; s++) {
		struct prd_ent pr = { DATA + s * 0x2000, 4096, false };

		h2d(f, 0x60, (10 + s) * BS, 0, 8);
		f[12] = s << 3;
		build(0, s, f, NULL, &pr, 1, false);
	}
	pwr(0, PX_SACT, 0xf);
	pwr(0, PX_CI, 0xf);
	CHECK_EQ(wait_done(0, 0xf) & PX_IS_FATAL, 0);
	CHECK_EQ(disk_dirty_take(d0, 0), 0);
}

static void test_dma_writes_mark(void)
{
	struct prd_ent pr = { DATA, 8192, false };
	uint8_t f[20];

	memset(g(DATA), 0x77, 8192);
	h2d(f, 0x35, 40 * BS, 16, 0); /* WRITE DMA EXT, 16 sectors in block 40 */
	CHECK_EQ(issue(0, f, NULL, &pr, 1, true) & PX_IS_FATAL, 0);
	CHECK_EQ(disk_dirty_take(d0, 0), 1ULL << 40);
	disk_dirty_stop(d0);
	CHECK_EQ(issue(0, f, NULL, &pr, 1, true) & PX_IS_FATAL, 0);
	CHECK_EQ(disk_dirty_take(d0, 0), 0);
}

int main(void)
{
	up();
	RUN(test_ncq_writes_mark);
	RUN(test_dma_writes_mark);
	down();
	return check_done();
}
