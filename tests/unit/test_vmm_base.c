/* Unit tests of the VMM's building blocks that need no /dev/kvm: guest memory, buses and
 * the control loop. */
#include "check.h"
#include "vmm/bus.h"
#include "vmm/evloop.h"
#include "vmm/mem.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

static void test_mem_bounds(void)
{
	struct guest_mem *m;

	CHECK_EQ(guest_mem_create(64 << 20, &m), 0);
	CHECK(guest_mem_ptr(m, 0, 64 << 20) == m->host);
	CHECK(guest_mem_ptr(m, (64 << 20) - 1, 1) != NULL);
	CHECK(guest_mem_ptr(m, (64 << 20) - 1, 2) == NULL);
	CHECK(guest_mem_ptr(m, 64 << 20, 1) == NULL);
	CHECK(guest_mem_ptr(m, 16, UINT64_MAX) == NULL);
	CHECK(guest_mem_ptr(m, UINT64_MAX, 2) == NULL);
	CHECK(guest_mem_ptr(m, MEM_HIGH_START, 1) == NULL);
	guest_mem_destroy(m);
	CHECK_EQ(guest_mem_create(1000, &m), -EINVAL);
}

static void test_mem_hole(void)
{
	struct guest_mem *m;
	uint64_t size = MEM_HOLE_START + (1ULL << 30);

	CHECK_EQ(guest_mem_create(size, &m), 0);
	CHECK_EQ(m->low_size, MEM_HOLE_START);
	CHECK(guest_mem_ptr(m, MEM_HOLE_START, 1) == NULL);
	CHECK(guest_mem_ptr(m, MEM_HOLE_START - 8, 16) == NULL);
	CHECK(guest_mem_ptr(m, MEM_HIGH_START, 1 << 30) == m->host + MEM_HOLE_START);
	CHECK(guest_mem_ptr(m, MEM_HIGH_START + (1 << 30), 1) == NULL);
	guest_mem_destroy(m);
}

static int hits[3];
static void dev_a(void *o, uint64_t off, uint8_t *d, uint32_t len, bool w)
{
	(void)o; (void)len; (void)w;
	hits[0]++;
	d[0] = (uint8_t)off;
}
static void dev_b(void *o, uint64_t off, uint8_t *d, uint32_t len, bool w)
{
	(void)o; (void)off; (void)d; (void)len; (void)w;
	hits[1]++;
}

static struct bus *reentrant_bus;
static void dev_move(void *o, uint64_t off, uint8_t *d, uint32_t len, bool w)
{
	(void)o; (void)off; (void)d; (void)len; (void)w;
	hits[2]++;
	/* A handler may re-register ranges on its own bus (a PCI BAR move). */
	bus_unregister(reentrant_bus, 0x2000);
	bus_register(reentrant_bus, 0x3000, 0x10, dev_b, NULL, "moved");
}

static void test_bus(void)
{
	struct bus b;
	uint8_t d[4] = { 0 };

	bus_init(&b);
	CHECK_EQ(bus_dispatch(&b, 0x10, d, 1, false), -ENOENT);
	CHECK_EQ(bus_register(&b, 0x3f8, 8, dev_a, NULL, "uart"), 0);
	CHECK_EQ(bus_register(&b, 0x60, 1, dev_b, NULL, "kbd"), 0);
	CHECK_EQ(bus_register(&b, 0x3f0, 9, dev_b, NULL, "overlap"), -EEXIST);
	CHECK_EQ(bus_register(&b, 0x3ff, 1, dev_b, NULL, "overlap2"), -EEXIST);
	CHECK_EQ(bus_register(&b, 0x400, 1, dev_b, NULL, "adjacent"), 0);
	CHECK_EQ(bus_register(&b, 0, 0, dev_b, NULL, "empty"), -EINVAL);
	CHECK_EQ(bus_register(&b, UINT64_MAX, 2, dev_b, NULL, "wrap"), -EINVAL);
	CHECK_EQ(bus_dispatch(&b, 0x3fd, d, 1, false), 0);
	CHECK_EQ(d[0], 5);
	CHECK_EQ(hits[0], 1);
	CHECK_EQ(bus_dispatch(&b, 0x3f7, d, 1, false), -ENOENT);
	CHECK_EQ(bus_dispatch(&b, 0x60, d, 1, true), 0);
	CHECK_EQ(bus_dispatch(&b, 0x61, d, 1, true), -ENOENT);
	CHECK_EQ(bus_unregister(&b, 0x60), 0);
	CHECK_EQ(bus_unregister(&b, 0x60), -ENOENT);
	CHECK_EQ(bus_dispatch(&b, 0x60, d, 1, true), -ENOENT);
	CHECK_EQ(bus_register(&b, 0x2000, 0x10, dev_move, NULL, "mover"), 0);
	reentrant_bus = &b;
	CHECK_EQ(bus_dispatch(&b, 0x2004, d, 4, true), 0);
	CHECK_EQ(hits[2], 1);
	CHECK_EQ(bus_dispatch(&b, 0x2004, d, 4, true), -ENOENT);
	CHECK_EQ(bus_dispatch(&b, 0x3004, d, 4, true), 0);
	bus_destroy(&b);
}

static int posted;
static struct evloop *loop;
static int pipefd[2];

static void on_post(void *o)
{
	posted += (int)(long)o;
	if (posted == 3)
		evloop_stop(loop, 42);
}

static void *poster(void *arg)
{
	(void)arg;
	evloop_post(loop, on_post, (void *)1L);
	evloop_post(loop, on_post, (void *)2L);
	return NULL;
}

static int readable;
static void on_read(void *o, uint32_t ev)
{
	char c;
	(void)o; (void)ev;
	if (read(pipefd[0], &c, 1) == 1)
		readable++;
	evloop_del(loop, pipefd[0]);
}

static void test_evloop(void)
{
	pthread_t t;

	CHECK_EQ(evloop_create(&loop), 0);
	CHECK_EQ(pipe(pipefd), 0);
	CHECK_EQ(evloop_add(loop, pipefd[0], 1 /* EPOLLIN */, on_read, NULL), 0);
	CHECK_EQ(evloop_add(loop, pipefd[0], 1, on_read, NULL), -EEXIST);
	CHECK_EQ(write(pipefd[1], "xy", 2), 2);
	pthread_create(&t, NULL, poster, NULL);
	CHECK_EQ(evloop_run(loop), 42);
	pthread_join(t, NULL);
	CHECK_EQ(posted, 3);
	CHECK_EQ(readable, 1); /* deleted after the first byte */
	evloop_destroy(loop);
	close(pipefd[0]);
	close(pipefd[1]);
}

int main(void)
{
	RUN(test_mem_bounds);
	RUN(test_mem_hole);
	RUN(test_bus);
	RUN(test_evloop);
	return check_done();
}
