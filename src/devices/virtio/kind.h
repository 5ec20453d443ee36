/* Device kinds: one descriptor per kind of device that `vsrv run` builds from its --disk,
 * --net and --device options, in the device's own file (as kvmtool's struct virtio_ops or
 * crosvm's VirtioDevice): how a spec is parsed, how the device is created and destroyed,
 * what state it saves and restores, and which bus it goes on. kinds.c lists them
 * (device_kinds[]); devices.c walks that list to build and tear down a VM's devices and
 * devices_state.c to save and restore them. Nothing else names a kind: adding a device is
 * its file plus one line in kinds.c. */
#ifndef VSRV_DEVICES_VIRTIO_KIND_H
#define VSRV_DEVICES_VIRTIO_KIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/pci.h"
#include "devices/virtio/options.h"
#include "devices/virtio/stats.h"
#include "devices/virtio/virtio.h"

#define VDEVS_MAX 64        /* entries of one VM's device table */
#define VDEV_STATE_MAX 4816 /* bytes of one entry's device state (the save-file layout) */
#define VDEV_KINDS_MAX 32   /* entries of the table (kinds.c) */

struct disk;
struct vdevs;
struct vm_media_info;
struct device_entry;
struct vballoon_info;

/* Where a kind's device goes. */
enum device_bus {
	DEVICE_BUS_VIRTIO, /* a virtio transport of its own: virtio-mmio or virtio-pci */
	DEVICE_BUS_NONE,   /* none: it hangs off another device (a SCSI disk, its controller) */
	/* a PCI function of its own (not virtio: e1000): create sets e->pcidev, with
	 * e->gsi already allocated for its INTx pin; the walker puts it behind the host
	 * bridge and routes INTA# to e->gsi */
	DEVICE_BUS_PCI,
};

struct device_kind {
	const char *name;   /* "virtio-rng": log lines and save-file messages */
	/* In save files and migration streams: not 0, unique, never reused. The state sizes
	 * of ids 1..SAVESTATE_SIGNED_KINDS are in the save file's layout signature; a kind
	 * with a later id takes a new one when its state's layout changes (files that name
	 * the old id are then refused as naming an unknown device). */
	uint32_t id;
	/* The `vsrv run` option that adds one ("disk", "net", "device"), or NULL when another
	 * kind adds it (its finish). */
	const char *option;
	/* The specs of that option that are this kind's, by their selecting word: the first
	 * item of a --device spec, the bus= value of a --disk spec; "" is the option's default
	 * (a --disk without bus=, every --net). NULL-terminated. */
	const char *const *words;
	const char *usage;  /* the spec's syntax, for the error about an unknown word */
	enum device_bus bus;
	uint32_t pci_class; /* the PCI class code on virtio-pci */
	/* Bytes of per-VM state shared by the kind's entries (zeroed; devices_kind_priv),
	 * freed after the last entry is destroyed. */
	size_t vm_priv_size;

	/* Parse spec: 0 and *opts (free with opts_free), or -EINVAL (-ENOMEM) after logging
	 * one line quoting the option and spec. No side effects. */
	int (*parse)(const char *spec, void **opts);
	void (*opts_free)(void *opts);
	/* Before the VM is built (may be NULL): what can be checked of parsed opts without a
	 * VM, so that a mistake is one line before /dev/kvm is even opened (a disk's file
	 * exists). 0 or -errno after logging one line naming what is wrong. */
	int (*check)(const void *opts);
	/* Create e's device from opts (idx: the spec's position among its option's): sets
	 * e->priv, e->name and, on DEVICE_BUS_VIRTIO, e->dev and e->transport (the caller then
	 * puts it on its transport); on DEVICE_BUS_PCI, e->pcidev (the walker adds it to
	 * the host bridge). 0 or -errno after logging; e is then destroyed all the
	 * same, so destroy must take a half-made entry. Main thread. */
	int (*create)(struct vdevs *v, struct device_entry *e, const void *opts, unsigned idx);
	/* After every spec was created, in table order (may be NULL): a kind may add entries
	 * of other kinds here (the SCSI controller after its disks). 0 or -errno. */
	int (*finish)(struct vdevs *v);
	/* Free what create made, after e's transport is gone (the walker then closes
	 * e->disk). */
	void (*destroy)(struct vdevs *v, struct device_entry *e);
	/* Saved state: state_size bytes (at most VDEV_STATE_MAX); on DEVICE_BUS_VIRTIO they
	 * begin with the device core's struct virtio_dev_state (a DEVICE_BUS_PCI kind keeps
	 * its PCI config space in its own state; a kind without a transport of its own, such
	 * as a CD drive on the SCSI controller, has only its own). save copies it (the device quiesced around the
	 * copy), 0 or -errno; restore loads it into a device created from the same options:
	 * 0, or -EINVAL with the device unchanged. save NULL and state_size 0: nothing saved. */
	size_t state_size;
	int (*save)(struct device_entry *e, void *state);
	int (*restore)(struct device_entry *e, const void *state);
	/* Stop taking work from the guest (on), or go on (off), around a save or a migration's
	 * last pass; a request already taken completes first. NULL: a virtio kind, quiesced
	 * through its core (virtio_dev_quiesce); set by a kind without one that takes work on
	 * a thread (e1000, an AHCI controller's I/O thread). vm_devices_quiesce /
	 * vm_devices_resume call it. Any thread. */
	void (*quiesce)(struct device_entry *e, bool on);
	/* For a kind without a virtio core whose restore may come after another entry's (may be
	 * NULL): what restore would refuse, checked for every entry before any restore runs,
	 * so a refused state leaves all devices unchanged. 0 or -EINVAL, no side effects. */
	int (*state_check)(struct device_entry *e, const void *state);
	/* A NIC's current MAC address (NULL for other kinds). Any thread. */
	void (*mac)(struct device_entry *e, uint8_t mac[6]);
	/* A drive with removable media (NULL for other kinds), on the control loop while the
	 * VM runs. media: take e's medium out (path NULL; unless force, refused with -EBUSY
	 * while the guest locks the drive) or put the image at path in (read-only, a shared
	 * lock; the medium it held is taken out first). The guest is told (a unit attention, a
	 * media event). 0, or -errno with a one-line reason in err and nothing changed.
	 * media_info: what the drive holds. */
	int (*media)(struct vdevs *v, struct device_entry *e, const char *path, bool force,
		     char *err, size_t errlen);
	void (*media_info)(struct device_entry *e, struct vm_media_info *out);
	/* Memory of the device's own saved with its state (NULL for most kinds): a display's
	 * VRAM, whose bytes a save file carries in a section of their own (docs/savestate.md).
	 * Returns the host memory and its size; valid for the device's life. */
	uint8_t *(*devmem)(struct device_entry *e, size_t *len);
	/* The memory balloon (NULL for other kinds), any thread: with target, ask the guest
	 * for a balloon of *target bytes (-EINVAL past guest RAM); with out, what the balloon
	 * says of itself (devices/virtio/balloon.h). 0 or -errno. */
	int (*balloon)(struct device_entry *e, const uint64_t *target, struct vballoon_info *out);
};

