/* The packed virtqueue walker (virtq_packed.c through the virtq.h API) against well-formed
 * and hostile rings (no KVM needed). The test plays the driver: it writes descriptors with
 * its own ring wrap counter and reads back the used descriptors the device writes. */
#include "check.h"
#include "devices/virtio/virtq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RING 0x1000
#define DRV_EVT 0x2000
#define DEV_EVT 0x3000
#define TABLE 0x4000
#define DATA 0x10000

static struct guest_mem *mem;
static struct virtq q;
static struct virtq_elem el;
static unsigned qsz;
static uint16_t drv_pos, used_pos; /* the driver's next avail / next used slot */
static bool drv_wrap, used_wrap;

static struct virtq_pdesc *ring(unsigned i)
{
	return (struct virtq_pdesc *)(mem->host + RING) + i;
}

static uint16_t *drv_evt(void)
{
	return (uint16_t *)(mem->host + DRV_EVT);
}

static uint16_t *dev_evt(void)
{
	return (uint16_t *)(mem->host + DEV_EVT);
}

static void setup_n(unsigned size, bool event_idx, bool indirect)
{
	if (!mem && guest_mem_create(1 << 20, &mem))
		abort();
	memset(mem->host, 0, 1 << 20);
	virtq_init(&q, mem, "test-pq");
	virtq_reset(&q, (uint16_t)size);
	q.s.packed = 1;
	q.s.desc_gpa = RING;
	q.s.avail_gpa = DRV_EVT;
	q.s.used_gpa = DEV_EVT;
	qsz = size;
	drv_pos = used_pos = 0;
	drv_wrap = used_wrap = true;
	if (virtq_enable(&q, event_idx, indirect))
		abort();
}

struct buf {
	uint64_t addr;
	uint32_t len;
	uint16_t flags; /* WRITE, INDIRECT, or extra garbage */
};

static uint16_t avail_flags(bool wrap)
{
	return wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
}

/* Make n buffers available as one chain with buffer id `id` (in every descriptor, as Linux
 * does); the first descriptor's flags are written last. Returns the first slot. */
static uint16_t offer(const struct buf *b, unsigned n, uint16_t id)
{
	uint16_t first = drv_pos, head_flags = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		uint16_t f = b[i].flags | avail_flags(drv_wrap) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);

		ring(drv_pos)->addr = b[i].addr;
		ring(drv_pos)->len = b[i].len;
		ring(drv_pos)->id = id;
		if (i == 0)
			head_flags = f;
		else
			ring(drv_pos)->flags = f;
		if (++drv_pos == qsz) {
			drv_pos = 0;
			drv_wrap = !drv_wrap;
		}
	}
	__atomic_store_n(&ring(first)->flags, head_flags, __ATOMIC_RELEASE);
	return first;
}

/* The driver's view: the next used descriptor (id, len), skipping ndesc slots. 1 if there
 * was one. */
static int take_used(unsigned ndesc, uint16_t *id, uint32_t *len)
{
	uint16_t f = ring(used_pos)->flags;

	if (!!(f & VIRTQ_DESC_F_USED) != used_wrap || !!(f & VIRTQ_DESC_F_AVAIL) != used_wrap)
		return 0;
	*id = ring(used_pos)->id;
	*len = ring(used_pos)->len;
	used_pos += ndesc;
	if (used_pos >= qsz) {
		used_pos -= qsz;
		used_wrap = !used_wrap;
	}
	return 1;
}

