/* Helper for tests/t-vhd-crash.sh: writes to a VHD until killed, logging every write before
 * it is issued and every flush after it is acknowledged; then verifies, after the kill,
 * that the image checks without corruption and that each sector holds either its last
 * flush-acknowledged content or the content of a later (unacknowledged) write.
 *
 *   vhd-crash-helper init-dyn IMG STATE          new dynamic image, all sectors "0"
 *   vhd-crash-helper init-diff BASE IMG STATE    base with data in its first half + child
 *   vhd-crash-helper write IMG STATE LOG ITER    write until killed (or 20000 ops)
 *   vhd-crash-helper verify IMG STATE LOG        check + compare; rewrites STATE
 *   vhd-crash-helper repair IMG                  repair leaks; fails if anything is left
 *
 * A data sector written by write id W at sector S starts with W and S (8 bytes each), the
 * rest is a pattern of both: any torn or misplaced sector is detected. Zeros are id 0. */
#include "vhd/vhd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIZE (24ULL << 20)
#define NS (SIZE / 512)

struct rec {
	uint64_t id;
	uint64_t sector;
	uint32_t n;
	uint32_t kind; /* 0 data, 1 write_zeroes, 2 zero data, 3 flush acknowledged */
};

static void pattern(uint8_t *p, uint64_t id, uint64_t s)
{
	memcpy(p, &id, 8);
	memcpy(p + 8, &s, 8);
	for (int j = 16; j < 512; j++)
		p[j] = (uint8_t)(id * 7 + s * 13 + (uint64_t)j);
}

/* The id a sector holds, or UINT64_MAX if it is neither zeros nor a valid pattern. */
static uint64_t decode(const uint8_t *p, uint64_t s)
{
	static const uint8_t z[512];
	uint8_t exp[512];
	uint64_t id;

	if (!memcmp(p, z, 512))
		return 0;
	memcpy(&id, p, 8);
	pattern(exp, id, s);
	return memcmp(p, exp, 512) ? UINT64_MAX : id;
}

static uint64_t *state_load(const char *path)
{
	uint64_t *st = calloc(NS, 8);
	int fd = open(path, O_RDONLY);

	if (fd >= 0) {
		if (read(fd, st, NS * 8) != (ssize_t)(NS * 8)) {
			fprintf(stderr, "short state file\n");
			exit(1);
		}
		close(fd);
	}
	return st;
}

static int state_save(const char *path, const uint64_t *st)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	int ok = fd >= 0 && write(fd, st, NS * 8) == (ssize_t)(NS * 8);

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

static int create(const char *path, enum vhd_type t, const char *parent, uint32_t bs)
{
	struct vhd_create_opts o = { .type = t, .size = SIZE, .force_size = true, .parent = parent,
				     .block_size = bs };
	int r = vhd_create(path, &o, NULL);

	if (r)
		fprintf(stderr, "create %s: %s\n", path, vhd_errmsg());
	return r;
}

static int init(int diff, char **argv)
{
	uint64_t *st = calloc(NS, 8);
	const char *img = diff ? argv[3] : argv[2], *state = diff ? argv[4] : argv[3];

	if (diff) {
		struct vhd *b;
		uint8_t *buf = malloc(512 * 256);
		if (create(argv[2], VHD_TYPE_DYNAMIC, NULL, 0) || vhd_open(argv[2], 0, &b))
			return 1;
		for (uint64_t s = 0; s < NS / 2; s += 256) {
			for (int k = 0; k < 256; k++) {
				pattern(buf + 512 * k, 1, s + (uint64_t)k);
				st[s + (uint64_t)k] = 1;
			}
			if (vhd_write(b, s, buf, 256))
				return 1;
		}
		if (vhd_close(b))
			return 1;
		free(buf);
		if (create(img, VHD_TYPE_DIFF, argv[2], 512 << 10))
			return 1;
	} else if (create(img, VHD_TYPE_DYNAMIC, NULL, 128 << 10)) {
		return 1;
	}
	return state_save(state, st) ? 1 : 0;
}

static uint64_t rnd_state;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static int do_write(char **argv)
{
	struct vhd *v;
	uint64_t iter = strtoull(argv[5], NULL, 10);
	uint8_t *buf = malloc(512 * 512);
	int log = open(argv[4], O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0644);

	rnd_state = iter * 0x9E3779B97F4A7C15ULL + 1;
	if (log < 0 || vhd_open(argv[2], 0, &v)) {
		fprintf(stderr, "write: open: %s\n", vhd_errmsg());
		return 1;
	}
	for (uint64_t k = 1; k <= 20000; k++) {
		struct rec r = { .id = iter * 1000000 + k + 1 };
		uint64_t n = 1 + rnd() % 300;
		r.sector = rnd() % (NS - n);
		r.n = (uint32_t)n;
		unsigned what = (unsigned)(rnd() % 10);
		r.kind = what == 0 ? 1 : what == 1 ? 2 : 0;
		if (write(log, &r, sizeof(r)) != sizeof(r))
			return 1;
		int ret;
		if (r.kind == 1) {
			ret = vhd_write_zeroes(v, r.sector, n);
		} else {
			for (uint64_t i = 0; i < n; i++) {
				if (r.kind == 2)
					memset(buf + 512 * i, 0, 512);
				else
					pattern(buf + 512 * i, r.id, r.sector + i);
			}
			ret = vhd_write(v, r.sector, buf, n);
		}
		if (ret) {
			fprintf(stderr, "write failed: %s\n", vhd_errmsg());
			return 1;
		}
		if (rnd() % 4 == 0) {
			if (vhd_flush(v)) {
				fprintf(stderr, "flush failed: %s\n", vhd_errmsg());
				return 1;
			}
			struct rec f = { .id = r.id, .kind = 3 };
			if (write(log, &f, sizeof(f)) != sizeof(f))
				return 1;
		}
	}
	vhd_close(v);
	return 0;
}

