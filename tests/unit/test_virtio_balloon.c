/* virtio-balloon over virtio-mmio, the test playing the guest's balloon driver: inflated
 * pages and reported free pages leave the host (mincore on the guest RAM mapping), garbage
 * PFNs are refused without touching anything, statistics arrive and are asked for again,
 * a new target raises the config interrupt, and save/restore carries the balloon over.
 * Guest RAM: 32 MiB below a device hole that starts at 32 MiB, 32 MiB from 4 GiB. */
#include "check.h"
#include "vdrv.h"
#include "devices/virtio/balloon.h"
#include "devices/virtio/mmio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define BASE 0xd0000000ULL
#define BASE2 0xd0001000ULL
#define MIB (1ULL << 20)
#define PG 4096ULL
#define LOW (32 * MIB)
#define RAM (64 * MIB)
#define HIGH 0x100000000ULL

struct rig {
	struct guest_mem *mem;
	struct bus bus;
	struct virtio_host host;
	struct virtio_balloon *b;
	struct virtio_mmio *mm;
	struct vdrv v;
};

static int rig_up(struct rig *r, const struct vballoon_opts *o)
{
	memset(r, 0, sizeof(*r));
	if (guest_mem_create_hole(RAM, LOW, &r->mem))
		return -1;
	bus_init(&r->bus);
	r->host.mem = r->mem;
	r->host.mmio = &r->bus;
	if (virtio_balloon_create(&r->host, o, "virtio-balloon", &r->b))
		return -1;
	if (virtio_mmio_create(virtio_balloon_dev(r->b), BASE, 5, &r->mm))
		return -1;
	r->v = (struct vdrv){ .bus = &r->bus, .mem = r->mem, .base = BASE };
	return 0;
}

static void rig_down(struct rig *r)
{
	virtio_mmio_destroy(r->mm);
	virtio_balloon_destroy(r->b);
	bus_destroy(&r->bus);
	guest_mem_destroy(r->mem);
}

/* Host pages of guest range [gpa, gpa + len) that are resident. */
static unsigned resident(struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	unsigned char vec[4096];
	uint8_t *p = guest_mem_ptr(m, gpa, len);
	unsigned n = 0;

	if (!p || len / PG > sizeof(vec) || mincore(p, len, vec))
		return ~0u;
	for (uint64_t i = 0; i < len / PG; i++)
		n += vec[i] & 1;
	return n;
}

static void fill(struct guest_mem *m, uint64_t gpa, uint64_t len, int c)
{
	memset(guest_mem_ptr(m, gpa, len), c, len);
}

static bool all(struct guest_mem *m, uint64_t gpa, uint64_t len, int c)
{
	const uint8_t *p = guest_mem_ptr(m, gpa, len);

	for (uint64_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)c)
			return false;
	return true;
}

/* Send n PFNs on queue q (inflate 0, deflate 1) in one buffer at VDRV_DATA; wait for it. */
static long send_pfns(struct rig *r, unsigned q, const uint32_t *pfn, unsigned n)
{
	struct vdrv_buf b = { VDRV_DATA + q * 0x10000, n * 4, false };

	memcpy(r->mem->host + b.gpa, pfn, n * 4);
	vdrv_submit(&r->v, q, &b, 1);
	return vdrv_wait(&r->v, q, NULL);
}

