/* virtio-console with VIRTIO_CONSOLE_F_MULTIPORT (src/devices/virtio/vport.c) over
 * virtio-mmio, driven the way Linux's virtio_console driver does: control buffers posted,
 * DEVICE_READY, PORT_ADD answered by PORT_READY, the port's name, PORT_OPEN from the host
 * side when a client connects on the socket and when it leaves, PORT_OPEN from the guest,
 * data both ways on the port's queues (4/5), port 0 never added. Then save and restore into
 * a fresh device: the port stays known to the driver, which is told that the host side
 * closed, and opened again when a client comes. Bad states are refused. */
#include "check.h"
#include "vdrv.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/vport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#define BASE  0xd0000000ULL
#define CIN   2
#define COUT  3
#define RX1   4
#define TX1   5
#define CBUF  (VDRV_DATA)           /* control buffers: 16 of 128 bytes */
#define OUT   (VDRV_DATA + 0x1000)  /* driver's control messages */
#define DATA  (VDRV_DATA + 0x2000)
#define NAME  "org.qemu.guest_agent.0"

static struct guest_mem *mem;
static struct bus bus;
static struct virtio_host host;
static struct virtio_mmio *mm;
static struct virtio_vport *vp;
static struct vdrv v;
static struct sockaddr_un sa = { .sun_family = AF_UNIX };
static unsigned ncbuf;

struct ctrl {
	uint32_t id;
	uint16_t event, value;
} __attribute__((packed));

static void up(void)
{
	CHECK_EQ(virtio_vport_create(&host, sa.sun_path, NAME, "virtio-serial0", &vp), 0);
	CHECK_EQ(virtio_mmio_create(virtio_vport_dev(vp), BASE, 5, &mm), 0);
}

static void down(void)
{
	virtio_mmio_destroy(mm);
	virtio_vport_destroy(vp);
}

/* Post one control receive buffer (as the driver keeps its control queue filled). */
static void post_cbuf(void)
{
	struct vdrv_buf b = { CBUF + 128 * (ncbuf++ % 16), 128, true };

	vdrv_submit(&v, CIN, &b, 1);
}

/* The driver's control message. */
static void send_ctrl(uint32_t id, uint16_t event, uint16_t value)
{
	struct ctrl m = { id, event, value };
	struct vdrv_buf b = { OUT, sizeof(m), false };

	memcpy(mem->host + OUT, &m, sizeof(m));
	vdrv_submit(&v, COUT, &b, 1);
	CHECK_EQ(vdrv_wait(&v, COUT, NULL), 0);
}

/* The device's next control message: its event and value, the name after it in name. */
static int recv_ctrl(uint16_t *value, char *name)
{
	uint16_t head;
	long n = vdrv_wait(&v, CIN, &head);
	struct ctrl m;
	uint64_t gpa;

	if (n < (long)sizeof(m))
		return -1;
	/* the vdrv driver hands out consecutive descriptors, one per buffer */
	gpa = ((struct virtq_desc *)(mem->host + vdrv_ring(CIN, 0)))[head].addr;
	memcpy(&m, mem->host + gpa, sizeof(m));
	if (name) {
		memcpy(name, mem->host + gpa + sizeof(m), (size_t)n - sizeof(m));
		name[n - sizeof(m)] = '\0';
	}
	post_cbuf();
	*value = m.value;
	return m.id == 1 ? m.event : -2;
}

static int client(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void test_multiport(void)
{
	uint16_t val = 9;
	char name[128], buf[64];
	struct vdrv_buf b;
	int fd, i;

	CHECK_EQ(vdrv_rd(&v, 8, 4), 3);
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 6), 15);
	CHECK_EQ(vdrv_rd(&v, 0x100 + 4, 4), 2);               /* max_nr_ports */
	for (i = 0; i < 4; i++)
		post_cbuf();
	send_ctrl(~0u, VPORT_DEVICE_READY, 1);
	CHECK_EQ(recv_ctrl(&val, NULL), VPORT_PORT_ADD);
	/* the driver adds the port: receive buffers, then PORT_READY */
	b = (struct vdrv_buf){ DATA, 64, true };
	vdrv_submit(&v, RX1, &b, 1);
	send_ctrl(1, VPORT_PORT_READY, 1);
	CHECK_EQ(recv_ctrl(&val, name), VPORT_PORT_NAME);
	CHECK(!strcmp(name, NAME));
	/* the host side connects: PORT_OPEN 1 */
	fd = client();
	CHECK_EQ(recv_ctrl(&val, NULL), VPORT_PORT_OPEN);
	CHECK_EQ(val, 1);
	send_ctrl(1, VPORT_PORT_OPEN, 1);                      /* qemu-ga opened the port */
	/* data both ways */
	CHECK_EQ(send(fd, "{\"execute\":\"guest-ping\"}\n", 25, 0), 25);
	CHECK_EQ(vdrv_wait(&v, RX1, NULL), 25);
	CHECK(!memcmp(mem->host + DATA, "{\"execute\":\"guest-ping\"}\n", 25));
	memcpy(mem->host + DATA + 0x100, "{\"return\": {}}\n", 15);
	b = (struct vdrv_buf){ DATA + 0x100, 15, false };
	vdrv_submit(&v, TX1, &b, 1);
	CHECK_EQ(vdrv_wait(&v, TX1, NULL), 0);
	CHECK_EQ(recv(fd, buf, sizeof(buf), 0), 15);
	CHECK(!memcmp(buf, "{\"return\": {}}\n", 15));
	/* port 0 was never added: its output is consumed and goes nowhere */
	b = (struct vdrv_buf){ DATA + 0x200, 4, false };
	memcpy(mem->host + DATA + 0x200, "lost", 4);
	vdrv_submit(&v, 1, &b, 1);
	CHECK_EQ(vdrv_wait(&v, 1, NULL), 0);
	CHECK_EQ(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
	/* the host side leaves: PORT_OPEN 0; and comes back */
	close(fd);
	CHECK_EQ(recv_ctrl(&val, NULL), VPORT_PORT_OPEN);
	CHECK_EQ(val, 0);
	fd = client();
	CHECK_EQ(recv_ctrl(&val, NULL), VPORT_PORT_OPEN);
	CHECK_EQ(val, 1);
	close(fd);
	CHECK_EQ(recv_ctrl(&val, NULL), VPORT_PORT_OPEN);
	CHECK_EQ(val, 0);
}

