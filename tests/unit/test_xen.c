/* Unit tests of the Xen HVM hypercalls (arch/x86/xen.c, xen_evtchn.c) on real guest memory
 * (vmm/mem.c): the guest's arguments are written into RAM as a Linux guest lays them out, the
 * hypercall is dispatched, and the results are read back from RAM; KVM's side is a recorder
 * of the attributes the platform gives it (struct x86_xen_host), with identity paging
 * (guest-virtual = guest-physical, as with paging off) but for addresses with bit 47 set,
 * which are "not mapped". Each hypercall, bad pointers, bad ports, out-of-range indices. */
#include "check.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/xen.h"
#include "vmm/mem.h"

#define MEM   (4u << 20)
#define ARG   0x10000u      /* the argument structs */
#define SHINFO_GFN 0x20u    /* the shared info page at 0x20000 */
#define VINFO 0x30040u      /* a registered vcpu_info */
#define UNMAPPED (1ULL << 47)

static struct guest_mem *mem;
static struct rec {
	struct kvm_xen_hvm_attr vm[16];
	unsigned nvm;
	struct { unsigned vcpu; struct kvm_xen_vcpu_attr a; } vc[32];
	unsigned nvc;
	unsigned kicks[4];
	unsigned sends, send_port, send_vcpu;
	int stops, stop_code;
	int refuse;          /* KVM_XEN_VCPU_SET_ATTR of this type + 1 fails */
	uint64_t now;        /* the guest's clock (host timers) */
	unsigned arms;
	unsigned arm_vcpu;
	int64_t arm_delta;
} rec;

static int translate(void *o, unsigned vcpu, uint64_t gva, uint64_t *gpa)
{
	(void)o; (void)vcpu;
	if (gva & UNMAPPED)
		return -EFAULT;
	*gpa = gva;
	return 0;
}
static int vm_attr(void *o, const struct kvm_xen_hvm_attr *a)
{
	(void)o;
	if (rec.nvm < 16)
		rec.vm[rec.nvm++] = *a;
	return 0;
}
static int vcpu_attr(void *o, unsigned vcpu, const struct kvm_xen_vcpu_attr *a)
{
	(void)o;
	if (rec.refuse == a->type + 1)
		return -EINVAL;
	if (rec.nvc < 32) {
		rec.vc[rec.nvc].vcpu = vcpu;
		rec.vc[rec.nvc++].a = *a;
	}
	return 0;
}
static int send(void *o, unsigned vcpu, uint32_t port)
{
	(void)o;
	rec.sends++;
	rec.send_port = port;
	rec.send_vcpu = vcpu;
	return 0;
}
static void kick(void *o, unsigned vcpu) { (void)o; rec.kicks[vcpu & 3]++; }
static int clock_ns(void *o, uint64_t *ns) { (void)o; *ns = rec.now; return 0; }
static void timer_arm(void *o, unsigned vcpu, int64_t d)
{
	(void)o;
	rec.arms++;
	rec.arm_vcpu = vcpu;
	rec.arm_delta = d;
}
static void stop(void *o, int code) { (void)o; rec.stops++; rec.stop_code = code; }

/* A platform of 2 vCPUs; caps: SHARED_INFO and co., with EVTCHN_SEND when send_ok. */
static struct x86_xen *mk(bool evtchn_send)
{
	struct x86_xen_host h = {
		.mem = mem, .nr_vcpus = 2, .translate = translate, .vm_attr = vm_attr,
		.vcpu_attr = vcpu_attr, .evtchn_send = send, .kick = kick, .request_stop = stop,
		.caps = X86_XEN_CAPS_NEEDED | KVM_XEN_HVM_CONFIG_RUNSTATE |
			(evtchn_send ? KVM_XEN_HVM_CONFIG_EVTCHN_SEND : 0),
	};
	struct x86_xen *x = NULL;

	memset(&rec, 0, sizeof(rec));
	memset(mem->host, 0, MEM);
	CHECK_EQ(x86_xen_create(&h, &x), 0);
	return x;
}

static int64_t hc(struct x86_xen *x, unsigned vcpu, uint64_t nr, uint64_t a0, uint64_t a1,
		  uint64_t a2)
{
	uint64_t p[6] = { a0, a1, a2, 0, 0, 0 };

	return x86_xen_hypercall(x, vcpu, true, nr, p);
}

static uint8_t *g(uint64_t gpa) { return mem->host + gpa; }
static void put32(uint64_t gpa, uint32_t v) { memcpy(g(gpa), &v, 4); }
static void put64(uint64_t gpa, uint64_t v) { memcpy(g(gpa), &v, 8); }
static uint32_t get32(uint64_t gpa) { uint32_t v; memcpy(&v, g(gpa), 4); return v; }
static uint64_t get64(uint64_t gpa) { uint64_t v; memcpy(&v, g(gpa), 8); return v; }

