/* Xen event channels for the HVM platform (xen.h): the port table and 2-level delivery.
 * A port is pending when its bit is set in the shared info page's evtchn_pending words; a
 * pending, unmasked port sets its word's bit in the vCPU's vcpu_info evtchn_pending_sel and
 * evtchn_upcall_pending, which KVM turns into the upcall vector. With
 * KVM_XEN_HVM_CONFIG_EVTCHN_SEND KVM does all that itself (KVM_XEN_HVM_EVTCHN_SEND); here it
 * is done on guest memory with atomic operations (KVM and the guest change the same words),
 * and for unmask, which must raise the upcall of a port already pending. Caller holds
 * x->lock in every function. */
#include "arch/x86/xen.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "vmm/mem.h"

/* EVTCHNOP_* (xen/include/public/event_channel.h) */
#define EVTCHNOP_bind_interdomain 0
#define EVTCHNOP_bind_virq        1
#define EVTCHNOP_bind_pirq        2
#define EVTCHNOP_close            3
#define EVTCHNOP_send             4
#define EVTCHNOP_status           5
#define EVTCHNOP_alloc_unbound    6
#define EVTCHNOP_bind_ipi         7
#define EVTCHNOP_bind_vcpu        8
#define EVTCHNOP_unmask           9
#define EVTCHNOP_reset            10
#define EVTCHNOP_init_control     11
#define EVTCHNOP_expand_array     12
#define EVTCHNOP_set_priority     13
/* evtchn_status.status */
#define EVTCHNSTAT_closed  0
#define EVTCHNSTAT_unbound 1
#define EVTCHNSTAT_virq    4
#define EVTCHNSTAT_ipi     5

#define DOMID_SELF 0x7ff0
/* VIRQs bound per vCPU (the others are global: vCPU 0 only) */
#define VIRQ_DEBUG    1
#define VIRQ_XENOPROF 7
#define VIRQ_XENPMU   13

/* shared_info: vcpu_info[32] (64 bytes each), then evtchn_pending[] and evtchn_mask[] of
 * 64 words in long mode (8 bytes each) or 32 words (4 bytes each). vcpu_info:
 * evtchn_upcall_pending u8 at 0, evtchn_pending_sel at 8 (long mode) or 4. */
#define SHINFO_PENDING 2048

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

unsigned xen_evtchn_arg_size(unsigned cmd)
{
	switch (cmd) {
	case EVTCHNOP_close:
	case EVTCHNOP_send:
	case EVTCHNOP_unmask:
		return 4;                /* { port } */
	case EVTCHNOP_reset:
		return 2;                /* { dom } */
	case EVTCHNOP_alloc_unbound: /* { dom u16, remote_dom u16, port } */
	case EVTCHNOP_bind_ipi:      /* { vcpu, port } */
	case EVTCHNOP_bind_vcpu:     /* { port, vcpu } */
		return 8;
	case EVTCHNOP_bind_virq:     /* { virq, vcpu, port } */
		return 12;
	case EVTCHNOP_status:        /* { dom u16, port, status, vcpu, union (8) } */
		return 24;
	default:                     /* interdomain, pirq, FIFO (init_control, ...) */
		return 0;
	}
}

static bool port_ok(struct x86_xen *x, uint32_t port)
{
	return port > 0 && port < XEN_MAX_PORTS && x->ports[port].type != XEN_PORT_FREE;
}

static uint32_t port_alloc(struct x86_xen *x)
{
	uint32_t p;

	for (p = 1; p < XEN_MAX_PORTS; p++)
		if (x->ports[p].type == XEN_PORT_FREE)
			return p;
	return 0;
}

/* Word w of the shared info page's pending (mask = false) or mask array, or NULL. The
 * words are naturally aligned (the page is). */
static void *shinfo_word(struct x86_xen *x, bool mask, uint32_t w)
{
	unsigned size = x->long_mode ? 8 : 4, words = x->long_mode ? 64 : 32;
	uint8_t *page;

	if (x->shinfo_gpa == XEN_INVALID_GPA || w >= words ||
	    !(page = guest_mem_ptr(x->host.mem, x->shinfo_gpa, 4096)))
		return NULL;
	return page + SHINFO_PENDING + (mask ? words * size : 0) + w * size;
}

static unsigned bits(struct x86_xen *x)
{
	return x->long_mode ? 64 : 32;
}

/* Atomically OR (set) or AND-NOT (clear) bit b into the word at p; returns the old bit. */
static bool bit_op(struct x86_xen *x, void *p, unsigned b, bool set)
{
	if (x->long_mode) {
		uint64_t m = 1ULL << b, old = set ? __atomic_fetch_or((uint64_t *)p, m, __ATOMIC_SEQ_CST)
						: __atomic_fetch_and((uint64_t *)p, ~m, __ATOMIC_SEQ_CST);
		return old & m;
	} else {
		uint32_t m = 1u << b, old = set ? __atomic_fetch_or((uint32_t *)p, m, __ATOMIC_SEQ_CST)
						: __atomic_fetch_and((uint32_t *)p, ~m, __ATOMIC_SEQ_CST);
		return old & m;
	}
}

