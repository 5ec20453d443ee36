/* Test-guest runtime: boot entries (multiboot v1 32-bit, Linux 64-bit), long-mode switch,
 * static GDT and identity page tables, the AP start-up trampoline, trap stubs and the
 * ring-3 call/return gate. */
#define RT_MAX_CPUS 64
#define RT_STACK_SIZE 16384
#define RT_KCODE 0x08
#define RT_KDATA 0x10
#define RT_UDATA 0x1b
#define RT_UCODE 0x23
#define RT_KCODE32 0x28
/* struct rt_cpu offsets */
#define CPU_USER_RSP0 16
#define CPU_TSS 24
#define CPU_USTACK 32

	.section .text.entry, "ax"
	.code32
	.globl _start32
_start32:
	cli
	mov %eax, %edi          /* multiboot magic (rdmsr below clobbers edx) */
	mov %ebx, %esi          /* multiboot info */
	mov $1, %ebp            /* boot CPU, multiboot protocol */
rt_enter_long32:
	lgdt rt_gdt_ptr
	mov $rt_pml4, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x620, %eax         /* PAE, OSFXSR, OSXMMEXCPT */
	mov %eax, %cr4
	mov $0xc0000080, %ecx
	rdmsr
	or $0x100, %eax         /* EFER.LME */
	wrmsr
	mov %cr0, %eax
	and $~4, %eax           /* no EM */
	or $0x80000003, %eax    /* PG, MP, PE */
	mov %eax, %cr0
	ljmp $RT_KCODE, $rt_entry64

	.globl rt_ap_entry32
rt_ap_entry32:
	mov $RT_KDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %ebp, %ebp          /* application processor */
	jmp rt_enter_long32

	.code64
rt_entry64:
	mov $RT_KDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	test %ebp, %ebp
	jz 1f
	mov $rt_stacks + RT_STACK_SIZE, %rsp
	mov %edi, %edx          /* magic */
	mov %ebp, %edi          /* protocol */
	mov %esi, %esi          /* info address, zero-extended */
	call rt_start
	ud2
1:	mov $1, %eax
	lock xadd %eax, rt_ap_next(%rip)
	mov %eax, %edi
	inc %eax
	imul $RT_STACK_SIZE, %eax, %eax
	lea rt_stacks(%rip), %rsp
	add %rax, %rsp
	call rt_ap_start
2:	cli
	hlt
	jmp 2b

/* Linux x86-64 boot protocol entry: long mode, loader's GDT and page tables, RSI = boot_params.
 * In its own section so the bzImage link can put it at load address + 0x200. */
	.section .text.linux64, "ax"
	.globl rt_linux_entry64
rt_linux_entry64:
	cli
	mov $rt_stacks + RT_STACK_SIZE, %rsp
	mov %rsi, %r12
	mov $rt_pml4, %rax
	mov %rax, %cr3
	mov %cr4, %rax
	or $0x620, %rax
	mov %rax, %cr4
	lgdt rt_gdt_ptr
	push $RT_KCODE
	push $1f
	lretq
1:	mov $2, %ebp
	mov %r12, %rsi
	xor %edi, %edi
	jmp rt_entry64

	.section .text.entry, "ax"
/* AP trampoline: copied below 1 MiB by rt_smp_start, entered in real mode by SIPI. */
	.code16
	.globl rt_tramp_start, rt_tramp_end
rt_tramp_start:
	cli
	mov %cs, %ax
	mov %ax, %ds
	lgdtl tramp_gdt_ptr - rt_tramp_start
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $RT_KCODE32, $rt_ap_entry32
	.align 4
tramp_gdt_ptr:
	.word rt_gdt_end - rt_gdt - 1
	.long rt_gdt
rt_tramp_end:
	.code64

	.text
/* Trap stubs: 256 entries of 16 bytes at rt_isr_stubs (page-aligned: the prebuilt IDT
 * below needs their addresses' high halves to be equal). */
	.align 4096
	.globl rt_isr_stubs
rt_isr_stubs:
	.set vec, 0
	.rept 256
	.align 16
	.if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	push $0
	.endif
	push $vec
	jmp rt_trap_common
	.set vec, vec + 1
	.endr

rt_trap_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	cld
	call rt_trap
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp
	iretq

/* #UD gate. Fast path for the ring-3 "syscall" (ud2; .ascii "VS"; nr in rax, args in rdi,
 * rsi; result in rax): every instruction here is emulated on PVM hosts, so it saves only the
 * caller-saved registers and calls the C dispatcher. Anything else goes to rt_trap. */
	.globl rt_ud_entry
rt_ud_entry:
	testb $3, 8(%rsp)               /* from ring 3? */
	jz 2f
	push %rcx
	mov 8(%rsp), %rcx               /* rip */
	cmpl $0x53560b0f, (%rcx)        /* 0f 0b 'V' 'S' */
	pop %rcx
	jne 2f
	test %rax, %rax                 /* RT_SYS_RETURN: unwind to rt_user_call */
	jz rt_user_return
	addq $4, (%rsp)
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %r8
	push %r9
	push %r10
	push %r11
	sub $8, %rsp
	mov %rsi, %rdx
	mov %rdi, %rsi
	mov %rax, %rdi
	cld
	call rt_syscall_dispatch
	add $8, %rsp
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	iretq
2:	jmp rt_isr_stubs + 6 * 16

