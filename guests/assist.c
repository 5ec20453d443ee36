/* assist-CASE: tiny ring-0 guests for the VMM's emulation assists (issue 5). On PVM hosts KVM's
 * emulator cannot run these instructions in guest kernel mode and `vsrv run` completes them;
 * under QEMU some stop with a KVM internal error, which is expected. Built once per case from
 * this file with -DASSIST_CASE="name": int3, fwait, clac, stac, fence, ud2, ldmxcsr, stmxcsr. */
#include "rt/rt.h"

#ifndef ASSIST_CASE
#error "build with -DASSIST_CASE=\"name\""
#endif

volatile uint64_t expect_rip, got_rip, got_err, skip_to;
static volatile int got;

static int catcher(struct rt_frame *f)
{
	got_rip = f->rip;
	got_err = f->error;
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

/* ldmxcsr/stmxcsr: MXCSR is checked or set natively in ring 3, the instruction under test runs
 * in ring 0 with one addressing form per call. */
static long user_stmxcsr(long unused)
{
	uint32_t v;
	(void)unused;
	__asm__ volatile("stmxcsr %0" : "=m"(v));
	return v;
}

static long user_ldmxcsr(long val)
{
	uint32_t v = (uint32_t)val;
	__asm__ volatile("ldmxcsr %0" :: "m"(v));
	return 0;
}

static uint32_t mx_val __attribute__((aligned(4)));
static uint8_t mx_pages[8192] __attribute__((aligned(4096)));
#define MX_FORMS 6
static const char *const mx_form_names[MX_FORMS] = {
	"disp8(%rsp)", "rip-relative", "disp32(%r9,%r10,4)", "%gs:(%rax)", "addr32 (%eax)",
	"across a page boundary",
};

/* Run "INSN operand" in form f on *p (mx_val for forms 0-4, p for form 5; form 0 copies
 * mx_val through the stack). */
#define MX_FORM(INSN, f, p) do {                                                              \
	uint64_t gsb = rt_rdmsr(0xc0000101);                                                  \
	switch (f) {                                                                          \
	case 0:                                                                               \
		__asm__ volatile("sub $16, %%rsp; mov %1, %%eax; mov %%eax, 4(%%rsp)\n"     \
				 INSN " 4(%%rsp)\n"                                           \
				 "mov 4(%%rsp), %%eax; mov %%eax, %0; add $16, %%rsp"          \
				 : "=m"(mx_val) : "m"(mx_val) : "rax", "memory");               \
		break;                                                                        \
	case 1:                                                                               \
		__asm__ volatile(INSN " mx_val(%%rip)" ::: "memory");                         \
		break;                                                                        \
	case 2:                                                                               \
		__asm__ volatile("mov %0, %%r9; mov $3, %%r10\n" INSN " 0x1000(%%r9,%%r10,4)"  \
				 :: "r"((uint64_t)&mx_val - 0x1000 - 12) : "r9", "r10", "memory"); \
		break;                                                                        \
	case 3:                                                                               \
		__asm__ volatile(INSN " %%gs:(%%rax)" :: "a"((uint64_t)&mx_val - gsb) : "memory"); \
		break;                                                                        \
	case 4:                                                                               \
		__asm__ volatile(INSN " (%%eax)" :: "a"((uint32_t)(uint64_t)&mx_val) : "memory"); \
		break;                                                                        \
	default:                                                                              \
		__asm__ volatile(INSN " (%0)" :: "r"(p) : "memory");                          \
		break;                                                                        \
	}                                                                                     \
} while (0)

static void put32(void *p, uint32_t v) { __builtin_memcpy(p, &v, 4); }
static uint32_t get32(const void *p) { uint32_t v; __builtin_memcpy(&v, p, 4); return v; }

static uint32_t mx_get(void)
{
	long v = 0;
	if (rt_user_call(user_stmxcsr, 0, &v))
		rt_fail("ring-3 stmxcsr failed");
	return (uint32_t)v;
}

static void mx_set(uint32_t v)
{
	long r;
	if (rt_user_call(user_ldmxcsr, v, &r))
		rt_fail("ring-3 ldmxcsr failed");
}

static void test_ldmxcsr(void)
{
	uint8_t *cross = mx_pages + 4094;
	for (int f = 0; f < MX_FORMS; f++) {
		uint32_t want = 0x1f80 | ((uint32_t)(f & 3) << 13) | (f & 1 ? 0x8000 : 0) | 0x3;
		mx_set(0x1f80);
		mx_val = want;
		put32(cross, want);
		MX_FORM("ldmxcsr", f, cross);
		uint32_t got_mx = mx_get();
		if (got_mx != want)
			rt_fail("ldmxcsr %s: MXCSR %#x, expected %#x", mx_form_names[f], got_mx, want);
	}
	/* A reserved bit: #GP(0) at the instruction, MXCSR unchanged. */
	rt_set_handler(13, catcher);
	mx_set(0x1f80);
	mx_val = 0x1f80 | (1u << 16);
	__asm__ volatile("lea 1f(%%rip), %%rax; mov %%rax, expect_rip(%%rip)\n"
			 "lea 2f(%%rip), %%rax; mov %%rax, skip_to(%%rip)\n"
			 "1: ldmxcsr mx_val(%%rip)\n2:" ::: "rax", "memory");
	if (got != 1 || got_rip != expect_rip || got_err != 0)
		rt_fail("ldmxcsr reserved bit: %d #GP, rip %#lx (expected %#lx), error %#lx", got,
			got_rip, expect_rip, got_err);
	if (mx_get() != 0x1f80)
		rt_fail("ldmxcsr reserved bit changed MXCSR to %#x", mx_get());
	mx_set(0x1f80);
}

static void test_stmxcsr(void)
{
	uint8_t *cross = mx_pages + 4094;
	for (int f = 0; f < MX_FORMS; f++) {
		uint32_t want = 0x1f80 | ((uint32_t)(3 - (f & 3)) << 13) | (f & 1 ? 0 : 0x8000) | 0x10;
		mx_set(want);
		mx_val = 0xdeadbeef;
		put32(cross, 0xdeadbeef);
		MX_FORM("stmxcsr", f, cross);
		uint32_t got_v = f == 5 ? get32(cross) : mx_val;
		if (got_v != want)
			rt_fail("stmxcsr %s: stored %#x, expected %#x", mx_form_names[f], got_v, want);
	}
	mx_set(0x1f80);
}

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
	} else if (!strcmp(c, "ldmxcsr")) {
		test_ldmxcsr();
	} else if (!strcmp(c, "stmxcsr")) {
		test_stmxcsr();
	} else {
		rt_fail("unknown case %s", c);
	}
	rt_printf("assist %s: ok\n", c);
	return 0;
}
