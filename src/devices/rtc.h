/* CMOS RTC (MC146818) at ports 0x70/0x71: the host's time (UTC) in BCD or binary, 12 or
 * 24 hours as register B says, the update-in-progress flag, the guest's own clock offset
 * when it sets the time, the memory-size bytes of a PC's CMOS, and its interrupts on IRQ 8:
 * periodic (register A's rate), update-ended and alarm, with their flags in register C
 * (set whether or not enabled, cleared by reading C). The timers run on the VM's control
 * loop (device_host.loop), only while an interrupt is enabled. */
#ifndef VSRV_DEVICES_RTC_H
#define VSRV_DEVICES_RTC_H

#include <stdint.h>

struct device_host;
struct rtc;

struct rtc_state {
	uint8_t index;      /* selected register (bit 7, NMI disable, stripped) */
	uint8_t cmos[128];  /* non-time registers (C: the pending interrupt flags) and RAM */
	int64_t offset;     /* guest time minus host time, seconds */
};

/* Register ports 0x70-0x71 on h->pio (with h->loop: the interrupt timers there; without,
 * the flags are for polling only and no interrupt is raised) and fill the memory-size bytes for low_ram bytes of
 * RAM below 4 GiB and high_ram above. 0 and *out, or -errno. */
int rtc_create(const struct device_host *h, uint64_t low_ram, uint64_t high_ram,
	       struct rtc **out);
/* CMOS bytes a PC BIOS reads (firmware boot only; SeaBIOS, OVMF), besides the memory
 * sizes rtc_create fills: 0x15/0x16 base memory (640 KiB), 0x17/0x18 and 0x30/0x31 KiB
 * from 1 MiB to the end of low RAM (at most 0xffff), 0x34/0x35 64 KiB units from 16 MiB
 * to the end of low RAM (at most 0xffff), 0x5b-0x5d 64 KiB units above 4 GiB. */
#define CMOS_FLOPPY     0x10
#define CMOS_DISK       0x12
#define CMOS_EQUIPMENT  0x14
#define CMOS_CHECKSUM   0x2e   /* big-endian sum of 0x10-0x2d */
#define CMOS_BOOT3      0x38   /* bits 7:4 the third boot device, bit 0 no floppy check */
#define CMOS_BOOT12     0x3d   /* bits 3:0 the first, 7:4 the second */
#define CMOS_SMP_COUNT  0x5f   /* CPUs - 1 (SeaBIOS waits for that many APs) */
#define CMOS_BOOT_HD    2
#define CMOS_BOOT_CD    3
#define CMOS_BOOT_NET   4
/* Fill them for a VM of ncpus: no floppy or IDE disk types, the equipment byte (FPU,
 * PS/2 mouse), the boot order hard disk, CD-ROM, network, the CPU count, the checksum. */
void rtc_cmos_firmware(struct rtc *r, unsigned ncpus);
/* The BIOS boot order (0x3d, 0x38 bits 7:4, QEMU's -boot order): order[i] is the i-th
 * device to try, 1 floppy, 2 hard disk, 3 CD-ROM, 4 network, 0 none (SeaBIOS reads it when
 * fw_cfg has no bootorder file). After rtc_cmos_firmware. */
void rtc_cmos_boot_order(struct rtc *r, const uint8_t order[3]);
void rtc_destroy(struct rtc *r);
void rtc_save(struct rtc *r, struct rtc_state *st);
int rtc_restore(struct rtc *r, const struct rtc_state *st);
/* Periodic ticks so far, and how many of them found the last one not yet acknowledged
 * (register C not read): lost to the guest, as QEMU's coalesced RTC interrupts. */
void rtc_counters(struct rtc *r, uint64_t *ticks, uint64_t *coalesced);
/* The periodic interrupt's period for a register A value, in ns: 2^(RS-1) cycles of
 * 32.768 kHz (RS 1 and 2: 256 and 128 Hz), 0 for RS 0 or a divider other than 010. */
int64_t rtc_period_ns(uint8_t reg_a);

#endif