/* The table (kinds.c), NULL-terminated. */
extern const struct device_kind *const device_kinds[];

/* One device of a VM. */
struct device_entry {
	const struct device_kind *kind;
	void *priv;                   /* the kind's device, owned (kind->destroy) */
	char name[32];                /* "virtio-blk0" */
	struct virtio_dev *dev;       /* its virtio core, when it has a transport of its own */
	enum vopt_transport transport;
	struct disk *disk;            /* owned: closed after kind->destroy */
	bool disk_switched;           /* disk went to a new top (vm_devices_disk_switch) */
	struct virtio_mmio *mmio;
	struct virtio_pci *pci;
	struct pci_dev *pcidev;       /* DEVICE_BUS_PCI: the kind's PCI function (its memory) */
	/* the function's option ROM (a NIC's iPXE: pci_rom.h), set by create, or NULL; the
	 * walker declares it before the function goes on the bus and frees it at the end */
	struct pci_rom *rom;
	bool pcidev_added;            /* on the host bridge */
	uint32_t gsi;
	bool gsi_allocated;
	/* what vm_devices_*_stats report: disks (dstats) and NICs (nstats) */
	char label[16];                    /* "disk<i>" / "net<i>": the --disk/--net position */
	const char *bus_or_backend;        /* "virtio-blk", "scsi" / "tap", "bridge", "user" */
	char ifname[16];                   /* a NIC's host interface (TAP), or "" */
	const struct vdisk_stats *dstats;  /* owned by the device */
	const struct vnet_stats *nstats;
};

struct vm;

/* The device table of one VM (vm->devices_priv), built by vm_devices_init. */
struct vdevs {
	struct vm *vm;
	struct virtio_host host;
	struct pci_host *pci;
	unsigned nr_mmio;
	unsigned n;
	struct device_entry e[VDEVS_MAX];
	void *kind_priv[VDEV_KINDS_MAX]; /* per kind (by table index): vm_priv_size bytes */
};

/* For kinds (devices.c). */

/* A new zeroed entry at the end of the table, or NULL when it is full. */
struct device_entry *devices_entry_new(struct vdevs *v);
/* The VM's PCI host bridge, created at the first call (for a device that is a PCI function
 * of its own rather than a virtio transport). 0 and *out, or -errno. */
int devices_pci_host(struct vdevs *v, struct pci_host **out);
/* Put e->dev on e->transport with kind->pci_class. 0 or -errno. */
int devices_attach(struct vdevs *v, struct device_entry *e);
/* The per-VM state of kind k (vm_priv_size bytes, zeroed at first), or NULL. */
void *devices_kind_priv(struct vdevs *v, const struct device_kind *k);
/* Open the image of a parsed --disk spec into e->disk (flags from its options) and label
 * e "disk<idx>". 0 or -errno (the disk layer logged the reason, naming the file). */
int devices_open_disk(struct vdevs *v, struct device_entry *e, const struct vopt_disk *o,
		      unsigned idx);

/* The hooks the disk kinds share: parse a --disk spec into a struct vopt_disk, free it, and
 * check that the image it names exists. */
int devices_parse_disk(const char *spec, void **opts);
void devices_free_disk_opts(void *opts);
int devices_check_disk(const void *opts);

/* The kind with this id, or NULL. */
const struct device_kind *device_kind_by_id(uint32_t id);
/* The kind a spec of option is for (by its selecting word), or NULL. */
const struct device_kind *device_kind_for(const char *option, const char *spec);

#endif
