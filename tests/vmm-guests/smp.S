/* Starts every other vCPU with INIT/SIPI through the in-kernel LAPIC. Each AP runs a
 * real-mode trampoline at 0x8000 that increments a counter and halts. The number of CPUs
 * expected is the command line (decimal). Prints "smp: NN cpus up" (hex) and exits 0x20,
 * or 0x31 when not all reported in. */
#include "mb.h"
#define LAPIC    0xfee00000
#define COUNTER  0x8ff0
	GUEST_START
main:	/* expected CPUs from the command line */
	xor %ecx, %ecx
	mov 16(%ebx), %esi
1:	movzbl (%esi), %eax
	sub $'0', %eax
	cmp $9, %eax
	ja 2f
	imul $10, %ecx
	add %eax, %ecx
	inc %esi
	jmp 1b
2:	mov %ecx, expected
	/* the trampoline at 0x8000 */
	mov $tramp, %esi
	mov $0x8000, %edi
	mov $(tramp_end - tramp), %ecx
	rep movsb
	movl $0, COUNTER
	movl $0x1ff, LAPIC + 0xf0          /* software-enable the LAPIC */
	movl $0, LAPIC + 0x310
	movl $0x000c4500, LAPIC + 0x300    /* INIT to all but self */
	call delay
	movl $0x000c4608, LAPIC + 0x300    /* SIPI, vector 0x08: CS=0x0800 IP=0 */
	call delay
	movl $0x000c4608, LAPIC + 0x300
	/* wait for the APs */
	mov $200000, %ecx
3:	mov COUNTER, %eax
	inc %eax
	cmp expected, %eax
	je 4f
	pause
	loop 3b
4:	PUTS msg
	call puthex8
	PUTS msg2
	mov COUNTER, %eax
	inc %eax
	cmp expected, %eax
	mov $0x31, %al
	jne exit_al
	EXIT 0x20
delay:	mov $2000, %ecx
5:	pause
	loop 5b
	ret
	GUEST_LIB
	.align 4
expected: .long 0
msg:	.asciz "smp: "
msg2:	.asciz " cpus up\n"

	.code16
tramp:	cli
	xor %ax, %ax
	mov %ax, %ds
	lock incl COUNTER
6:	hlt
	jmp 6b
tramp_end:
