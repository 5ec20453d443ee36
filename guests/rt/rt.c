/* Test-guest runtime: boot information, per-CPU set-up (TSS, IDT), traps, the ring-3 gate,
 * serial output and the exit report. */
#include "rt.h"

#define COM1 0x3f8
#define RT_USTACK_SIZE 16384

struct rt_tss {
	uint32_t reserved0;
	uint64_t rsp0, rsp1, rsp2;
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3, iomap;
	uint8_t iobitmap[8192 + 1]; /* all ports allowed in ring 3 (PVM ignores IOPL), 0xff end */
} __attribute__((packed));

struct rt_idt_entry {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, reserved;
} __attribute__((packed));

struct rt_boot rt_boot;
char rt_serial_early[256];
size_t rt_serial_early_len;
static struct rt_tss tss[RT_MAX_CPUS];
extern struct rt_idt_entry rt_idt[256]; /* prebuilt in entry.S */
#define idt rt_idt
static rt_handler_fn handlers[256];
static uint8_t user_stacks[RT_MAX_CPUS][RT_USTACK_SIZE] __attribute__((aligned(16)));
static char cmdline_copy[1024];
static struct rt_lock out_lock;

extern uint64_t rt_gdt[];
extern char rt_isr_stubs[];
void rt_user_return(long value) __attribute__((noreturn));
void rt_ud_entry(void);
long rt_syscall_gate(long nr, long a0, long a1);
void rt_start(int proto, uint64_t info, uint32_t magic);
void rt_ap_start(int index);
void rt_ap_main(int index); /* in apic.c */

static const struct { uint16_t lim; uint64_t base; } __attribute__((packed)) idt_ptr = {
	sizeof(idt) - 1, (uint64_t)idt
};

/* ---- output ---- */
void rt_write(const char *s, size_t n)
{
	rt_lock(&out_lock);
	while (n) {
		/* One status read per FIFO load: the 16550's transmit FIFO holds 16 bytes. */
		while (!(rt_inb(COM1 + 5) & 0x20))
			rt_pause();
		size_t k = n < 16 ? n : 16;
		for (size_t i = 0; i < k; i++)
			rt_outb(COM1, (uint8_t)s[i]);
		s += k;
		n -= k;
	}
	rt_unlock(&out_lock);
}

void rt_puts(const char *s) { rt_write(s, strlen(s)); }

/* Formatting runs in ring 3 when it can (natively there; ring 0 pays ~0.35 us per emulated
 * instruction on PVM hosts, ~1 ms for a line with a %s): rt_user_call costs about as much as
 * 150 ring-0 instructions. Not before this CPU is set up, and not while a ring-3 call is in
 * progress on it (an interrupt or exception handler: the user stack is in use). */
static int cpu_ready[RT_MAX_CPUS];
static int boot_cpu_ready;
static struct rt_cpu cpus[RT_MAX_CPUS];

struct fmt_call {
	char *buf;
	size_t size;
	const char *fmt;
	va_list *ap;
};

static long fmt_in_ring3(long arg)
{
	struct fmt_call *c = (struct fmt_call *)arg;
	return rt_vsnprintf(c->buf, c->size, c->fmt, *c->ap);
}

static int format(char *buf, size_t size, const char *fmt, va_list ap)
{
	if (boot_cpu_ready && rt_cpl() == 0) {
		struct rt_cpu *c = rt_this_cpu(); /* GS base: 0 on an AP not yet set up */
		if (c >= cpus && c < cpus + RT_MAX_CPUS && cpu_ready[c - cpus] && !c->user_rsp0) {
			va_list aq;
			long n = -1;
			va_copy(aq, ap);
			struct fmt_call call = { buf, size, fmt, &aq };
			rt_user_call(fmt_in_ring3, (long)&call, &n);
			va_end(aq);
			return (int)n;
		}
	}
	return rt_vsnprintf(buf, size, fmt, ap);
}

int rt_printf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = format(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	rt_write(buf, (size_t)n);
	return n;
}

void rt_exit(unsigned value)
{
	/* `hold` on the command line: stay up (devices and all) for the host to look at the
	 * VM's state, e.g. its control socket's counters, and stop it itself. */
	if (rt_boot.cmdline && rt_param_flag("hold")) {
		rt_printf("rt: holding with status %#x\n", value);
		for (;;) {
			rt_cli();
			if (rt_cpl() == 0)
				rt_hlt();
			else
				rt_pause();
		}
	}
	rt_outb(0xf4, (uint8_t)value);
	/* No debug-exit device: try the i8042 reset line (an exit with -no-reboot), then stop. */
	rt_outb(0x64, 0xfe);
	for (;;) {
		rt_cli();
		if (rt_cpl() == 0)
			rt_hlt();
	}
}

void rt_pass(void)
{
	rt_puts("RESULT: PASS\n");
	rt_exit(RT_EXIT_PASS);
}

