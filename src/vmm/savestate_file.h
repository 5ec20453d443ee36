/* The saved-VM file (docs/savestate.md): a 64-byte header, then typed sections, each with
 * its length and CRC32, in a fixed order (config first, memory last). This module only
 * writes and parses files: it knows nothing of KVM or of a running VM (savestate.h does
 * that), so the parser can be fuzzed on its own (fuzz/savestate.c).
 *
 * Every section but memory is one plain C struct of this build (x86-64 layout, little
 * endian); the header's layout signature says which struct layouts the file was written
 * with, and a file from a build with other layouts is refused. Guest memory is written
 * sparsely: a bitmap of the non-zero 4 KiB pages, then those pages in order. */
#ifndef VSRV_VMM_SAVESTATE_FILE_H
#define VSRV_VMM_SAVESTATE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "arch/x86/cpu_state.h"
#include "arch/x86/xen.h"
#include "devices/acpi_pm.h"
#include "devices/debug_exit.h"
#include "devices/fw_cfg.h"
#include "devices/i8042.h"
#include "devices/ich9_lpc.h"
#include "devices/pci.h"
#include "devices/pflash.h"
#include "devices/q35.h"
#include "devices/rtc.h"
#include "devices/serial.h"
#include "devices/virtio/devstate.h"
#include "vmm/savestate_run.h"

#define SAVESTATE_MAGIC    "VSRVSAVE"
#define SAVESTATE_VERSION  1
#define SAVESTATE_PAGE     4096u
/* Device kinds with ids up to this one have their state sizes in the layout signature
 * (savestate_layout); a kind with a higher id takes a new id when its state changes. */
#define SAVESTATE_SIGNED_KINDS 6

enum savestate_section {
	SAVESTATE_SEC_CONFIG  = 1,  /* struct savestate_config: what the VM must look like */
	SAVESTATE_SEC_VM      = 2,  /* struct x86_vm_state: PICs, IOAPIC, PIT, KVM clock */
	SAVESTATE_SEC_VCPU    = 3,  /* struct x86_vcpu_state; the section's index is the vCPU */
	SAVESTATE_SEC_LEGACY  = 4,  /* struct savestate_legacy: UART, RTC, i8042, ACPI PM */
	SAVESTATE_SEC_DEVICES = 5,  /* struct vm_devices_state: virtio, transports, PCI */
	SAVESTATE_SEC_MEMORY  = 6,  /* struct savestate_mem_hdr, bitmap, the non-zero pages */
	/* A device's own memory (a display's VRAM), raw; the index is its device-table entry.
	 * Zero or more, in ascending entry order, between DEVICES and MEMORY. */
	SAVESTATE_SEC_DEVMEM  = 7,
	/* A VM booted with --firmware: struct savestate_firmware (its own version and size),
	 * then the UEFI variable store's bytes. At most one, between DEVICES and DEVMEM;
	 * absent for direct kernel boot (and in every file written before it existed). */
	SAVESTATE_SEC_FIRMWARE = 8,
	/* The VM's configuration as `vsrv run` arguments (vmm/savestate_run.h). At most one,
	 * after FIRMWARE (or DEVICES) and before DEVMEM; absent in files written before it. */
	SAVESTATE_SEC_RUN      = 9,
	/* A VM with --enlightenments xen (CONFIG says so): struct x86_xen_state
	 * (arch/x86/xen.h), right after DEVICES; absent for any other VM. */
	SAVESTATE_SEC_XEN      = 10,
};
#define SAVESTATE_DEVMEM_MAX (256ULL << 20) /* bytes of one device's memory */

/* The FIRMWARE section's fixed part: which firmware the VM runs (checked against the VM
 * restored into, which must be started with the same --firmware) and the state of the
 * firmware layout's devices (arch/x86/firmware.c x86_firmware_save). vars_size bytes of
 * the variable store follow it (the flash's whole array: a restore writes it into the
 * destination's vars file). Grows by new fields at the end: version and size say which
 * layout a section has. */
