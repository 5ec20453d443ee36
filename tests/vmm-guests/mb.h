/* Shared bits of the tiny VMM test guests: a multiboot v1 header and serial/exit macros. */
#define MB_MAGIC 0x1badb002
	.macro MULTIBOOT_HEADER
	.section .text
	.align 4
	.long MB_MAGIC, 0, -MB_MAGIC
	.endm
	/* print the NUL-terminated string at \str on COM1 (clobbers eax, edx, esi) */
	.macro PUTS str
	mov $\str, %esi
	call puts
	.endm
	/* end the VM through the debug-exit port with status (\v << 1) | 1 */
	.macro EXIT v
	mov $\v, %al
	mov $0xf4, %dx
	out %al, %dx
	.endm
