#include "arch/x86/assist.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define RFLAGS_AC (1ULL << 18)
#define FSW_ES    0x80

enum x86_assist_kind x86_assist_decode(const uint8_t *b, size_t len, unsigned *ilen, int *ac)
{
	*ac = 0;
	*ilen = 0;
	if (len >= 1 && b[0] == 0xcc) {                        /* int3 */
		*ilen = 1;
		return ASSIST_INT3;
	}
	if (len >= 1 && b[0] == 0x9b) {                        /* fwait */
		*ilen = 1;
		return ASSIST_SKIP;
	}
	if (len >= 3 && b[0] == 0x0f && b[1] == 0x01 && (b[2] == 0xca || b[2] == 0xcb)) {
		*ilen = 3;                                     /* clac, stac */
		*ac = b[2] == 0xca ? -1 : 1;
		return ASSIST_SKIP;
	}
	if (len >= 3 && b[0] == 0x0f && b[1] == 0xae && b[2] >= 0xe8) {
		*ilen = 3;                                     /* lfence, mfence, sfence */
		return ASSIST_SKIP;
	}
	if (len >= 2 && b[0] == 0x0f && b[1] == 0x0b) {       /* ud2 */
		*ilen = 2;
		return ASSIST_UD;
	}
	return ASSIST_NONE;
}

static int inject(struct vcpu *v, uint8_t vector)
{
	struct kvm_vcpu_events ev;

	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	ev.exception.injected = 1;
	ev.exception.nr = vector;
	ev.exception.has_error_code = 0;
	ev.exception.error_code = 0;
	ev.flags = 0;
	return ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ? -errno : 0;
}

/* The instruction bytes at RIP: from KVM's exit data when it gave them, else read from
 * guest memory through KVM_TRANSLATE. Returns the number of bytes (0 if none). */
static size_t insn_bytes(struct vcpu *v, const struct kvm_regs *regs, uint8_t *out)
{
	struct kvm_run *r = v->run;
	struct kvm_translation tr;
	struct kvm_sregs sregs;
	const uint8_t *p;
	size_t n = 15;

	if (r->emulation_failure.ndata >= 3 &&
	    (r->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
	    r->emulation_failure.insn_size) {
		n = r->emulation_failure.insn_size;
		if (n > 15)
			n = 15;
		memcpy(out, r->emulation_failure.insn_bytes, n);
		return n;
	}
	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return 0;
	memset(&tr, 0, sizeof(tr));
	tr.linear_address = sregs.cs.base + regs->rip;
	if (ioctl(v->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
		return 0;
	/* Stop at the page end: the next page may not be contiguous. */
	if (15 > 4096 - (tr.physical_address & 4095))
		n = 4096 - (tr.physical_address & 4095);
	p = guest_mem_ptr(v->vm->mem, tr.physical_address, n);
	if (!p)
		return 0;
	memcpy(out, p, n);
	return n;
}

int x86_assist(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	struct kvm_regs regs;
	struct kvm_fpu fpu;
	uint8_t bytes[15] = { 0 };
	char hex[15 * 3 + 1] = "unavailable";
	enum x86_assist_kind kind;
	unsigned ilen, i;
	size_t n;
	int ac, ret;

	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0)
		return -errno;
	if (r->internal.suberror != KVM_INTERNAL_ERROR_EMULATION) {
		vsrv_log("KVM internal error (suberror %u) on vCPU %u at RIP %#llx", r->internal.suberror,
			 v->id, (unsigned long long)regs.rip);
		return -EIO;
	}
	n = insn_bytes(v, &regs, bytes);
	kind = x86_assist_decode(bytes, n, &ilen, &ac);
	switch (kind) {
	case ASSIST_INT3:
		regs.rip += ilen;
		if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
			return -errno;
		return inject(v, 3);
	case ASSIST_UD:
		return inject(v, 6);
	case ASSIST_SKIP:
		if (bytes[0] == 0x9b && ioctl(v->fd, KVM_GET_FPU, &fpu) == 0 && (fpu.fsw & FSW_ES))
			return inject(v, 16); /* a pending unmasked x87 exception: #MF */
		regs.rip += ilen;
		if (ac > 0)
			regs.rflags |= RFLAGS_AC;
		else if (ac < 0)
			regs.rflags &= ~RFLAGS_AC;
		return ioctl(v->fd, KVM_SET_REGS, &regs) < 0 ? -errno : 0;
	case ASSIST_NONE:
		break;
	}
	for (i = 0; i < n; i++)
		snprintf(hex + i * 3, sizeof(hex) - i * 3, "%02x%s", bytes[i], i + 1 < n ? " " : "");
	vsrv_log("KVM cannot emulate the instruction at RIP %#llx on vCPU %u (bytes: %s)",
		 (unsigned long long)regs.rip, v->id, hex);
	ret = -ENOTSUP;
	return ret;
}