static void test_save_restore(void)
{
	struct virtio_vport_state *st = calloc(1, sizeof(*st)), *bad = calloc(1, sizeof(*bad));
	struct virtio_mmio_state ms;
	uint16_t val = 9;
	struct vdrv_buf b;
	char buf[64];
	int fd;

	fd = client();
	CHECK_EQ(recv_ctrl(&val, NULL), VPORT_PORT_OPEN);
	CHECK_EQ(val, 1);
	CHECK_EQ(virtio_vport_save(vp, st), 0);
	virtio_mmio_save(mm, &ms);
	CHECK(st->added && st->ready && st->guest_open && st->host_open);
	CHECK(!strcmp(st->name, NAME));
	close(fd);
	down();
	up();
	*bad = *st;
	snprintf(bad->name, sizeof(bad->name), "org.other");
	CHECK_EQ(virtio_vport_restore(vp, bad), -EINVAL);
	*bad = *st;
	bad->ctrl_len = 3;
	CHECK_EQ(virtio_vport_restore(vp, bad), -EINVAL);
	*bad = *st;
	bad->rx_len = VPORT_RX_PENDING + 1;
	CHECK_EQ(virtio_vport_restore(vp, bad), -EINVAL);
	*bad = *st;
	bad->added = 0;
	CHECK_EQ(virtio_vport_restore(vp, bad), -EINVAL);
	CHECK_EQ(virtio_vport_restore(vp, st), 0);
	CHECK_EQ(virtio_mmio_restore(mm, &ms), 0);
	CHECK_EQ(vdrv_status(&v), 15);
	/* no client on the fresh device: the driver hears the host side closed */
	CHECK_EQ(recv_ctrl(&val, NULL), VPORT_PORT_OPEN);
	CHECK_EQ(val, 0);
	/* the port is still known: a client opens it, data flows, no DEVICE_READY again */
	fd = client();
	CHECK_EQ(recv_ctrl(&val, NULL), VPORT_PORT_OPEN);
	CHECK_EQ(val, 1);
	memcpy(mem->host + DATA + 0x300, "after", 5);
	b = (struct vdrv_buf){ DATA + 0x300, 5, false };
	vdrv_submit(&v, TX1, &b, 1);
	CHECK_EQ(vdrv_wait(&v, TX1, NULL), 0);
	CHECK_EQ(recv(fd, buf, sizeof(buf), 0), 5);
	CHECK(!memcmp(buf, "after", 5));
	/* a driver reset forgets the port: DEVICE_READY adds it again */
	close(fd);
	CHECK_EQ(recv_ctrl(&val, NULL), VPORT_PORT_OPEN);
	ncbuf = 0;
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 6), 15);
	post_cbuf();
	post_cbuf();
	send_ctrl(~0u, VPORT_DEVICE_READY, 1);
	CHECK_EQ(recv_ctrl(&val, NULL), VPORT_PORT_ADD);
	free(st);
	free(bad);
}

/* A driver that sends garbage on the control queue: short messages, unknown events, other
 * ports, PORT_READY before any PORT_ADD: ignored, the device keeps working. */
static void test_bad_control(void)
{
	struct vdrv_buf b = { OUT, 3, false };
	uint16_t val;

	ncbuf = 0;
	CHECK_EQ(vdrv_setup(&v, ~0ULL, 6), 15);
	post_cbuf();
	post_cbuf();
	vdrv_submit(&v, COUT, &b, 1);
	CHECK_EQ(vdrv_wait(&v, COUT, NULL), 0);
	send_ctrl(1, VPORT_PORT_READY, 1);
	send_ctrl(7, VPORT_PORT_READY, 1);
	send_ctrl(1, 999, 1);
	send_ctrl(~0u, VPORT_DEVICE_READY, 0);
	send_ctrl(~0u, VPORT_DEVICE_READY, 1);
	CHECK_EQ(recv_ctrl(&val, NULL), VPORT_PORT_ADD);
	send_ctrl(~0u, VPORT_DEVICE_READY, 1);                /* added once */
	send_ctrl(1, VPORT_PORT_READY, 1);
	CHECK_EQ(recv_ctrl(&val, NULL), VPORT_PORT_NAME);
}

int main(void)
{
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/vsrv-vport-test.%d", getpid());
	CHECK_EQ(guest_mem_create(16 << 20, &mem), 0);
	bus_init(&bus);
	host = (struct virtio_host){ .mem = mem, .mmio = &bus };
	v = (struct vdrv){ .bus = &bus, .mem = mem, .base = BASE };
	up();
	RUN(test_multiport);
	RUN(test_save_restore);
	RUN(test_bad_control);
	{
		struct virtio_vport *x;

		CHECK_EQ(virtio_vport_create(&host, "/tmp/vsrv-vport-x", "has space", "x", &x),
			 -EINVAL);
	}
	down();
	CHECK(access(sa.sun_path, F_OK) != 0);
	bus_destroy(&bus);
	guest_mem_destroy(mem);
	return check_done();
}
