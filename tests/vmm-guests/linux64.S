/* A 64-bit "kernel" for the Linux boot protocol tests, built as an ELF64 vmlinux and as a
 * bzImage. Entered in long mode with RSI = boot_params, it checks the zero page (HdrS,
 * loader type, e820 map), prints "cmdline: ..." and the first line of the initrd on COM1,
 * and exits through the debug-exit port with 0x20 (status 65), or 0x3N (status 97+2N) on
 * check N failing. */
	.code64
	.text
	.globl startup_64
	.fill 0x200, 1, 0x90
startup_64:
	mov $0x80000, %rsp
	mov %rsi, %rbx                 /* boot_params */
	mov $0x31, %al
	cmpl $0x53726448, 0x202(%rbx)  /* HdrS */
	jne fail
	mov $0x32, %al
	cmpb $0xff, 0x210(%rbx)        /* type_of_loader */
	jne fail
	mov $0x33, %al
	cmpb $3, 0x1e8(%rbx)           /* e820_entries >= 3 */
	jb fail
	mov $0x34, %al
	cmpl $1, 0x2d0+16(%rbx)        /* e820[0] is RAM */
	jne fail
	cmpq $0, 0x2d0(%rbx)           /* ... and starts at 0 */
	jne fail
	mov $0x35, %al
	cmpq $0x100000, %rsp           /* (sanity: our stack is low) */
	jae fail
	lea cmdmsg(%rip), %rsi
	call puts
	mov 0x228(%rbx), %esi          /* cmd_line_ptr */
	call puts
	mov $10, %al
	call putc
	mov 0x21c(%rbx), %ecx          /* ramdisk_size */
	test %ecx, %ecx
	jz done
	lea initrdmsg(%rip), %rsi
	call puts
	mov 0x218(%rbx), %esi          /* ramdisk_image */
1:	lodsb
	call putc
	cmp $10, %al
	je done
	dec %ecx
	jnz 1b
done:	mov $0x20, %al
fail:	mov $0xf4, %dx
	out %al, %dx
2:	hlt
	jmp 2b
putc:	push %rdx
	mov $0x3f8, %dx
	out %al, %dx
	pop %rdx
	ret
puts:	lodsb
	test %al, %al
	jz 3f
	call putc
	jmp puts
3:	ret
cmdmsg:	.asciz "cmdline: "
initrdmsg: .asciz "initrd: "