static void test_inflate_releases(void)
{
	struct vballoon_opts o = { 0 };
	struct vballoon_info in;
	struct rig r;
	uint32_t pfn[256];
	uint64_t at = 16 * MIB, hi = HIGH + 8 * MIB;

	CHECK_EQ(rig_up(&r, &o), 0);
	CHECK_EQ(vdrv_rd(&r.v, 8, 4), VIRTIO_ID_BALLOON);
	CHECK_EQ(vdrv_setup(&r.v, ~0ULL, 3), 15);
	fill(r.mem, at, 8 * MIB, 0xab);
	fill(r.mem, hi, 1 * MIB, 0xcd);
	fill(r.mem, at + 8 * MIB, 1 * MIB, 0xef); /* the neighbour stays */
	CHECK_EQ(resident(r.mem, at, 8 * MIB), 2048);
	CHECK_EQ(resident(r.mem, hi, 1 * MIB), 256);
	/* 8 MiB of low RAM in 8 buffers, in descending order inside each (runs of one) for
	 * the first and ascending for the others */
	for (unsigned k = 0; k < 8; k++) {
		for (unsigned i = 0; i < 256; i++)
			pfn[i] = (uint32_t)(at / PG) + k * 256 + (k ? i : 255 - i);
		CHECK_EQ(send_pfns(&r, 0, pfn, 256), 0);
	}
	for (unsigned i = 0; i < 256; i++)
		pfn[i] = (uint32_t)(hi / PG) + i;
	CHECK_EQ(send_pfns(&r, 0, pfn, 256), 0);
	CHECK_EQ(resident(r.mem, at, 8 * MIB), 0);
	CHECK_EQ(resident(r.mem, hi, 1 * MIB), 0);
	CHECK_EQ(resident(r.mem, at + 8 * MIB, 1 * MIB), 256);
	CHECK(all(r.mem, at + 8 * MIB, 1 * MIB, 0xef));
	CHECK(all(r.mem, at, 8 * MIB, 0)); /* released: the guest finds zeros */
	virtio_balloon_info(r.b, &in);
	CHECK_EQ(in.inflate_pages, 2304);
	CHECK_EQ(in.inflated, 2304);
	CHECK_EQ(in.bad_pfns, 0);
	/* deflate: accounting only */
	for (unsigned i = 0; i < 256; i++)
		pfn[i] = (uint32_t)(hi / PG) + i;
	CHECK_EQ(send_pfns(&r, 1, pfn, 256), 0);
	virtio_balloon_info(r.b, &in);
	CHECK_EQ(in.deflate_pages, 256);
	CHECK_EQ(in.inflated, 2048);
	CHECK(in.driver_ok);
	rig_down(&r);
}

static void test_garbage_pfns(void)
{
	struct vballoon_opts o = { 0 };
	struct vballoon_info in;
	struct rig r;
	uint64_t canary = 20 * MIB;
	uint32_t bad[] = {
		(uint32_t)(LOW / PG),                /* the first page of the hole */
		(uint32_t)(0xd0000000ULL / PG),      /* the device's own MMIO window */
		(uint32_t)((HIGH - PG) / PG),        /* the last page below 4 GiB */
		(uint32_t)((HIGH + 32 * MIB) / PG),  /* just past the end of RAM */
		0xffffffffu,                         /* huge */
		0x7fffffffu,
	};
	uint32_t mixed[3] = { (uint32_t)(canary / PG), 0xfffffff0u, (uint32_t)(canary / PG) + 1 };

	CHECK_EQ(rig_up(&r, &o), 0);
	CHECK_EQ(vdrv_setup(&r.v, ~0ULL, 3), 15);
	fill(r.mem, canary, 1 * MIB, 0x5a);
	fill(r.mem, LOW - 1 * MIB, 1 * MIB, 0x5b);
	fill(r.mem, HIGH + 31 * MIB, 1 * MIB, 0x5c);
	CHECK_EQ(send_pfns(&r, 0, bad, 6), 0);
	virtio_balloon_info(r.b, &in);
	CHECK_EQ(in.bad_pfns, 6);
	CHECK_EQ(in.inflate_pages, 0);
	CHECK_EQ(in.inflated, 0);
	CHECK_EQ(resident(r.mem, canary, 1 * MIB), 256);
	CHECK_EQ(resident(r.mem, LOW - 1 * MIB, 1 * MIB), 256);
	CHECK_EQ(resident(r.mem, HIGH + 31 * MIB, 1 * MIB), 256);
	CHECK(all(r.mem, canary, 1 * MIB, 0x5a));
	CHECK(all(r.mem, LOW - 1 * MIB, 1 * MIB, 0x5b));
	CHECK(all(r.mem, HIGH + 31 * MIB, 1 * MIB, 0x5c));
	/* deflating garbage is refused the same way */
	CHECK_EQ(send_pfns(&r, 1, bad, 6), 0);
	virtio_balloon_info(r.b, &in);
	CHECK_EQ(in.bad_pfns, 12);
	CHECK_EQ(in.deflate_pages, 0);
	/* good and bad in one buffer: the good ones only */
	CHECK_EQ(send_pfns(&r, 0, mixed, 3), 0);
	virtio_balloon_info(r.b, &in);
	CHECK_EQ(in.bad_pfns, 13);
	CHECK_EQ(in.inflate_pages, 2);
	CHECK_EQ(resident(r.mem, canary, 2 * PG), 0);
	CHECK_EQ(resident(r.mem, canary + 2 * PG, 1 * MIB - 2 * PG), 254);
	/* a buffer with a trailing partial PFN and an empty one: completed, nothing done */
	CHECK_EQ(send_pfns(&r, 0, mixed, 0), 0);
	{
		struct vdrv_buf b = { VDRV_DATA, 6, false };

		memcpy(r.mem->host + VDRV_DATA, &mixed[2], 4);
		vdrv_submit(&r.v, 0, &b, 1);
		CHECK_EQ(vdrv_wait(&r.v, 0, NULL), 0);
	}
	virtio_balloon_info(r.b, &in);
	CHECK_EQ(in.inflate_pages, 3);
	CHECK_EQ(in.bad_pfns, 13);
	/* one page given 20000 times: counted, but the balloon is never more than RAM */
	{
		uint32_t *many = calloc(20000, 4);

		for (unsigned i = 0; i < 20000; i++)
			many[i] = (uint32_t)(canary / PG) + 5;
		CHECK_EQ(send_pfns(&r, 0, many, 20000), 0);
		free(many);
	}
	virtio_balloon_info(r.b, &in);
	CHECK_EQ(in.inflate_pages, 20003);
	CHECK_EQ(in.inflated, RAM / PG);
	CHECK(virtio_dev_running(virtio_balloon_dev(r.b)));
	rig_down(&r);
}

