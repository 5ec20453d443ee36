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
#define PCI_SLOT_LPC 31       /* 00:1f.0: the ICH9 LPC bridge (ich9_lpc.c), added first */
#define PCI_IO_BASE 0xc000 /* I/O BARs are assigned from ports 0xc000-0xffff */
#define PCI_IO_END 0x10000

struct pci_dev;

/* What a BAR decodes: 64-bit memory (two config slots), 32-bit memory, or I/O ports. */
enum pci_bar_type { PCI_BAR_MEM64, PCI_BAR_MEM32, PCI_BAR_IO };

struct pci_bar {
	/* a power of two (>= 4 KiB for memory, >= 4 for I/O), or 0 for an unused BAR */
	uint64_t size;
	enum pci_bar_type type;
	uint64_t addr;       /* current guest address (a port for I/O) */
	bus_io_fn fn;
	void *opaque;
	bool registered;     /* on the MMIO bus now */
	bool prefetch;       /* a memory BAR marked prefetchable (bit 3) */
};

struct pci_dev {
	const char *name;
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE]; /* bits the guest may write (besides BARs) */
	struct pci_bar bar[6];       /* 64-bit memory BARs use bar[i] and the slot i+1 */
	/* The expansion ROM BAR (config 0x30: address bits, bit 0 enable), 32-bit memory,
	 * decoded while both its enable bit and the command register's memory bit are set.
	 * size 0: none (0x30 reads as zero). */
	struct pci_bar rom;
	void *opaque;
	/* Called after the guest wrote config bytes [off, off+len) (caps, MSI-X control), and
	 * before a read (to refresh computed fields). Under the host's lock. May be NULL. */
	void (*cfg_written)(struct pci_dev *d, uint32_t off, uint32_t len);
	void (*cfg_read)(struct pci_dev *d, uint32_t off, uint32_t len);
	/* The guest moved BAR i (after the new range is on the bus). May be NULL. */
	void (*bar_moved)(struct pci_dev *d, int i, uint64_t old_addr, uint64_t new_addr);
	/* BAR i (PCI_BAR_ROM: the ROM BAR) went on the bus at addr (on) or off it (after it
	 * was on at addr): for a device that maps host memory there (a framebuffer as a KVM
	 * memory slot). Under the host's lock. May be NULL. */
	void (*bar_decode)(struct pci_dev *d, int i, uint64_t addr, bool on);
	struct pci_host *host;
	unsigned slot;
	unsigned fn;                 /* function number (0..7) in slot */
	uint8_t cap_next;            /* where the next capability goes */
};

struct pci_host {
	struct bus *pio, *mmio;       /* not owned */
	pthread_mutex_t lock;
	uint32_t cf8;                 /* mechanism #1 address register */
	uint64_t ecam_base, ecam_len; /* 0: no ECAM decoded */
	bus_io_fn cf9_fn;             /* port 0xcf9 (byte), or NULL */
	void *cf9_opaque;
	uint64_t bar_next, bar_end;   /* BAR allocation window */
	uint32_t io_next;             /* I/O BAR allocation: ports io_next .. PCI_IO_END */
	struct pci_dev *dev[256];     /* by devfn (slot << 3 | fn); 0 is the host bridge */
	struct pci_dev bridge;
};

/* Create the host bridge: register 0xcf8-0xcff on pio and ECAM (bus 0, 1 MiB) at ecam_base
 * on mmio (0: none until pci_host_set_ecam); BARs are allocated from [bar_base, bar_end).
 * Returns 0 and *out (free with pci_host_destroy), or -errno. */
int pci_host_create(struct bus *pio, struct bus *mmio, uint64_t ecam_base, uint64_t bar_base,
		    uint64_t bar_end, struct pci_host **out);
