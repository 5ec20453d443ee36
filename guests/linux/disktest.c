/*
 * disktest: the disk part of the Linux guest test, and its host-side twin.
 *
 * Guest (from /init):  disktest run SPEC[,SPEC...]
 *   SPEC is NAME:SEED or NAME:SEED:BASESEED. For each /dev/NAME: write the pattern of SEED over the
 *   whole device (any multiple of 512 bytes; or, with BASESEED, over the even MiB only: a differencing disk whose odd MiB must still
 *   read as the base image's pattern), with O_DIRECT in 1 MiB requests, fsync (a FLUSH to the device),
 *   close, then read the device back with O_DIRECT, compare every sector with what it must hold and
 *   checksum it. Prints one line per disk, "disk NAME ok size=BYTES fnv=HEX" or "disk NAME FAIL reason",
 *   and exits 0 only if every disk is ok.
 * Host (from tests/t-linux.sh):
 *   disktest gen SIZE SEED [BASESEED]   the expected image content on stdout (same rules as run)
 *   disktest sum FILE                   prints the checksum run would print for that content
 *
 * The pattern of sector N for SEED: a text header "vsrv-disktest SEED sector N\n" then bytes from an
 * xorshift64 generator seeded by SEED and N, so a sector written to the wrong place, a stale sector and
 * a torn request all show. The checksum is FNV-1a 64 (a test checksum, not a cryptographic one).
 * One process does all disks: every fork+exec costs 0.3-0.5 s in a guest on the development hosts.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SECTOR 512u
#define CHUNK (1u << 20)

static uint64_t seed_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static void fill_sector(unsigned char *p, const char *seed, uint64_t n)
{
	uint64_t x = seed_hash(seed) ^ (n * 0x9e3779b97f4a7c15ull);
	int len = snprintf((char *)p, SECTOR, "vsrv-disktest %s sector %" PRIu64 "\n", seed, n);
	unsigned i;

	if (!x)
		x = 1;
	for (i = (unsigned)len; i < SECTOR; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)x;
	}
}

/* Which seed sector `n` of a disk holds: SEED, or BASESEED in the odd MiB of a differencing disk. */
static const char *seed_at(uint64_t n, const char *seed, const char *base)
{
	if (base && ((n * SECTOR / CHUNK) & 1))
		return base;
	return seed;
}

static void fill(unsigned char *buf, size_t len, uint64_t off, const char *seed, const char *base)
{
	size_t i;

	for (i = 0; i < len; i += SECTOR)
		fill_sector(buf + i, seed_at((off + i) / SECTOR, seed, base), (off + i) / SECTOR);
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t len)
{
	while (len--)
		h = (h ^ *p++) * 0x100000001b3ull;
	return h;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int full_rw(int fd, unsigned char *buf, size_t len, uint64_t off, int wr)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = wr ? pwrite(fd, buf + done, len - done, (off_t)(off + done))
			       : pread(fd, buf + done, len - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		done += (size_t)r;
	}
	return 0;
}

