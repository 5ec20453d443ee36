/* libFuzzer target: the live-migration receiver (src/vmm/migrate_stream.c). The input is
 * what a source sent: it goes into a memfd that migrate_recv reads as its stream (answers go
 * to /dev/null). The sink accepts any configuration of at most 64 MiB of RAM (a fresh
 * mapping receives the pages), any state, and device memory (DEVMEM frames) of up to 64 KiB
 * for any entry (a buffer of its own receives it; larger is refused), and copied disks
 * (MIGRATE_FLAG_DISKS) for entries 0-3: 1 MiB in-memory disks (fuzz/migdisk.h), entry 3
 * read-only. Nothing may crash, hang, leak or write out of
 * bounds; every refusal must come with a reason. Built with
 * FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, the receiver does not compare CRCs (mutated
 * inputs get past them to the checks behind). With fuzz/run_corpus.c it replays files
 * under ASan/UBSan (tests/t-migrate-fuzz.sh). */
#include "vmm/migrate_stream.h"
#include "migdisk.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_MAX_MEM (64ull << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fsink {
	uint8_t *mem;
	uint64_t size;
	struct disk *disk[4];
};

static int f_config(void *opaque, const struct savestate_config *c, uint8_t **mem, char *why,
		    size_t whylen)
{
	struct fsink *f = opaque;

	if (c->mem_size > FUZZ_MAX_MEM) {
		snprintf(why, whylen, "too much memory for the fuzzer");
		return -22;
	}
	f->mem = mmap(NULL, c->mem_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (f->mem == MAP_FAILED) {
		f->mem = NULL;
		snprintf(why, whylen, "no memory");
		return -12;
	}
	f->size = c->mem_size;
	*mem = f->mem;
	return 0;
}

static int f_load(void *opaque, const struct savestate *s, char *why, size_t whylen)
{
	(void)opaque, (void)s, (void)why, (void)whylen;
	return 0;
}

static uint8_t *f_devmem(void *opaque, uint32_t index, uint64_t len, char *why, size_t whylen)
{
	static uint8_t buf[64 << 10];

	(void)opaque, (void)index;
	if (len > sizeof(buf)) {
		snprintf(why, whylen, "too much device memory for the fuzzer");
		return NULL;
	}
	return buf;
}

static struct disk *f_disk(void *opaque, uint32_t index, char *why, size_t whylen)
{
	struct fsink *f = opaque;

	if (index >= 4) {
		snprintf(why, whylen, "no disk there in the fuzzer");
		return NULL;
	}
	if (!f->disk[index])
		f->disk[index] = migdisk_new(1 << 20, index == 3);
	if (!f->disk[index])
		snprintf(why, whylen, "no memory");
	return f->disk[index];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct migrate_sink sink = { f_config, f_load, f_devmem, NULL, f_disk };
	struct migrate_recv_stats st;
	struct fsink f = { 0 };
	char why[600];
	int in, out;

	in = memfd_create("migrate-fuzz", MFD_CLOEXEC);
	out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (in < 0 || out < 0)
		goto out;
	if (write(in, data, size) != (ssize_t)size || lseek(in, 0, SEEK_SET) != 0)
		goto out;
	if (migrate_recv(in, out, &sink, &f, &st, why, sizeof(why)) && !why[0])
		abort(); /* a refusal without a reason */
out:
	if (f.mem)
		munmap(f.mem, f.size);
	for (int i = 0; i < 4; i++)
		migdisk_free(f.disk[i]);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return 0;
}
