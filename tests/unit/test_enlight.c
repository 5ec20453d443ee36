/* Unit tests of the enlightenments' CPUID (arch/x86/enlight.c): x86_cpuid_build on a
 * supported table and on the Hyper-V table that Linux 6.1's KVM hands out
 * (arch/x86/kvm/hyperv.c kvm_get_hv_cpuid: leaves 0x40000000-5, 0x4000000A and the synthetic
 * debugger's 0x40000080-2; written out here by hand with its flags), for kvm, hyperv and
 * none; and what x86_cpuid_build refuses. */
#include "check.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/enlight.h"
#include "arch/x86/xen.h"

#define E(f, i, a, b, c, d) { .function = (f), .index = (i), .eax = (a), .ebx = (b), \
			      .ecx = (c), .edx = (d) }
#define SIG(s) ((uint32_t)(s)[0] | (uint32_t)(s)[1] << 8 | (uint32_t)(s)[2] << 16 | \
		(uint32_t)(s)[3] << 24)

static struct kvm_cpuid2 *table(const struct kvm_cpuid_entry2 *e, unsigned n)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(*e));

	c->nent = n;
	memcpy(c->entries, e, n * sizeof(*e));
	return c;
}

/* KVM_GET_SUPPORTED_CPUID's shape: basic leaves, two topology subleaves, KVM's PV leaves
 * (kvmclock 0x01, NOP_IO_DELAY, MMU_OP, CLOCKSOURCE2 0x08, ASYNC_PF, STEAL_TIME, PV_EOI,
 * PV_UNHALT, PV_TLB_FLUSH, ASYNC_PF_VMEXIT, PV_SEND_IPI, POLL_CONTROL, PV_SCHED_YIELD...). */
#define KVM_FEATURES 0x01007afbu
static const struct kvm_cpuid_entry2 supported[] = {
	E(0, 0, 0xd, SIG("Genu"), SIG("ntel"), SIG("ineI")),
	E(1, 0, 0x806c1, 0x00000800, 0x7ffafbff, 0xbfebfbff),
	E(4, 0, 0x1c004121, 0x01c0003f, 0x3f, 0),
	E(4, 3, 0x1c03c163, 0x03c0003f, 0x3fff, 6),
	E(0xb, 0, 1, 2, 0x100, 0),
	E(0xb, 1, 4, 8, 0x201, 0),
	E(0x40000000, 0, 0x40000001, SIG("KVMK"), SIG("VMKV"), SIG("M\0\0\0")),
	E(0x40000001, 0, KVM_FEATURES, 0, 0, 0),
	E(0x80000008, 0, 0x3027, 0, 0, 0),
};

/* Linux 6.1 kvm_get_hv_cpuid (system ioctl: no enlightened VMCS version) with a host that
 * has everything; plus the bits vsrv must take away to check that it does. */
static const struct kvm_cpuid_entry2 hv[] = {
	E(0x40000000, 0, 0x40000082, SIG("Linu"), SIG("x KV"), SIG("M Hv")),
	E(0x40000001, 0, SIG("Hv#1"), 0, 0, 0),
	E(0x40000002, 0, 0x00003839, 0x000a0000, 0, 0),
	E(0x40000003, 0, 0x00002eff, 0x00000100, 0, 0x003bb7f2 | HV_FEAT_EDX_DEBUG_MSRS),
	E(0x40000004, 0, 0x00020ebe | HV_ENL_EAX_EVMCS, 0xffffffff, 0, 0),
	E(0x40000005, 0, 0x00000400, 0, 0, 0),
	E(0x4000000A, 0, 0x00000101, 0, 0, 0),
	E(0x40000080, 0, 0, SIG("Micr"), SIG("osof"), SIG("t VS")),
	E(0x40000081, 0, 0, 0, 0, 0),
	E(0x40000082, 0, 2, 0, 0, 0),
};

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid2 *c, uint32_t f, uint32_t i)
{
	for (unsigned k = 0; k < c->nent; k++)
		if (c->entries[k].function == f && c->entries[k].index == i)
			return &c->entries[k];
	return NULL;
}