static void test_chain(void)
{
	struct buf b[3] = { { DATA, 5, 0 }, { DATA + 0x100, 10, VIRTQ_DESC_F_WRITE },
			    { DATA + 0x200, 6, VIRTQ_DESC_F_WRITE } };
	char buf[16];
	uint16_t id;
	uint32_t len;

	setup_n(8, false, false);
	CHECK(!virtq_has_avail(&q));
	CHECK_EQ(virtq_pop(&q, &el), 0);
	memcpy(mem->host + DATA, "hello", 5);
	offer(b, 3, 5);
	CHECK(virtq_has_avail(&q));
	CHECK_EQ(virtq_pop(&q, &el), 1);
	CHECK_EQ(el.head, 5);
	CHECK_EQ(el.n_out, 1);
	CHECK_EQ(el.n_in, 2);
	CHECK_EQ(el.out_len, 5);
	CHECK_EQ(el.in_len, 16);
	CHECK_EQ(virtq_elem_read(&el, 0, buf, sizeof(buf)), 5);
	CHECK(!memcmp(buf, "hello", 5));
	CHECK_EQ(virtq_elem_write(&el, 0, "0123456789abcdef", 16), 16);
	CHECK(!memcmp(mem->host + DATA + 0x200, "abcdef", 6));
	/* busy: the device asked not to be notified */
	CHECK_EQ(dev_evt()[1], VIRTQ_EVENT_DISABLE);
	CHECK_EQ(virtq_pop(&q, &el), 0);
	virtq_push(&q, 5, 16);
	CHECK(take_used(3, &id, &len));
	CHECK_EQ(id, 5);
	CHECK_EQ(len, 16);
	CHECK(ring(0)->flags & VIRTQ_DESC_F_WRITE);
	CHECK_EQ(q.s.used_idx, 3);
	CHECK_EQ(q.s.last_avail, 3);
	/* idle: arm re-enables notifications and finds nothing */
	CHECK(!virtq_arm(&q));
	CHECK_EQ(dev_evt()[1], VIRTQ_EVENT_ENABLE);
	CHECK(!q.s.broken);
}

/* A queue of 5 (packed sizes need not be powers of two): 2-descriptor chains, pushed out of
 * order, across several wraps of both counters. */
static void test_wrap_out_of_order(void)
{
	struct buf b[2] = { { DATA, 16, 0 }, { DATA + 0x100, 8, VIRTQ_DESC_F_WRITE } };
	uint16_t id, ids[2];
	uint32_t len;
	unsigned round;

	setup_n(5, false, false);
	for (round = 0; round < 12; round++) {
		offer(b, 1, 0);          /* one descriptor, id 0 */
		offer(b, 2, 3);          /* two descriptors, id 3 */
		CHECK_EQ(virtq_pop(&q, &el), 1);
		ids[0] = el.head;
		CHECK_EQ(virtq_pop(&q, &el), 1);
		ids[1] = el.head;
		CHECK_EQ(ids[0], 0);
		CHECK_EQ(ids[1], 3);
		CHECK_EQ(el.n_out, 1);
		CHECK_EQ(el.n_in, 1);
		CHECK_EQ(virtq_pop(&q, &el), 0);
		/* complete the second first: its used descriptor goes to the first slot */
		virtq_push(&q, 3, 8);
		virtq_push(&q, 0, 0);
		CHECK(take_used(2, &id, &len));
		CHECK_EQ(id, 3);
		CHECK_EQ(len, 8);
		CHECK(take_used(1, &id, &len));
		CHECK_EQ(id, 0);
		CHECK_EQ(q.s.last_avail, drv_pos);
		CHECK_EQ(q.s.used_idx, used_pos);
		CHECK_EQ(!(q.s.wrapped & VIRTQ_WRAPPED_AVAIL), drv_wrap);
		CHECK_EQ(!(q.s.wrapped & VIRTQ_WRAPPED_USED), used_wrap);
	}
	CHECK(!q.s.broken);
}

static void test_indirect(void)
{
	struct virtq_pdesc *t = (struct virtq_pdesc *)(mem->host + TABLE);
	struct buf top = { TABLE, 48, VIRTQ_DESC_F_INDIRECT };
	uint16_t id;
	uint32_t len;

	setup_n(4, false, true);
	t[0] = (struct virtq_pdesc){ DATA, 16, 0, VIRTQ_DESC_F_NEXT /* ignored */ };
	t[1] = (struct virtq_pdesc){ DATA + 0x100, 512, 0, VIRTQ_DESC_F_WRITE };
	t[2] = (struct virtq_pdesc){ DATA + 0x400, 1, 0, VIRTQ_DESC_F_WRITE };
	offer(&top, 1, 2);
	CHECK_EQ(virtq_pop(&q, &el), 1);
	CHECK_EQ(el.head, 2);
	CHECK_EQ(el.n_out, 1);
	CHECK_EQ(el.n_in, 2);
	CHECK_EQ(el.in_len, 513);
	CHECK_EQ(q.s.last_avail, 1); /* one ring slot */
	virtq_push(&q, 2, 513);
	CHECK(take_used(1, &id, &len));
	CHECK_EQ(id, 2);
	CHECK_EQ(len, 513);
}

