/* Prints a line on COM1, then writes 0x10 to the debug-exit port (exit status 33). */
#include "mb.h"
	MULTIBOOT_HEADER
	.code32
	.globl _start
_start:
	cmp $0x2badb002, %eax
	jne bad
	mov $0x90000, %esp
	PUTS msg
	EXIT 0x10
1:	hlt
	jmp 1b
bad:	EXIT 0x7f
	jmp 1b
puts:	mov $0x3f8, %dx
2:	lodsb
	test %al, %al
	jz 3f
	out %al, %dx
	jmp 2b
3:	ret
msg:	.asciz "hello from the vmm test guest\n"
