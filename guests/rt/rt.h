/* The test-guest runtime: what every guest program in guests/ can use.
 *
 * A guest program defines `int main(void)`, called on the boot CPU in ring 0 (long mode,
 * identity-mapped 4 GiB, interrupts off) after the runtime has parsed the boot information.
 * Returning from main ends the VM: 0 reports success (rt_pass), anything else failure (rt_fail).
 *
 * Ring 0 is run by KVM's instruction emulator on the PVM hosts we develop on (~3 M instr/s):
 * compute in ring 3 with rt_user_call(), which runs a function at CPL 3 with IOPL 3 (port I/O
 * and cli/sti allowed) and comes back through the "ud2 syscall" (see guests/README.md).
 */
#ifndef VSRV_GUESTS_RT_RT_H
#define VSRV_GUESTS_RT_RT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define RT_MAX_CPUS 64
#define RT_MAX_MEM  32

/* Debug-exit values (port 0xf4): the VMM's exit status is (value << 1) | 1. */
#define RT_EXIT_PASS      0x10 /* status 33 */
#define RT_EXIT_FAIL      0x11 /* status 35 */
#define RT_EXIT_EXCEPTION 0x12 /* status 37: unhandled exception */

/* Selectors. */
#define RT_KCODE 0x08
#define RT_KDATA 0x10
#define RT_UDATA 0x1b
#define RT_UCODE 0x23

struct rt_mem_range {
	uint64_t base, len;
	uint32_t type; /* 1 = usable RAM (multiboot and e820 agree) */
};

/* What the loader told us; filled before main() runs, owned by the runtime. */
struct rt_boot {
	int protocol;              /* RT_BOOT_MULTIBOOT or RT_BOOT_LINUX */
	const char *cmdline;       /* copy of the command line ("" when none) */
	int nmem;
	struct rt_mem_range mem[RT_MAX_MEM];
	uint64_t initrd_addr, initrd_size; /* Linux protocol only */
	uint64_t boot_params;      /* Linux protocol: address of boot_params */
	uint32_t mb_flags;         /* multiboot: the info flags */
};
#define RT_BOOT_MULTIBOOT 1
#define RT_BOOT_LINUX     2

extern struct rt_boot rt_boot;

/* Register state saved on every exception/interrupt; handlers may change it (e.g. rip). */
struct rt_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

/* A handler returns 1 when it handled the event (execution resumes at frame->rip), 0 to
 * fall back to the runtime's report-and-exit. Runs in ring 0 with interrupts off. */
typedef int (*rt_handler_fn)(struct rt_frame *f);

int main(void);

/* --- output and exit ------------------------------------------------------------------ */
void rt_write(const char *s, size_t n);          /* raw bytes to COM1, whole call under a lock */
void rt_puts(const char *s);                     /* string (no newline added) */
int rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int rt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int rt_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Bytes that were waiting in the UART at boot (turning its FIFOs on would have dropped them). */
extern char rt_serial_early[256];
extern size_t rt_serial_early_len;
/* debug-exit port, then reset, then halt; with `hold` on the command line: print the status
 * and stay up (the host ends the VM) */