static void test_unpop(void)
{
	struct buf b[3] = { { DATA, 16, 0 }, { DATA + 0x100, 8, VIRTQ_DESC_F_WRITE },
			    { DATA + 0x200, 8, VIRTQ_DESC_F_WRITE } };
	unsigned i;

	setup_n(6, false, false);
	for (i = 0; i < 3; i++) {
		offer(b, 3, 1);
		CHECK_EQ(virtq_pop(&q, &el), 1);
		virtq_push(&q, 1, 0);
	}
	/* positions now 3 with the wrap counter flipped; two chains, the second wrapping */
	offer(b, 2, 4);
	offer(b, 3, 0);
	CHECK_EQ(virtq_pop(&q, &el), 1);
	CHECK_EQ(virtq_pop(&q, &el), 1);
	CHECK_EQ(el.head, 0);
	CHECK_EQ(q.s.last_avail, 2);
	virtq_unpop(&q);
	CHECK_EQ(q.s.last_avail, 5);
	virtq_unpop(&q);
	CHECK_EQ(q.s.last_avail, 3);
	virtq_unpop(&q); /* nothing more to undo: no change */
	CHECK_EQ(q.s.last_avail, 3);
	CHECK_EQ(virtq_pop(&q, &el), 1);
	CHECK_EQ(el.head, 4);
	CHECK_EQ(virtq_pop(&q, &el), 1);
	CHECK_EQ(el.head, 0);
	CHECK_EQ(el.n_in, 2);
	CHECK(!q.s.broken);
}

/* Driver event suppression: DISABLE, ENABLE, and DESC (EVENT_IDX) at an offset + wrap. */
static void test_notify(void)
{
	struct buf b = { DATA + 0x100, 8, VIRTQ_DESC_F_WRITE };
	unsigned i;

	setup_n(4, false, false);
	drv_evt()[1] = VIRTQ_EVENT_DISABLE;
	offer(&b, 1, 0);
	CHECK_EQ(virtq_pop(&q, &el), 1);
	virtq_push(&q, 0, 8);
	CHECK(!virtq_should_notify(&q));
	drv_evt()[1] = VIRTQ_EVENT_ENABLE;
	CHECK(virtq_should_notify(&q));

	setup_n(4, true, false);
	CHECK(virtq_arm(&q) == false);
	CHECK_EQ(dev_evt()[1], VIRTQ_EVENT_DESC);
	CHECK_EQ(dev_evt()[0], 0x8000); /* slot 0, wrap counter 1 */
	/* ask for an event when slot 2 of the second lap (wrap counter 0) is used */
	drv_evt()[0] = 2;
	drv_evt()[1] = VIRTQ_EVENT_DESC;
	for (i = 0; i < 7; i++) {
		bool want = i == 0 /* the first interrupt is never suppressed */ || i == 6;

		offer(&b, 1, 1);
		CHECK_EQ(virtq_pop(&q, &el), 1);
		virtq_push(&q, 1, 8);
		if (virtq_should_notify(&q) != want)
			CHECK_EQ(i, 100 + i);
	}
	CHECK(!virtq_arm(&q));
	CHECK_EQ(dev_evt()[0], 3); /* slot 3, wrap counter 0 */
}

/* Each hostile ring breaks the queue: pop returns -EIO, and keeps doing so. */
static void expect_broken(void)
{
	CHECK_EQ(virtq_pop(&q, &el), -EIO);
	CHECK(q.s.broken);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);
	CHECK(!virtq_has_avail(&q));
}

