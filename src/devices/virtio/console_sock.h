/* The Unix-socket side of a virtio console port, shared by virtio-console (console.c) and the
 * multiport virtio-serial (vport.c): the listening socket, its one client, guest output to
 * the client and the client's input into a receive queue, with the input a save keeps
 * (rx_pend) in front. Each device keeps its own state; these work on the parts they are
 * given, on the device's I/O thread (or with the device quiesced). */
#ifndef VSRV_DEVICES_VIRTIO_CONSOLE_SOCK_H
#define VSRV_DEVICES_VIRTIO_CONSOLE_SOCK_H

#include "devices/virtio/virtio.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 0 when path fits a Unix socket address, else -ENAMETOOLONG after logging (name: the
 * device's). */
int console_sock_path_check(const char *path, const char *name);
/* A non-blocking listening socket at path (an existing socket file is replaced): 0 and
 * *out (the caller's), or -errno (logged when bind or listen fails). */
int console_sock_listen(const char *path, const char *name, int *out);
/* Take a connection on listen_fd and watch it for events with fn: the new client's fd, or
 * -1 (none, or refused: client_fd >= 0 already, one client at a time). */
int console_sock_accept(struct virtio_dev *d, int listen_fd, int client_fd, uint32_t events,
			void (*fn)(struct virtio_dev *d, int fd, uint32_t events));
/* Close client_fd (when >= 0) and listen_fd, remove the socket file at path, free path. */
void console_sock_close(int listen_fd, int client_fd, char *path);

/* Guest output: every request on queue q goes to fd (-1: dropped; non-blocking, so a client
 * that does not read loses data, the guest never stalls) and is completed; one notify. */
void console_sock_tx(struct virtio_dev *d, unsigned q, struct virtq_elem *el, int fd);

/* Move pending input (buf, *len bytes) into queue q's buffers. True when none is left. */
bool console_rx_deliver(struct virtio_dev *d, unsigned q, struct virtq_elem *el, uint8_t *buf,
			uint32_t *len);

enum console_rx {
	CONSOLE_RX_AGAIN,    /* nothing more to read now */
	CONSOLE_RX_BLOCKED,  /* no receive buffer: the input waits in the socket */
	CONSOLE_RX_GONE,     /* the client closed or failed: drop it */
};
/* The client's input on fd into queue q's buffers while both last; *any set when a buffer
 * was completed (the caller notifies). */
enum console_rx console_rx_read(struct virtio_dev *d, unsigned q, struct virtq_elem *el, int fd,
				bool *any);
/* Read what fd has into buf after its *len bytes, up to cap. */
void console_rx_fill(int fd, uint8_t *buf, uint32_t *len, size_t cap);
/* Put saved input (n <= cap bytes) in front of buf's *len, keeping what still fits. */
void console_rx_prepend(uint8_t *buf, uint32_t *len, size_t cap, const uint8_t *saved,
			uint32_t n);

/* Free a kind's parsed struct vopt_kv (NULL: nothing). */
void console_opts_free(void *opts);

#endif
