/* The q35 memory controller hub's registers on the PCI host bridge (00:00.0, 8086:29C0,
 * devices/pci.c), as SeaBIOS (src/fw/pciinit.c, shadow.c) and OVMF (OvmfPkg/PlatformInitLib)
 * program them. Only for firmware boot: direct boot keeps the bridge's fixed ECAM and has
 * none of these registers.
 *
 *   0x60 PCIEXBAR (64-bit): bit 0 enable, bits 2:1 length (0: 256 MiB, 1: 128 MiB,
 *        2: 64 MiB, 3: reserved), base in bits 35:26 aligned to the length. ECAM moves to
 *        the base while enabled. The register keeps what the guest wrote to its writable
 *        bits (others read 0); a window that is not decodable here is refused (ECAM off,
 *        logged): the reserved length, a base below the end of low RAM, past 0xFEC00000
 *        (the I/O APIC and what follows up to 4 GiB) or above 4 GiB, or overlapping another
 *        MMIO range. SeaBIOS and OVMF write 0xB0000001 (256 MiB at 0xB0000000).
 *   0x90-0x96 PAM0-6: the 13 shadow regions of 0xC0000-0xFFFFF (PAM0 bits 5:4: 0xF0000,
 *        64 KiB; PAMn bits 1:0 and 5:4: two 16 KiB regions from 0xC0000 + (n-1) * 32 KiB),
 *        each 0 (no DRAM: reads and writes go to the ROM), 1 (read DRAM, write ROM), 2
 *        (read ROM, write DRAM) or 3 (DRAM). The device records them and tells the VMM of
 *        each region that changes; the VMM remaps.
 *   0x9d SMRAM: bits 6:3 writable storage (SMM is not emulated), bits 2:0 read 010b.
 *   0x9e ESMRAMC: reads 0x38, read-only.
 *
 * Threads: config accesses run on vCPU threads under the host's lock; the PAM callback
 * runs there too and must not touch PCI config space. */
#ifndef VSRV_DEVICES_Q35_H
#define VSRV_DEVICES_Q35_H

#include <stdint.h>

struct pci_host;
struct q35_mch;

#define Q35_PCIEXBAR        0x60
#define Q35_PCIEXBAR_EN     0x1ULL
#define Q35_PCIEXBAR_MASK   0x0000000ffc000007ULL  /* the writable bits */
#define Q35_PAM0            0x90
#define Q35_PAM_COUNT       7
#define Q35_PAM_REGIONS     13
#define Q35_SMRAM           0x9d
#define Q35_ESMRAMC         0x9e
#define Q35_MMIO_END        0xfec00000ULL         /* ECAM must end at or below */

enum q35_pam_attr { Q35_PAM_ROM = 0, Q35_PAM_READ = 1, Q35_PAM_WRITE = 2, Q35_PAM_RAM = 3 };

/* The device's whole state: the registers as the guest left them. */
struct q35_mch_state {
	uint64_t pciexbar;
	uint8_t pam[Q35_PAM_COUNT];
	uint8_t smram;
	uint8_t reserved[8];
};

/* Region i (0..12) of the shadow area changed to attr (enum q35_pam_attr). */
typedef void (*q35_pam_fn)(void *opaque, unsigned region, unsigned attr);

/* Give h's host bridge these registers (h must have been created with ecam_base 0: ECAM
 * stays off until the guest enables PCIEXBAR). low_ram_end: the end of RAM below 4 GiB
 * (ECAM may not start below it). on_pam (or NULL) is told of PAM changes. Before the vCPUs
 * run. Returns 0 and *out (free with q35_mch_destroy, before pci_host_destroy), or -errno. */
int q35_mch_create(struct pci_host *h, uint64_t low_ram_end, q35_pam_fn on_pam, void *opaque,
		   struct q35_mch **out);
/* Unhook from the bridge and free (ECAM is left as it is). NULL allowed. */
void q35_mch_destroy(struct q35_mch *m);

/* Region i's guest range (i < Q35_PAM_REGIONS). */
void q35_pam_region(unsigned i, uint32_t *base, uint32_t *size);
/* Region i's attribute now. */
unsigned q35_mch_pam_attr(struct q35_mch *m, unsigned i);
/* Where ECAM is decoded now (0: off) and its length. */
uint64_t q35_mch_ecam(struct q35_mch *m, uint64_t *len);

void q35_mch_save(struct q35_mch *m, struct q35_mch_state *st);
/* 0 when st could be the device's (only bits the guest can set, reserved bytes 0), else
 * -EINVAL. No device needed (a save file's parser checks with it). */
int q35_mch_state_check(const struct q35_mch_state *st);
/* Write the registers back as the guest would (ECAM moves, the PAM callback runs for every
 * region). 0, or -EINVAL (nothing changed) for bits the guest cannot set. */
int q35_mch_restore(struct q35_mch *m, const struct q35_mch_state *st);

#endif
