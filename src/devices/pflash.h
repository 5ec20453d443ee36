/* CFI parallel flash, Intel/Sharp command set, 8 bits wide: the UEFI variable store OVMF
 * finds below its code at the top of 4 GiB (OvmfPkg/QemuFlashFvbServicesRuntimeDxe), over
 * a per-VM vars file (Debian's OVMF_VARS_4M.fd layout: 528 KiB, 132 blocks of 4 KiB).
 *
 * Reads in read-array mode are plain memory: pflash_array() is a read-only shared mapping
 * of the file that the VMM maps into the guest while pflash_in_array_mode() (it is told of
 * every change through the mode callback); in every other mode, and for writes always,
 * accesses trap to pflash_io. Commands (the byte written; the address matters only for
 * program, erase, read ID and CFI query):
 *   0xFF read array      0x70 read status      0x50 clear status (then read array)
 *   0x10/0x40 program: the next write's bytes (1 to 8) are stored at its address as
 *                      written, as QEMU's pflash_cfi01 does (NOR flash would only clear
 *                      bits; OVMF, developed against QEMU, erases before it writes)
 *   0x20 + 0xD0 block erase: the 4 KiB block of the confirm's address becomes 0xFF
 *   0x90 read ID: 0x89 (Intel) at 0, PFLASH_DEVICE_ID at 1, lock status 0 at 2 of a block
 *   0x98 CFI query: "QRY", command set 0x0001, the device size, one erase-block region
 *                   (blocks x 4 KiB) and the "PRI" 1.0 extended table at 0x31
 * Status register: 0x80 ready (set by a program or erase; 0x50 clears it, as OVMF's
 * flash probe expects: 0x50, then 0x70 must read 0x00), 0x10 program error (a program
 * beyond the device's end), 0x30 command sequence error (an unknown command, or an erase
 * setup not followed by 0xD0 or 0xFF); an error also returns to read array. Status and
 * pending modes (program, erase) read the status register, as Intel parts and QEMU do:
 * after a program or an erase the device stays in read-status mode until a command (OVMF
 * writes 0xFF at the end of QemuFlashWrite; after QemuFlashEraseBlock its next access is
 * a program).
 *
 * Persistence: every program and erase is written to the file at once (pwrite; the
 * mapping shares the page cache, so it shows the change) and made durable (fdatasync)
 * before the device answers the guest's next command that is not a program or erase
 * setup: OVMF ends each write with 0xFF, so a host crash after OVMF's write returned keeps
 * it, while a run of byte programs costs one sync. pflash_flush and pflash_close sync too.
 * This is the one device whose handler waits for the disk (on the writing vCPU's thread):
 * variable writes are rare (a few per boot), and the guest must not see its write
 * complete before it is durable.
 *
 * Threads: pflash_io runs on vCPU threads; one mutex serialises it. The mode callback
 * runs under that mutex and must not call back into the device. */
#ifndef VSRV_DEVICES_PFLASH_H
#define VSRV_DEVICES_PFLASH_H

#include <stdbool.h>
#include <stdint.h>

struct pflash;

#define PFLASH_BLOCK_SIZE 4096u
#define PFLASH_MAX_SIZE   (64u << 20)
#define PFLASH_MANUFACTURER 0x89
#define PFLASH_DEVICE_ID    0x18
#define PFLASH_VARS_TEMPLATE "/usr/share/OVMF/OVMF_VARS_4M.fd"

/* Status register bits */
#define PFLASH_SR_READY     0x80
#define PFLASH_SR_ERASE_ERR 0x20
#define PFLASH_SR_PROG_ERR  0x10

enum pflash_mode {
	PFLASH_READ_ARRAY,
	PFLASH_READ_STATUS,
	PFLASH_READ_ID,
	PFLASH_CFI_QUERY,
	PFLASH_PROGRAM,     /* 0x10/0x40 seen: the next write is data */
	PFLASH_ERASE,       /* 0x20 seen: the next write must be 0xD0 */
	PFLASH_MODE_COUNT,
};

/* The device's whole state besides the array (which is the file). */
struct pflash_state {
	uint8_t mode;       /* enum pflash_mode */
	uint8_t status;     /* status register */
	uint8_t reserved[6];
};

/* Told that the device entered (array true) or left read-array mode: map or unmap the
 * array in the guest. Runs on a vCPU thread under the device's lock. */
typedef void (*pflash_mode_fn)(void *opaque, bool array);

/* Open the vars file path read-write, locked (an open-file-description write lock over the
 * whole file, F_OFD_SETLK, as the disks' locks): a file another VM uses gives -EBUSY. When
 * path does not exist and template is not NULL, path is first created as a copy of template
 * (through a temporary file in the same directory, synced, then linked into place, so a crash
 * leaves either no file or a whole one). The size must be a non-zero multiple of
 * PFLASH_BLOCK_SIZE up to PFLASH_MAX_SIZE (else -EINVAL). on_mode (or NULL) is called with
 * opaque on every change of mode. The device starts in read-array mode with status READY.
 * Returns 0 and *out (free with pflash_close), or -errno after logging one line naming the
 * file. */
int pflash_open(const char *path, const char *template_path, pflash_mode_fn on_mode,
		void *opaque, struct pflash **out);

/* The same without taking the lock (a migration's destination, whose source still holds
 * the file: pflash_lock takes it when the source lets go). */
int pflash_open_unlocked(const char *path, const char *template_path, pflash_mode_fn on_mode,
			 void *opaque, struct pflash **out);

/* Take (on) the file's lock, as pflash_open does: 0 or -EBUSY (another VM holds it,
 * logged); or sync and let go of it (!on: 0, or the sync's -errno, the lock released
 * anyway). Any thread, the vCPUs stopped. */
int pflash_lock(struct pflash *pf, bool on);

/* Sync, unmap, unlock, close and free. NULL is allowed. */
void pflash_close(struct pflash *pf);

/* The array: size bytes, read-only, shared with the file. Valid until pflash_close. */
const uint8_t *pflash_array(struct pflash *pf);
uint64_t pflash_size(struct pflash *pf);
bool pflash_in_array_mode(struct pflash *pf);

/* The guest's access at offset off in the device (a bus_io_fn: register it over the
 * device's guest range). Reads past the end give 0xFF; a write that starts in the device
 * is a command (its first byte) or, after a program setup, data. */
void pflash_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

/* Make every program and erase so far durable. 0 or -errno (logged). */
int pflash_flush(struct pflash *pf);

void pflash_save(struct pflash *pf, struct pflash_state *st);
/* 0 when st is a state a device can be in, else -EINVAL (what pflash_restore refuses). */
int pflash_state_check(const struct pflash_state *st);
/* Make the array (the file) hold data[0..len) (a saved VM's variable store): the blocks
 * that differ are written and the file synced before it returns. len must be the device's
 * size (else -EINVAL, nothing written). Main thread, the vCPUs stopped. 0 or -errno
 * (logged; the file may then hold some blocks of each). */
int pflash_load_array(struct pflash *pf, const uint8_t *data, uint64_t len);
/* Returns 0 (the mode callback is told the restored mode), or -EINVAL for a state no
 * device can be in (unknown mode, status bits it never sets, reserved bytes). */
int pflash_restore(struct pflash *pf, const struct pflash_state *st);

#endif
