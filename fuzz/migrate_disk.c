/* libFuzzer target: the disk records of a live migration without shared storage
 * (src/vmm/migrate_disk.c's receiver). The input is a run of frames as a source sends them
 * (32-byte frame headers, docs/migration.md): a DISKS frame, then DISKDATA frames; it goes
 * into a memfd that the receiver reads. The destination's disks are in memory
 * (fuzz/migdisk.h): device 0 has 1 MiB, device 1 has 200 KiB (a last block shorter than
 * 64 KiB), device 2 1 MiB read-only, others none. Nothing may crash, leak or reach outside
 * a disk (migdisk aborts); every refusal must come with a reason. Built with
 * FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, CRCs are not compared (the unit test
 * tests/unit/test_migrate_disk.c checks their refusal). With fuzz/run_corpus.c it replays
 * files under ASan/UBSan (tests/t-migrate-disk-fuzz.sh; seeds: fuzz/migrate_disk_seeds.py). */
#include "vmm/migrate_disk.h"
#include "migdisk.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct disk *disks[3];

static struct disk *lookup(void *opaque, uint32_t entry, char *why, size_t whylen)
{
	static const uint64_t sizes[3] = { 1 << 20, 200 << 10, 1 << 20 };

	(void)opaque;
	if (entry >= 3) {
		snprintf(why, whylen, "no disk at device %u in the fuzzer", entry);
		return NULL;
	}
	if (!disks[entry])
		disks[entry] = migdisk_new(sizes[entry], entry == 2);
	if (!disks[entry])
		snprintf(why, whylen, "no memory");
	return disks[entry];
}

static int run(int fd, char *why, size_t whylen)
{
	static uint8_t p[MIGRATE_DISKS_LEN_MAX];
	struct mdisk_rx *r = NULL;
	struct mstream_frame f;
	int ret = mstream_recv_frame(fd, &f);

	if (ret || f.type != MIGRATE_FR_DISKS || f.length > sizeof(p)) {
		snprintf(why, whylen, "no DISKS frame first");
		return -1;
	}
	if (mstream_recv_bytes(fd, p, f.length)) {
		snprintf(why, whylen, "short DISKS frame");
		return -1;
	}
	ret = mdisk_rx_open(p, f.length, lookup, NULL, &r, why, whylen);
	while (!ret) {
		if (mstream_recv_frame(fd, &f) || f.type != MIGRATE_FR_DISKDATA)
			break; /* the end of the disk records */
		ret = mdisk_rx_frame(r, fd, &f, why, whylen);
	}
	if (!ret)
		ret = mdisk_rx_finish(r, why, whylen);
	mdisk_rx_free(r);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[600] = "";
	int in = memfd_create("migrate-disk-fuzz", MFD_CLOEXEC);

	if (in < 0)
		return 0;
	if (write(in, data, size) == (ssize_t)size && lseek(in, 0, SEEK_SET) == 0 &&
	    run(in, why, sizeof(why)) && !why[0])
		abort(); /* a refusal without a reason */
	close(in);
	for (int i = 0; i < 3; i++) {
		migdisk_free(disks[i]);
		disks[i] = NULL;
	}
	return 0;
}
