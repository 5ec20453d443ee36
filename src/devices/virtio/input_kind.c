/* The virtio-input device kind (kind.h): --device virtio-keyboard[,transport=mmio|pci] and
 * --device virtio-tablet[,transport=mmio|pci]; one kind (id 14) for both, the state says
 * which one it is. */
#include "devices/virtio/input.h"
#include "devices/virtio/kind.h"
#include "util/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_USAGE "virtio-keyboard|virtio-tablet[,transport=mmio|pci]"

struct input_opts {
	struct vopt_kv kv;
	enum vinput_kind kind;
};

static const char *const input_keys[] = { NULL };

static int input_parse(const char *spec, void **opts)
{
	struct input_opts *o = calloc(1, sizeof(*o));
	size_t n = strcspn(spec, ",");
	int ret;

	if (!o)
		return -ENOMEM;
	if (n == strlen("virtio-tablet") && !strncmp(spec, "virtio-tablet", n))
		o->kind = VINPUT_TABLET;
	else
		o->kind = VINPUT_KEYBOARD;
	ret = vopt_parse_kv(spec, input_keys, &o->kv);
	if (ret) {
		free(o);
		if (ret == -EINVAL)
			vsrv_log("--device %s: expected " INPUT_USAGE, spec);
		return ret;
	}
	*opts = o;
	return 0;
}

static void input_opts_free(void *opts)
{
	struct input_opts *o = opts;

	if (o)
		vopt_kv_free(&o->kv);
	free(o);
}

static int input_kind_create(struct vdevs *v, struct device_entry *e, const void *opts,
			     unsigned idx)
{
	const struct input_opts *o = opts;
	struct virtio_input *in;
	int ret;

	snprintf(e->name, sizeof(e->name), "%s%u",
		 o->kind == VINPUT_TABLET ? "virtio-tablet" : "virtio-keyboard", idx);
	ret = virtio_input_create(&v->host, o->kind, e->name, &in);
	if (ret) {
		vsrv_log("%s: cannot create: %s", e->name, strerror(-ret));
		return ret;
	}
	e->priv = in;
	e->dev = virtio_input_dev(in);
	e->transport = o->kv.transport;
	return 0;
}

static void input_kind_destroy(struct vdevs *v, struct device_entry *e)
{
	(void)v;
	virtio_input_destroy(e->priv);
}

static int input_kind_save(struct device_entry *e, void *st)
{
	return virtio_input_save(e->priv, st);
}

static int input_kind_restore(struct device_entry *e, const void *st)
{
	return virtio_input_restore(e->priv, st);
}

_Static_assert(offsetof(struct virtio_input_state, dev) == 0, "the core's state comes first");
_Static_assert(sizeof(struct virtio_input_state) <= VDEV_STATE_MAX, "fits a state entry");

const struct device_kind virtio_input_kind = {
	.name = "virtio-input",
	.id = 14,
	.option = "device",
	.words = (const char *const[]){ "virtio-keyboard", "virtio-tablet", NULL },
	.usage = INPUT_USAGE,
	.bus = DEVICE_BUS_VIRTIO,
	.pci_class = 0x098000, /* input device controller, other */
	.parse = input_parse,
	.opts_free = input_opts_free,
	.create = input_kind_create,
	.destroy = input_kind_destroy,
	.state_size = sizeof(struct virtio_input_state),
	.save = input_kind_save,
	.restore = input_kind_restore,
};