/* int rt_user_call(long (*fn)(long), long arg, long *ret): fn(arg) in ring 3 (IOPL 3, IF as now). */
	.globl rt_user_call
rt_user_call:
	pushfq
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	push %rdx                       /* ret */
	push %gs:CPU_USER_RSP0          /* for nesting */
	mov %gs:CPU_TSS, %rax
	push 4(%rax)                    /* old TSS.RSP0 */
	mov %rsp, %gs:CPU_USER_RSP0
	mov %rsp, %rcx
	and $-16, %rcx
	mov %rcx, 4(%rax)               /* traps from ring 3 land below us */
	push $RT_UDATA
	push %gs:CPU_USTACK
	pushfq
	orq $0x3000, (%rsp)             /* IOPL 3 */
	push $RT_UCODE
	push $rt_user_trampoline
	iretq

rt_user_trampoline:                     /* ring 3: rdi = fn, rsi = arg */
	mov %rdi, %rax
	mov %rsi, %rdi
	call *%rax
	mov %rax, %rdi
	xor %eax, %eax                  /* RT_SYS_RETURN */
	ud2
	.byte 'V', 'S'
	ud2

/* void rt_user_return(long value): from the trap handler, unwind to rt_user_call's caller. */
	.globl rt_user_return
rt_user_return:
	mov %gs:CPU_USER_RSP0, %rsp
	mov %gs:CPU_TSS, %rax
	pop 4(%rax)
	pop %gs:CPU_USER_RSP0
	pop %rdx
	test %rdx, %rdx
	jz 1f
	mov %rdi, (%rdx)
1:	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	popfq
	xor %eax, %eax
	ret

/* long rt_syscall_gate(long nr, long a0, long a1): the ring-3 "syscall": ud2 + "VS". */
	.globl rt_syscall_gate
rt_syscall_gate:
	mov %rdi, %rax
	mov %rsi, %rdi
	mov %rdx, %rsi
	ud2
	.byte 'V', 'S'
	ret

	.section .data.pagetables, "aw"
/* Identity map of the low 4 GiB with 2 MiB pages, user-accessible (ring 3 runs everywhere). */
	.align 4096
	.globl rt_pml4
rt_pml4:
	.quad rt_pdpt + 0x7
	.fill 511, 8, 0
rt_pdpt:
	.quad rt_pd + 0x7, rt_pd + 0x1007, rt_pd + 0x2007, rt_pd + 0x3007
	.fill 508, 8, 0
rt_pd:
	.set i, 0
	.rept 2048
	.if i >= 2016           /* 0xfc000000..: device registers, uncached */
	.quad (i << 21) | 0x9f
	.else
	.quad (i << 21) | 0x87
	.endif
	.set i, i + 1
	.endr

	.data
/* The IDT, prebuilt (the boot CPU pays ~0.35 us per ring-0 instruction on PVM hosts, so the
 * runtime fills no tables at boot): vectors 0-31 go to their stubs, #UD to the syscall
 * gate (rt_ud_entry), the rest are not present until rt_set_handler/rt_set_gate. */
	.align 16
	.globl rt_idt
rt_idt:
	.set vec, 0
	.rept 256
	.if vec == 6
	.word rt_ud_lo16, RT_KCODE
	.byte 0, 0x8e
	.word rt_ud_hi16
	.elseif vec < 32
	.word rt_isr_lo16 + 16 * vec, RT_KCODE
	.byte 0, 0x8e
	.word rt_isr_hi16
	.else
	.quad 0
	.endif
	.quad 0
	.set vec, vec + 1
	.endr
rt_idt_end:

	.align 16
	.globl rt_gdt, rt_gdt_end
rt_gdt:
	.quad 0
	.quad 0x00af9a000000ffff        /* 0x08 kernel code, 64-bit */
	.quad 0x00cf92000000ffff        /* 0x10 kernel data */
	.quad 0x00cff2000000ffff        /* 0x18 user data */
	.quad 0x00affa000000ffff        /* 0x20 user code, 64-bit */
	.quad 0x00cf9a000000ffff        /* 0x28 kernel code, 32-bit */
	.fill 2 * RT_MAX_CPUS, 8, 0     /* 0x30 + 16 * cpu: TSS descriptors */
rt_gdt_end:
	.align 8
	.globl rt_gdt_ptr
	.word 0, 0, 0
rt_gdt_ptr:
	.word rt_gdt_end - rt_gdt - 1
	.quad rt_gdt
	.globl rt_ap_next
rt_ap_next:
	.long 1

	.bss
	.align 4096
	.globl rt_stacks
rt_stacks:
	.skip RT_MAX_CPUS * RT_STACK_SIZE
