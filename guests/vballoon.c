/* vballoon: virtio-balloon over virtio-mmio or virtio-pci (`--device balloon,
 * free-page-reporting=on,stats-interval=1`), driven with tests/t-virtio-balloon.sh, which
 * talks to the VMM's control socket. The guest: sends its statistics (the device keeps the
 * buffer and hands it back within the interval: a request for fresh ones); fills 16 MiB and
 * says "filled"; waits for the host's target (num_pages, a config change) and inflates that
 * memory, which must then read as zeros (the host released it), and sets actual; waits for
 * the target to go back to 0 and deflates (the pages come back writable); gives garbage page
 * numbers (past RAM, in the device hole, huge), which change nothing; then reports 4 MiB of
 * filled memory as free (free page reporting), which must read as zeros after.
 * Parameters: transport=mmio|pci. */
#include "rt/rt.h"
#include "virtio/vio.h"

#define VIO_ID_BALLOON 5
#define F_STATS_VQ  1
#define F_REPORTING 5
#define CFG_NUM_PAGES 0
#define CFG_ACTUAL    4
#define FILL (16u << 20)
#define REPORT (4u << 20)
#define PFNS_PER_BUF 1024

static struct vdev dev;
static struct vq inflateq, deflateq, statsq, reportq;

struct stat_entry {
	uint16_t tag;
	uint64_t val;
} __attribute__((packed));

/* Wait up to ms for num_pages to become want (a config change). */
static int wait_target(uint32_t want, unsigned ms)
{
	uint64_t end = vio_now_us() + ms * 1000ull;

	while (vio_now_us() < end)
		if (vio_cfg_read(&dev, CFG_NUM_PAGES, 4) == want)
			return 0;
	return -1;
}

/* Give the pages of [p, p + len) to queue q in buffers of PFNS_PER_BUF, one at a time. */
static void send_pages(struct vq *q, uint8_t *p, uint32_t len, uint32_t *pfn)
{
	uint32_t n = len / 4096, done = 0, got;

	while (done < n) {
		uint32_t k = n - done < PFNS_PER_BUF ? n - done : PFNS_PER_BUF;
		struct vio_sg sg = { (uint64_t)pfn, k * 4 };

		for (uint32_t i = 0; i < k; i++)
			pfn[i] = (uint32_t)(((uint64_t)p >> 12) + done + i);
		if (vq_add(q, &sg, 1, 0, pfn) < 0 || vq_kick(q) < 0 || !vq_wait(q, &got, 5000))
			rt_fail("%s: a page list did not come back", dev.name);
		done += k;
	}
}

static int all_zero(const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i += 8)
		if (*(const uint64_t *)(p + i))
			return 0;
	return 1;
}

