/* The real-mode part of a bzImage: a boot sector and one setup sector holding the setup header
 * (Documentation/x86/boot.rst, protocol 2.12, XLF_KERNEL_64). There is no real-mode or 32-bit
 * code: loaders must use the 64-bit entry at load address + 0x200. */
	.section .bzsetup, "a"
	.code16
bz_start:
	.org 0x1f1
	.byte 1                 /* setup_sects */
	.word 0                 /* root_flags */
	.long bz_syssize        /* syssize, 16-byte units */
	.word 0                 /* ram_size */
	.word 0xffff            /* vid_mode */
	.word 0                 /* root_dev */
	.word 0xaa55            /* boot_flag */
	.byte 0xeb              /* 0x200 jump over the header (to a halt loop) */
	.byte bz_halt - 0x202 - bz_start
	.ascii "HdrS"           /* 0x202 header */
	.word 0x020c            /* version 2.12 */
	.long 0                 /* realmode_swtch */
	.word 0x1000            /* start_sys_seg */
	.word bz_version - 0x200 - bz_start /* kernel_version */
	.byte 0                 /* type_of_loader */
	.byte 0x01              /* loadflags: LOADED_HIGH */
	.word 0x8000            /* setup_move_size */
	.long 0x100000          /* code32_start */
	.long 0                 /* ramdisk_image */
	.long 0                 /* ramdisk_size */
	.long 0                 /* bootsect_kludge */
	.word 0                 /* heap_end_ptr */
	.byte 0                 /* ext_loader_ver */
	.byte 0                 /* ext_loader_type */
	.long 0                 /* cmd_line_ptr */
	.long 0x7fffffff        /* initrd_addr_max */
	.long 0x200000          /* kernel_alignment */
	.byte 0                 /* relocatable_kernel */
	.byte 12                /* min_alignment */
	.word 0x0001            /* xloadflags: XLF_KERNEL_64 */
	.long 2047              /* cmdline_size */
	.long 0                 /* hardware_subarch */
	.quad 0                 /* hardware_subarch_data */
	.long 0                 /* payload_offset */
	.long 0                 /* payload_length */
	.quad 0                 /* setup_data */
	.quad 0x100000          /* pref_address */
	.long bz_init_size      /* init_size */
	.long 0                 /* handover_offset */
bz_halt:
	cli
	hlt
	jmp bz_halt
bz_version:
	.asciz "vsrv linuxboot test guest"

	.section .text.bz32, "ax"
	.code32
	/* 32-bit boot protocol entry (code32_start): not supported, stop here. */
1:	cli
	hlt
	jmp 1b
