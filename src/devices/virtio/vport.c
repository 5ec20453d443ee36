/* virtio-console, multiport, one named port on a Unix socket. See vport.h. */
#include "devices/virtio/vport.h"
#include "devices/virtio/console_sock.h"
#include "devices/virtio/kind.h"

#include "util/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define Q_RX0  0
#define Q_TX0  1
#define Q_CIN  2       /* control, device to driver */
#define Q_COUT 3       /* control, driver to device */
#define Q_RX1  4
#define Q_TX1  5
#define NQ     6
#define PORT   1       /* the named port's id */

struct vport_config {
	uint16_t cols, rows;
	uint32_t max_nr_ports;
	uint32_t emerg_wr;
} __attribute__((packed));

struct vport_ctrl {
	uint32_t id;
	uint16_t event, value;
} __attribute__((packed));

/* Everything below dev is the I/O thread's (and save/restore's, with the device
 * quiesced); a driver reset reaches it through reset_pending. */
struct virtio_vport {
	struct virtio_dev dev;
	struct vport_config cfg;
	char *path;
	char name[VPORT_NAME_MAX];
	int listen_fd, client_fd;
	atomic_bool reset_pending;
	bool added, ready, guest_open, host_open;
	bool rx_blocked;
	uint32_t ctrl_len;              /* messages as [u16 length][bytes] */
	uint8_t ctrl[VPORT_CTRL_MAX];
	uint32_t rx_len;
	uint8_t rx_pend[VPORT_RX_PENDING];
	struct virtq_elem el;
};

static void vp_config(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len,
		      bool is_write)
{
	struct virtio_vport *p = d->priv;

	if (!is_write)
		virtio_config_copy(&p->cfg, sizeof(p->cfg), off, data, len);
}

static void vp_status(struct virtio_dev *d, bool active)
{
	struct virtio_vport *p = d->priv;

	if (!active)
		atomic_store(&p->reset_pending, true);
}

/* A driver reset forgets the port: it is added again after the next DEVICE_READY. */
static void check_reset(struct virtio_vport *p)
{
	if (!atomic_exchange(&p->reset_pending, false))
		return;
	p->added = p->ready = p->guest_open = false;
	p->ctrl_len = 0;
}

/* Hand the waiting control messages to the driver's buffers. */
static void deliver_ctrl(struct virtio_vport *p)
{
	struct virtio_dev *d = &p->dev;
	uint32_t gen;
	bool any = false;

	while (p->ctrl_len >= 2) {
		uint16_t n;

		memcpy(&n, p->ctrl, 2);
		if (virtio_pop(d, Q_CIN, &p->el, &gen) != 1)
			break;
		virtio_push(d, Q_CIN, gen, p->el.head, virtq_elem_write(&p->el, 0, p->ctrl + 2, n));
		p->ctrl_len -= 2u + n;
		memmove(p->ctrl, p->ctrl + 2 + n, p->ctrl_len);
		any = true;
	}
	if (any)
		virtio_notify(d, Q_CIN);
}

/* Queue a control message (extra: the bytes after it, PORT_NAME's name) and deliver. */
static void send_ctrl(struct virtio_vport *p, uint16_t event, uint16_t value, const char *extra)
{
	struct vport_ctrl m = { .id = PORT, .event = event, .value = value };
	size_t x = extra ? strlen(extra) : 0;
	uint16_t n = (uint16_t)(sizeof(m) + x);

	if (p->ctrl_len + 2u + n > sizeof(p->ctrl)) {
		vsrv_log("%s: control messages not taken by the driver: dropping event %u",
			 p->dev.name, event);
		return;
	}
	memcpy(p->ctrl + p->ctrl_len, &n, 2);
	memcpy(p->ctrl + p->ctrl_len + 2, &m, sizeof(m));
	if (x)
		memcpy(p->ctrl + p->ctrl_len + 2 + sizeof(m), extra, x);
	p->ctrl_len += 2u + n;
	deliver_ctrl(p);
}

/* The host side opened or closed: tell a driver that knows the port. */
static void host_open(struct virtio_vport *p, bool open)
{
	p->host_open = open;
	if (p->ready)
		send_ctrl(p, VPORT_PORT_OPEN, open, NULL);
}

