/* Prints a line on COM1, then exits with 0x10 (status 33). */
#include "mb.h"
	GUEST_START
main:	PUTS msg
	EXIT 0x10
	GUEST_LIB
msg:	.asciz "hello from the vmm test guest\n"
