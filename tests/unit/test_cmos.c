/* Unit tests of the CMOS NVRAM bytes a firmware reads (devices/rtc.c), through ports
 * 0x70/0x71 and decoded the way OVMF (PlatformInitLib: 0x34/0x35 + 16 MiB below 4 GiB,
 * 0x5b-0x5d above) and SeaBIOS (0x5f CPU count, boot order 0x3d/0x38, the checksum) read
 * them; direct boot's bytes as before; random port traffic; save and restore. */
#include "check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/host.h"
#include "devices/rtc.h"
#include "vmm/bus.h"

struct rig {
	struct bus pio;
	struct device_host host;
	struct rtc *rtc;
};

static void rig_init(struct rig *r, uint64_t low, uint64_t high)
{
	memset(r, 0, sizeof(*r));
	bus_init(&r->pio);
	r->host.pio = &r->pio;
	if (rtc_create(&r->host, low, high, &r->rtc))
		abort();
}

static void rig_free(struct rig *r)
{
	rtc_destroy(r->rtc);
	bus_destroy(&r->pio);
}

static uint8_t cmos(struct rig *r, uint8_t idx)
{
	uint8_t v = 0x5a;

	bus_dispatch(&r->pio, 0x70, &idx, 1, true);
	bus_dispatch(&r->pio, 0x71, &v, 1, false);
	return v;
}

static unsigned cmos16(struct rig *r, uint8_t idx)
{
	return cmos(r, idx) | (unsigned)cmos(r, idx + 1) << 8;
}

/* OVMF's PlatformGetSystemMemorySizeBelow4gb / ...Above4gb (the CMOS fallback). */
static uint64_t ovmf_below_4g(struct rig *r)
{
	return ((uint64_t)cmos16(r, 0x34) << 16) + (16ULL << 20);
}

static uint64_t ovmf_above_4g(struct rig *r)
{
	return ((uint64_t)cmos(r, 0x5d) << 32) | ((uint64_t)cmos(r, 0x5c) << 24) |
	       ((uint64_t)cmos(r, 0x5b) << 16);
}

static void test_memory_sizes(void)
{
	struct rig r;

	/* q35 layout: RAM below the ECAM at 0xb0000000, 4 GiB above */
	rig_init(&r, 0xb0000000ULL, 4ULL << 30);
	CHECK_EQ(cmos16(&r, 0x15), 640);
	CHECK_EQ(cmos16(&r, 0x17), 0xffff);          /* KiB above 1 MiB, capped */
	CHECK_EQ(cmos16(&r, 0x30), 0xffff);
	CHECK_EQ(cmos16(&r, 0x34), (0xb0000000ULL - (16 << 20)) >> 16);
	CHECK_EQ(ovmf_below_4g(&r), 0xb0000000ULL);
	CHECK_EQ(ovmf_above_4g(&r), 4ULL << 30);
	rig_free(&r);
	/* small */
	rig_init(&r, 64 << 20, 0);
	CHECK_EQ(cmos16(&r, 0x17), 63 * 1024);
	CHECK_EQ(cmos16(&r, 0x30), 63 * 1024);
	CHECK_EQ(ovmf_below_4g(&r), 64 << 20);
	CHECK_EQ(ovmf_above_4g(&r), 0);
	rig_free(&r);
	/* below 16 MiB: no 0x34 units */
	rig_init(&r, 8 << 20, 0);
	CHECK_EQ(cmos16(&r, 0x34), 0);
	CHECK_EQ(cmos16(&r, 0x17), 7 * 1024);
	rig_free(&r);
	/* above the 3-byte field (1 TiB): clamped, not wrapped */
	rig_init(&r, 0xb0000000ULL, 2ULL << 40);
	CHECK_EQ(ovmf_above_4g(&r), (1ULL << 40) - (1 << 16));
	rig_free(&r);
	rig_init(&r, 0xb0000000ULL, (1ULL << 40) + (5ULL << 16));
	CHECK_EQ(ovmf_above_4g(&r), (1ULL << 40) - (1 << 16));
	rig_free(&r);
}

