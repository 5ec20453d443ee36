/* The Xen HVM hypercalls KVM leaves to user space (xen.h). The argument structures are
 * Xen's public ABI (xen/include/public/): their layouts are written out below as offsets,
 * for a 64-bit guest and, where they differ, a 32-bit one. */
#include "arch/x86/xen.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "vmm/mem.h"

#define PAGE 4096u

/* xen_version */
#define XENVER_version             0
#define XENVER_extraversion        1
#define XENVER_compile_info        2
#define XENVER_capabilities        3
#define XENVER_changeset           4
#define XENVER_platform_parameters 5
#define XENVER_get_features        6
#define XENVER_pagesize            7
#define XENVER_guest_handle        8
#define XENVER_commandline         9
/* XENVER_get_features submap 0 */
#define XENFEAT_writable_page_tables       0
#define XENFEAT_writable_descriptor_tables 1
#define XENFEAT_auto_translated_physmap    2
#define XENFEAT_hvm_callback_vector        8
#define XENFEAT_hvm_safe_pvclock           9

/* memory_op */
#define XENMEM_add_to_physmap      7
#define XENMAPSPACE_shared_info    0
#define XEN_MEMOP_CMD_MASK         0x3f
#define XEN_DOMID_SELF             0x7ff0

/* hvm_op */
#define HVMOP_set_param            0
#define HVMOP_get_param            1
#define HVM_PARAM_CALLBACK_IRQ     0
#define HVM_NR_PARAMS              39
#define HVM_CALLBACK_TYPE_VECTOR   2

/* vcpu_op */
#define VCPUOP_up                             1
#define VCPUOP_down                           2
#define VCPUOP_is_up                          3
#define VCPUOP_register_runstate_memory_area  5
#define VCPUOP_set_periodic_timer             6
#define VCPUOP_stop_periodic_timer            7
#define VCPUOP_set_singleshot_timer           8
#define VCPUOP_stop_singleshot_timer          9
#define VCPUOP_register_vcpu_info            10
#define VCPUOP_register_vcpu_time_memory_area 13
#define VCPU_INFO_SIZE      64
#define RUNSTATE_SIZE_64    48  /* struct vcpu_runstate_info */
#define RUNSTATE_SIZE_32    44
#define TIME_INFO_SIZE      32  /* struct vcpu_time_info */
#define VCPUOP_ARG_MAX      16

/* sched_op */
#define SCHEDOP_yield    0
#define SCHEDOP_block    1
#define SCHEDOP_shutdown 2
#define SCHEDOP_poll     3
#define SHUTDOWN_poweroff 0
#define SHUTDOWN_reboot   1
#define SHUTDOWN_crash    3

/* ---- guest memory: virtual addresses of the calling vCPU ---- */

/* The host pointer of [gpa, gpa + len) in guest RAM, or NULL. */
static uint8_t *ram(struct x86_xen *x, uint64_t gpa, uint64_t len)
{
	return guest_mem_ptr(x->host.mem, gpa, len);
}

/* Copy between buf and guest-virtual [gva, gva + len) of vCPU vcpu, page by page. */
static int guest_copy(struct x86_xen *x, unsigned vcpu, uint64_t gva, void *buf, size_t len,
		      bool to_guest)
{
	uint8_t *b = buf;

	while (len) {
		size_t n = PAGE - (gva & (PAGE - 1));
		uint64_t gpa;
		uint8_t *p;

		if (n > len)
			n = len;
		if (x->host.translate(x->host.opaque, vcpu, gva, &gpa) < 0 ||
		    !(p = ram(x, gpa, n)))
			return -XEN_EFAULT;
		if (to_guest) {
			memcpy(p, b, n);
			guest_mem_track(x->host.mem, p, n);
		} else {
			memcpy(b, p, n);
		}
		b += n;
		gva += n;
		len -= n;
	}
	return 0;
}

static int copy_in(struct x86_xen *x, unsigned vcpu, uint64_t gva, void *buf, size_t len)
{
	return guest_copy(x, vcpu, gva, buf, len, false);
}

static int copy_out(struct x86_xen *x, unsigned vcpu, uint64_t gva, const void *buf, size_t len)
{
	return guest_copy(x, vcpu, gva, (void *)buf, len, true);
}

