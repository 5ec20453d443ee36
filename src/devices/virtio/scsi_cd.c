/* The SCSI CD/DVD drive kind (kind.h): `--cdrom [FILE]` or `--disk [FILE],media=cdrom`, a
 * read-only drive (the MMC command set of scsi_mmc.c) as one more LUN of the VM's virtio-scsi
 * controller (scsi.c). Its medium is e->disk (opened read-only with a shared lock, so other
 * VMs and readers may use the same image), or none; the control socket's `media` command
 * ejects and inserts (vm_devices_media). Its saved state is the drive's: the medium's path
 * and size, the tray, the guest's lock and the pending media event; the unit attention is
 * the controller's (with every LUN's). */
#include "devices/virtio/kind.h"
#include "devices/virtio/scsi.h"
#include "disk/disk.h"
#include "util/log.h"
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CD_PATH_MAX VSCSI_CD_PATH_MAX

struct scsi_cd {
	struct cd_drive drive;     /* first: the shared CD/DVD code's view (scsi.h) */
	struct scsi_mmc mmc;
	struct virtio_scsi *ctrl;  /* borrowed: the VM's controller */
	struct scsi_lun *lun;      /* this drive's LUN, in ctrl */
	char path[CD_PATH_MAX];    /* the medium's image ("" without) */
};

extern const struct device_kind scsi_cd_kind;

static int cd_parse(const char *spec, void **opts)
{
	const struct vopt_disk *o;
	int ret = devices_parse_disk(spec, opts);

	if (ret)
		return ret;
	o = *opts;
	if (o->bus && strcmp(o->bus, "scsi") && strcmp(o->bus, "virtio-scsi")) {
		vsrv_log("--disk %s: a CD/DVD drive is on virtio-scsi (bus=scsi, or no bus=)", spec);
		devices_free_disk_opts(*opts);
		return -EINVAL;
	}
	return 0;
}

