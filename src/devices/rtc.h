/* CMOS RTC (MC146818) at ports 0x70/0x71: the host's time (UTC) in BCD or binary, 12 or
 * 24 hours as register B says, the update-in-progress flag, the guest's own clock offset
 * when it sets the time, and the memory-size bytes of a PC's CMOS. No RTC interrupts. */
#ifndef VSRV_DEVICES_RTC_H
#define VSRV_DEVICES_RTC_H

#include <stdint.h>

struct device_host;
struct rtc;

struct rtc_state {
	uint8_t index;      /* selected register (bit 7, NMI disable, stripped) */
	uint8_t cmos[128];  /* non-time registers and CMOS RAM */
	int64_t offset;     /* guest time minus host time, seconds */
};

/* Register ports 0x70-0x71 on h->pio and fill the memory-size bytes for low_ram bytes of
 * RAM below 4 GiB and high_ram above. 0 and *out, or -errno. */
int rtc_create(const struct device_host *h, uint64_t low_ram, uint64_t high_ram,
	       struct rtc **out);
void rtc_destroy(struct rtc *r);
void rtc_save(struct rtc *r, struct rtc_state *st);
int rtc_restore(struct rtc *r, const struct rtc_state *st);

#endif
