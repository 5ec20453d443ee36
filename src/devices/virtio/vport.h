/* virtio-console with VIRTIO_CONSOLE_F_MULTIPORT ("virtio-serial"): one named port (the
 * guest agent's org.qemu.guest_agent.0) backed by a listening Unix socket. Port 0 (queues
 * 0/1) is never added, as QEMU's virtio-serial does without a console; the named port is
 * port 1 on queues 4/5; the control queues are 2 (device to driver) and 3 (driver to
 * device). The device adds the port when the driver says DEVICE_READY, names it when the
 * driver says the port is ready, and says PORT_OPEN 1 while a client is connected on the
 * socket (0 when it leaves). One client at a time; guest output while none is connected is
 * dropped (a guest agent's answer to nobody). Used by `vsrv run --device
 * vport,socket=PATH,name=NAME` and by the server for every VM's agent.sock. */
#ifndef VSRV_DEVICES_VIRTIO_VPORT_H
#define VSRV_DEVICES_VIRTIO_VPORT_H

#include "devices/virtio/virtio.h"

struct virtio_vport;

#define VPORT_NAME_MAX   64     /* the port's name, with its NUL */
#define VPORT_CTRL_MAX   512    /* control messages waiting for the driver's buffers */
#define VPORT_RX_PENDING 2048   /* client input taken at a save */

/* Control events (the virtio spec's struct virtio_console_control). */
enum {
	VPORT_DEVICE_READY = 0, VPORT_PORT_ADD = 1, VPORT_PORT_REMOVE = 2, VPORT_PORT_READY = 3,
	VPORT_CONSOLE_PORT = 4, VPORT_RESIZE = 5, VPORT_PORT_OPEN = 6, VPORT_PORT_NAME = 7,
};
#define VIRTIO_CONSOLE_F_MULTIPORT 1

/* What virtio_vport_save keeps: the core, the port as the driver knows it (added, ready,
 * opened by the guest, the host side's open as last said), the control messages not
 * delivered yet and the client's input not received yet. The name is checked on restore.
 * The socket and its client are host resources: after a restore the driver is told the
 * host side is closed until a client connects again. */
struct virtio_vport_state {
	struct virtio_dev_state dev;
	char name[VPORT_NAME_MAX];
	uint8_t added, ready, guest_open, host_open;
	uint32_t ctrl_len;
	uint8_t ctrl[VPORT_CTRL_MAX];
	uint32_t rx_len;
	uint8_t rx[VPORT_RX_PENDING];
};

/* Create the device: port name (1 to 63 printable bytes), listening at socket_path (an
 * existing socket file is replaced). 0 and *out, or -errno after logging. */
int virtio_vport_create(struct virtio_host *h, const char *socket_path, const char *port_name,
			const char *name, struct virtio_vport **out);
struct virtio_dev *virtio_vport_dev(struct virtio_vport *p);
/* Save p (quiesced around the copy): 0 or -errno. */
int virtio_vport_save(struct virtio_vport *p, struct virtio_vport_state *st);
/* Load *st into p: 0, or -EINVAL with p unchanged (another name, bad lengths, or the core
 * state refused). */
int virtio_vport_restore(struct virtio_vport *p, const struct virtio_vport_state *st);
/* Stop, close the sockets, remove the socket file, free. NULL is allowed. */
void virtio_vport_destroy(struct virtio_vport *p);

#endif
