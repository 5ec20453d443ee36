/* vrng: virtio-rng over virtio-mmio or virtio-pci. Posts 8 buffers of 2 KiB in one batch,
 * waits for all of them, and checks what came back: every buffer filled, not all equal, and a
 * byte histogram plausible for random data (chi-square over 256 bins below a loose bound).
 * Parameters: transport=mmio|pci. */
#include "rt/rt.h"
#include "virtio/vio.h"

#define NBUF 8
#define BUFSZ 2048

static struct vdev dev;
static struct vq q;

static long run(long arg)
{
	static uint32_t hist[256];
	uint8_t *buf[NBUF];
	uint32_t got = 0, len;
	unsigned i, done = 0;
	(void)arg;

	if (vio_find(VIO_ID_RNG, 0, vio_param_transport(), &dev) < 0)
		rt_fail("vrng: no virtio-rng device");
	if (vio_negotiate(&dev, 1ull << VIO_F_EVENT_IDX | 1ull << VIO_F_INDIRECT) < 0 || vq_setup(&dev, &q, 0, 8, 0) < 0)
		rt_fail("%s: set-up failed", dev.name);
	vio_driver_ok(&dev);
	for (i = 0; i < NBUF; i++) {
		buf[i] = vio_alloc(BUFSZ, 64);
		struct vio_sg sg = { (uint64_t)buf[i], BUFSZ };
		if (vq_add(&q, &sg, 0, 1, buf[i]) < 0)
			break;
	}
	unsigned posted = i;
	vq_kick(&q);
	while (done < posted) {
		uint8_t *b = vq_wait(&q, &len, 5000);
		if (!b)
			rt_fail("vrng: %u of %u buffers came back", done, posted);
		if (len == 0 || len > BUFSZ)
			rt_fail("vrng: used length %u", len);
		for (uint32_t k = 0; k < len; k++)
			hist[b[k]]++;
		got += len;
		done++;
	}
	/* chi-square with 255 degrees of freedom: mean 255, sd ~22.6; 400 is > 6 sd */
	uint64_t chi100 = 0, e100 = (uint64_t)got * 100 / 256;
	for (i = 0; i < 256; i++) {
		int64_t d = (int64_t)hist[i] * 100 - (int64_t)e100;
		chi100 += (uint64_t)(d * d) / e100;
	}
	rt_printf("vrng: %s: %u bytes in %u buffers, chi-square %lu\n", dev.name, got, posted, (unsigned long)(chi100 / 100));
	if (got < 256 || chi100 / 100 > 400)
		rt_fail("vrng: bytes do not look random");
	if (!memcmp(buf[0], buf[1], 64))
		rt_fail("vrng: two buffers start alike");
	if (vio_status(&dev) & VIO_S_NEEDS_RESET)
		rt_fail("%s: device needs reset", dev.name);
	rt_printf("vrng: ok\n");
	return 0;
}

int main(void)
{
	long ret = -1;
	vio_init();
	if (rt_user_call(run, 0, &ret) < 0)
		rt_fail("vrng: ring-3 call failed");
	return (int)ret;
}
