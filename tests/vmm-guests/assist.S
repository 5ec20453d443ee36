/* Runs each instruction the emulation assists complete, in ring 0: int3 (the #BP handler
 * must see the return address after it), fwait, clac/stac (when CPUID has SMAP; RFLAGS.AC
 * checked), lfence/mfence/sfence, and ud2 (the #UD handler sees the ud2's own address and
 * skips it). The handlers return without IRET, which this host's KVM cannot emulate in
 * 32-bit protected mode. Prints "assist: <step>" as it goes; exits 0x20, or 0x3N on failure N. */
#include "mb.h"
	GUEST_START
main:	IDT_GATE 3, bp_handler
	IDT_GATE 6, ud_handler
	lidt idtr
	PUTS m_int3
after_int3_check:
	int3
after_int3:
	cmpl $1, bp_seen
	mov $0x31, %al
	jne exit_al
	PUTS m_fwait
	fwait
	PUTS m_fence
	lfence
	mfence
	sfence
	/* clac/stac only when CPUID.(7,0):EBX.SMAP[bit 20] says the CPU has them. */
	mov $7, %eax
	xor %ecx, %ecx
	cpuid
	test $(1 << 20), %ebx
	jz 1f
	PUTS m_stac
	stac
	pushf
	pop %eax
	test $(1 << 18), %eax
	mov $0x33, %al
	jz exit_al
	clac
	pushf
	pop %eax
	test $(1 << 18), %eax
	mov $0x34, %al
	jnz exit_al
1:	PUTS m_ud2
ud2_here:
	ud2
	cmpl $1, ud_seen
	mov $0x35, %al
	jne exit_al
	PUTS m_ok
	EXIT 0x20

bp_handler:
	cmpl $after_int3, (%esp)       /* trap: return address after the int3 */
	mov $0x32, %al
	jne exit_al
	movl $1, bp_seen
	IRET_NOIRET
ud_handler:
	cmpl $ud2_here, (%esp)         /* fault: the ud2 itself */
	mov $0x36, %al
	jne exit_al
	addl $2, (%esp)
	movl $1, ud_seen
	IRET_NOIRET
	GUEST_LIB
bp_seen: .long 0
ud_seen: .long 0
m_int3:	.asciz "assist: int3\n"
m_fwait: .asciz "assist: fwait\n"
m_fence: .asciz "assist: fences\n"
m_stac:	.asciz "assist: stac/clac\n"
m_ud2:	.asciz "assist: ud2\n"
m_ok:	.asciz "assist: all done\n"
	IDT_TABLE
