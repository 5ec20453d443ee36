/* vCPU and VM state save/restore on real KVM (arch/x86/cpu_state.c): a guest counts in a
 * register and in memory, one port write per step; after K steps its whole state is saved,
 * the VM is destroyed, a fresh VM gets the memory and the state, and the guest goes on. It
 * checks at every step that both counters agree, and ends after N steps: the host sees
 * exactly N port writes over both VMs and the guest's "pass". The state read back from the
 * new VM equals the saved one (registers, segments, XSAVE with a planted XMM pattern, XCR0,
 * LAPIC with a planted TPR, MSRs with the guest's kvmclock enable, PIT channel 0 that the
 * guest programmed). Skips without /dev/kvm. Also (no KVM needed) the MTRRs added to the
 * saved MSRs. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86/cpu_state.h"
#include "arch/x86/tables.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define MEM_SIZE 0x10000
#define STEPS 60
#define SAVE_AT 25
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define MSR_IA32_TSC 0x10

/* 16-bit real mode at 0x1000: kvmclock on (page 0x3000), PIT channel 0 count 0x1234, then
 * STEPS times: ebx++, [0x2000]++, out 0x80, compare; out 0xf4 with 0x10 (pass) or 0x11. */
static const uint8_t guest[] = {
	0x66, 0xb9, 0x01, 0x4d, 0x56, 0x4b, /* mov ecx, MSR_KVM_SYSTEM_TIME_NEW */
	0x66, 0xb8, 0x01, 0x30, 0x00, 0x00, /* mov eax, 0x3001 */
	0x66, 0x31, 0xd2,                   /* xor edx, edx */
	0x0f, 0x30,                         /* wrmsr */
	0xb0, 0x34, 0xe6, 0x43,             /* mov al, 0x34; out 0x43, al */
	0xb0, 0x34, 0xe6, 0x40,             /* mov al, 0x34; out 0x40, al */
	0xb0, 0x12, 0xe6, 0x40,             /* mov al, 0x12; out 0x40, al */
	0x66, 0x31, 0xdb,                   /* xor ebx, ebx */
	/* loop: */
	0x66, 0x43,                         /* inc ebx */
	0x66, 0xff, 0x06, 0x00, 0x20,       /* inc dword [0x2000] */
	0xb0, 0x01, 0xe6, 0x80,             /* mov al, 1; out 0x80, al */
	0x66, 0x3b, 0x1e, 0x00, 0x20,       /* cmp ebx, [0x2000] */
	0x75, 0x0f,                         /* jne bad */
	0x66, 0x81, 0xfb, STEPS, 0, 0, 0,   /* cmp ebx, STEPS */
	0x72, 0xe5,                         /* jb loop */
	0xb0, 0x10, 0xe6, 0xf4, 0xf4,       /* mov al, 0x10; out 0xf4, al; hlt */
	0xf4,
	/* bad: */
	0xb0, 0x11, 0xe6, 0xf4, 0xf4,       /* mov al, 0x11; out 0xf4, al; hlt */
};

struct tvm {
	int vm, vcpu;
	uint8_t *mem;
	struct kvm_run *run;
	int run_size;
};

static int kvm;
static struct kvm_cpuid2 *cpuid;

static int tvm_create(struct tvm *t)
{
	struct kvm_pit_config pit = { 0 };
	struct kvm_userspace_memory_region r = { 0 };

	memset(t, 0, sizeof(*t));
	t->vm = ioctl(kvm, KVM_CREATE_VM, 0);
	t->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t->vm < 0 || t->mem == MAP_FAILED)
		return -1;
	r.memory_size = MEM_SIZE;
	r.userspace_addr = (uintptr_t)t->mem;
	if (ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r) < 0 ||
	    ioctl(t->vm, KVM_CREATE_IRQCHIP, 0) < 0 || ioctl(t->vm, KVM_CREATE_PIT2, &pit) < 0)
		return -1;
	t->vcpu = ioctl(t->vm, KVM_CREATE_VCPU, 0);
	t->run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (t->vcpu < 0 || t->run_size <= 0)
		return -1;
	t->run = mmap(NULL, (size_t)t->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, t->vcpu, 0);
	if (t->run == MAP_FAILED || x86_cpuid_set(t->vcpu, cpuid, NULL, X86_ENLIGHT_KVM, 0, 1) < 0)
		return -1;
	return 0;
}

static void tvm_destroy(struct tvm *t)
{
	munmap(t->run, (size_t)t->run_size);
	munmap(t->mem, MEM_SIZE);
	close(t->vcpu);
	close(t->vm);
}

/* Run until the guest's result (returns the debug-exit value) or, with stop_at > 0, until
 * *outs reaches stop_at (returns 0). -1 on anything unexpected. */
