/* The PCI host bridge: bus 0 with up to 32 devices of up to 8 functions, configuration
 * mechanism #1 (ports 0xcf8 address, 0xcfc-0xcff data) and ECAM (memory-mapped config
 * space, bus 0 only, 1 MiB at ecam_base). Memory BARs are assigned by the host at add
 * time from a window below 4 GiB, and follow the guest when it moves them (the range on
 * the MMIO bus is re-registered while memory decoding is enabled).
 *
 * Threads: config accesses come from vCPU threads; the host's lock serialises them. BAR
 * handlers are called directly by the MMIO bus (the device locks its own state). */
#ifndef VSRV_DEVICES_PCI_H
#define VSRV_DEVICES_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"

#define PCI_CFG_SIZE 256
#define PCI_ECAM_BUS_SIZE (1u << 20)
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11
#define PCI_CMD_IO 0x1
#define PCI_CMD_MEM 0x2
#define PCI_CMD_INTX_DISABLE 0x400

struct pci_dev;

struct pci_bar {
	uint64_t size;       /* a power of two >= 4 KiB, or 0 for an unused BAR */
	uint64_t addr;       /* current guest address */
	bus_io_fn fn;
	void *opaque;
	bool registered;     /* on the MMIO bus now */
	bool is32;           /* a 32-bit memory BAR (one slot), else 64-bit (two) */
};

struct pci_dev {
	const char *name;
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE]; /* bits the guest may write (besides BARs) */
	struct pci_bar bar[6];       /* 64-bit memory BARs use bar[i] and the slot i+1 */
	void *opaque;
	/* Called after the guest wrote config bytes [off, off+len) (caps, MSI-X control), and
	 * before a read (to refresh computed fields). Under the host's lock. May be NULL. */
	void (*cfg_written)(struct pci_dev *d, uint32_t off, uint32_t len);
	void (*cfg_read)(struct pci_dev *d, uint32_t off, uint32_t len);
	/* The guest moved BAR i (after the new range is on the bus). May be NULL. */
	void (*bar_moved)(struct pci_dev *d, int i, uint64_t old_addr, uint64_t new_addr);
	struct pci_host *host;
	unsigned slot;
	unsigned fn;                 /* function number (0..7) in slot */
	uint8_t cap_next;            /* where the next capability goes */
};

struct pci_host {
	struct bus *pio, *mmio;       /* not owned */
	pthread_mutex_t lock;
	uint32_t cf8;                 /* mechanism #1 address register */
	uint64_t ecam_base;
	uint64_t bar_next, bar_end;   /* BAR allocation window */
	struct pci_dev *dev[256];     /* by devfn (slot << 3 | fn); 0 is the host bridge */
	struct pci_dev bridge;
};

/* Create the host bridge: register 0xcf8-0xcff on pio and ECAM at ecam_base on mmio; BARs
 * are allocated from [bar_base, bar_end). Returns 0 and *out (free with pci_host_destroy),
 * or -errno. */
int pci_host_create(struct bus *pio, struct bus *mmio, uint64_t ecam_base, uint64_t bar_base,
		    uint64_t bar_end, struct pci_host **out);
/* Unregister everything and free. Devices are not freed (their owners do). NULL allowed. */
void pci_host_destroy(struct pci_host *h);

/* Initialise d's header: vendor, device, class (24 bits), subsystem ids, revision. */
void pci_dev_init(struct pci_dev *d, const char *name, uint16_t vendor, uint16_t device,
		  uint32_t class_code, uint8_t revision, uint16_t subsys_vendor, uint16_t subsys);
/* Declare a 64-bit memory BAR i (0, 2 or 4) of size bytes served by fn(opaque, ...). */
void pci_dev_set_bar(struct pci_dev *d, int i, uint64_t size, bus_io_fn fn, void *opaque);
/* The same for a 32-bit memory BAR i (0..5), placed below 4 GiB (an AHCI's ABAR, BAR 5). */
void pci_dev_set_bar32(struct pci_dev *d, int i, uint64_t size, bus_io_fn fn, void *opaque);
/* Append a capability of len bytes (id in byte 0) to d's list; returns its offset or 0 when
 * config space is full. The caller fills the body and sets wmask for writable bytes. */
uint8_t pci_dev_add_cap(struct pci_dev *d, uint8_t id, uint8_t len);

/* Put d in a free slot (as function 0), assign its BARs, enable nothing (the guest enables
 * decoding). Returns 0 or -ENOSPC. */
int pci_host_add(struct pci_host *h, struct pci_dev *d);
/* The same at slot:fn, where firmware and drivers expect a device (00:1f.2 for an ICH9
 * AHCI controller). A slot with several functions needs a function 0 (operating systems
 * scan no further without one): its header says multi-function once another is there.
 * Returns 0, -EBUSY (taken) or -EINVAL / -ENOSPC. */
int pci_host_add_at(struct pci_host *h, struct pci_dev *d, unsigned slot, unsigned fn);
/* Take d off the bus (unregister its BARs). */
void pci_host_remove(struct pci_host *h, struct pci_dev *d);

/* --- state --- */

/* What pci_host_save keeps: the mechanism #1 address latch (0xcf8) and the host bridge's
 * own config space (command register and the other guest-writable bytes). The devices
 * behind it are saved by their owners (a virtio-pci function: virtio_pci_save). ECAM and
 * the BAR window come with the creation parameters. */
struct pci_host_state {
	uint32_t cf8;
	uint8_t bridge_cfg[PCI_CFG_SIZE];
};

void pci_host_save(struct pci_host *h, struct pci_host_state *st);
/* Returns 0, or -EINVAL (h unchanged) when the bridge's read-only bytes differ. */
int pci_host_restore(struct pci_host *h, const struct pci_host_state *st);

/* For device owners' save/restore: d's config space (d on a host). _check returns 0 when
 * cfg could be d's (read-only bytes equal, BARs size-aligned 64-bit memory BARs), else
 * -EINVAL. _load checks, copies, and puts the BARs on the MMIO bus where cfg says (when
 * memory decoding is on; bar_moved runs for a BAR that lands elsewhere than before).
 * The cfg_written hook is not called: the owner re-applies its own state. */
void pci_dev_cfg_save(struct pci_dev *d, uint8_t cfg[PCI_CFG_SIZE]);
int pci_dev_cfg_check(struct pci_dev *d, const uint8_t cfg[PCI_CFG_SIZE]);
int pci_dev_cfg_load(struct pci_dev *d, const uint8_t cfg[PCI_CFG_SIZE]);

/* Config space access as the guest does it (for tests and both mechanisms); devfn is
 * slot << 3 | function. */
void pci_cfg_access(struct pci_host *h, unsigned devfn, uint32_t off, uint8_t *data,
		    uint32_t len, bool is_write);

#endif
