/* The state of all the virtio devices of a VM built by the device level (devices.c), with
 * their transports and the PCI host bridge, in one struct: for snapshots and migration.
 * No file format here: the struct is plain data (no pointers), for the caller to write out.
 *
 * Order: save with the vCPUs stopped. vm_devices_quiesce first when the VM will not go on
 * (a migration source): its devices then take nothing more from the rings until
 * vm_devices_exit. Restore into a VM created from the same configuration (same --disk,
 * --net, --device options, so the same devices on the same transports, addresses and
 * disks), with the guest's memory copied in, before its vCPUs run. */
#ifndef VSRV_DEVICES_VIRTIO_DEVSTATE_H
#define VSRV_DEVICES_VIRTIO_DEVSTATE_H

#include "devices/pci.h"
#include "devices/virtio/kind.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/pci_transport.h"

struct vm;

struct vdev_entry_state {
	uint32_t kind;                 /* the entry's device_kind id: checked */
	uint32_t on_pci;               /* 1: virtio-pci, 0: virtio-mmio (or no transport) */
	union {
		uint8_t bytes[VDEV_STATE_MAX]; /* the kind's state (state_size bytes), then 0 */
		uint64_t align;
	} dev;
	union {
		struct virtio_mmio_state mmio;
		struct virtio_pci_state pci;
	} tr;
};

struct vm_devices_state {
	uint32_t n;                    /* entries of the device table */
	uint32_t has_pci;
	struct pci_host_state pci;
	struct vdev_entry_state e[VDEVS_MAX];
};

/* What a saved state must match: the device table's entries (kind, transport) and whether
 * there is a PCI host bridge. Fills d (n = 0 without devices). Main thread. */
struct vm_devices_desc {
	uint32_t n;
	uint32_t has_pci;
	struct { uint32_t kind, on_pci; } e[VDEVS_MAX];
};
void vm_devices_describe(struct vm *vm, struct vm_devices_desc *d);

/* Quiesce / resume every device of vm (see virtio_dev_quiesce, device_kind.quiesce). 0 or the first
 * -errno (all are quiesced or resumed all the same). */
int vm_devices_quiesce(struct vm *vm);
int vm_devices_resume(struct vm *vm);

/* Live migration (vmm/migrate.h). flush: make every disk's completed writes durable and
 * its metadata current (a source, quiesced, before handing over). reopen: open every disk
 * image again, so its cached metadata is read afresh (a destination, before its devices
 * run, after the source flushed). Main thread; 0 or the first -errno (logged). */
int vm_devices_flush_disks(struct vm *vm);
int vm_devices_reopen_disks(struct vm *vm);

/* A live snapshot's switch (the control socket's disk-switch): each disk named (drive
 * "disk<i>", the i-th --disk) goes to its new top (disk_switch: a differencing VHD over its
 * current image, open on fd, named path), all or none: when one fails, those switched go
 * back (disk_switch_undo) and err says which and why. The caller has quiesced the devices
 * (and parked the vCPUs): nothing uses the disks during the call. Main thread (the control
 * loop). Each sw[i].fd the call used up is set to -1 (on success all: the disks hold them;
 * on an error those of the disks switched and put back: closed): the caller closes the rest. 0, or -errno with a one-line reason in err: -ENOENT no
 * such disk, -EINVAL a disk named twice, a CD/DVD drive or a top that is not over the
 * disk's image, -EMEDIUMTYPE not a writable VHD, others from disk_switch. */
struct vm_disk_switch {
	const char *drive; /* "disk<i>" */
	const char *path;  /* the new top's name (a reset and a save reopen it by it) */
	int fd;            /* the new top, open read-write (disk_switch) */
};
int vm_devices_disk_switch(struct vm *vm, struct vm_disk_switch *sw, unsigned n, char *err,
			   size_t errlen);

/* The disks switched to a new top since the VM was built: drive ("disk<i>") and the top's
 * path (valid until the next switch or vm_devices_exit), up to max. Returns how many.
 * For the next boot after a guest reset, which must open the new tops. Main thread. */
struct vm_disk_top {
	const char *drive;
	const char *path;
};
unsigned vm_devices_switched(struct vm *vm, struct vm_disk_top *out, unsigned max);

/* args (a run's VM options, vm_config.run_args) with each switched disk's --disk spec
 * naming its new top (the spec's other items kept), for a save file's RUN section: a copy
 * in *out (one malloc'd block: free(*out)), or NULL in *out when no disk was switched.
 * 0 or -ENOMEM. */
int vm_devices_run_args(struct vm *vm, const char *const *args, unsigned n, char ***out);

/* Release (on false) or take again (on true) every disk's image locks: a migration's source
 * lets go of them once its disks are flushed, before the destination reopens them, and takes
 * them back when the migration fails. Any thread, the devices quiesced. 0, or the first
 * -errno of taking them (logged, naming the image; the others are then released again). */
int vm_devices_lock_disks(struct vm *vm, bool on);

/* The disk of device-table entry i (NULL: none, or i past the table) and its label
 * ("disk<k>"): a migration copying the disks (vmm/migrate_disk.h) walks entries 0..n-1.
 * The disk is the device's; valid until vm_devices_exit. */
struct disk *vm_devices_disk(struct vm *vm, unsigned i, const char **label);
unsigned vm_devices_count(struct vm *vm);

/* Save every device of vm into *st (caller-allocated; it is large). Returns 0 or the
 * first -errno of a device's save. */
int vm_devices_save(struct vm *vm, struct vm_devices_state *st);

/* Restore *st into vm: the host bridge, then each device and its transport. Returns 0, or
 * -EINVAL when *st does not fit vm's devices (count, kinds, transports) or a device
 * refuses its state; every device is checked before anything is loaded, but a transport
 * refusing its state after its device was loaded leaves the VM half-restored: destroy it. */
int vm_devices_restore(struct vm *vm, const struct vm_devices_state *st);
/* The memory entry i saves besides its state (kind->devmem: a display's VRAM), or NULL;
 * *len its size. Valid until vm_devices_exit. */
uint8_t *vm_devices_devmem(struct vm *vm, unsigned i, size_t *len);

#endif