#define SAVESTATE_FW_VERSION  1
#define SAVESTATE_FW_VARS_MAX (16ULL << 20)  /* X86_FW_ROM_MAX: ROM and flash together */
struct savestate_firmware {
	uint32_t version;            /* SAVESTATE_FW_VERSION */
	uint32_t size;               /* bytes of this struct as written (640 in version 1) */
	uint32_t rom_crc;            /* CRC32 of the ROM image the VM runs */
	uint32_t reserved0;
	uint64_t rom_size;           /* its bytes */
	uint64_t vars_size;          /* the variable store's bytes after this struct (0: none) */
	uint32_t fw_cfg_crc;         /* fw_cfg_digest of the device's items */
	uint32_t fw_cfg_items;
	uint8_t uuid[16];            /* the SMBIOS UUID fw_cfg offers (a random one is kept) */
	uint16_t sercon_port;        /* etc/sercon-port (0: none): kept, whatever --serial says */
	uint16_t reserved1;
	uint32_t reserved2;
	struct q35_mch_state mch;    /* PCIEXBAR, PAM0-6 (the shadow area's mapping), SMRAM */
	struct pflash_state flash;   /* the flash's command state (zero without a flash) */
	struct fw_cfg_state fw_cfg;  /* selector, offset, DMA address */
	struct ich9_lpc_state lpc;   /* the LPC bridge's config space (PMBASE, ACPI_CNTL, PIRQ
				      * routing, RCBA) and RST_CNT */
	struct pci_host_state pci;   /* the 0xCF8 latch and the host bridge's config space */
	uint8_t reserved3[4];
};

/* The VM a file fits: checked against the VM built to restore into. */
struct savestate_config {
	uint64_t mem_size;           /* bytes */
	uint32_t nr_cpus;
	uint32_t nr_devs;            /* entries of the virtio device table */
	uint32_t has_pci;            /* 1: a PCI host bridge */
	uint32_t enlightenments;     /* enum x86_enlight (0, kvm, in files before it was kept) */
	struct savestate_dev {
		uint32_t kind;       /* the device kind's id (devices/virtio/kind.h) */
		uint32_t on_pci;     /* 1: virtio-pci, 0: virtio-mmio */
	} dev[VDEVS_MAX];
};

struct savestate_legacy {
	struct serial_state serial;
	struct rtc_state rtc;
	struct i8042_state i8042;
	struct acpi_pm_state acpi_pm;
	struct debug_exit_state debug_exit;
	/* Added after the first format (the PS/2 keyboard and mouse): a legacy section of
	 * SAVESTATE_LEGACY_V1 bytes ends before it (ps2.version is then 0). Its own version
	 * and size fields say which layout it has. */
	struct i8042_ps2_state ps2;
};

/* The legacy section's length in the first format (and in the layout signature). */
#define SAVESTATE_LEGACY_V1 offsetof(struct savestate_legacy, ps2)

/* The memory section's fixed part; then bitmap_bytes of bitmap (bit i of byte i / 8: page
 * i of the RAM is present), zero padding up to the next 4 KiB file offset, then
 * nr_data_pages pages in ascending order. */
struct savestate_mem_hdr {
	uint64_t mem_size;
	uint32_t page_size;          /* SAVESTATE_PAGE */
	uint32_t reserved;
	uint64_t nr_data_pages;
	uint64_t bitmap_bytes;       /* (mem_size / page_size + 7) / 8 */
	uint64_t data_offset;        /* file offset of the first page (4 KiB aligned) */
};

/* Everything a file holds but the page data: what savestate_read returns and what
 * savestate_write takes. vcpus has config.nr_cpus entries. */
struct savestate {
	struct savestate_config config;
	struct x86_vm_state vm;
	struct x86_vcpu_state *vcpus;
	struct savestate_legacy legacy;
	struct vm_devices_state *devices;
	/* The Xen platform (config.enlightenments X86_ENLIGHT_XEN only). */
	struct x86_xen_state xen;
	/* memory (read side): the section's header, bitmap and where the pages start */
	struct savestate_mem_hdr mem;
	uint8_t *bitmap;
	uint64_t mem_payload_off;    /* file offset of the memory section's payload */
	uint64_t mem_payload_len;    /* its length */
	uint32_t mem_crc;            /* its CRC32 */
	/* Device memory sections, by ascending entry index. Write side: index, p, len (the
	 * device's memory, read while the VM is stopped). Read side: index, len, and off and
	 * crc of the payload in the file (savestate_load_devmem reads it). */
	uint32_t nr_devmem;
	struct savestate_devmem {
		uint32_t index;
		uint64_t len;
		const uint8_t *p;
		uint64_t off;
		uint32_t crc;
	} devmem[VDEVS_MAX];
	/* The FIRMWARE section (has_fw 1): fw, then fw.vars_size bytes of the variable store.
	 * Write side: fw_vars points at them (the flash's array, read while the VM is
	 * stopped). Read side: fw_vars points at fw_vars_buf (owned, freed with s). */
	uint32_t has_fw;
	struct savestate_firmware fw;
	const uint8_t *fw_vars;
	uint8_t *fw_vars_buf;
	/* The RUN section. Write side: run points at its payload (run_len bytes,
	 * savestate_run_encode's; NULL: none), run_buf is freed with s. Read side: run_parsed
	 * holds its arguments (owned; n 0 for a file without the section). */
	const uint8_t *run;
	uint64_t run_len;
	uint8_t *run_buf;
	struct savestate_run run_parsed;
};

