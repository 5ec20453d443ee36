/* virtio-console over virtio-mmio: a Unix-socket client talks with the guest side. */
#include "check.h"
#include "vdrv.h"
#include "devices/virtio/console.h"
#include "devices/virtio/mmio.h"

#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#define BASE 0xd0000000ULL

static void test_console(void)
{
	struct guest_mem *mem;
	struct bus bus;
	struct virtio_host host = { 0 };
	struct virtio_console *c;
	struct virtio_mmio *mm;
	struct vdrv v;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vdrv_buf b;
	char buf[64];
	int fd, i;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/vsrv-con-test.%d", getpid());
	CHECK_EQ(guest_mem_create(16 << 20, &mem), 0);
	bus_init(&bus);
	host.mem = mem;
	host.mmio = &bus;
	CHECK_EQ(virtio_console_create(&host, sa.sun_path, "virtio-console0", &c), 0);
	CHECK_EQ(virtio_mmio_create(virtio_console_dev(c), BASE, 5, &mm), 0);
	v = (struct vdrv){ .bus = &bus, .mem = mem, .base = BASE };
	CHECK_EQ(vdrv_rd(&v, 8, 4), 3);
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 2), 15);
	/* guest output with nobody connected: consumed and dropped */
	memcpy(mem->host + VDRV_DATA, "lost", 4);
	b = (struct vdrv_buf){ VDRV_DATA, 4, false };
	vdrv_submit(&v, 1, &b, 1);
	CHECK_EQ(vdrv_wait(&v, 1, NULL), 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	usleep(20000);
	memcpy(mem->host + VDRV_DATA, "hello host", 10);
	b = (struct vdrv_buf){ VDRV_DATA, 10, false };
	vdrv_submit(&v, 1, &b, 1);
	CHECK_EQ(vdrv_wait(&v, 1, NULL), 0);
	CHECK_EQ(recv(fd, buf, sizeof(buf), 0), 10);
	CHECK(!memcmp(buf, "hello host", 10));
	/* client data before any receive buffer: waits, then arrives */
	CHECK_EQ(send(fd, "hi guest", 8, 0), 8);
	usleep(20000);
	b = (struct vdrv_buf){ VDRV_DATA + 0x100, 64, true };
	vdrv_submit(&v, 0, &b, 1);
	CHECK_EQ(vdrv_wait(&v, 0, NULL), 8);
	CHECK(!memcmp(mem->host + VDRV_DATA + 0x100, "hi guest", 8));
	/* a second client is refused while the first is connected */
	i = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_EQ(connect(i, (struct sockaddr *)&sa, sizeof(sa)), 0);
	usleep(20000);
	CHECK_EQ(recv(i, buf, sizeof(buf), MSG_DONTWAIT), 0);
	close(i);
	close(fd);
	usleep(20000);
	virtio_mmio_destroy(mm);
	virtio_console_destroy(c);
	CHECK(access(sa.sun_path, F_OK) != 0);
	bus_destroy(&bus);
	guest_mem_destroy(mem);
}

int main(void)
{
	RUN(test_console);
	return check_done();
}
