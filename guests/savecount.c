/* savecount: a guest to save and restore mid-run. Every CPU computes a hash chain in ring 3,
 * one link per step, each step paced by timer interrupts (the PIT through the I/O APIC on
 * CPU 0, every CPU's LAPIC timer), so a restore that lost the irqchip, PIT or LAPIC state
 * stalls and fails. CPU 0 prints one line per step once every CPU has done it:
 *     savecount: step K of N x=HASH
 * where HASH is the xor of all CPUs' chains; at the end every chain is recomputed from
 * scratch and checked against the links kept in memory, a memory region filled with a
 * pattern at the start is checked, and the guest prints
 *     savecount: done steps=N sum=S
 * (S: the 64-bit sum of every printed HASH), then passes. A test concatenates the serial
 * output from before the save and after the restore: steps 0..N-1 once each, in order, and
 * the sum of their HASHes equals S.
 * Command line: steps=N (default 300, at most 4096), work=W (ring-3 iterations per link,
 * default 100000), cpus=C (default: the MP table), mem=M (MiB of memory filled at 16 MiB and
 * checked at the end, default 4). */
#include "rt/rt.h"

#define MAX_STEPS 4096
#define MAX_CPUS  8
#define VEC_PIT   0x30
#define VEC_PIT2  0x32
#define VEC_LAPIC 0x40
#define FILL_BASE (16ull << 20)

static uint64_t steps, work, fill_mib;
static int ncpus;
static volatile uint64_t pit_ticks, lapic_ticks[MAX_CPUS];
static volatile uint64_t progress[MAX_CPUS];   /* links done by each CPU */
static volatile uint64_t chain[MAX_CPUS];
static uint64_t hist[MAX_CPUS][MAX_STEPS];
static volatile int aps_done;
static uint64_t printed_sum;    /* CPU 0: the sum of the hashes printed */

static int on_pit(struct rt_frame *f) { (void)f; pit_ticks++; rt_lapic_eoi(); return 1; }
static int on_lapic(struct rt_frame *f)
{
	(void)f;
	lapic_ticks[rt_cpu_index()]++;
	rt_lapic_eoi();
	return 1;
}

static uint64_t link(uint64_t h, uint64_t cpu, uint64_t k)
{
	for (uint64_t j = 0; j < work; j++)
		h = h * 6364136223846793005ull + ((k << 20) ^ (cpu << 8) ^ j) + 1442695040888963407ull;
	return h;
}

static uint64_t seed(int cpu) { return 0x5a5a0000ull + (uint64_t)cpu; }

/* Wait (ring 3) until *v moves past old; 0, or -1 after `secs` seconds of TSC. */
static int wait_change(volatile uint64_t *v, uint64_t old, uint64_t secs)
{
	uint64_t t0 = rt_rdtsc(), limit = secs * (rt_tsc_hz ? rt_tsc_hz : 3000000000ull);

	while (*v == old)
		if (rt_rdtsc() - t0 > limit)
			return -1;
	return 0;
}

/* Ring 3, on every CPU: the chain, one link per timer tick of this CPU (and of the PIT on
 * CPU 0). CPU 0 prints each step once all CPUs have done it. Returns the sum of the hashes
 * printed into printed_sum (CPU 0). Returns 0, or -1 / -2 / -3 when the LAPIC timer, the
 * PIT or another CPU stalls. */
static long run_cpu(long cpu)
{
	for (uint64_t k = 0; k < steps; k++) {
		if (wait_change(&lapic_ticks[cpu], lapic_ticks[cpu], 10) < 0)
			return -1;
		if (cpu == 0 && wait_change(&pit_ticks, pit_ticks, 10) < 0)
			return -2;
		chain[cpu] = link(chain[cpu], (uint64_t)cpu, k);
		hist[cpu][k] = chain[cpu];
		__atomic_store_n(&progress[cpu], k + 1, __ATOMIC_RELEASE);
		if (cpu != 0)
			continue;
		uint64_t x = 0;
		for (int c = 0; c < ncpus; c++) {
			uint64_t t0 = rt_rdtsc();
			while (__atomic_load_n(&progress[c], __ATOMIC_ACQUIRE) <= k)
				if (rt_rdtsc() - t0 > 10 * rt_tsc_hz)
					return -3;
			x ^= hist[c][k];
		}
		printed_sum += x;
		rt_printf("savecount: step %lu of %lu x=%lx\n", k, steps, x);
	}
	return 0;
}