int cd_image_check(const char *path, char *err, size_t n)
{
	struct stat st;
	int fd, ret = 0;

	if (strlen(path) >= CD_PATH_MAX) {
		snprintf(err, n, "%.64s...: a path of %zu bytes (at most %d)", path, strlen(path),
			 CD_PATH_MAX - 1);
		return -ENAMETOOLONG;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, n, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(err, n, "%s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		ret = -EINVAL;
		snprintf(err, n, "%s: not a regular file or block device", path);
	} else if (S_ISREG(st.st_mode) && st.st_size < MMC_BLOCK) {
		ret = -EINVAL;
		snprintf(err, n, "%s: %lld bytes: a CD/DVD image has at least one 2048-byte block",
			 path, (long long)st.st_size);
	}
	close(fd);
	return ret;
}

int cd_opts_check(const void *opts)
{
	const struct vopt_disk *o = opts;
	char err[CD_PATH_MAX + 128];
	int ret;

	if (!*o->path)
		return 0; /* an empty drive */
	ret = cd_image_check(o->path, err, sizeof(err));
	if (ret)
		vsrv_log("cdrom %s", err);
	return ret;
}

int cd_medium_open(const char *path, const char *format, unsigned flags, struct disk **out,
		   char *err, size_t n)
{
	struct disk *d;
	int ret = cd_image_check(path, err, n);

	if (ret)
		return ret;
	ret = disk_open(path, format, DISK_RDONLY | flags, &d);
	if (ret) {
		snprintf(err, n, "%s: %s", path, ret == -EBUSY ?
			 "another process writes to the image" : strerror(-ret));
		return ret;
	}
	if (d->size < MMC_BLOCK) {
		snprintf(err, n, "%s: less than one 2048-byte block", path);
		disk_close(d);
		return -EINVAL;
	}
	if (d->size % MMC_BLOCK)
		vsrv_log("cdrom %s: %" PRIu64 " bytes, not a multiple of 2048: the last %" PRIu64
			 " bytes are not on the disc", path, d->size, d->size % MMC_BLOCK);
	*out = d;
	return 0;
}

/* The drive's I/O thread is its controller's. */
static int cd_quiesce(void *ctx)
{
	return virtio_dev_quiesce(ctx);
}

static void cd_resume(void *ctx)
{
	virtio_dev_resume(ctx);
}

static int cd_create(struct vdevs *v, struct device_entry *e, const void *opts, unsigned idx)
{
	const struct vopt_disk *o = opts;
	struct scsi_cd *cd = calloc(1, sizeof(*cd));
	char err[CD_PATH_MAX + 128], serial[24];
	unsigned flags = v->vm->cfg->incoming ? DISK_NOLOCK : 0;
	int ret;

	if (!cd)
		return -ENOMEM;
	e->priv = cd;
	snprintf(e->label, sizeof(e->label), "disk%u", idx);
	e->bus_or_backend = "scsi";
	if (*o->path) {
		ret = cd_medium_open(o->path, o->format, flags, &e->disk, err, sizeof(err));
		if (ret) {
			vsrv_log("%s: cdrom %s", e->label, err);
			return ret;
		}
		snprintf(cd->path, sizeof(cd->path), "%s", o->path);
	}
	snprintf(serial, sizeof(serial), "%s", o->serial ? o->serial : e->label);
	ret = virtio_scsi_vm_add(v, e, o->transport, e->disk, &cd->mmc, serial, &cd->ctrl,
				 &cd->lun);
	if (ret)
		return ret;
	cd->drive = (struct cd_drive){ .lun = cd->lun, .mmc = &cd->mmc, .path = cd->path,
				       .quiesce = cd_quiesce, .resume = cd_resume,
				       .ctx = virtio_scsi_dev(cd->ctrl) };
	return 0;
}

static void cd_destroy(struct vdevs *v, struct device_entry *e)
{
	virtio_scsi_vm_release(v);
	free(e->priv);
	e->priv = NULL;
}

/* Put medium d (NULL: none; path its image) and the drive state in place, the drive
 * quiesced; returns the medium it held, for the caller to close. */
static struct disk *swap_medium(const struct cd_drive *c, struct device_entry *e,
				struct disk *d, const char *path)
{
	struct disk *old = e->disk;

	e->disk = d;
	if (c->also)
		*c->also = d;
	snprintf(c->path, VSCSI_CD_PATH_MAX, "%s", d ? path : "");
	return old;
}

int cd_drive_media(struct vdevs *v, struct device_entry *e, const char *path, bool force,
		   char *err, size_t errlen)
{
	const struct cd_drive *c = e->priv;
	struct disk *d = NULL, *old = NULL;
	int ret;

	(void)v;
	if (path && strpbrk(path, ",\t\n")) { /* it goes into the --disk spec of the next boot */
		snprintf(err, errlen, "%s: a path with a comma, tab or newline cannot be inserted",
			 path);
		return -EINVAL;
	}
	if (path && (ret = cd_medium_open(path, NULL, 0, &d, err, errlen)))
		return ret;
	ret = c->quiesce(c->ctx);
	if (ret == -EDEADLK) {
		disk_close(d);
		snprintf(err, errlen, "%s: the controller cannot be stopped", e->label);
		return ret;
	}
	ret = 0;
	/* a medium in a drive the guest locked stays; an empty drive takes one all the same */
	if (!path || e->disk)
		ret = scsi_mmc_unload(c->lun, force, &old);
	if (!ret || (path && !e->disk)) {
		ret = 0;
		if (d)
			scsi_mmc_load(c->lun, d);
		old = swap_medium(c, e, d, path);
	}
	c->resume(c->ctx);
	if (ret == -EBUSY) {
		disk_close(d);
		snprintf(err, errlen, "%s: the guest has locked the drive (it was asked to eject "
			 "the medium; \"force\":true takes it out all the same)", e->label);
		return ret;
	}
	disk_close(old);
	vsrv_log("%s: %s%s", e->label, path ? "inserted " : "ejected the medium",
		 path ? path : force ? " (forced)" : "");
	return 0;
}

void cd_drive_media_info(struct device_entry *e, struct vm_media_info *out)
{
	const struct cd_drive *c = e->priv;

	out->path = e->disk ? c->path : NULL;
	out->bytes = e->disk ? e->disk->size : 0;
	out->tray_open = c->mmc->tray_open;
	out->locked = c->mmc->prevent;
}

int cd_drive_save(struct device_entry *e, void *state)
{
	const struct cd_drive *c = e->priv;
	struct scsi_cd_state *st = state;
	int ret = c->quiesce(c->ctx); /* the drive's state is the I/O thread's */

	if (ret == -EDEADLK)
		return ret;
	memset(st, 0, sizeof(*st));
	st->medium = e->disk != NULL;
	st->tray_open = c->mmc->tray_open;
	st->prevent = c->mmc->prevent;
	st->event = c->mmc->event;
	if (e->disk) {
		st->bytes = e->disk->size;
		memcpy(st->path, c->path, sizeof(st->path));
	}
	c->resume(c->ctx);
	return ret;
}

int cd_state_check(const struct scsi_cd_state *st)
{
	size_t len = strnlen(st->path, sizeof(st->path));

	if (st->medium > 1 || st->tray_open > 1 || st->prevent > 1 ||
	    st->event > MMC_EV_MEDIA_REMOVAL || st->reserved || len == sizeof(st->path) ||
	    (st->medium ? !len || st->bytes < MMC_BLOCK : len || st->bytes))
		return -EINVAL;
	for (size_t i = len; i < sizeof(st->path); i++)
		if (st->path[i])
			return -EINVAL;
	return 0;
}

int cd_drive_restore(struct device_entry *e, const void *state)
{
	const struct scsi_cd_state *st = state;
	const struct cd_drive *c = e->priv;
	struct disk *d = e->disk, *old = NULL;
	char err[CD_PATH_MAX + 128];
	int ret;

	if (cd_state_check(st))
		return -EINVAL;
	/* the medium the guest had: the one in the drive already, or its image opened again */
	if (!st->medium) {
		d = NULL;
	} else if (!e->disk || strcmp(c->path, st->path)) {
		ret = cd_medium_open(st->path, NULL, 0, &d, err, sizeof(err));
		if (ret) {
			vsrv_log("%s: the saved VM's CD/DVD: %s", e->label, err);
			return ret;
		}
	}
	if (d && d->size != st->bytes) {
		vsrv_log("%s: the saved VM's CD/DVD %s had %" PRIu64 " bytes, it has %" PRIu64
			 " now", e->label, st->path, st->bytes, d->size);
		if (d != e->disk)
			disk_close(d);
		return -EINVAL;
	}
	ret = c->quiesce(c->ctx);
	if (ret == -EDEADLK) {
		if (d != e->disk)
			disk_close(d);
		return ret;
	}
	if (d != e->disk)
		old = swap_medium(c, e, d, st->path);
	c->lun->disk = d;
	c->lun->nblocks = d ? scsi_mmc_blocks(d->size) * (MMC_BLOCK / 512) : 0;
	c->mmc->tray_open = st->tray_open;
	c->mmc->prevent = st->prevent;
	c->mmc->event = st->event;
	c->resume(c->ctx);
	disk_close(old);
	return 0;
}

_Static_assert(sizeof(struct scsi_cd_state) <= VDEV_STATE_MAX, "fits a state entry");

/* A drive on the controller: its medium saved on its own. */
const struct device_kind scsi_cd_kind = {
	.name = "SCSI CD/DVD drive",
	.id = 7,
	.option = "disk",
	.words = (const char *const[]){ "cdrom", "scsi-cdrom", "virtio-scsi-cdrom", NULL },
	.usage = "[PATH],media=cdrom",
	.bus = DEVICE_BUS_NONE,
	.parse = cd_parse,
	.check = cd_opts_check,
	.opts_free = devices_free_disk_opts,
	.create = cd_create,
	.destroy = cd_destroy,
	.state_size = sizeof(struct scsi_cd_state),
	.save = cd_drive_save,
	.restore = cd_drive_restore,
	.media = cd_drive_media,
	.media_info = cd_drive_media_info,
};
