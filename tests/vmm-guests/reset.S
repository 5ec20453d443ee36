/* Prints "boot", then pulses the i8042 reset line (command 0xFE on port 0x64). */
#include "mb.h"
	GUEST_START
main:	PUTS msg
	mov $0x64, %dx
	in %dx, %al          /* status: self-test flag, nothing pending */
	mov $0xfe, %al
	out %al, %dx
	EXIT 0x31            /* not reached: the reset ends the VM */
	GUEST_LIB
msg:	.asciz "boot\n"