/* The guest-physical address of a structure of len bytes at guest-virtual gva, which must
 * be contiguous in guest RAM (KVM writes it by its physical address). */
static int guest_struct_gpa(struct x86_xen *x, unsigned vcpu, uint64_t gva, uint64_t len,
			    uint64_t *gpa)
{
	uint64_t last;

	if (gva > UINT64_MAX - len)
		return -XEN_EFAULT;
	if (x->host.translate(x->host.opaque, vcpu, gva, gpa) < 0 ||
	    x->host.translate(x->host.opaque, vcpu, gva + len - 1, &last) < 0)
		return -XEN_EFAULT;
	if (last - *gpa != len - 1 || !ram(x, *gpa, len))
		return -XEN_EFAULT;
	return 0;
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* ---- per-vCPU KVM attributes, given on the vCPU's own thread ---- */

int xen_vcpu_apply(struct x86_xen *x, unsigned vcpu, unsigned what)
{
	struct xen_vcpu *v = &x->vcpus[vcpu];
	struct kvm_xen_vcpu_attr a;
	int ret;

	if (!x->host.vcpu_attr)
		return 0;
	memset(&a, 0, sizeof(a));
	switch (what) {
	case XEN_SYNC_VCPU_INFO:
		a.type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO;
		a.u.gpa = v->vcpu_info_gpa;
		break;
	case XEN_SYNC_RUNSTATE:
		if (!(x->host.caps & KVM_XEN_HVM_CONFIG_RUNSTATE))
			return 0;    /* the guest's area stays zero: no steal time */
		a.type = KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR;
		a.u.gpa = v->runstate_gpa;
		break;
	case XEN_SYNC_TIME_INFO:
		a.type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO;
		a.u.gpa = v->time_info_gpa;
		break;
	case XEN_SYNC_TIMER:
		if (!(x->host.caps & KVM_XEN_HVM_CONFIG_EVTCHN_SEND))
			return 0;
		a.type = KVM_XEN_VCPU_ATTR_TYPE_TIMER;
		a.u.timer.port = v->virq_port[XEN_VIRQ_TIMER];
		a.u.timer.priority = KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL;
		break;
	default:
		return 0;
	}
	ret = x->host.vcpu_attr(x->host.opaque, vcpu, &a);
	if (ret < 0)
		vsrv_log("xen: vCPU %u: KVM_XEN_VCPU_SET_ATTR type %u: %s", vcpu, a.type,
			 strerror(-ret));
	return ret;
}

int xen_vcpu_set(struct x86_xen *x, unsigned self, unsigned vcpu, unsigned what)
{
	if ((what == XEN_SYNC_TIMER && !(x->host.caps & KVM_XEN_HVM_CONFIG_EVTCHN_SEND)) ||
	    (what == XEN_SYNC_RUNSTATE && !(x->host.caps & KVM_XEN_HVM_CONFIG_RUNSTATE)))
		return 0;    /* nothing KVM could take: no kick for it */
	/* Linux BUG()s when its runstate area is refused: a KVM that will not take it (one
	 * that wants it inside a page, say) leaves the area zero (no steal time) instead. */
	if (vcpu == self)
		return xen_vcpu_apply(x, vcpu, what) < 0 && what != XEN_SYNC_RUNSTATE ? -XEN_EINVAL : 0;
	__atomic_or_fetch(&x->vcpus[vcpu].pending, what, __ATOMIC_RELEASE);
	if (x->host.kick && !x->no_kicks)
		x->host.kick(x->host.opaque, vcpu);
	return 0;
}

void x86_xen_stop_kicks(struct x86_xen *x)
{
	pthread_mutex_lock(&x->lock);
	x->no_kicks = true;
	pthread_mutex_unlock(&x->lock);
}

int x86_xen_vcpu_sync(struct x86_xen *x, unsigned vcpu)
{
	unsigned p, bit;
	int ret = 0, r;

	if (vcpu >= x->host.nr_vcpus || !__atomic_load_n(&x->vcpus[vcpu].pending, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&x->lock);
	p = __atomic_exchange_n(&x->vcpus[vcpu].pending, 0, __ATOMIC_ACQ_REL);
	for (bit = 1; p; bit <<= 1)
		if (p & bit) {
			p &= ~bit;
			if ((r = xen_vcpu_apply(x, vcpu, bit)) < 0 && !ret)
				ret = r;
		}
	pthread_mutex_unlock(&x->lock);
	return ret;
}

uint8_t *xen_vcpu_info(struct x86_xen *x, unsigned vcpu)
{
	if (vcpu >= x->host.nr_vcpus || x->vcpus[vcpu].vcpu_info_gpa == XEN_INVALID_GPA)
		return NULL;
	return ram(x, x->vcpus[vcpu].vcpu_info_gpa, VCPU_INFO_SIZE);
}

/* ---- xen_version ---- */

static int64_t xen_version(struct x86_xen *x, unsigned vcpu, const uint64_t *p)
{
	uint8_t buf[1024];
	size_t len;

	memset(buf, 0, sizeof(buf));
	switch (p[0]) {
	case XENVER_version:
		return XEN_VERSION_MAJOR << 16 | XEN_VERSION_MINOR;
	case XENVER_get_features: {
		uint32_t submap = 0;

		if (copy_in(x, vcpu, p[1], buf, 4) < 0)
			return -XEN_EFAULT;
		if (rd32(buf) == 0) {
			submap = 1u << XENFEAT_writable_page_tables |
				 1u << XENFEAT_writable_descriptor_tables |
				 1u << XENFEAT_auto_translated_physmap |
				 1u << XENFEAT_hvm_callback_vector;
			/* the Xen clock's timers: KVM runs them, or host timers of ours */
			if ((x->host.caps & KVM_XEN_HVM_CONFIG_EVTCHN_SEND) ||
			    (x->host.timer_arm && x->host.clock_ns))
				submap |= 1u << XENFEAT_hvm_safe_pvclock;
		}
		wr32(buf + 4, submap);
		return copy_out(x, vcpu, p[1], buf, 8);
	}
	case XENVER_pagesize:
		return PAGE;
	case XENVER_extraversion:     /* char[16] */
		memcpy(buf, ".0-vsrv", 7);
		len = 16;
		break;
	case XENVER_compile_info:     /* 4 x char[64] */
		memcpy(buf, "vsrv", 4);
		len = 256;
		break;
	case XENVER_capabilities:     /* char[1024] */
		strcpy((char *)buf, x->long_mode ? "hvm-3.0-x86_64 hvm-3.0-x86_32" : "hvm-3.0-x86_32");
		len = 1024;
		break;
	case XENVER_changeset:        /* char[64] */
		memcpy(buf, "vsrv", 4);
		len = 64;
		break;
	case XENVER_platform_parameters: /* virt_start: no hypervisor hole in an HVM guest */
		len = x->long_mode ? 8 : 4;
		break;
	case XENVER_guest_handle:     /* xen_domain_handle_t: 16 bytes */
		len = 16;
		break;
	case XENVER_commandline:      /* char[1024] */
		len = 1024;
		break;
	default:
		return -XEN_ENOSYS;
	}
	return copy_out(x, vcpu, p[1], buf, len);
}

/* ---- memory_op: the shared info page ---- */

static int set_shared_info(struct x86_xen *x, unsigned self, uint64_t gfn)
{
	uint64_t gpa = gfn << 12;
	struct kvm_xen_hvm_attr a;
	uint8_t *page, *old = NULL;
	unsigned i;

	if (gfn > (UINT64_MAX >> 12) || !(page = ram(x, gpa, PAGE)))
		return -XEN_EINVAL;
	if (x->shinfo_gpa != XEN_INVALID_GPA)
		old = ram(x, x->shinfo_gpa, PAGE);
	/* A new page starts empty (nothing pending, nothing masked); a moved one keeps its
	 * contents, as under Xen. */
	if (old && old != page)
		memmove(page, old, PAGE);
	else if (!old)
		memset(page, 0, PAGE);
	guest_mem_track(x->host.mem, page, PAGE);
	memset(&a, 0, sizeof(a));
	a.type = KVM_XEN_ATTR_TYPE_SHARED_INFO;
	a.u.shared_info.gfn = gfn;
	if (x->host.vm_attr && x->host.vm_attr(x->host.opaque, &a) < 0)
		return -XEN_EINVAL;
	x->shinfo_gpa = gpa;
	/* The first 32 vCPUs' vcpu_info is in the page until they register their own; KVM
	 * must be told where (it does not know the guest's vCPU numbering). */
	for (i = 0; i < x->host.nr_vcpus && i < 32; i++)
		if (!x->vcpus[i].vcpu_info_registered) {
			x->vcpus[i].vcpu_info_gpa = gpa + i * VCPU_INFO_SIZE;
			if (xen_vcpu_set(x, self, i, XEN_SYNC_VCPU_INFO) < 0)
				return -XEN_EINVAL;
		}
	return 0;
}

static int64_t memory_op(struct x86_xen *x, unsigned vcpu, bool lm, const uint64_t *p)
{
	uint8_t buf[24];
	uint32_t space;
	uint64_t idx, gpfn;

	if ((p[0] & XEN_MEMOP_CMD_MASK) != XENMEM_add_to_physmap || (p[0] >> 6))
		return -XEN_ENOSYS;
	/* struct xen_add_to_physmap: domid u16, size u16, space u32, idx, gpfn (xen_ulong_t,
	 * xen_pfn_t: 8 bytes each in 64-bit mode, 4 in 32-bit mode) */
	if (copy_in(x, vcpu, p[1], buf, lm ? 24 : 16) < 0)
		return -XEN_EFAULT;
	if ((buf[0] | buf[1] << 8) != XEN_DOMID_SELF)
		return -XEN_ESRCH;
	space = rd32(buf + 4);
	idx = lm ? rd64(buf + 8) : rd32(buf + 8);
	gpfn = lm ? rd64(buf + 16) : rd32(buf + 12);
	if (space != XENMAPSPACE_shared_info)
		return -XEN_ENOSYS;   /* grant tables, gmfn moves: not offered */
	if (idx != 0)
		return -XEN_EINVAL;
	return set_shared_info(x, vcpu, gpfn);
}

/* ---- hvm_op: parameters ---- */

static int64_t hvm_op(struct x86_xen *x, unsigned vcpu, const uint64_t *p)
{
	uint8_t buf[16];
	uint32_t index;
	uint64_t value;

	if (p[0] != HVMOP_set_param && p[0] != HVMOP_get_param)
		return -XEN_ENOSYS;
	/* struct xen_hvm_param: domid u16, (pad), index u32 at 4, value u64 at 8 */
	if (copy_in(x, vcpu, p[1], buf, sizeof(buf)) < 0)
		return -XEN_EFAULT;
	if ((buf[0] | buf[1] << 8) != XEN_DOMID_SELF)
		return -XEN_ESRCH;
	index = rd32(buf + 4);
	value = rd64(buf + 8);
	if (index >= HVM_NR_PARAMS)
		return -XEN_EINVAL;
	if (p[0] == HVMOP_get_param) {
		/* The callback as set; every other one unset (0): no xenstore, no console. */
		wr64(buf + 8, index == HVM_PARAM_CALLBACK_IRQ ? x->callback_param : 0);
		return copy_out(x, vcpu, p[1], buf, sizeof(buf));
	}
	if (index != HVM_PARAM_CALLBACK_IRQ)
		return -XEN_EPERM;
	if (value == 0 || value >> 56 == HVM_CALLBACK_TYPE_VECTOR) {
		struct kvm_xen_hvm_attr a;
		uint8_t vec = value & 0xff;

		if (value && vec < 0x10)
			return -XEN_EINVAL;  /* exceptions, not interrupts */
		memset(&a, 0, sizeof(a));
		a.type = KVM_XEN_ATTR_TYPE_UPCALL_VECTOR;
		a.u.vector = value ? vec : 0;
		if (x->host.vm_attr && x->host.vm_attr(x->host.opaque, &a) < 0)
			return -XEN_EINVAL;
		x->callback_param = value;
		return 0;
	}
	return -XEN_EINVAL;   /* GSI and PCI INTx callbacks: no Xen platform device */
}

/* ---- timers without KVM's (host.timer_arm) ---- */

#define VCPU_SSHOTTMR_future 1

/* Arm vCPU vcpu's timer for guest time deadline (0: stop). future: -ETIME for a deadline
 * already past (VCPU_SSHOTTMR_future), else it fires at once. */
static int64_t timer_set(struct x86_xen *x, unsigned vcpu, uint64_t deadline, bool future)
{
	uint64_t now;
	int64_t delta;

	if (!x->host.timer_arm || !x->host.clock_ns)
		return -XEN_ENOSYS;   /* KVM's: it takes them once the timer VIRQ is bound */
	if (!deadline) {
		x->vcpus[vcpu].timer_expires = 0;
		x->host.timer_arm(x->host.opaque, vcpu, XEN_TIMER_OFF);
		return 0;
	}
	if (x->host.clock_ns(x->host.opaque, &now) < 0)
		return -XEN_EINVAL;
	delta = deadline > now ? (int64_t)(deadline - now > INT64_MAX ? INT64_MAX : deadline - now)
			       : -(int64_t)((now - deadline) > INT64_MAX ? INT64_MAX : now - deadline);
	if (future && delta < 0)
		return -XEN_ETIME;
	x->vcpus[vcpu].timer_expires = deadline;
	x->host.timer_arm(x->host.opaque, vcpu, delta < 0 ? 0 : delta);
	return 0;
}

void x86_xen_timer_fire(struct x86_xen *x, unsigned vcpu)
{
	uint32_t port;

	if (vcpu >= x->host.nr_vcpus)
		return;
	pthread_mutex_lock(&x->lock);
	x->vcpus[vcpu].timer_expires = 0;
	port = x->vcpus[vcpu].virq_port[XEN_VIRQ_TIMER];
	if (port)
		xen_evtchn_raise(x, UINT32_MAX, port);   /* not a vCPU's thread: kick it */
	pthread_mutex_unlock(&x->lock);
}

/* ---- vcpu_op ---- */

static int64_t vcpu_op(struct x86_xen *x, unsigned self, bool lm, const uint64_t *p)
{
	uint64_t cmd = p[0], id = p[1], gva = p[2], gpa, addr;
	uint8_t buf[VCPUOP_ARG_MAX];
	struct xen_vcpu *v;

	if (id >= x->host.nr_vcpus)
		return -XEN_ENOENT;
	v = &x->vcpus[id];
	switch (cmd) {
	case VCPUOP_is_up:
		return 1;             /* HVM vCPUs are brought up with INIT/SIPI */
	case VCPUOP_up:
	case VCPUOP_down:
		return -XEN_EINVAL;
	case VCPUOP_register_vcpu_info: {
		uint64_t mfn;
		uint32_t off;

		/* struct vcpu_register_vcpu_info: mfn u64, offset u32, rsvd u32 */
		if (copy_in(x, self, gva, buf, 16) < 0)
			return -XEN_EFAULT;
		mfn = rd64(buf);
		off = rd32(buf + 8);
		if (v->vcpu_info_registered)
			return -XEN_EINVAL;   /* once only, as under Xen */
		if (off > PAGE - VCPU_INFO_SIZE || (off & 7) || mfn > (UINT64_MAX >> 12) ||
		    !ram(x, (mfn << 12) + off, VCPU_INFO_SIZE))
			return -XEN_EINVAL;
		gpa = (mfn << 12) + off;
		/* The guest may have run on the default vcpu_info in the shared info page:
		 * its contents (the pending bits and mask) move along, as Xen does. */
		if (v->vcpu_info_gpa != XEN_INVALID_GPA)
			memmove(ram(x, gpa, VCPU_INFO_SIZE), ram(x, v->vcpu_info_gpa, VCPU_INFO_SIZE),
				VCPU_INFO_SIZE);
		v->vcpu_info_gpa = gpa;
		v->vcpu_info_registered = true;
		return xen_vcpu_set(x, self, id, XEN_SYNC_VCPU_INFO);
	}
	case VCPUOP_register_runstate_memory_area:
	case VCPUOP_register_vcpu_time_memory_area: {
		bool rs = cmd == VCPUOP_register_runstate_memory_area;
		uint64_t len = rs ? (lm ? RUNSTATE_SIZE_64 : RUNSTATE_SIZE_32) : TIME_INFO_SIZE;

		/* a union of a guest handle and a u64: the area's virtual address, 0: none */
		if (copy_in(x, self, gva, buf, 8) < 0)
			return -XEN_EFAULT;
		addr = lm ? rd64(buf) : rd32(buf);
		if (!addr)
			gpa = XEN_INVALID_GPA;
		else if (guest_struct_gpa(x, self, addr, len, &gpa) < 0)
			return -XEN_EFAULT;
		if (!rs && gpa != XEN_INVALID_GPA && (gpa & (PAGE - 1)) > PAGE - len)
			return -XEN_EINVAL;   /* KVM keeps it in one page */
		if (rs)
			v->runstate_gpa = gpa;
		else
			v->time_info_gpa = gpa;
		return xen_vcpu_set(x, self, id, rs ? XEN_SYNC_RUNSTATE : XEN_SYNC_TIME_INFO);
	}
	case VCPUOP_stop_periodic_timer:
		return 0;             /* vsrv never starts one */
	case VCPUOP_set_periodic_timer:
		return -XEN_ENOSYS;
	case VCPUOP_set_singleshot_timer:
		/* KVM takes these itself once the timer port is bound (EVTCHN_SEND); else a
		 * host timer. struct vcpu_set_singleshot_timer: timeout_abs_ns u64, flags u32 */
		if (id != self)
			return -XEN_EINVAL;   /* a vCPU sets its own, as under Xen */
		if (copy_in(x, self, gva, buf, 12) < 0)
			return -XEN_EFAULT;
		return timer_set(x, self, rd64(buf), rd32(buf + 8) & VCPU_SSHOTTMR_future);
	case VCPUOP_stop_singleshot_timer:
		if (id != self)
			return -XEN_EINVAL;
		return timer_set(x, self, 0, false);
	default:
		return -XEN_ENOSYS;
	}
}

/* ---- sched_op ---- */

static int64_t sched_op(struct x86_xen *x, unsigned vcpu, const uint64_t *p)
{
	uint8_t buf[4];

	switch (p[0]) {
	case SCHEDOP_yield:
	case SCHEDOP_block:   /* returns at once: the guest checks its events and blocks again */
	case SCHEDOP_poll:
		return 0;
	case SCHEDOP_shutdown:
		/* struct sched_shutdown: reason u32 */
		if (copy_in(x, vcpu, p[1], buf, 4) < 0)
			return -XEN_EFAULT;
		switch (rd32(buf)) {
		case SHUTDOWN_poweroff:
			vsrv_log("xen: the guest powered off (vCPU %u)", vcpu);
			if (x->host.request_stop)
				x->host.request_stop(x->host.opaque, 0);
			return 0;
		case SHUTDOWN_reboot:
			if (x->host.request_stop)
				x->host.request_stop(x->host.opaque, X86_XEN_STOP_RESET);
			return 0;
		case SHUTDOWN_crash:
			vsrv_log("xen: the guest crashed (SCHEDOP_shutdown crash, vCPU %u)", vcpu);
			if (x->host.request_stop)
				x->host.request_stop(x->host.opaque, X86_XEN_STOP_CRASH);
			return 0;
		default:
			return -XEN_EINVAL;  /* suspend, watchdog, soft reset: not offered */
		}
	default:
		return -XEN_ENOSYS;
	}
}

/* ---- dispatch ---- */

int64_t x86_xen_hypercall(struct x86_xen *x, unsigned vcpu, bool lm, uint64_t nr,
			  const uint64_t params[6])
{
	uint64_t p[6];
	int64_t ret;
	int i;

	if (vcpu >= x->host.nr_vcpus)
		return -XEN_EINVAL;
	/* In 32-bit mode only the low halves of the registers are arguments. */
	for (i = 0; i < 6; i++)
		p[i] = lm ? params[i] : (uint32_t)params[i];
	pthread_mutex_lock(&x->lock);
	x->hypercalls++;
	if (lm != x->long_mode || !x->long_mode_set) {
		struct kvm_xen_hvm_attr a;

		/* The layout of the shared info page follows the guest's mode. */
		memset(&a, 0, sizeof(a));
		a.type = KVM_XEN_ATTR_TYPE_LONG_MODE;
		a.u.long_mode = lm;
		if (!x->host.vm_attr || x->host.vm_attr(x->host.opaque, &a) == 0) {
			x->long_mode = lm;
			x->long_mode_set = true;
		}
	}
	switch (nr) {
	case XEN_HC_xen_version:
		ret = xen_version(x, vcpu, p);
		break;
	case XEN_HC_memory_op:
		ret = memory_op(x, vcpu, lm, p);
		break;
	case XEN_HC_hvm_op:
		ret = hvm_op(x, vcpu, p);
		break;
	case XEN_HC_vcpu_op:
		ret = vcpu_op(x, vcpu, lm, p);
		break;
	case XEN_HC_sched_op:
		ret = sched_op(x, vcpu, p);
		break;
	case XEN_HC_event_channel_op: {
		uint8_t buf[XEN_EVTCHN_ARG_MAX];
		unsigned len = xen_evtchn_arg_size((unsigned)p[0]);
		bool out = false;

		memset(buf, 0, sizeof(buf));
		if (!len || p[0] > UINT32_MAX)
			ret = -XEN_ENOSYS;
		else if (copy_in(x, vcpu, p[1], buf, len) < 0)
			ret = -XEN_EFAULT;
		else if ((ret = xen_evtchn_op(x, vcpu, (unsigned)p[0], buf, &out)) == 0 && out &&
			 copy_out(x, vcpu, p[1], buf, len) < 0)
			ret = -XEN_EFAULT;
		break;
	}
	case XEN_HC_set_timer_op:     /* KVM's, with EVTCHN_SEND and the timer port bound */
		/* the deadline; in 32-bit mode its halves are the first two arguments */
		ret = timer_set(x, vcpu, lm ? p[0] : (p[0] | p[1] << 32), false);
		break;
	case XEN_HC_grant_table_op:   /* no grant tables: no PV back-ends to share with */
	default:
		ret = -XEN_ENOSYS;
		break;
	}
	if (ret < 0)
		x->errors++;
	pthread_mutex_unlock(&x->lock);
	return ret;
}

void x86_xen_exit(struct x86_xen *x, unsigned vcpu, struct kvm_run *run)
{
	uint64_t p[6];
	int i;

	if (run->xen.type != KVM_EXIT_XEN_HCALL)
		return;
	if (run->xen.u.hcall.cpl != 0) {
		/* The guest's user space: Xen refuses every hypercall outside ring 0 of an HVM
		 * guest (a process must not shut the VM down or move its vcpu_info). */
		run->xen.u.hcall.result = (uint64_t)(int64_t)-XEN_EPERM;
		pthread_mutex_lock(&x->lock);
		x->errors++;
		pthread_mutex_unlock(&x->lock);
	} else {
		for (i = 0; i < 6; i++)
			p[i] = run->xen.u.hcall.params[i];
		run->xen.u.hcall.result = (uint64_t)x86_xen_hypercall(x, vcpu,
								      run->xen.u.hcall.longmode,
								      run->xen.u.hcall.input, p);
	}
	if (!run->xen.u.hcall.longmode)
		run->xen.u.hcall.result &= 0xffffffffu;
}

int x86_xen_create(const struct x86_xen_host *host, struct x86_xen **out)
{
	struct x86_xen *x;
	unsigned i;

	if (!host->nr_vcpus || host->nr_vcpus > XEN_MAX_VCPUS || !host->translate || !host->mem)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->host = *host;
	pthread_mutex_init(&x->lock, NULL);
	x->shinfo_gpa = XEN_INVALID_GPA;
	for (i = 0; i < XEN_MAX_VCPUS; i++)
		x->vcpus[i].vcpu_info_gpa = x->vcpus[i].runstate_gpa =
			x->vcpus[i].time_info_gpa = XEN_INVALID_GPA;
	*out = x;
	return 0;
}

void x86_xen_destroy(struct x86_xen *x)
{
	if (!x)
		return;
	pthread_mutex_destroy(&x->lock);
	free(x);
}
