#include "devices/virtio/console.h"
#include "devices/virtio/kind.h"

#include "util/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define Q_RX 0
#define Q_TX 1

struct console_config {
	uint16_t cols, rows;
	uint32_t max_nr_ports;
	uint32_t emerg_wr;
} __attribute__((packed));

struct virtio_console {
	struct virtio_dev dev;
	struct console_config cfg;
	char *path;
	int listen_fd, client_fd;
	bool rx_blocked;        /* client data waits for receive buffers */
	/* Client input taken from the socket but not in guest buffers yet (see con_quiesce);
	 * delivered before anything more is read from the client. */
	uint32_t rx_len;
	uint8_t rx_pend[VCON_RX_PENDING];
	struct virtq_elem el;
};

static void con_config(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len,
		       bool is_write)
{
	struct virtio_console *c = d->priv;

	if (!is_write)
		virtio_config_copy(&c->cfg, sizeof(c->cfg), off, data, len);
}

static void drop_client(struct virtio_console *c)
{
	virtio_dev_unwatch(&c->dev, c->client_fd);
	close(c->client_fd);
	c->client_fd = -1;
	c->rx_blocked = false;
}

/* Move pending input into the guest's receive buffers. True when none is left. */
static bool deliver_pending(struct virtio_console *c)
{
	struct virtio_dev *d = &c->dev;
	uint32_t gen;
	bool any = false;

	while (c->rx_len) {
		size_t n;

		if (virtio_pop(d, Q_RX, &c->el, &gen) != 1)
			break;
		n = virtq_elem_write(&c->el, 0, c->rx_pend, c->rx_len);
		memmove(c->rx_pend, c->rx_pend + n, c->rx_len - n);
		c->rx_len -= n;
		virtio_push(d, Q_RX, gen, c->el.head, n);
		any = true;
	}
	if (any)
		virtio_notify(d, Q_RX);
	return c->rx_len == 0;
}

static void on_client(struct virtio_dev *d, int fd, uint32_t events)
{
	struct virtio_console *c = d->priv;
	uint32_t gen;
	bool any = false;

	(void)events;
	if (!deliver_pending(c)) {
		c->rx_blocked = true;
		virtio_dev_watch_mod(d, fd, 0);
		return;
	}
	for (;;) {
		ssize_t n;
		int r = virtio_pop(d, Q_RX, &c->el, &gen);

		if (r != 1) {
			/* no buffers (or the device is not running): wait for a kick */
			c->rx_blocked = true;
			virtio_dev_watch_mod(d, fd, 0);
			break;
		}
		n = readv(fd, &c->el.iov[c->el.n_out], c->el.n_in);
		if (n <= 0) {
			pthread_mutex_lock(&d->lock);
			virtq_unpop(&d->vq[Q_RX]);
			pthread_mutex_unlock(&d->lock);
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				drop_client(c);
			break;
		}
		virtio_push(d, Q_RX, gen, c->el.head, n);
		any = true;
	}
	if (any)
		virtio_notify(d, Q_RX);
}

static void on_listen(struct virtio_dev *d, int fd, uint32_t events)
{
	struct virtio_console *c = d->priv;
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	(void)events;
	if (cfd < 0)
		return;
	if (c->client_fd >= 0 || virtio_dev_watch(d, cfd, EPOLLIN, on_client)) {
		close(cfd); /* one client at a time */
		return;
	}
	c->client_fd = cfd;
}