/* Move ECAM to [base, base + len) on the MMIO bus (len: a multiple of 1 MiB, one per bus,
 * up to 256; only bus 0 has devices, the other buses read as all ones), or turn it off
 * (base 0). Called with h->lock held (a bridge's cfg_written hook, as q35.c's PCIEXBAR)
 * or before the vCPUs run. 0, -EINVAL (misaligned, wrapping: nothing changed) or -EEXIST
 * (overlaps another MMIO range: ECAM is then off). */
int pci_host_set_ecam(struct pci_host *h, uint64_t base, uint64_t len);
/* Have byte accesses to port 0xcf9 (inside the 0xcf8 latch's range) go to fn(opaque, 0,
 * ...) instead of being ignored: an ICH's reset control register (ich9_lpc.c). Before the
 * vCPUs run. */
void pci_host_set_cf9(struct pci_host *h, bus_io_fn fn, void *opaque);
/* Unregister everything and free. Devices are not freed (their owners do). NULL allowed. */
void pci_host_destroy(struct pci_host *h);

/* Initialise d's header: vendor, device, class (24 bits), subsystem ids, revision. */
void pci_dev_init(struct pci_dev *d, const char *name, uint16_t vendor, uint16_t device,
		  uint32_t class_code, uint8_t revision, uint16_t subsys_vendor, uint16_t subsys);
/* Declare a 64-bit memory BAR i (0, 2 or 4) of size bytes served by fn(opaque, ...). */
void pci_dev_set_bar(struct pci_dev *d, int i, uint64_t size, bus_io_fn fn, void *opaque);
/* Declare BAR i (0..5) as a 32-bit memory BAR (size >= 4 KiB, placed below 4 GiB: an
 * AHCI's ABAR in BAR 5) or an I/O BAR (size >= 4 ports, on the port bus, decoded while the
 * command register's I/O bit is set). */
void pci_dev_set_bar32(struct pci_dev *d, int i, uint64_t size, bus_io_fn fn, void *opaque);
void pci_dev_set_io_bar(struct pci_dev *d, int i, uint64_t size, bus_io_fn fn, void *opaque);
/* Mark memory BAR i prefetchable (after declaring it). */
void pci_dev_set_prefetchable(struct pci_dev *d, int i);
/* Declare the expansion ROM BAR: size bytes (a power of two, >= 2 KiB) served by
 * fn(opaque, ...) (reads; the owner ignores writes), placed below 4 GiB at add time with
 * its enable bit off (the firmware or OS turns it on to copy the ROM). */
void pci_dev_set_rom(struct pci_dev *d, uint64_t size, bus_io_fn fn, void *opaque);
#define PCI_BAR_ROM 6 /* the ROM BAR's index for bar_decode */
#define PCI_ROM_ADDRESS 0x30

/* Append a capability of len bytes (id in byte 0) to d's list; returns its offset or 0 when
 * config space is full. The caller fills the body and sets wmask for writable bytes. */
uint8_t pci_dev_add_cap(struct pci_dev *d, uint8_t id, uint8_t len);

/* Put d in a free slot (as function 0), assign its BARs, enable nothing (the guest enables
 * decoding). Returns 0 or -ENOSPC. */
int pci_host_add(struct pci_host *h, struct pci_dev *d);
/* The same at slot:fn (slot 1..31, fn 0..7), where firmware and drivers expect a device
 * (00:1f.0 for the ICH9 LPC bridge, 00:1f.2 for an ICH9 AHCI controller); slot 0 (with
 * fn 0): the first free slot, as pci_host_add. A slot with several functions needs a
 * function 0 (operating systems scan no further without one): its header says
 * multi-function once another is there. Returns 0, -EBUSY (taken), -EINVAL (bad
 * slot:fn) or -ENOSPC. */
int pci_host_add_at(struct pci_host *h, struct pci_dev *d, unsigned slot, unsigned fn);
/* slot << 3 | fn of d on its host, as pci_cfg_access takes it. */
static inline unsigned pci_dev_devfn(const struct pci_dev *d)
{
	return d->slot << 3 | d->fn;
}
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
 * cfg could be d's (read-only bytes equal, BARs size-aligned and of their declared type), else
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