static unsigned count_range(const struct kvm_cpuid2 *c, uint32_t lo, uint32_t hi)
{
	unsigned n = 0;

	for (unsigned k = 0; k < c->nent; k++)
		n += c->entries[k].function >= lo && c->entries[k].function <= hi;
	return n;
}

static bool is_kvm_sig(const struct kvm_cpuid_entry2 *e)
{
	return e && e->ebx == SIG("KVMK") && e->ecx == SIG("VMKV") && e->edx == SIG("M\0\0\0");
}

static void test_parse_and_name(void)
{
	enum x86_enlight e;

	CHECK(!x86_enlight_parse("kvm", &e) && e == X86_ENLIGHT_KVM);
	CHECK(!x86_enlight_parse("hyperv", &e) && e == X86_ENLIGHT_HYPERV);
	CHECK(!x86_enlight_parse("none", &e) && e == X86_ENLIGHT_NONE);
	CHECK_EQ(x86_enlight_parse("Hyper-V", &e), -EINVAL);
	CHECK_EQ(x86_enlight_parse("", &e), -EINVAL);
	CHECK(!x86_enlight_parse("xen", &e) && e == X86_ENLIGHT_XEN);
	CHECK_EQ(X86_ENLIGHT_XEN, 3);                      /* in saved states: never renumbered */
	CHECK_EQ(x86_enlight_parse("Xen", &e), -EINVAL);
	CHECK(!strcmp(x86_enlight_name(X86_ENLIGHT_HYPERV), "hyperv"));
	CHECK(!strcmp(x86_enlight_name(X86_ENLIGHT_XEN), "xen"));
	CHECK(!strcmp(x86_enlight_name((enum x86_enlight)7), "?"));
}

/* kvm: KVM's leaves where they were, the topology of vCPU 2 of 4, the hypervisor bit. */
static void test_kvm(void)
{
	struct kvm_cpuid2 *s = table(supported, sizeof(supported) / sizeof(supported[0])), *c = NULL;

	CHECK_EQ(x86_cpuid_build(s, NULL, X86_ENLIGHT_KVM, 2, 4, &c), 0);
	if (!c)
		goto out;
	CHECK_EQ(c->nent, s->nent);
	CHECK(is_kvm_sig(find(c, 0x40000000, 0)));
	CHECK_EQ(find(c, 0x40000000, 0)->eax, 0x40000001);
	CHECK_EQ(find(c, 0x40000001, 0)->eax, KVM_FEATURES);
	CHECK_EQ(find(c, 1, 0)->ebx >> 24, 2);                 /* APIC id */
	CHECK_EQ((find(c, 1, 0)->ebx >> 16) & 0xff, 4);        /* logical CPUs per package */
	CHECK(find(c, 1, 0)->ecx & (1u << 31));                /* hypervisor */
	CHECK(find(c, 1, 0)->edx & (1u << 28));                /* HTT */
	CHECK_EQ(find(c, 0xb, 1)->ebx, 4);
	CHECK_EQ(find(c, 0xb, 1)->edx, 2);
	CHECK_EQ(count_range(c, 0x40000002, 0x4fffffff), 0);
	CHECK(!x86_cpuid_has_synic(c));
	/* the inputs are only read */
	CHECK(!memcmp(s->entries, supported, sizeof(supported)));
out:
	free(c);
	free(s);
}

/* none: no hypervisor leaves at all; the hypervisor bit stays. */
static void test_none(void)
{
	struct kvm_cpuid2 *s = table(supported, sizeof(supported) / sizeof(supported[0])), *c = NULL;

	CHECK_EQ(x86_cpuid_build(s, NULL, X86_ENLIGHT_NONE, 0, 1, &c), 0);
	if (!c)
		goto out;
	CHECK_EQ(count_range(c, 0x40000000, 0x4fffffff), 0);
	CHECK_EQ(c->nent, s->nent - 2);
	CHECK(find(c, 1, 0)->ecx & (1u << 31));
	CHECK(!(find(c, 1, 0)->edx & (1u << 28)));             /* one vCPU: no HTT */
out:
	free(c);
	free(s);
}

