/* virtio-console (device id 3), one port backed by a listening Unix socket: bytes the
 * guest writes go to the connected client (dropped while none is connected), bytes the
 * client sends fill the guest's receive buffers. One client at a time; a second one is
 * refused until the first disconnects. The future guest-agent channel. */
#ifndef VSRV_DEVICES_VIRTIO_CONSOLE_H
#define VSRV_DEVICES_VIRTIO_CONSOLE_H

#include "devices/virtio/virtio.h"

struct virtio_console;

#define VCON_RX_PENDING 4096

/* What virtio_console_save keeps: the device core (queues, features, status), the config
 * (fixed: checked on restore) and the client's input the guest has not received yet (up to
 * VCON_RX_PENDING bytes: the save takes it from the socket, and it is delivered first
 * after a restore). Guest output is never buffered: it goes to the client or is dropped.
 * There is one port and no multiport control queue, so no port state. The socket and its
 * connection are host resources, not saved: a client connects again. */
struct virtio_console_state {
	struct virtio_dev_state dev;
	uint16_t cols, rows;
	uint32_t max_nr_ports, emerg_wr;
	uint32_t rx_len;
	uint8_t rx[VCON_RX_PENDING];
};

/* Create the device listening at socket_path (an existing socket file is replaced).
 * Returns 0 and *out, or -errno after logging. */
int virtio_console_create(struct virtio_host *h, const char *socket_path, const char *name,
			  struct virtio_console **out);
struct virtio_dev *virtio_console_dev(struct virtio_console *c);
/* Save c (quiesced around the copy). Returns 0 or -errno (the copy is made anyway). */
int virtio_console_save(struct virtio_console *c, struct virtio_console_state *st);
/* Load *st into c. Returns 0, or -EINVAL with c unchanged (config differs, rx_len too
 * large, or virtio_dev_check refuses the core state). */
int virtio_console_restore(struct virtio_console *c, const struct virtio_console_state *st);
/* Stop, close the sockets, remove the socket file, free. NULL is allowed. */
void virtio_console_destroy(struct virtio_console *c);

#endif
