#include "devices/virtio/rng.h"

#include <errno.h>
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
