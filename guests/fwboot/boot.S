/* fwboot: a disk and CD boot image for the firmware tests (guests/README.md).
 *
 * The BIOS loads the first 512 bytes at 0x7C00 (a CD with no emulation and
 * -boot-load-size 4: the first 2048). This sector asks the drive its sector size (int 13h
 * AH=48h), reads the rest of the 2048-byte boot block (disk) and the payload (the runtime
 * and fwboot.c, linked at 1 MiB, file offset 2048) with extended reads (AH=42h) to 0x10000,
 * then stage 2 reads the e820 map (int 15h E820), enables A20, switches to 32-bit protected
 * mode, copies the payload to 1 MiB, zeroes its bss and enters the runtime as a multiboot
 * loader would: EAX = 0x2BADB002, EBX = an info block with the command line (the parameter
 * block at file offset 512, patched by the tests) and the e820 map.
 *
 * On a CD the boot file's LBA comes from the El Torito boot information table
 * (xorriso -boot-info-table writes it at offsets 8-63). Errors print a FAIL line on COM1
 * and write 0x11 to the debug-exit port (exit status 35). */
#define BUF_SEG   0x1000      /* payload buffer 0x10000, at most 512 KiB */
#define CHUNK     0x8000      /* bytes per extended read */
#define MBI       0x5000      /* multiboot info */
#define MMAP      0x6000      /* e820 entries in multiboot form, 24 bytes each */
#define MMAP_MAX  64
#define COM1      0x3f8
#define DRIVE_PARAMS 0x4f00 /* int 13h AH=48h result */

	.code16
	.section .boot, "ax"
	.globl fwb_start
fwb_start:
	jmp 1f
	.org fwb_start + 8
	/* El Torito boot information table (bytes 8-63): filled by xorriso on a CD. */
bi_pvd:	.long 0
bi_file: .long 0
bi_length: .long 0
bi_csum: .long 0
	.org fwb_start + 64
1:	cli
	ljmp $0, $2f
2:	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7c00, %sp
	sti
	cld
	mov %dl, fwb_boot_drive
	/* Sector size: 512 unless the drive says 2048 (a CD). */
	movw $0x1e, DRIVE_PARAMS
	mov $0x48, %ah
	mov $DRIVE_PARAMS, %si
	int $0x13
	jc 3f
	cmpw $2048, DRIVE_PARAMS + 24
	jne 3f
	movw $2048, fwb_sector_bytes
	mov bi_file, %eax
	test %eax, %eax
	jz fail_bi
	inc %eax                /* the payload follows the 2048-byte boot block */
	mov %eax, dap_lba
	jmp load
3:	/* A disk: the rest of the boot block (sectors 1-3) to 0x7e00. */
	movw $3, dap_count
	movw $0x7e00, dap_off
	movl $1, dap_lba
	call read
	movl $4, dap_lba
load:	/* fwb_payload_chunks reads of CHUNK bytes into BUF_SEG:0, BUF_SEG + 0x800:0, ... */
	mov $CHUNK, %ax
	xor %dx, %dx
	divw fwb_sector_bytes
	mov %ax, %bx            /* sectors per chunk */
	movw $BUF_SEG, dap_seg
	movw $0, dap_off
	mov $fwb_payload_chunks, %cx
4:	mov %bx, dap_count
	push %cx
	push %bx
	call read
	pop %bx
	pop %cx
	addw $CHUNK >> 4, dap_seg
	movzwl %bx, %eax
	add %eax, dap_lba
	loop 4b
	jmp stage2

/* One extended read of dap; stops with a FAIL line on an error. */
read:	mov $0x42, %ah
	mov fwb_boot_drive, %dl
	mov $dap, %si
	int $0x13
	jc fail_read
	ret

fail_bi:
	mov $msg_bi, %si
	jmp fail
fail_read:
	mov $msg_read, %si
	/* fall through */
	.globl fwb_fail
fwb_fail:
fail:	/* Print the FAIL line at %si on COM1, then exit 35 through the debug-exit port. */
	mov $COM1 + 5, %dx
5:	in %dx, %al
	test $0x20, %al
	jz 5b
	lodsb
	test %al, %al
	jz 6f
	mov $COM1, %dx
	out %al, %dx
	jmp fail
6:	mov $0x11, %al
	out %al, $0xf4
7:	cli
	hlt
	jmp 7b

msg_bi:	.asciz "FAIL fwboot-load: a 2048-byte-sector drive but no El Torito boot information table\r\n"
msg_read: .asciz "FAIL fwboot-load: int 13h extended read failed\r\n"

	.globl fwb_boot_drive, fwb_sector_bytes
fwb_sector_bytes: .word 512
fwb_boot_drive: .byte 0
	.balign 4
dap:	.byte 16, 0
dap_count: .word 0
dap_off: .word 0
dap_seg: .word 0
dap_lba: .quad 0

	/* Stage 2, the parameter block and the GDT: file offsets 512-2047. */
	.section .boot2, "ax"
	.globl fwb_params, fwb_cmdline
fwb_params:
	/* The tests find this marker and write the command line after it (NUL-terminated). */
	.ascii "VSRVFWBOOT:"
fwb_cmdline:
	.asciz "mem=0 cpus=0 uuid=none"
	.org fwb_params + 256

stage2:	/* The e820 map into MMAP as multiboot entries {size 20, base, length, type}. */
	xor %ebx, %ebx
	mov $MMAP + 4, %di
	xor %bp, %bp
8:	mov $0xe820, %eax
	mov $0x534d4150, %edx   /* 'SMAP' */
	mov $20, %ecx
	int $0x15
	jc 9f
	cmp $0x534d4150, %eax
	jne 9f
	movl $20, -4(%di)
	add $24, %di
	inc %bp
	cmp $MMAP_MAX, %bp
	je 9f
	test %ebx, %ebx
	jnz 8b
9:	test %bp, %bp
	jnz 10f
	mov $msg_e820, %si
	jmp fwb_fail
10:	movzwl %bp, %eax
	imul $24, %eax
	mov %eax, MBI + 44      /* mmap_length */
	movl $MMAP, MBI + 48    /* mmap_addr */
	movl $0x45, MBI         /* flags: mem_lower/upper, cmdline, mmap */
	movl $639, MBI + 4
	movl $0, MBI + 8
	movl $fwb_cmdline, MBI + 16
	/* A20: the BIOS call, then port 0x92 (fast A20) unless it already shows A20 on. */
	mov $0x2401, %ax
	int $0x15
	in $0x92, %al
	test $2, %al
	jnz 11f
	or $2, %al
	and $0xfe, %al          /* bit 0 would reset the machine */
	out %al, $0x92
11:	cli
	lgdtl gdt_ptr
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x08, $pm32

msg_e820: .asciz "FAIL fwboot-load: int 15h E820 returned no map\r\n"

	.balign 8
gdt:	.quad 0
	.quad 0x00cf9a000000ffff  /* 0x08: 32-bit flat code */
	.quad 0x00cf92000000ffff  /* 0x10: flat data */
gdt_ptr: .word gdt_ptr - gdt - 1
	.long gdt

	.code32
pm32:	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov $0x7c00, %esp
	/* The payload to its link address, then its bss zeroed. */
	mov $BUF_SEG << 4, %esi
	mov $fwb_payload_vma, %edi
	mov $fwb_payload_words, %ecx
	rep movsl
	mov $fwb_bss_start, %edi
	mov $fwb_bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	rep stosb
	mov $0x2badb002, %eax
	mov $MBI, %ebx
	mov $_start32, %ecx
	jmp *%ecx

