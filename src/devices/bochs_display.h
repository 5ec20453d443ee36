/* bochs-display: QEMU's PCI display without VGA (1234:1111, class 0x0380, revision 2), as
 * Linux's bochs DRM driver, SeaBIOS's vgabios-bochs-display and OVMF's QemuVideoDxe drive it.
 *   BAR0  the linear framebuffer (VRAM: a power of two, 4..256 MiB; prefetchable MEM32).
 *         On a VM with KVM it is host memory mapped into the guest as a KVM memory slot
 *         while memory decoding is on (moved with the BAR), with KVM's dirty page log; on a
 *         VM without KVM (tests) its bus handler reads and writes VRAM.
 *   BAR2  4 KiB of registers: 0x000-0x3ff an EDID 1.4 blob (read-only), 0x500-0x517 the
 *         DISPI (VBE) registers, 16 bits each (index (off - 0x500) / 2), 0x600-0x607 QEMU's
 *         extended registers (0x600: their size, 8; 0x604: framebuffer endianness,
 *         0x1e1e1e1e little, 0xbebebebe big).
 *   ROM   the expansion ROM BAR with the video BIOS (Debian's vgabios-bochs-display.bin).
 *
 * The registers hold what the guest wrote (as QEMU's bochs-display: no fix-ups); the mode
 * is derived from them whenever it is asked for, and a mode that does not fit VRAM (or a
 * depth or endianness the display cannot show) is no mode: the display is blank. Nothing
 * is ever read or written outside VRAM.
 *
 * Threads: register and BAR accesses come from vCPU threads, the struct display callbacks
 * (vmm/display.h) from the control loop's; the device's lock serialises them. The PCI host's
 * lock is taken before the device's (the BAR hooks). */
#ifndef VSRV_DEVICES_BOCHS_DISPLAY_H
#define VSRV_DEVICES_BOCHS_DISPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/pci.h"
#include "vmm/display.h"

#define BOCHS_VENDOR 0x1234
#define BOCHS_DEVICE 0x1111
#define BOCHS_CLASS 0x038000 /* display controller, other */
#define BOCHS_MMIO_SIZE 0x1000
#define BOCHS_EDID_OFF 0x000
#define BOCHS_EDID_SIZE 0x400
#define BOCHS_DISPI_OFF 0x500
#define BOCHS_QEXT_OFF 0x600
#define BOCHS_VRAM_MIN (4u << 20)
#define BOCHS_VRAM_MAX (256u << 20)
#define BOCHS_VRAM_DEFAULT (16u << 20)

/* DISPI register indexes and values (the Bochs VBE interface). */
enum {
	DISPI_ID, DISPI_XRES, DISPI_YRES, DISPI_BPP, DISPI_ENABLE, DISPI_BANK,
	DISPI_VIRT_WIDTH, DISPI_VIRT_HEIGHT, DISPI_X_OFFSET, DISPI_Y_OFFSET,
	DISPI_VIDEO_MEMORY_64K, DISPI_NREGS
};
#define DISPI_ID0 0xb0c0
#define DISPI_ID5 0xb0c5
#define DISPI_ENABLED 0x01
#define DISPI_GETCAPS 0x02
#define DISPI_8BIT_DAC 0x20
#define DISPI_LFB_ENABLED 0x40
#define DISPI_NOCLEARMEM 0x80
#define DISPI_MAX_XRES 16000 /* what GETCAPS reports, as QEMU's VGA */
#define DISPI_MAX_YRES 12000
#define DISPI_MAX_BPP 32
#define BOCHS_LE 0x1e1e1e1eu
#define BOCHS_BE 0xbebebebeu

/* Where the device maps its framebuffer (the device kind gives the VM's memory slots). */
struct bochs_display_host {
	/* Map VRAM ([host, host + size)) at gpa with dirty logging, or remove the mapping
	 * (size 0). 0 or -errno (then BAR0 accesses go through the bus handler). NULL: never
	 * mapped (tests). */
	int (*map)(void *ctx, uint64_t gpa, uint64_t size, void *host);
	/* The dirty log of the mapping: bits set per 4 KiB page of VRAM, log cleared. */
	int (*dirty)(void *ctx, uint64_t *bitmap);
	void *ctx;
};

/* Everything save/restore keeps but VRAM's contents (see docs/display.md). */
struct bochs_display_state {
	uint32_t magic;              /* BOCHS_STATE_MAGIC */
	uint32_t vram_size;          /* must equal the device's */
	uint16_t dispi[16];          /* DISPI_NREGS used */
	uint32_t big_endian;         /* 0 or 1 */
	uint32_t reserved;
	uint8_t pci_cfg[PCI_CFG_SIZE];
};
#define BOCHS_STATE_MAGIC 0x53484342u /* "BCHS" */

struct bochs_display;

/* Create a bochs-display with vram_size bytes of VRAM (a power of two, BOCHS_VRAM_MIN..
 * BOCHS_VRAM_MAX: else -EINVAL), the video BIOS rom (rom_len bytes, copied; NULL: no ROM
 * BAR) and host (copied; NULL: no mapping). Its PCI function (bochs_display_pci) is ready to
 * be added to a host bridge. 0 and *out (free with bochs_display_destroy), or -errno. */
int bochs_display_create(uint32_t vram_size, const uint8_t *rom, size_t rom_len,
			 const struct bochs_display_host *host, struct bochs_display **out);
/* Free (the PCI function must be off its host bridge, the display unregistered from the
 * VM). NULL allowed. */
void bochs_display_destroy(struct bochs_display *b);
struct pci_dev *bochs_display_pci(struct bochs_display *b);
/* The screen (vmm/display.h), valid for the device's life. */
const struct display *bochs_display_display(struct bochs_display *b);

/* The BARs' bus handlers (offset inside the BAR), for tests and the fuzz target. */
void bochs_display_fb_io(void *b, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
void bochs_display_mmio(void *b, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
/* VRAM itself (tests: the guest's view of the framebuffer) and its size. */
uint8_t *bochs_display_vram(struct bochs_display *b, size_t *len);
/* Whether VRAM is mapped as memory now (tests). */
bool bochs_display_mapped(struct bochs_display *b);

/* Save the registers and config space: 0. Restore them into a device created with the same
 * VRAM size: -EINVAL (device unchanged) when the state is not one this device could be in,
 * else 0. _check: what restore would refuse, without side effects. */
int bochs_display_save(struct bochs_display *b, struct bochs_display_state *st);
int bochs_display_check(struct bochs_display *b, const struct bochs_display_state *st);
int bochs_display_restore(struct bochs_display *b, const struct bochs_display_state *st);

/* The 128-byte EDID 1.4 block the device shows (bochs_display_edid.c): a "VSRV display"
 * preferring 1280x800 at 60 Hz, with the established and standard modes firmware and Linux
 * offer (640x480 up to 1920x1080). */
#define BOCHS_EDID_PREF_W 1280
#define BOCHS_EDID_PREF_H 800
void bochs_display_edid(uint8_t edid[128]);

#endif
