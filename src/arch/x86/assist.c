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

/* 0f ae /2 (ldmxcsr) or /3 (stmxcsr) with a memory operand, after optional address-size
 * and segment prefixes and a REX; anything else (or a truncated form) is ASSIST_NONE. */
static enum x86_assist_kind decode_mxcsr(const uint8_t *b, size_t len, struct x86_assist_insn *o)
{
	struct x86_mem_op *m = &o->mem;
	unsigned rex = 0, mod, reg, rm, nseg = 0, dsize = 0;
	enum x86_assist_kind kind;
	size_t i = 0;

	if (len > 15)
		len = 15;
	for (; i < len; i++) {
		if (b[i] == 0x67 && !m->addr32)
			m->addr32 = true;
		else if (b[i] == 0x26 || b[i] == 0x2e || b[i] == 0x36 || b[i] == 0x3e ||
			 b[i] == 0x64 || b[i] == 0x65) {
			if (nseg++)
				return ASSIST_NONE; /* several segment overrides: refuse */
			if (b[i] == 0x64 || b[i] == 0x65)
				m->seg = b[i]; /* es, cs, ss, ds: base 0 in 64-bit mode */
		} else
			break;
	}
	if (i < len && (b[i] & 0xf0) == 0x40)
		rex = b[i++];
	if (len - i < 3 || b[i] != 0x0f || b[i + 1] != 0xae)
		return ASSIST_NONE;
	mod = b[i + 2] >> 6;
	reg = (b[i + 2] >> 3) & 7;
	rm = b[i + 2] & 7;
	i += 3;
	if (mod == 3 || (reg != 2 && reg != 3))
		return ASSIST_NONE;
	kind = reg == 2 ? ASSIST_LDMXCSR : ASSIST_STMXCSR;
	m->scale = 1;
	m->index = X86_REG_NONE;
	if (rm == 4) {                                  /* SIB */
		unsigned sib, idx;
		if (i >= len)
			return ASSIST_NONE;
		sib = b[i++];
		idx = ((sib >> 3) & 7) | (rex & 2 ? 8 : 0);
		m->scale = 1u << (sib >> 6);
		m->index = idx == 4 ? X86_REG_NONE : (int)idx;
		if ((sib & 7) == 5 && mod == 0) {
			m->base = X86_REG_NONE;
			dsize = 4;
		} else {
			m->base = (int)((sib & 7) | (rex & 1 ? 8 : 0));
		}
	} else if (rm == 5 && mod == 0) {               /* RIP-relative */
		m->base = X86_REG_RIP;
		dsize = 4;
	} else {
		m->base = (int)(rm | (rex & 1 ? 8 : 0));
	}
	if (mod == 1)
		dsize = 1;
	else if (mod == 2)
		dsize = 4;
	if (len - i < dsize)
		return ASSIST_NONE;
	if (dsize == 1) {
		m->disp = (int8_t)b[i];
	} else if (dsize == 4) {
		uint32_t d = (uint32_t)b[i] | (uint32_t)b[i + 1] << 8 | (uint32_t)b[i + 2] << 16 |
			     (uint32_t)b[i + 3] << 24;
		m->disp = (int32_t)d;
	}
	o->len = (unsigned)(i + dsize);
	return o->kind = kind;
}

enum x86_assist_kind x86_assist_decode_insn(const uint8_t *b, size_t len, struct x86_assist_insn *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = ASSIST_NONE;
	if (len >= 1 && b[0] == 0xcc) {                        /* int3 */
		o->len = 1;
		return o->kind = ASSIST_INT3;
	}
	if (len >= 1 && b[0] == 0x9b) {                        /* fwait */
		o->len = 1;
		return o->kind = ASSIST_SKIP;
	}
	if (len >= 3 && b[0] == 0x0f && b[1] == 0x01 && (b[2] == 0xca || b[2] == 0xcb)) {
		o->len = 3;                                    /* clac, stac */
		o->ac = b[2] == 0xca ? -1 : 1;
		return o->kind = ASSIST_SKIP;
	}
	if (len >= 3 && b[0] == 0x0f && b[1] == 0xae && b[2] >= 0xe8) {
		o->len = 3;                                    /* lfence, mfence, sfence */
		return o->kind = ASSIST_SKIP;
	}
	if (len >= 2 && b[0] == 0x0f && b[1] == 0x0b) {       /* ud2 */
		o->len = 2;
		return o->kind = ASSIST_UD;
	}
	if (decode_mxcsr(b, len, o) != ASSIST_NONE)
		return o->kind;
	memset(o, 0, sizeof(*o));
	return o->kind = ASSIST_NONE;
}

