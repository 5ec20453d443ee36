/* The ring-0 register-access stub for the virtio drivers (see vio.h): reached from ring 3 by
 * `int3` through a DPL-3 interrupt gate on vector 3. RAX = operation, RDX = address or port,
 * RCX = value; the result comes back in RAX. Three instructions, because every ring-0
 * instruction is emulated on the PVM hosts. */
	.text
	.code64
	.globl vio_gate_entry
vio_gate_entry:
	jmp *vio_gate_ops(,%rax,8)
1:	movzbl (%rdx), %eax
	iretq
2:	movzwl (%rdx), %eax
	iretq
3:	movl (%rdx), %eax
	iretq
4:	movb %cl, (%rdx)
	iretq
5:	movw %cx, (%rdx)
	iretq
6:	movl %ecx, (%rdx)
	iretq
7:	inl %dx, %eax
	iretq
8:	movl %ecx, %eax
	outl %eax, %dx
	iretq
9:	iretq

	.section .rodata
	.align 8
vio_gate_ops:
	.quad 1b, 2b, 3b, 4b, 5b, 6b, 7b, 8b, 9b
