/* The Xen HVM platform's saved state (xen.h): captured with the vCPUs stopped, checked as
 * untrusted input, and given back to KVM on the VM restored into, before its vCPUs run. */
#include "arch/x86/xen.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "util/log.h"
#include "vmm/mem.h"

#define VCPU_INFO_SIZE 64
#define RUNSTATE_SIZE  48
#define TIME_INFO_SIZE 32
#define RUNSTATE_OFFLINE 3

/* KVM writes the shared info page, the vcpu_info, runstate and time areas without its
 * dirty log knowing (api.rst: "always assume that the designated GFN is dirty"): a
 * migration's last round must send them, so they count as written by a device. */
static void track(struct x86_xen *x, uint64_t gpa, uint64_t len)
{
	void *p;

	if (gpa != XEN_INVALID_GPA && (p = guest_mem_ptr(x->host.mem, gpa, len)))
		guest_mem_track(x->host.mem, p, len);
}

int x86_xen_save(struct x86_xen *x, struct x86_xen_state *st)
{
	struct kvm_xen_vcpu_attr a;
	unsigned i;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&x->lock);
	st->version = X86_XEN_STATE_VERSION;
	st->size = sizeof(*st);
	st->nr_vcpus = x->host.nr_vcpus;
	st->long_mode = x->long_mode_set ? x->long_mode : 2;
	st->shinfo_gpa = x->shinfo_gpa;
	st->callback_param = x->callback_param;
	memcpy(st->ports, x->ports, sizeof(st->ports));
	track(x, x->shinfo_gpa, 4096);
	for (i = 0; i < x->host.nr_vcpus; i++) {
		struct xen_vcpu *v = &x->vcpus[i];
		struct x86_xen_vcpu_state *s = &st->vcpus[i];

		track(x, v->vcpu_info_gpa, VCPU_INFO_SIZE);
		track(x, v->runstate_gpa, RUNSTATE_SIZE);
		track(x, v->time_info_gpa, TIME_INFO_SIZE);
		s->vcpu_info_gpa = v->vcpu_info_gpa;
		s->runstate_gpa = v->runstate_gpa;
		s->time_info_gpa = v->time_info_gpa;
		s->vcpu_info_registered = v->vcpu_info_registered;
		memcpy(s->virq_port, v->virq_port, sizeof(s->virq_port));
		s->timer_expires_ns = v->timer_expires;   /* a host timer's (no EVTCHN_SEND) */
		if (!x->host.vcpu_attr_get)
			continue;
		/* KVM's singleshot timer, when it runs this vCPU's */
		if ((x->host.caps & KVM_XEN_HVM_CONFIG_EVTCHN_SEND) && v->virq_port[XEN_VIRQ_TIMER]) {
			memset(&a, 0, sizeof(a));
			a.type = KVM_XEN_VCPU_ATTR_TYPE_TIMER;
			if ((ret = x->host.vcpu_attr_get(x->host.opaque, i, &a)) < 0)
				break;
			s->timer_expires_ns = a.u.timer.expires_ns;
		}
		/* the runstate times the guest reads its steal time from */
		if ((x->host.caps & KVM_XEN_HVM_CONFIG_RUNSTATE) && v->runstate_gpa != XEN_INVALID_GPA) {
			memset(&a, 0, sizeof(a));
			a.type = KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA;
			if (x->host.vcpu_attr_get(x->host.opaque, i, &a) == 0) {
				s->runstate[0] = a.u.runstate.state;
				s->runstate[1] = a.u.runstate.state_entry_time;
				s->runstate[2] = a.u.runstate.time_running;
				s->runstate[3] = a.u.runstate.time_runnable;
				s->runstate[4] = a.u.runstate.time_blocked;
				s->runstate[5] = a.u.runstate.time_offline;
			}   /* else a KVM that did not take the area: nothing kept */
		}
	}
	pthread_mutex_unlock(&x->lock);
	if (ret < 0)
		vsrv_log("xen: vCPU %u: KVM_XEN_VCPU_GET_ATTR (timer): %s", i, strerror(-ret));
	return ret;
}

/* gpa is XEN_INVALID_GPA or len bytes of RAM (mem NULL: anywhere) that do not cross a page
 * (one_page). */
static bool gpa_ok(const struct guest_mem *mem, uint64_t gpa, uint64_t len, bool one_page)
{
	if (gpa == XEN_INVALID_GPA)
		return true;
	if (one_page && (gpa & 4095) > 4096 - len)
		return false;
	if (gpa > UINT64_MAX - len)
		return false;
	return !mem || guest_mem_ptr(mem, gpa, len) != NULL;
}

