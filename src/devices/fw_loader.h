/* The firmware's table loader script (fw_cfg file etc/table-loader), as QEMU writes it
 * (hw/acpi/bios-linker-loader.c) and SeaBIOS (src/fw/romfile_loader.c) and OVMF
 * (OvmfPkg/AcpiPlatformDxe) run it: 128-byte little-endian commands that make the firmware
 * allocate memory for fw_cfg files and copy them there (ALLOCATE), add the address a file
 * got to a pointer field inside another (ADD_POINTER), recompute a checksum byte after the
 * pointers changed (ADD_CHECKSUM), and write an allocated address back into a writable
 * fw_cfg file (WRITE_POINTER). So the VMM builds tables without knowing where they land.
 * libc only. */
#ifndef VSRV_DEVICES_FW_LOADER_H
#define VSRV_DEVICES_FW_LOADER_H

#include <stddef.h>
#include <stdint.h>

#define FW_LOADER_FILE         "etc/table-loader"
#define FW_LOADER_ENTRY_LEN    128
#define FW_LOADER_FILESZ       56     /* a file name, its NUL included */

#define FW_LOADER_ALLOCATE      1
#define FW_LOADER_ADD_POINTER   2
#define FW_LOADER_ADD_CHECKSUM  3
#define FW_LOADER_WRITE_POINTER 4

#define FW_LOADER_ZONE_HIGH     1     /* anywhere in RAM below 4 GiB */
#define FW_LOADER_ZONE_FSEG     2     /* the BIOS F segment (0xF0000-0xFFFFF): the RSDP */

/* Offsets of the fields in a command (after the le32 command at 0). */
#define FW_LOADER_ALLOC_FILE    4     /* char[56] */
#define FW_LOADER_ALLOC_ALIGN   60    /* le32, a power of two */
#define FW_LOADER_ALLOC_ZONE    64    /* u8 */
#define FW_LOADER_PTR_DEST      4     /* char[56] */
#define FW_LOADER_PTR_SRC       60    /* char[56] */
#define FW_LOADER_PTR_OFFSET    116   /* le32: the field's offset in dest */
#define FW_LOADER_PTR_SIZE      120   /* u8: 1, 2, 4 or 8 */
#define FW_LOADER_CKSUM_FILE    4     /* char[56] */
#define FW_LOADER_CKSUM_OFFSET  60    /* le32: the checksum byte */
#define FW_LOADER_CKSUM_START   64    /* le32 */
#define FW_LOADER_CKSUM_LENGTH  68    /* le32 */
#define FW_LOADER_WP_DEST       4     /* char[56]: a writable fw_cfg file */
#define FW_LOADER_WP_SRC        60    /* char[56] */
#define FW_LOADER_WP_DST_OFFSET 116   /* le32 */
#define FW_LOADER_WP_SRC_OFFSET 120   /* le32 */
#define FW_LOADER_WP_SIZE       124   /* u8 */

/* A script being written. Zero-initialise it; free with fw_loader_free. An error (bad
 * argument, no memory) is also kept: fw_loader_error returns the first. */
struct fw_loader {
	uint8_t *p;        /* the commands, len bytes (a multiple of FW_LOADER_ENTRY_LEN) */
	size_t len, cap;
	int err;
};

/* Each returns 0, or -EINVAL (a name empty or longer than 55 characters, an alignment not a
 * power of two, a zone or pointer size not listed above) or -ENOMEM. */
int fw_loader_allocate(struct fw_loader *l, const char *file, uint32_t align, uint8_t zone);
/* dest[offset..offset+size) += the address src was allocated at. */
int fw_loader_add_pointer(struct fw_loader *l, const char *dest, uint32_t offset,
			  uint8_t size, const char *src);
/* file[offset] -= the sum of file[start..start+length). */
int fw_loader_add_checksum(struct fw_loader *l, const char *file, uint32_t offset,
			   uint32_t start, uint32_t length);
/* fw_cfg file dest[dst_offset..+size) = the address of src + src_offset (the firmware writes
 * it by fw_cfg DMA). */
int fw_loader_write_pointer(struct fw_loader *l, const char *dest, uint32_t dst_offset,
			    uint8_t size, const char *src, uint32_t src_offset);

static inline int fw_loader_error(const struct fw_loader *l) { return l->err; }
void fw_loader_free(struct fw_loader *l);

#endif