/* One message from the driver. */
static void on_ctrl(struct virtio_vport *p, const struct vport_ctrl *m)
{
	switch (m->event) {
	case VPORT_DEVICE_READY:
		if (m->value == 1 && !p->added) {
			p->added = true;
			send_ctrl(p, VPORT_PORT_ADD, 0, NULL);
		}
		break;
	case VPORT_PORT_READY:
		if (m->id != PORT || !p->added)
			break;
		if (m->value != 1) {
			vsrv_log("%s: the driver could not set up port %s", p->dev.name, p->name);
			break;
		}
		p->ready = true;
		send_ctrl(p, VPORT_PORT_NAME, 0, p->name);
		if (p->host_open)
			send_ctrl(p, VPORT_PORT_OPEN, 1, NULL);
		break;
	case VPORT_PORT_OPEN:
		if (m->id == PORT)
			p->guest_open = m->value != 0;
		break;
	default:
		break; /* nothing else is for a device to act on */
	}
}

static void drop_client(struct virtio_vport *p)
{
	virtio_dev_unwatch(&p->dev, p->client_fd);
	close(p->client_fd);
	p->client_fd = -1;
	p->rx_blocked = false;
	host_open(p, false);
}

/* Move pending input into the port's receive buffers. True when none is left. */
static bool deliver_pending(struct virtio_vport *p)
{
	return console_rx_deliver(&p->dev, Q_RX1, &p->el, p->rx_pend, &p->rx_len);
}

/* No receive buffer for the client's input: wait for a kick of Q_RX1, watching only for
 * the client's end, which is said to the driver at once (PORT_OPEN 0) with the client's last
 * bytes kept for the driver, as many as fit. */
static void rx_blocked(struct virtio_vport *p, int fd, uint32_t events)
{
	p->rx_blocked = true;
	if (events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)) {
		console_rx_fill(fd, p->rx_pend, &p->rx_len, sizeof(p->rx_pend));
		drop_client(p);
		return;
	}
	virtio_dev_watch_mod(&p->dev, fd, EPOLLRDHUP);
}

static void on_client(struct virtio_dev *d, int fd, uint32_t events)
{
	struct virtio_vport *p = d->priv;
	bool any = false;

	check_reset(p);
	if (!deliver_pending(p)) {
		rx_blocked(p, fd, events);
		return;
	}
	switch (console_rx_read(d, Q_RX1, &p->el, fd, &any)) {
	case CONSOLE_RX_BLOCKED:
		rx_blocked(p, fd, events);
		break;
	case CONSOLE_RX_GONE:
		drop_client(p);
		break;
	case CONSOLE_RX_AGAIN:
		break;
	}
	if (any)
		virtio_notify(d, Q_RX1);
}

static void on_listen(struct virtio_dev *d, int fd, uint32_t events)
{
	struct virtio_vport *p = d->priv;
	int cfd = console_sock_accept(d, fd, p->client_fd, EPOLLIN | EPOLLRDHUP, on_client);

	(void)events;
	check_reset(p);
	if (cfd < 0)
		return;
	p->client_fd = cfd;
	host_open(p, true);
}

static void vp_queue(struct virtio_dev *d, unsigned q)
{
	struct virtio_vport *p = d->priv;
	uint32_t gen;

	check_reset(p);
	switch (q) {
	case Q_COUT:
		while (virtio_pop(d, Q_COUT, &p->el, &gen) == 1) {
			struct vport_ctrl m;

			/* a short message is ignored; anything after the 8 bytes too */
			if (virtq_elem_read(&p->el, 0, &m, sizeof(m)) == sizeof(m))
				on_ctrl(p, &m);
			virtio_push(d, Q_COUT, gen, p->el.head, 0);
			virtio_notify(d, Q_COUT);
		}
		break;
	case Q_CIN:
		deliver_ctrl(p);
		break;
	case Q_RX1:
		if (!deliver_pending(p))
			return;
		if (p->rx_blocked && p->client_fd >= 0) {
			p->rx_blocked = false;
			virtio_dev_watch_mod(d, p->client_fd, EPOLLIN | EPOLLRDHUP);
		}
		break;
	case Q_TX0:
	case Q_TX1: /* guest output: to the client (port 1 only), else consumed and dropped */
		console_sock_tx(d, q, &p->el, q == Q_TX1 ? p->client_fd : -1);
		break;
	default:
		break; /* Q_RX0: port 0 is never added */
	}
}

