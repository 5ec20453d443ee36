#include "devices/virtio/console.h"
#include "devices/virtio/console_sock.h"
#include "devices/virtio/kind.h"

#include "util/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
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
	return console_rx_deliver(&c->dev, Q_RX, &c->el, c->rx_pend, &c->rx_len);
}

static void on_client(struct virtio_dev *d, int fd, uint32_t events)
{
	struct virtio_console *c = d->priv;
	bool any = false;

	(void)events;
	if (!deliver_pending(c)) {
		c->rx_blocked = true;
		virtio_dev_watch_mod(d, fd, 0);
		return;
	}
	switch (console_rx_read(d, Q_RX, &c->el, fd, &any)) {
	case CONSOLE_RX_BLOCKED: /* no buffers (or the device is not running): wait for a kick */
		c->rx_blocked = true;
		virtio_dev_watch_mod(d, fd, 0);
		break;
	case CONSOLE_RX_GONE:
		drop_client(c);
		break;
	case CONSOLE_RX_AGAIN:
		break;
	}
	if (any)
		virtio_notify(d, Q_RX);
}

static void on_listen(struct virtio_dev *d, int fd, uint32_t events)
{
	struct virtio_console *c = d->priv;
	int cfd = console_sock_accept(d, fd, c->client_fd, EPOLLIN, on_client);

	(void)events;
	if (cfd >= 0)
		c->client_fd = cfd;
}

static void con_queue(struct virtio_dev *d, unsigned q)
{
	struct virtio_console *c = d->priv;

	if (q == Q_RX) {
		if (!deliver_pending(c))
			return; /* still no room: stay blocked */
		if (c->rx_blocked && c->client_fd >= 0) {
			c->rx_blocked = false;
			virtio_dev_watch_mod(d, c->client_fd, EPOLLIN);
		}
		return;
	}
	console_sock_tx(d, Q_TX, &c->el, c->client_fd);
}

/* virtio_dev_quiesce: requests complete as they are taken, but input the client sent
 * and the guest has not received yet would be lost with the connection: take what fits
 * into rx_pend, where save finds it. */
static int con_quiesce(struct virtio_dev *d)
{
	struct virtio_console *c = d->priv;

	if (c->client_fd >= 0)
		console_rx_fill(c->client_fd, c->rx_pend, &c->rx_len, sizeof(c->rx_pend));
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
	struct virtio_console *c;
	int ret = console_sock_path_check(socket_path, name);

	if (ret)
		return ret;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->client_fd = -1;
	c->cfg.max_nr_ports = 1;
	c->path = strdup(socket_path);
	ret = c->path ? console_sock_listen(socket_path, name, &c->listen_fd) : -ENOMEM;
	if (ret)
		goto err_free;
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
	console_sock_close(c->listen_fd, c->client_fd, c->path);
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
	console_rx_prepend(c->rx_pend, &c->rx_len, sizeof(c->rx_pend), st->rx, st->rx_len);
	ret = virtio_dev_restore(&c->dev, &st->dev);
	virtio_dev_resume(&c->dev);
	return ret;
}

/* --- the device kind (kind.h): --device console,socket=PATH[,transport=mmio|pci] --- */

#define CON_USAGE "console,socket=PATH[,transport=mmio|pci]"

static const char *const con_keys[] = { "socket", NULL };

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
	.opts_free = console_opts_free,
	.create = con_kind_create,
	.destroy = con_kind_destroy,
	.state_size = sizeof(struct virtio_console_state),
	.save = con_kind_save,
	.restore = con_kind_restore,
};