/* XENMEM_add_to_physmap of the shared info page at gfn, 64-bit layout */
static int64_t map_shinfo(struct x86_xen *x, uint64_t gfn)
{
	memset(g(ARG), 0, 24);
	put32(ARG, 0x7ff0);          /* domid DOMID_SELF, size 0 */
	put32(ARG + 4, 0);           /* XENMAPSPACE_shared_info */
	put64(ARG + 8, 0);           /* idx */
	put64(ARG + 16, gfn);
	return hc(x, 0, XEN_HC_memory_op, 7, ARG, 0);
}

static int64_t evtchn(struct x86_xen *x, unsigned vcpu, unsigned cmd, uint32_t a, uint32_t b,
		      uint32_t c)
{
	memset(g(ARG), 0, 24);
	put32(ARG, a);
	put32(ARG + 4, b);
	put32(ARG + 8, c);
	return hc(x, vcpu, XEN_HC_event_channel_op, cmd, ARG, 0);
}

static void test_version(void)
{
	struct x86_xen *x = mk(true);

	CHECK_EQ(hc(x, 0, XEN_HC_xen_version, 0, 0, 0), 4 << 16 | 16);
	put32(ARG, 0);                               /* XENVER_get_features, submap 0 */
	put32(ARG + 4, 0xdeadbeef);
	CHECK_EQ(hc(x, 0, XEN_HC_xen_version, 6, ARG, 0), 0);
	CHECK(get32(ARG + 4) & (1u << 8));           /* hvm_callback_vector */
	CHECK(get32(ARG + 4) & (1u << 9));           /* hvm_safe_pvclock: KVM runs the timers */
	CHECK(get32(ARG + 4) & (1u << 2));           /* auto_translated_physmap */
	CHECK(!(get32(ARG + 4) & (1u << 10)));       /* no hvm_pirqs */
	put32(ARG, 1);
	CHECK_EQ(hc(x, 0, XEN_HC_xen_version, 6, ARG, 0), 0);
	CHECK_EQ(get32(ARG + 4), 0);
	CHECK_EQ(hc(x, 0, XEN_HC_xen_version, 6, UNMAPPED | ARG, 0), -XEN_EFAULT);
	CHECK_EQ(hc(x, 0, XEN_HC_xen_version, 6, MEM - 2, 0), -XEN_EFAULT); /* past RAM */
	CHECK_EQ(hc(x, 0, XEN_HC_xen_version, 1, ARG, 0), 0);               /* extraversion */
	CHECK(!memcmp(g(ARG), ".0-vsrv", 8));
	CHECK_EQ(hc(x, 0, XEN_HC_xen_version, 7, 0, 0), 4096);
	CHECK_EQ(hc(x, 0, XEN_HC_xen_version, 99, ARG, 0), -XEN_ENOSYS);
	x86_xen_destroy(x);

	x = mk(false);      /* no timers in KVM: the guest is not offered the Xen clock's */
	put32(ARG, 0);
	CHECK_EQ(hc(x, 0, XEN_HC_xen_version, 6, ARG, 0), 0);
	CHECK(get32(ARG + 4) & (1u << 8));
	CHECK(!(get32(ARG + 4) & (1u << 9)));
	x86_xen_destroy(x);
}

static void test_shared_info(void)
{
	struct x86_xen *x = mk(true);
	unsigned i;

	memset(g(SHINFO_GFN << 12), 0xaa, 4096);
	CHECK_EQ(map_shinfo(x, SHINFO_GFN), 0);
	for (i = 0; i < 4096; i++)
		if (*g((SHINFO_GFN << 12) + i))
			break;
	CHECK_EQ(i, 4096);                          /* a new page starts empty */
	CHECK(rec.nvm >= 2);
	CHECK_EQ(rec.vm[0].type, KVM_XEN_ATTR_TYPE_LONG_MODE);
	CHECK_EQ(rec.vm[0].u.long_mode, 1);
	CHECK_EQ(rec.vm[1].type, KVM_XEN_ATTR_TYPE_SHARED_INFO);
	CHECK_EQ(rec.vm[1].u.shared_info.gfn, SHINFO_GFN);
	/* vCPU 0 (the caller) gets its default vcpu_info at once, vCPU 1 when it next runs */
	CHECK_EQ(rec.nvc, 1);
	CHECK_EQ(rec.vc[0].vcpu, 0);
	CHECK_EQ(rec.vc[0].a.type, KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO);
	CHECK_EQ(rec.vc[0].a.u.gpa, SHINFO_GFN << 12);
	CHECK_EQ(rec.kicks[1], 1);
	CHECK_EQ(x86_xen_vcpu_sync(x, 1), 0);
	CHECK_EQ(rec.nvc, 2);
	CHECK_EQ(rec.vc[1].vcpu, 1);
	CHECK_EQ(rec.vc[1].a.u.gpa, (SHINFO_GFN << 12) + 64);
	CHECK_EQ(x86_xen_vcpu_sync(x, 1), 0);      /* nothing pending any more */
	CHECK_EQ(rec.nvc, 2);

	/* bad input */
	CHECK_EQ(map_shinfo(x, MEM >> 12), -XEN_EINVAL);          /* past RAM */
	CHECK_EQ(map_shinfo(x, UINT64_MAX), -XEN_EINVAL);
	put64(ARG + 8, 1);
	CHECK_EQ(hc(x, 0, XEN_HC_memory_op, 7, ARG, 0), -XEN_EINVAL);  /* idx 1 */
	put64(ARG + 8, 0);
	put32(ARG + 4, 2);                                            /* XENMAPSPACE_gmfn */
	CHECK_EQ(hc(x, 0, XEN_HC_memory_op, 7, ARG, 0), -XEN_ENOSYS);
	put32(ARG, 5);                                                /* another domain */
	CHECK_EQ(hc(x, 0, XEN_HC_memory_op, 7, ARG, 0), -XEN_ESRCH);
	CHECK_EQ(hc(x, 0, XEN_HC_memory_op, 7, UNMAPPED, 0), -XEN_EFAULT);
	CHECK_EQ(hc(x, 0, XEN_HC_memory_op, 1, ARG, 0), -XEN_ENOSYS); /* other ops */
	CHECK_EQ(x->shinfo_gpa, SHINFO_GFN << 12);                  /* unchanged */

	/* a 32-bit guest's struct: idx and gpfn are 4 bytes */
	{
		uint64_t p[6] = { 7, ARG, 0, 0, 0, 0 };

		memset(g(ARG), 0, 24);
		put32(ARG, 0x7ff0);
		put32(ARG + 12, SHINFO_GFN + 1);
		CHECK_EQ(x86_xen_hypercall(x, 0, false, XEN_HC_memory_op, p), 0);
		CHECK_EQ(x->shinfo_gpa, (SHINFO_GFN + 1) << 12);
		CHECK_EQ(x->long_mode, false);
	}
	x86_xen_destroy(x);
}

