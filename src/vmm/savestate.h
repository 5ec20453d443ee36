/* Saving a VM to a file and restoring it (`{"cmd":"save"}` on the control socket, `vsrv run
 * --restore FILE`). The file format is savestate_file.h's (docs/savestate.md); this module
 * gathers the state of a stopped VM (KVM's irqchip, PIT and clock, every vCPU, the legacy
 * devices, the virtio devices with their transports, guest memory) and loads it into a VM
 * built from the same configuration.
 *
 * Save: the caller parks the vCPUs and quiesces the devices (vm_devices_quiesce) first, and
 * afterwards either resumes both (a checkpoint, or an error) or ends the VM, keeping the
 * devices quiesced so nothing more is taken from the rings (the file holds the truth).
 *
 * Restore: vm_restore_open reads and checks the file (and its memory size and vCPU count
 * against the configuration), vm_create builds the VM with cfg->restore set (nothing is
 * booted), vm_restore_load checks the devices and loads everything; then vm_run. */
#ifndef VSRV_VMM_SAVESTATE_H
#define VSRV_VMM_SAVESTATE_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct vm_config;
struct vm_restore;

struct vm_save_result {
	uint64_t file_bytes;  /* size of the file written */
	uint64_t mem_pages;   /* non-zero 4 KiB pages in it */
	double seconds;       /* from the start of the save to the file's rename */
};

/* Write vm's whole state to a new file at path: a temporary file in the same directory
 * (mode 0600), fsync'd, then renamed over path, and the directory fsync'd; on any error
 * the temporary file is removed and path is untouched. vm's vCPUs must be parked (or not
 * started) and its devices quiesced. Main thread (the control loop). Returns 0 and *res,
 * or -errno with a one-line reason in err (also logged). */
int vm_save(struct vm *vm, const char *path, struct vm_save_result *res, char *err,
	    size_t errlen);

/* Open and check the save file path for a VM configured as cfg (its memory size and vCPU count
 * must match, and it has --firmware exactly when the file has a FIRMWARE section). Returns 0
 * and *out (free with vm_restore_close), or -errno after logging one line naming the file and
 * the reason. */
int vm_restore_open(const char *path, const struct vm_config *cfg, struct vm_restore **out);

/* Load the opened file into vm (built by vm_create from cfg with cfg->restore set, vCPUs
 * not started): checks that its devices match the file's (kinds and transports, in order),
 * loads guest memory, the in-kernel irqchip/PIT/clock, the vCPUs, the legacy and the virtio
 * devices. Guest memory is mapped from the file lazily (vmm/savestate_map.h) and its CRC
 * checked by a thread of vm's (vm->memcheck) that stops the VM with code 1 on a mismatch;
 * with cfg->restore_read it is read and checked here instead. Returns 0, or -errno after
 * logging (then destroy vm: it may be half loaded). */
int vm_restore_load(struct vm_restore *r, struct vm *vm);

/* The memory check of a lazy restore: _start checks the CRC of the memory section of s
 * (from savestate_read on fd; fd is duplicated, s and path copied) on a thread of its own at
 * the idle priority, reading the file, and on a mismatch logs "--restore PATH: the guest
 * memory is corrupt (CRC mismatch): the VM stops" and stops vm with code 1. It is vm's
 * (vm->memcheck): 0 or -errno. _stop stops and joins it, closes its file and frees; NULL
 * is allowed. The VM's memory level calls it before unmapping guest memory. */
struct vm_memcheck;
struct savestate;
int vm_memcheck_start(struct vm *vm, int fd, const struct savestate *s, const char *path);
void vm_memcheck_stop(struct vm_memcheck *c);

/* Close the file and free. NULL is allowed. */
void vm_restore_close(struct vm_restore *r);

/* The pieces of a save and a restore, for live migration (vmm/migrate.h), which moves
 * the same state over a stream instead of a file. */
struct savestate;
struct savestate_config;

/* Gather everything but guest memory into s (allocated for vm->nr_vcpus): CONFIG, the
 * irqchip/PIT/clock, every vCPU, the legacy and the virtio devices, and for a VM booted
 * with --firmware its FIRMWARE section (x86_firmware_save; s->fw_vars then points at the
 * flash's array). Same conditions as
 * vm_save. 0, or -errno with a one-line reason in err. */
int vm_save_collect(struct vm *vm, struct savestate *s, char *err, size_t errlen);

/* vm's devices against a saved configuration (count, kinds, transports in order, a PCI
 * bridge or not). 0, or -EINVAL after logging "LABEL: ..." naming the difference. */
int vm_restore_check_devices(struct vm *vm, const struct savestate_config *c,
			     const char *label);

/* Load everything of s but memory into vm (vCPUs not started; s checked by savestate_read or
 * savestate_check): the firmware layout (a VM booted with --firmware: x86_firmware_restore; s
 * must have a FIRMWARE section exactly when vm has a firmware), the VM-wide state, the vCPUs,
 * the legacy and virtio devices. 0, or -errno after logging "LABEL: ..." (then destroy vm). s
 * stays the caller's. */
int vm_restore_state(struct vm *vm, const struct savestate *s, const char *label);

/* The device memory of a save (a display's VRAM): _collect points s->devmem at every
 * device-table entry's (vm_save_collect calls it; the memory is read when the file is
 * written, with the VM stopped). _restore reads a file's device memory sections (fd, s from
 * savestate_read) into vm's devices, whose sizes must be the saved ones: 0, or -errno
 * after logging "LABEL: ...". A live migration does not carry device memory yet. */
void vm_save_collect_devmem(struct vm *vm, struct savestate *s);
int vm_restore_devmem(struct vm *vm, int fd, const struct savestate *s, const char *label);

#endif
