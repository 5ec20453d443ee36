/* virtio core and the virtio-mmio transport, driven by the test driver (tests/unit/vdrv.h)
 * against virtio-rng: registers, negotiation, requests, interrupts, hostile input. */
#include "check.h"
#include "vdrv.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/rng.h"

#include <errno.h>
#include <stdlib.h>

#define BASE 0xd0000000ULL

static struct guest_mem *mem;
static struct bus bus;
static struct virtio_host host;
static struct virtio_rng *rng;
static struct virtio_mmio *mm;
static struct vdrv v;

static void up(void)
{
	CHECK_EQ(guest_mem_create(16 << 20, &mem), 0);
	bus_init(&bus);
	host.mem = mem;
	host.mmio = &bus;
	CHECK_EQ(virtio_rng_create(&host, &rng), 0);
	CHECK_EQ(virtio_mmio_create(virtio_rng_dev(rng), BASE, 5, &mm), 0);
	v = (struct vdrv){ .bus = &bus, .mem = mem, .base = BASE };
}

static void down(void)
{
	virtio_mmio_destroy(mm);
	virtio_rng_destroy(rng);
	bus_destroy(&bus);
	guest_mem_destroy(mem);
}

static void test_registers(void)
{
	char buf[64];

	up();
	CHECK_EQ(vdrv_rd(&v, 0, 4), 0x74726976);
	CHECK_EQ(vdrv_rd(&v, 4, 4), 2);
	CHECK_EQ(vdrv_rd(&v, 8, 4), VIRTIO_ID_RNG);
	CHECK_EQ(vdrv_rd(&v, 0x34, 4), 256);
	vdrv_wr(&v, 0x14, 4, 1);
	CHECK_EQ(vdrv_rd(&v, 0x10, 4) & 1, 1); /* VERSION_1 */
	CHECK_EQ(vdrv_rd(&v, 0x1, 2), 0);      /* unaligned: zero */
	CHECK_EQ(vdrv_rd(&v, 0x100, 4), 0);    /* no config space */
	vdrv_wr(&v, 0xf00, 4, 0x12345678);     /* out of range config write: ignored */
	virtio_mmio_cmdline(mm, buf, sizeof(buf));
	CHECK(!strcmp(buf, "virtio_mmio.device=4K@0xd0000000:5"));
	down();
}

static void test_rng_request(void)
{
	struct vdrv_buf b = { VDRV_DATA, 4096, true };
	uint64_t irqs = 0;
	unsigned i, zero = 0;

	up();
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 1), 15);
	memset(mem->host + VDRV_DATA, 0, 4096);
	vdrv_submit(&v, 0, &b, 1);
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 4096);
	for (i = 0; i < 4096; i++)
		zero += mem->host[VDRV_DATA + i] == 0;
	CHECK(zero < 100);
	CHECK(read(mm->irq_fd, &irqs, 8) == 8 && irqs >= 1);
	CHECK_EQ(vdrv_rd(&v, 0x60, 4) & 1, 1);
	vdrv_wr(&v, 0x64, 4, 1);
	CHECK_EQ(vdrv_rd(&v, 0x60, 4), 0);
	/* a readable-only chain: nothing written */
	b.write = false;
	vdrv_submit(&v, 0, &b, 1);
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 0);
	down();
}

static void test_hostile(void)
{
	struct vdrv_buf b = { 0xffff0000ULL, 4096, true }; /* outside 16 MiB of RAM */

	up();
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 1), 15);
	vdrv_wr(&v, 0x50, 4, 7); /* notify a queue that does not exist */
	vdrv_submit(&v, 0, &b, 1);
	for (int i = 0; i < 2000 && !(vdrv_status(&v) & VIRTIO_STATUS_NEEDS_RESET); i++)
		usleep(1000);
	CHECK(vdrv_status(&v) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(vdrv_rd(&v, 0x60, 4) & 2); /* config interrupt */
	/* the driver resets and it works again */
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 1), 15);
	b.gpa = VDRV_DATA;
	vdrv_submit(&v, 0, &b, 1);
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 4096);

	/* queue size not a power of two: the device refuses the queue */
	vdrv_set_status(&v, 0);
	vdrv_set_status(&v, 1 | 2);
	vdrv_wr(&v, 0x24, 4, 1);
	vdrv_wr(&v, 0x20, 4, 1);
	vdrv_set_status(&v, 1 | 2 | 8);
	vdrv_wr(&v, 0x30, 4, 0);
	vdrv_wr(&v, 0x38, 4, 100);
	vdrv_wr(&v, 0x44, 4, 1);
	CHECK_EQ(vdrv_rd(&v, 0x44, 4), 0);
	/* ring outside memory */
	vdrv_set_status(&v, 0);
	vdrv_set_status(&v, 1 | 2);
	vdrv_wr(&v, 0x30, 4, 0);
	vdrv_wr(&v, 0x38, 4, 64);
	vdrv_wr(&v, 0x80, 4, 0xfffff000);
	vdrv_wr(&v, 0x44, 4, 1);
	CHECK_EQ(vdrv_rd(&v, 0x44, 4), 0);
	/* queue select out of range */
	vdrv_wr(&v, 0x30, 4, 99);
	CHECK_EQ(vdrv_rd(&v, 0x34, 4), 0);
	vdrv_wr(&v, 0x44, 4, 1);
	down();
}

static void test_legacy_driver_refused(void)
{
	up();
	vdrv_set_status(&v, 1 | 2);
	vdrv_wr(&v, 0x24, 4, 1);
	vdrv_wr(&v, 0x20, 4, 0); /* no VERSION_1 */
	vdrv_set_status(&v, 1 | 2 | 8);
	CHECK_EQ(vdrv_status(&v) & 8, 0);
	down();
}

static void test_save_restore(void)
{
	struct virtio_dev_state s;
	struct vdrv_buf b = { VDRV_DATA, 64, true };

	up();
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 1), 15);
	vdrv_submit(&v, 0, &b, 1);
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 64);
	virtio_dev_save(virtio_rng_dev(rng), &s);
	CHECK_EQ(s.vq[0].last_avail, 1);
	vdrv_set_status(&v, 0);
	CHECK_EQ(virtio_dev_restore(virtio_rng_dev(rng), &s), 0);
	CHECK_EQ(vdrv_status(&v), 15);
	vdrv_submit(&v, 0, &b, 1);
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 64);
	s.vq[0].used_gpa = 0xfffffff0ULL; /* a corrupt saved state is refused, nothing changes */
	CHECK_EQ(virtio_dev_restore(virtio_rng_dev(rng), &s), -EINVAL);
	CHECK_EQ(vdrv_status(&v), 15);
	vdrv_submit(&v, 0, &b, 1);
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 64);
	down();
}

int main(void)
{
	RUN(test_registers);
	RUN(test_rng_request);
	RUN(test_hostile);
	RUN(test_legacy_driver_refused);
	RUN(test_save_restore);
	return check_done();
}