void rt_fail(const char *fmt, ...)
{
	char buf[400];
	va_list ap;
	va_start(ap, fmt);
	format(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	rt_printf("RESULT: FAIL: %s\n", buf);
	rt_exit(RT_EXIT_FAIL);
}

/* ---- command line and memory map ---- */
static const char *param_find(const char *key, size_t *vlen)
{
	size_t klen = strlen(key);
	const char *p = rt_boot.cmdline;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - w) >= klen && !strncmp(w, key, klen) &&
		    (w[klen] == '=' || w + klen == p)) {
			const char *v = w + klen == p ? p : w + klen + 1;
			*vlen = (size_t)(p - v);
			return v;
		}
	}
	return NULL;
}

int rt_param(const char *key, char *buf, size_t size)
{
	size_t n;
	const char *v = param_find(key, &n);
	if (!v || !size)
		return -1;
	if (n > size - 1)
		n = size - 1;
	memcpy(buf, v, n);
	buf[n] = 0;
	return 0;
}

uint64_t rt_param_u64(const char *key, uint64_t def)
{
	char buf[32];
	if (rt_param(key, buf, sizeof(buf)) < 0 || !buf[0])
		return def;
	return rt_strtou64(buf, NULL);
}

int rt_param_flag(const char *key)
{
	size_t n;
	return param_find(key, &n) != NULL;
}

uint64_t rt_ram_bytes(void)
{
	uint64_t sum = 0;
	for (int i = 0; i < rt_boot.nmem; i++)
		if (rt_boot.mem[i].type == 1)
			sum += rt_boot.mem[i].len;
	return sum;
}

static void copy_cmdline(const char *s)
{
	size_t n = 0;
	if (s)
		while (s[n] && n < sizeof(cmdline_copy) - 1) {
			cmdline_copy[n] = s[n];
			n++;
		}
	cmdline_copy[n] = 0;
	rt_boot.cmdline = cmdline_copy;
}

static void add_mem(uint64_t base, uint64_t len, uint32_t type)
{
	if (len && rt_boot.nmem < RT_MAX_MEM)
		rt_boot.mem[rt_boot.nmem++] = (struct rt_mem_range){ base, len, type };
}

static void parse_multiboot(uint64_t info)
{
	const uint32_t *mbi = (const uint32_t *)info;
	rt_boot.protocol = RT_BOOT_MULTIBOOT;
	rt_boot.mb_flags = mbi[0];
	copy_cmdline((mbi[0] & 4) ? (const char *)(uint64_t)mbi[4] : NULL);
	if (mbi[0] & 0x40) {
		uint64_t p = mbi[12], end = p + mbi[11];
		while (p + 24 <= end) {
			const uint32_t *e = (const uint32_t *)p;
			add_mem(*(const uint64_t *)(p + 4), *(const uint64_t *)(p + 12), e[5]);
			p += e[0] + 4;
		}
	} else if (mbi[0] & 1) {
		add_mem(0, (uint64_t)mbi[1] << 10, 1);
		add_mem(1 << 20, (uint64_t)mbi[2] << 10, 1);
	}
}

static void parse_linux(uint64_t bp)
{
	const uint8_t *b = (const uint8_t *)bp;
	rt_boot.protocol = RT_BOOT_LINUX;
	rt_boot.boot_params = bp;
	uint64_t cmd = *(const uint32_t *)(b + 0x228) | (uint64_t)*(const uint32_t *)(b + 0x0c8) << 32;
	copy_cmdline(cmd ? (const char *)cmd : NULL);
	rt_boot.initrd_addr = *(const uint32_t *)(b + 0x218) | (uint64_t)*(const uint32_t *)(b + 0x0c0) << 32;
	rt_boot.initrd_size = *(const uint32_t *)(b + 0x21c) | (uint64_t)*(const uint32_t *)(b + 0x0c4) << 32;
	int n = b[0x1e8];
	for (int i = 0; i < n && i < 128; i++) {
		const uint8_t *e = b + 0x2d0 + 20 * i;
		add_mem(*(const uint64_t *)e, *(const uint64_t *)(e + 8), *(const uint32_t *)(e + 16));
	}
}

/* ---- per-CPU set-up ---- */
struct rt_cpu *rt_this_cpu(void)
{
	struct rt_cpu *c;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(c));
	return c;
}

int rt_cpu_index(void) { return rt_this_cpu()->index; }

int rt_cpl(void)
{
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3;
}

static void idt_set(int v)
{
	uint64_t a = (uint64_t)rt_isr_stubs + 16 * (uint64_t)v;
	idt[v] = (struct rt_idt_entry){ .off0 = (uint16_t)a, .sel = RT_KCODE, .type = 0x8e,
					.off1 = (uint16_t)(a >> 16), .off2 = (uint32_t)(a >> 32) };
}

