/* One drive's entry of the AHCI and IDE kinds: ata_drive.h. */
#include "devices/ata_drive.h"
#include "devices/virtio/kind.h"
#include "util/log.h"
#include "vmm/vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ata_drive_parse(const char *spec, const char *bus, void **opts)
{
	const struct vopt_disk *o;
	int ret = devices_parse_disk(spec, opts);

	if (ret)
		return ret;
	o = *opts;
	if (o->transport != VOPT_MMIO || o->queues) {
		vsrv_log("--disk %s: transport= and queues= are virtio's, not %s's", spec, bus);
		devices_free_disk_opts(*opts);
		return -EINVAL;
	}
	return 0;
}

int ata_drive_create(struct vdevs *v, struct device_entry *e, const void *opts, unsigned idx,
		     bool cd, const char *bus)
{
	const struct vopt_disk *o = opts;
	struct ata_drive_priv *d;
	const char *base;
	int ret;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	e->priv = d;
	d->is_cd = cd;
	e->bus_or_backend = bus;
	snprintf(e->label, sizeof(e->label), "disk%u", idx);
	if (cd && *o->path) {
		char err[VSCSI_CD_PATH_MAX + 128];

		ret = cd_medium_open(o->path, o->format, v->vm->cfg->incoming ? DISK_NOLOCK : 0,
				     &e->disk, err, sizeof(err));
		if (ret) {
			vsrv_log("%s: cdrom %s", e->label, err);
			return ret;
		}
		snprintf(d->path, sizeof(d->path), "%s", o->path);
	} else if (!cd) {
		ret = devices_open_disk(v, e, o, idx);
		if (ret)
			return ret;
	}
	base = strrchr(o->path, '/');
	base = o->serial ? o->serial : base ? base + 1 : o->path;
	snprintf(d->serial, sizeof(d->serial), "%s", *base ? base : e->label);
	return 0;
}

void ata_drive_destroy(struct vdevs *v, struct device_entry *e)
{
	(void)v;
	free(e->priv);
	e->priv = NULL;
}

int ata_drive_cd_state_check(struct device_entry *e, const void *st)
{
	(void)e;
	return cd_state_check(st);
}
