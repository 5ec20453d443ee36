/* ACPI power-off the way Linux does it: SLP_TYP from \_S5 (5) written to PM1a_CNT (0x604),
 * then again with SLP_EN. First an unknown sleep type (S3), which must be ignored. */
#include "mb.h"
	GUEST_START
main:	mov $0x604, %dx
	in %dx, %ax
	test $1, %ax            /* SCI_EN: always in ACPI mode */
	mov $0x31, %al
	jz exit_al
	mov $(3 << 10) | (1 << 13), %ax
	out %ax, %dx            /* S3: ignored */
	PUTS msg
	mov $0x604, %dx
	mov $(5 << 10) | 1, %ax
	out %ax, %dx
	or $(1 << 13), %ax
	out %ax, %dx            /* S5 + SLP_EN: off */
	EXIT 0x32               /* not reached */
	GUEST_LIB
msg:	.asciz "powering off\n"
