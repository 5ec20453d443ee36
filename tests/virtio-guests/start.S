/* Multiboot v1 entry for the virtio test guests: 32-bit protected mode, flat segments,
 * paging off; sets a stack and calls main(); main's return value V ends the VM through the
 * debug-exit port (status (V << 1) | 1). */
	.text
	.align 4
	.long 0x1badb002, 0, -0x1badb002
	.text
	.code32
	.globl _start
_start:
	mov $0x180000, %esp
	call main
	mov $0xf4, %dx
	out %al, %dx
1:	hlt
	jmp 1b
