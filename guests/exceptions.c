/* exceptions: #DE, #UD, #PF and #GP raised in ring 0 and in ring 3, each caught by a handler
 * that checks vector, ring, error code (and CR2 for #PF) and resumes after the instruction.
 * Command line: skip=ring0-ud skips the ring-0 #UD (ud2 in ring 0 needs the VMM's assist on
 * PVM hosts; QEMU stops there). */
#include "rt/rt.h"

#define PF_ADDR 0x40000000000ull      /* 4 TiB: canonical, not mapped */
#define GP_ADDR 0x8000000000000000ull /* non-canonical */

volatile uint64_t resume_rip;
static volatile uint64_t got_vec, got_err, got_cs, got_cr2, got_rip;
static volatile int got;

static int catcher(struct rt_frame *f)
{
	if (!resume_rip)
		return 0;
	got_vec = f->vector;
	got_err = f->error;
	got_cs = f->cs;
	got_rip = f->rip;
	__asm__ volatile("mov %%cr2, %0" : "=r"(got_cr2));
	got = 1;
	f->rip = resume_rip;
	resume_rip = 0;
	return 1;
}

static long raise_de(long unused)
{
	(void)unused;
	__asm__ volatile("lea 1f(%%rip), %%rax; mov %%rax, resume_rip(%%rip)\n"
			 "xor %%edx, %%edx; xor %%ecx, %%ecx; mov $1, %%eax; div %%ecx\n1:"
			 ::: "rax", "rcx", "rdx", "memory");
	return 0;
}

static long raise_ud(long unused)
{
	(void)unused;
	__asm__ volatile("lea 1f(%%rip), %%rax; mov %%rax, resume_rip(%%rip)\n"
			 "ud2; nop; nop\n1:" ::: "rax", "memory");
	return 0;
}

static long raise_pf(long unused)
{
	(void)unused;
	__asm__ volatile("lea 1f(%%rip), %%rax; mov %%rax, resume_rip(%%rip)\n"
			 "mov (%%rcx), %%al\n1:" :: "c"(PF_ADDR) : "rax", "memory");
	return 0;
}

static long raise_gp(long unused)
{
	(void)unused;
	__asm__ volatile("lea 1f(%%rip), %%rax; mov %%rax, resume_rip(%%rip)\n"
			 "mov (%%rcx), %%al\n1:" :: "c"(GP_ADDR) : "rax", "memory");
	return 0;
}

static const struct {
	const char *name;
	int vector;
	long (*fn)(long);
} cases[] = {
	{ "#DE", 0, raise_de },
	{ "#UD", 6, raise_ud },
	{ "#PF", 14, raise_pf },
	{ "#GP", 13, raise_gp },
};

static int run_case(int i, int ring)
{
	got = 0;
	if (ring == 3)
		rt_user_call(cases[i].fn, 0, NULL);
	else
		cases[i].fn(0);
	const char *why = NULL;
	if (!got)
		why = "no exception";
	else if (got_vec != (uint64_t)cases[i].vector)
		why = "wrong vector";
	else if ((int)(got_cs & 3) != ring)
		why = "wrong ring in the frame";
	else if (cases[i].vector == 14 && got_cr2 != PF_ADDR)
		why = "wrong CR2";
	else if (cases[i].vector == 14 && (got_err & 0x7) != (ring == 3 ? 4u : 0u))
		why = "wrong #PF error code";
	else if (cases[i].vector == 13 && got_err != 0)
		why = "wrong #GP error code";
	rt_printf("exception %s ring %d: %s (vector %lu error %#lx rip %#lx)\n", cases[i].name, ring,
		  why ? why : "ok", got_vec, got_err, got_rip);
	return why ? -1 : 0;
}

int main(void)
{
	int fails = 0, n = 0;
	for (int i = 0; i < 4; i++)
		rt_set_handler(cases[i].vector, catcher);
	for (int ring = 3; ring >= 0; ring -= 3)
		for (int i = 0; i < 4; i++) {
			if (ring == 0 && cases[i].vector == 6 && rt_param_flag("skip=ring0-ud")) {
				rt_printf("exception #UD ring 0: skipped\n");
				continue;
			}
			fails += run_case(i, ring) < 0;
			n++;
		}
	rt_printf("exceptions: %d of %d cases ok\n", n - fails, n);
	return fails ? 1 : 0;
}
