/* Serial console with interrupts: IRQ 4 through the PIC (vector 0x24), receive and
 * transmit-empty interrupts enabled. Echoes what it receives until 'q', then checks that
 * at least one THRI interrupt arrived, prints "bye" and exits 0x20 (0x31: no THRI). */
#include "mb.h"
	GUEST_START
main:	IDT_GATE 0x24, irq4
	lidt idtr
	mov $0x11, %al          /* PIC: ICW1..4, master at 0x20, slave at 0x28 */
	out %al, $0x20
	out %al, $0xa0
	mov $0x20, %al
	out %al, $0x21
	mov $0x28, %al
	out %al, $0xa1
	mov $4, %al
	out %al, $0x21
	mov $2, %al
	out %al, $0xa1
	mov $1, %al
	out %al, $0x21
	out %al, $0xa1
	mov $0xef, %al          /* only IRQ 4 */
	out %al, $0x21
	mov $0xff, %al
	out %al, $0xa1
	mov $0x3fb, %dx         /* LCR: 8N1 */
	mov $3, %al
	out %al, %dx
	mov $0x3fa, %dx         /* FCR: FIFO on (input that came early is kept) */
	mov $1, %al
	out %al, %dx
	mov $0x3fc, %dx         /* MCR: DTR, RTS, OUT2 */
	mov $0x0b, %al
	out %al, %dx
	PUTS ready
	mov $0x3f9, %dx         /* IER: receive and transmit-empty interrupts */
	mov $3, %al
	out %al, %dx
1:	sti
	hlt
	cli
	cmpl $0, done
	je 1b
	cmpl $0, thri
	mov $0x31, %al
	je exit_al
	PUTS bye
	EXIT 0x20

irq4:	push %eax
	push %edx
2:	mov $0x3fa, %dx
	in %dx, %al
	test $1, %al
	jnz 5f
	and $0x0f, %al
	cmp $2, %al
	jne 3f
	incl thri
	jmp 2b
3:	mov $0x3fd, %dx
	in %dx, %al
	test $1, %al
	jz 2b
	mov $0x3f8, %dx
	in %dx, %al
	out %al, %dx
	cmp $'q', %al
	jne 3b
	movl $1, done
	jmp 3b
5:	mov $0x20, %al
	out %al, $0x20
	pop %edx
	pop %eax
	IRET_NOIRET
	GUEST_LIB
	.align 4
done:	.long 0
thri:	.long 0
ready:	.asciz "ready\n"
bye:	.asciz "\nbye\n"
	IDT_TABLE
