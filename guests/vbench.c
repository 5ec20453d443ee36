/* vbench: the virtio-blk benchmark guest (bench/virtio-blk.py runs it under vsrv and QEMU).
 * Phases, each `ms` milliseconds long (default 1000) over the whole disk:
 *   randread-qd1, randread-qd32, randwrite-qd1, randwrite-qd32 (4 KiB at random 4 KiB offsets),
 *   seqread-1m, seqwrite-1m (1 MiB requests, 4 in flight), and `nop` (no I/O: the harness's own
 *   overhead in exits).
 * Before each phase it prints `vbench: ready PHASE` and, with `sync` on the command line,
 * waits for a byte on the serial line, so the harness can read the VM's KVM exit count around
 * the phase. After it: `vbench: PHASE ops=N bytes=B us=T kicks=K regs=R` (guest TSC time;
 * notifications written; register accesses). Parameters: transport=mmio|pci, ms=N, sync,
 * phases=a,b,... (default all), costs (first print the price of one register access through
 * the stub and directly), ring0 (run the driver in ring 0), vio_gate (ring 3 reaches the
 * registers through the #BP stub): the last two measure the choice of ring. */
#include "rt/rt.h"
#include "virtio/vio.h"

#define MAXQD 32

static struct vdev dev;
static struct vq q;
static struct vblk_req reqs[MAXQD];
static uint8_t *small[MAXQD], *big[4];
static uint64_t sectors, rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void wait_go(void)
{
	if (!rt_param_flag("sync"))
		return;
	for (;;) {
		if (rt_inb(0x3f8 + 5) & 1) {
			(void)rt_inb(0x3f8);
			return;
		}
		uint64_t t = rt_rdtsc() + vio_tsc_per_ms;
		while (rt_rdtsc() < t)
			rt_pause();
	}
}

static void phase(const char *name, uint32_t type, int random, unsigned qd, uint32_t bs, unsigned ms)
{
	char want[128];
	uint64_t ops = 0, bytes = 0, seq = 0, k0, r0, t0, end;
	unsigned inflight = 0, nfree = qd, free_slot[MAXQD], i;
	uint64_t blocks = sectors / (bs / 512);

	if (rt_param("phases", want, sizeof(want)) >= 0 && !strstr(want, name))
		return;
	for (i = 0; i < qd; i++)
		free_slot[i] = i;
	rt_printf("vbench: ready %s\n", name);
	wait_go();
	k0 = q.kicks;
	r0 = vio_reg_accesses;
	t0 = rt_rdtsc();
	end = t0 + (uint64_t)ms * vio_tsc_per_ms;
	while (type != 0xff && (rt_rdtsc() < end || inflight)) {
		while (nfree && rt_rdtsc() < end) {
			unsigned k = free_slot[--nfree];
			uint64_t blk = random ? rnd() % blocks : seq++ % blocks;
			if (vblk_queue(&q, &reqs[k], type, blk * (bs / 512), bs > 4096 ? big[k] : small[k], bs) < 0)
				rt_fail("vbench: ring full");
			inflight++;
		}
		vq_kick(&q);
		struct vblk_req *r;
		while ((r = vq_get(&q, NULL)) == NULL)
			rt_pause();
		do {
			if (r->status != VBLK_S_OK)
				rt_fail("vbench: %s: status %u", name, r->status);
			inflight--;
			ops++;
			bytes += bs;
			free_slot[nfree++] = (unsigned)(r - reqs);
		} while ((r = vq_get(&q, NULL)) != NULL);
	}
	uint64_t us = (rt_rdtsc() - t0) * 1000 / vio_tsc_per_ms;
	rt_printf("vbench: %s ops=%lu bytes=%lu us=%lu kicks=%lu regs=%lu\n", name, (unsigned long)ops,
		  (unsigned long)bytes, (unsigned long)us, (unsigned long)(q.kicks - k0),
		  (unsigned long)(vio_reg_accesses - r0));
}

/* The price of one register access from this ring, through the #BP stub and directly:
 * a notification (an ioeventfd on vsrv) and a configuration read (a user-space exit). */
static void access_costs(void)
{
	const int n = 200;
	int saved = vio_use_gate;
	for (int g = 1; g >= 0; g--) {
		vio_use_gate = g;
		uint64_t t0 = rt_rdtsc();
		for (int i = 0; i < n; i++)
			vq_notify(&q);
		uint64_t t1 = rt_rdtsc();
		for (int i = 0; i < n; i++)
			(void)vio_cfg_read(&dev, 0, 4);
		uint64_t t2 = rt_rdtsc();
		rt_printf("vbench: cost ring%d%s: notify %lu ns, config read %lu ns\n", rt_cpl(),
			  g ? " via #BP stub" : " direct", (unsigned long)((t1 - t0) * 1000000 / vio_tsc_per_ms / n),
			  (unsigned long)((t2 - t1) * 1000000 / vio_tsc_per_ms / n));
		if (rt_cpl() == 0)
			break;
	}
	vio_use_gate = saved;
}

static long run(long arg)
{
	unsigned ms = (unsigned)rt_param_u64("ms", 1000), i;
	(void)arg;

	if (vio_find(VIO_ID_BLK, 0, vio_param_transport(), &dev) < 0)
		rt_fail("vbench: no virtio-blk device");
	if (vio_negotiate(&dev, 1ull << VIO_F_EVENT_IDX | 1ull << VIO_F_INDIRECT | 1ull << VBLK_F_FLUSH) < 0 ||
	    vq_setup(&dev, &q, 0, 128, 4) < 0)
		rt_fail("%s: set-up failed", dev.name);
	vio_driver_ok(&dev);
	sectors = vio_cfg_read64(&dev, 0);
	for (i = 0; i < MAXQD; i++)
		small[i] = vio_alloc(4096, 4096);
	for (i = 0; i < 4; i++)
		big[i] = vio_alloc(1 << 20, 4096);
	rt_printf("vbench: %s, %lu MiB, tsc %lu kHz\n", dev.name, (unsigned long)(sectors >> 11),
		  (unsigned long)vio_tsc_per_ms);
	if (rt_param_flag("costs"))
		access_costs();
	phase("nop", 0xff, 0, 1, 4096, 0);
	phase("randread-qd1", VBLK_T_IN, 1, 1, 4096, ms);
	phase("randread-qd32", VBLK_T_IN, 1, 32, 4096, ms);
	phase("randwrite-qd1", VBLK_T_OUT, 1, 1, 4096, ms);
	phase("randwrite-qd32", VBLK_T_OUT, 1, 32, 4096, ms);
	phase("seqread-1m", VBLK_T_IN, 0, 4, 1 << 20, ms);
	phase("seqwrite-1m", VBLK_T_OUT, 0, 4, 1 << 20, ms);
	rt_printf("vbench: done\n");
	return 0;
}

int main(void)
{
	long ret = -1;
	vio_init();
	if (rt_param_flag("ring0"))
		return (int)run(0);
	if (rt_user_call(run, 0, &ret) < 0)
		rt_fail("vbench: ring-3 call failed");
	return (int)ret;
}
