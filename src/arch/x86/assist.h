/* Emulation assists: on hosts whose KVM cannot emulate some instructions in guest kernel
 * mode (KVM_EXIT_INTERNAL_ERROR, suberror KVM_INTERNAL_ERROR_EMULATION), complete the
 * known ones architecturally: int3 (RIP past it, #BP injected), fwait (no-op, or #MF when
 * an unmasked x87 exception is pending), clac/stac (RFLAGS.AC), lfence/mfence/sfence
 * (no-op), ud2 (#UD injected). Never reached on hosts whose KVM emulates these itself. */
#ifndef VSRV_ARCH_X86_ASSIST_H
#define VSRV_ARCH_X86_ASSIST_H

#include <stddef.h>
#include <stdint.h>

struct vcpu;

/* Handle v's KVM_EXIT_INTERNAL_ERROR. Returns 0 when the instruction was completed and the
 * vCPU may run on, or -errno after logging one line (RIP and the instruction bytes, or the
 * KVM suberror). vCPU thread only. */
int x86_assist(struct vcpu *v);

/* What an assist does with an instruction: for tests. */
enum x86_assist_kind {
	ASSIST_NONE,      /* unknown: stop the VM */
	ASSIST_SKIP,      /* advance RIP (fences, fwait, clac/stac with their flag change) */
	ASSIST_INT3,      /* advance RIP and inject #BP */
	ASSIST_UD,        /* inject #UD at the instruction */
};

/* Decode bytes[0..len): the kind, the instruction length (*ilen) and the RFLAGS.AC change
 * (*ac: -1 clear, 1 set, 0 none). Pure function. */
enum x86_assist_kind x86_assist_decode(const uint8_t *bytes, size_t len, unsigned *ilen,
				       int *ac);

#endif