int x86_xen_state_check(const struct x86_xen_state *st, unsigned nr_vcpus,
			const struct guest_mem *mem, const char **why)
{
	unsigned i, q;

	if (st->version != X86_XEN_STATE_VERSION || st->size != sizeof(*st))
		return *why = "the Xen platform's state has another version", -EINVAL;
	if (st->nr_vcpus != nr_vcpus || !nr_vcpus || nr_vcpus > XEN_MAX_VCPUS)
		return *why = "the Xen platform's vCPU count does not match", -EINVAL;
	if (st->long_mode > 2)
		return *why = "the Xen platform's mode is out of range", -EINVAL;
	if (st->shinfo_gpa != XEN_INVALID_GPA &&
	    ((st->shinfo_gpa & 4095) || !gpa_ok(mem, st->shinfo_gpa, 4096, true)))
		return *why = "the Xen shared info page is outside guest RAM", -EINVAL;
	if (st->callback_param && (st->callback_param >> 56 != 2 ||
				   (st->callback_param & ~(0xffULL | 2ULL << 56)) ||
				   (st->callback_param & 0xff) < 0x10))
		return *why = "the Xen callback is not a vector", -EINVAL;
	for (i = 0; i < XEN_MAX_VCPUS; i++) {
		const struct x86_xen_vcpu_state *v = &st->vcpus[i];
		static const struct x86_xen_vcpu_state zero = {0};

		if (i >= nr_vcpus) {
			if (memcmp(v, &zero, sizeof(zero)))
				return *why = "the Xen platform's state names a vCPU past the VM's",
				       -EINVAL;
			continue;
		}
		if (!gpa_ok(mem, v->vcpu_info_gpa, VCPU_INFO_SIZE, true) ||
		    (v->vcpu_info_gpa != XEN_INVALID_GPA && (v->vcpu_info_gpa & 7)) ||
		    !gpa_ok(mem, v->runstate_gpa, RUNSTATE_SIZE, false) ||
		    !gpa_ok(mem, v->time_info_gpa, TIME_INFO_SIZE, true))
			return *why = "a Xen vCPU area is outside guest RAM", -EINVAL;
		if (v->vcpu_info_registered > 1 || v->reserved || v->runstate[0] > RUNSTATE_OFFLINE)
			return *why = "a Xen vCPU's state is malformed", -EINVAL;
		for (q = 0; q < XEN_NR_VIRQS; q++) {
			uint32_t p = v->virq_port[q];

			if (p && (p >= XEN_MAX_PORTS || st->ports[p].type != XEN_PORT_VIRQ ||
				  st->ports[p].vcpu != i || st->ports[p].virq != q))
				return *why = "a Xen VIRQ names a port that is not its own", -EINVAL;
		}
	}
	if (st->ports[0].type != XEN_PORT_FREE || st->ports[0].vcpu)
		return *why = "Xen port 0 is in use", -EINVAL;
	for (i = 1; i < XEN_MAX_PORTS; i++) {
		const struct xen_port *p = &st->ports[i];

		if (p->type > XEN_PORT_IPI)
			return *why = "a Xen port has an unknown type", -EINVAL;
		if (p->type == XEN_PORT_FREE && (p->vcpu || p->virq || p->remote_dom))
			return *why = "a free Xen port is not empty", -EINVAL;
		if (p->type != XEN_PORT_FREE && p->vcpu >= nr_vcpus)
			return *why = "a Xen port names a vCPU past the VM's", -EINVAL;
		if (p->type == XEN_PORT_VIRQ &&
		    (p->virq >= XEN_NR_VIRQS || st->vcpus[p->vcpu].virq_port[p->virq] != i))
			return *why = "a Xen VIRQ port is not its VIRQ's", -EINVAL;
	}
	return 0;
}

