/* Unit tests of the VMM parts that need no /dev/kvm: the assist decoder, the memory map,
 * the MP table, the multiboot and Linux loaders on synthetic images, and the UART, i8042,
 * RTC and debug-exit devices driven through the port bus. */
#include "check.h"

#include <elf.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/assist.h"
#include "arch/x86/boot.h"
#include "arch/x86/tables.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/rtc.h"
#include "devices/serial.h"
#include "vmm/vm.h"

/* A VM without KVM: memory, buses and a control loop (vm_fd -1: irq ioctls fail harmlessly). */
static struct vm_config cfg;
static struct vm *fake_vm(uint64_t mem)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	memset(&cfg, 0, sizeof(cfg));
	cfg.nr_cpus = 2;
	cfg.mem_size = mem;
	cfg.serial = VM_SERIAL_NONE;
	cfg.kernel = "test-kernel";
	vm->cfg = &cfg;
	vm->kvm_fd = vm->vm_fd = -1;
	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	pthread_mutex_init(&vm->irq_lock, NULL);
	if (guest_mem_create(mem, &vm->mem) || evloop_create(&vm->loop))
		abort();
	vm->cmdline = strdup("console=ttyS0");
	vm_host_init(vm);
	return vm;
}

static void free_vm(struct vm *vm)
{
	evloop_destroy(vm->loop);
	guest_mem_destroy(vm->mem);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	free(vm->cmdline);
	free(vm);
}

static uint8_t inb(struct vm *vm, uint16_t port)
{
	uint8_t v = 0;
	bus_dispatch(&vm->pio, port, &v, 1, false);
	return v;
}

static void outb(struct vm *vm, uint16_t port, uint8_t v)
{
	bus_dispatch(&vm->pio, port, &v, 1, true);
}