static long run(long arg)
{
	uint8_t *fill = vio_alloc(FILL, 2 << 20), *rep = vio_alloc(REPORT, 2 << 20);
	uint8_t *canary = vio_alloc(4096, 4096);
	uint32_t *pfn = vio_alloc(PFNS_PER_BUF * 4, 4096), got, pages = FILL / 4096;
	struct stat_entry *st = vio_alloc(2 * sizeof(*st), 64);
	(void)arg;

	if (vio_find(VIO_ID_BALLOON, 0, vio_param_transport(), &dev) < 0)
		rt_fail("vballoon: no virtio-balloon device");
	if (vio_negotiate(&dev, 1ull << F_STATS_VQ | 1ull << F_REPORTING | 1ull << VIO_F_EVENT_IDX) < 0)
		rt_fail("%s: negotiation failed", dev.name);
	if (!vio_has(&dev, F_STATS_VQ) || !vio_has(&dev, F_REPORTING))
		rt_fail("%s: no statistics queue or free page reporting offered", dev.name);
	if (vq_setup(&dev, &inflateq, 0, 8, 0) < 0 || vq_setup(&dev, &deflateq, 1, 8, 0) < 0 ||
	    vq_setup(&dev, &statsq, 2, 8, 0) < 0 || vq_setup(&dev, &reportq, 3, 8, 0) < 0)
		rt_fail("%s: queue set-up failed", dev.name);
	vio_driver_ok(&dev);

	/* statistics: held by the device, handed back within its interval (1 s) */
	st[0] = (struct stat_entry){ 4, 12345678 };  /* MEMFREE */
	st[1] = (struct stat_entry){ 5, 50u << 20 }; /* MEMTOT */
	struct vio_sg ssg = { (uint64_t)st, 2 * sizeof(*st) };
	if (vq_add(&statsq, &ssg, 1, 0, st) < 0 || vq_kick(&statsq) < 0 || !vq_wait(&statsq, &got, 5000))
		rt_fail("%s: the statistics buffer did not come back", dev.name);
	rt_printf("vballoon: statistics asked for again\n");
	vq_add(&statsq, &ssg, 1, 0, st);  /* the fresh figures: held until the end */
	vq_kick(&statsq);

	/* 16 MiB the host sees written; the host asks for a balloon of that size */
	for (uint32_t i = 0; i < FILL; i += 8)
		*(uint64_t *)(fill + i) = 0xa5a5a5a5a5a5a5a5ull ^ i;
	rt_printf("vballoon: filled, waiting for a target\n");
	if (wait_target(pages, 30000) < 0)
		rt_fail("vballoon: num_pages %u, expected %u", vio_cfg_read(&dev, CFG_NUM_PAGES, 4), pages);
	send_pages(&inflateq, fill, FILL, pfn);
	vio_cfg_write(&dev, CFG_ACTUAL, 4, pages);
	if (!all_zero(fill, FILL))
		rt_fail("vballoon: inflated memory still holds what the guest wrote");
	rt_printf("vballoon: inflated %u pages, they read as zeros\n", pages);

	/* the host lets it go: deflate, and the memory is the guest's again */
	if (wait_target(0, 30000) < 0)
		rt_fail("vballoon: num_pages %u, expected 0", vio_cfg_read(&dev, CFG_NUM_PAGES, 4));
	send_pages(&deflateq, fill, FILL, pfn);
	vio_cfg_write(&dev, CFG_ACTUAL, 4, 0);
	for (uint32_t i = 0; i < FILL; i += 4096)
		*(uint64_t *)(fill + i) = i;
	for (uint32_t i = 0; i < FILL; i += 4096)
		if (*(uint64_t *)(fill + i) != i)
			rt_fail("vballoon: deflated memory does not keep what is written");
	rt_printf("vballoon: deflated\n");

	/* garbage page numbers: refused, nothing touched */
	for (uint32_t i = 0; i < 4096; i += 8)
		*(uint64_t *)(canary + i) = 0x5a5a5a5a5a5a5a5aull;
	pfn[0] = 0xffffffffu;
	pfn[1] = 0xd0000000u >> 12;
	pfn[2] = 0xfffffu;
	pfn[3] = 0x200000u;              /* 8 GiB: past a small VM's RAM */
	struct vio_sg gsg = { (uint64_t)pfn, 16 };
	if (vq_add(&inflateq, &gsg, 1, 0, pfn) < 0 || vq_kick(&inflateq) < 0 ||
	    !vq_wait(&inflateq, &got, 5000))
		rt_fail("%s: the garbage list did not come back", dev.name);
	for (uint32_t i = 0; i < 4096; i += 8)
		if (*(uint64_t *)(canary + i) != 0x5a5a5a5a5a5a5a5aull)
			rt_fail("vballoon: a page not given changed");
	if (vio_status(&dev) & VIO_S_NEEDS_RESET)
		rt_fail("%s: device needs reset after garbage page numbers", dev.name);
	rt_printf("vballoon: garbage refused\n");

	/* free page reporting: 4 MiB written, reported free, then zeros */
	for (uint32_t i = 0; i < REPORT; i += 8)
		*(uint64_t *)(rep + i) = 0x1111111111111111ull;
	struct vio_sg rsg[2] = { { (uint64_t)rep, REPORT / 2 }, { (uint64_t)rep + REPORT / 2, REPORT / 2 } };
	if (vq_add(&reportq, rsg, 0, 2, rep) < 0 || vq_kick(&reportq) < 0 || !vq_wait(&reportq, &got, 5000))
		rt_fail("%s: the free page report did not come back", dev.name);
	if (!all_zero(rep, REPORT))
		rt_fail("vballoon: reported memory still holds what the guest wrote");
	rt_printf("vballoon: reported %u KiB, they read as zeros\n", REPORT >> 10);
	if (vio_status(&dev) & VIO_S_NEEDS_RESET)
		rt_fail("%s: device needs reset", dev.name);
	rt_printf("vballoon: ok\n");
	return 0;
}

int main(void)
{
	long ret = -1;
	vio_init();
	if (rt_user_call(run, 0, &ret) < 0)
		rt_fail("vballoon: ring-3 call failed");
	return (int)ret;
}
