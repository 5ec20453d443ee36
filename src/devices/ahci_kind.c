/* The AHCI device kinds (kind.h): `--disk PATH,bus=ahci` puts a SATA disk, `--disk
 * [PATH],media=cdrom,bus=ahci` (or `--cdrom [PATH],bus=ahci`) an ATAPI CD/DVD drive on the
 * next port of the VM's one AHCI controller (ahci.h, at 00:1f.2), which the drives' finish
 * creates after every spec, with an entry of its own (the last: it goes before the images
 * it borrows are closed). The controller's state holds every port's; a CD/DVD drive also
 * saves its medium (as the virtio-scsi drive does, struct scsi_cd_state), which the control
 * socket's `media` command changes. */
#include "devices/ahci.h"
#include "devices/virtio/kind.h"
#include "devices/virtio/scsi.h"
#include "util/log.h"
#include "vmm/vm.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A drive's entry (e->priv). */
struct ahci_drive_priv {
	enum ahci_drive drive;
	char serial[21];
	struct ahci *a;                /* the controller (from its finish on) */
	unsigned port;
	char path[VSCSI_CD_PATH_MAX];  /* a CD/DVD drive's medium ("" without) */
};

extern const struct device_kind ahci_kind, ahci_disk_kind, ahci_cd_kind;

static int drive_parse(const char *spec, void **opts)
{
	const struct vopt_disk *o;
	int ret = devices_parse_disk(spec, opts);

	if (ret)
		return ret;
	o = *opts;
	if (o->transport != VOPT_MMIO || o->queues) {
		vsrv_log("--disk %s: transport= and queues= are virtio's, not AHCI's", spec);
		devices_free_disk_opts(*opts);
		return -EINVAL;
	}
	return 0;
}