static void test_assist_decode(void)
{
	static const struct { uint8_t b[4]; size_t n; enum x86_assist_kind k; unsigned len; int ac; } t[] = {
		{ { 0xcc }, 1, ASSIST_INT3, 1, 0 },
		{ { 0x9b }, 1, ASSIST_SKIP, 1, 0 },
		{ { 0x0f, 0x01, 0xca }, 3, ASSIST_SKIP, 3, -1 },
		{ { 0x0f, 0x01, 0xcb }, 3, ASSIST_SKIP, 3, 1 },
		{ { 0x0f, 0xae, 0xe8 }, 3, ASSIST_SKIP, 3, 0 },
		{ { 0x0f, 0xae, 0xf0 }, 3, ASSIST_SKIP, 3, 0 },
		{ { 0x0f, 0xae, 0xf8 }, 3, ASSIST_SKIP, 3, 0 },
		{ { 0x0f, 0x0b }, 2, ASSIST_UD, 2, 0 },
		{ { 0xf3, 0x0f, 0xb8, 0xc1 }, 4, ASSIST_NONE, 0, 0 },  /* popcnt */
		{ { 0x0f, 0xae, 0x20 }, 3, ASSIST_NONE, 0, 0 },        /* xsave (memory operand) */
		{ { 0x0f, 0x01 }, 2, ASSIST_NONE, 0, 0 },              /* truncated */
		{ { 0 }, 0, ASSIST_NONE, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unsigned len;
		int ac;
		CHECK_EQ(x86_assist_decode(t[i].b, t[i].n, &len, &ac), t[i].k);
		CHECK_EQ(len, t[i].len);
		CHECK_EQ(ac, t[i].ac);
	}
}

/* ldmxcsr/stmxcsr: ModRM, SIB, displacements, REX, address-size and segment prefixes, and
 * the forms refused; the effective address from a register file. */
static void test_assist_decode_mxcsr(void)
{
	static const struct {
		uint8_t b[15]; size_t n; enum x86_assist_kind k; unsigned len;
		int base, index; unsigned scale; int64_t disp; int seg; bool a32;
	} t[] = {
		/* ldmxcsr 0x4(%rsp): Debian's kernel */
		{ { 0x0f, 0xae, 0x54, 0x24, 0x04 }, 5, ASSIST_LDMXCSR, 5, 4, -1, 1, 4, 0, false },
		/* stmxcsr (%rax) */
		{ { 0x0f, 0xae, 0x18 }, 3, ASSIST_STMXCSR, 3, 0, -1, 1, 0, 0, false },
		/* ldmxcsr 0x12345678(%rip) */
		{ { 0x0f, 0xae, 0x15, 0x78, 0x56, 0x34, 0x12 }, 7, ASSIST_LDMXCSR, 7, X86_REG_RIP, -1, 1,
		  0x12345678, 0, false },
		/* ldmxcsr -0x10(%rbp) */
		{ { 0x0f, 0xae, 0x55, 0xf0 }, 4, ASSIST_LDMXCSR, 4, 5, -1, 1, -16, 0, false },
		/* ldmxcsr 0x1000(%r9,%r10,4) */
		{ { 0x43, 0x0f, 0xae, 0x94, 0x91, 0x00, 0x10, 0x00, 0x00 }, 9, ASSIST_LDMXCSR, 9, 9, 10, 4,
		  0x1000, 0, false },
		/* stmxcsr 0x8(,%rcx,8): SIB without base, disp32 */
		{ { 0x0f, 0xae, 0x1c, 0xcd, 0x08, 0, 0, 0 }, 8, ASSIST_STMXCSR, 8, -1, 1, 8, 8, 0, false },
		/* stmxcsr (%r13): base 13 needs mod 1 and disp8 0 */
		{ { 0x41, 0x0f, 0xae, 0x5d, 0x00 }, 5, ASSIST_STMXCSR, 5, 13, -1, 1, 0, 0, false },
		/* ldmxcsr (%r12): SIB, no index */
		{ { 0x41, 0x0f, 0xae, 0x14, 0x24 }, 5, ASSIST_LDMXCSR, 5, 12, -1, 1, 0, 0, false },
		/* ldmxcsr %gs:(%rax), stmxcsr %fs:8(%rdi), ds override ignored */
		{ { 0x65, 0x0f, 0xae, 0x10 }, 4, ASSIST_LDMXCSR, 4, 0, -1, 1, 0, 0x65, false },
		{ { 0x64, 0x0f, 0xae, 0x5f, 0x08 }, 5, ASSIST_STMXCSR, 5, 7, -1, 1, 8, 0x64, false },
		{ { 0x3e, 0x0f, 0xae, 0x10 }, 4, ASSIST_LDMXCSR, 4, 0, -1, 1, 0, 0, false },
		/* addr32 ldmxcsr (%eax), with REX.W (ignored) */
		{ { 0x67, 0x48, 0x0f, 0xae, 0x10 }, 5, ASSIST_LDMXCSR, 5, 0, -1, 1, 0, 0, true },
		/* refused: register form, lock, 66/f3 prefixes, REX before a prefix, two segment
		 * overrides, VEX (vldmxcsr), truncated SIB and displacement, other /reg */
		{ { 0x0f, 0xae, 0xd0 }, 3, ASSIST_NONE, 0, 0, 0, 0, 0, 0, false },
		{ { 0xf0, 0x0f, 0xae, 0x10 }, 4, ASSIST_NONE, 0, 0, 0, 0, 0, 0, false },
		{ { 0x66, 0x0f, 0xae, 0x10 }, 4, ASSIST_NONE, 0, 0, 0, 0, 0, 0, false },
		{ { 0xf3, 0x0f, 0xae, 0x10 }, 4, ASSIST_NONE, 0, 0, 0, 0, 0, 0, false },
		{ { 0x41, 0x67, 0x0f, 0xae, 0x10 }, 5, ASSIST_NONE, 0, 0, 0, 0, 0, 0, false },
		{ { 0x64, 0x65, 0x0f, 0xae, 0x10 }, 5, ASSIST_NONE, 0, 0, 0, 0, 0, 0, false },
		{ { 0xc5, 0xf8, 0xae, 0x10 }, 4, ASSIST_NONE, 0, 0, 0, 0, 0, 0, false },
		{ { 0x0f, 0xae, 0x54, 0x24 }, 4, ASSIST_NONE, 0, 0, 0, 0, 0, 0, false },
		{ { 0x0f, 0xae, 0x14 }, 3, ASSIST_NONE, 0, 0, 0, 0, 0, 0, false },
		{ { 0x0f, 0xae, 0x15, 0x78, 0x56 }, 5, ASSIST_NONE, 0, 0, 0, 0, 0, 0, false },
		{ { 0x0f, 0xae, 0x08 }, 3, ASSIST_NONE, 0, 0, 0, 0, 0, 0, false },  /* fxrstor */
		{ { 0x0f, 0xae, 0x38 }, 3, ASSIST_NONE, 0, 0, 0, 0, 0, 0, false },  /* clflush */
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct x86_assist_insn in;
		CHECK_EQ(x86_assist_decode_insn(t[i].b, t[i].n, &in), t[i].k);
		CHECK_EQ(in.kind, t[i].k);
		CHECK_EQ(in.len, t[i].len);
		if (t[i].k == ASSIST_NONE)
			continue;
		CHECK_EQ(in.mem.base, t[i].base);
		CHECK_EQ(in.mem.index, t[i].index);
		CHECK_EQ(in.mem.scale, t[i].scale);
		CHECK_EQ(in.mem.disp, t[i].disp);
		CHECK_EQ(in.mem.seg, t[i].seg);
		CHECK_EQ(in.mem.addr32, t[i].a32);
	}

	/* Effective addresses. */
	struct kvm_regs r = { .rax = 0x1122334455667788ULL, .rcx = 3, .rsp = 0xffffc90000001000ULL,
			      .r9 = 0x100000, .r10 = 2, .rip = 0xffffffff81000000ULL };
	struct x86_mem_op m = { .base = 4, .index = X86_REG_NONE, .scale = 1, .disp = 4 };
	CHECK_EQ(x86_mem_op_ea(&m, &r, 5), 0xffffc90000001004ULL);
	m = (struct x86_mem_op){ .base = X86_REG_RIP, .index = X86_REG_NONE, .scale = 1, .disp = -7 };
	CHECK_EQ(x86_mem_op_ea(&m, &r, 7), 0xffffffff81000000ULL);
	m = (struct x86_mem_op){ .base = 9, .index = 10, .scale = 4, .disp = 0x1000 };
	CHECK_EQ(x86_mem_op_ea(&m, &r, 9), 0x101008ULL);
	m = (struct x86_mem_op){ .base = X86_REG_NONE, .index = 1, .scale = 8, .disp = 8 };
	CHECK_EQ(x86_mem_op_ea(&m, &r, 8), 32ULL);
	m = (struct x86_mem_op){ .base = 0, .index = X86_REG_NONE, .scale = 1, .disp = 0x10, .addr32 = true };
	CHECK_EQ(x86_mem_op_ea(&m, &r, 4), 0x55667798ULL);
}

static void test_mem_map(void)
{
	struct vm *vm = fake_vm(6ULL << 30); /* 6 GiB: 3 below the hole, 3 above 4 GiB */
	struct x86_mem_range r[8];
	size_t n = x86_mem_map(vm, r, 8), i;
	uint64_t ram = 0;

	CHECK_EQ(n, 5);
	for (i = 0; i < n; i++) {
		if (r[i].type == 1)
			ram += r[i].len;
		if (i)
			CHECK(r[i].addr >= r[i - 1].addr + r[i - 1].len);
	}
	CHECK_EQ(r[3].addr + r[3].len, MEM_HOLE_START);
	CHECK_EQ(r[4].addr, MEM_HIGH_START);
	CHECK_EQ(r[4].len, 3ULL << 30);
	CHECK_EQ(ram, BOOT_EBDA_ADDR + (MEM_HOLE_START - 0x100000) + (3ULL << 30));
	free_vm(vm);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

static void test_mptable(void)
{
	struct vm *vm = fake_vm(16 << 20);
	uint8_t *mpf, *h;
	uint32_t phys;
	uint16_t len, count;

	cfg.nr_cpus = 4;
	CHECK_EQ(x86_mptable_write(vm), 0);
	mpf = guest_mem_ptr(vm->mem, BOOT_MPTABLE_ADDR, 16);
	CHECK(!memcmp(mpf, "_MP_", 4));
	CHECK_EQ(sum(mpf, 16), 0);
	memcpy(&phys, mpf + 4, 4);
	h = guest_mem_ptr(vm->mem, phys, 44);
	CHECK(!memcmp(h, "PCMP", 4));
	memcpy(&len, h + 4, 2);
	memcpy(&count, h + 34, 2);
	CHECK_EQ(sum(h, len), 0);
	/* 4 CPUs, 1 bus, 1 IOAPIC, 15 ISA interrupts, 2 local interrupts */
	CHECK_EQ(count, 4 + 1 + 1 + 15 + 2);
	CHECK_EQ(h[44], 0);          /* first entry: processor */
	CHECK_EQ(h[44 + 3], 3);      /* enabled, BSP */
	CHECK_EQ(h[64 + 1], 1);      /* second CPU: APIC id 1 */
	CHECK_EQ(h[64 + 3], 1);      /* enabled, not BSP */
	free_vm(vm);
}

/* A minimal multiboot ELF32: one PT_LOAD at 1 MiB holding the header and a hlt. */
static size_t make_mb_elf(uint8_t *img, uint32_t paddr)
{
	Elf32_Ehdr *e = (Elf32_Ehdr *)img;
	Elf32_Phdr *p = (Elf32_Phdr *)(img + sizeof(*e));
	uint32_t *mb = (uint32_t *)(img + 0x100);

	memset(img, 0, 0x200);
	memcpy(e->e_ident, ELFMAG, SELFMAG);
	e->e_ident[EI_CLASS] = ELFCLASS32;
	e->e_type = ET_EXEC;
	e->e_machine = EM_386;
	e->e_entry = paddr + 0x10;
	e->e_phoff = sizeof(*e);
	e->e_phentsize = sizeof(*p);
	e->e_phnum = 1;
	p->p_type = PT_LOAD;
	p->p_offset = 0x100;
	p->p_paddr = p->p_vaddr = paddr;
	p->p_filesz = 0x20;
	p->p_memsz = 0x1000;
	mb[0] = 0x1badb002;
	mb[1] = 0;
	mb[2] = -0x1badb002u;
	img[0x110] = 0xf4;
	return 0x200;
}

static void test_multiboot(void)
{
	struct vm *vm = fake_vm(32 << 20);
	uint8_t img[0x200];
	uint32_t *mbi, *mmap;
	size_t len = make_mb_elf(img, 0x100000);

	CHECK_EQ(x86_boot_multiboot(vm, img, len), 1);
	CHECK_EQ(vm->boot.mode, BOOT_MODE_MULTIBOOT);
	CHECK_EQ(vm->boot.entry, 0x100010);
	CHECK_EQ(*(uint8_t *)guest_mem_ptr(vm->mem, 0x100010, 1), 0xf4);
	mbi = guest_mem_ptr(vm->mem, vm->boot.arg, 88);
	CHECK_EQ(mbi[0] & 0x245, 0x245);                /* mem, cmdline, mmap, loader name */
	CHECK_EQ(mbi[2], ((32 << 20) - (1 << 20)) >> 10); /* mem_upper in KiB */
	CHECK(!strcmp(guest_mem_ptr(vm->mem, mbi[4], 14), "console=ttyS0"));
	mmap = guest_mem_ptr(vm->mem, mbi[12], mbi[11]);
	CHECK_EQ(mbi[11], 4 * 24);                       /* 4 ranges of 24 bytes */
	CHECK_EQ(mmap[0], 20);
	/* not multiboot: no header */
	memset(img + 0x100, 0, 12);
	CHECK_EQ(x86_boot_multiboot(vm, img, len), 0);
	/* a segment over the boot data is refused */
	make_mb_elf(img, 0x8000);
	CHECK(x86_boot_multiboot(vm, img, len) < 0);
	/* a segment beyond RAM is refused */
	make_mb_elf(img, 0x2000000);
	CHECK_EQ(x86_boot_multiboot(vm, img, len), -E2BIG);
	/* a program header table pointing past the end */
	make_mb_elf(img, 0x100000);
	((Elf32_Ehdr *)img)->e_phoff = 0x1000;
	CHECK_EQ(x86_boot_multiboot(vm, img, len), -ENOEXEC);
	free_vm(vm);
}

static void test_bzimage_old(void)
{
	struct vm *vm = fake_vm(32 << 20);
	uint8_t img[0x1000];

	memset(img, 0, sizeof(img));
	img[0x1fe] = 0x55;
	img[0x1ff] = 0xaa;
	memcpy(img + 0x202, "HdrS", 4);
	img[0x206] = 0x0b;                 /* 2.11: no xloadflags */
	img[0x207] = 0x02;
	CHECK_EQ(x86_boot_bzimage(vm, img, sizeof(img)), -ENOTSUP);
	memcpy(img + 0x202, "Hdr?", 4);
	CHECK_EQ(x86_boot_bzimage(vm, img, sizeof(img)), 0);
	free_vm(vm);
}

static void test_serial(void)
{
	struct vm *vm = fake_vm(4 << 20);
	struct serial *s;
	struct serial_state st;

	CHECK_EQ(serial_create(&vm->host, (enum serial_backend)cfg.serial, cfg.serial_path, 0x3f8,
			       4, &s), 0);
	CHECK_EQ(inb(vm, 0x3fd) & 0x61, 0x60);     /* THRE, TEMT, no data */
	CHECK_EQ(inb(vm, 0x3fa) & 0x0f, 1);        /* no interrupt */
	outb(vm, 0x3f9, 0x02);                     /* enable THRI: pending at once */
	CHECK_EQ(inb(vm, 0x3fa) & 0x0f, 2);
	CHECK_EQ(inb(vm, 0x3fa) & 0x0f, 1);        /* reading IIR acknowledged it */
	outb(vm, 0x3f8, 'x');                      /* transmit: THRI again */
	CHECK_EQ(inb(vm, 0x3fa) & 0x0f, 2);
	outb(vm, 0x3fc, 0x10);                     /* loopback */
	outb(vm, 0x3f9, 0x01);                     /* receive interrupts only */
	outb(vm, 0x3f8, 'A');
	outb(vm, 0x3f8, 'B');
	CHECK_EQ(inb(vm, 0x3fd) & 1, 1);
	CHECK_EQ(inb(vm, 0x3fa) & 0x0f, 4);        /* received data available */
	serial_save(s, &st);
	CHECK_EQ(st.rx_count, 2);
	CHECK_EQ(inb(vm, 0x3f8), 'A');
	CHECK_EQ(inb(vm, 0x3f8), 'B');
	CHECK_EQ(inb(vm, 0x3fd) & 1, 0);
	CHECK_EQ(serial_restore(s, &st), 0);       /* and back */
	CHECK_EQ(inb(vm, 0x3f8), 'A');
	outb(vm, 0x3fb, 0x80);                     /* DLAB: divisor latch */
	outb(vm, 0x3f8, 0x01);
	outb(vm, 0x3f9, 0x00);
	CHECK_EQ(inb(vm, 0x3f8), 1);
	outb(vm, 0x3fb, 0x03);
	outb(vm, 0x3ff, 0x5a);                     /* scratch */
	CHECK_EQ(inb(vm, 0x3ff), 0x5a);
	st.rx_count = 1000;
	CHECK_EQ(serial_restore(s, &st), -EINVAL);
	serial_destroy(s);
	free_vm(vm);
}

/* The UART's output reaches its file when the VM syncs the devices' output (what a vCPU
 * does before it reports why the VM ends), not only when the control loop drains it. */
static void test_serial_sync(void)
{
	struct vm *vm = fake_vm(4 << 20);
	char path[64], buf[16] = "";
	struct serial *s;
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/vsrv-serial-sync.%d", getpid());
	unlink(path);
	cfg.serial = VM_SERIAL_FILE;
	cfg.serial_path = path;
	CHECK_EQ(serial_create(&vm->host, (enum serial_backend)cfg.serial, cfg.serial_path, 0x3f8,
			       4, &s), 0);
	CHECK_EQ(vm->nr_syncs, 1);
	outb(vm, 0x3f8, 'o');
	outb(vm, 0x3f8, 'k');
	vm_sync_output(vm);
	f = fopen(path, "r");
	CHECK(f && fread(buf, 1, sizeof(buf) - 1, f) == 2 && !strcmp(buf, "ok"));
	if (f)
		fclose(f);
	serial_destroy(s);
	unlink(path);
	free_vm(vm);
}

static void test_i8042_reset(void)
{
	struct vm *vm = fake_vm(4 << 20);
	struct i8042 *k;

	CHECK_EQ(i8042_create(&vm->host, &k), 0);
	outb(vm, 0x64, 0xaa);                      /* self-test */
	CHECK_EQ(inb(vm, 0x64) & 1, 1);
	CHECK_EQ(inb(vm, 0x60), 0x55);
	CHECK_EQ(inb(vm, 0x64) & 1, 0);
	outb(vm, 0x64, 0xfe);                      /* reset line */
	CHECK_EQ(evloop_run(vm->loop), VM_STOP_RESET);
	i8042_destroy(k);
	free_vm(vm);
}

static void test_debug_exit(void)
{
	struct vm *vm = fake_vm(4 << 20);
	struct debug_exit *d;

	CHECK_EQ(debug_exit_create(&vm->host, 0xf4, &d), 0);
	outb(vm, 0xf4, 0x10);
	outb(vm, 0xf4, 0x20);                      /* the first stop wins */
	CHECK_EQ(evloop_run(vm->loop), 33);
	debug_exit_destroy(d);
	free_vm(vm);
}

static unsigned bcd(uint8_t v) { return (v >> 4) * 10 + (v & 15); }

static void test_rtc(void)
{
	struct vm *vm = fake_vm(64 << 20);
	struct rtc *r;
	struct tm tm;
	time_t now = time(NULL);
	unsigned year;

	gmtime_r(&now, &tm);
	CHECK_EQ(rtc_create(&vm->host, vm->mem->low_size, vm->mem->size - vm->mem->low_size, &r),
		 0);
	outb(vm, 0x70, 0x09);
	year = bcd(inb(vm, 0x71));
	outb(vm, 0x70, 0x32);
	year += 100 * bcd(inb(vm, 0x71));
	CHECK(year == (unsigned)tm.tm_year + 1900 || year == (unsigned)tm.tm_year + 1901);
	outb(vm, 0x70, 0x0d);
	CHECK_EQ(inb(vm, 0x71), 0x80);
	outb(vm, 0x70, 0x34);                      /* 64 MiB: 48 MiB above 16 MiB = 0x300 x 64 KiB */
	CHECK_EQ(inb(vm, 0x71), 0x00);
	outb(vm, 0x70, 0x35);
	CHECK_EQ(inb(vm, 0x71), 0x03);
	/* The guest sets the year to 2001 (SET, write, clear SET): its clock moves. */
	outb(vm, 0x70, 0x0b);
	outb(vm, 0x71, 0x82);
	outb(vm, 0x70, 0x09);
	outb(vm, 0x71, 0x01);
	outb(vm, 0x70, 0x32);
	outb(vm, 0x71, 0x20);
	outb(vm, 0x70, 0x0b);
	outb(vm, 0x71, 0x02);
	outb(vm, 0x70, 0x09);
	CHECK_EQ(inb(vm, 0x71), 0x01);
	/* Binary mode. */
	outb(vm, 0x70, 0x0b);
	outb(vm, 0x71, 0x06);
	outb(vm, 0x70, 0x09);
	CHECK_EQ(inb(vm, 0x71), 1);
	rtc_destroy(r);
	free_vm(vm);
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

/* The ACPI tables: checksums, the XSDT's entries, and with PCI the MCFG (ECAM) and a
 * DSDT root bridge \_SB.PCI0 whose _CRS carries the BAR window. */
static void test_acpi_tables(void)
{
	for (int with_pci = 0; with_pci < 2; with_pci++) {
		struct vm *vm = fake_vm(64 << 20);
		uint8_t *b = guest_mem_ptr(vm->mem, BOOT_ACPI_ADDR, 0x1000);
		uint32_t len, i, dsdt, n;
		uint64_t xsdt, e;

		if (with_pci) {
			vm->pci = (struct vm_pci_info){ 0xe0000000, 0xe1000000, 0xfe000000, { 0 } };
			vm->pci.intx_gsi[3] = 9; /* an e1000's INTA# in slot 3 */
		}
		CHECK_EQ(x86_acpi_write(vm), 0);
		CHECK(!memcmp(b, "RSD PTR ", 8));
		CHECK_EQ(sum8(b, 20), 0);
		CHECK_EQ(sum8(b, 36), 0);
		memcpy(&xsdt, b + 24, 8);
		uint8_t *x = b + (xsdt - BOOT_ACPI_ADDR);
		memcpy(&len, x + 4, 4);
		CHECK_EQ(sum8(x, len), 0);
		n = (len - 36) / 8;
		CHECK_EQ(n, with_pci ? 3u : 2u);
		int found_mcfg = 0;
		for (i = 0; i < n; i++) {
			memcpy(&e, x + 36 + 8 * i, 8);
			uint8_t *t = b + (e - BOOT_ACPI_ADDR);
			memcpy(&len, t + 4, 4);
			CHECK_EQ(sum8(t, len), 0);
			if (!memcmp(t, "MCFG", 4)) {
				uint64_t ecam;
				memcpy(&ecam, t + 44, 8);
				CHECK_EQ(ecam, 0xe0000000u);
				CHECK_EQ(t[54], 0); /* start bus */
				CHECK_EQ(t[55], 0); /* end bus */
				found_mcfg = 1;
			}
			if (!memcmp(t, "FACP", 4)) {
				memcpy(&dsdt, t + 40, 4);
				uint8_t *d = b + (dsdt - BOOT_ACPI_ADDR);
				memcpy(&len, d + 4, 4);
				CHECK(!memcmp(d, "DSDT", 4));
				CHECK_EQ(sum8(d, len), 0);
				CHECK(memmem(d, len, "_S5_", 4) != NULL);
				CHECK_EQ(memmem(d, len, "PCI0", 4) != NULL, with_pci);
				if (with_pci) {
					/* _CRS: the DWordMemory descriptor with the window */
					static const uint8_t win[] = { 0x87, 0x17, 0x00, 0x00, 0x0c, 0x01,
						0, 0, 0, 0, 0x00, 0x00, 0x00, 0xe1, 0xff, 0xff, 0xff, 0xfd };
					CHECK(memmem(d, len, win, sizeof(win)) != NULL);
					/* _CRS: the WordIO descriptor with the I/O BAR ports */
					static const uint8_t io[] = { 0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03,
						0, 0, 0x00, 0xc0, 0xff, 0xff, 0, 0, 0x00, 0x40 };
					CHECK(memmem(d, len, io, sizeof(io)) != NULL);
					/* _PRT: slot 3's INTA# on GSI 9 */
					static const uint8_t prt[] = { 0x12, 0x0b, 0x04, 0x0c, 0xff, 0xff,
						0x03, 0x00, 0x00, 0x00, 0x0a, 0x09 };
					CHECK(memmem(d, len, "_PRT", 4) != NULL);
					CHECK(memmem(d, len, prt, sizeof(prt)) != NULL);
					if (getenv("VSRV_DUMP_DSDT")) {
						FILE *f = fopen(getenv("VSRV_DUMP_DSDT"), "w");
						if (f) { fwrite(d, 1, len, f); fclose(f); }
					}
				}
			}
		}
		CHECK_EQ(found_mcfg, with_pci);
		struct x86_mem_range map[8];
		size_t nm = x86_mem_map(vm, map, 8);
		int ecam_reserved = 0;
		for (i = 0; i < nm; i++)
			if (map[i].addr == 0xe0000000 && map[i].len == (1 << 20) && map[i].type == 2)
				ecam_reserved = 1;
		CHECK_EQ(ecam_reserved, with_pci);
		free_vm(vm);
	}
}

int main(void)
{
	RUN(test_assist_decode);
	RUN(test_assist_decode_mxcsr);
	RUN(test_mem_map);
	RUN(test_mptable);
	RUN(test_multiboot);
	RUN(test_bzimage_old);
	RUN(test_serial);
	RUN(test_serial_sync);
	RUN(test_i8042_reset);
	RUN(test_debug_exit);
	RUN(test_rtc);
	RUN(test_acpi_tables);
	return check_done();
}
