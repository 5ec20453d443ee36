/* Where the time of a save and a restore goes, without KVM. Save: savestate_write (what
 * vm_save does after it gathered the device state) of a 128 MiB guest memory with a
 * realistic page mix, against the floor of writing the same number of bytes from one
 * buffer (what `cp` of the file would at best do), each with and without fsync; and the
 * parts of the memory section alone: the zero-page scan, the CRC (libdeflate, which the
 * file uses, and zlib's, which it used before). Restore (the file in the page cache, as
 * right after a save): savestate_read plus the memory into a fresh guest memory, mapped
 * lazily (savestate_map_memory, the default) or read and checked (savestate_load_memory,
 * --restore-memory read), and the CRC check that runs beside the guest. Median of RUNS
 * (default 5).
 *
 * The mix: 128 MiB in blocks of 64 pages; a block is full (a kernel, page cache: 3/5 of
 * them), empty (1/5), or holds a page here and there (1/5, a quarter of its pages); page
 * contents are pseudo-random (nothing compresses). About 85 MiB is stored.
 *
 * Usage: build/bench/savestate_write [DIR] [RUNS]   (DIR: where the files go, default
 * /var/tmp: a disk, not tmpfs, so that fsync costs what it costs). Not a test: it only
 * prints. */
#include <fcntl.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "vmm/mem.h"
#include "vmm/savestate_file.h"
#include "vmm/savestate_map.h"

#define MEM (128ULL << 20)
#define PG 4096ULL

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return v[n / 2];
}