static void put_stat(uint8_t *p, unsigned i, uint16_t tag, uint64_t val)
{
	memcpy(p + 10 * i, &tag, 2);
	memcpy(p + 10 * i + 2, &val, 8);
}

static void test_stats(void)
{
	struct vballoon_opts o = { .stats_interval = 1 };
	struct vballoon_info in;
	struct rig r;
	struct vdrv_buf b = { VDRV_DATA, 50, false };
	uint8_t *p;

	CHECK_EQ(rig_up(&r, &o), 0);
	CHECK_EQ(vdrv_setup(&r.v, ~0ULL, 3), 15);
	p = r.mem->host + VDRV_DATA;
	put_stat(p, 0, VBALLOON_S_MEMFREE, 123 * MIB);
	put_stat(p, 1, VBALLOON_S_MEMTOT, 1000 * MIB);
	put_stat(p, 2, 99, 7);                     /* unknown tag: ignored */
	put_stat(p, 3, VBALLOON_S_AVAIL, ~0ULL);   /* absurd, reported as said */
	put_stat(p, 4, VBALLOON_S_SWAP_IN, 42);
	vdrv_submit(&r.v, 2, &b, 1);
	/* the device keeps the buffer; its timer hands it back within a second or so */
	CHECK_EQ(vdrv_wait(&r.v, 2, NULL), 0);
	virtio_balloon_info(r.b, &in);
	CHECK_EQ(in.stats_updates, 1);
	CHECK_EQ(in.stats_mask, (1u << VBALLOON_S_MEMFREE) | (1u << VBALLOON_S_MEMTOT) |
				(1u << VBALLOON_S_AVAIL) | (1u << VBALLOON_S_SWAP_IN));
	CHECK_EQ(in.stats[VBALLOON_S_MEMFREE], 123 * MIB);
	CHECK_EQ(in.stats[VBALLOON_S_MEMTOT], 1000 * MIB);
	CHECK(in.stats[VBALLOON_S_AVAIL] == ~0ULL);
	CHECK_EQ(in.stats[VBALLOON_S_SWAP_IN], 42);
	CHECK(!strcmp(virtio_balloon_stat_name(VBALLOON_S_MEMFREE), "free"));
	/* the driver answers the request with fresh figures */
	put_stat(p, 0, VBALLOON_S_MEMFREE, 99 * MIB);
	b.len = 10;
	vdrv_submit(&r.v, 2, &b, 1);
	CHECK_EQ(vdrv_wait(&r.v, 2, NULL), 0);
	virtio_balloon_info(r.b, &in);
	CHECK_EQ(in.stats_updates, 2);
	CHECK_EQ(in.stats[VBALLOON_S_MEMFREE], 99 * MIB);
	CHECK_EQ(in.stats[VBALLOON_S_MEMTOT], 1000 * MIB); /* kept from before */
	rig_down(&r);
}