static int cd_check(const void *opts)
{
	const struct vopt_disk *o = opts;
	char err[VSCSI_CD_PATH_MAX + 128];
	int ret;

	if (!*o->path)
		return 0; /* an empty drive */
	ret = cd_image_check(o->path, err, sizeof(err));
	if (ret)
		vsrv_log("cdrom %s", err);
	return ret;
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
	const struct vopt_disk *o = opts;
	bool cd = e->kind == &ahci_cd_kind;
	struct ahci_drive_priv *d;
	const char *base;
	int ret;

	if (drives(v) > AHCI_PORTS) { /* e is one of them */
		vsrv_log("disk%u: more than %d AHCI disks and drives", idx, AHCI_PORTS);
		return -ENOSPC;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	e->priv = d;
	d->drive = cd ? AHCI_CD : AHCI_DISK;
	e->bus_or_backend = "ahci";
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

static void drive_destroy(struct vdevs *v, struct device_entry *e)
{
	(void)v;
	free(e->priv);
	e->priv = NULL;
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
		struct ahci_drive_priv *d = e->priv;

		if (e->kind != &ahci_disk_kind && e->kind != &ahci_cd_kind)
			continue;
		ret = ahci_attach(a, d->drive, e->disk, d->serial);
		if (ret)
			goto err;
		snprintf(e->name, sizeof(e->name), "ahci port %u", port);
		e->dstats = &a->port[port].st;
		d->a = a;
		d->port = port;
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

static int cd_state_check_entry(struct device_entry *e, const void *st)
{
	(void)e;
	return cd_state_check(st);
}

static void ctrl_quiesce(struct device_entry *e, bool on)
{
	if (on)
		ahci_quiesce(e->priv);
	else
		ahci_resume(e->priv);
}

/* --- a CD/DVD drive's medium: changed through the control socket (vm_devices_media), saved
 * as the virtio-scsi drive's is (struct scsi_cd_state; the tray, lock and event are also in
 * the controller's port state, saved at the same point) --- */

/* Put medium m (NULL: none; path its image) in e's place and the port's, the controller
 * quiesced; returns the medium it held, for the caller to close. */
static struct disk *swap_medium(struct device_entry *e, struct disk *m, const char *path)
{
	struct ahci_drive_priv *d = e->priv;
	struct disk *old = e->disk;

	e->disk = m;
	d->a->port[d->port].disk = m;
	snprintf(d->path, sizeof(d->path), "%s", m ? path : "");
	return old;
}

static int cd_media(struct vdevs *v, struct device_entry *e, const char *path, bool force,
		    char *err, size_t errlen)
{
	struct ahci_drive_priv *d = e->priv;
	struct ahci_port *p = &d->a->port[d->port];
	struct disk *m = NULL, *old = NULL;
	int ret;

	(void)v;
	if (path && strpbrk(path, ",\t\n")) { /* it goes into the --disk spec of the next boot */
		snprintf(err, errlen, "%s: a path with a comma, tab or newline cannot be inserted",
			 path);
		return -EINVAL;
	}
	if (path && (ret = cd_medium_open(path, NULL, 0, &m, err, errlen)))
		return ret;
	ahci_quiesce(d->a);
	ret = 0;
	/* a medium in a drive the guest locked stays; an empty drive takes one all the same */
	if (!path || e->disk)
		ret = scsi_mmc_unload(&p->lun, force, &old);
	if (!ret || (path && !e->disk)) {
		ret = 0;
		if (m)
			scsi_mmc_load(&p->lun, m);
		old = swap_medium(e, m, path);
	}
	ahci_resume(d->a);
	if (ret == -EBUSY) {
		disk_close(m);
		snprintf(err, errlen, "%s: the guest has locked the drive (it was asked to eject "
			 "the medium; \"force\":true takes it out all the same)", e->label);
		return ret;
	}
	disk_close(old);
	vsrv_log("%s: %s%s", e->label, path ? "inserted " : "ejected the medium",
		 path ? path : force ? " (forced)" : "");
	return 0;
}

static void cd_media_info(struct device_entry *e, struct vm_media_info *out)
{
	struct ahci_drive_priv *d = e->priv;
	struct ahci_port *p = &d->a->port[d->port];

	out->path = e->disk ? d->path : NULL;
	out->bytes = e->disk ? e->disk->size : 0;
	out->tray_open = p->mmc.tray_open;
	out->locked = p->mmc.prevent;
}

static int cd_save(struct device_entry *e, void *state)
{
	struct ahci_drive_priv *d = e->priv;
	struct ahci_port *p = &d->a->port[d->port];
	struct scsi_cd_state *st = state;

	ahci_quiesce(d->a); /* the drive's state is the I/O thread's */
	memset(st, 0, sizeof(*st));
	st->medium = e->disk != NULL;
	st->tray_open = p->mmc.tray_open;
	st->prevent = p->mmc.prevent;
	st->event = p->mmc.event;
	if (e->disk) {
		st->bytes = e->disk->size;
		memcpy(st->path, d->path, sizeof(st->path));
	}
	ahci_resume(d->a);
	return 0;
}

static int cd_restore(struct device_entry *e, const void *state)
{
	const struct scsi_cd_state *st = state;
	struct ahci_drive_priv *d = e->priv;
	struct ahci_port *p = &d->a->port[d->port];
	struct disk *m = e->disk, *old = NULL;
	char err[VSCSI_CD_PATH_MAX + 128];
	int ret;

	if (cd_state_check(st))
		return -EINVAL;
	/* the medium the guest had: the one in the drive already, or its image opened again */
	if (!st->medium) {
		m = NULL;
	} else if (!e->disk || strcmp(d->path, st->path)) {
		ret = cd_medium_open(st->path, NULL, 0, &m, err, sizeof(err));
		if (ret) {
			vsrv_log("%s: the saved VM's CD/DVD: %s", e->label, err);
			return ret;
		}
	}
	if (m && m->size != st->bytes) {
		vsrv_log("%s: the saved VM's CD/DVD %s had %" PRIu64 " bytes, it has %" PRIu64
			 " now", e->label, st->path, st->bytes, m->size);
		if (m != e->disk)
			disk_close(m);
		return -EINVAL;
	}
	ahci_quiesce(d->a);
	if (m != e->disk)
		old = swap_medium(e, m, st->path);
	p->lun.disk = m;
	p->lun.nblocks = m ? scsi_mmc_blocks(m->size) * (MMC_BLOCK / 512) : 0;
	p->mmc.tray_open = st->tray_open;
	p->mmc.prevent = st->prevent;
	p->mmc.event = st->event;
	ahci_resume(d->a);
	disk_close(old);
	return 0;
}

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
	.destroy = drive_destroy,
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
	.check = cd_check,
	.opts_free = devices_free_disk_opts,
	.create = drive_create,
	.destroy = drive_destroy,
	.state_size = sizeof(struct scsi_cd_state),
	.save = cd_save,
	.restore = cd_restore,
	.state_check = cd_state_check_entry,
	.media = cd_media,
	.media_info = cd_media_info,
};