static int tvm_run(struct tvm *t, int *outs, int stop_at)
{
	for (;;) {
		if (ioctl(t->vcpu, KVM_RUN, 0) < 0)
			return -1;
		if (t->run->exit_reason != KVM_EXIT_IO)
			return -1;
		uint8_t v = ((uint8_t *)t->run)[t->run->io.data_offset];
		if (t->run->io.port == 0xf4)
			return v;
		if (t->run->io.port == 0x80 && ++*outs == stop_at) {
			/* Complete the OUT without running further: state is consistent now. */
			t->run->immediate_exit = 1;
			int r = ioctl(t->vcpu, KVM_RUN, 0);
			t->run->immediate_exit = 0;
			return r < 0 && errno == EINTR ? 0 : -1;
		}
	}
}

static uint64_t msr_value(const struct x86_vcpu_state *s, uint32_t index, int *found)
{
	for (uint32_t i = 0; i < s->nr_msrs; i++)
		if (s->msrs[i].index == index) {
			*found = 1;
			return s->msrs[i].data;
		}
	*found = 0;
	return 0;
}

static struct x86_vcpu_state sa, sb;
static struct x86_vm_state va, vb;

static void test_save_restore_continue(void)
{
	struct tvm a, b;
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };
	struct kvm_xsave xs;
	struct kvm_lapic_state lapic;
	int outs = 0, found, n_diff = 0;

	CHECK_EQ(tvm_create(&a), 0);
	memcpy(a.mem + 0x1000, guest, sizeof(guest));
	CHECK_EQ(ioctl(a.vcpu, KVM_GET_SREGS, &sregs), 0);
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	CHECK_EQ(ioctl(a.vcpu, KVM_SET_SREGS, &sregs), 0);
	CHECK_EQ(ioctl(a.vcpu, KVM_SET_REGS, &regs), 0);
	/* Plant state the guest does not touch: XMM0 and the TPR. */
	CHECK_EQ(ioctl(a.vcpu, KVM_GET_XSAVE, &xs), 0);
	memset((uint8_t *)xs.region + 160, 0x5a, 16);
	((uint8_t *)xs.region)[512] |= 3; /* XSTATE_BV: x87 and SSE state present */
	CHECK_EQ(ioctl(a.vcpu, KVM_SET_XSAVE, &xs), 0);
	CHECK_EQ(ioctl(a.vcpu, KVM_GET_LAPIC, &lapic), 0);
	lapic.regs[0x80] = 0x20;
	CHECK_EQ(ioctl(a.vcpu, KVM_SET_LAPIC, &lapic), 0);

	CHECK_EQ(tvm_run(&a, &outs, SAVE_AT), 0);
	CHECK_EQ(outs, SAVE_AT);
	CHECK_EQ(x86_vm_save(a.vm, &va), 0);
	CHECK_EQ(x86_vcpu_save(kvm, a.vcpu, &sa), 0);
	CHECK(sa.nr_msrs > 5);
	CHECK_EQ(msr_value(&sa, MSR_KVM_SYSTEM_TIME_NEW, &found), 0x3001);
	CHECK(found);
	CHECK_EQ(sa.regs.rbx, SAVE_AT);

	/* A fresh VM gets the memory and the state; the old one is gone. */
	CHECK_EQ(tvm_create(&b), 0);
	memcpy(b.mem, a.mem, MEM_SIZE);
	tvm_destroy(&a);
	CHECK_EQ(x86_vm_restore(b.vm, &va), 0);
	CHECK_EQ(x86_vcpu_restore(b.vcpu, &sa), 0);

	/* What the new VM holds now is what was saved. */
	CHECK_EQ(x86_vm_save(b.vm, &vb), 0);
	CHECK_EQ(x86_vcpu_save(kvm, b.vcpu, &sb), 0);
	CHECK(!memcmp(&sa.regs, &sb.regs, sizeof(sa.regs)));
	CHECK(!memcmp(&sa.sregs, &sb.sregs, sizeof(sa.sregs)));
	CHECK(!memcmp(sa.xsave.region, sb.xsave.region, 512)); /* legacy FPU/SSE area */
	CHECK_EQ(((uint8_t *)sb.xsave.region)[160], 0x5a);
	CHECK(!memcmp(&sa.xcrs, &sb.xcrs, sizeof(sa.xcrs)));
	CHECK_EQ(sb.lapic.regs[0x80], 0x20);
	CHECK(!memcmp(sa.lapic.regs, sb.lapic.regs, 0x390));  /* all but the timer's count */
	CHECK_EQ(sa.mp_state.mp_state, sb.mp_state.mp_state);
	CHECK_EQ(sa.nr_msrs, sb.nr_msrs);
	for (uint32_t i = 0; i < sa.nr_msrs && i < sb.nr_msrs; i++)
		if (sa.msrs[i].index != MSR_IA32_TSC &&
		    (sa.msrs[i].index != sb.msrs[i].index || sa.msrs[i].data != sb.msrs[i].data)) {
			if (!n_diff++)
				printf("  MSR %#x: saved %#llx, restored %#llx\n", sa.msrs[i].index,
				       (unsigned long long)sa.msrs[i].data,
				       (unsigned long long)sb.msrs[i].data);
		}
	CHECK_EQ(n_diff, 0);
	CHECK_EQ(vb.pit.channels[0].count, 0x1234);
	CHECK(!memcmp(&va.ioapic, &vb.ioapic, sizeof(va.ioapic)));
	CHECK(!memcmp(&va.pic_master, &vb.pic_master, sizeof(va.pic_master)));
	CHECK(vb.clock.clock >= va.clock.clock);

	/* And the guest goes on where it was: exactly STEPS port writes in all. */
	CHECK_EQ(tvm_run(&b, &outs, 0), 0x10);
	CHECK_EQ(outs, STEPS);
	uint32_t mem_count;
	memcpy(&mem_count, b.mem + 0x2000, 4);
	CHECK_EQ(mem_count, STEPS);
	tvm_destroy(&b);
}