static void test_firmware_bytes(void)
{
	struct rig r;
	unsigned sum = 0, i;

	rig_init(&r, 0xb0000000ULL, 0);
	/* direct boot: none of these are set (as before) */
	CHECK_EQ(cmos(&r, CMOS_SMP_COUNT), 0);
	CHECK_EQ(cmos(&r, CMOS_EQUIPMENT), 0);
	CHECK_EQ(cmos(&r, CMOS_BOOT12), 0);
	CHECK_EQ(cmos16(&r, CMOS_CHECKSUM), 0);
	rtc_cmos_firmware(r.rtc, 4);
	CHECK_EQ(cmos(&r, CMOS_SMP_COUNT) + 1, 4);   /* SeaBIOS: rtc_read(0x5f) + 1 CPUs */
	CHECK_EQ(cmos(&r, CMOS_FLOPPY), 0);
	CHECK_EQ(cmos(&r, CMOS_DISK), 0);
	CHECK_EQ(cmos(&r, CMOS_EQUIPMENT), 0x06);
	CHECK_EQ(cmos(&r, CMOS_BOOT12) & 0x0f, CMOS_BOOT_HD);
	CHECK_EQ(cmos(&r, CMOS_BOOT12) >> 4, CMOS_BOOT_CD);
	CHECK_EQ(cmos(&r, CMOS_BOOT3) >> 4, CMOS_BOOT_NET);
	CHECK_EQ(cmos(&r, CMOS_BOOT3) & 1, 1);       /* no floppy signature check */
	for (i = 0x10; i <= 0x2d; i++)
		sum += cmos(&r, (uint8_t)i);
	CHECK(sum != 0);
	CHECK_EQ(cmos(&r, CMOS_CHECKSUM) << 8 | cmos(&r, CMOS_CHECKSUM + 1), sum);
	CHECK_EQ(ovmf_below_4g(&r), 0xb0000000ULL);  /* the sizes are untouched */
	rtc_cmos_firmware(r.rtc, 1);
	CHECK_EQ(cmos(&r, CMOS_SMP_COUNT), 0);
	rtc_cmos_firmware(r.rtc, 300);
	CHECK_EQ(cmos(&r, CMOS_SMP_COUNT), 255);
	rig_free(&r);
}

static void test_hostile_and_state(void)
{
	struct rig a, b;
	struct rtc_state st, st2;
	unsigned i, seed = 5;

	rig_init(&a, 0xb0000000ULL, 1ULL << 30);
	rig_init(&b, 64 << 20, 0);
	rtc_cmos_firmware(a.rtc, 2);
	rtc_save(a.rtc, &st);
	CHECK_EQ(rtc_restore(b.rtc, &st), 0);
	CHECK_EQ(ovmf_below_4g(&b), 0xb0000000ULL);
	CHECK_EQ(ovmf_above_4g(&b), 1ULL << 30);
	CHECK_EQ(cmos(&b, CMOS_SMP_COUNT), 1);
	rtc_save(b.rtc, &st2);
	CHECK(!memcmp(st.cmos, st2.cmos, sizeof(st.cmos)));
	st.index = 200;
	CHECK_EQ(rtc_restore(b.rtc, &st), -EINVAL);
	/* random traffic on both ports, every width: no crash, the index stays in range */
	for (i = 0; i < 20000; i++) {
		uint32_t v;
		unsigned len;

		seed = seed * 1103515245 + 12345;
		v = seed;
		len = 1u << ((seed >> 16) % 3);
		bus_dispatch(&a.pio, 0x70 + ((seed >> 12) & 1), (uint8_t *)&v, len,
			     (seed >> 13) & 1);
	}
	rtc_save(a.rtc, &st);
	CHECK(st.index < 128);
	rig_free(&a);
	rig_free(&b);
}

int main(void)
{
	RUN(test_memory_sizes);
	RUN(test_firmware_bytes);
	RUN(test_hostile_and_state);
	return check_done();
}
