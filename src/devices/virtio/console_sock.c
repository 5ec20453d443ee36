/* The Unix-socket side of a virtio console port. See console_sock.h. */
#include "devices/virtio/console_sock.h"
#include "devices/virtio/options.h"

#include "util/log.h"
#include "util/unixsock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int console_sock_path_check(const char *path, const char *name)
{
	struct sockaddr_un sa;

	if (unixsock_addr(path, &sa)) {
		vsrv_log("%s: socket path too long: %s", name, path);
		return -ENAMETOOLONG;
	}
	return 0;
}

int console_sock_listen(const char *path, const char *name, int *out)
{
	int ret = unixsock_listen(path, 1, true, out);

	if (ret)
		vsrv_log("%s: cannot listen on %s: %s", name, path, strerror(-ret));
	return ret;
}

int console_sock_accept(struct virtio_dev *d, int listen_fd, int client_fd, uint32_t events,
			void (*fn)(struct virtio_dev *d, int fd, uint32_t events))
{
	int cfd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (cfd < 0)
		return -1;
	if (client_fd >= 0 || virtio_dev_watch(d, cfd, events, fn)) {
		close(cfd); /* one client at a time */
		return -1;
	}
	return cfd;
}

void console_sock_close(int listen_fd, int client_fd, char *path)
{
	if (client_fd >= 0)
		close(client_fd);
	close(listen_fd);
	unlink(path);
	free(path);
}

/* All of el's output to fd, as far as the socket takes it. */
static void send_elem(int fd, struct virtq_elem *el)
{
	struct msghdr m = { .msg_iov = el->iov, .msg_iovlen = el->n_out };
	size_t left = el->out_len;

	while (left) {
		ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		left -= n;
		while (n > 0 && m.msg_iovlen) {
			if ((size_t)n >= m.msg_iov->iov_len) {
				n -= m.msg_iov->iov_len;
				m.msg_iov++;
				m.msg_iovlen--;
			} else {
				m.msg_iov->iov_base = (uint8_t *)m.msg_iov->iov_base + n;
				m.msg_iov->iov_len -= n;
				n = 0;
			}
		}
	}
}

void console_sock_tx(struct virtio_dev *d, unsigned q, struct virtq_elem *el, int fd)
{
	uint32_t gen;
	bool any = false;

	while (virtio_pop(d, q, el, &gen) == 1) {
		if (fd >= 0)
			send_elem(fd, el);
		virtio_push(d, q, gen, el->head, 0);
		any = true;
	}
	if (any)
		virtio_notify(d, q);
}

bool console_rx_deliver(struct virtio_dev *d, unsigned q, struct virtq_elem *el, uint8_t *buf,
			uint32_t *len)
{
	uint32_t gen;
	bool any = false;

	while (*len) {
		size_t n;

		if (virtio_pop(d, q, el, &gen) != 1)
			break;
		n = virtq_elem_write(el, 0, buf, *len);
		memmove(buf, buf + n, *len - n);
		*len -= n;
		virtio_push(d, q, gen, el->head, n);
		any = true;
	}
	if (any)
		virtio_notify(d, q);
	return *len == 0;
}

enum console_rx console_rx_read(struct virtio_dev *d, unsigned q, struct virtq_elem *el, int fd,
				bool *any)
{
	uint32_t gen;

	for (;;) {
		ssize_t n;

		if (virtio_pop(d, q, el, &gen) != 1)
			return CONSOLE_RX_BLOCKED; /* or the device is not running: wait for a kick */
		n = readv(fd, &el->iov[el->n_out], el->n_in);
		if (n <= 0) {
			pthread_mutex_lock(&d->lock);
			virtq_unpop(&d->vq[q]);
			pthread_mutex_unlock(&d->lock);
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				return CONSOLE_RX_GONE;
			return CONSOLE_RX_AGAIN;
		}
		virtio_push(d, q, gen, el->head, n);
		*any = true;
	}
}

void console_rx_fill(int fd, uint8_t *buf, uint32_t *len, size_t cap)
{
	while (*len < cap) {
		ssize_t n = read(fd, buf + *len, cap - *len);

		if (n <= 0)
			break; /* empty, or closed: the client's handler sees that */
		*len += n;
	}
}

void console_rx_prepend(uint8_t *buf, uint32_t *len, size_t cap, const uint8_t *saved,
			uint32_t n)
{
	uint32_t keep;

	if (!n)
		return;
	keep = *len < cap - n ? *len : cap - n;
	memmove(buf + n, buf, keep);
	memcpy(buf, saved, n);
	*len = n + keep;
}

void console_opts_free(void *opts)
{
	if (opts)
		vopt_kv_free(opts);
	free(opts);
}