static void test_hvm_param(void)
{
	struct x86_xen *x = mk(true);

	memset(g(ARG), 0, 16);
	put32(ARG, 0x7ff0);
	put32(ARG + 4, 0);                               /* HVM_PARAM_CALLBACK_IRQ */
	put64(ARG + 8, 2ULL << 56 | 0xf3);               /* vector 0xf3 */
	CHECK_EQ(hc(x, 0, XEN_HC_hvm_op, 0, ARG, 0), 0);
	CHECK_EQ(rec.vm[rec.nvm - 1].type, KVM_XEN_ATTR_TYPE_UPCALL_VECTOR);
	CHECK_EQ(rec.vm[rec.nvm - 1].u.vector, 0xf3);
	put64(ARG + 8, 0);
	CHECK_EQ(hc(x, 0, XEN_HC_hvm_op, 1, ARG, 0), 0);
	CHECK_EQ(get64(ARG + 8), 2ULL << 56 | 0xf3);
	put32(ARG + 4, 1);                               /* HVM_PARAM_STORE_PFN: none */
	put64(ARG + 8, 77);
	CHECK_EQ(hc(x, 0, XEN_HC_hvm_op, 1, ARG, 0), 0);
	CHECK_EQ(get64(ARG + 8), 0);
	put32(ARG + 4, 18);                              /* HVM_PARAM_CONSOLE_EVTCHN */
	CHECK_EQ(hc(x, 0, XEN_HC_hvm_op, 1, ARG, 0), 0);
	CHECK_EQ(get64(ARG + 8), 0);

	/* bad input */
	put32(ARG + 4, 39);
	CHECK_EQ(hc(x, 0, XEN_HC_hvm_op, 1, ARG, 0), -XEN_EINVAL);
	put32(ARG + 4, 0xffffffff);
	CHECK_EQ(hc(x, 0, XEN_HC_hvm_op, 0, ARG, 0), -XEN_EINVAL);
	put32(ARG + 4, 1);
	CHECK_EQ(hc(x, 0, XEN_HC_hvm_op, 0, ARG, 0), -XEN_EPERM);    /* not the guest's */
	put32(ARG + 4, 0);
	put64(ARG + 8, 2ULL << 56 | 5);                  /* an exception vector */
	CHECK_EQ(hc(x, 0, XEN_HC_hvm_op, 0, ARG, 0), -XEN_EINVAL);
	put64(ARG + 8, 9);                               /* GSI 9: no platform device */
	CHECK_EQ(hc(x, 0, XEN_HC_hvm_op, 0, ARG, 0), -XEN_EINVAL);
	put32(ARG, 3);
	CHECK_EQ(hc(x, 0, XEN_HC_hvm_op, 1, ARG, 0), -XEN_ESRCH);
	CHECK_EQ(hc(x, 0, XEN_HC_hvm_op, 1, UNMAPPED, 0), -XEN_EFAULT);
	CHECK_EQ(hc(x, 0, XEN_HC_hvm_op, 9, ARG, 0), -XEN_ENOSYS);   /* pagetable_dying */
	CHECK_EQ(x->callback_param, 2ULL << 56 | 0xf3);
	x86_xen_destroy(x);
}

