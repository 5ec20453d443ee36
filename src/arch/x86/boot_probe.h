/* Kernel image probe: which of `vsrv run`'s loaders (boot.h) takes an image, decided from its
 * headers alone (no guest memory, no VM), so that `vsrv run` (x86_boot_load) and the server
 * (VM create and update) accept and refuse the same files with the same words. libc only. */
#ifndef VSRV_ARCH_X86_BOOT_PROBE_H
#define VSRV_ARCH_X86_BOOT_PROBE_H

#include <stddef.h>
#include <stdint.h>

enum x86_boot_kind {
	X86_BOOT_MULTIBOOT = 1, /* multiboot v1: ELF32/ELF64 with a header, or the a.out kludge */
	X86_BOOT_BZIMAGE,       /* Linux bzImage, boot protocol 2.12+ with a 64-bit entry */
	X86_BOOT_VMLINUX,       /* uncompressed Linux ELF64 vmlinux */
};

/* Probe the image img[0..len) (the caller's buffer, only read). Returns its kind, or
 * -ENOEXEC (not a kernel, or a malformed one) or -ENOTSUP (a kernel format this VMM cannot
 * boot) with one line in why saying what is wrong (without the file's name). What depends
 * on the VM (does it fit in its memory) is the loader's to check. */
int x86_boot_probe(const uint8_t *img, size_t len, char *why, size_t whylen);

/* Probe the regular file at path, mapped read-only for the call. Returns its kind or -errno
 * with one line in why (a file that cannot be opened or is not a regular file too). */
int x86_boot_probe_file(const char *path, char *why, size_t whylen);

/* The name of a kind: "multiboot", "bzImage", "vmlinux". */
const char *x86_boot_kind_name(int kind);

#endif
