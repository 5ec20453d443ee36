/* QEMU-compatible firmware configuration device (fw_cfg), as SeaBIOS and OVMF find it on
 * x86 (QEMU's docs/specs/fw_cfg.rst):
 *   0x510  selector, 16-bit write: selects an item and rewinds its offset
 *   0x511  data, 8-bit read: the selected item's next byte (0 past its end); writes ignored
 *          (a byte read at 0x510 reads data too, as in QEMU)
 *   0x514  DMA address, two 32-bit big-endian halves (0x514 high, 0x518 low): writing the
 *          low half runs the transfer described at that guest address (a 64-bit write at
 *          0x514, possible over MMIO, too); reads give the signature "QEMU CFG"
 * Items: legacy keys below 0x20 (0x00 "QEMU", 0x01 the interface ID: traditional + DMA,
 * 0x19 the file directory, and whatever the platform adds: RAM size, CPU counts...), arch
 * keys 0x8000-0x801f, and named files from key 0x20, kept sorted by name as QEMU does (file
 * i of the directory has key 0x20 + i).
 *
 * DMA: the access at the DMA address is {be32 control, be32 length, be64 address};
 * control holds ERROR, READ, SKIP, SELECT (the key in bits 16-31) and WRITE. The device
 * writes the control word back: 0 when done, ERROR when the access struct or a data range
 * is not guest RAM (outside it, straddling the 32-bit hole, overflowing, wrapping), when a
 * write goes to a read-only item, past an item's end or to a key that has no item. As in
 * QEMU, reading a key that has no item, or past an item's end, gives zeros without an
 * error: SeaBIOS reads absent legacy keys (NUMA, ACPI_TABLES, SMBIOS_ENTRIES, E820_TABLE)
 * and relies on getting 0. A failed transfer stops at the failing range. The guest never
 * makes the VMM crash or hang: every range is checked against guest RAM before a byte moves.
 *
 * Threads: the port handlers run on vCPU threads; one mutex serialises them. Items are
 * added by the platform before the vCPUs run (main thread). */
#ifndef VSRV_DEVICES_FW_CFG_H
#define VSRV_DEVICES_FW_CFG_H

#include <stdbool.h>
#include <stdint.h>

struct device_host;
struct guest_mem;
struct fw_cfg;

#define FW_CFG_PORT_SEL    0x510
#define FW_CFG_PORT_DATA   0x511
#define FW_CFG_PORT_DMA    0x514   /* 8 bytes: 0x514 high half, 0x518 low half */

/* Keys (QEMU's include/standard-headers/linux/qemu_fw_cfg.h). */
#define FW_CFG_SIGNATURE   0x00
#define FW_CFG_ID          0x01
#define FW_CFG_UUID        0x02
#define FW_CFG_RAM_SIZE    0x03
#define FW_CFG_NOGRAPHIC   0x04
#define FW_CFG_NB_CPUS     0x05
#define FW_CFG_BOOT_MENU   0x0e
#define FW_CFG_MAX_CPUS    0x0f
#define FW_CFG_FILE_DIR    0x19
#define FW_CFG_FILE_FIRST  0x20
#define FW_CFG_ARCH_LOCAL  0x8000
#define FW_CFG_LEGACY_MAX  0x20    /* legacy and arch keys: below this, after the flag */
#define FW_CFG_MAX_FILES   256
#define FW_CFG_NAME_MAX    56      /* a file name, its NUL included */

/* FW_CFG_ID bits */
#define FW_CFG_VERSION     0x01
#define FW_CFG_VERSION_DMA 0x02

/* DMA control bits */
#define FW_CFG_DMA_ERROR   0x01
#define FW_CFG_DMA_READ    0x02
#define FW_CFG_DMA_SKIP    0x04
#define FW_CFG_DMA_SELECT  0x08
#define FW_CFG_DMA_WRITE   0x10

#define FW_CFG_DMA_SIGNATURE "QEMU CFG"