static void test_vcpu_op(void)
{
	struct x86_xen *x = mk(true);

	CHECK_EQ(map_shinfo(x, SHINFO_GFN), 0);
	x86_xen_vcpu_sync(x, 1);
	/* the default vcpu_info's contents move to the registered one */
	g(SHINFO_GFN << 12)[1] = 1;                     /* vCPU 0: upcall mask */
	rec.nvc = 0;
	put64(ARG, VINFO >> 12);
	put32(ARG + 8, VINFO & 0xfff);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 10, 0, ARG), 0);
	CHECK_EQ(rec.nvc, 1);
	CHECK_EQ(rec.vc[0].a.type, KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO);
	CHECK_EQ(rec.vc[0].a.u.gpa, VINFO);
	CHECK_EQ(*g(VINFO + 1), 1);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 10, 0, ARG), -XEN_EINVAL);  /* once only */
	/* vCPU 1's, asked by vCPU 0 (Linux brings a CPU up from another): given on vCPU 1 */
	put64(ARG, (VINFO + 64) >> 12);
	put32(ARG + 8, (VINFO + 64) & 0xfff);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 10, 1, ARG), 0);
	CHECK_EQ(rec.nvc, 1);
	CHECK_EQ(x86_xen_vcpu_sync(x, 1), 0);
	CHECK_EQ(rec.nvc, 2);
	CHECK_EQ(rec.vc[1].vcpu, 1);
	CHECK_EQ(rec.vc[1].a.u.gpa, VINFO + 64);

	/* bad vcpu_info */
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 10, 2, ARG), -XEN_ENOENT);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 10, UINT64_MAX, ARG), -XEN_ENOENT);
	x->vcpus[1].vcpu_info_registered = false;
	put64(ARG, 1);
	put32(ARG + 8, 4096 - 32);                      /* crosses the page */
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 10, 1, ARG), -XEN_EINVAL);
	put32(ARG + 8, 4);                              /* misaligned */
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 10, 1, ARG), -XEN_EINVAL);
	put64(ARG, MEM >> 12);                          /* past RAM */
	put32(ARG + 8, 0);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 10, 1, ARG), -XEN_EINVAL);
	put64(ARG, UINT64_MAX);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 10, 1, ARG), -XEN_EINVAL);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 10, 1, UNMAPPED), -XEN_EFAULT);

	/* runstate area (a virtual address; may cross a page when physically contiguous) */
	rec.nvc = 0;
	put64(ARG, 0x40000 - 8);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 5, 0, ARG), 0);
	CHECK_EQ(rec.nvc, 1);
	CHECK_EQ(rec.vc[0].a.type, KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR);
	CHECK_EQ(rec.vc[0].a.u.gpa, 0x40000 - 8);
	put64(ARG, 0);                                  /* unregister */
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 5, 0, ARG), 0);
	CHECK_EQ(rec.vc[1].a.u.gpa, XEN_INVALID_GPA);
	put64(ARG, UNMAPPED | 0x1000);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 5, 0, ARG), -XEN_EFAULT);
	put64(ARG, MEM - 8);                            /* runs past RAM */
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 5, 0, ARG), -XEN_EFAULT);
	put64(ARG, UINT64_MAX - 4);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 5, 0, ARG), -XEN_EFAULT);
	/* a KVM that refuses the runstate area: Linux would BUG() on an error, so it is 0 */
	rec.refuse = KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR + 1;
	put64(ARG, 0x40000 - 8);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 5, 0, ARG), 0);
	rec.refuse = KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO + 1;     /* others say so */
	put64(ARG, 0x50000);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 13, 0, ARG), -XEN_EINVAL);
	rec.refuse = 0;
	/* secondary time info: one page */
	put64(ARG, 0x50000);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 13, 0, ARG), 0);
	CHECK_EQ(rec.vc[rec.nvc - 1].a.type, KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO);
	put64(ARG, 0x51000 - 16);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 13, 0, ARG), -XEN_EINVAL);

	/* timers: KVM's (the guest only stops the periodic one, which never runs) */
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 7, 0, 0), 0);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 8, 0, ARG), -XEN_ENOSYS);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 3, 1, 0), 1);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 0, 1, 0), -XEN_ENOSYS);      /* initialise: PV */
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 1, 1, 0), -XEN_EINVAL);      /* up */
	x86_xen_destroy(x);
}

/* Is port pending in the shared info page, and the upcall raised in vCPU v's vcpu_info? */
static bool pending(unsigned port)
{
	return get64((SHINFO_GFN << 12) + 2048 + port / 64 * 8) & (1ULL << (port % 64));
}
static bool upcall(uint64_t vinfo, unsigned port)
{
	return *g(vinfo) == 1 && (get64(vinfo + 8) & (1ULL << (port / 64)));
}

