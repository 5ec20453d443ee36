/* virtio-scsi (device id 8): one controller, up to 16 targets with up to SCSI_MAX_LUNS
 * LUNs each, commands emulated by scsi_emu.c on the device's I/O thread. */
#ifndef VSRV_DEVICES_VIRTIO_SCSI_H
#define VSRV_DEVICES_VIRTIO_SCSI_H

#include "devices/virtio/scsi_emu.h"
#include "devices/virtio/virtio.h"

#define VSCSI_MAX_TARGETS 16

struct virtio_scsi;

/* Create the controller with no disks. Returns 0 and *out, or -errno. */
int virtio_scsi_create(struct virtio_host *h, const char *name, struct virtio_scsi **out);
/* Attach disk (borrowed until virtio_scsi_destroy) as target:lun, before the guest runs.
 * Returns 0, -EINVAL (out of range) or -EEXIST. */
int virtio_scsi_attach(struct virtio_scsi *s, unsigned target, unsigned lun, struct disk *disk,
		       const char *serial);
/* Start serving (after the attachments). */
int virtio_scsi_start(struct virtio_scsi *s);
/* The counters of disk target:lun (read them with vdisk_stats_read), NULL when there is
 * no such disk; valid until virtio_scsi_destroy. */
const struct vdisk_stats *virtio_scsi_stats(const struct virtio_scsi *s, unsigned target,
					    unsigned lun);
struct virtio_dev *virtio_scsi_dev(struct virtio_scsi *s);
void virtio_scsi_destroy(struct virtio_scsi *s);

#endif
