/* The device kinds of this build (kind.h), one line each; a kind's descriptor lives in
 * the device's own file.
 *
 * Order: a --disk or --device spec goes to the first kind that claims its word; the
 * save file's layout signature (savestate_layout) hashes the state sizes of the first
 * format's kinds in this order. Add new kinds at the end, with the next free id. */
#include "devices/virtio/kind.h"

#define DEVICE_KINDS(X) \
	X(virtio_blk_kind) \
	X(virtio_rng_kind) \
	X(virtio_console_kind) \
	X(virtio_scsi_kind) \
	X(virtio_net_kind) \
	X(virtio_scsi_disk_kind) \
	X(scsi_cd_kind) \
	X(virtio_vport_kind) \
	X(e1000_kind) \
	X(ahci_kind) \
	X(ahci_disk_kind) \
	X(ahci_cd_kind) \
	X(virtio_input_kind) \
	X(bochs_display_kind) \
	X(virtio_balloon_kind) \
	X(ide_kind) \
	X(ide_cd_kind) \
	X(ide_disk_kind) \
	/* the next kind goes here, one line */

#define DECLARE(k) extern const struct device_kind k;
#define ENTRY(k) &k,
DEVICE_KINDS(DECLARE)

const struct device_kind *const device_kinds[] = { DEVICE_KINDS(ENTRY) NULL };
_Static_assert(sizeof(device_kinds) / sizeof(device_kinds[0]) <= VDEV_KINDS_MAX + 1,
	       "more kinds than struct vdevs has room for: raise VDEV_KINDS_MAX");
