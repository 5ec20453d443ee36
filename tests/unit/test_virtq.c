/* The split virtqueue walker against well-formed and hostile rings (no KVM needed). */
#include "check.h"
#include "devices/virtio/virtq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define QSZ 8
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define DATA 0x10000

static struct guest_mem *mem;
static struct virtq q;
static struct virtq_elem el;

static struct virtq_desc *desc(unsigned i)
{
	return (struct virtq_desc *)(mem->host + DESC) + i;
}

static uint16_t *avail(void)
{
	return (uint16_t *)(mem->host + AVAIL);
}

static uint32_t *used_ring(unsigned i)
{
	return (uint32_t *)(mem->host + USED + 4 + 8 * i);
}

static uint16_t used_idx(void)
{
	return *(uint16_t *)(mem->host + USED + 2);
}

static void setup(bool event_idx, bool indirect)
{
	if (!mem && guest_mem_create(1 << 20, &mem))
		abort();
	memset(mem->host, 0, 1 << 20);
	virtq_init(&q, mem, "test-q");
	virtq_reset(&q, QSZ);
	q.s.desc_gpa = DESC;
	q.s.avail_gpa = AVAIL;
	q.s.used_gpa = USED;
	if (virtq_enable(&q, event_idx, indirect))
		abort();
}

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	desc(i)->addr = addr;
	desc(i)->len = len;
	desc(i)->flags = flags;
	desc(i)->next = next;
}

static void offer(uint16_t head)
{
	uint16_t idx = avail()[1];

	avail()[2 + (idx % QSZ)] = head;
	avail()[1] = idx + 1;
}

static void test_simple_chain(void)
{
	char buf[16];

	setup(false, false);
	CHECK_EQ(virtq_pop(&q, &el), 0);
	memcpy(mem->host + DATA, "hello", 5);
	set_desc(0, DATA, 5, VIRTQ_DESC_F_NEXT, 3);
	set_desc(3, DATA + 0x100, 10, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 5);
	set_desc(5, DATA + 0x200, 6, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	CHECK(virtq_has_avail(&q));
	CHECK_EQ(virtq_pop(&q, &el), 1);
	CHECK_EQ(el.head, 0);
	CHECK_EQ(el.n_out, 1);
	CHECK_EQ(el.n_in, 2);
	CHECK_EQ(el.out_len, 5);
	CHECK_EQ(el.in_len, 16);
	CHECK_EQ(virtq_elem_read(&el, 1, buf, sizeof(buf)), 4);
	CHECK(!memcmp(buf, "ello", 4));
	CHECK_EQ(virtq_elem_write(&el, 8, "0123456789", 10), 8);
	CHECK(!memcmp(mem->host + DATA + 0x100 + 8, "01", 2));
	CHECK(!memcmp(mem->host + DATA + 0x200, "234567", 6));
	CHECK_EQ(virtq_pop(&q, &el), 0);
	virtq_push(&q, 0, 16);
	CHECK_EQ(used_idx(), 1);
	CHECK_EQ(*used_ring(0), 0);
	CHECK_EQ(*(used_ring(0) + 1), 16);
	CHECK(virtq_should_notify(&q));
	avail()[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
	CHECK(!virtq_should_notify(&q));
}

static void test_bad_head_and_idx(void)
{
	setup(false, false);
	set_desc(0, DATA, 4, 0, 0);
	offer(QSZ); /* head out of range */
	CHECK_EQ(virtq_pop(&q, &el), -EIO);
	CHECK(q.s.broken);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);

	setup(false, false);
	avail()[1] = QSZ + 1; /* more entries than the queue holds */
	CHECK_EQ(virtq_pop(&q, &el), -EIO);
}

static void test_loop(void)
{
	setup(false, false);
	set_desc(0, DATA, 4, VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, DATA, 4, VIRTQ_DESC_F_NEXT, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);

	setup(false, false);
	set_desc(2, DATA, 4, VIRTQ_DESC_F_NEXT, 2); /* self loop */
	offer(2);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);

	setup(false, false);
	set_desc(0, DATA, 4, VIRTQ_DESC_F_NEXT, QSZ); /* next out of range */
	offer(0);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);
}

