/* virtio-console (device id 3), one port backed by a listening Unix socket: bytes the
 * guest writes go to the connected client (dropped while none is connected), bytes the
 * client sends fill the guest's receive buffers. One client at a time; a second one is
 * refused until the first disconnects. The future guest-agent channel. */
#ifndef VSRV_DEVICES_VIRTIO_CONSOLE_H
#define VSRV_DEVICES_VIRTIO_CONSOLE_H

#include "devices/virtio/virtio.h"

struct virtio_console;

/* Create the device listening at socket_path (an existing socket file is replaced).
 * Returns 0 and *out, or -errno after logging. */
int virtio_console_create(struct virtio_host *h, const char *socket_path, const char *name,
			  struct virtio_console **out);
struct virtio_dev *virtio_console_dev(struct virtio_console *c);
/* Stop, close the sockets, remove the socket file, free. NULL is allowed. */
void virtio_console_destroy(struct virtio_console *c);

#endif
