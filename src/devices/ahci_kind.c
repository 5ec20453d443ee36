/* The AHCI device kinds (kind.h): `--disk PATH,bus=ahci` puts a SATA disk, `--disk
 * [PATH],media=cdrom,bus=ahci` (or `--cdrom [PATH],bus=ahci`) an ATAPI CD/DVD drive on the
 * next port of the VM's one AHCI controller (ahci.h, at 00:1f.2), which the drives' finish
 * creates after every spec, with an entry of its own (the last: it goes before the images
 * it borrows are closed). The controller's state holds every port's; a CD/DVD drive also
 * saves its medium (as the virtio-scsi drive does, struct scsi_cd_state), which the control
 * socket's `media` command changes. */
#include "devices/ahci.h"
#include "devices/ata_drive.h"
#include "devices/virtio/kind.h"
#include "devices/virtio/scsi.h"
#include "util/log.h"
#include "vmm/vm.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct device_kind ahci_kind, ahci_disk_kind, ahci_cd_kind;

static int drive_parse(const char *spec, void **opts)
{
	return ata_drive_parse(spec, "AHCI", opts);
}

static unsigned drives(const struct vdevs *v)
{
	unsigned n = 0;

	for (unsigned i = 0; i < v->n; i++)
		if (v->e[i].kind == &ahci_disk_kind || v->e[i].kind == &ahci_cd_kind)
			n++;
	return n;
}

static int drive_create(struct vdevs *v, struct device_entry *e, const void *opts, unsigned idx)
{
	if (drives(v) > AHCI_PORTS) { /* e is one of them */
		vsrv_log("disk%u: more than %d AHCI disks and drives", idx, AHCI_PORTS);
		return -ENOSPC;
	}
	return ata_drive_create(v, e, opts, idx, e->kind == &ahci_cd_kind, "ahci");
}

/* A CD/DVD drive's I/O thread is the controller's. */
static int cd_quiesce(void *ctx)
{
	ahci_quiesce(ctx);
	return 0;
}

static void cd_resume(void *ctx)
{
	ahci_resume(ctx);
}

/* The controller, with every drive in table order on ports 0, 1, ... */
static int drives_finish(struct vdevs *v)
{
	struct ahci_irq_host irq = { v->host.vm, v->host.irqfd, v->host.msi_route };
	struct device_entry *ce;
	struct pci_host *h;
	struct ahci *a;
	unsigned port = 0;
	int ret;

	if (!drives(v))
		return 0;
	ret = devices_pci_host(v, &h);
	if (ret)
		return ret;
	ret = ahci_create(h, v->host.mem, irq.irqfd ? &irq : NULL, &a);
	if (ret)
		return ret;
	for (unsigned i = 0; i < v->n; i++) {
		struct device_entry *e = &v->e[i];
		struct ata_drive_priv *d = e->priv;

		if (e->kind != &ahci_disk_kind && e->kind != &ahci_cd_kind)
			continue;
		ret = ahci_attach(a, d->is_cd ? AHCI_CD : AHCI_DISK, e->disk, d->serial);
		if (ret)
			goto err;
		snprintf(e->name, sizeof(e->name), "ahci port %u", port);
		e->dstats = &a->port[port].st;
		if (d->is_cd)
			d->cd = (struct cd_drive){ .lun = &a->port[port].lun,
						   .mmc = &a->port[port].mmc, .path = d->path,
						   .also = &a->port[port].disk,
						   .quiesce = cd_quiesce, .resume = cd_resume,
						   .ctx = a };
		port++;
	}
	ce = devices_entry_new(v);
	ret = -ENOSPC;
	if (!ce)
		goto err;
	ce->kind = &ahci_kind;
	ce->priv = a;
	snprintf(ce->name, sizeof(ce->name), "ahci");
	return ahci_start(a);
err:
	for (unsigned i = 0; i < v->n; i++)
		if (v->e[i].kind == &ahci_disk_kind || v->e[i].kind == &ahci_cd_kind)
			v->e[i].dstats = NULL;
	ahci_destroy(a);
	return ret;
}

static void ctrl_destroy(struct vdevs *v, struct device_entry *e)
{
	(void)v;
	ahci_destroy(e->priv);
	e->priv = NULL;
}

static int ctrl_save(struct device_entry *e, void *st)
{
	ahci_save(e->priv, st);
	return 0;
}

static int ctrl_restore(struct device_entry *e, const void *st)
{
	return ahci_restore(e->priv, st);
}

static int ctrl_state_check(struct device_entry *e, const void *st)
{
	return ahci_state_check(e->priv, st);
}

static void ctrl_quiesce(struct device_entry *e, bool on)
{
	if (on)
		ahci_quiesce(e->priv);
	else
		ahci_resume(e->priv);
}

/* A CD/DVD drive's medium: changed through the control socket (vm_devices_media), saved
 * as the virtio-scsi drive's is (struct scsi_cd_state; the tray, lock and event are also in
 * the controller's port state, saved at the same point), by the same code (cd_drive_*,
 * scsi_cd.c) on d->cd. */

_Static_assert(sizeof(struct scsi_cd_state) <= VDEV_STATE_MAX, "fits a state entry");
_Static_assert(sizeof(struct ahci_state) <= VDEV_STATE_MAX, "fits a state entry");

/* The controller: added by the drives' finish. */
const struct device_kind ahci_kind = {
	.name = "AHCI controller",
	.id = 10,
	.bus = DEVICE_BUS_NONE,
	.destroy = ctrl_destroy,
	.state_size = sizeof(struct ahci_state),
	.save = ctrl_save,
	.restore = ctrl_restore,
	.state_check = ctrl_state_check,
	.quiesce = ctrl_quiesce,
};

/* A SATA disk on the controller: saved with it. */
const struct device_kind ahci_disk_kind = {
	.name = "SATA disk",
	.id = 11,
	.option = "disk",
	.words = (const char *const[]){ "ahci", "sata", NULL },
	.usage = "PATH,bus=ahci",
	.bus = DEVICE_BUS_NONE,
	.parse = drive_parse,
	.check = devices_check_disk,
	.opts_free = devices_free_disk_opts,
	.create = drive_create,
	.finish = drives_finish,
	.destroy = ata_drive_destroy,
};

/* An ATAPI CD/DVD drive on the controller: saved with it. */
const struct device_kind ahci_cd_kind = {
	.name = "ATAPI CD/DVD drive",
	.id = 12,
	.option = "disk",
	.words = (const char *const[]){ "ahci-cdrom", "sata-cdrom", NULL },
	.usage = "[PATH],media=cdrom,bus=ahci",
	.bus = DEVICE_BUS_NONE,
	.parse = drive_parse,
	.check = cd_opts_check,
	.opts_free = devices_free_disk_opts,
	.create = drive_create,
	.destroy = ata_drive_destroy,
	.state_size = sizeof(struct scsi_cd_state),
	.save = cd_drive_save,
	.restore = cd_drive_restore,
	.state_check = ata_drive_cd_state_check,
	.media = cd_drive_media,
	.media_info = cd_drive_media_info,
};
