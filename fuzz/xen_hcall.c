/* libFuzzer target: hostile Xen hypercalls (arch/x86/xen.c, xen_evtchn.c) on real guest
 * memory (vmm/mem.c), as a guest under `--enlightenments xen` makes them; KVM's side only
 * counts (the host calls), paging is identity but for addresses with bit 47 set (unmapped).
 * Input: byte 0 = bit 0: KVM has EVTCHN_SEND; then records of 40 bytes: byte 0 = the
 * hypercall (an index into the ones vsrv answers, or any number), byte 1 = cmd, byte 2 =
 * bit 0: 64-bit mode, bit 1: vCPU 1 instead of 0, bit 2: the pointer argument is the raw
 * value in bytes 8-15 instead of the argument area, byte 3 = the vCPU id argument of
 * vcpu_op (bit 7: then vCPU bit 0's host timer fires), bytes 8-39 written into the
 * argument area first; without EVTCHN_SEND the timers are host timers. After each call: the result
 * is a value or a Xen -errno, and the port table agrees with itself and with guest RAM.
 * Built with fuzz/run_corpus.c instead of libFuzzer it replays files: the test suite runs
 * the seed corpus fuzz/corpus/xen_hcall that way under ASan/UBSan (tests/t-xen-fuzz.sh). */
#include "arch/x86/xen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/mem.h"

#define FMEM (1u << 20)
#define ARG  0x8000u
#define REC  40

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem *fmem;
static unsigned kicks, sends, stops;

static int translate(void *o, unsigned vcpu, uint64_t gva, uint64_t *gpa)
{
	(void)o; (void)vcpu;
	if (gva & (1ULL << 47))
		return -EFAULT;
	*gpa = gva;
	return 0;
}
static int vm_attr(void *o, const struct kvm_xen_hvm_attr *a) { (void)o; (void)a; return 0; }
static int vcpu_attr(void *o, unsigned v, const struct kvm_xen_vcpu_attr *a)
{
	(void)o; (void)a;
	if (v > 1)
		abort();
	return 0;
}
static int send(void *o, unsigned v, uint32_t port)
{
	(void)o;
	if (v > 1 || !port || port >= XEN_MAX_PORTS)
		abort();
	sends++;
	return (port & 1) ? 0 : -EAGAIN;   /* some fall back to delivery on guest memory */
}
static void kick(void *o, unsigned v) { (void)o; if (v > 1) abort(); kicks++; }
static void stop(void *o, int code) { (void)o; (void)code; stops++; }
static uint64_t fclock = 1000000000ULL;
static int clock_ns(void *o, uint64_t *ns) { (void)o; *ns = fclock; return 0; }
static void timer_arm(void *o, unsigned v, int64_t d)
{
	(void)o;
	if (v > 1 || (d < 0 && d != XEN_TIMER_OFF))
		abort();
}

static const uint64_t calls[] = {
	XEN_HC_memory_op, XEN_HC_xen_version, XEN_HC_hvm_op, XEN_HC_vcpu_op, XEN_HC_sched_op,
	XEN_HC_event_channel_op, XEN_HC_event_channel_op, XEN_HC_grant_table_op,
	XEN_HC_set_timer_op,
};
#define NCALLS (sizeof(calls) / sizeof(calls[0]))

static void consistent(struct x86_xen *x)
{
	unsigned v, q, p;

	for (v = 0; v < XEN_MAX_VCPUS; v++) {
		uint64_t g = x->vcpus[v].vcpu_info_gpa;

		if (v >= x->host.nr_vcpus && g != XEN_INVALID_GPA)
			abort();
		if (g != XEN_INVALID_GPA && !guest_mem_ptr(fmem, g, 64))
			abort();
		for (q = 0; q < XEN_NR_VIRQS; q++) {
			p = x->vcpus[v].virq_port[q];
			if (p && (p >= XEN_MAX_PORTS || x->ports[p].type != XEN_PORT_VIRQ ||
				  x->ports[p].vcpu != v || x->ports[p].virq != q))
				abort();
		}
	}
	if (x->ports[0].type != XEN_PORT_FREE)
		abort();
	for (p = 1; p < XEN_MAX_PORTS; p++) {
		const struct xen_port *e = &x->ports[p];

		if (e->type != XEN_PORT_FREE && e->vcpu >= x->host.nr_vcpus)
			abort();
		if (e->type == XEN_PORT_VIRQ && x->vcpus[e->vcpu].virq_port[e->virq] != p)
			abort();
	}
	if (x->shinfo_gpa != XEN_INVALID_GPA && !guest_mem_ptr(fmem, x->shinfo_gpa, 4096))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct x86_xen_host h = {
		.nr_vcpus = 2, .translate = translate, .vm_attr = vm_attr, .vcpu_attr = vcpu_attr,
		.evtchn_send = send, .kick = kick, .request_stop = stop,
	};
	struct x86_xen *x;
	size_t off;

	if (size < 1)
		return 0;
	if (!fmem && guest_mem_create(FMEM, &fmem))
		abort();
	memset(fmem->host, 0, FMEM);
	h.mem = fmem;
	h.caps = X86_XEN_CAPS_NEEDED | ((data[0] & 1) ? (1u << 5) | (1u << 3) : 0);
	if (!(data[0] & 1)) {       /* no EVTCHN_SEND: the VMM's host timers */
		h.clock_ns = clock_ns;
		h.timer_arm = timer_arm;
	}
	if (x86_xen_create(&h, &x))
		abort();
	for (off = 1; off + REC <= size; off += REC) {
		const uint8_t *r = data + off;
		uint64_t p[6] = { 0 }, raw, nr;
		bool lm = r[2] & 1;
		int64_t ret;

		memcpy(fmem->host + ARG, r + 8, REC - 8);
		memcpy(&raw, r + 8, 8);
		nr = r[0] < 0xf0 ? calls[r[0] % NCALLS] : r[0] - 0xf0u + r[1] * 16u;
		p[0] = r[1];
		p[1] = (r[2] & 4) ? raw : ARG;
		if (nr == XEN_HC_vcpu_op) {
			p[1] = r[3];
			p[2] = (r[2] & 4) ? raw : ARG;
		}
		ret = x86_xen_hypercall(x, (r[2] >> 1) & 1, lm, nr, p);
		if (ret < -4095 || ret > (int64_t)0xffffffff)
			abort();
		consistent(x);
		x86_xen_vcpu_sync(x, 0);
		x86_xen_vcpu_sync(x, 1);
		if (r[3] & 0x80)            /* a host timer fires */
			x86_xen_timer_fire(x, r[3] & 1);
	}
	x86_xen_destroy(x);
	return 0;
}
