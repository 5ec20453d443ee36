/* Shared bits of the tiny VMM test guests (multiboot v1, 32-bit protected mode, ring 0):
 * the multiboot header, a stack, and serial/exit helpers. Each guest starts at `main` with
 * EBX = multiboot info. Status convention: EXIT 0x20 (status 65) is success. */
#define MB_MAGIC 0x1badb002
	.macro GUEST_START
	.text
	.align 4
	.long MB_MAGIC, 0, -MB_MAGIC
	.code32
	.globl _start
_start:
	mov $0x90000, %esp
	cmp $0x2badb002, %eax
	je 1f
	mov $0x7f, %al
	jmp exit_al
1:	lgdt gdtr                        /* our own GDT: code 0x08, data 0x10 */
	ljmp $0x08, $2f
2:	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	jmp main
	.align 8
gdt:	.quad 0, 0x00cf9b000000ffff, 0x00cf93000000ffff
gdtr:	.word 23
	.long gdt
	.endm

	/* print the NUL-terminated string at \str on COM1 */
	.macro PUTS str
	push %esi
	mov $\str, %esi
	call puts
	pop %esi
	.endm

	/* end the VM through the debug-exit port with status (\v << 1) | 1 */
	.macro EXIT v
	mov $\v, %al
	jmp exit_al
	.endm

	/* Return from a same-ring interrupt without IRET (KVM's emulator has no protected-mode
	 * IRET): pop EIP, CS and EFLAGS by hand. */
	.macro IRET_NOIRET
	push %eax               /* eax, EIP, CS, EFLAGS */
	mov 4(%esp), %eax
	mov %eax, 8(%esp)       /* EIP into the CS slot */
	mov 12(%esp), %eax
	mov %eax, 4(%esp)       /* EFLAGS into the EIP slot */
	pop %eax                /* EFLAGS, EIP, junk */
	popf
	ret $4
	.endm

	/* An IDT of 256 gates (fill with IDT_GATE, load with lidt idtr). */
	.macro IDT_TABLE
	.align 8
idt:	.fill 256, 8, 0
idtr:	.word 256 * 8 - 1
	.long idt
	.endm

	/* The helpers, once per guest. */
	.macro GUEST_LIB
exit_al:
	mov $0xf4, %dx
	out %al, %dx
1:	cli
	hlt
	jmp 1b
putc:	push %edx
	mov $0x3f8, %dx
	out %al, %dx
	pop %edx
	ret
puts:	push %eax
2:	lodsb
	test %al, %al
	jz 3f
	call putc
	jmp 2b
3:	pop %eax
	ret
	/* print AL as two hex digits */
puthex8:
	push %eax
	push %eax
	shr $4, %al
	call puthex4
	pop %eax
	call puthex4
	pop %eax
	ret
puthex4:
	and $0xf, %al
	add $'0', %al
	cmp $'9', %al
	jbe 4f
	add $7, %al
4:	call putc
	ret
	.endm

	/* Install an IDT gate: vector \vec -> handler \h (32-bit interrupt gate, ring 0). */
	.macro IDT_GATE vec, h
	mov $\h, %eax
	mov %ax, idt + \vec * 8
	movw $0x08, idt + \vec * 8 + 2
	movw $0x8e00, idt + \vec * 8 + 4
	shr $16, %eax
	mov %ax, idt + \vec * 8 + 6
	.endm
