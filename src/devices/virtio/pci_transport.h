/* The virtio-pci modern transport (virtio 1.2, 4.1): a PCI function with vendor 0x1af4,
 * device 0x1040 + id, the virtio capabilities (common, notify, ISR, device, PCI cfg
 * access) and MSI-X, all in one 64-bit memory BAR:
 *   0x0000 common cfg, 0x1000 ISR, 0x2000 device cfg, 0x3000 notify (4 bytes per queue),
 *   0x4000 MSI-X table, 0x5000 MSI-X PBA.
 * Queue notifications are KVM ioeventfds on the notify area (moved with the BAR); each
 * MSI-X vector is a KVM MSI route plus an irqfd. Without MSI-X enabled, no interrupt is
 * delivered (the driver polls the ISR): Linux always enables MSI-X. */
#ifndef VSRV_DEVICES_VIRTIO_PCI_TRANSPORT_H
#define VSRV_DEVICES_VIRTIO_PCI_TRANSPORT_H

#include "devices/pci.h"
#include "devices/virtio/virtio.h"

#define VPCI_BAR_SIZE 0x8000
#define VPCI_MAX_VECTORS (VIRTIO_MAX_QUEUES + 1)
#define VPCI_NO_VECTOR 0xffff

struct vpci_vector {
	uint32_t addr_lo, addr_hi, data, ctrl; /* the MSI-X table entry as the guest wrote it */
	uint32_t gsi;   /* KVM route, 0 while none */
	int efd;        /* irqfd eventfd, owned */
	bool pending;
};

/* The common configuration registers that are the transport's (the rest, features,
 * status and the queues' registers, are the device core's). */
struct virtio_pci_regs {
	uint32_t dev_feat_sel, drv_feat_sel;
	uint16_t queue_sel, config_vector;
	uint16_t queue_vector[VIRTIO_MAX_QUEUES]; /* VPCI_NO_VECTOR beyond the device's queues */
};

/* One MSI-X table entry as the guest wrote it, and its pending bit. */
struct virtio_pci_vec_state {
	uint32_t addr_lo, addr_hi, data, ctrl;
	uint8_t pending, pad[3];
};

/* What virtio_pci_save keeps: the function's config space (command register, BARs, the
 * capabilities with the MSI-X enable and function mask bits and the PCI cfg access
 * window), the MSI-X table and pending bits, the config and per-queue MSI-X vectors, the
 * queue and feature selects. Rebuilt rather than saved: the KVM MSI routes and irqfds
 * (virtio_pci_restore programs them through the host callbacks as the guest's own writes
 * would), the notify ioeventfds (moved with BAR 0), the eventfds. The ISR and the config
 * generation belong to the device core (virtio_dev_state). */
struct virtio_pci_state {
	uint8_t cfg[PCI_CFG_SIZE];
	uint32_t device_id, nvec;   /* checked: the same kind of function */
	struct virtio_pci_vec_state vec[VPCI_MAX_VECTORS];
	struct virtio_pci_regs regs;
};

struct virtio_pci {
	struct pci_dev pci;
	struct virtio_dev *dev;        /* not owned */
	struct pci_host *host;         /* not owned */
	unsigned nvec;
	struct vpci_vector vec[VPCI_MAX_VECTORS];
	struct virtio_pci_regs st;
	uint64_t ioev_base;            /* where the notify ioeventfds are, 0 if none */
	uint8_t msix_cap, cfg_cap;
	char pci_name[64];
};

/* Put device d on the PCI host h as a virtio-pci modern function of the given class.
 * Returns 0 and *out (free with virtio_pci_destroy before the device), or -errno. */
int virtio_pci_create(struct virtio_dev *d, struct pci_host *h, uint32_t class_code,
		      struct virtio_pci **out);
struct pci_rom;
/* The same with an expansion ROM (a NIC's iPXE; NULL: none), which stays the caller's and
 * must outlive the function. */
int virtio_pci_create_rom(struct virtio_dev *d, struct pci_host *h, uint32_t class_code,
			  struct pci_rom *rom, struct virtio_pci **out);
void virtio_pci_destroy(struct virtio_pci *p);

/* Copy p's state into *st (pci_transport_state.c). */
void virtio_pci_save(struct virtio_pci *p, struct virtio_pci_state *st);
/* Load *st into p (a function created the same way, on a host bridge restored first),
 * after the device itself. Returns 0, or -EINVAL with p unchanged: another device or
 * vector count, read-only config bytes that differ, a misaligned BAR, a table entry's
 * reserved control bits, a pending bit beyond the table, a vector number beyond the table.
 * Routes that the host refuses are logged (as for the guest's own writes), not errors. */
int virtio_pci_restore(struct virtio_pci *p, const struct virtio_pci_state *st);

/* Internal (pci_transport*.c): re-route vector v after its entry or the mask bits changed
 * and deliver it if pending and unmasked. Under the device's lock. */
void vpci_vec_update(struct virtio_pci *p, unsigned v);

#endif
