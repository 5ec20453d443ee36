/* The memory balloon's device kind (kind.h): `--device balloon` (or `virtio-balloon`,
 * `vsrv run --balloon`), one per VM at most. The device itself is balloon.c. */
#include "devices/virtio/balloon.h"
#include "devices/virtio/kind.h"

#include "util/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the device kind (kind.h): --device balloon[,deflate-on-oom=on|off]
 * [,free-page-reporting=on|off][,stats-interval=S][,transport=mmio|pci] --- */

#define BALLOON_USAGE "balloon[,deflate-on-oom=on|off][,free-page-reporting=on|off]" \
	"[,stats-interval=SECONDS][,transport=mmio|pci]"
#define STATS_INTERVAL_DEFAULT 5
#define STATS_INTERVAL_MAX 3600

extern const struct device_kind virtio_balloon_kind;

struct balloon_kind_opts {
	struct vballoon_opts o;
	enum vopt_transport transport;
};

static const char *const balloon_keys[] = { "deflate-on-oom", "free-page-reporting",
					    "stats-interval", NULL };

static int parse_onoff(const char *v, bool *out)
{
	if (!v)
		return 0;
	if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int balloon_parse(const char *spec, void **opts)
{
	struct balloon_kind_opts *bo = calloc(1, sizeof(*bo));
	struct vopt_kv kv;
	int ret;

	if (!bo)
		return -ENOMEM;
	bo->o.stats_interval = STATS_INTERVAL_DEFAULT;
	ret = vopt_parse_kv(spec, balloon_keys, &kv);
	if (ret) {
		free(bo);
		if (ret == -EINVAL)
			vsrv_log("--device %s: expected " BALLOON_USAGE, spec);
		return ret;
	}
	bo->transport = kv.transport;
	if (parse_onoff(kv.val[0], &bo->o.deflate_on_oom) ||
	    parse_onoff(kv.val[1], &bo->o.reporting))
		ret = -EINVAL;
	if (kv.val[2]) {
		char *end;
		unsigned long s = strtoul(kv.val[2], &end, 10);

		if (*end || kv.val[2][0] == '-' || s > STATS_INTERVAL_MAX)
			ret = -EINVAL;
		bo->o.stats_interval = (unsigned)s;
	}
	vopt_kv_free(&kv);
	if (ret) {
		vsrv_log("--device %s: expected " BALLOON_USAGE " (on or off; stats-interval "
			 "0..%d seconds, 0: no requests)", spec, STATS_INTERVAL_MAX);
		free(bo);
		return ret;
	}
	*opts = bo;
	return 0;
}

static void balloon_opts_free(void *opts)
{
	free(opts);
}

static int balloon_kind_create(struct vdevs *v, struct device_entry *e, const void *opts,
			       unsigned idx)
{
	const struct balloon_kind_opts *bo = opts;
	unsigned *count = devices_kind_priv(v, &virtio_balloon_kind);
	struct virtio_balloon *b;
	int ret;

	(void)idx;
	if (count && (*count)++) {
		vsrv_log("--device balloon: a VM has one memory balloon at most");
		return -EINVAL;
	}
	snprintf(e->name, sizeof(e->name), "virtio-balloon");
	ret = virtio_balloon_create(&v->host, &bo->o, e->name, &b);
	if (ret)
		return ret;
	e->priv = b;
	e->dev = virtio_balloon_dev(b);
	e->transport = bo->transport;
	return 0;
}

static void balloon_kind_destroy(struct vdevs *v, struct device_entry *e)
{
	(void)v;
	virtio_balloon_destroy(e->priv);
}

static int balloon_kind_save(struct device_entry *e, void *st)
{
	return virtio_balloon_save(e->priv, st);
}

static int balloon_kind_restore(struct device_entry *e, const void *st)
{
	return virtio_balloon_restore(e->priv, st);
}

static int balloon_kind_balloon(struct device_entry *e, const uint64_t *target,
				struct vballoon_info *out)
{
	int ret = 0;

	if (target)
		ret = virtio_balloon_set_target(e->priv, *target);
	if (out)
		virtio_balloon_info(e->priv, out);
	return ret;
}

_Static_assert(offsetof(struct virtio_balloon_state, dev) == 0, "the core's state comes first");
_Static_assert(sizeof(struct virtio_balloon_state) <= VDEV_STATE_MAX, "fits a state entry");

const struct device_kind virtio_balloon_kind = {
	.name = "virtio-balloon",
	.id = 15,
	.option = "device",
	.words = (const char *const[]){ "balloon", "virtio-balloon", NULL },
	.usage = BALLOON_USAGE,
	.bus = DEVICE_BUS_VIRTIO,
	.pci_class = 0x050000, /* memory controller, as QEMU's */
	.vm_priv_size = sizeof(unsigned),
	.parse = balloon_parse,
	.opts_free = balloon_opts_free,
	.create = balloon_kind_create,
	.destroy = balloon_kind_destroy,
	.state_size = sizeof(struct virtio_balloon_state),
	.save = balloon_kind_save,
	.restore = balloon_kind_restore,
	.balloon = balloon_kind_balloon,
};
