/* smp: every vCPU starts (INIT/SIPI through the local APIC), runs a little work in ring 3 on its
 * own stacks and TSS, and reports in. The CPU count comes from `cpus=N` on the command line,
 * else from the MP table. */
#include "rt/rt.h"

static volatile int done;
static volatile uint32_t apic_of[RT_MAX_CPUS];

static long work(long index)
{
	long s = 0;
	for (long i = 1; i <= 1000 * index; i++)
		s += i;
	return s;
}

static void ap(int index)
{
	long s = -1;
	rt_user_call(work, index, &s);
	apic_of[index] = rt_this_cpu()->apic_id;
	rt_printf("smp: cpu %d (apic id %u) up, ring-3 sum %ld %s\n", index, apic_of[index], s,
		  s == 1000L * index * (1000L * index + 1) / 2 ? "ok" : "WRONG");
	__atomic_add_fetch(&done, 1, __ATOMIC_SEQ_CST);
}

int main(void)
{
	uint32_t ids[RT_MAX_CPUS];
	int mp = rt_mptable_cpus(ids, RT_MAX_CPUS);
	int want = (int)rt_param_u64("cpus", mp > 0 ? (uint64_t)mp : 0);
	rt_printf("smp: MP table lists %d cpus, expecting %d\n", mp, want);
	if (want < 1 || want > RT_MAX_CPUS)
		rt_fail("no CPU count: pass cpus=N or provide an MP table");
	rt_irq_init();
	apic_of[0] = rt_lapic_id();
	int up = want > 1 ? rt_smp_start(ap, want - 1) : 0;
	uint64_t t0 = rt_rdtsc();
	while (done < up && rt_rdtsc() - t0 < 2000000000ull)
		rt_pause();
	rt_printf("smp: %d of %d cpus up\n", up + 1, want);
	if (up != want - 1 || done != up)
		rt_fail("%d application processors expected, %d started, %d reported", want - 1, up, done);
	for (int i = 0; i < want; i++)
		for (int j = 0; j < i; j++)
			if (apic_of[i] == apic_of[j])
				rt_fail("cpus %d and %d share apic id %u", i, j, apic_of[i]);
	return 0;
}