static void test_target(void)
{
	struct vballoon_opts o = { .deflate_on_oom = true };
	struct vballoon_info in;
	struct rig r;
	uint32_t gen;

	CHECK_EQ(rig_up(&r, &o), 0);
	vdrv_wr(&r.v, 0x14, 4, 0);
	CHECK_EQ(vdrv_rd(&r.v, 0x10, 4) & 0x3f, (1u << VIRTIO_BALLOON_F_STATS_VQ) |
					       (1u << VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	CHECK_EQ(vdrv_setup(&r.v, ~0ULL, 3), 15);
	vdrv_wr(&r.v, 0x64, 4, vdrv_rd(&r.v, 0x60, 4)); /* ack what setup raised */
	gen = vdrv_rd(&r.v, 0xfc, 4);
	CHECK_EQ(vdrv_rd(&r.v, 0x100, 4), 0);
	CHECK_EQ(virtio_balloon_set_target(r.b, 24 * MIB), 0);
	CHECK_EQ(vdrv_rd(&r.v, 0x100, 4), 24 * MIB / PG);
	CHECK(vdrv_rd(&r.v, 0x60, 4) & VIRTIO_ISR_CONFIG);
	CHECK(vdrv_rd(&r.v, 0xfc, 4) != gen);
	CHECK_EQ(virtio_balloon_set_target(r.b, RAM + PG), -EINVAL);
	CHECK_EQ(vdrv_rd(&r.v, 0x100, 4), 24 * MIB / PG);
	/* the driver writes actual; num_pages is not its to write */
	vdrv_wr(&r.v, 0x104, 4, 1000);
	vdrv_wr(&r.v, 0x100, 4, 5);
	CHECK_EQ(vdrv_rd(&r.v, 0x100, 4), 24 * MIB / PG);
	CHECK_EQ(vdrv_rd(&r.v, 0x104, 4), 1000);
	virtio_balloon_info(r.b, &in);
	CHECK_EQ(in.target, 24 * MIB);
	CHECK_EQ(in.actual, 1000 * PG);
	CHECK(in.deflate_on_oom);
	CHECK(!in.reporting);
	/* an absurd actual is clamped to RAM in what the host is told */
	vdrv_wr(&r.v, 0x104, 4, 0xffffffff);
	virtio_balloon_info(r.b, &in);
	CHECK_EQ(in.actual, RAM);
	rig_down(&r);
}

/* Free page reporting with nq queues negotiated (want: the features taken). */
static void report_case(uint64_t want, unsigned q)
{
	struct vballoon_opts o = { .reporting = true };
	struct vballoon_info in;
	struct rig r;
	uint64_t at = 24 * MIB;
	struct vdrv_buf b[3] = {
		{ at, 2 * MIB, true },
		{ HIGH + 4 * MIB, 2 * MIB, true },
		{ at + 4 * MIB + 100, 8192, true }, /* unaligned: the one whole page inside */
	};

	CHECK_EQ(rig_up(&r, &o), 0);
	CHECK_EQ(vdrv_setup(&r.v, want, q + 1), 15);
	CHECK(virtio_has(virtio_balloon_dev(r.b), VIRTIO_BALLOON_F_REPORTING));
	fill(r.mem, at, 6 * MIB, 0x11);
	fill(r.mem, HIGH + 4 * MIB, 2 * MIB, 0x22);
	vdrv_submit(&r.v, q, b, 3);
	CHECK_EQ(vdrv_wait(&r.v, q, NULL), 0);
	CHECK_EQ(resident(r.mem, at, 2 * MIB), 0);
	CHECK_EQ(resident(r.mem, HIGH + 4 * MIB, 2 * MIB), 0);
	CHECK_EQ(resident(r.mem, at + 2 * MIB, 2 * MIB), 512);
	CHECK_EQ(resident(r.mem, at + 4 * MIB, 3 * PG), 2);
	CHECK_EQ(resident(r.mem, at + 4 * MIB + PG, PG), 0);
	CHECK(all(r.mem, at + 4 * MIB, 100, 0x11));
	virtio_balloon_info(r.b, &in);
	CHECK_EQ(in.reported, 4 * MIB + PG);
	CHECK_EQ(in.inflate_pages, 0);
	CHECK(in.reporting);
	rig_down(&r);
}

static void test_reporting(void)
{
	/* with the statistics queue the reporting queue is the 4th, without it the 3rd */
	report_case(~0ULL, 3);
	report_case(~(1ULL << VIRTIO_BALLOON_F_STATS_VQ), 2);
}

static void test_save_restore(void)
{
	struct vballoon_opts o = { .reporting = true, .stats_interval = 0 };
	struct vballoon_opts other = { .deflate_on_oom = true };
	struct virtio_balloon_state *st = calloc(1, sizeof(*st));
	struct vballoon_info a, z;
	struct virtio_balloon *b2, *b3;
	struct virtio_mmio *mm2;
	struct vdrv_buf sb = { VDRV_DATA + 0x8000, 10, false };
	struct rig r;
	uint32_t pfn[4] = { 4096, 4097, 9999999, 4098 };

	CHECK_EQ(rig_up(&r, &o), 0);
	CHECK_EQ(vdrv_setup(&r.v, ~0ULL, 4), 15);
	CHECK_EQ(send_pfns(&r, 0, pfn, 4), 0);
	CHECK_EQ(send_pfns(&r, 1, pfn, 1), 0);
	put_stat(r.mem->host + sb.gpa, 0, VBALLOON_S_CACHES, 5 * MIB);
	vdrv_submit(&r.v, 2, &sb, 1);
	CHECK_EQ(virtio_balloon_set_target(r.b, 8 * MIB), 0);
	vdrv_wr(&r.v, 0x104, 4, 3);
	/* wait until the device took the statistics (no interval: it holds the buffer) */
	for (int i = 0; i < 5000; i++) {
		virtio_balloon_info(r.b, &a);
		if (a.stats_updates)
			break;
		usleep(1000);
	}
	CHECK_EQ(a.stats_updates, 1);
	CHECK_EQ(virtio_balloon_save(r.b, st), 0);
	/* the save handed the statistics buffer back (the driver sends it again) */
	CHECK_EQ(vdrv_wait(&r.v, 2, NULL), 0);
	CHECK_EQ(st->num_pages, 8 * MIB / PG);
	CHECK_EQ(st->actual, 3);
	/* into a fresh device on the same memory */
	CHECK_EQ(virtio_balloon_create(&r.host, &o, "virtio-balloon-b", &b2), 0);
	CHECK_EQ(virtio_mmio_create(virtio_balloon_dev(b2), BASE2, 6, &mm2), 0);
	CHECK_EQ(virtio_balloon_restore(b2, st), 0);
	virtio_balloon_info(b2, &z);
	CHECK_EQ(z.target, 8 * MIB);
	CHECK_EQ(z.actual, 3 * PG);
	CHECK_EQ(z.inflate_pages, 3);
	CHECK_EQ(z.deflate_pages, 1);
	CHECK_EQ(z.inflated, 2);
	CHECK_EQ(z.bad_pfns, 1);
	CHECK_EQ(z.stats_mask, 1u << VBALLOON_S_CACHES);
	CHECK_EQ(z.stats[VBALLOON_S_CACHES], 5 * MIB);
	CHECK(z.driver_ok);
	CHECK(z.reporting);
	/* the restored device goes on with the rings where the first left them */
	r.v.base = BASE2;
	CHECK_EQ(send_pfns(&r, 0, pfn + 3, 1), 0);
	virtio_balloon_info(b2, &z);
	CHECK_EQ(z.inflate_pages, 4);
	/* refusals leave the device unchanged */
	CHECK_EQ(virtio_balloon_create(&r.host, &other, "virtio-balloon-c", &b3), 0);
	CHECK_EQ(virtio_balloon_restore(b3, st), -EINVAL);
	st->num_pages = (uint32_t)(RAM / PG) + 1;
	CHECK_EQ(virtio_balloon_restore(b2, st), -EINVAL);
	virtio_balloon_info(b2, &z);
	CHECK_EQ(z.target, 8 * MIB);
	virtio_balloon_destroy(b3);
	virtio_mmio_destroy(mm2);
	virtio_balloon_destroy(b2);
	rig_down(&r);
	free(st);
}

int main(void)
{
	RUN(test_inflate_releases);
	RUN(test_garbage_pfns);
	RUN(test_stats);
	RUN(test_target);
	RUN(test_reporting);
	RUN(test_save_restore);
	return check_done();
}