static void test_full_length_chain(void)
{
	unsigned i;

	setup(false, false);
	for (i = 0; i < QSZ; i++)
		set_desc(i, DATA + i * 16, 16, i + 1 < QSZ ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &el), 1);
	CHECK_EQ(el.n_out, QSZ);
	CHECK_EQ(el.out_len, QSZ * 16);
}

static void test_outside_memory(void)
{
	setup(false, false);
	set_desc(0, (1 << 20) - 8, 16, 0, 0); /* straddles the end */
	offer(0);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);

	setup(false, false);
	set_desc(0, UINT64_MAX - 4, 16, 0, 0); /* wraps */
	offer(0);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);

	setup(false, false);
	set_desc(0, MEM_HOLE_START, 1, 0, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);
}

static void test_wrapping_lengths(void)
{
	struct guest_mem *big, *small = mem;
	unsigned i;

	/* Two 3 GiB buffers: each is inside memory, their sum does not fit in 32 bits. */
	CHECK_EQ(guest_mem_create(MEM_HOLE_START + (1 << 20), &big), 0);
	mem = big;
	setup(false, false);
	for (i = 0; i < 2; i++)
		set_desc(i, 0, (uint32_t)MEM_HOLE_START, i ? 0 : VIRTQ_DESC_F_NEXT, 1);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);
	setup(false, false);
	set_desc(0, 0x1000, 0xffffffffu, 0, 0); /* 4 GiB from low RAM runs into the hole */
	offer(0);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);
	guest_mem_destroy(big);
	mem = small;
}

static void test_write_then_read(void)
{
	setup(false, false);
	set_desc(0, DATA, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, DATA, 4, 0, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);
}

static void test_indirect(void)
{
	struct virtq_desc *t = (struct virtq_desc *)(mem->host + 0x4000);

	setup(false, true);
	t[0] = (struct virtq_desc){ DATA, 8, VIRTQ_DESC_F_NEXT, 2 };
	t[2] = (struct virtq_desc){ DATA + 64, 32, VIRTQ_DESC_F_WRITE, 0 };
	set_desc(4, 0x4000, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(4);
	CHECK_EQ(virtq_pop(&q, &el), 1);
	CHECK_EQ(el.head, 4);
	CHECK_EQ(el.n_out, 1);
	CHECK_EQ(el.n_in, 1);
	CHECK_EQ(el.in_len, 32);

	/* not negotiated */
	setup(false, false);
	t[0] = (struct virtq_desc){ DATA, 8, 0, 0 };
	set_desc(4, 0x4000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(4);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);

	/* loop inside the table */
	setup(false, true);
	t[0] = (struct virtq_desc){ DATA, 8, VIRTQ_DESC_F_NEXT, 1 };
	t[1] = (struct virtq_desc){ DATA, 8, VIRTQ_DESC_F_NEXT, 0 };
	set_desc(0, 0x4000, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);

	/* nested */
	setup(false, true);
	t[0] = (struct virtq_desc){ 0x4000, 16, VIRTQ_DESC_F_INDIRECT, 0 };
	set_desc(0, 0x4000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);

	/* bad length, out of memory, next out of table */
	setup(false, true);
	set_desc(0, 0x4000, 17, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);
	setup(false, true);
	set_desc(0, (1 << 20) - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);
	setup(false, true);
	t[0] = (struct virtq_desc){ DATA, 8, VIRTQ_DESC_F_NEXT, 1 };
	set_desc(0, 0x4000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);
	/* indirect with NEXT */
	setup(false, true);
	t[0] = (struct virtq_desc){ DATA, 8, 0, 0 };
	set_desc(0, 0x4000, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &el), -EIO);
}