static void test_evtchn(void)
{
	struct x86_xen *x = mk(false);   /* delivery on guest memory */
	uint32_t tport, ipi, ipi1, p;
	uint64_t vi0 = SHINFO_GFN << 12, vi1 = vi0 + 64;

	CHECK_EQ(map_shinfo(x, SHINFO_GFN), 0);
	/* the timer VIRQ (KVM's timer port only with EVTCHN_SEND: not here) */
	CHECK_EQ(evtchn(x, 0, 1, XEN_VIRQ_TIMER, 0, 0), 0);
	tport = get32(ARG + 8);
	CHECK_EQ(tport, 1);
	CHECK_EQ(evtchn(x, 0, 1, XEN_VIRQ_TIMER, 0, 0), -XEN_EEXIST);
	CHECK_EQ(evtchn(x, 0, 1, XEN_VIRQ_TIMER, 1, 0), 0);
	CHECK_EQ(get32(ARG + 8), 2);
	CHECK_EQ(evtchn(x, 0, 1, 24, 0, 0), -XEN_EINVAL);          /* no such VIRQ */
	CHECK_EQ(evtchn(x, 0, 1, 0xffffffff, 0, 0), -XEN_EINVAL);
	CHECK_EQ(evtchn(x, 0, 1, XEN_VIRQ_TIMER, 2, 0), -XEN_ENOENT);
	CHECK_EQ(evtchn(x, 0, 1, 2, 1, 0), -XEN_EINVAL);           /* global VIRQ on vCPU 1 */
	CHECK_EQ(evtchn(x, 0, 5, 0x7ff0, 1, 0), 0);                /* status */
	CHECK_EQ(get32(ARG + 8), 4);                               /* virq */
	CHECK_EQ(get32(ARG + 16), XEN_VIRQ_TIMER);

	/* IPIs: sent, pending, upcall raised on the bound vCPU (kicked) */
	CHECK_EQ(evtchn(x, 0, 7, 0, 0, 0), 0);
	ipi = get32(ARG + 4);
	CHECK_EQ(evtchn(x, 0, 7, 1, 0, 0), 0);
	ipi1 = get32(ARG + 4);
	CHECK(ipi != ipi1 && ipi > 2 && ipi1 > 2);
	CHECK_EQ(evtchn(x, 0, 7, 2, 0, 0), -XEN_ENOENT);
	CHECK_EQ(evtchn(x, 0, 4, ipi1, 0, 0), 0);
	CHECK(pending(ipi1));
	CHECK(upcall(vi1, ipi1));
	CHECK(!upcall(vi0, ipi1));
	CHECK_EQ(rec.kicks[1], 2);            /* the shared info's vcpu_info, and this */
	/* masked: pending, no upcall; the unmask raises it */
	*g(vi0) = 0;
	put64(vi0 + 8, 0);
	put64((SHINFO_GFN << 12) + 2048 + 512, 1ULL << ipi);
	CHECK_EQ(evtchn(x, 0, 4, ipi, 0, 0), 0);
	CHECK(pending(ipi));
	CHECK(!upcall(vi0, ipi));
	CHECK_EQ(evtchn(x, 0, 9, ipi, 0, 0), 0);
	CHECK(upcall(vi0, ipi));
	CHECK(!(get64((SHINFO_GFN << 12) + 2048 + 512) & (1ULL << ipi)));

	/* bad ports */
	CHECK_EQ(evtchn(x, 0, 4, 0, 0, 0), -XEN_EINVAL);
	CHECK_EQ(evtchn(x, 0, 4, 1000, 0, 0), -XEN_EINVAL);       /* free */
	CHECK_EQ(evtchn(x, 0, 4, XEN_MAX_PORTS, 0, 0), -XEN_EINVAL);
	CHECK_EQ(evtchn(x, 0, 4, 0xffffffff, 0, 0), -XEN_EINVAL);
	CHECK_EQ(evtchn(x, 0, 4, tport, 0, 0), -XEN_EINVAL);      /* a VIRQ is not sent */
	CHECK_EQ(evtchn(x, 0, 9, 0xffffffff, 0, 0), -XEN_EINVAL);
	CHECK_EQ(evtchn(x, 0, 3, 0x12345, 0, 0), -XEN_EINVAL);
	CHECK_EQ(evtchn(x, 0, 8, ipi, 1, 0), -XEN_EINVAL);        /* IPIs stay put */
	CHECK_EQ(evtchn(x, 0, 8, tport, 1, 0), -XEN_EINVAL);
	CHECK_EQ(evtchn(x, 0, 5, 0x7ff0, 0xffffffff, 0), -XEN_EINVAL);
	CHECK_EQ(evtchn(x, 0, 5, 1, 1, 0), -XEN_ESRCH);
	CHECK_EQ(evtchn(x, 0, 11, 0, 0, 0), -XEN_ENOSYS);         /* FIFO: 2-level it is */
	CHECK_EQ(evtchn(x, 0, 0, 0, 0, 0), -XEN_ENOSYS);          /* interdomain */
	CHECK_EQ(hc(x, 0, XEN_HC_event_channel_op, 7, UNMAPPED, 0), -XEN_EFAULT);
	CHECK_EQ(hc(x, 0, XEN_HC_event_channel_op, 1ULL << 32 | 7, ARG, 0), -XEN_ENOSYS);

	/* unbound ports, global VIRQs moved between vCPUs, close */
	CHECK_EQ(evtchn(x, 0, 6, 0x7ff0 | 0u << 16, 0, 0), 0);
	p = get32(ARG + 4);
	CHECK_EQ(evtchn(x, 0, 4, p, 0, 0), 0);                     /* dropped */
	CHECK_EQ(evtchn(x, 0, 6, 3, 0, 0), -XEN_EPERM);
	CHECK_EQ(evtchn(x, 0, 1, 2, 0, 0), 0);                     /* VIRQ_CONSOLE */
	p = get32(ARG + 8);
	CHECK_EQ(evtchn(x, 0, 8, p, 1, 0), 0);
	CHECK_EQ(x->vcpus[1].virq_port[2], p);
	CHECK_EQ(x->vcpus[0].virq_port[2], 0);
	CHECK_EQ(evtchn(x, 0, 8, p, 7, 0), -XEN_ENOENT);
	CHECK_EQ(evtchn(x, 0, 3, p, 0, 0), 0);
	CHECK_EQ(x->vcpus[1].virq_port[2], 0);
	CHECK_EQ(evtchn(x, 0, 3, p, 0, 0), -XEN_EINVAL);           /* closed already */
	CHECK_EQ(evtchn(x, 0, 5, 0x7ff0, p, 0), 0);
	CHECK_EQ(get32(ARG + 8), 0);                               /* closed */

	/* the table fills up: -ENOSPC, and the VM goes on */
	for (p = 0; p < XEN_MAX_PORTS; p++)
		if (evtchn(x, 0, 7, 0, 0, 0) < 0)
			break;
	CHECK_EQ(evtchn(x, 0, 7, 0, 0, 0), -XEN_ENOSPC);
	put32(ARG, 0x7ff0);
	CHECK_EQ(hc(x, 0, XEN_HC_event_channel_op, 10, ARG, 0), 0); /* reset */
	CHECK_EQ(x->vcpus[0].virq_port[XEN_VIRQ_TIMER], 0);
	CHECK_EQ(evtchn(x, 0, 7, 0, 0, 0), 0);
	CHECK_EQ(get32(ARG + 4), 1);
	x86_xen_destroy(x);
}

