/* Console flow control: waits for one byte of input, then prints 1536 numbered lines of 64
 * bytes (96 KiB, more than the VMM's output ring) the way a driver using the FIFO does (one
 * line-status read per 16 bytes, waiting for THRE), then "flood done", and exits with 0x10
 * (status 33). Lines: 4 hex digits of the line number, a space, 58 letters, a newline. */
#include "mb.h"
#define LINES 1536
	GUEST_START
main:	mov $0x3fd, %dx                 /* wait for input (LSR.DR) */
1:	in %dx, %al
	test $1, %al
	jz 1b
	mov $0x3f8, %dx
	in %dx, %al
	xor %ebx, %ebx                  /* line number */
	mov $1, %edi                    /* bytes left in the FIFO load */
line:	mov %ebx, %eax
	shr $8, %eax
	call fputhex8
	mov %ebx, %eax
	call fputhex8
	mov $text, %esi
2:	lodsb
	test %al, %al
	jz 3f
	call fputc
	jmp 2b
3:	inc %ebx
	cmp $LINES, %ebx
	jb line
	PUTS done
	EXIT 0x10

/* putc with the 16550's FIFO discipline: before every 16 bytes, wait for THRE. */
fputc:	dec %edi
	jnz 5f
	push %eax
	mov $0x3fd, %dx
4:	in %dx, %al
	test $0x20, %al
	jz 4b
	pop %eax
	mov $16, %edi
5:	mov $0x3f8, %dx
	out %al, %dx
	ret
fputhex8:
	push %eax
	shr $4, %al
	call fputhex4
	pop %eax
fputhex4:
	and $0xf, %al
	add $'0', %al
	cmp $'9', %al
	jbe 6f
	add $7, %al
6:	jmp fputc
	GUEST_LIB
text:	.asciz " abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZabcdef\n"
done:	.asciz "flood done\n"