int x86_xen_restore(struct x86_xen *x, const struct x86_xen_state *st)
{
	struct kvm_xen_hvm_attr h;
	struct kvm_xen_vcpu_attr a;
	const char *what = "";
	unsigned i;
	int ret = 0;

	pthread_mutex_lock(&x->lock);
	x->long_mode = st->long_mode == 1;
	x->long_mode_set = st->long_mode != 2;
	x->shinfo_gpa = st->shinfo_gpa;
	x->callback_param = st->callback_param;
	memcpy(x->ports, st->ports, sizeof(x->ports));
	for (i = 0; i < x->host.nr_vcpus; i++) {
		struct xen_vcpu *v = &x->vcpus[i];

		v->vcpu_info_gpa = st->vcpus[i].vcpu_info_gpa;
		v->runstate_gpa = st->vcpus[i].runstate_gpa;
		v->time_info_gpa = st->vcpus[i].time_info_gpa;
		v->vcpu_info_registered = st->vcpus[i].vcpu_info_registered;
		memcpy(v->virq_port, st->vcpus[i].virq_port, sizeof(v->virq_port));
		v->pending = 0;
	}
	if (!x->host.vm_attr)
		goto out;
	/* VM-wide: the mode first (the shared info page's layout follows it); the page keeps
	 * its contents (it is in guest RAM, restored with it) */
	memset(&h, 0, sizeof(h));
	h.type = KVM_XEN_ATTR_TYPE_LONG_MODE;
	h.u.long_mode = x->long_mode;
	what = "long mode";
	if (x->long_mode_set && (ret = x->host.vm_attr(x->host.opaque, &h)) < 0)
		goto out;
	memset(&h, 0, sizeof(h));
	h.type = KVM_XEN_ATTR_TYPE_SHARED_INFO;
	h.u.shared_info.gfn = x->shinfo_gpa >> 12;
	what = "shared info page";
	if (x->shinfo_gpa != XEN_INVALID_GPA && (ret = x->host.vm_attr(x->host.opaque, &h)) < 0)
		goto out;
	memset(&h, 0, sizeof(h));
	h.type = KVM_XEN_ATTR_TYPE_UPCALL_VECTOR;
	h.u.vector = x->callback_param & 0xff;
	what = "upcall vector";
	if (x->callback_param && (ret = x->host.vm_attr(x->host.opaque, &h)) < 0)
		goto out;
	for (i = 1; i < XEN_MAX_PORTS; i++)
		if (x->ports[i].type == XEN_PORT_IPI)
			xen_evtchn_ipi_to_kvm(x, i, false);
	/* per vCPU (their threads do not run yet) */
	for (i = 0; ret == 0 && i < x->host.nr_vcpus; i++) {
		const struct x86_xen_vcpu_state *s = &st->vcpus[i];

		what = "vcpu_info";
		if (x->vcpus[i].vcpu_info_gpa != XEN_INVALID_GPA &&
		    (ret = xen_vcpu_apply(x, i, XEN_SYNC_VCPU_INFO)) < 0)
			break;
		what = "time area";
		if (x->vcpus[i].time_info_gpa != XEN_INVALID_GPA &&
		    (ret = xen_vcpu_apply(x, i, XEN_SYNC_TIME_INFO)) < 0)
			break;
		if (x->vcpus[i].runstate_gpa != XEN_INVALID_GPA &&
		    xen_vcpu_apply(x, i, XEN_SYNC_RUNSTATE) == 0 && x->host.vcpu_attr &&
		    (x->host.caps & KVM_XEN_HVM_CONFIG_RUNSTATE) &&
		    s->runstate[1] == s->runstate[2] + s->runstate[3] + s->runstate[4] + s->runstate[5] &&
		    s->runstate[1]) {
			/* the times go on from where they were (KVM wants entry = the sum) */
			memset(&a, 0, sizeof(a));
			a.type = KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_DATA;
			a.u.runstate.state = s->runstate[0];
			a.u.runstate.state_entry_time = s->runstate[1];
			a.u.runstate.time_running = s->runstate[2];
			a.u.runstate.time_runnable = s->runstate[3];
			a.u.runstate.time_blocked = s->runstate[4];
			a.u.runstate.time_offline = s->runstate[5];
			if (x->host.vcpu_attr(x->host.opaque, i, &a) < 0)
				vsrv_log("xen: vCPU %u: the runstate times start again", i);
		}
		if ((x->host.caps & KVM_XEN_HVM_CONFIG_EVTCHN_SEND) && x->host.vcpu_attr &&
		    x->vcpus[i].virq_port[XEN_VIRQ_TIMER]) {
			memset(&a, 0, sizeof(a));
			a.type = KVM_XEN_VCPU_ATTR_TYPE_TIMER;
			a.u.timer.port = x->vcpus[i].virq_port[XEN_VIRQ_TIMER];
			a.u.timer.priority = KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL;
			a.u.timer.expires_ns = s->timer_expires_ns;
			what = "timer";
			ret = x->host.vcpu_attr(x->host.opaque, i, &a);
		} else if (!(x->host.caps & KVM_XEN_HVM_CONFIG_EVTCHN_SEND) && x->host.timer_arm &&
			   x->host.clock_ns && s->timer_expires_ns) {
			uint64_t now = 0;
			int64_t d;

			/* a host timer again (at once when its time has come) */
			if (x->host.clock_ns(x->host.opaque, &now) < 0)
				now = s->timer_expires_ns;
			d = s->timer_expires_ns > now ? (int64_t)(s->timer_expires_ns - now) : 0;
			x->vcpus[i].timer_expires = s->timer_expires_ns;
			x->host.timer_arm(x->host.opaque, i, d < 0 ? INT64_MAX : d);
		}
	}
out:
	pthread_mutex_unlock(&x->lock);
	if (ret < 0)
		vsrv_log("xen: restoring the %s: %s", what, strerror(-ret));
	return ret;
}
