/* assist-CASE: tiny ring-0 guests for the VMM's emulation assists (issue 5). On PVM hosts KVM's
 * emulator cannot run these instructions in guest kernel mode and `vsrv run` completes them;
 * under QEMU some stop with a KVM internal error, which is expected. Built once per case from
 * this file with -DASSIST_CASE="name": int3, fwait, clac, stac, fence, ud2. */
#include "rt/rt.h"

#ifndef ASSIST_CASE
#error "build with -DASSIST_CASE=\"name\""
#endif

volatile uint64_t expect_rip, got_rip, skip_to;
static volatile int got;

static int catcher(struct rt_frame *f)
{
	got_rip = f->rip;
	got++;
	if (skip_to)
		f->rip = skip_to;
	return 1;
}

static uint64_t rflags(void)
{
	uint64_t v;
	__asm__ volatile("pushfq; pop %0" : "=r"(v));
	return v;
}

static void set_ac(int on)
{
	uint64_t v = rflags();
	v = on ? v | (1u << 18) : v & ~(uint64_t)(1u << 18);
	__asm__ volatile("push %0; popfq" :: "r"(v) : "memory", "cc");
}

#define AC(x) (((x) >> 18) & 1)

int main(void)
{
	const char *c = ASSIST_CASE;
	uint32_t r[4];
	rt_cpuid(7, 0, r);
	rt_printf("assist %s: ring %d, CPUID SMAP %u\n", c, rt_cpl(), (r[1] >> 20) & 1);
	if (!strcmp(c, "int3")) {
		rt_set_handler(3, catcher);
		/* #BP is a trap: the frame's rip is the instruction after int3. */
		__asm__ volatile("lea 1f(%%rip), %%rax; mov %%rax, expect_rip(%%rip); int3\n1:" ::: "rax", "memory");
		if (got != 1 || got_rip != expect_rip)
			rt_fail("int3: %d #BP, rip %#lx, expected %#lx", got, got_rip, expect_rip);
	} else if (!strcmp(c, "fwait")) {
		__asm__ volatile("fwait" ::: "memory");
	} else if (!strcmp(c, "clac")) {
		set_ac(1);
		if (!AC(rflags()))
			rt_fail("popf did not set AC");
		__asm__ volatile("clac" ::: "memory", "cc");
		if (AC(rflags()))
			rt_fail("clac left RFLAGS.AC set");
	} else if (!strcmp(c, "stac")) {
		set_ac(0);
		__asm__ volatile("stac" ::: "memory", "cc");
		uint64_t f = rflags();
		set_ac(0);
		if (!AC(f))
			rt_fail("stac did not set RFLAGS.AC");
	} else if (!strcmp(c, "fence")) {
		__asm__ volatile("lfence; mfence; sfence" ::: "memory");
	} else if (!strcmp(c, "ud2")) {
		rt_set_handler(6, catcher);
		/* #UD is a fault: the frame's rip is the ud2 itself; resume after it. */
		__asm__ volatile("lea 1f(%%rip), %%rax; mov %%rax, expect_rip(%%rip)\n"
				 "lea 2f(%%rip), %%rax; mov %%rax, skip_to(%%rip)\n"
				 "1: ud2\n2:" ::: "rax", "memory");
		if (got != 1 || got_rip != expect_rip)
			rt_fail("ud2: %d #UD, rip %#lx, expected %#lx", got, got_rip, expect_rip);
	} else {
		rt_fail("unknown case %s", c);
	}
	rt_printf("assist %s: ok\n", c);
	return 0;
}