static long verify(long unused)
{
	(void)unused;
	for (int c = 0; c < ncpus; c++) {
		uint64_t h = seed(c);
		for (uint64_t k = 0; k < steps; k++) {
			h = link(h, (uint64_t)c, k);
			if (hist[c][k] != h)
				return -(long)(c * MAX_STEPS + k) - 1;
		}
	}
	for (uint64_t a = FILL_BASE; a < FILL_BASE + (fill_mib << 20); a += 8)
		if (*(volatile uint64_t *)a != (a * 0x9e3779b97f4a7c15ull ^ 0xfeedull))
			return 1;
	return 0;
}

static long fill(long unused)
{
	(void)unused;
	for (uint64_t a = FILL_BASE; a < FILL_BASE + (fill_mib << 20); a += 8)
		*(volatile uint64_t *)a = a * 0x9e3779b97f4a7c15ull ^ 0xfeedull;
	return 0;
}

static void lapic_timer_on(void)
{
	/* KVM's LAPIC timer runs at 1 GHz: about 200 Hz (the rate does not matter, ticks do) */
	rt_lapic_timer_periodic(VEC_LAPIC, 5000000, 1);
}

static void ap(int index)
{
	long r = 0;

	rt_lapic_write(0xf0, rt_lapic_read(0xf0) | 0x100); /* LAPIC enabled */
	lapic_timer_on();
	rt_sti();
	rt_user_call(run_cpu, index, &r);
	rt_cli();
	if (r < 0)
		rt_printf("savecount: cpu %d: its LAPIC timer stalled\n", index);
	__atomic_add_fetch(&aps_done, r < 0 ? 1000 : 1, __ATOMIC_SEQ_CST);
}

int main(void)
{
	uint32_t ids[RT_MAX_CPUS];
	int mp = rt_mptable_cpus(ids, RT_MAX_CPUS);
	long r = 0;

	steps = rt_param_u64("steps", 300);
	work = rt_param_u64("work", 100000);
	fill_mib = rt_param_u64("mem", 4);
	ncpus = (int)rt_param_u64("cpus", mp > 0 ? (uint64_t)mp : 1);
	if (steps < 1 || steps > MAX_STEPS || ncpus < 1 || ncpus > MAX_CPUS)
		rt_fail("steps=1..%d, cpus=1..%d", MAX_STEPS, MAX_CPUS);
	if (FILL_BASE + (fill_mib << 20) > rt_ram_bytes())
		rt_fail("mem=%lu MiB does not fit in RAM", fill_mib);
	rt_tsc_calibrate();
	for (int c = 0; c < ncpus; c++)
		chain[c] = seed(c);
	rt_user_call(fill, 0, &r);
	rt_printf("savecount: %d cpus, %lu steps, work %lu, %lu MiB filled\n", ncpus, steps, work,
		  fill_mib);

	rt_irq_init();
	rt_set_handler(VEC_PIT, on_pit);
	rt_set_handler(VEC_PIT2, on_pit);
	rt_set_handler(VEC_LAPIC, on_lapic);
	rt_ioapic_route(0, VEC_PIT, rt_lapic_id(), 0);
	rt_ioapic_route(2, VEC_PIT2, rt_lapic_id(), 0);
	rt_pit_periodic(100);
	lapic_timer_on();
	if (ncpus > 1 && rt_smp_start(ap, ncpus - 1) != ncpus - 1)
		rt_fail("only %d of %d CPUs came up", rt_cpus_up + 1, ncpus);
	rt_sti();
	rt_user_call(run_cpu, 0, &r);
	rt_cli();
	rt_pit_stop();
	rt_lapic_timer_stop();
	if (r == -1 || r == -2)
		rt_fail("the %s timer stalled", r == -1 ? "LAPIC" : "PIT");
	if (r == -3)
		rt_fail("a CPU stopped making progress");
	uint64_t t0 = rt_rdtsc();
	while (aps_done < ncpus - 1 && rt_rdtsc() - t0 < 10 * rt_tsc_hz)
		rt_pause();
	if (aps_done != ncpus - 1)
		rt_fail("the other CPUs did not finish (%d)", aps_done);
	rt_user_call(verify, 0, &r);
	if (r < 0)
		rt_fail("chain of cpu %ld differs at step %ld", (-r - 1) / MAX_STEPS,
			(-r - 1) % MAX_STEPS);
	if (r > 0)
		rt_fail("the memory pattern differs");
	rt_printf("savecount: done steps=%lu sum=%lx\n", steps, printed_sum);
	return 0;
}