static void test_hostile(void)
{
	struct virtq_pdesc *t = (struct virtq_pdesc *)(mem->host + TABLE);
	struct buf good[2] = { { DATA, 16, 0 }, { DATA + 0x100, 8, VIRTQ_DESC_F_WRITE } };
	struct buf b[2];
	unsigned i;

	setup_n(4, false, true);
	offer(good, 1, 4); /* id == queue size */
	expect_broken();

	setup_n(4, false, true);
	offer(good, 1, 0xffff);
	expect_broken();

	setup_n(4, false, true);
	offer(good, 2, 1);
	CHECK_EQ(virtq_pop(&q, &el), 1);
	offer(good, 2, 1); /* id 1 is still in flight */
	expect_broken();

	/* every slot available with NEXT: a chain longer than the queue */
	setup_n(4, false, true);
	for (i = 0; i < 4; i++) {
		ring(i)->addr = DATA;
		ring(i)->len = 8;
		ring(i)->flags = VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_NEXT;
	}
	expect_broken();

	/* the chain goes on into a slot the driver never made available */
	setup_n(4, false, true);
	ring(0)->addr = DATA;
	ring(0)->len = 8;
	ring(0)->flags = VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_NEXT;
	expect_broken();

	/* wrap-counter garbage: AVAIL and USED both set on the next slot of the chain */
	setup_n(4, false, true);
	ring(1)->flags = VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED;
	ring(0)->addr = DATA;
	ring(0)->len = 8;
	ring(0)->flags = VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_NEXT;
	expect_broken();

	/* an indirect descriptor second in a chain */
	setup_n(4, false, true);
	b[0] = good[0];
	b[1] = (struct buf){ TABLE, 32, VIRTQ_DESC_F_INDIRECT };
	offer(b, 2, 0);
	expect_broken();

	/* indirect with NEXT */
	setup_n(4, false, true);
	b[0] = (struct buf){ TABLE, 32, VIRTQ_DESC_F_INDIRECT };
	offer(b, 2, 0);
	expect_broken();

	/* indirect not negotiated */
	setup_n(4, false, false);
	t[0] = (struct virtq_pdesc){ DATA, 16, 0, 0 };
	offer(b, 1, 0);
	expect_broken();

	/* indirect in indirect */
	setup_n(4, false, true);
	t[0] = (struct virtq_pdesc){ DATA, 16, 0, 0 };
	t[1] = (struct virtq_pdesc){ TABLE, 32, 0, VIRTQ_DESC_F_INDIRECT };
	offer(b, 1, 0);
	expect_broken();

	/* indirect table longer than the queue, of bad length, outside memory, misaligned */
	setup_n(4, false, true);
	b[0].len = 16 * 5;
	offer(b, 1, 0);
	expect_broken();
	setup_n(4, false, true);
	b[0].len = 17;
	offer(b, 1, 0);
	expect_broken();
	setup_n(4, false, true);
	b[0] = (struct buf){ 0xfffff0, 32, VIRTQ_DESC_F_INDIRECT };
	offer(b, 1, 0);
	expect_broken();
	setup_n(4, false, true);
	b[0] = (struct buf){ TABLE + 8, 32, VIRTQ_DESC_F_INDIRECT };
	offer(b, 1, 0);
	expect_broken();

	/* buffers outside memory, wrapping the address space */
	setup_n(4, false, true);
	b[0] = (struct buf){ 1 << 20, 1, 0 };
	offer(b, 1, 0);
	expect_broken();
	setup_n(4, false, true);
	b[0] = (struct buf){ 0xfffffffffffff000ull, 0x2000, 0 };
	offer(b, 1, 0);
	expect_broken();

	/* a length of 0xffffffff */
	setup_n(4, false, true);
	b[0] = (struct buf){ DATA, 0xffffffffu, VIRTQ_DESC_F_WRITE };
	offer(b, 1, 0);
	expect_broken();

	/* a readable buffer after a writable one */
	setup_n(4, false, true);
	b[0] = good[1];
	b[1] = good[0];
	offer(b, 2, 0);
	expect_broken();

	/* a push of an id never popped changes nothing */
	setup_n(4, false, true);
	virtq_push(&q, 2, 8);
	virtq_push(&q, 300, 8);
	CHECK_EQ(q.s.used_idx, 0);
	CHECK_EQ(ring(0)->flags, 0);
	/* reset clears the broken state */
	setup_n(4, false, true);
	offer(good, 2, 3);
	CHECK_EQ(virtq_pop(&q, &el), 1);
}