/* virtio_dev_quiesce: the client's input not in guest buffers yet goes to rx_pend, where
 * save finds it. */
static int vp_quiesce(struct virtio_dev *d)
{
	struct virtio_vport *p = d->priv;

	if (p->client_fd >= 0)
		console_rx_fill(p->client_fd, p->rx_pend, &p->rx_len, sizeof(p->rx_pend));
	return 0;
}

static const struct virtio_dev_ops vp_ops = {
	.device_id = VIRTIO_ID_CONSOLE,
	.config_access = vp_config,
	.queue_notify = vp_queue,
	.status_change = vp_status,
	.quiesce = vp_quiesce,
};

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= VPORT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == ',')
			return false;
	return true;
}

int virtio_vport_create(struct virtio_host *h, const char *socket_path, const char *port_name,
			const char *name, struct virtio_vport **out)
{
	struct virtio_vport *p;
	int ret = console_sock_path_check(socket_path, name);

	if (ret)
		return ret;
	if (!name_ok(port_name)) {
		vsrv_log("%s: bad port name '%s' (1 to 63 printable characters, no spaces or "
			 "commas)", name, port_name);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->client_fd = -1;
	p->cfg.max_nr_ports = 2;
	snprintf(p->name, sizeof(p->name), "%s", port_name);
	p->path = strdup(socket_path);
	ret = p->path ? console_sock_listen(socket_path, name, &p->listen_fd) : -ENOMEM;
	if (ret)
		goto err_free;
	ret = virtio_dev_init(&p->dev, &vp_ops, p, h, name, NQ, 256,
			      1ULL << VIRTIO_CONSOLE_F_MULTIPORT);
	if (ret)
		goto err_unlink;
	ret = virtio_dev_watch(&p->dev, p->listen_fd, EPOLLIN, on_listen);
	if (!ret)
		ret = virtio_dev_start(&p->dev);
	if (ret) {
		virtio_dev_destroy(&p->dev);
		goto err_unlink;
	}
	*out = p;
	return 0;
err_unlink:
	unlink(socket_path);
	close(p->listen_fd);
err_free:
	free(p->path);
	free(p);
	return ret;
}

struct virtio_dev *virtio_vport_dev(struct virtio_vport *p)
{
	return &p->dev;
}

void virtio_vport_destroy(struct virtio_vport *p)
{
	if (!p)
		return;
	virtio_dev_destroy(&p->dev);
	console_sock_close(p->listen_fd, p->client_fd, p->path);
	free(p);
}

int virtio_vport_save(struct virtio_vport *p, struct virtio_vport_state *st)
{
	int ret, qret;

	memset(st, 0, sizeof(*st));
	qret = virtio_dev_quiesce(&p->dev);
	if (qret == -EDEADLK)
		return qret;
	check_reset(p);
	ret = virtio_dev_save(&p->dev, &st->dev);
	snprintf(st->name, sizeof(st->name), "%s", p->name);
	st->added = p->added;
	st->ready = p->ready;
	st->guest_open = p->guest_open;
	st->host_open = p->host_open;
	st->ctrl_len = p->ctrl_len;
	memcpy(st->ctrl, p->ctrl, p->ctrl_len);
	st->rx_len = p->rx_len;
	memcpy(st->rx, p->rx_pend, p->rx_len);
	virtio_dev_resume(&p->dev);
	return qret ? qret : ret;
}

/* ctrl holds whole [u16 length][bytes] messages. */
static bool ctrl_ok(const uint8_t *ctrl, uint32_t len)
{
	uint32_t off = 0;

	while (off < len) {
		uint16_t n;

		if (len - off < 2)
			return false;
		memcpy(&n, ctrl + off, 2);
		if (n < sizeof(struct vport_ctrl) || n > len - off - 2)
			return false;
		off += 2u + n;
	}
	return true;
}

int virtio_vport_restore(struct virtio_vport *p, const struct virtio_vport_state *st)
{
	int ret;

	if (strncmp(st->name, p->name, sizeof(st->name)) || st->ctrl_len > sizeof(st->ctrl) ||
	    st->rx_len > sizeof(st->rx) || !ctrl_ok(st->ctrl, st->ctrl_len) || st->added > 1 ||
	    st->ready > 1 || st->guest_open > 1 || st->host_open > 1 || (st->ready && !st->added))
		return -EINVAL;
	ret = virtio_dev_check(&p->dev, &st->dev);
	if (ret)
		return ret;
	ret = virtio_dev_quiesce(&p->dev);
	if (ret == -EDEADLK)
		return ret;
	ret = virtio_dev_restore(&p->dev, &st->dev);
	if (!ret) {
		atomic_store(&p->reset_pending, false);
		p->added = st->added;
		p->ready = st->ready;
		p->guest_open = st->guest_open;
		p->ctrl_len = st->ctrl_len;
		memcpy(p->ctrl, st->ctrl, st->ctrl_len);
		/* the saved input goes first, before anything this device read already */
		console_rx_prepend(p->rx_pend, &p->rx_len, sizeof(p->rx_pend), st->rx, st->rx_len);
		/* the driver believes what was said last; say how the host side is now */
		p->host_open = st->host_open;
		if ((p->client_fd >= 0) != p->host_open)
			host_open(p, p->client_fd >= 0);
	}
	virtio_dev_resume(&p->dev);
	return ret;
}

/* --- the device kind (kind.h): --device vport,socket=PATH,name=NAME[,transport=...] --- */

#define VP_USAGE "vport,socket=PATH,name=NAME[,transport=mmio|pci]"

static const char *const vp_keys[] = { "socket", "name", NULL };

static int vp_parse(const char *spec, void **opts)
{
	struct vopt_kv *o = malloc(sizeof(*o));
	int ret;

	if (!o)
		return -ENOMEM;
	ret = vopt_parse_kv(spec, vp_keys, o);
	if (!ret && (!o->val[0] || !o->val[1] || !name_ok(o->val[1]))) {
		vopt_kv_free(o);
		ret = -EINVAL;
	}
	if (ret) {
		free(o);
		if (ret == -EINVAL)
			vsrv_log("--device %s: expected " VP_USAGE " (NAME: 1 to 63 printable "
				 "characters)", spec);
		return ret;
	}
	*opts = o;
	return 0;
}

static int vp_kind_create(struct vdevs *v, struct device_entry *e, const void *opts,
			  unsigned idx)
{
	const struct vopt_kv *o = opts;
	struct virtio_vport *p;
	int ret;

	snprintf(e->name, sizeof(e->name), "virtio-serial%u", idx);
	ret = virtio_vport_create(&v->host, o->val[0], o->val[1], e->name, &p);
	if (ret)
		return ret;
	e->priv = p;
	e->dev = virtio_vport_dev(p);
	e->transport = o->transport;
	return 0;
}

static void vp_kind_destroy(struct vdevs *v, struct device_entry *e)
{
	(void)v;
	virtio_vport_destroy(e->priv);
}

static int vp_kind_save(struct device_entry *e, void *st)
{
	return virtio_vport_save(e->priv, st);
}

static int vp_kind_restore(struct device_entry *e, const void *st)
{
	return virtio_vport_restore(e->priv, st);
}

_Static_assert(offsetof(struct virtio_vport_state, dev) == 0, "the core's state comes first");
_Static_assert(sizeof(struct virtio_vport_state) <= VDEV_STATE_MAX, "fits a state entry");

const struct device_kind virtio_vport_kind = {
	.name = "virtio-serial",
	.id = 8,
	.option = "device",
	.words = (const char *const[]){ "vport", NULL },
	.usage = VP_USAGE,
	.bus = DEVICE_BUS_VIRTIO,
	.pci_class = 0x078000,
	.parse = vp_parse,
	.opts_free = console_opts_free,
	.create = vp_kind_create,
	.destroy = vp_kind_destroy,
	.state_size = sizeof(struct virtio_vport_state),
	.save = vp_kind_save,
	.restore = vp_kind_restore,
};