static void test_evtchn_kvm(void)
{
	struct x86_xen *x = mk(true);    /* KVM_XEN_HVM_EVTCHN_SEND and KVM's timers */
	uint32_t port;

	CHECK_EQ(map_shinfo(x, SHINFO_GFN), 0);
	x86_xen_vcpu_sync(x, 1);
	rec.nvc = 0;
	/* vCPU 0 binds vCPU 1's timer (Linux does, bringing it up): KVM hears on vCPU 1 */
	CHECK_EQ(evtchn(x, 0, 1, XEN_VIRQ_TIMER, 1, 0), 0);
	port = get32(ARG + 8);
	CHECK_EQ(rec.nvc, 0);
	CHECK_EQ(x86_xen_vcpu_sync(x, 1), 0);
	CHECK_EQ(rec.nvc, 1);
	CHECK_EQ(rec.vc[0].vcpu, 1);
	CHECK_EQ(rec.vc[0].a.type, KVM_XEN_VCPU_ATTR_TYPE_TIMER);
	CHECK_EQ(rec.vc[0].a.u.timer.port, port);
	CHECK_EQ(rec.vc[0].a.u.timer.priority, KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL);
	CHECK_EQ(evtchn(x, 1, 3, port, 0, 0), 0);                  /* closed on vCPU 1 */
	CHECK_EQ(rec.nvc, 2);
	CHECK_EQ(rec.vc[1].a.u.timer.port, 0);
	CHECK_EQ(evtchn(x, 0, 7, 1, 0, 0), 0);
	port = get32(ARG + 4);
	/* KVM is told of the IPI port: the guest's sends on it stay in the kernel */
	CHECK_EQ(rec.vm[rec.nvm - 1].type, KVM_XEN_ATTR_TYPE_EVTCHN);
	CHECK_EQ(rec.vm[rec.nvm - 1].u.evtchn.send_port, port);
	CHECK_EQ(rec.vm[rec.nvm - 1].u.evtchn.type, 5);            /* EVTCHNSTAT_ipi */
	CHECK_EQ(rec.vm[rec.nvm - 1].u.evtchn.flags, 0);
	CHECK_EQ(rec.vm[rec.nvm - 1].u.evtchn.deliver.port.port, port);
	CHECK_EQ(rec.vm[rec.nvm - 1].u.evtchn.deliver.port.vcpu, 1);
	CHECK_EQ(rec.vm[rec.nvm - 1].u.evtchn.deliver.port.priority,
		 KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL);
	/* a send KVM left to us goes through KVM_XEN_HVM_EVTCHN_SEND */
	CHECK_EQ(evtchn(x, 0, 4, port, 0, 0), 0);
	CHECK_EQ(rec.sends, 1);
	CHECK_EQ(rec.send_port, port);
	CHECK_EQ(rec.send_vcpu, 1);
	CHECK(!pending(port));                                     /* KVM's job */
	CHECK_EQ(evtchn(x, 0, 3, port, 0, 0), 0);                  /* closed: KVM forgets it */
	CHECK_EQ(rec.vm[rec.nvm - 1].type, KVM_XEN_ATTR_TYPE_EVTCHN);
	CHECK_EQ(rec.vm[rec.nvm - 1].u.evtchn.send_port, port);
	CHECK_EQ(rec.vm[rec.nvm - 1].u.evtchn.flags, KVM_XEN_EVTCHN_DEASSIGN);
	x86_xen_destroy(x);
}