/* The VMM's wrappers on vm_create'd VMs: vCPU 0 of one VM (boot registers of a multiboot
 * guest) saved and loaded into vCPU 0 of another, whose registers then match. */
static void test_vcpu_wrappers(void)
{
	struct vm_config cfg = { .kernel = "build/vmm-guests/hello.elf", .nr_cpus = 1,
				 .mem_size = 8 << 20, .serial = VM_SERIAL_NONE };
	struct vm *a = NULL, *b = NULL;
	struct kvm_regs ra, rb;

	if (access(cfg.kernel, R_OK) != 0) {
		printf("SKIP test_vcpu_wrappers: %s not built\n", cfg.kernel);
		return;
	}
	CHECK_EQ(vm_create(&cfg, &a), 0);
	CHECK_EQ(vm_create(&cfg, &b), 0);
	if (!a || !b)
		goto out;
	CHECK_EQ(ioctl(b->vcpus[0]->fd, KVM_GET_REGS, &rb), 0);
	CHECK_EQ(rb.rax, 0x2badb002); /* multiboot entry registers */
	rb.rax = 0x1234;
	rb.rbx = 0x5678;
	CHECK_EQ(ioctl(b->vcpus[0]->fd, KVM_SET_REGS, &rb), 0);
	CHECK_EQ(vcpu_state_save(b->vcpus[0], &sb), 0);
	CHECK_EQ(vcpu_state_restore(a->vcpus[0], &sb), 0);
	CHECK_EQ(ioctl(a->vcpus[0]->fd, KVM_GET_REGS, &ra), 0);
	CHECK_EQ(ra.rax, 0x1234);
	CHECK_EQ(ra.rbx, 0x5678);
	CHECK_EQ(ra.rip, rb.rip);
out:
	vm_destroy(a);
	vm_destroy(b);
}

static void test_restore_rejects_bad_state(void)
{
	struct x86_vcpu_state *s = calloc(1, sizeof(*s));

	s->nr_msrs = X86_STATE_MAX_MSRS + 1;
	CHECK_EQ(x86_vcpu_restore(-1, s), -EINVAL);
	free(s);
}

/* The MTRRs a firmware programs go into the saved MSRs (KVM does not list them): once
 * each, after KVM's list, never past X86_STATE_MAX_MSRS. No KVM needed. */
static void test_msrs_extra(void)
{
	static const uint32_t want[] = { 0x2ff, 0x250, 0x258, 0x259, 0x268, 0x26f, 0x200, 0x20f };
	struct x86_vcpu_state *st = calloc(1, sizeof(*st));

	st->nr_msrs = 2;
	st->msrs[0].index = MSR_IA32_TSC;
	st->msrs[1].index = 0x250;                       /* a KVM that lists one already */
	x86_state_msrs_extra(st);
	CHECK_EQ(st->nr_msrs, 2 + 12 + 16 - 1);
	CHECK_EQ(st->msrs[0].index, MSR_IA32_TSC);
	for (unsigned w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
		unsigned seen = 0;

		for (uint32_t i = 0; i < st->nr_msrs; i++)
			seen += st->msrs[i].index == want[w];
		CHECK_EQ(seen, 1);
	}
	x86_state_msrs_extra(st);                        /* nothing twice */
	CHECK_EQ(st->nr_msrs, 2 + 12 + 16 - 1);
	st->nr_msrs = X86_STATE_MAX_MSRS - 3;            /* a full list: the first that fit */
	for (uint32_t i = 0; i < st->nr_msrs; i++)
		st->msrs[i].index = 0x1000 + i;
	x86_state_msrs_extra(st);
	CHECK_EQ(st->nr_msrs, X86_STATE_MAX_MSRS);
	CHECK_EQ(st->msrs[X86_STATE_MAX_MSRS - 3].index, 0x2ff);
	free(st);
}

int main(void)
{
	RUN(test_msrs_extra);
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0 || x86_cpuid_get_supported(kvm, &cpuid) < 0) {
		printf("SKIP cpu_state: /dev/kvm is not usable here\n");
		return check_done();
	}
	RUN(test_save_restore_continue);
	RUN(test_vcpu_wrappers);
	RUN(test_restore_rejects_bad_state);
	free(cpuid);
	return check_done();
}
