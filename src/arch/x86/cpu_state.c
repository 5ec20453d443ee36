/* vCPU and VM state save/restore through KVM's get/set ioctls. See cpu_state.h. */
#include "arch/x86/cpu_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"

#define KVM_MSR_LIST_MAX 1024

static int fail(const char *what)
{
	int ret = -errno;

	vsrv_log("vCPU state: %s: %s", what, strerror(errno));
	return ret;
}

/* The MSRs KVM saves and restores for a VMM (KVM_GET_MSR_INDEX_LIST), into st->msrs
 * (indices only). */
static int msr_list(int kvm_fd, struct x86_vcpu_state *st)
{
	struct kvm_msr_list *l;
	uint32_t i;

	l = calloc(1, sizeof(*l) + KVM_MSR_LIST_MAX * sizeof(l->indices[0]));
	if (!l)
		return -ENOMEM;
	l->nmsrs = KVM_MSR_LIST_MAX;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		int ret = fail("KVM_GET_MSR_INDEX_LIST");
		free(l);
		return ret;
	}
	st->nr_msrs = 0;
	for (i = 0; i < l->nmsrs && st->nr_msrs < X86_STATE_MAX_MSRS; i++)
		st->msrs[st->nr_msrs++] = (struct kvm_msr_entry){ .index = l->indices[i] };
	if (i < l->nmsrs)
		vsrv_log("vCPU state: %u MSRs, only %u kept", l->nmsrs, X86_STATE_MAX_MSRS);
	free(l);
	/* the MTRRs a firmware programs (KVM does not list them) */
	x86_state_msrs_extra(st);
	return 0;
}

void x86_state_msrs_extra(struct x86_vcpu_state *st)
{
	static const uint32_t fixed[] = {
		0x2ff,                                   /* MTRRdefType */
		0x250, 0x258, 0x259,                     /* MTRRfix64K_00000, 16K_80000/A0000 */
		0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f, /* MTRRfix4K_* */
	};
	uint32_t extra[sizeof(fixed) / sizeof(fixed[0]) + 16], n = 0;

	for (uint32_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		extra[n++] = fixed[i];
	for (uint32_t i = 0; i < 16; i++)                /* MTRRphysBase0/Mask0 .. 7 */
		extra[n++] = 0x200 + i;
	for (uint32_t k = 0; k < n && st->nr_msrs < X86_STATE_MAX_MSRS; k++) {
		uint32_t j;

		for (j = 0; j < st->nr_msrs && st->msrs[j].index != extra[k]; j++)
			;
		if (j == st->nr_msrs)
			st->msrs[st->nr_msrs++] = (struct kvm_msr_entry){ .index = extra[k] };
	}
}

/* KVM_GET_MSRS / KVM_SET_MSRS on n entries; both return how many they did, stopping at
 * the first MSR KVM refuses. */
static int msrs_io(int vcpu_fd, unsigned long req, struct kvm_msr_entry *e, uint32_t n)
{
	struct kvm_msrs *m;
	int ret;

	m = malloc(sizeof(*m) + n * sizeof(*e));
	if (!m)
		return -ENOMEM;
	memset(m, 0, sizeof(*m));
	m->nmsrs = n;
	memcpy(m->entries, e, n * sizeof(*e));
	ret = ioctl(vcpu_fd, req, m);
	if (ret < 0)
		ret = -errno;
	else
		memcpy(e, m->entries, n * sizeof(*e));
	free(m);
	return ret;
}

/* Read every listed MSR; drop the ones the host may not read (KVM lists some that depend on
 * CPUID features the guest was not given). */
static int msrs_save(int vcpu_fd, struct x86_vcpu_state *st)
{
	uint32_t done = 0;

	while (done < st->nr_msrs) {
		int n = msrs_io(vcpu_fd, KVM_GET_MSRS, st->msrs + done, st->nr_msrs - done);

		if (n < 0) {
			errno = -n;
			return fail("KVM_GET_MSRS");
		}
		done += (uint32_t)n;
		if (done < st->nr_msrs) {
			memmove(st->msrs + done, st->msrs + done + 1,
				(st->nr_msrs - done - 1) * sizeof(st->msrs[0]));
			st->nr_msrs--;
		}
	}
	return 0;
}

int x86_vcpu_save(int kvm_fd, int vcpu_fd, struct x86_vcpu_state *st)
{
	int ret;

	memset(st, 0, sizeof(*st));
	/* The multiprocessing state first: KVM_GET_MP_STATE completes pending APIC events. */
	if (ioctl(vcpu_fd, KVM_GET_MP_STATE, &st->mp_state) < 0)
		return fail("KVM_GET_MP_STATE");
	if (ioctl(vcpu_fd, KVM_GET_REGS, &st->regs) < 0)
		return fail("KVM_GET_REGS");
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &st->sregs) < 0)
		return fail("KVM_GET_SREGS");
	if (ioctl(vcpu_fd, KVM_GET_XSAVE, &st->xsave) < 0)
		return fail("KVM_GET_XSAVE");
	if (ioctl(vcpu_fd, KVM_GET_XCRS, &st->xcrs) < 0)
		return fail("KVM_GET_XCRS");
	if (ioctl(vcpu_fd, KVM_GET_DEBUGREGS, &st->debugregs) < 0)
		return fail("KVM_GET_DEBUGREGS");
	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &st->lapic) < 0)
		return fail("KVM_GET_LAPIC");
	if ((ret = msr_list(kvm_fd, st)) < 0 || (ret = msrs_save(vcpu_fd, st)) < 0)
		return ret;
	/* Events last: reading the others does not change them. */
	if (ioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, &st->events) < 0)
		return fail("KVM_GET_VCPU_EVENTS");
	return 0;
}