static int disk_run(const char *name, const char *seed, const char *base, unsigned char *buf,
		    unsigned char *want)
{
	char path[64];
	uint64_t size = 0, off, h = 0xcbf29ce484222325ull;
	off_t end;
	double t0 = now(), t1, t2, t3;
	int fd, r;

	snprintf(path, sizeof(path), "/dev/%s", name);
	fd = open(path, O_RDWR | O_DIRECT);
	if (fd < 0) {
		printf("disk %s FAIL open %s: %s\n", name, path, strerror(errno));
		return -1;
	}
	end = lseek(fd, 0, SEEK_END);
	size = end > 0 ? (uint64_t)end : 0;
	if (size == 0 || size % SECTOR) {
		printf("disk %s FAIL size %" PRIu64 " (want a non-zero multiple of 512)\n", name, size);
		close(fd);
		return -1;
	}
	for (off = 0; off < size; off += CHUNK) {
		size_t len = size - off < CHUNK ? (size_t)(size - off) : CHUNK;

		if (base && ((off / CHUNK) & 1))
			continue;
		fill(buf, len, off, seed, base);
		r = full_rw(fd, buf, len, off, 1);
		if (r < 0) {
			printf("disk %s FAIL write at %" PRIu64 ": %s\n", name, off, strerror(-r));
			close(fd);
			return -1;
		}
	}
	t1 = now();
	if (fsync(fd) < 0) {
		printf("disk %s FAIL flush: %s\n", name, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	t2 = now();

	fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0) {
		printf("disk %s FAIL reopen: %s\n", name, strerror(errno));
		return -1;
	}
	for (off = 0; off < size; off += CHUNK) {
		size_t i, len = size - off < CHUNK ? (size_t)(size - off) : CHUNK;

		r = full_rw(fd, buf, len, off, 0);
		if (r < 0) {
			printf("disk %s FAIL read at %" PRIu64 ": %s\n", name, off, strerror(-r));
			close(fd);
			return -1;
		}
		fill(want, len, off, seed, base);
		for (i = 0; i < len; i += SECTOR)
			if (memcmp(buf + i, want + i, SECTOR)) {
				printf("disk %s FAIL sector %" PRIu64 " reads back wrong\n", name,
				       (off + i) / SECTOR);
				close(fd);
				return -1;
			}
		h = fnv(h, buf, len);
	}
	close(fd);
	t3 = now();
	printf("disk %s ok size=%" PRIu64 " fnv=%016" PRIx64 " write=%.2fs flush=%.2fs read=%.2fs\n",
	       name, size, h, t1 - t0, t2 - t1, t3 - t2);
	return 0;
}

static int cmd_run(char *specs)
{
	unsigned char *buf, *want;
	char *save = NULL, *spec;
	int bad = 0;

	if (posix_memalign((void **)&buf, 4096, CHUNK) || posix_memalign((void **)&want, 4096, CHUNK)) {
		printf("disk FAIL out of memory\n");
		return 1;
	}
	for (spec = strtok_r(specs, ",", &save); spec; spec = strtok_r(NULL, ",", &save)) {
		char *name = spec, *seed = strchr(spec, ':'), *base = NULL;

		if (!seed) {
			printf("disk %s FAIL bad spec (want NAME:SEED[:BASESEED])\n", spec);
			bad = 1;
			continue;
		}
		*seed++ = 0;
		base = strchr(seed, ':');
		if (base)
			*base++ = 0;
		if (disk_run(name, seed, base, buf, want))
			bad = 1;
	}
	fflush(stdout);
	return bad;
}

static int cmd_gen(const char *size_s, const char *seed, const char *base)
{
	static unsigned char buf[CHUNK];
	char *end;
	uint64_t size = strtoull(size_s, &end, 0), off;

	if (*end || size % SECTOR) {
		fprintf(stderr, "disktest: size %s is not a multiple of 512\n", size_s);
		return 2;
	}
	for (off = 0; off < size; off += CHUNK) {
		size_t len = size - off < CHUNK ? (size_t)(size - off) : CHUNK;

		fill(buf, len, off, seed, base);
		if (fwrite(buf, 1, len, stdout) != len) {
			perror("disktest: write");
			return 1;
		}
	}
	return fflush(stdout) ? 1 : 0;
}

static int cmd_sum(const char *file)
{
	static unsigned char buf[CHUNK];
	uint64_t h = 0xcbf29ce484222325ull;
	FILE *f = fopen(file, "rb");
	size_t n;

	if (!f) {
		perror(file);
		return 1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		h = fnv(h, buf, n);
	fclose(f);
	printf("%016" PRIx64 "\n", h);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "run"))
		return cmd_run(argv[2]);
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "gen"))
		return cmd_gen(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	if (argc == 3 && !strcmp(argv[1], "sum"))
		return cmd_sum(argv[2]);
	fprintf(stderr, "usage: disktest run NAME:SEED[:BASESEED],...\n"
			"       disktest gen SIZE SEED [BASESEED]\n"
			"       disktest sum FILE\n");
	return 2;
}