static void test_sched(void)
{
	struct x86_xen *x = mk(true);

	CHECK_EQ(hc(x, 0, XEN_HC_sched_op, 0, 0, 0), 0);           /* yield */
	CHECK_EQ(hc(x, 0, XEN_HC_sched_op, 3, ARG, 0), 0);         /* poll */
	put32(ARG, 9);
	CHECK_EQ(hc(x, 0, XEN_HC_sched_op, 2, ARG, 0), -XEN_EINVAL);
	CHECK_EQ(hc(x, 0, XEN_HC_sched_op, 2, UNMAPPED, 0), -XEN_EFAULT);
	CHECK_EQ(rec.stops, 0);
	put32(ARG, 1);
	CHECK_EQ(hc(x, 0, XEN_HC_sched_op, 2, ARG, 0), 0);
	CHECK_EQ(rec.stop_code, X86_XEN_STOP_RESET);
	put32(ARG, 3);
	CHECK_EQ(hc(x, 0, XEN_HC_sched_op, 2, ARG, 0), 0);
	CHECK_EQ(rec.stop_code, X86_XEN_STOP_CRASH);
	put32(ARG, 0);
	CHECK_EQ(hc(x, 1, XEN_HC_sched_op, 2, ARG, 0), 0);
	CHECK_EQ(rec.stop_code, 0);
	CHECK_EQ(rec.stops, 3);
	CHECK_EQ(hc(x, 0, XEN_HC_sched_op, 77, 0, 0), -XEN_ENOSYS);
	x86_xen_destroy(x);
}

static void test_dispatch(void)
{
	struct x86_xen *x = mk(true);
	struct kvm_run run;
	uint64_t p[6] = { 0 };

	CHECK_EQ(hc(x, 0, XEN_HC_grant_table_op, 0, ARG, 1), -XEN_ENOSYS);
	CHECK_EQ(hc(x, 0, 1, 0, 0, 0), -XEN_ENOSYS);                /* mmu_update: PV */
	CHECK_EQ(hc(x, 0, 1000, 0, 0, 0), -XEN_ENOSYS);
	CHECK_EQ(hc(x, 0, UINT64_MAX, 0, 0, 0), -XEN_ENOSYS);
	CHECK_EQ(hc(x, 2, XEN_HC_xen_version, 0, 0, 0), -XEN_EINVAL); /* no such vCPU */
	/* 32-bit mode: the registers' high halves are not arguments */
	p[0] = 0xffffffff00000000ULL;                          /* XENVER_version */
	CHECK_EQ(x86_xen_hypercall(x, 0, false, XEN_HC_xen_version, p), 4 << 16 | 16);
	/* through kvm_run, as the vCPU loop does */
	memset(&run, 0, sizeof(run));
	run.exit_reason = KVM_EXIT_XEN;
	run.xen.type = KVM_EXIT_XEN_HCALL;
	run.xen.u.hcall.longmode = 1;
	run.xen.u.hcall.input = XEN_HC_grant_table_op;
	x86_xen_exit(x, 0, &run);
	CHECK_EQ((int64_t)run.xen.u.hcall.result, -XEN_ENOSYS);
	run.xen.u.hcall.longmode = 0;
	x86_xen_exit(x, 0, &run);
	CHECK_EQ(run.xen.u.hcall.result, (uint32_t)-XEN_ENOSYS);   /* EAX only */
	/* from the guest's user space: refused, and nothing happens */
	run.xen.u.hcall.longmode = 1;
	run.xen.u.hcall.cpl = 3;
	run.xen.u.hcall.input = XEN_HC_sched_op;
	run.xen.u.hcall.params[0] = 2;                             /* SCHEDOP_shutdown */
	run.xen.u.hcall.params[1] = ARG;
	put32(ARG, 0);                                             /* poweroff */
	x86_xen_exit(x, 0, &run);
	CHECK_EQ((int64_t)run.xen.u.hcall.result, -XEN_EPERM);
	CHECK_EQ(rec.stops, 0);
	run.xen.u.hcall.cpl = 0;
	x86_xen_exit(x, 0, &run);
	CHECK_EQ((int64_t)run.xen.u.hcall.result, 0);
	CHECK_EQ(rec.stops, 1);
	run.xen.type = 7;                                          /* not a hypercall */
	run.xen.u.hcall.result = 1234;
	x86_xen_exit(x, 0, &run);
	CHECK_EQ(run.xen.u.hcall.result, 1234);
	CHECK(x->errors >= 5);
	x86_xen_destroy(x);
}

