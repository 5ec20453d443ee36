/* virtio-scsi (device id 8): one controller, up to 16 targets with up to SCSI_MAX_LUNS
 * LUNs each, commands emulated by scsi_emu.c on the device's I/O thread. */
#ifndef VSRV_DEVICES_VIRTIO_SCSI_H
#define VSRV_DEVICES_VIRTIO_SCSI_H

#include "devices/virtio/options.h"
#include "devices/virtio/scsi_emu.h"
#include "devices/virtio/scsi_mmc.h"
#include "devices/virtio/virtio.h"

#define VSCSI_MAX_TARGETS 16

struct virtio_scsi;

struct virtio_scsi_lun_state {
	uint8_t present;          /* a disk is attached: checked, not changed */
	uint8_t ua_asc, ua_ascq;  /* pending unit attention (asc 0: none), see scsi_lun */
	uint8_t pad;
	uint64_t nblocks;         /* checked: the disk the guest knew */
};

/* What virtio_scsi_save keeps: the device core (queues, features, status) and per LUN the
 * pending unit attention, the only sense the device holds between commands (other sense
 * data goes back with the failed command: autosense). Events: the device has no event
 * source (no hot-plug), so none is ever pending; the guest's event buffers stay in the
 * event queue's avail ring, which is saved with the queue. The config fields the guest may
 * write (sense_size, cdb_size) are fixed here and checked. The disks, counters and the
 * request buffers are not state. */
struct virtio_scsi_state {
	struct virtio_dev_state dev;
	struct virtio_scsi_lun_state lun[VSCSI_MAX_TARGETS][SCSI_MAX_LUNS];
	uint32_t sense_size, cdb_size;
};

/* What a CD/DVD drive on the controller saves (its own device-table entry, scsi_cd.c): the
 * medium (its image is opened again on restore, and must have the same size), the tray, the
 * guest's lock and the pending media event. Its unit attention is the controller's. */
#define VSCSI_CD_PATH_MAX 4096

/* An image fit for a CD/DVD drive (any transport's): readable, a regular file or block
 * device, at least one 2048-byte block, a path that fits the saved state. 0, or -errno with
 * a one-line reason naming the path in err. */
int cd_image_check(const char *path, char *err, size_t n);
/* Open the image at path as a drive's medium (checked as above; read-only, a shared lock,
 * flags added; format NULL: probed): 0 and *out, or -errno with the reason in err. */
int cd_medium_open(const char *path, const char *format, unsigned flags, struct disk **out,
		   char *err, size_t n);
struct scsi_cd_state;
/* A drive's saved medium state (struct scsi_cd_state, below) as a restore takes it: 0, or
 * -EINVAL (flags, event code, path and size consistent with the medium flag). */
int cd_state_check(const struct scsi_cd_state *st);
struct scsi_cd_state {
	uint8_t medium;            /* 1: an image is in the drive (path, bytes) */
	uint8_t tray_open, prevent;
	uint8_t event;             /* pending media event (enum mmc_media_event) */
	uint32_t reserved;
	uint64_t bytes;            /* the image's size */
	char path[VSCSI_CD_PATH_MAX]; /* NUL-terminated, then zeros */
};

/* A CD/DVD drive as the media, save and restore code shared by the virtio-scsi drive
 * (scsi_cd.c) and the AHCI and IDE ones (ata_drive.c) see it: the first member of the drive's
 * e->priv, filled in before the guest runs; everything borrowed from the device. quiesce
 * parks the drive's I/O thread (0, or -errno; -EDEADLK: it cannot be stopped, the drive is
 * not parked), resume undoes it. */
