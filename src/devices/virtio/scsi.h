/* virtio-scsi (device id 8): one controller, up to 16 targets with up to SCSI_MAX_LUNS
 * LUNs each, commands emulated by scsi_emu.c on the device's I/O thread. */
#ifndef VSRV_DEVICES_VIRTIO_SCSI_H
#define VSRV_DEVICES_VIRTIO_SCSI_H

#include "devices/virtio/scsi_emu.h"
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
/* Save s (quiesced around the copy). Returns 0 or -errno (the copy is made anyway). */
int virtio_scsi_save(struct virtio_scsi *s, struct virtio_scsi_state *st);
/* Load *st into s (same disks attached at the same target:lun, before or after
 * virtio_scsi_start). Returns 0, or -EINVAL with s unchanged. */
int virtio_scsi_restore(struct virtio_scsi *s, const struct virtio_scsi_state *st);

#endif