static void test_enable(void)
{
	setup_n(5, false, false);
	CHECK(q.s.ready);
	virtq_reset(&q, 0);
	q.s.packed = 1;
	CHECK_EQ(virtq_enable(&q, false, false), -EINVAL);
	virtq_reset(&q, 2048);
	q.s.packed = 1;
	CHECK_EQ(virtq_enable(&q, false, false), -EINVAL);
	virtq_reset(&q, 1024);
	q.s.packed = 1;
	q.s.desc_gpa = RING;
	q.s.avail_gpa = DRV_EVT;
	q.s.used_gpa = DEV_EVT;
	CHECK_EQ(virtq_enable(&q, false, false), 0);
	q.s.ready = 0;
	q.s.desc_gpa = (1 << 20) - 16 * 1023; /* ring runs past the end of memory */
	CHECK_EQ(virtq_enable(&q, false, false), -EINVAL);
	q.s.desc_gpa = RING + 8;
	CHECK_EQ(virtq_enable(&q, false, false), -EINVAL);
	q.s.desc_gpa = RING;
	q.s.avail_gpa = DRV_EVT + 2;
	CHECK_EQ(virtq_enable(&q, false, false), -EINVAL);
	q.s.avail_gpa = 1 << 20;
	CHECK_EQ(virtq_enable(&q, false, false), -EINVAL);
	/* restored positions beyond the size */
	q.s.avail_gpa = DRV_EVT;
	q.s.size = 4;
	q.s.last_avail = 4;
	CHECK_EQ(virtq_enable(&q, false, false), -EINVAL);
}

/* The queue's progress lives in struct virtq_state (what save/restore keeps): a queue
 * restored from it mid-lap, with the wrap counters flipped, carries on where it was. */
static void test_state_restore(void)
{
	struct buf b[2] = { { DATA, 16, 0 }, { DATA + 0x100, 8, VIRTQ_DESC_F_WRITE } };
	struct virtq_state saved;
	uint16_t id;
	uint32_t len;
	unsigned i;

	setup_n(6, true, false);
	for (i = 0; i < 4; i++) {
		offer(b, 2, 2);
		CHECK_EQ(virtq_pop(&q, &el), 1);
		virtq_push(&q, 2, 8);
		CHECK(take_used(2, &id, &len));
	}
	virtq_should_notify(&q);
	saved = q.s; /* slot 2 of the second lap */
	CHECK_EQ(saved.last_avail, 2);
	CHECK_EQ(saved.wrapped, VIRTQ_WRAPPED_AVAIL | VIRTQ_WRAPPED_USED);
	virtq_init(&q, mem, "test-pq-restored");
	virtq_reset(&q, 6);
	q.s = saved;
	q.s.ready = 0;
	CHECK_EQ(virtq_enable(&q, true, false), 0);
	for (i = 0; i < 5; i++) {
		offer(b, 2, (uint16_t)i);
		CHECK_EQ(virtq_pop(&q, &el), 1);
		CHECK_EQ(el.head, i);
		virtq_push(&q, (uint16_t)i, 8);
		CHECK(take_used(2, &id, &len));
		CHECK_EQ(id, i);
	}
	CHECK_EQ(q.s.last_avail, drv_pos);
	CHECK(!q.s.broken);
}

int main(void)
{
	RUN(test_chain);
	RUN(test_wrap_out_of_order);
	RUN(test_indirect);
	RUN(test_unpop);
	RUN(test_notify);
	RUN(test_hostile);
	RUN(test_enable);
	RUN(test_state_restore);
	return check_done();
}