static void con_queue(struct virtio_dev *d, unsigned q)
{
	struct virtio_console *c = d->priv;
	uint32_t gen;
	bool any = false;

	if (q == Q_RX) {
		if (!deliver_pending(c))
			return; /* still no room: stay blocked */
		if (c->rx_blocked && c->client_fd >= 0) {
			c->rx_blocked = false;
			virtio_dev_watch_mod(d, c->client_fd, EPOLLIN);
		}
		return;
	}
	while (virtio_pop(d, Q_TX, &c->el, &gen) == 1) {
		if (c->client_fd >= 0) {
			struct msghdr m = { .msg_iov = c->el.iov, .msg_iovlen = c->el.n_out };
			size_t left = c->el.out_len;

			/* the client socket is non-blocking: a client that does not read loses data
			 * rather than stalling the guest */
			while (left) {
				ssize_t n = sendmsg(c->client_fd, &m, MSG_NOSIGNAL);

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
		virtio_push(d, Q_TX, gen, c->el.head, 0);
		any = true;
	}
	if (any)
		virtio_notify(d, Q_TX);
}

/* virtio_dev_quiesce: requests complete as they are taken, but input the client sent
 * and the guest has not received yet would be lost with the connection: take what fits
 * into rx_pend, where save finds it. */
static int con_quiesce(struct virtio_dev *d)
{
	struct virtio_console *c = d->priv;

	while (c->client_fd >= 0 && c->rx_len < sizeof(c->rx_pend)) {
		ssize_t n = read(c->client_fd, c->rx_pend + c->rx_len,
				 sizeof(c->rx_pend) - c->rx_len);

		if (n <= 0)
			break; /* empty, or closed: on_client sees that after the resume */
		c->rx_len += n;
	}
	return 0;
}

static const struct virtio_dev_ops con_ops = {
	.device_id = VIRTIO_ID_CONSOLE,
	.config_access = con_config,
	.queue_notify = con_queue,
	.quiesce = con_quiesce,
};

int virtio_console_create(struct virtio_host *h, const char *socket_path, const char *name,
			  struct virtio_console **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct virtio_console *c;
	int ret;

	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		vsrv_log("%s: socket path too long: %s", name, socket_path);
		return -ENAMETOOLONG;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->client_fd = -1;
	c->cfg.max_nr_ports = 1;
	c->path = strdup(socket_path);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (!c->path || c->listen_fd < 0) {
		ret = c->path ? -errno : -ENOMEM;
		goto err_free;
	}
	strcpy(sa.sun_path, socket_path);
	unlink(socket_path);
	if (bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(c->listen_fd, 1)) {
		ret = -errno;
		vsrv_log("%s: cannot listen on %s: %s", name, socket_path, strerror(errno));
		goto err_sock;
	}
	ret = virtio_dev_init(&c->dev, &con_ops, c, h, name, 2, 256, 0);
	if (ret)
		goto err_unlink;
	ret = virtio_dev_watch(&c->dev, c->listen_fd, EPOLLIN, on_listen);
	if (!ret)
		ret = virtio_dev_start(&c->dev);
	if (ret) {
		virtio_dev_destroy(&c->dev);
		goto err_unlink;
	}
	*out = c;
	return 0;
err_unlink:
	unlink(socket_path);
err_sock:
	close(c->listen_fd);
err_free:
	free(c->path);
	free(c);
	return ret;
}

struct virtio_dev *virtio_console_dev(struct virtio_console *c)
{
	return &c->dev;
}

void virtio_console_destroy(struct virtio_console *c)
{
	if (!c)
		return;
	virtio_dev_destroy(&c->dev);
	if (c->client_fd >= 0)
		close(c->client_fd);
	close(c->listen_fd);
	unlink(c->path);
	free(c->path);
	free(c);
}

int virtio_console_save(struct virtio_console *c, struct virtio_console_state *st)
{
	int ret, qret;

	memset(st, 0, sizeof(*st));
	qret = virtio_dev_quiesce(&c->dev); /* rx_pend is the I/O thread's */
	if (qret == -EDEADLK)
		return qret;
	ret = virtio_dev_save(&c->dev, &st->dev);
	st->cols = c->cfg.cols;
	st->rows = c->cfg.rows;
	st->max_nr_ports = c->cfg.max_nr_ports;
	st->emerg_wr = c->cfg.emerg_wr;
	st->rx_len = c->rx_len;
	memcpy(st->rx, c->rx_pend, c->rx_len);
	virtio_dev_resume(&c->dev);
	return qret ? qret : ret;
}

int virtio_console_restore(struct virtio_console *c, const struct virtio_console_state *st)
{
	int ret;

	if (st->cols != c->cfg.cols || st->rows != c->cfg.rows ||
	    st->max_nr_ports != c->cfg.max_nr_ports || st->emerg_wr != c->cfg.emerg_wr ||
	    st->rx_len > sizeof(st->rx))
		return -EINVAL;
	ret = virtio_dev_check(&c->dev, &st->dev);
	if (ret)
		return ret;
	ret = virtio_dev_quiesce(&c->dev);
	if (ret == -EDEADLK)
		return ret;
	/* the pending input goes first, before anything this device read already */
	if (st->rx_len) {
		uint32_t keep = c->rx_len < sizeof(c->rx_pend) - st->rx_len ?
				c->rx_len : sizeof(c->rx_pend) - st->rx_len;

		memmove(c->rx_pend + st->rx_len, c->rx_pend, keep);
		memcpy(c->rx_pend, st->rx, st->rx_len);
		c->rx_len = st->rx_len + keep;
	}
	ret = virtio_dev_restore(&c->dev, &st->dev);
	virtio_dev_resume(&c->dev);
	return ret;
}

/* --- the device kind (kind.h): --device console,socket=PATH[,transport=mmio|pci] --- */

#define CON_USAGE "console,socket=PATH[,transport=mmio|pci]"

static const char *const con_keys[] = { "socket", NULL };

static void con_opts_free(void *opts)
{
	if (opts)
		vopt_kv_free(opts);
	free(opts);
}

static int con_parse(const char *spec, void **opts)
{
	struct vopt_kv *o = malloc(sizeof(*o));
	int ret;

	if (!o)
		return -ENOMEM;
	ret = vopt_parse_kv(spec, con_keys, o);
	if (!ret && !o->val[0]) {
		vopt_kv_free(o);
		ret = -EINVAL;
	}
	if (ret) {
		free(o);
		if (ret == -EINVAL)
			vsrv_log("--device %s: expected " CON_USAGE, spec);
		return ret;
	}
	*opts = o;
	return 0;
}

static int con_kind_create(struct vdevs *v, struct device_entry *e, const void *opts,
			   unsigned idx)
{
	const struct vopt_kv *o = opts;
	struct virtio_console *c;
	int ret;

	snprintf(e->name, sizeof(e->name), "virtio-console%u", idx);
	ret = virtio_console_create(&v->host, o->val[0], e->name, &c);
	if (ret)
		return ret;
	e->priv = c;
	e->dev = virtio_console_dev(c);
	e->transport = o->transport;
	return 0;
}

static void con_kind_destroy(struct vdevs *v, struct device_entry *e)
{
	(void)v;
	virtio_console_destroy(e->priv);
}

static int con_kind_save(struct device_entry *e, void *st)
{
	return virtio_console_save(e->priv, st);
}

static int con_kind_restore(struct device_entry *e, const void *st)
{
	return virtio_console_restore(e->priv, st);
}

_Static_assert(offsetof(struct virtio_console_state, dev) == 0, "the core's state comes first");
_Static_assert(sizeof(struct virtio_console_state) <= VDEV_STATE_MAX, "fits a state entry");

const struct device_kind virtio_console_kind = {
	.name = "virtio-console",
	.id = 3,
	.option = "device",
	.words = (const char *const[]){ "console", NULL },
	.usage = CON_USAGE,
	.bus = DEVICE_BUS_VIRTIO,
	.pci_class = 0x078000,
	.parse = con_parse,
	.opts_free = con_opts_free,
	.create = con_kind_create,
	.destroy = con_kind_destroy,
	.state_size = sizeof(struct virtio_console_state),
	.save = con_kind_save,
	.restore = con_kind_restore,
};