__attribute__((noreturn)) void rt_exit(unsigned value);
__attribute__((noreturn)) void rt_pass(void);
__attribute__((noreturn)) void rt_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define RT_CHECK(cond) do { if (!(cond)) rt_fail("%s:%d: check failed: %s", __FILE__, __LINE__, #cond); } while (0)

/* --- command line ------------------------------------------------------------------------ */
/* Value of `key=value` in the command line copied into buf (NUL-terminated); -1 when absent. */
int rt_param(const char *key, char *buf, size_t size);
/* Numeric value of `key=N` (decimal, 0x hex, K/M/G suffix), or def when absent. */
uint64_t rt_param_u64(const char *key, uint64_t def);
int rt_param_flag(const char *key); /* 1 when the bare word or key=... is present */
uint64_t rt_ram_bytes(void);        /* sum of usable RAM in the memory map */

/* --- traps, rings ------------------------------------------------------------------------- */
void rt_set_handler(int vector, rt_handler_fn fn);     /* exceptions 0..31 and IRQ vectors */
/* A raw interrupt gate to entry (an assembly stub ending in iretq), callable from ring dpl. */
void rt_set_gate(int vector, void (*entry)(void), int dpl);
int rt_user_call(long (*fn)(long), long arg, long *ret);/* run fn(arg) in ring 3; 0 or -1 */
long rt_syscall(long nr, long a0, long a1);            /* from ring 3 (or 0): the ud2 gate */
#define RT_SYS_RETURN 0   /* back to rt_user_call (used by the runtime) */
#define RT_SYS_NOP    1   /* returns a0 + 1: to measure the round trip */
#define RT_SYS_HLT    2   /* sti; hlt in ring 0 (waits for an interrupt) */
#define RT_SYS_WRITE  3   /* rt_write(a0, a1) from ring 0 */
int rt_cpl(void);
static inline void rt_cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void rt_sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void rt_hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
static inline void rt_pause(void) { __asm__ volatile("pause" ::: "memory"); }

/* --- CPU ---------------------------------------------------------------------------------- */
static inline uint64_t rt_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}
static inline void rt_outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void rt_outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void rt_outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t rt_inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t rt_inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t rt_inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint64_t rt_rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void rt_wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline void rt_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
static inline uint32_t rt_mmio_read32(uint64_t addr) { return *(volatile uint32_t *)addr; }
static inline void rt_mmio_write32(uint64_t addr, uint32_t v) { *(volatile uint32_t *)addr = v; }

/* Per-CPU data, reachable through %gs in both rings. */
struct rt_cpu {
	struct rt_cpu *self;
	int index;              /* 0 = boot CPU, APs in arrival order */
	uint32_t apic_id;
	uint64_t user_rsp0;     /* kernel RSP saved by rt_user_call (offset 16) */
	void *tss;              /* this CPU's TSS (offset 24) */
	uint64_t user_stack;    /* top of this CPU's ring-3 stack (offset 32) */
};
struct rt_cpu *rt_this_cpu(void);
int rt_cpu_index(void);

/* --- interrupts, timers, SMP (rt/apic.c) ----------------------------------------------------- */
#define RT_LAPIC_BASE  0xfee00000ull
#define RT_IOAPIC_BASE 0xfec00000ull
void rt_irq_init(void);                      /* mask the 8259s, enable this CPU's LAPIC */
void rt_lapic_eoi(void);
uint32_t rt_lapic_id(void);
uint32_t rt_lapic_read(uint32_t reg);
void rt_lapic_write(uint32_t reg, uint32_t v);
void rt_ioapic_route(int pin, int vector, uint32_t dest_apic, int level_low); /* edge/high when 0 */
void rt_ioapic_mask(int pin);
void rt_pit_periodic(uint32_t hz);           /* PIT channel 0, mode 2 */
void rt_pit_stop(void);
uint64_t rt_tsc_calibrate(void);             /* TSC Hz measured against PIT channel 0 (~50 ms) */
extern uint64_t rt_tsc_hz;                   /* 0 until calibrated */
void rt_lapic_timer_periodic(int vector, uint32_t count, uint32_t divide); /* divide 1..128 */
void rt_lapic_timer_stop(void);
int rt_mptable_cpus(uint32_t *apic_ids, int max); /* CPUs in the MP table, -1 when none */
/* Start the other CPUs (INIT/SIPI to all but self); each runs fn(index) in ring 0 on its
 * own stack, then halts. Waits until `expected` APs have reported or tries run out. Returns
 * the number that came up. */
int rt_smp_start(void (*fn)(int index), int expected);
extern volatile int rt_cpus_up;              /* APs that reached fn so far */

/* --- small libc ------------------------------------------------------------------------------ */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strstr(const char *h, const char *n);
uint64_t rt_strtou64(const char *s, const char **end);

/* spinlock usable from both rings */
struct rt_lock { volatile int v; };
static inline void rt_lock(struct rt_lock *l)
{
	while (__atomic_exchange_n(&l->v, 1, __ATOMIC_ACQUIRE))
		while (l->v)
			rt_pause();
}
static inline void rt_unlock(struct rt_lock *l) { __atomic_store_n(&l->v, 0, __ATOMIC_RELEASE); }

#endif
