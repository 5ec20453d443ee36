/* Emulation assists: on hosts whose KVM cannot emulate some instructions in guest kernel
 * mode (KVM_EXIT_INTERNAL_ERROR, suberror KVM_INTERNAL_ERROR_EMULATION), complete the
 * known ones architecturally: int3 (RIP past it, #BP injected), fwait (no-op, or #MF when
 * an unmasked x87 exception is pending), clac/stac (RFLAGS.AC), lfence/mfence/sfence
 * (no-op), ud2 (#UD injected), ldmxcsr/stmxcsr with a memory operand in 64-bit mode (the
 * operand read or written through KVM_TRANSLATE, MXCSR through KVM_GET/SET_FPU, #GP on
 * reserved bits). Never reached on hosts whose KVM emulates these itself. */
#ifndef VSRV_ARCH_X86_ASSIST_H
#define VSRV_ARCH_X86_ASSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kvm_regs;
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
	ASSIST_LDMXCSR,   /* 0f ae /2, memory operand: MXCSR from memory (#GP on reserved bits) */
	ASSIST_STMXCSR,   /* 0f ae /3, memory operand: MXCSR to memory */
};

#define X86_REG_NONE (-1)
#define X86_REG_RIP  16

/* A decoded 64-bit-mode memory operand. Effective address = base + index * scale + disp
 * (base X86_REG_RIP: the next instruction's RIP), truncated to 32 bits when addr32 (0x67);
 * the linear address adds the FS or GS base when seg names one (other segments have base 0
 * in 64-bit mode). Registers are numbered as in ModRM: 0 rax, 1 rcx, ... 15 r15. */
struct x86_mem_op {
	int base, index;          /* X86_REG_NONE when absent */
	unsigned scale;           /* 1, 2, 4 or 8 */
	int64_t disp;
	int seg;                  /* 0, or 0x64 (FS) / 0x65 (GS): the override prefix */
	bool addr32;
};

struct x86_assist_insn {
	enum x86_assist_kind kind;
	unsigned len;             /* instruction length (0 for ASSIST_NONE) */
	int ac;                   /* RFLAGS.AC change: -1 clear, 1 set, 0 none */
	struct x86_mem_op mem;    /* ASSIST_LDMXCSR, ASSIST_STMXCSR */
};

/* Decode bytes[0..len) as 64-bit-mode code into *out. Forms not handled (lock, 66/f2/f3
 * prefixes, a REX not right before the opcode, VEX, register operands, truncated bytes)
 * give ASSIST_NONE. Pure function. */
enum x86_assist_kind x86_assist_decode_insn(const uint8_t *bytes, size_t len,
					    struct x86_assist_insn *out);

/* m's effective address with the registers in regs (without segment base), for an
 * instruction of length ilen at regs->rip. Pure function. */
uint64_t x86_mem_op_ea(const struct x86_mem_op *m, const struct kvm_regs *regs, unsigned ilen);

/* x86_assist_decode_insn's kind, length (*ilen) and RFLAGS.AC change (*ac). Pure function. */
enum x86_assist_kind x86_assist_decode(const uint8_t *bytes, size_t len, unsigned *ilen,
				       int *ac);

#endif
