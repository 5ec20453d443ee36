/* timer: PIT (through the I/O APIC) and LAPIC timer interrupts arrive at the expected rate,
 * measured against the TSC calibrated by the PIT. The waiting happens in ring 3 (native speed
 * on PVM hosts), so this also proves interrupt delivery while the CPU is in user mode.
 * Command line: pit_hz=N (default 100), lapic_hz=N (default 250), ms=N window (default 500),
 * tolerance=P percent (default 25).
 * A loaded host deschedules the vCPU thread, and periodic ticks that fall due meanwhile are
 * coalesced into one, not re-injected. So the ring-3 loop also measures the time it did not
 * run (gaps over 1 ms between two TSC reads): the lower bound applies to the time the vCPU
 * ran, the upper bound to the whole window, and a vCPU kept off the CPU for over 3/4 of the
 * window makes the guest refuse to judge ("host too loaded to measure": tests skip). */
#include "rt/rt.h"

#define VEC_PIN0  0x30
#define VEC_PIN2  0x32
#define VEC_LAPIC 0x40

static volatile uint64_t ticks_pin0, ticks_pin2, ticks_lapic;

static int on_pin0(struct rt_frame *f) { (void)f; ticks_pin0++; rt_lapic_eoi(); return 1; }
static int on_pin2(struct rt_frame *f) { (void)f; ticks_pin2++; rt_lapic_eoi(); return 1; }
static int on_lapic(struct rt_frame *f) { (void)f; ticks_lapic++; rt_lapic_eoi(); return 1; }

struct window {
	volatile uint64_t *a, *b;
	uint64_t cycles, first, count;
	uint64_t gap_cycles, lost, gaps; /* gaps longer than gap_cycles: their total, how many */
};
static struct window win;

/* Ring 3: wait for the first tick, then count ticks over win.cycles of TSC. */
static long measure(long unused)
{
	(void)unused;
	uint64_t t0 = rt_rdtsc(), start = *win.a + *win.b;
	while (*win.a + *win.b == start)
		if (rt_rdtsc() - t0 > 4 * win.cycles)
			return -1;
	uint64_t n0 = *win.a + *win.b;
	uint64_t t1 = rt_rdtsc(), prev = t1, now;
	win.lost = win.gaps = 0;
	while ((now = rt_rdtsc()) - t1 < win.cycles) {
		if (now - prev > win.gap_cycles) {
			win.lost += now - prev;
			win.gaps++;
		}
		prev = now;
	}
	win.count = *win.a + *win.b - n0;
	return 0;
}

static void check_rate(const char *what, uint64_t want_hz, uint64_t ms, uint64_t tol)
{
	uint64_t hz = win.count * 1000 / ms;
	uint64_t ran_ms = (win.cycles - win.lost) * ms / win.cycles;
	uint64_t low = want_hz * ran_ms * (100 - tol) / 100000;
	uint64_t high = want_hz * ms * (100 + tol) / 100000 + 1;

	rt_printf("timer: %s: %lu interrupts in %lu ms = %lu Hz (expected %lu Hz); "
		  "vCPU descheduled %lu times for %lu ms in all\n", what, win.count, ms, hz, want_hz,
		  win.gaps, ms - ran_ms);
	if (ran_ms < ms / 4)
		rt_fail("%s: the vCPU ran only %lu of %lu ms: host too loaded to measure", what,
			ran_ms, ms);
	if (win.count < low || win.count > high)
		rt_fail("%s: %lu interrupts, expected %lu to %lu", what, win.count, low, high);
}

int main(void)
{
	uint64_t pit_hz = rt_param_u64("pit_hz", 100), lapic_hz = rt_param_u64("lapic_hz", 250);
	uint64_t ms = rt_param_u64("ms", 500), tol = rt_param_u64("tolerance", 25);
	long r;

	uint64_t tsc = rt_tsc_calibrate();
	rt_printf("timer: TSC %lu kHz\n", tsc / 1000);
	if (tsc < 10000000)
		rt_fail("implausible TSC frequency");
	win.cycles = tsc / 1000 * ms;
	win.gap_cycles = tsc / 1000; /* 1 ms */
	rt_irq_init();
	rt_set_handler(VEC_PIN0, on_pin0);
	rt_set_handler(VEC_PIN2, on_pin2);
	rt_set_handler(VEC_LAPIC, on_lapic);

	/* PIT: ISA IRQ 0 is I/O APIC pin 2 on most machines (the interrupt-source override),
	 * pin 0 on a bare KVM routing; listen on both and report which one ticks. */
	uint32_t me = rt_lapic_id();
	rt_ioapic_route(0, VEC_PIN0, me, 0);
	rt_ioapic_route(2, VEC_PIN2, me, 0);
	rt_pit_periodic((uint32_t)pit_hz);
	win.a = &ticks_pin0;
	win.b = &ticks_pin2;
	rt_sti();
	rt_user_call(measure, 0, &r);
	rt_cli();
	rt_pit_stop();
	rt_ioapic_mask(0);
	rt_ioapic_mask(2);
	if (r < 0)
		rt_fail("no PIT interrupt on I/O APIC pin 0 or 2");
	rt_printf("timer: PIT ticks on I/O APIC pin 0: %lu, pin 2: %lu\n", ticks_pin0, ticks_pin2);
	if (ticks_pin0 && ticks_pin2)
		rt_fail("the PIT interrupt arrives on both pin 0 and pin 2");
	check_rate("PIT", pit_hz, ms, tol);

	/* LAPIC timer: find its input clock against the TSC, then run it periodic. */
	rt_lapic_write(0x3e0, 0xb); /* divide by 1 */
	rt_lapic_write(0x320, 1u << 16 | VEC_LAPIC); /* one-shot, masked */
	rt_lapic_write(0x380, 0xffffffff);
	uint64_t t0 = rt_rdtsc();
	while (rt_rdtsc() - t0 < tsc / 50)
		;
	uint32_t left = rt_lapic_read(0x390);
	uint64_t t1 = rt_rdtsc();
	uint64_t apic_hz = (uint64_t)(0xffffffffu - left) * tsc / (t1 - t0);
	rt_printf("timer: LAPIC timer clock %lu kHz\n", apic_hz / 1000);
	if (apic_hz < 1000000)
		rt_fail("LAPIC timer does not count");
	rt_lapic_timer_periodic(VEC_LAPIC, (uint32_t)(apic_hz / lapic_hz), 1);
	win.a = &ticks_lapic;
	win.b = &ticks_pin0; /* stays 0 now */
	ticks_pin0 = 0;
	rt_sti();
	rt_user_call(measure, 0, &r);
	/* One wait in ring 0 too: hlt must wake up on the next tick. */
	uint64_t before = ticks_lapic;
	rt_syscall(RT_SYS_HLT, 0, 0);
	rt_cli();
	rt_lapic_timer_stop();
	if (r < 0)
		rt_fail("no LAPIC timer interrupt");
	if (ticks_lapic == before)
		rt_fail("hlt returned without a LAPIC timer interrupt");
	check_rate("LAPIC timer", lapic_hz, ms, tol);
	return 0;
}
