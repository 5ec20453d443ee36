/* The multiboot v1 header, linked only into the .elf guests (the Linux-protocol forms must
 * not carry one, or a loader would take them for multiboot kernels). */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* modules page-aligned, memory information wanted */
	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