enum x86_assist_kind x86_assist_decode(const uint8_t *b, size_t len, unsigned *ilen, int *ac)
{
	struct x86_assist_insn in;

	x86_assist_decode_insn(b, len, &in);
	*ilen = in.len;
	*ac = in.ac;
	return in.kind;
}

static uint64_t gpr(const struct kvm_regs *r, int n)
{
	switch (n) {
	case 0: return r->rax;
	case 1: return r->rcx;
	case 2: return r->rdx;
	case 3: return r->rbx;
	case 4: return r->rsp;
	case 5: return r->rbp;
	case 6: return r->rsi;
	case 7: return r->rdi;
	case 8: return r->r8;
	case 9: return r->r9;
	case 10: return r->r10;
	case 11: return r->r11;
	case 12: return r->r12;
	case 13: return r->r13;
	case 14: return r->r14;
	case 15: return r->r15;
	default: return 0;
	}
}

uint64_t x86_mem_op_ea(const struct x86_mem_op *m, const struct kvm_regs *regs, unsigned ilen)
{
	uint64_t ea = (uint64_t)m->disp;

	if (m->base == X86_REG_RIP)
		ea += regs->rip + ilen;
	else if (m->base != X86_REG_NONE)
		ea += gpr(regs, m->base);
	if (m->index != X86_REG_NONE)
		ea += gpr(regs, m->index) * m->scale;
	return m->addr32 ? (uint32_t)ea : ea;
}

static int inject_err(struct vcpu *v, uint8_t vector, int has_error, uint32_t error)
{
	struct kvm_vcpu_events ev;

	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	ev.exception.injected = 1;
	ev.exception.nr = vector;
	ev.exception.has_error_code = (uint8_t)has_error;
	ev.exception.error_code = error;
	ev.flags = 0;
	return ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ? -errno : 0;
}

static int inject(struct vcpu *v, uint8_t vector)
{
	return inject_err(v, vector, 0, 0);
}

/* The MXCSR bits this CPU supports (MXCSR_MASK from FXSAVE; 0 there means 0xffbf). The
 * guest runs on the same CPU, and KVM gives it the host's mask. */
static uint32_t mxcsr_mask(void)
{
	static uint32_t cached;
	uint8_t area[512] __attribute__((aligned(16)));
	uint32_t mask = __atomic_load_n(&cached, __ATOMIC_RELAXED);

	if (mask)
		return mask;
	memset(area, 0, sizeof(area));
	__asm__ volatile("fxsave %0" : "=m"(area));
	memcpy(&mask, area + 28, 4);
	if (!mask)
		mask = 0xffbf;
	__atomic_store_n(&cached, mask, __ATOMIC_RELAXED);
	return mask;
}

/* Copy n (<= 4096) bytes between buf and guest linear address la, translating each page
 * with KVM_TRANSLATE before touching any. -EFAULT when a page is not mapped or not RAM. */
static int linear_copy(struct vcpu *v, uint64_t la, void *buf, size_t n, bool write)
{
	uint8_t *host[2];
	size_t len[2], k, nr = 0, off = 0;

	while (off < n) {
		struct kvm_translation tr;
		size_t chunk = 4096 - ((la + off) & 4095);

		if (chunk > n - off)
			chunk = n - off;
		memset(&tr, 0, sizeof(tr));
		tr.linear_address = la + off;
		if (ioctl(v->fd, KVM_TRANSLATE, &tr) < 0)
			return -errno;
		if (!tr.valid)
			return -EFAULT;
		host[nr] = guest_mem_ptr(v->vm->mem, tr.physical_address, chunk);
		if (!host[nr])
			return -EFAULT;
		len[nr++] = chunk;
		off += chunk;
	}
	for (k = 0, off = 0; k < nr; off += len[k], k++) {
		if (write)
			memcpy(host[k], (uint8_t *)buf + off, len[k]);
		else
			memcpy((uint8_t *)buf + off, host[k], len[k]);
	}
	return 0;
}