/* hyperv: "Microsoft Hv" at 0x40000000 with the highest leaf offered, no synthetic debugger
 * or enlightened VMCS, no KVM leaves, the SynIC on offer. */
static void test_hyperv(void)
{
	struct kvm_cpuid2 *s = table(supported, sizeof(supported) / sizeof(supported[0]));
	struct kvm_cpuid2 *h = table(hv, sizeof(hv) / sizeof(hv[0])), *c = NULL;
	const struct kvm_cpuid_entry2 *v;

	CHECK_EQ(x86_cpuid_build(s, h, X86_ENLIGHT_HYPERV, 0, 2, &c), 0);
	if (!c)
		goto out;
	v = find(c, HV_CPUID_VENDOR, 0);
	CHECK(v && v->ebx == SIG("Micr") && v->ecx == SIG("osof") && v->edx == SIG("t Hv"));
	CHECK(v && v->eax == HV_CPUID_NESTED);                 /* not the debugger's 0x40000082 */
	CHECK_EQ(find(c, HV_CPUID_INTERFACE, 0)->eax, SIG("Hv#1"));
	CHECK_EQ(count_range(c, HV_CPUID_SYNDBG_FIRST, HV_CPUID_SYNDBG_LAST), 0);
	CHECK_EQ(find(c, HV_CPUID_FEATURES, 0)->edx, 0x003bb7f2);
	CHECK_EQ(find(c, HV_CPUID_FEATURES, 0)->eax, 0x00002eff);
	CHECK_EQ(find(c, HV_CPUID_ENLIGHTEN, 0)->eax, 0x00020ebe);
	CHECK_EQ(find(c, HV_CPUID_NESTED, 0)->eax, 0);
	CHECK_EQ(find(c, 0x40000005, 0)->eax, 0x400);
	/* no KVM leaves anywhere: Linux's detect_hypervisor_vendor takes the signature at the
	 * highest base, and "KVMKVMKVM" at 0x40000100 would beat Hyper-V's */
	for (uint32_t b = 0x40000000; b < 0x40010000; b += 0x100)
		CHECK(!is_kvm_sig(find(c, b, 0)));
	CHECK_EQ(count_range(c, 0x40000100, 0x4fffffff), 0);
	CHECK_EQ(count_range(c, 0x40000000, 0x400000ff), 7);   /* 0-5 and 0xA */
	CHECK(x86_cpuid_has_synic(c));
	CHECK(find(c, 1, 0)->ecx & (1u << 31));
	CHECK(!memcmp(h->entries, hv, sizeof(hv)));
out:
	free(c);
	free(h);
	free(s);
}

/* xen: Xen's leaves 0x40000000-4 (signature, version, hypercall MSR, time subleaves 0-2 for
 * KVM to fill, HVM leaf with this vCPU's id) and no KVM leaves anywhere: Linux takes the
 * hypervisor whose signature comes at the highest base, and KVM's at 0x40000100 would win. */
