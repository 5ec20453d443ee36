/* Device hook, part two: virtio-scsi, virtio-console and virtio-net set-up. */
#include "devices/virtio/setup.h"
#include "devices/virtio/console.h"
#include "devices/virtio/net.h"
#include "devices/virtio/scsi.h"
#include "util/log.h"

#include <stdio.h>
#include <string.h>

#include <errno.h>

int setup_scsi_disk(struct vdevs *v, struct vdev_entry *e, const struct vopt_disk *o,
		    unsigned idx)
{
	unsigned n = v->scsi_targets;
	const char *base;
	int ret;

	(void)idx;
	e->kind = VDEV_SCSI_DISK;
	if (n >= VSCSI_MAX_TARGETS * SCSI_MAX_LUNS) {
		vsrv_log("--disk %s: more than %d SCSI disks", o->path,
			 VSCSI_MAX_TARGETS * SCSI_MAX_LUNS);
		return -ENOSPC;
	}
	if (!v->scsi) {
		ret = virtio_scsi_create(&v->host, "virtio-scsi", &v->scsi);
		if (ret)
			return ret;
		v->scsi_transport = o->transport;
	}
	base = strrchr(o->path, '/');
	base = o->serial ? o->serial : base ? base + 1 : o->path;
	/* one target per disk, then further LUNs on the same targets */
	ret = virtio_scsi_attach(v->scsi, n % VSCSI_MAX_TARGETS, n / VSCSI_MAX_TARGETS, e->disk,
				 base);
	if (ret)
		return ret;
	snprintf(e->name, sizeof(e->name), "virtio-scsi %u:%u", n % VSCSI_MAX_TARGETS,
		 n / VSCSI_MAX_TARGETS);
	e->dstats = virtio_scsi_stats(v->scsi, n % VSCSI_MAX_TARGETS, n / VSCSI_MAX_TARGETS);
	v->scsi_targets++;
	return 0;
}

int setup_scsi_finish(struct vdevs *v)
{
	struct vdev_entry *e;
	int ret;

	if (!v->scsi)
		return 0;
	e = &v->e[v->n]; /* the controller gets an entry of its own, at the end */
	if (v->n == VDEVS_MAX)
		return -ENOSPC;
	memset(e, 0, sizeof(*e));
	v->n++;
	e->kind = VDEV_SCSI_CTRL;
	e->dev = virtio_scsi_dev(v->scsi);
	ret = setup_attach(v, e, v->scsi_transport, 0x010000);
	if (!ret)
		ret = virtio_scsi_start(v->scsi);
	return ret;
}

void setup_scsi_destroy(struct vdevs *v)
{
	virtio_scsi_destroy(v->scsi);
	v->scsi = NULL;
}

int setup_console(struct vdevs *v, struct vdev_entry *e, const char *socket, unsigned idx)
{
	int ret;

	snprintf(e->name, sizeof(e->name), "virtio-console%u", idx);
	e->kind = VDEV_CONSOLE;
	ret = virtio_console_create(&v->host, socket, e->name, &e->console);
	if (!ret)
		e->dev = virtio_console_dev(e->console);
	return ret;
}

int setup_net(struct vdevs *v, struct vdev_entry *e, const struct vopt_net *o, unsigned idx)
{
	struct net_backend *be;
	int ret;

	snprintf(e->name, sizeof(e->name), "virtio-net%u", idx);
	snprintf(e->label, sizeof(e->label), "net%u", idx);
	e->bus_or_backend = o->kind == VOPT_NET_USER ? "user" :
			    o->kind == VOPT_NET_BRIDGE ? "bridge" : "tap";
	e->kind = VDEV_NET;
	if (o->kind == VOPT_NET_USER)
		ret = net_slirp_open(o->user_net, o->user_mask, o->user_dhcp, &be);
	else
		ret = net_tap_open(o->kind == VOPT_NET_TAP ? o->ifname : NULL,
				   o->kind == VOPT_NET_BRIDGE ? o->ifname : NULL, o->queues, &be);
	if (ret)
		return ret;
	ret = virtio_net_create(&v->host, be, o->has_mac ? o->mac : NULL, e->name, &e->net);
	if (ret) {
		be->destroy(be);
		return ret;
	}
	e->dev = virtio_net_dev(e->net);
	e->nstats = virtio_net_stats(e->net);
	memcpy(e->ifname, be->ifname, sizeof(e->ifname));
	return 0;
}

void setup_destroy_other(struct vdevs *v, struct vdev_entry *e)
{
	(void)v;
	if (e->kind == VDEV_CONSOLE)
		virtio_console_destroy(e->console);
	else if (e->kind == VDEV_NET)
		virtio_net_destroy(e->net);
}
