/* Save and restore the architectural state KVM keeps for a VM: per vCPU (registers,
 * segment and control registers, FPU/SSE/AVX through XSAVE, XCR0, MSRs including
 * kvmclock's, the local APIC, pending events, the multiprocessing state, debug registers)
 * and per VM (the in-kernel PICs and IOAPIC, the PIT, the KVM clock).
 *
 * Each object's whole state is one plain struct, so a caller can copy it, compare it or
 * write it out. A state is restored into a vCPU or VM created the same way as the one it
 * was saved from (same CPUID, same in-kernel irqchip and PIT), with the guest's memory
 * copied by the caller; restore the VM state before its vCPUs'. Call on a vCPU whose
 * thread is not in KVM_RUN (stopped at an exit or not started). */
#ifndef VSRV_ARCH_X86_CPU_STATE_H
#define VSRV_ARCH_X86_CPU_STATE_H

#include <linux/kvm.h>
#include <stdint.h>

#define X86_STATE_MAX_MSRS 256

struct x86_vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave xsave;          /* the legacy 4 KiB area (KVM_GET_XSAVE) */
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp_state;
	struct kvm_debugregs debugregs;
	uint32_t nr_msrs;                /* valid entries of msrs */
	struct kvm_msr_entry msrs[X86_STATE_MAX_MSRS];
};

struct x86_vm_state {
	struct kvm_irqchip pic_master, pic_slave, ioapic;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

/* Capture vCPU vcpu_fd's state into *st (every MSR of KVM_GET_MSR_INDEX_LIST on kvm_fd,
 * and those of x86_state_msrs_extra, that KVM lets the host read). Returns 0, or -errno
 * after logging one line naming the ioctl. */
int x86_vcpu_save(int kvm_fd, int vcpu_fd, struct x86_vcpu_state *st);

/* Add to st->msrs (indices only, nr_msrs grows) the MSRs KVM keeps per vCPU but leaves out
 * of KVM_GET_MSR_INDEX_LIST (a VMM saves them itself, as QEMU does): the MTRRs a firmware
 * programs (MTRRdefType, the 11 fixed-range registers, 8 variable ranges: KVM's count).
 * Indices already listed are not added again; st->nr_msrs stays at most
 * X86_STATE_MAX_MSRS. */
void x86_state_msrs_extra(struct x86_vcpu_state *st);

/* Load *st into vcpu_fd (which has its CPUID set already). Returns 0, -EINVAL for a state
 * that does not fit (too many MSRs), or -errno after logging one line naming the ioctl
 * (and the MSR, for one KVM refuses). */
int x86_vcpu_restore(int vcpu_fd, const struct x86_vcpu_state *st);

/* Capture / load the VM-wide in-kernel device and clock state of vm_fd. Same returns. On
 * restore, the KVM clock continues from the saved value (time does not jump by the time the
 * VM spent saved). */
int x86_vm_save(int vm_fd, struct x86_vm_state *st);
int x86_vm_restore(int vm_fd, const struct x86_vm_state *st);

#endif
