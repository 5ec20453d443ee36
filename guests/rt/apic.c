/* Test-guest runtime: local APIC, I/O APIC, 8254 PIT, TSC calibration, MP table and SMP start-up. */
#include "rt.h"

#define RT_TRAMP_ADDR 0x70000 /* SIPI vector 0x70: conventional memory, below the EBDA */

uint64_t rt_tsc_hz;
volatile int rt_cpus_up;
static void (*ap_fn)(int index);
extern char rt_tramp_start[], rt_tramp_end[];

uint32_t rt_lapic_read(uint32_t reg) { return rt_mmio_read32(RT_LAPIC_BASE + reg); }
void rt_lapic_write(uint32_t reg, uint32_t v) { rt_mmio_write32(RT_LAPIC_BASE + reg, v); }
uint32_t rt_lapic_id(void) { return rt_lapic_read(0x20) >> 24; }
void rt_lapic_eoi(void) { rt_lapic_write(0xb0, 0); }

static int spurious(struct rt_frame *f)
{
	(void)f;
	return 1; /* no EOI for the spurious vector */
}

void rt_irq_init(void)
{
	if (rt_cpu_index() == 0) {
		rt_outb(0x21, 0xff); /* mask both 8259s: interrupts come through the I/O APIC */
		rt_outb(0xa1, 0xff);
	}
	rt_set_handler(0xff, spurious);
	rt_lapic_write(0x350, 0x10000); /* LINT0 masked (no ExtINT from the 8259) */
	rt_lapic_write(0xf0, 0x1ff);    /* software enable, spurious vector 0xff */
	rt_lapic_write(0x80, 0);        /* task priority: accept everything */
}

static void ioapic_write(uint32_t reg, uint32_t v)
{
	rt_mmio_write32(RT_IOAPIC_BASE, reg);
	rt_mmio_write32(RT_IOAPIC_BASE + 0x10, v);
}

void rt_ioapic_route(int pin, int vector, uint32_t dest_apic, int level_low)
{
	ioapic_write(0x11 + 2 * pin, dest_apic << 24);
	ioapic_write(0x10 + 2 * pin, (uint32_t)vector | (level_low ? (1u << 15) | (1u << 13) : 0));
}

void rt_ioapic_mask(int pin) { ioapic_write(0x10 + 2 * pin, 1u << 16); }

void rt_pit_periodic(uint32_t hz)
{
	uint32_t div = 1193182 / hz;
	rt_outb(0x43, 0x34); /* channel 0, lobyte/hibyte, mode 2 (rate generator) */
	rt_outb(0x40, (uint8_t)div);
	rt_outb(0x40, (uint8_t)(div >> 8));
}

void rt_pit_stop(void)
{
	rt_outb(0x43, 0x30); /* channel 0, mode 0, waiting for a count that never comes */
}

static uint16_t pit0_read(void)
{
	rt_outb(0x43, 0x00); /* latch channel 0 */
	uint8_t lo = rt_inb(0x40);
	return (uint16_t)(lo | rt_inb(0x40) << 8);
}

/* Channel 0 counts down from 65536 in mode 2; poll its latched count (port 0x61 and channel 2
 * are absent on some machines, e.g. QEMU microvm) and compare the ticks with the TSC. */
uint64_t rt_tsc_calibrate(void)
{
	const uint32_t want = 1193182 / 20; /* 50 ms */
	rt_outb(0x43, 0x34);
	rt_outb(0x40, 0);
	rt_outb(0x40, 0);
	uint16_t prev = pit0_read();
	uint64_t t0 = rt_rdtsc();
	uint32_t ticks = 0;
	while (ticks < want) {
		uint16_t c = pit0_read();
		ticks += (uint16_t)(prev - c);
		prev = c;
	}
	uint64_t t1 = rt_rdtsc();
	rt_pit_stop();
	rt_tsc_hz = (t1 - t0) * 1193182 / ticks;
	return rt_tsc_hz;
}

void rt_lapic_timer_periodic(int vector, uint32_t count, uint32_t divide)
{
	static const uint8_t codes[8] = { 0xb, 0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xa }; /* 1,2,4,..,128 */
	int i = 0;
	while (i < 7 && (1u << i) < divide)
		i++;
	rt_lapic_write(0x3e0, codes[i]);
	rt_lapic_write(0x320, (uint32_t)vector | (1u << 17)); /* periodic */
	rt_lapic_write(0x380, count);
}

void rt_lapic_timer_stop(void)
{
	rt_lapic_write(0x320, 1u << 16);
	rt_lapic_write(0x380, 0);
}

/* ---- MP table ---- */
static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

static const uint8_t *mp_scan(uint64_t base, uint64_t len)
{
	for (uint64_t a = base; a + 16 <= base + len; a += 16) {
		const uint8_t *p = (const uint8_t *)a;
		if (p[0] == '_' && p[1] == 'M' && p[2] == 'P' && p[3] == '_' && !sum8(p, 16))
			return p;
	}
	return NULL;
}

int rt_mptable_cpus(uint32_t *apic_ids, int max)
{
	uint64_t ebda = (uint64_t)*(const uint16_t *)0x40e << 4;
	const uint8_t *fp = NULL;
	if (ebda >= 0x80000 && ebda < 0xa0000)
		fp = mp_scan(ebda, 1024);
	if (!fp)
		fp = mp_scan(0x9fc00, 1024);
	if (!fp)
		fp = mp_scan(0xf0000, 0x10000);
	if (!fp)
		return -1;
	const uint8_t *ct = (const uint8_t *)(uint64_t)*(const uint32_t *)(fp + 4);
	if (!ct || memcmp(ct, "PCMP", 4))
		return -1;
	uint16_t len = *(const uint16_t *)(ct + 4), n = *(const uint16_t *)(ct + 34);
	if (sum8(ct, len))
		return -1;
	const uint8_t *e = ct + 44, *end = ct + len;
	int cpus = 0;
	for (int i = 0; i < n && e < end; i++) {
		if (e[0] == 0) {
			if ((e[3] & 1) && cpus < max)
				apic_ids[cpus++] = e[1];
			e += 20;
		} else {
			e += 8;
		}
	}
	return cpus;
}

/* ---- SMP ---- */
void rt_ap_main(int index)
{
	rt_this_cpu()->apic_id = rt_lapic_id();
	__atomic_add_fetch(&rt_cpus_up, 1, __ATOMIC_SEQ_CST);
	if (ap_fn)
		ap_fn(index);
}

static void icr_send(uint32_t low)
{
	rt_lapic_write(0x310, 0);
	rt_lapic_write(0x300, low);
}

int rt_smp_start(void (*fn)(int index), int expected)
{
	ap_fn = fn;
	rt_this_cpu()->apic_id = rt_lapic_id();
	memcpy((void *)RT_TRAMP_ADDR, rt_tramp_start, (size_t)(rt_tramp_end - rt_tramp_start));
	icr_send(0x000c4500); /* INIT, all excluding self */
	icr_send(0x000c4600 | (RT_TRAMP_ADDR >> 12)); /* SIPI */
	icr_send(0x000c4600 | (RT_TRAMP_ADDR >> 12));
	/* Wait up to 2 s (or 2e9 TSC cycles when the TSC is not calibrated). */
	uint64_t t0 = rt_rdtsc(), limit = rt_tsc_hz ? 2 * rt_tsc_hz : 2000000000ull;
	while (rt_cpus_up < expected && rt_rdtsc() - t0 < limit)
		rt_pause();
	return rt_cpus_up;
}