/* The device's whole guest-visible state. Item contents are not part of it: they are
 * regenerated from the VM's configuration (a writable item's owner saves what the guest
 * wrote into it, as QEMU's ramfb does). */
struct fw_cfg_state {
	uint16_t selector;  /* the key last selected (as written: flags included) */
	uint16_t reserved;  /* 0 */
	uint32_t offset;    /* next byte of the selected item */
	uint64_t dma_addr;  /* the DMA address being written (high half first) */
};

/* Called after the guest wrote len bytes at off into a writable item: data is the item's
 * whole content (the device's copy). Runs on the vCPU thread with the device's lock held:
 * it must not call back into the device. */
typedef void (*fw_cfg_write_fn)(void *opaque, const uint8_t *data, uint32_t off, uint32_t len);

/* Register the ports on h->pio; DMA goes to mem. Both are the VM's and must outlive the
 * device. Keys 0x00, 0x01 and the (empty) directory exist from the start. Returns 0 and
 * *out (free with fw_cfg_destroy), or -errno. */
int fw_cfg_create(const struct device_host *h, struct guest_mem *mem, struct fw_cfg **out);

/* Unregister the ports and free the device and its items. NULL is allowed. */
void fw_cfg_destroy(struct fw_cfg *fw);

/* Set legacy or arch key (below FW_CFG_LEGACY_MAX, with or without FW_CFG_ARCH_LOCAL; not
 * 0x00, 0x01 or 0x19, which the device owns) to a copy of data[0..len). Replaces a previous
 * value. Returns 0, -EINVAL or -ENOMEM. */
int fw_cfg_add_item(struct fw_cfg *fw, uint16_t key, const void *data, uint32_t len);
int fw_cfg_add_i16(struct fw_cfg *fw, uint16_t key, uint16_t v);   /* little-endian */
int fw_cfg_add_i32(struct fw_cfg *fw, uint16_t key, uint32_t v);
int fw_cfg_add_i64(struct fw_cfg *fw, uint16_t key, uint64_t v);

/* Add the file name (1..55 characters) with a copy of data[0..len) (the device owns the
 * copy; data may be NULL when len is 0). Files get keys in name order, so keys of files
 * added earlier may move: add files before the guest runs. Returns 0, -EINVAL (bad name),
 * -EEXIST (a file of that name exists), -ENOSPC (FW_CFG_MAX_FILES) or -ENOMEM. */
int fw_cfg_add_file(struct fw_cfg *fw, const char *name, const void *data, uint32_t len);

/* The same for a file the guest may write by DMA (a write must stay inside the file);
 * on_write (or NULL) is told of each write. */
int fw_cfg_add_file_writable(struct fw_cfg *fw, const char *name, const void *data,
			     uint32_t len, fw_cfg_write_fn on_write, void *opaque);

/* The key of file name, or -ENOENT. */
int fw_cfg_file_key(struct fw_cfg *fw, const char *name);

/* Copy up to max bytes of file name's current content into buf. Returns the file's size
 * (which may exceed max) or -ENOENT. Any thread. */
int fw_cfg_file_read(struct fw_cfg *fw, const char *name, void *buf, uint32_t max);

/* Back to the power-on state: key 0 selected, offset and DMA address 0. */
void fw_cfg_reset(struct fw_cfg *fw);

/* What the items hold, to compare the device a saved VM had with one rebuilt from the
 * configuration: *crc is zlib's CRC32 over every present item in key order (legacy, arch,
 * files; per item its key and length, little-endian, then its bytes), *items their count.
 * Any thread. */
void fw_cfg_digest(struct fw_cfg *fw, uint32_t *crc, uint32_t *items);

void fw_cfg_save(struct fw_cfg *fw, struct fw_cfg_state *st);
/* 0 when st is a state the device can be in, else -EINVAL (reserved bits set). */
int fw_cfg_state_check(const struct fw_cfg_state *st);
/* Returns 0, or -EINVAL for a state no device can be in (reserved bits set). */
int fw_cfg_restore(struct fw_cfg *fw, const struct fw_cfg_state *st);

#endif