static bool bit_test(struct x86_xen *x, void *p, unsigned b)
{
	if (x->long_mode)
		return __atomic_load_n((uint64_t *)p, __ATOMIC_SEQ_CST) & (1ULL << b);
	return __atomic_load_n((uint32_t *)p, __ATOMIC_SEQ_CST) & (1u << b);
}

/* The port is pending and unmasked: tell its vCPU (selector bit, upcall pending, kick). */
static void upcall(struct x86_xen *x, unsigned self, uint32_t port)
{
	unsigned vcpu = x->ports[port].vcpu;
	uint8_t *vi = xen_vcpu_info(x, vcpu);

	if (!vi)
		return;   /* no vcpu_info yet: the guest finds the port when it looks */
	bit_op(x, vi + (x->long_mode ? 8 : 4), port / bits(x), true);
	__atomic_store_n(vi, 1, __ATOMIC_SEQ_CST);        /* evtchn_upcall_pending */
	guest_mem_track(x->host.mem, vi, 16);
	if (vcpu != self && x->host.kick && !x->no_kicks)
		x->host.kick(x->host.opaque, vcpu);
}

int xen_evtchn_raise(struct x86_xen *x, unsigned self, uint32_t port)
{
	void *pending, *mask;

	if (!port_ok(x, port))
		return -XEN_EINVAL;
	if ((x->host.caps & KVM_XEN_HVM_CONFIG_EVTCHN_SEND) && x->host.evtchn_send &&
	    x->host.evtchn_send(x->host.opaque, x->ports[port].vcpu, port) == 0)
		return 0;
	pending = shinfo_word(x, false, port / bits(x));
	mask = shinfo_word(x, true, port / bits(x));
	if (!pending || !mask)
		return -XEN_EINVAL;
	guest_mem_track(x->host.mem, pending, 8);
	if (bit_op(x, pending, port % bits(x), true))
		return 0;     /* already pending: the guest has not handled it yet */
	if (!bit_test(x, mask, port % bits(x)))
		upcall(x, self, port);
	return 0;
}

/* With EVTCHN_SEND, KVM may take the guest's EVTCHNOP_send of an IPI port itself (no exit
 * for each IPI): tell it about the port (deassign: forget it). A KVM that will not still
 * leaves the send to us. */
void xen_evtchn_ipi_to_kvm(struct x86_xen *x, uint32_t port, bool deassign)
{
	struct kvm_xen_hvm_attr a;

	if (!(x->host.caps & KVM_XEN_HVM_CONFIG_EVTCHN_SEND) || !x->host.vm_attr)
		return;
	memset(&a, 0, sizeof(a));
	a.type = KVM_XEN_ATTR_TYPE_EVTCHN;
	a.u.evtchn.send_port = port;
	a.u.evtchn.type = EVTCHNSTAT_ipi;
	if (deassign) {
		a.u.evtchn.flags = KVM_XEN_EVTCHN_DEASSIGN;
	} else {
		a.u.evtchn.deliver.port.port = port;   /* an IPI comes back on its own port */
		a.u.evtchn.deliver.port.vcpu = x->ports[port].vcpu;
		a.u.evtchn.deliver.port.priority = KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL;
	}
	x->host.vm_attr(x->host.opaque, &a);
}

static void port_free(struct x86_xen *x, unsigned self, uint32_t port)
{
	struct xen_port *p = &x->ports[port];
	void *pending = shinfo_word(x, false, port / bits(x));

	if (p->type == XEN_PORT_VIRQ && x->vcpus[p->vcpu].virq_port[p->virq] == port) {
		x->vcpus[p->vcpu].virq_port[p->virq] = 0;
		if (p->virq == XEN_VIRQ_TIMER)
			xen_vcpu_set(x, self, p->vcpu, XEN_SYNC_TIMER); /* KVM's timer stops */
	}
	if (p->type == XEN_PORT_IPI)
		xen_evtchn_ipi_to_kvm(x, port, true);
	if (pending)
		bit_op(x, pending, port % bits(x), false);
	memset(p, 0, sizeof(*p));
}

static bool virq_per_vcpu(uint32_t virq)
{
	return virq == XEN_VIRQ_TIMER || virq == VIRQ_DEBUG || virq == VIRQ_XENOPROF ||
	       virq == VIRQ_XENPMU;
}

