/* The IDE device kinds (kind.h): `--disk PATH,bus=ide` puts an ATA disk, `--disk
 * [PATH],media=cdrom,bus=ide` (or `--cdrom [PATH],bus=ide`) an ATAPI CD/DVD drive on the VM's
 * one PIIX3 IDE controller (ide.h), in the order given: primary master, primary slave,
 * secondary master, secondary slave. The drives' finish creates the controller after every
 * spec, with an entry of its own (the last: it goes before the images it borrows are
 * closed). The controller's state holds every drive's; a CD/DVD drive also saves its medium
 * (struct scsi_cd_state, the code shared with virtio-scsi and AHCI: cd_drive_*), which the
 * control socket's `media` command changes. */
#include "devices/ata_drive.h"
#include "devices/ide.h"
#include "devices/virtio/kind.h"
#include "devices/virtio/scsi.h"
#include "util/log.h"
#include "vmm/vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct device_kind ide_kind, ide_disk_kind, ide_cd_kind;

static bool is_drive(const struct device_entry *e)
{
	return e->kind == &ide_disk_kind || e->kind == &ide_cd_kind;
}

static int drive_parse(const char *spec, void **opts)
{
	return ata_drive_parse(spec, "IDE", opts);
}

static unsigned drives(const struct vdevs *v)
{
	unsigned n = 0;

	for (unsigned i = 0; i < v->n; i++)
		n += is_drive(&v->e[i]);
	return n;
}

static int drive_create(struct vdevs *v, struct device_entry *e, const void *opts, unsigned idx)
{
	if (drives(v) > IDE_UNITS) { /* e is one of them */
		vsrv_log("disk%u: more than %d IDE disks and drives (2 channels, master and slave)",
			 idx, IDE_UNITS);
		return -ENOSPC;
	}
	return ata_drive_create(v, e, opts, idx, e->kind == &ide_cd_kind, "ide");
}

/* A CD/DVD drive's I/O thread is the controller's. */
static int cd_quiesce(void *ctx)
{
	ide_quiesce(ctx);
	return 0;
}

static void cd_resume(void *ctx)
{
	ide_resume(ctx);
}

/* The controller, with every drive in table order on units 0, 1, 2, 3. */
static int drives_finish(struct vdevs *v)
{
	/* IRQ 14 and 15 through the VM's device host (none in a VM built without KVM) */
	struct ide_irq_host irq = { v->vm, v->vm->vm_fd >= 0 ? v->vm->host.irq_line : NULL };
	struct device_entry *ce;
	struct pci_host *h;
	struct ide *d;
	unsigned unit = 0;
	int ret;

	if (!drives(v))
		return 0;
	ret = devices_pci_host(v, &h);
	if (ret)
		return ret;
	ret = ide_create(h, v->host.pio, v->host.mem, irq.irq_line ? &irq : NULL, &d);
	if (ret)
		return ret;
	for (unsigned i = 0; i < v->n; i++) {
		struct device_entry *e = &v->e[i];
		struct ata_drive_priv *p = e->priv;
		static const char *const where[IDE_UNITS] = {
			"primary master", "primary slave", "secondary master", "secondary slave"
		};

		if (!is_drive(e))
			continue;
		ret = ide_attach(d, unit, p->is_cd ? IDE_CD : IDE_DISK, e->disk, p->serial);
		if (ret)
			goto err;
		snprintf(e->name, sizeof(e->name), "ide %s", where[unit]);
		e->dstats = &d->unit[unit].st;
		if (p->is_cd)
			p->cd = (struct cd_drive){ .lun = &d->unit[unit].lun,
						   .mmc = &d->unit[unit].mmc, .path = p->path,
						   .also = &d->unit[unit].disk,
						   .quiesce = cd_quiesce, .resume = cd_resume,
						   .ctx = d };
		unit++;
	}
	ce = devices_entry_new(v);
	ret = -ENOSPC;
	if (!ce)
		goto err;
	ce->kind = &ide_kind;
	ce->priv = d;
	snprintf(ce->name, sizeof(ce->name), "ide");
	return ide_start(d);
err:
	for (unsigned i = 0; i < v->n; i++)
		if (is_drive(&v->e[i]))
			v->e[i].dstats = NULL;
	ide_destroy(d);
	return ret;
}

static void ctrl_destroy(struct vdevs *v, struct device_entry *e)
{
	(void)v;
	ide_destroy(e->priv);
	e->priv = NULL;
}

static int ctrl_save(struct device_entry *e, void *st)
{
	ide_save(e->priv, st);
	return 0;
}

static int ctrl_restore(struct device_entry *e, const void *st)
{
	return ide_restore(e->priv, st);
}

static int ctrl_state_check(struct device_entry *e, const void *st)
{
	return ide_state_check(e->priv, st);
}

static void ctrl_quiesce(struct device_entry *e, bool on)
{
	if (on)
		ide_quiesce(e->priv);
	else
		ide_resume(e->priv);
}

_Static_assert(sizeof(struct ide_state) <= VDEV_STATE_MAX, "fits a state entry");

/* The controller: added by the drives' finish. */
const struct device_kind ide_kind = {
	.name = "IDE controller",
	.id = 16,
	.bus = DEVICE_BUS_NONE,
	.destroy = ctrl_destroy,
	.state_size = sizeof(struct ide_state),
	.save = ctrl_save,
	.restore = ctrl_restore,
	.state_check = ctrl_state_check,
	.quiesce = ctrl_quiesce,
};

/* An ATAPI CD/DVD drive on the controller: its medium saved here, the rest with it. */
const struct device_kind ide_cd_kind = {
	.name = "IDE CD/DVD drive",
	.id = 17,
	.option = "disk",
	.words = (const char *const[]){ "ide-cdrom", NULL },
	.usage = "[PATH],media=cdrom,bus=ide",
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

/* An ATA disk on the controller: saved with it. */
const struct device_kind ide_disk_kind = {
	.name = "IDE disk",
	.id = 18,
	.option = "disk",
	.words = (const char *const[]){ "ide", NULL },
	.usage = "PATH,bus=ide",
	.bus = DEVICE_BUS_NONE,
	.parse = drive_parse,
	.check = devices_check_disk,
	.opts_free = devices_free_disk_opts,
	.create = drive_create,
	.finish = drives_finish,
	.destroy = ata_drive_destroy,
};