static void on_problem(void *opaque, const struct vhd_problem *p)
{
	(void)opaque;
	fprintf(stderr, "check: %s at %llu: %s\n", p->kind == VHD_PROBLEM_CORRUPT ? "CORRUPT" : "leak",
		(unsigned long long)p->offset, p->message);
}

static int verify(char **argv)
{
	uint64_t *acked = state_load(argv[3]);
	struct vhd_check_result cr;
	struct rec *recs = NULL;
	size_t nrec = 0, cap = 0;
	struct vhd *v;
	uint8_t *buf = malloc(512 * 2048);
	int fd = open(argv[4], O_RDONLY), bad = 0;
	struct rec r;

	if (vhd_check(argv[2], 0, on_problem, NULL, &cr)) {
		fprintf(stderr, "check could not run: %s\n", vhd_errmsg());
		return 1;
	}
	if (cr.corruptions) {
		fprintf(stderr, "check found %u corruptions\n", cr.corruptions);
		return 1;
	}
	/* replay the log: flushed writes become the acknowledged state */
	size_t first_pending = 0;
	while (fd >= 0 && read(fd, &r, sizeof(r)) == sizeof(r)) {
		if (nrec == cap) {
			cap = cap ? cap * 2 : 1024;
			recs = realloc(recs, cap * sizeof(*recs));
		}
		recs[nrec++] = r;
		if (r.kind == 3) {
			for (size_t i = first_pending; i < nrec - 1; i++)
				for (uint32_t k = 0; k < recs[i].n; k++)
					acked[recs[i].sector + k] = recs[i].kind ? 0 : recs[i].id;
			first_pending = nrec;
		}
	}
	if (fd >= 0)
		close(fd);
	if (vhd_open(argv[2], VHD_RDONLY, &v)) {
		fprintf(stderr, "open after crash: %s\n", vhd_errmsg());
		return 1;
	}
	for (uint64_t s = 0; s < NS; s += 2048) {
		if (vhd_read(v, s, buf, 2048)) {
			fprintf(stderr, "read %llu: %s\n", (unsigned long long)s, vhd_errmsg());
			return 1;
		}
		for (uint64_t k = 0; k < 2048; k++) {
			uint64_t sec = s + k, got = decode(buf + 512 * k, sec);
			bool ok = got == acked[sec];
			for (size_t i = first_pending; !ok && i < nrec; i++)
				if (recs[i].kind != 3 && sec >= recs[i].sector &&
				    sec < recs[i].sector + recs[i].n)
					ok = got == (recs[i].kind ? 0 : recs[i].id);
			if (!ok && bad++ < 5)
				fprintf(stderr, "sector %llu holds %llu, expected %llu (or a later write)\n",
					(unsigned long long)sec, (unsigned long long)got,
					(unsigned long long)acked[sec]);
			acked[sec] = got;
		}
	}
	vhd_close(v);
	if (bad) {
		fprintf(stderr, "%d sectors lost or torn\n", bad);
		return 1;
	}
	printf("ok: %zu log records, %u leaks\n", nrec, cr.leaks);
	return state_save(argv[3], acked) ? 1 : 0;
}

/* Repair leaks; print what is left. */
static int repair(char **argv)
{
	struct vhd_check_result cr;

	if (vhd_check(argv[2], VHD_CHECK_REPAIR_LEAKS, on_problem, NULL, &cr) ||
	    vhd_check(argv[2], 0, on_problem, NULL, &cr)) {
		fprintf(stderr, "repair: %s\n", vhd_errmsg());
		return 1;
	}
	printf("after repair: %u corruptions, %u leaks\n", cr.corruptions, cr.leaks);
	return cr.corruptions || cr.leaks;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "repair"))
		return repair(argv);
	if (argc == 4 && !strcmp(argv[1], "init-dyn"))
		return init(0, argv);
	if (argc == 5 && !strcmp(argv[1], "init-diff"))
		return init(1, argv);
	if (argc == 6 && !strcmp(argv[1], "write"))
		return do_write(argv);
	if (argc == 5 && !strcmp(argv[1], "verify"))
		return verify(argv);
	fprintf(stderr, "usage: see tests/vhd_crash_helper.c\n");
	return 2;
}
