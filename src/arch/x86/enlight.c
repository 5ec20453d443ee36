/* The CPUID each vCPU gets, with the paravirtual leaves of its enlightenments (enlight.h). */
#include "arch/x86/enlight.h"
#include "arch/x86/xen.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define HV_MAX_ENTRIES 64

int x86_enlight_parse(const char *s, enum x86_enlight *out)
{
	if (!strcmp(s, "kvm"))
		*out = X86_ENLIGHT_KVM;
	else if (!strcmp(s, "hyperv"))
		*out = X86_ENLIGHT_HYPERV;
	else if (!strcmp(s, "none"))
		*out = X86_ENLIGHT_NONE;
	else if (!strcmp(s, "xen"))
		*out = X86_ENLIGHT_XEN;
	else
		return -EINVAL;
	return 0;
}

const char *x86_enlight_name(enum x86_enlight e)
{
	switch (e) {
	case X86_ENLIGHT_KVM: return "kvm";
	case X86_ENLIGHT_HYPERV: return "hyperv";
	case X86_ENLIGHT_NONE: return "none";
	case X86_ENLIGHT_XEN: return "xen";
	}
	return "?";
}

int x86_hv_cpuid_get(int kvm_fd, int vcpu_fd, struct kvm_cpuid2 **out)
{
	struct kvm_cpuid2 *c;
	int fd = vcpu_fd;

	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYS_HYPERV_CPUID) > 0)
		fd = kvm_fd;
	else if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_HYPERV_CPUID) <= 0)
		return -ENOTSUP;
	c = calloc(1, sizeof(*c) + HV_MAX_ENTRIES * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = HV_MAX_ENTRIES;
	if (ioctl(fd, KVM_GET_SUPPORTED_HV_CPUID, c) < 0) {
		int ret = -errno;
		free(c);
		return ret;
	}
	*out = c;
	return 0;
}

static unsigned order(unsigned n) /* ceil(log2(n)) */
{
	unsigned o = 0;

	while ((1u << o) < n)
		o++;
	return o;
}

/* Topology and the hypervisor bit on one entry of the copied supported table. */
static void topology(struct kvm_cpuid_entry2 *e, unsigned id, unsigned nr_cpus)
{
	unsigned core_bits = order(nr_cpus);

	switch (e->function) {
	case 1:
		/* EBX: initial APIC id, logical processors per package, CLFLUSH size. */
		e->ebx = (id << 24) | ((nr_cpus > 1 ? (1u << core_bits) : 1) << 16) |
			 (e->ebx & 0xffff);
		if (nr_cpus > 1)
			e->edx |= 1u << 28;  /* HTT: the package has several logical CPUs */
		else
			e->edx &= ~(1u << 28);
		e->ecx |= 1u << 31;          /* running under a hypervisor */
		break;
	case 4:
		/* Deterministic cache parameters: cores per package, threads per cache. */
		if (e->eax & 0x1f) {
			unsigned level = (e->eax >> 5) & 7;
			e->eax &= 0x3ff;
			e->eax |= ((1u << core_bits) - 1) << 26;
			if (level == 3)
				e->eax |= ((1u << core_bits) - 1) << 14;
		}
		break;
	case 0xb:
	case 0x1f:
		/* Extended topology: level 0 SMT (1 thread), level 1 core (nr_cpus). */
		e->edx = id;
		if (e->index == 0) {
			e->eax = 0;
			e->ebx = 1;
			e->ecx = (1u << 8) | 0;
		} else if (e->index == 1) {
			e->eax = core_bits;
			e->ebx = nr_cpus;
			e->ecx = (2u << 8) | 1;
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;
		}
		break;
	case 0x80000008:
		/* AMD: number of cores - 1 and the APIC id size. */
		e->ecx = (e->ecx & ~0xf0ffu) | (core_bits << 12) | (nr_cpus - 1);
		break;
	default:
		break;
	}
}

static bool is_hv_range(uint32_t f)
{
	return f >= 0x40000000u && f <= 0x4fffffffu;
}

/* KVM's signature leaf at base: "KVMKVMKVM", the highest KVM leaf. */
static void kvm_vendor(struct kvm_cpuid_entry2 *e, uint32_t base)
{
	e->function = base;
	memcpy(&e->ebx, "KVMK", 4);
	memcpy(&e->ecx, "VMKV", 4);
	memcpy(&e->edx, "M\0\0\0", 4);
	e->eax = base + 1;
}

/* The Hyper-V leaves of hv into c (room for max entries): what vsrv offers of them. */
static int add_hyperv(struct kvm_cpuid2 *c, unsigned max, const struct kvm_cpuid2 *hv)
{
	uint32_t highest = 0;
	bool vendor = false;
	unsigned i;

	for (i = 0; i < hv->nent; i++) {
		struct kvm_cpuid_entry2 e = hv->entries[i];

		if (e.function < HV_CPUID_VENDOR || e.function >= HV_LEAVES_END)
			continue;    /* the synthetic debugger's 0x40000080.. leaves, and others */
		if (e.function >= HV_CPUID_SYNDBG_FIRST && e.function <= HV_CPUID_SYNDBG_LAST)
			continue;
		switch (e.function) {
		case HV_CPUID_VENDOR:
			vendor = true;
			memcpy(&e.ebx, "Micr", 4);
			memcpy(&e.ecx, "osof", 4);
			memcpy(&e.edx, "t Hv", 4);
			break;          /* EAX, the highest leaf: set below from what is offered */
		case HV_CPUID_FEATURES:
			e.edx &= ~HV_FEAT_EDX_DEBUG_MSRS;
			break;
		case HV_CPUID_ENLIGHTEN:
			e.eax &= ~HV_ENL_EAX_EVMCS;
			break;
		case HV_CPUID_NESTED:
			e.eax = e.ebx = e.ecx = e.edx = 0;  /* no nested virtualization on offer */
			break;
		default:
			break;
		}
		if (c->nent >= max)
			return -EINVAL;
		c->entries[c->nent++] = e;
		if (e.function > highest)
			highest = e.function;
	}
	if (!vendor || highest < HV_CPUID_MIN_LEAVES)
		return -EINVAL;   /* Linux and Windows want leaves up to 0x40000005 at least */
	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == HV_CPUID_VENDOR)
			c->entries[i].eax = highest;
	return 0;
}

