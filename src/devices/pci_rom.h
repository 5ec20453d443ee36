/* A PCI option ROM image (a NIC's iPXE, as QEMU's romfile=) served through a function's
 * expansion ROM BAR (pci.h pci_dev_set_rom). The file is read once, when the device is
 * made (before the sandbox), checked for the 0x55 0xAA signature, and padded with 0xFF to
 * the BAR's size: the smallest power of two >= 2 KiB that holds it.
 *
 * Threads: the image is only read once attached (its BAR handler runs on vCPU threads). */
#ifndef VSRV_DEVICES_PCI_ROM_H
#define VSRV_DEVICES_PCI_ROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCI_ROM_MAX (1u << 20) /* the largest image accepted (the ROM BAR's size then) */

struct pci_dev;

struct pci_rom {
	uint8_t *data;    /* size bytes: the file, then 0xFF */
	uint32_t size;    /* the ROM BAR's size */
	uint32_t len;     /* the file's length */
};

/* Read the ROM image at path for the device named who (log lines say "who: option ROM
 * PATH: ..."). Returns 0 and *out (free with pci_rom_free), or -errno after logging one
 * line: -ENOENT and the other open errors, -EINVAL for an empty file, one larger than
 * PCI_ROM_MAX, not a regular file, or without the 0x55AA signature. */
int pci_rom_load(const char *path, const char *who, struct pci_rom **out);
/* Free (NULL allowed). The function serving it must be off its host bridge. */
void pci_rom_free(struct pci_rom *r);
/* Declare r as d's expansion ROM BAR (before d is added to its host bridge, with its ids
 * set), its first image's PCI data structure naming d's vendor and device (as QEMU
 * patches a ROM used for several devices: firmware runs only an image that names the
 * function). r stays the caller's and must outlive d's time on the bus. */
void pci_rom_attach(struct pci_dev *d, struct pci_rom *r);

#endif