/* A KVM without EVTCHN_SEND runs no Xen timers: host timers of the VMM do (timer_arm), on
 * the guest's clock (clock_ns), and raise the timer VIRQ when they fire. */
static void test_host_timer(void)
{
	static struct x86_xen_state st;
	struct x86_xen *x = mk(false), *y;
	struct x86_xen_host h;
	uint64_t p[6] = { 0 };
	uint32_t port;

	x->host.clock_ns = clock_ns;
	x->host.timer_arm = timer_arm;
	rec.now = 5000000000ULL;
	put32(ARG, 0);
	CHECK_EQ(hc(x, 0, XEN_HC_xen_version, 6, ARG, 0), 0);
	CHECK(get32(ARG + 4) & (1u << 9));            /* hvm_safe_pvclock: the timers are ours */
	CHECK_EQ(map_shinfo(x, SHINFO_GFN), 0);
	CHECK_EQ(evtchn(x, 0, 1, XEN_VIRQ_TIMER, 0, 0), 0);
	port = get32(ARG + 8);
	/* VCPUOP_set_singleshot_timer: 1 ms ahead */
	put64(ARG, rec.now + 1000000);
	put32(ARG + 8, 1);                             /* VCPU_SSHOTTMR_future */
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 8, 0, ARG), 0);
	CHECK_EQ(rec.arms, 1);
	CHECK_EQ(rec.arm_vcpu, 0);
	CHECK_EQ(rec.arm_delta, 1000000);
	/* saved with the platform, armed again on the platform restored into */
	CHECK_EQ(x86_xen_save(x, &st), 0);
	CHECK_EQ(st.vcpus[0].timer_expires_ns, rec.now + 1000000);
	h = x->host;
	CHECK_EQ(x86_xen_create(&h, &y), 0);
	rec.now += 400000;
	CHECK_EQ(x86_xen_restore(y, &st), 0);
	CHECK_EQ(rec.arms, 2);
	CHECK_EQ(rec.arm_delta, 600000);
	x86_xen_destroy(y);
	/* past, with the future flag: -ETIME; without: fires at once */
	put64(ARG, rec.now - 5);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 8, 0, ARG), -XEN_ETIME);
	put32(ARG + 8, 0);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 8, 0, ARG), 0);
	CHECK_EQ(rec.arm_delta, 0);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 8, 1, ARG), -XEN_EINVAL);  /* another vCPU's */
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 8, 0, UNMAPPED), -XEN_EFAULT);
	CHECK_EQ(hc(x, 0, XEN_HC_vcpu_op, 9, 0, 0), 0);             /* stop */
	CHECK_EQ(rec.arm_delta, XEN_TIMER_OFF);
	/* set_timer_op: 64-bit, then 32-bit with the deadline's halves in two arguments */
	CHECK_EQ(hc(x, 0, XEN_HC_set_timer_op, rec.now + 50, 0, 0), 0);
	CHECK_EQ(rec.arm_delta, 50);
	p[0] = (uint32_t)(rec.now + 70);
	p[1] = (rec.now + 70) >> 32;
	CHECK_EQ(x86_xen_hypercall(x, 0, false, XEN_HC_set_timer_op, p), 0);
	CHECK_EQ(rec.arm_delta, 70);
	x->long_mode = true;     /* back to the 64-bit layout for the checks below */
	CHECK_EQ(hc(x, 0, XEN_HC_set_timer_op, 0, 0, 0), 0);
	CHECK_EQ(rec.arm_delta, XEN_TIMER_OFF);
	/* it fires (the loop's thread): the timer VIRQ is pending, its vCPU kicked */
	rec.kicks[0] = 0;
	x86_xen_timer_fire(x, 0);
	CHECK(pending(port));
	CHECK(upcall(SHINFO_GFN << 12, port));
	CHECK_EQ(rec.kicks[0], 1);
	x86_xen_timer_fire(x, 7);                      /* no such vCPU: nothing */
	x86_xen_destroy(x);
}

static void test_create(void)
{
	struct x86_xen_host h = { .mem = mem, .nr_vcpus = 0, .translate = translate };
	struct x86_xen *x = NULL;

	CHECK_EQ(x86_xen_create(&h, &x), -EINVAL);
	h.nr_vcpus = XEN_MAX_VCPUS + 1;
	CHECK_EQ(x86_xen_create(&h, &x), -EINVAL);
	h.nr_vcpus = 1;
	h.translate = NULL;
	CHECK_EQ(x86_xen_create(&h, &x), -EINVAL);
	CHECK(x == NULL);
	x86_xen_destroy(NULL);
}

int main(void)
{
	if (guest_mem_create(MEM, &mem))
		return 1;
	RUN(test_version);
	RUN(test_shared_info);
	RUN(test_hvm_param);
	RUN(test_vcpu_op);
	RUN(test_evtchn);
	RUN(test_evtchn_kvm);
	RUN(test_sched);
	RUN(test_dispatch);
	RUN(test_host_timer);
	RUN(test_create);
	guest_mem_destroy(mem);
	return check_done();
}
