/* Reads the CMOS RTC (BCD) and prints "rtc: 20YY-MM-DD"; exits 0x20. */
#include "mb.h"
	GUEST_START
main:	PUTS msg
	mov $0x32, %cl
	call cmos
	call puthex8
	mov $0x09, %cl
	call cmos
	call puthex8
	mov $'-', %al
	call putc
	mov $0x08, %cl
	call cmos
	call puthex8
	mov $'-', %al
	call putc
	mov $0x07, %cl
	call cmos
	call puthex8
	mov $10, %al
	call putc
	EXIT 0x20
cmos:	mov %cl, %al
	out %al, $0x70
	in $0x71, %al
	ret
	GUEST_LIB
msg:	.asciz "rtc: "
