/* Executes popcnt in ring 0: this host's KVM cannot emulate it, and vsrv has no assist for
 * it, so the VM must stop naming RIP and the bytes (f3 0f b8 c1). On a host that runs it,
 * the guest exits 0x21 (status 67) instead. */
#include "mb.h"
	GUEST_START
main:	PUTS msg
	mov $0xff, %ecx
	popcnt %ecx, %eax
	EXIT 0x21
	GUEST_LIB
msg:	.asciz "about to popcnt\n"
