/* The virtio-net device kind (kind.h): --net tap=NAME|bridge=BR|user[,...] opens its
 * backend (TAP or slirp) and builds the device on it. */
#include "devices/pci_rom.h"
#include "devices/virtio/kind.h"
#include "devices/virtio/net.h"
#include "util/log.h"
#include "vmm/vm.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void net_opts_free(void *opts)
{
	if (opts)
		vopt_net_free(opts);
	free(opts);
}

int net_opts_parse(const char *spec, struct vopt_net **out)
{
	struct vopt_net *o = malloc(sizeof(*o));
	int ret;

	if (!o)
		return -ENOMEM;
	ret = vopt_parse_net(spec, o);
	if (ret) {
		free(o);
		return ret;
	}
	*out = o;
	return 0;
}

const char *net_backend_word(const struct vopt_net *o)
{
	return o->kind == VOPT_NET_USER ? "user" : o->kind == VOPT_NET_BRIDGE ? "bridge" : "tap";
}

static int net_parse(const char *spec, void **opts)
{
	struct vopt_net *o;
	int ret = net_opts_parse(spec, &o);

	if (ret)
		return ret;
	if (o->model && strcmp(o->model, "virtio")) { /* another kind's spec */
		vsrv_log("--net %s: not a virtio-net spec (model=%s)", spec, o->model);
		net_opts_free(o);
		return -EINVAL;
	}
	*opts = o;
	return 0;
}

int net_backend_open(const struct vopt_net *o, struct net_backend **out)
{
	if (o->kind == VOPT_NET_USER)
		return net_slirp_open_boot(o->user_net, o->user_mask, o->user_dhcp, o->tftp,
					   o->bootfile, o->no_host_loopback, out);
	return net_tap_open(o->kind == VOPT_NET_TAP ? o->ifname : NULL,
			    o->kind == VOPT_NET_BRIDGE ? o->ifname : NULL, o->queues, out);
}

int net_rom_load(struct vdevs *v, struct device_entry *e, const struct vopt_net *o,
		 const char *dflt)
{
	const char *path = o->has_romfile ? o->romfile : dflt;

	if (!v->vm->cfg->firmware || !path)
		return 0; /* direct kernel boot, or romfile=none */
	if (!o->has_romfile && access(path, F_OK)) {
		vsrv_log("%s: no network boot ROM (%s is missing: apt install ipxe-qemu, or "
			 "romfile=none to say so)", e->name, path);
		return 0;
	}
	return pci_rom_load(path, e->name, &e->rom);
}

int net_opts_check(const void *opts)
{
	const struct vopt_net *o = opts;
	struct stat st;

	if (o->romfile && stat(o->romfile, &st)) {
		int ret = -errno;

		vsrv_log("--net ...,romfile=%s: %s", o->romfile, strerror(-ret));
		return ret;
	}
	if (o->tftp) {
		int ret = stat(o->tftp, &st) ? -errno : S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;

		if (ret) {
			vsrv_log("--net ...,tftp=%s: %s", o->tftp, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int net_kind_create(struct vdevs *v, struct device_entry *e, const void *opts,
			   unsigned idx)
{
	const struct vopt_net *o = opts;
	struct net_backend *be;
	struct virtio_net *n;
	int ret;

	snprintf(e->name, sizeof(e->name), "virtio-net%u", idx);
	snprintf(e->label, sizeof(e->label), "net%u", idx);
	e->bus_or_backend = net_backend_word(o);
	ret = net_rom_load(v, e, o, NET_ROM_VIRTIO);
	if (ret)
		return ret;
	ret = net_backend_open(o, &be);
	if (ret)
		return ret;
	ret = virtio_net_create(&v->host, be, o->has_mac ? o->mac : NULL, e->name, &n);
	if (ret) {
		be->destroy(be);
		return ret;
	}
	e->priv = n;
	e->dev = virtio_net_dev(n);
	e->nstats = virtio_net_stats(n);
	e->transport = o->transport;
	memcpy(e->ifname, be->ifname, sizeof(e->ifname));
	return 0;
}

static void net_kind_destroy(struct vdevs *v, struct device_entry *e)
{
	(void)v;
	if (e->priv)
		virtio_net_destroy(e->priv);
}

static int net_kind_save(struct device_entry *e, void *st)
{
	virtio_net_save(e->priv, st);
	return 0;
}

static int net_kind_restore(struct device_entry *e, const void *st)
{
	return virtio_net_restore(e->priv, st);
}

static void net_kind_mac(struct device_entry *e, uint8_t mac[6])
{
	virtio_net_mac(e->priv, mac);
}

_Static_assert(offsetof(struct virtio_net_state, dev) == 0, "the core's state comes first");
_Static_assert(sizeof(struct virtio_net_state) <= VDEV_STATE_MAX, "fits a state entry");

const struct device_kind virtio_net_kind = {
	.name = "virtio-net",
	.id = 4,
	.option = "net",
	.words = (const char *const[]){ "", "virtio", NULL },
	.usage = "tap=NAME|bridge=BR|user[,...][,model=virtio]",
	.bus = DEVICE_BUS_VIRTIO,
	.pci_class = 0x020000,
	.parse = net_parse,
	.opts_free = net_opts_free,
	.check = net_opts_check,
	.create = net_kind_create,
	.destroy = net_kind_destroy,
	.state_size = sizeof(struct virtio_net_state),
	.save = net_kind_save,
	.restore = net_kind_restore,
	.mac = net_kind_mac,
};