static void test_xen(void)
{
	struct kvm_cpuid2 *s = table(supported, sizeof(supported) / sizeof(supported[0])), *c = NULL;
	const struct kvm_cpuid_entry2 *v;
	unsigned k;

	CHECK_EQ(x86_cpuid_build(s, NULL, X86_ENLIGHT_XEN, 3, 4, &c), 0);
	if (!c)
		goto out;
	v = find(c, 0x40000000, 0);
	CHECK(v && v->ebx == SIG("XenV") && v->ecx == SIG("MMXe") && v->edx == SIG("nVMM"));
	CHECK(v && v->eax == 0x40000004);
	CHECK_EQ(find(c, 0x40000001, 0)->eax, 4 << 16 | 16);
	CHECK_EQ(find(c, 0x40000002, 0)->eax, 1);              /* one hypercall page */
	CHECK_EQ(find(c, 0x40000002, 0)->ebx, 0x40000000);     /* its MSR */
	for (k = 0; k < 3; k++) {
		CHECK(find(c, 0x40000003, k) != NULL);
		CHECK(find(c, 0x40000003, k)->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
	}
	CHECK_EQ(find(c, 0x40000004, 0)->eax, XEN_HVM_CPUID_VCPU_ID_PRESENT);
	CHECK_EQ(find(c, 0x40000004, 0)->ebx, 3);              /* the vCPU id */
	CHECK_EQ(count_range(c, 0x40000000, 0x4fffffff), 7);
	for (k = 0; k < c->nent; k++)
		CHECK(!is_kvm_sig(&c->entries[k]));
	CHECK(find(c, 1, 0)->ecx & (1u << 31));                /* hypervisor */
	CHECK_EQ(find(c, 1, 0)->ebx >> 24, 3);
	CHECK(!memcmp(s->entries, supported, sizeof(supported)));
	free(c);
	c = NULL;
	CHECK_EQ(x86_cpuid_build(s, NULL, X86_ENLIGHT_XEN, 0, 1, &c), 0);
	CHECK(c && find(c, 0x40000004, 0)->ebx == 0);
out:
	free(c);
	free(s);
}

/* What it refuses: hyperv without the host's table, a table without the vendor leaf or
 * with fewer than the leaves a Hyper-V guest needs, an unknown value. */
static void test_refusals(void)
{
	struct kvm_cpuid2 *s = table(supported, sizeof(supported) / sizeof(supported[0]));
	struct kvm_cpuid2 *novendor = table(hv + 1, 6), *short_hv = table(hv, 4), *c = NULL;

	CHECK_EQ(x86_cpuid_build(s, NULL, X86_ENLIGHT_HYPERV, 0, 1, &c), -EINVAL);
	CHECK_EQ(x86_cpuid_build(s, novendor, X86_ENLIGHT_HYPERV, 0, 1, &c), -EINVAL);
	CHECK_EQ(x86_cpuid_build(s, short_hv, X86_ENLIGHT_HYPERV, 0, 1, &c), -EINVAL);
	CHECK_EQ(x86_cpuid_build(s, NULL, (enum x86_enlight)4, 0, 1, &c), -EINVAL);
	CHECK(c == NULL);
	free(short_hv);
	free(novendor);
	free(s);
}

/* The Hyper-V calls KVM leaves to user space get Hyper-V's answers without a VMBus. */
static void test_hyperv_exit(void)
{
	struct kvm_run r;

	memset(&r, 0, sizeof(r));
	r.exit_reason = KVM_EXIT_HYPERV;
	r.hyperv.type = KVM_EXIT_HYPERV_HCALL;
	r.hyperv.u.hcall.input = HVCALL_POST_MESSAGE | (1ull << 32); /* rep count bits above */
	x86_hyperv_exit(&r);
	CHECK_EQ(r.hyperv.u.hcall.result, HV_STATUS_INVALID_CONNECTION_ID);
	r.hyperv.u.hcall.input = HVCALL_SIGNAL_EVENT;
	x86_hyperv_exit(&r);
	CHECK_EQ(r.hyperv.u.hcall.result, HV_STATUS_INVALID_CONNECTION_ID);
	r.hyperv.u.hcall.input = 0xffff;
	x86_hyperv_exit(&r);
	CHECK_EQ(r.hyperv.u.hcall.result, HV_STATUS_INVALID_HYPERCALL_CODE);
	/* a SynIC notice changes nothing */
	memset(&r, 0, sizeof(r));
	r.hyperv.type = KVM_EXIT_HYPERV_SYNIC;
	r.hyperv.u.synic.msr = 0x40000080;
	x86_hyperv_exit(&r);
	CHECK_EQ(r.hyperv.u.synic.msr, 0x40000080);
}

int main(void)
{
	RUN(test_hyperv_exit);
	RUN(test_parse_and_name);
	RUN(test_kvm);
	RUN(test_none);
	RUN(test_hyperv);
	RUN(test_xen);
	RUN(test_refusals);
	return check_done();
}