/* Xen's leaves (xen/include/public/arch-x86/cpuid.h) for vCPU id into c. */
static void add_xen(struct kvm_cpuid2 *c, unsigned id)
{
	struct kvm_cpuid_entry2 *e = &c->entries[c->nent];
	unsigned i;

	memset(e, 0, 7 * sizeof(*e));
	e[0].function = XEN_CPUID_BASE;
	e[0].eax = XEN_CPUID_LAST;
	memcpy(&e[0].ebx, "XenV", 4);
	memcpy(&e[0].ecx, "MMXe", 4);
	memcpy(&e[0].edx, "nVMM", 4);
	e[1].function = XEN_CPUID_BASE + 1;
	e[1].eax = XEN_VERSION_MAJOR << 16 | XEN_VERSION_MINOR;
	e[2].function = XEN_CPUID_BASE + 2;
	e[2].eax = 1;                        /* hypercall pages */
	e[2].ebx = XEN_HYPERCALL_MSR;
	/* Time: subleaf 0 TSC mode (0: default, not emulated), 1 and 2 the TSC scaling and
	 * frequency KVM writes in when it sets the vCPU's TSC up. */
	for (i = 0; i < 3; i++) {
		e[3 + i].function = XEN_CPUID_BASE + 3;
		e[3 + i].index = i;
		e[3 + i].flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	}
	e[6].function = XEN_CPUID_BASE + 4;
	e[6].eax = XEN_HVM_CPUID_VCPU_ID_PRESENT;
	e[6].ebx = id;
	c->nent += 7;
}

int x86_cpuid_build(const struct kvm_cpuid2 *supported, const struct kvm_cpuid2 *hv,
		    enum x86_enlight e, unsigned id, unsigned nr_cpus, struct kvm_cpuid2 **out)
{
	unsigned max = supported->nent + (hv ? hv->nent : 0) + 7, i;
	const struct kvm_cpuid_entry2 *kvm_leaves[2] = { NULL, NULL };
	struct kvm_cpuid2 *c;
	int ret;

	if (e == X86_ENLIGHT_HYPERV && !hv)
		return -EINVAL;
	if (e != X86_ENLIGHT_KVM && e != X86_ENLIGHT_HYPERV && e != X86_ENLIGHT_NONE &&
	    e != X86_ENLIGHT_XEN)
		return -EINVAL;
	c = calloc(1, sizeof(*c) + max * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	for (i = 0; i < supported->nent; i++) {
		struct kvm_cpuid_entry2 en = supported->entries[i];

		if (is_hv_range(en.function)) {
			/* KVM's own leaves: kept for kvm, dropped for the others (Linux takes the
			 * hypervisor whose signature sits at the highest base: KVM's at 0x40000100
			 * would beat Hyper-V's and Xen's at 0x40000000) */
			if (en.function == 0x40000000u)
				kvm_leaves[0] = &supported->entries[i];
			else if (en.function == 0x40000001u)
				kvm_leaves[1] = &supported->entries[i];
			continue;
		}
		topology(&en, id, nr_cpus);
		c->entries[c->nent++] = en;
	}
	if (e == X86_ENLIGHT_XEN)
		add_xen(c, id);
	else if (e == X86_ENLIGHT_KVM && kvm_leaves[0]) {
		uint32_t base = 0x40000000u;
		struct kvm_cpuid_entry2 v = *kvm_leaves[0];

		kvm_vendor(&v, base);
		c->entries[c->nent++] = v;
		if (kvm_leaves[1]) {
			struct kvm_cpuid_entry2 f = *kvm_leaves[1];

			f.function = base + 1;
			c->entries[c->nent++] = f;
		}
	}
	if (e == X86_ENLIGHT_HYPERV && (ret = add_hyperv(c, max, hv)) < 0) {
		free(c);
		return ret;
	}
	*out = c;
	return 0;
}

bool x86_cpuid_has_synic(const struct kvm_cpuid2 *c)
{
	unsigned i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == HV_CPUID_FEATURES)
			return c->entries[i].eax & HV_FEAT_EAX_SYNIC;
	return false;
}

void x86_hyperv_exit(struct kvm_run *run)
{
	uint16_t code;

	if (run->hyperv.type != KVM_EXIT_HYPERV_HCALL)
		return;                      /* SynIC and synthetic debugger notices */
	code = run->hyperv.u.hcall.input & 0xffff;
	run->hyperv.u.hcall.result = code == HVCALL_POST_MESSAGE || code == HVCALL_SIGNAL_EVENT ?
		HV_STATUS_INVALID_CONNECTION_ID : HV_STATUS_INVALID_HYPERCALL_CODE;
}
