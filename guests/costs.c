/* costs: what things cost on this host, measured with the TSC (calibrated against the PIT).
 * Prints one "cost NAME: N ns/op" line per measurement; the numbers in guests/README.md
 * come from here. Command line: n=COUNT scales the device-access loops (default 200). */
#include "rt/rt.h"

static uint64_t n_io;

static long loop(long n)
{
	uint64_t t0 = rt_rdtsc();
	__asm__ volatile("1: dec %0; jnz 1b" : "+r"(n));
	return (long)(rt_rdtsc() - t0);
}

static long outb80(long n)
{
	uint64_t t0 = rt_rdtsc();
	for (long i = 0; i < n; i++)
		rt_outb(0x80, 0);
	return (long)(rt_rdtsc() - t0);
}

static long inb61(long n)
{
	uint64_t t0 = rt_rdtsc();
	for (long i = 0; i < n; i++)
		(void)rt_inb(0x61);
	return (long)(rt_rdtsc() - t0);
}

static long lapic_read(long n)
{
	uint64_t t0 = rt_rdtsc();
	for (long i = 0; i < n; i++)
		(void)rt_lapic_read(0x30);
	return (long)(rt_rdtsc() - t0);
}

static long sys_nop(long n)
{
	uint64_t t0 = rt_rdtsc();
	for (long i = 0; i < n; i++)
		if (rt_syscall(RT_SYS_NOP, i, 0) != i + 1)
			return -1;
	return (long)(rt_rdtsc() - t0);
}

/* The cheapest possible ring-3 -> ring-0 -> ring-3 trip: int3 through a DPL-3 gate whose
 * handler is a bare iretq (int $N with N != 3 comes back as #UD on PVM hosts). */
void rt_bare_iret(void);
__asm__(".globl rt_bare_iret\nrt_bare_iret: iretq\n");
static long int3_bare(long n)
{
	uint64_t t0 = rt_rdtsc();
	for (long i = 0; i < n; i++)
		__asm__ volatile("int3");
	return (long)(rt_rdtsc() - t0);
}

static long nothing(long n)
{
	return n;
}

static void report(const char *name, long cycles, long n)
{
	if (cycles < 0)
		rt_fail("%s: measurement failed", name);
	uint64_t ps = (uint64_t)cycles * 1000000 / (rt_tsc_hz / 1000000) / (uint64_t)n;
	rt_printf("cost %-28s %9lu.%03lu ns/op  (%ld ops)\n", name, ps / 1000, ps % 1000, n);
}

static void measure(const char *name, long (*fn)(long), long n, int ring)
{
	long cycles;
	if (ring == 3)
		rt_user_call(fn, n, &cycles);
	else
		cycles = fn(n);
	report(name, cycles, n);
}

int main(void)
{
	n_io = rt_param_u64("n", 200);
	uint64_t hz = rt_tsc_calibrate();
	rt_printf("cost tsc: %lu kHz (PIT-calibrated)\n", hz / 1000);
	if (!hz)
		rt_fail("TSC calibration failed");
	measure("ring0-loop-iteration", loop, 20000, 0);
	measure("ring3-loop-iteration", loop, 100000000, 3);
	measure("ring0-outb-0x80", outb80, (long)n_io, 0);
	measure("ring3-outb-0x80", outb80, (long)n_io, 3);
	measure("ring0-inb-0x61-in-kernel", inb61, (long)n_io, 0);
	measure("ring3-inb-0x61-in-kernel", inb61, (long)n_io, 3);
	measure("ring0-lapic-mmio-read", lapic_read, (long)n_io, 0);
	measure("ring3-lapic-mmio-read", lapic_read, (long)n_io, 3);
	measure("ring3-ud2-syscall", sys_nop, (long)n_io * 5, 3);
	rt_set_gate(3, rt_bare_iret, 3);
	measure("ring3-int3-bare-iretq", int3_bare, (long)n_io * 5, 3);
	long n = (long)n_io;
	uint64_t t0 = rt_rdtsc();
	for (long i = 0; i < n; i++)
		rt_user_call(nothing, i, NULL);
	report("ring0-ring3-ring0-call", (long)(rt_rdtsc() - t0), n);
	return 0;
}
