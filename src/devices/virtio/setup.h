/* Internal to the device hook (setup*.c): the list of devices built for one VM. */
#ifndef VSRV_DEVICES_VIRTIO_SETUP_H
#define VSRV_DEVICES_VIRTIO_SETUP_H

#include "devices/pci.h"
#include "devices/virtio/options.h"
#include "devices/virtio/virtio.h"
#include "disk/disk.h"

#define VDEVS_MAX 64

enum vdev_kind { VDEV_NONE, VDEV_BLK, VDEV_RNG, VDEV_CONSOLE, VDEV_NET, VDEV_SCSI_DISK,
		 VDEV_SCSI_CTRL };

struct vdev_entry {
	enum vdev_kind kind;
	char name[32];
	struct virtio_dev *dev;       /* the device, when this entry has its own */
	struct disk *disk;            /* owned */
	struct virtio_mmio *mmio;
	struct virtio_pci *pci;
	uint32_t gsi;
	bool gsi_allocated;
	/* what vm_devices_*_stats report: disks (blk and SCSI) and NICs */
	char label[16];                    /* "disk<i>" / "net<i>": the --disk/--net position */
	const char *bus_or_backend;        /* "virtio-blk", "scsi" / "tap", "bridge", "user" */
	char ifname[16];                   /* a NIC's host interface (TAP), or "" */
	const struct vdisk_stats *dstats;  /* owned by the device */
	const struct vnet_stats *nstats;
	union {
		struct virtio_blk *blk;
		struct virtio_rng *rng;
		struct virtio_console *console;
		struct virtio_net *net;
	};
};

struct vm;
struct virtio_scsi;

struct vdevs {
	struct vm *vm;
	struct virtio_host host;
	struct pci_host *pci;
	unsigned nr_mmio;
	unsigned n;
	struct vdev_entry e[VDEVS_MAX];
	/* the one virtio-scsi controller, created on the first bus=scsi disk */
	struct virtio_scsi *scsi;
	struct vdev_entry *scsi_entry;
	enum vopt_transport scsi_transport;
	unsigned scsi_targets;
};

/* Put e->dev on its transport (setup.c). */
int setup_attach(struct vdevs *v, struct vdev_entry *e, enum vopt_transport t,
		 uint32_t class_code);

/* Provided by the device files (setup_more.c). Each returns 0 or -errno after logging. */
int setup_scsi_disk(struct vdevs *v, struct vdev_entry *e, const struct vopt_disk *o,
		    unsigned idx);
int setup_scsi_finish(struct vdevs *v);
void setup_scsi_destroy(struct vdevs *v);
int setup_console(struct vdevs *v, struct vdev_entry *e, const char *socket, unsigned idx);
int setup_net(struct vdevs *v, struct vdev_entry *e, const struct vopt_net *o, unsigned idx);
void setup_destroy_other(struct vdevs *v, struct vdev_entry *e);

#endif
