/* Loads an empty IDT and divides by zero: #DE, #DF, then a triple fault. */
#include "mb.h"
	GUEST_START
main:	PUTS msg
	lidt idtr
	xor %ecx, %ecx
	mov $1, %eax
	div %ecx
	EXIT 0x31
	GUEST_LIB
	.align 8
idtr:	.word 0
	.long 0
msg:	.asciz "about to triple fault\n"