/* What a write produced, for the log and the control socket's reply. */
struct savestate_write_stats {
	uint64_t file_bytes;
	uint64_t mem_pages;          /* non-zero pages written */
};

/* Allocate an empty state for nr_cpus vCPUs (1..VM_MAX_VCPUS). 0 and *out (free with
 * savestate_free), -EINVAL or -ENOMEM. */
int savestate_alloc(uint32_t nr_cpus, struct savestate **out);
void savestate_free(struct savestate *s);

/* Write s and the guest RAM mem[0, s->config.mem_size) to fd (at its current position 0,
 * a new file) with large sequential writes; zero pages are left out. Does not fsync.
 * Returns 0 or -errno (the file is then incomplete: the caller removes it). */
int savestate_write(int fd, const struct savestate *s, const uint8_t *mem,
		    struct savestate_write_stats *stats);

/* Read and check everything in fd but the page data: the header (magic, version, layout),
 * each section's type, order, length and CRC, the values a plain check can refuse (vCPU
 * indices, MSR counts, FIFO indices, the memory section's counts against the bitmap, the
 * file's size). Returns 0 and *out (free with savestate_free), or -EINVAL (not a vsrv
 * save file, corrupt, truncated, another version), -ENOMEM, -EIO; *why then holds a
 * one-line reason (static string) for the error message. */
int savestate_read(int fd, struct savestate **out, const char **why);

/* Load the pages of s's memory section from fd into mem (mem_size bytes, all zero) and
 * check the section's CRC. On a CRC mismatch mem holds garbage: do not run it. Returns 0,
 * -EINVAL (*why set) or -EIO. */
int savestate_load_memory(int fd, const struct savestate *s, uint8_t *mem, const char **why);

/* Read device memory section k (< s->nr_devmem) of a file read by savestate_read into dst
 * (s->devmem[k].len bytes) and check its CRC. 0, -EINVAL (*why set: truncated, corrupt) or
 * -EIO. */
int savestate_load_devmem(int fd, const struct savestate *s, uint32_t k, uint8_t *dst,
			  const char **why);

/* The checks savestate_read makes on the sections but memory, for a state that came
 * another way (a migration stream, vmm/migrate_stream.h): s->config's ranges, the vCPUs'
 * MSR counts, the legacy devices' indices, DEVICES against CONFIG, FIRMWARE (when has_fw:
 * savestate_check_firmware, fw_vars set), XEN (for a Xen VM: x86_xen_state_check but the
 * addresses, which the restore checks against its RAM). 0 or -EINVAL and *why
 * (a static string). savestate_check_config checks CONFIG alone. */
int savestate_check(const struct savestate *s, const char **why);
int savestate_check_config(const struct savestate_config *c, const char **why);

/* A FIRMWARE section's fixed part against its section's length (version, size, the
 * variable store's size), and its device states as far as they can be checked without
 * the devices (q35_mch_state_check, pflash_state_check, fw_cfg_state_check, reserved
 * fields). 0, or -EINVAL and *why (a static string). */
int savestate_check_firmware(const struct savestate_firmware *fw, uint64_t section_len,
			     const char **why);

/* zlib's CRC32 over any length (c: 0 to start). */
uint32_t savestate_crc32(uint32_t c, const void *p, size_t n);

/* The DEVICES section's payload length for n device-table entries. */
uint64_t savestate_devices_len(uint32_t n);

/* The layout signature of this build (what the header carries). */
uint64_t savestate_layout(void);

/* pread exactly n bytes at off (retrying partial reads and EINTR): 0, -EINVAL when the
 * file ends before (truncated), -EIO. */
int savestate_pread_all(int fd, void *p, size_t n, uint64_t off);

/* Write all of iov[0..n) to fd, retrying partial writes and EINTR (iov is modified).
 * Returns 0, -EIO when fd takes nothing more, or -errno. */
int savestate_writev_all(int fd, struct iovec *iov, int n);

#endif