int x86_vcpu_restore(int vcpu_fd, const struct x86_vcpu_state *st)
{
	struct kvm_vcpu_events ev = st->events;
	struct kvm_msr_entry *msrs;
	int n;

	if (st->nr_msrs > X86_STATE_MAX_MSRS)
		return -EINVAL;
	/* sregs (control registers, EFER, APIC base) before the registers, the LAPIC and the
	 * MSRs that depend on them. */
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &st->sregs) < 0)
		return fail("KVM_SET_SREGS");
	if (ioctl(vcpu_fd, KVM_SET_REGS, &st->regs) < 0)
		return fail("KVM_SET_REGS");
	if (ioctl(vcpu_fd, KVM_SET_XSAVE, &st->xsave) < 0)
		return fail("KVM_SET_XSAVE");
	if (ioctl(vcpu_fd, KVM_SET_XCRS, &st->xcrs) < 0)
		return fail("KVM_SET_XCRS");
	if (ioctl(vcpu_fd, KVM_SET_DEBUGREGS, &st->debugregs) < 0)
		return fail("KVM_SET_DEBUGREGS");
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &st->lapic) < 0)
		return fail("KVM_SET_LAPIC");
	msrs = malloc(st->nr_msrs * sizeof(*msrs) + 1);
	if (!msrs)
		return -ENOMEM;
	memcpy(msrs, st->msrs, st->nr_msrs * sizeof(*msrs));
	n = msrs_io(vcpu_fd, KVM_SET_MSRS, msrs, st->nr_msrs);
	free(msrs);
	if (n < 0) {
		errno = -n;
		return fail("KVM_SET_MSRS");
	}
	if ((uint32_t)n < st->nr_msrs) {
		vsrv_log("vCPU state: KVM refused MSR %#x (value %#llx)", st->msrs[n].index,
			 (unsigned long long)st->msrs[n].data);
		return -EINVAL;
	}
	if (ioctl(vcpu_fd, KVM_SET_MP_STATE, &st->mp_state) < 0)
		return fail("KVM_SET_MP_STATE");
	/* What KVM_GET_VCPU_EVENTS reported is all valid: say so, so that the pending NMI and
	 * the SIPI vector are loaded too. */
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	ev.flags &= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
		    KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM |
		    KVM_VCPUEVENT_VALID_PAYLOAD | KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
	if (ioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return fail("KVM_SET_VCPU_EVENTS");
	return 0;
}

int x86_vm_save(int vm_fd, struct x86_vm_state *st)
{
	memset(st, 0, sizeof(*st));
	st->pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	st->pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	st->ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	if (ioctl(vm_fd, KVM_GET_IRQCHIP, &st->pic_master) < 0 ||
	    ioctl(vm_fd, KVM_GET_IRQCHIP, &st->pic_slave) < 0 ||
	    ioctl(vm_fd, KVM_GET_IRQCHIP, &st->ioapic) < 0)
		return fail("KVM_GET_IRQCHIP");
	if (ioctl(vm_fd, KVM_GET_PIT2, &st->pit) < 0)
		return fail("KVM_GET_PIT2");
	if (ioctl(vm_fd, KVM_GET_CLOCK, &st->clock) < 0)
		return fail("KVM_GET_CLOCK");
	return 0;
}

int x86_vm_restore(int vm_fd, const struct x86_vm_state *st)
{
	struct kvm_clock_data clock = { .clock = st->clock.clock };

	if (ioctl(vm_fd, KVM_SET_IRQCHIP, &st->pic_master) < 0 ||
	    ioctl(vm_fd, KVM_SET_IRQCHIP, &st->pic_slave) < 0 ||
	    ioctl(vm_fd, KVM_SET_IRQCHIP, &st->ioapic) < 0)
		return fail("KVM_SET_IRQCHIP");
	if (ioctl(vm_fd, KVM_SET_PIT2, &st->pit) < 0)
		return fail("KVM_SET_PIT2");
	/* Only the clock value: the flags and host timestamps describe the saving host. */
	if (ioctl(vm_fd, KVM_SET_CLOCK, &clock) < 0)
		return fail("KVM_SET_CLOCK");
	return 0;
}