#define EFER_LMA (1ULL << 10)
/* Offsets in the XSAVE area: MXCSR, the XMM registers, XSTATE_BV. */
#define XS_MXCSR 24
#define XS_XMM   160
#define XS_BV    512

/* ldmxcsr/stmxcsr m32 (64-bit mode only): the operand through KVM_TRANSLATE, MXCSR through
 * KVM_GET/SET_XSAVE (this host's KVM_GET_FPU reports MXCSR as 0). A load with reserved bits
 * set raises #GP(0), as the CPU does. */
static int assist_mxcsr(struct vcpu *v, struct kvm_regs *regs, const struct x86_assist_insn *in)
{
	struct kvm_sregs sregs;
	struct kvm_xsave xs;
	uint64_t la;
	uint32_t val;
	int ret;

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	if (!(sregs.efer & EFER_LMA) || !sregs.cs.l) {
		vsrv_log("vCPU %u: %smxcsr at RIP %#llx outside 64-bit mode: not emulated", v->id,
			 in->kind == ASSIST_LDMXCSR ? "ld" : "st", (unsigned long long)regs->rip);
		return -ENOTSUP;
	}
	la = x86_mem_op_ea(&in->mem, regs, in->len);
	if (in->mem.seg == 0x64)
		la += sregs.fs.base;
	else if (in->mem.seg == 0x65)
		la += sregs.gs.base;
	if ((uint64_t)(((int64_t)la << 16) >> 16) != la) {
		vsrv_log("vCPU %u: %smxcsr at RIP %#llx: non-canonical operand %#llx: not emulated",
			 v->id, in->kind == ASSIST_LDMXCSR ? "ld" : "st",
			 (unsigned long long)regs->rip, (unsigned long long)la);
		return -ENOTSUP;
	}
	if (ioctl(v->fd, KVM_GET_XSAVE, &xs) < 0)
		return -errno;
	if (in->kind == ASSIST_STMXCSR) {
		memcpy(&val, (uint8_t *)xs.region + XS_MXCSR, 4);
		ret = linear_copy(v, la, &val, 4, true);
	} else {
		ret = linear_copy(v, la, &val, 4, false);
	}
	if (ret < 0) {
		vsrv_log("vCPU %u: %smxcsr at RIP %#llx: operand %#llx not mapped to RAM: not emulated",
			 v->id, in->kind == ASSIST_LDMXCSR ? "ld" : "st",
			 (unsigned long long)regs->rip, (unsigned long long)la);
		return ret;
	}
	if (in->kind == ASSIST_LDMXCSR) {
		if (val & ~mxcsr_mask())
			return inject_err(v, 13, 1, 0); /* #GP(0), RIP stays at the instruction */
		memcpy((uint8_t *)xs.region + XS_MXCSR, &val, 4);
		/* KVM takes MXCSR only when XSTATE_BV has x87, SSE or AVX: with none of them the
		 * XMM registers are in their initial state (zero), which SSE's bit then states. */
		if (!(xs.region[XS_BV / 4] & 7)) {
			memset((uint8_t *)xs.region + XS_XMM, 0, 256);
			xs.region[XS_BV / 4] |= 2;
		}
		if (ioctl(v->fd, KVM_SET_XSAVE, &xs) < 0)
			return -errno;
	}
	regs->rip += in->len;
	return ioctl(v->fd, KVM_SET_REGS, regs) < 0 ? -errno : 0;
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
	struct x86_assist_insn in;
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
	x86_assist_decode_insn(bytes, n, &in);
	ilen = in.len;
	ac = in.ac;
	switch (in.kind) {
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
	case ASSIST_LDMXCSR:
	case ASSIST_STMXCSR:
		return assist_mxcsr(v, &regs, &in);
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