/* Fill m with the mix; returns the number of non-zero pages. */
static uint64_t fill(struct guest_mem *m)
{
	uint64_t used = 0;

	for (uint64_t b = 0; b < MEM / PG / 64; b++) {
		unsigned kind = (unsigned)(next() % 5);

		for (uint64_t i = b * 64; i < b * 64 + 64; i++) {
			uint64_t *w = (uint64_t *)(m->host + i * PG);

			if (kind == 3 || (kind == 4 && next() % 4))
				continue;
			for (unsigned k = 0; k < PG / 8; k++)
				w[k] = next();
			used++;
		}
	}
	return used;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/var/tmp";
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	double t_save[64], t_save_nosync[64], t_floor[64], t_floor_nosync[64];
	double t_scan[64], t_crc[64], t_zlib[64], t_map[64], t_read[64], t_check[64];
	struct savestate_map_stats ms = { 0 };
	struct savestate_write_stats ws = { 0 };
	struct guest_mem *m = NULL;
	struct savestate *s = NULL;
	char path[512];
	uint8_t *flat;
	uint64_t used;
	volatile uint64_t sink = 0;

	if (runs < 1 || runs > 64)
		runs = 5;
	if (guest_mem_create(MEM, &m) || savestate_alloc(1, &s))
		return 1;
	s->config.mem_size = MEM;
	used = fill(m);
	snprintf(path, sizeof(path), "%s/vsrv-bench-save.%d", dir, (int)getpid());
	for (int r = 0; r < runs; r++) {
		for (int sync = 0; sync < 2; sync++) {
			int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			double t0 = now();

			if (fd < 0 || savestate_write(fd, s, m->host, &ws) || (sync && fsync(fd))) {
				perror(path);
				return 1;
			}
			(sync ? t_save : t_save_nosync)[r] = now() - t0;
			close(fd);
			unlink(path);
		}
	}
	/* restore: one file, kept in the page cache */
	{
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0 || savestate_write(fd, s, m->host, NULL))
			return 1;
		close(fd);
	}
	for (int r = 0; r < runs; r++) {
		for (int lazy = 0; lazy < 3; lazy++) {
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			struct guest_mem *g = NULL;
			struct savestate *rs = NULL;
			const char *why = "";
			double t0 = now();
			int ret;

			if (fd < 0 || guest_mem_create(MEM, &g))
				return 1;
			ret = savestate_read(fd, &rs, &why);
			if (!ret && lazy == 2)
				ret = savestate_check_memory(fd, rs, NULL, &why);
			else if (!ret && lazy)
				ret = savestate_map_memory(fd, rs, g, 0, &ms, &why);
			else if (!ret)
				ret = savestate_load_memory(fd, rs, g->host, &why);
			if (ret) {
				fprintf(stderr, "restore: %s\n", why);
				return 1;
			}
			(lazy == 2 ? t_check : lazy ? t_map : t_read)[r] = now() - t0;
			savestate_free(rs);
			guest_mem_destroy(g);
			close(fd);
		}
	}
	unlink(path);
	/* the floor: the file's bytes from one buffer, one write call per 8 MiB */
	flat = malloc(ws.file_bytes);
	if (!flat)
		return 1;
	for (uint64_t i = 0; i < ws.file_bytes; i += PG)
		flat[i] = (uint8_t)next(); /* touched, not zero */
	for (int r = 0; r < runs; r++) {
		for (int sync = 0; sync < 2; sync++) {
			int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			struct iovec iov = { flat, ws.file_bytes };
			double t0 = now();

			if (fd < 0 || savestate_writev_all(fd, &iov, 1) || (sync && fsync(fd))) {
				perror(path);
				return 1;
			}
			(sync ? t_floor : t_floor_nosync)[r] = now() - t0;
			close(fd);
			unlink(path);
		}
	}
	/* the parts: the zero scan (the first and last word, then the whole page when they
	 * are zero), the CRC over the stored pages */
	for (int r = 0; r < runs; r++) {
		double t0 = now();
		uint32_t c = 0;
		uLong z = 0;

		for (uint64_t i = 0; i < MEM / PG; i++) {
			const uint64_t *w = (const uint64_t *)(m->host + i * PG);
			uint64_t acc = w[0] | w[PG / 8 - 1];

			for (unsigned k = 0; !acc && k < PG / 8; k++)
				acc |= w[k];
			sink += acc != 0;
		}
		t_scan[r] = now() - t0;
		t0 = now();
		for (uint64_t i = 0; i < MEM / PG; i++)
			if (*(const uint64_t *)(m->host + i * PG))
				c = libdeflate_crc32(c, m->host + i * PG, PG);
		t_crc[r] = now() - t0;
		t0 = now();
		for (uint64_t i = 0; i < MEM / PG; i++)
			if (*(const uint64_t *)(m->host + i * PG))
				z = crc32(z, m->host + i * PG, PG);
		t_zlib[r] = now() - t0;
		sink += c + z;
	}
	printf("savestate_write of a 128 MiB guest, %.1f MiB stored (%llu pages), file %.1f MiB, "
	       "in %s; median of %d\n", (double)used * PG / 1048576, (unsigned long long)used,
	       (double)ws.file_bytes / 1048576, dir, runs);
	printf("  %-44s %8.1f ms\n", "savestate_write + fsync (vm_save)", median(t_save, runs) * 1e3);
	printf("  %-44s %8.1f ms\n", "savestate_write, no fsync", median(t_save_nosync, runs) * 1e3);
	printf("  %-44s %8.1f ms\n", "floor: the same bytes from one buffer + fsync",
	       median(t_floor, runs) * 1e3);
	printf("  %-44s %8.1f ms\n", "floor: the same bytes, no fsync",
	       median(t_floor_nosync, runs) * 1e3);
	printf("  %-44s %8.1f ms\n", "part: zero-page scan of 128 MiB", median(t_scan, runs) * 1e3);
	printf("  %-44s %8.1f ms\n", "part: CRC32 of the stored pages (libdeflate)",
	       median(t_crc, runs) * 1e3);
	printf("  %-44s %8.1f ms\n", "part: CRC32 of the stored pages (zlib)",
	       median(t_zlib, runs) * 1e3);
	printf("restore of that file (in the page cache): savestate_read and the memory\n");
	printf("  %-44s %8.2f ms (%llu of %llu runs mapped, %llu pages read)\n",
	       "mapped lazily (default)", median(t_map, runs) * 1e3,
	       (unsigned long long)ms.mapped_runs, (unsigned long long)ms.runs,
	       (unsigned long long)ms.read_pages);
	printf("  %-44s %8.2f ms\n", "read and CRC-checked (--restore-memory read)",
	       median(t_read, runs) * 1e3);
	printf("  %-44s %8.2f ms\n", "the CRC check beside the guest (from the file)",
	       median(t_check, runs) * 1e3);
	free(flat);
	savestate_free(s);
	guest_mem_destroy(m);
	return sink == 0xdeadbeef;
}
