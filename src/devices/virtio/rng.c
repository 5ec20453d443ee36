#include "devices/virtio/rng.h"
#include "devices/virtio/kind.h"
#include "util/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct virtio_rng {
	struct virtio_dev dev;
	struct virtq_elem el;
};

static void rng_config(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len,
		       bool is_write)
{
	(void)d;
	if (!is_write)
		virtio_config_copy(NULL, 0, off, data, len);
}

static void rng_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_rng *r = d->priv;
	uint32_t gen;
	int n = 0;

	while (virtio_pop(d, q, &r->el, &gen) == 1) {
		uint32_t done = 0;
		unsigned i;

		for (i = r->el.n_out; i < (unsigned)r->el.n_out + r->el.n_in; i++) {
			ssize_t got = getrandom(r->el.iov[i].iov_base, r->el.iov[i].iov_len, 0);

			if (got < 0)
				break;
			done += got;
			if ((size_t)got < r->el.iov[i].iov_len)
				break;
		}
		virtio_push(d, q, gen, r->el.head, done);
		if (++n % 32 == 0)
			virtio_notify(d, q);
	}
	virtio_notify(d, q);
}

static const struct virtio_dev_ops rng_ops = {
	.device_id = VIRTIO_ID_RNG,
	.config_access = rng_config,
	.queue_notify = rng_notify,
};

int virtio_rng_create(struct virtio_host *h, struct virtio_rng **out)
{
	struct virtio_rng *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	ret = virtio_dev_init(&r->dev, &rng_ops, r, h, "virtio-rng", 1, 256, 0);
	if (!ret)
		ret = virtio_dev_start(&r->dev);
	if (ret) {
		virtio_dev_destroy(&r->dev);
		free(r);
		return ret;
	}
	*out = r;
	return 0;
}

struct virtio_dev *virtio_rng_dev(struct virtio_rng *r)
{
	return &r->dev;
}

void virtio_rng_destroy(struct virtio_rng *r)
{
	if (!r)
		return;
	virtio_dev_destroy(&r->dev);
	free(r);
}

int virtio_rng_save(struct virtio_rng *r, struct virtio_rng_state *st)
{
	memset(st, 0, sizeof(*st));
	return virtio_dev_save(&r->dev, &st->dev);
}

int virtio_rng_restore(struct virtio_rng *r, const struct virtio_rng_state *st)
{
	return virtio_dev_restore(&r->dev, &st->dev);
}

/* --- the device kind (kind.h): --device rng[,transport=mmio|pci] --- */

#define RNG_USAGE "rng[,transport=mmio|pci]"

static const char *const rng_keys[] = { NULL };

static int rng_parse(const char *spec, void **opts)
{
	struct vopt_kv *o = malloc(sizeof(*o));
	int ret;

	if (!o)
		return -ENOMEM;
	ret = vopt_parse_kv(spec, rng_keys, o);
	if (ret) {
		free(o);
		if (ret == -EINVAL)
			vsrv_log("--device %s: expected " RNG_USAGE, spec);
		return ret;
	}
	*opts = o;
	return 0;
}

static void rng_opts_free(void *opts)
{
	if (opts)
		vopt_kv_free(opts);
	free(opts);
}

static int rng_kind_create(struct vdevs *v, struct device_entry *e, const void *opts,
			   unsigned idx)
{
	const struct vopt_kv *o = opts;
	struct virtio_rng *r;
	int ret;

	(void)idx;
	ret = virtio_rng_create(&v->host, &r);
	if (ret)
		return ret;
	e->priv = r;
	e->dev = virtio_rng_dev(r);
	e->transport = o->transport;
	return 0;
}

static void rng_kind_destroy(struct vdevs *v, struct device_entry *e)
{
	(void)v;
	virtio_rng_destroy(e->priv);
}

static int rng_kind_save(struct device_entry *e, void *st)
{
	return virtio_rng_save(e->priv, st);
}

static int rng_kind_restore(struct device_entry *e, const void *st)
{
	return virtio_rng_restore(e->priv, st);
}

_Static_assert(offsetof(struct virtio_rng_state, dev) == 0, "the core's state comes first");
_Static_assert(sizeof(struct virtio_rng_state) <= VDEV_STATE_MAX, "fits a state entry");

const struct device_kind virtio_rng_kind = {
	.name = "virtio-rng",
	.id = 2,
	.option = "device",
	.words = (const char *const[]){ "rng", NULL },
	.usage = RNG_USAGE,
	.bus = DEVICE_BUS_VIRTIO,
	.pci_class = 0x00ff00,
	.parse = rng_parse,
	.opts_free = rng_opts_free,
	.create = rng_kind_create,
	.destroy = rng_kind_destroy,
	.state_size = sizeof(struct virtio_rng_state),
	.save = rng_kind_save,
	.restore = rng_kind_restore,
};