static void cpu_setup(int index)
{
	struct rt_cpu *c = &cpus[index];
	struct rt_tss *t = &tss[index];
	c->self = c;
	c->index = index;
	c->tss = t;
	c->user_stack = (uint64_t)&user_stacks[index][RT_USTACK_SIZE];
	t->rsp0 = 0;
	t->iomap = offsetof(struct rt_tss, iobitmap);
	rt_wrmsr(0xc0000101, (uint64_t)c); /* GS base */
	t->iobitmap[8192] = 0xff;
	uint64_t base = (uint64_t)t, lim = sizeof(*t) - 1;
	uint64_t *d = &rt_gdt[6 + 2 * index];
	d[0] = (lim & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) | ((base >> 24 & 0xff) << 56);
	d[1] = base >> 32;
	__asm__ volatile("ltr %w0" :: "r"(0x30 + 16 * index));
	__asm__ volatile("lidt %0" :: "m"(idt_ptr));
	cpu_ready[index] = 1;
}

void rt_set_gate(int vector, void (*entry)(void), int dpl)
{
	uint64_t a = (uint64_t)entry;
	idt[vector] = (struct rt_idt_entry){ .off0 = (uint16_t)a, .sel = RT_KCODE,
					     .type = (uint8_t)(0x8e | (dpl & 3) << 5),
					     .off1 = (uint16_t)(a >> 16), .off2 = (uint32_t)(a >> 32) };
}

void rt_set_handler(int vector, rt_handler_fn fn)
{
	handlers[vector] = fn;
	if (vector != 6) /* #UD keeps its syscall fast path, which falls back to rt_trap */
		idt_set(vector);
}

/* ---- traps ---- */
static const char *const exc_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS",
	"#GP", "#PF", "res", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

long rt_syscall_dispatch(long nr, long a0, long a1);
long rt_syscall_dispatch(long nr, long a0, long a1)
{
	switch (nr) {
	case RT_SYS_NOP:
		return a0 + 1;
	case RT_SYS_HLT:
		__asm__ volatile("sti; hlt; cli" ::: "memory");
		return 0;
	case RT_SYS_WRITE:
		rt_write((const char *)a0, (size_t)a1);
		return a1;
	}
	return -1;
}

void rt_trap(struct rt_frame *f)
{
	if (f->vector == 6 && (f->cs & 3) == 3) {
		const uint8_t *ip = (const uint8_t *)f->rip;
		if (ip[0] == 0x0f && ip[1] == 0x0b && ip[2] == 'V' && ip[3] == 'S') {
			if (f->rax == RT_SYS_RETURN)
				rt_user_return((long)f->rdi);
			f->rax = (uint64_t)rt_syscall_dispatch((long)f->rax, (long)f->rdi, (long)f->rsi);
			f->rip += 4;
			return;
		}
	}
	if (handlers[f->vector] && handlers[f->vector](f))
		return;
	uint64_t cr2;
	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	rt_printf("EXCEPTION: vector %lu (%s) rip %#lx error %#lx cs %#lx rsp %#lx cr2 %#lx cpu %d\n",
		  f->vector, f->vector < 32 && exc_names[f->vector] ? exc_names[f->vector] : "irq",
		  f->rip, f->error, f->cs, f->rsp, cr2, rt_cpu_index());
	rt_exit(RT_EXIT_EXCEPTION);
}

long rt_syscall(long nr, long a0, long a1)
{
	if (rt_cpl() == 0)
		return rt_syscall_dispatch(nr, a0, a1);
	return rt_syscall_gate(nr, a0, a1);
}

/* ---- entry from entry.S ---- */
void rt_start(int proto, uint64_t info, uint32_t magic)
{
	/* The IDT is prebuilt (entry.S), the page tables and GDT too; bss is zero from the
	 * loader: only this CPU's TSS descriptor and GS base are left to set. */
	cpu_setup(0);
	boot_cpu_ready = 1;
	if (proto == 1 && magic == 0x2BADB002)
		parse_multiboot(info);
	else if (proto == 2)
		parse_linux(info);
	else
		copy_cmdline(NULL);
	rt_outb(COM1 + 3, 0x03); /* 8N1 */
	/* Turning the FIFOs on clears them: keep input that arrived before we booted. */
	while (rt_serial_early_len < sizeof(rt_serial_early) && (rt_inb(COM1 + 5) & 1))
		rt_serial_early[rt_serial_early_len++] = (char)rt_inb(COM1);
	rt_outb(COM1 + 2, 0x07); /* 16-byte FIFOs on: rt_write fills one per status read */
	int r = main();
	if (r == 0)
		rt_pass();
	rt_fail("main returned %d", r);
}

void rt_ap_start(int index)
{
	if (index >= RT_MAX_CPUS)
		for (;;)
			rt_hlt();
	cpu_setup(index);
	rt_ap_main(index);
}