static void test_event_idx(void)
{
	uint16_t *used_event = &avail()[2 + QSZ];
	uint16_t *avail_event = (uint16_t *)(mem->host + USED + 4 + 8 * QSZ);
	unsigned i;

	setup(true, false);
	for (i = 0; i < 4; i++) {
		set_desc(i, DATA, 4, 0, 0);
		offer(i);
	}
	CHECK_EQ(virtq_pop(&q, &el), 1);
	CHECK_EQ(*avail_event, 0); /* busy: popping does not ask for notifications */
	virtq_push(&q, el.head, 0);
	CHECK(virtq_should_notify(&q)); /* first one always */
	*used_event = 2; /* driver wants an interrupt once used idx passes 2 */
	CHECK_EQ(virtq_pop(&q, &el), 1);
	virtq_push(&q, el.head, 0); /* used idx 2 */
	CHECK(!virtq_should_notify(&q));
	CHECK_EQ(virtq_pop(&q, &el), 1);
	virtq_push(&q, el.head, 0); /* used idx 3: passes event 2 */
	CHECK(virtq_should_notify(&q));
	CHECK_EQ(virtq_pop(&q, &el), 1);
	virtq_push(&q, el.head, 0);
	CHECK(!virtq_should_notify(&q));
	CHECK_EQ(*avail_event, 0);
	CHECK_EQ(virtq_pop(&q, &el), 0);
	CHECK(!virtq_arm(&q)); /* idle: ask for the next one, nothing waiting */
	CHECK_EQ(*avail_event, 4);
	set_desc(4, DATA, 4, 0, 0);
	offer(4); /* published before the device looked: arm sees it */
	CHECK_EQ(virtq_pop(&q, &el), 1);
	set_desc(5, DATA, 4, 0, 0);
	offer(5);
	CHECK(virtq_arm(&q));
	CHECK_EQ(*avail_event, 5);
}

static void test_no_notify_flag(void)
{
	volatile uint16_t *used_flags = (uint16_t *)(mem->host + USED);

	setup(false, false);
	set_desc(0, DATA, 4, 0, 0);
	offer(0);
	CHECK_EQ(*used_flags, 0);
	CHECK_EQ(virtq_pop(&q, &el), 1);
	CHECK_EQ(*used_flags, VIRTQ_USED_F_NO_NOTIFY); /* busy */
	CHECK(!virtq_arm(&q));
	CHECK_EQ(*used_flags, 0);
}

static void test_enable_checks(void)
{
	setup(false, false);
	q.s.size = 6;
	CHECK_EQ(virtq_enable(&q, false, false), -EINVAL);
	CHECK(!q.s.ready);
	CHECK_EQ(virtq_pop(&q, &el), 0);
	q.s.size = 2048;
	CHECK_EQ(virtq_enable(&q, false, false), -EINVAL);
	q.s.size = 8;
	q.s.used_gpa = (1 << 20) - 8;
	CHECK_EQ(virtq_enable(&q, false, false), -EINVAL);
	q.s.used_gpa = USED + 2;
	CHECK_EQ(virtq_enable(&q, false, false), -EINVAL);
	q.s.used_gpa = USED;
	CHECK_EQ(virtq_enable(&q, false, false), 0);
}

static void test_wraparound_indices(void)
{
	unsigned i;

	setup(false, false);
	q.s.last_avail = 0xfffe;
	q.s.used_idx = 0xfffe;
	avail()[1] = 0xfffe;
	for (i = 0; i < 4; i++) {
		set_desc(i, DATA, 4, 0, 0);
		offer(i);
	}
	for (i = 0; i < 4; i++) {
		CHECK_EQ(virtq_pop(&q, &el), 1);
		CHECK_EQ(el.head, i);
		virtq_push(&q, el.head, 1);
	}
	CHECK_EQ(virtq_pop(&q, &el), 0);
	CHECK_EQ(used_idx(), 2);
}

int main(void)
{
	RUN(test_simple_chain);
	RUN(test_bad_head_and_idx);
	RUN(test_loop);
	RUN(test_full_length_chain);
	RUN(test_outside_memory);
	RUN(test_wrapping_lengths);
	RUN(test_write_then_read);
	RUN(test_indirect);
	RUN(test_event_idx);
	RUN(test_no_notify_flag);
	RUN(test_enable_checks);
	RUN(test_wraparound_indices);
	guest_mem_destroy(mem);
	return check_done();
}
