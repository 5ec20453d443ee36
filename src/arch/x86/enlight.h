/* Paravirtual interfaces a guest is offered ("enlightenments", `vsrv run --enlightenments`):
 *   kvm     KVM's own leaves at 0x40000000 ("KVMKVMKVM": kvmclock, steal time, PV EOI, PV
 *           TLB flush, PV unhalt, async page faults, PV send-IPI, PV sched yield), as the
 *           host's KVM offers them. The default; what Linux uses.
 *   hyperv  the Hyper-V ("Viridian") leaves at 0x40000000 ("Microsoft Hv") with the features
 *           the host's KVM implements in the kernel (KVM_GET_SUPPORTED_HV_CPUID: relaxed
 *           timing, VP index, APIC assist, reference time counter and TSC page, SynIC and
 *           synthetic timers, frequencies, TLB flush and IPI hypercalls, ...), without KVM's
 *           own leaves (Linux would pick "KVMKVMKVM" at 0x40000100 over Hyper-V's). For
 *           Windows, and Linux's Hyper-V guest code.
 *   xen     the Xen HVM platform (arch/x86/xen.h, KVM_CAP_XEN_HVM): Xen's leaves at
 *           0x40000000 ("XenVMMXenVMM", version, hypercall page MSR 0x40000000, time, HVM
 *           with the vCPU id), shared info, vcpu_info pvclock, event channels with the
 *           callback vector, timers; for guests built for Xen (Linux's CONFIG_XEN_PVHVM).
 *           KVM's own leaves are not offered: Linux picks the hypervisor whose leaves come
 *           last (0x40000100 would beat Xen's) and would then not look at Xen's.
 *   none    no hypervisor leaves at all (the hypervisor bit in leaf 1 stays).
 * The CPUID a vCPU gets is built by x86_cpuid_build (a pure function: tests/unit/
 * test_enlight.c checks it against KVM's tables) and set by x86_cpuid_set (cpuid.c). */
#ifndef VSRV_ARCH_X86_ENLIGHT_H
#define VSRV_ARCH_X86_ENLIGHT_H

#include <stdbool.h>
#include <stdint.h>

struct kvm_cpuid2;

/* The values are stored in saved states (savestate_config.enlightenments): never renumber. */
enum x86_enlight {
	X86_ENLIGHT_KVM = 0,
	X86_ENLIGHT_HYPERV = 1,
	X86_ENLIGHT_NONE = 2,
	X86_ENLIGHT_XEN = 3,
};
#define X86_ENLIGHT_LAST X86_ENLIGHT_XEN

/* Hyper-V CPUID bits vsrv looks at (Hyper-V TLFS 6.0, "Feature and interface discovery"). */
#define HV_CPUID_VENDOR       0x40000000u
#define HV_CPUID_INTERFACE    0x40000001u
#define HV_CPUID_FEATURES     0x40000003u
#define HV_CPUID_ENLIGHTEN    0x40000004u
#define HV_CPUID_NESTED       0x4000000Au
#define HV_CPUID_SYNDBG_FIRST 0x40000080u
#define HV_CPUID_SYNDBG_LAST  0x400000FFu
#define HV_FEAT_EAX_SYNIC     (1u << 2)   /* 0x40000003 EAX: SynIC MSRs */
#define HV_FEAT_EDX_DEBUG_MSRS (1u << 11) /* 0x40000003 EDX: synthetic debugger MSRs */
#define HV_ENL_EAX_EVMCS      (1u << 14)  /* 0x40000004 EAX: enlightened VMCS recommended */
#define HV_CPUID_MIN_LEAVES   0x40000005u /* the least a Hyper-V guest accepts */
#define HV_LEAVES_END         0x40000100u /* Hyper-V's leaves end below */

/* "kvm", "hyperv", "xen" or "none" into *out. 0 or -EINVAL. */
int x86_enlight_parse(const char *s, enum x86_enlight *out);

/* The name of e ("kvm", ...); "?" for a value out of range. Static string. */
const char *x86_enlight_name(enum x86_enlight e);

/* KVM_GET_SUPPORTED_HV_CPUID: on the KVM fd when the host has KVM_CAP_SYS_HYPERV_CPUID,
 * otherwise on vcpu_fd (any vCPU of the VM). 0 and *out (the caller's, free()), -ENOTSUP
 * when the host's KVM has no Hyper-V emulation, or -errno. */
int x86_hv_cpuid_get(int kvm_fd, int vcpu_fd, struct kvm_cpuid2 **out);

/* The CPUID of vCPU id of nr_cpus: a copy of supported (KVM_GET_SUPPORTED_CPUID) with a
 * consistent topology (one package, one core per vCPU, one thread per core, APIC id = id),
 * the hypervisor bit, and the leaves of e: for X86_ENLIGHT_HYPERV, hv (the host's
 * KVM_GET_SUPPORTED_HV_CPUID, required) without the synthetic debugger and enlightened VMCS
 * (vsrv offers neither), with the vendor "Microsoft Hv"; for X86_ENLIGHT_XEN Xen's leaves
 * 0x40000000-4 (arch/x86/xen.h: leaf 3's subleaves 0-2 for KVM to fill in its TSC figures,
 * leaf 4 with vCPU id = id) and no KVM leaves. *out is the caller's (free()).
 * 0, -EINVAL (hyperv without hv, a table without the vendor leaf, more than room) or
 * -ENOMEM. Reads its inputs only. */
int x86_cpuid_build(const struct kvm_cpuid2 *supported, const struct kvm_cpuid2 *hv,
		    enum x86_enlight e, unsigned id, unsigned nr_cpus, struct kvm_cpuid2 **out);

/* Does the CPUID c offer the Hyper-V SynIC (then the vCPU needs KVM_CAP_HYPERV_SYNIC2)? */
bool x86_cpuid_has_synic(const struct kvm_cpuid2 *c);

/* A KVM_EXIT_HYPERV (the guest's Hyper-V calls that KVM leaves to user space), answered as a
 * Hyper-V without VMBus answers: HvPostMessage and HvSignalEvent (the VMBus's) get
 * HV_STATUS_INVALID_CONNECTION_ID, other hypercalls HV_STATUS_INVALID_HYPERCALL_CODE; SynIC
 * and synthetic-debugger notices need nothing. Writes the result into run. Always lets the
 * vCPU go on (a guest's bad hypercall is the guest's error, not the VM's end). */
struct kvm_run;
void x86_hyperv_exit(struct kvm_run *run);

#define HV_STATUS_INVALID_HYPERCALL_CODE 0x0002
#define HV_STATUS_INVALID_CONNECTION_ID  0x0012
#define HVCALL_POST_MESSAGE 0x005c
#define HVCALL_SIGNAL_EVENT 0x005d

#endif