int64_t xen_evtchn_op(struct x86_xen *x, unsigned self, unsigned cmd, uint8_t *a, bool *out)
{
	uint32_t port, vcpu, virq;
	void *mask, *pending;
	int ret;

	*out = false;
	switch (cmd) {
	case EVTCHNOP_bind_virq:
		virq = rd32(a);
		vcpu = rd32(a + 4);
		if (virq >= XEN_NR_VIRQS)
			return -XEN_EINVAL;
		if (vcpu >= x->host.nr_vcpus)
			return -XEN_ENOENT;
		if (!virq_per_vcpu(virq) && vcpu != 0)
			return -XEN_EINVAL;
		if (x->vcpus[vcpu].virq_port[virq])
			return -XEN_EEXIST;
		if (!(port = port_alloc(x)))
			return -XEN_ENOSPC;
		x->ports[port] = (struct xen_port){ .type = XEN_PORT_VIRQ, .virq = (uint8_t)virq,
						    .vcpu = vcpu };
		x->vcpus[vcpu].virq_port[virq] = port;
		if (virq == XEN_VIRQ_TIMER && (ret = xen_vcpu_set(x, self, vcpu, XEN_SYNC_TIMER)) < 0) {
			port_free(x, self, port);
			return ret;
		}
		wr32(a + 8, port);
		*out = true;
		return 0;
	case EVTCHNOP_bind_ipi:
		vcpu = rd32(a);
		if (vcpu >= x->host.nr_vcpus)
			return -XEN_ENOENT;
		if (!(port = port_alloc(x)))
			return -XEN_ENOSPC;
		x->ports[port] = (struct xen_port){ .type = XEN_PORT_IPI, .vcpu = vcpu };
		xen_evtchn_ipi_to_kvm(x, port, false);
		wr32(a + 4, port);
		*out = true;
		return 0;
	case EVTCHNOP_alloc_unbound:
		if (rd16(a) != DOMID_SELF)
			return -XEN_EPERM;
		if (rd16(a + 2) != DOMID_SELF && rd16(a + 2) != 0)
			return -XEN_ESRCH;
		if (!(port = port_alloc(x)))
			return -XEN_ENOSPC;
		x->ports[port] = (struct xen_port){ .type = XEN_PORT_UNBOUND,
						    .remote_dom = rd16(a + 2) };
		wr32(a + 4, port);
		*out = true;
		return 0;
	case EVTCHNOP_close:
		port = rd32(a);
		if (!port_ok(x, port))
			return -XEN_EINVAL;
		port_free(x, self, port);
		return 0;
	case EVTCHNOP_send:
		port = rd32(a);
		if (!port_ok(x, port))
			return -XEN_EINVAL;
		switch (x->ports[port].type) {
		case XEN_PORT_IPI:
			return xen_evtchn_raise(x, self, port);
		case XEN_PORT_UNBOUND:
			return 0;        /* no remote end: dropped, as under Xen */
		default:
			return -XEN_EINVAL;
		}
	case EVTCHNOP_status:
		port = rd32(a + 4);
		if (rd16(a) != DOMID_SELF)
			return -XEN_ESRCH;
		if (port >= XEN_MAX_PORTS)
			return -XEN_EINVAL;
		memset(a + 8, 0, 16);
		switch (x->ports[port].type) {
		case XEN_PORT_UNBOUND:
			wr32(a + 8, EVTCHNSTAT_unbound);
			a[16] = x->ports[port].remote_dom & 0xff;
			a[17] = x->ports[port].remote_dom >> 8;
			break;
		case XEN_PORT_VIRQ:
			wr32(a + 8, EVTCHNSTAT_virq);
			wr32(a + 16, x->ports[port].virq);
			break;
		case XEN_PORT_IPI:
			wr32(a + 8, EVTCHNSTAT_ipi);
			break;
		default:
			wr32(a + 8, EVTCHNSTAT_closed);
			break;
		}
		wr32(a + 12, x->ports[port].vcpu);
		*out = true;
		return 0;
	case EVTCHNOP_bind_vcpu:
		port = rd32(a);
		vcpu = rd32(a + 4);
		if (!port_ok(x, port))
			return -XEN_EINVAL;
		if (vcpu >= x->host.nr_vcpus)
			return -XEN_ENOENT;
		if (x->ports[port].type == XEN_PORT_IPI ||
		    (x->ports[port].type == XEN_PORT_VIRQ && virq_per_vcpu(x->ports[port].virq)))
			return -XEN_EINVAL;   /* bound to their vCPU for good */
		if (x->ports[port].type == XEN_PORT_VIRQ) {
			x->vcpus[x->ports[port].vcpu].virq_port[x->ports[port].virq] = 0;
			x->vcpus[vcpu].virq_port[x->ports[port].virq] = port;
		}
		x->ports[port].vcpu = vcpu;
		return 0;
	case EVTCHNOP_unmask:
		port = rd32(a);
		if (!port_ok(x, port))
			return -XEN_EINVAL;
		mask = shinfo_word(x, true, port / bits(x));
		pending = shinfo_word(x, false, port / bits(x));
		if (!mask || !pending)
			return -XEN_EINVAL;
		guest_mem_track(x->host.mem, mask, 8);
		if (bit_op(x, mask, port % bits(x), false) && bit_test(x, pending, port % bits(x)))
			upcall(x, self, port);
		return 0;
	case EVTCHNOP_reset:
		if (rd16(a) != DOMID_SELF)
			return -XEN_ESRCH;
		for (port = 1; port < XEN_MAX_PORTS; port++)
			if (x->ports[port].type != XEN_PORT_FREE)
				port_free(x, self, port);
		return 0;
	default:
		return -XEN_ENOSYS;
	}
}