struct cd_drive {
	struct scsi_lun *lun;
	struct scsi_mmc *mmc;
	char *path;                /* VSCSI_CD_PATH_MAX bytes: the medium's image ("" without) */
	struct disk **also;        /* NULL, or one more place the device keeps its medium in */
	int (*quiesce)(void *ctx);
	void (*resume)(void *ctx);
	void *ctx;
};
struct vdevs;
struct device_entry;
struct vm_media_info;
/* A drive's --disk options (struct vopt_disk) as its kind's check takes them: 0 for an
 * empty drive or an image cd_image_check accepts, else -errno (logged). */
int cd_opts_check(const void *opts);
/* The kind hooks of a drive in entry e (e->priv begins with its struct cd_drive, e->disk is
 * its medium, e->label its name), as kind.h's media, media_info, save and restore describe
 * them; the medium's state goes in struct scsi_cd_state. */
int cd_drive_media(struct vdevs *v, struct device_entry *e, const char *path, bool force,
		   char *err, size_t errlen);
void cd_drive_media_info(struct device_entry *e, struct vm_media_info *out);
int cd_drive_save(struct device_entry *e, void *state);
int cd_drive_restore(struct device_entry *e, const void *state);

/* Create the controller with no disks. Returns 0 and *out, or -errno. */
int virtio_scsi_create(struct virtio_host *h, const char *name, struct virtio_scsi **out);
/* Attach disk (borrowed until virtio_scsi_destroy) as target:lun, before the guest runs.
 * Returns 0, -EINVAL (out of range) or -EEXIST. */
int virtio_scsi_attach(struct virtio_scsi *s, unsigned target, unsigned lun, struct disk *disk,
		       const char *serial);
/* Attach a CD/DVD drive (state mmc, borrowed) with medium (borrowed, NULL: empty) as
 * target:lun, before the guest runs. Returns 0, -EINVAL or -EEXIST. */
int virtio_scsi_attach_cd(struct virtio_scsi *s, unsigned target, unsigned lun,
			  struct scsi_mmc *mmc, struct disk *medium, const char *serial);
/* The LUN target:lun (NULL out of range), for media changes with the device quiesced. */
struct scsi_lun *virtio_scsi_lun(struct virtio_scsi *s, unsigned target, unsigned lun);
/* Start serving (after the attachments). */
int virtio_scsi_start(struct virtio_scsi *s);
/* The counters of disk target:lun (read them with vdisk_stats_read), NULL when there is
 * no such disk; valid until virtio_scsi_destroy. */
const struct vdisk_stats *virtio_scsi_stats(const struct virtio_scsi *s, unsigned target,
					    unsigned lun);
struct virtio_dev *virtio_scsi_dev(struct virtio_scsi *s);
void virtio_scsi_destroy(struct virtio_scsi *s);
/* Save s (quiesced around the copy). Returns 0 or -errno (the copy is made anyway). */
int virtio_scsi_save(struct virtio_scsi *s, struct virtio_scsi_state *st);
/* Load *st into s (same disks attached at the same target:lun, before or after
 * virtio_scsi_start). Returns 0, or -EINVAL with s unchanged. */
int virtio_scsi_restore(struct virtio_scsi *s, const struct virtio_scsi_state *st);

/* For the device kinds on the VM's one controller (scsi.c's disks, scsi_cd.c's drives):
 * attach disk, or the CD/DVD drive mmc with medium disk, as the next target:lun of the
 * controller, which is created on the first call on transport (its entry comes in the disk
 * kind's finish); names e and sets its counters. *ctrl and *lun (when not NULL) get the
 * controller and the LUN. 0 or -errno (logged). */
struct vdevs;
struct device_entry;
int virtio_scsi_vm_add(struct vdevs *v, struct device_entry *e, enum vopt_transport transport,
		      struct disk *disk, struct scsi_mmc *mmc, const char *serial,
		      struct virtio_scsi **ctrl, struct scsi_lun **lun);
/* In a kind's destroy: a controller that never got its entry (the VM's build failed) is
 * destroyed before the disks and drives it borrows. */
void virtio_scsi_vm_release(struct vdevs *v);

#endif
