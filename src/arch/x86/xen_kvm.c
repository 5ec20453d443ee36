/* The Xen HVM platform's KVM side (xen.h): what the host's KVM offers, turning the VM's Xen
 * emulation on, and the calls the hypercalls make into KVM for a VM (struct x86_xen_host
 * of vmm/vm.h's VM). */
#include "arch/x86/xen.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

int x86_xen_probe(int kvm_fd, uint32_t *caps, const char **why)
{
	int r = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XEN_HVM);

	if (r <= 0) {
		*why = "this host's KVM has no Xen HVM emulation (KVM_CAP_XEN_HVM: a kernel "
		       "built with CONFIG_KVM_XEN)";
		return -ENOTSUP;
	}
	if ((r & X86_XEN_CAPS_NEEDED) != X86_XEN_CAPS_NEEDED) {
		*why = "this host's KVM lacks the hypercall intercept or the shared info page "
		       "of its Xen HVM emulation (KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL and "
		       "_SHARED_INFO: Linux 5.12 or later)";
		return -ENOTSUP;
	}
	*caps = (uint32_t)r;
	return 0;
}

int x86_xen_vm_config(int vm_fd, uint32_t caps)
{
	struct kvm_xen_hvm_config c;
	struct kvm_xen_hvm_attr a;

	memset(&c, 0, sizeof(c));
	/* KVM writes the hypercall page (VMCALL/VMMCALL) when the guest writes the MSR, and
	 * every hypercall it does not handle itself exits to us; the blobs stay empty. */
	c.flags = KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL;
	if (caps & KVM_XEN_HVM_CONFIG_EVTCHN_SEND)
		c.flags |= KVM_XEN_HVM_CONFIG_EVTCHN_SEND; /* we only deliver through the ioctl */
	c.msr = XEN_HYPERCALL_MSR;
	if (ioctl(vm_fd, KVM_XEN_HVM_CONFIG, &c) < 0)
		return -errno;
	if (caps & KVM_XEN_HVM_CONFIG_EVTCHN_SEND) {
		memset(&a, 0, sizeof(a));
		a.type = KVM_XEN_ATTR_TYPE_XEN_VERSION;   /* XENVER_version stays in KVM */
		a.u.xen_version = XEN_VERSION_MAJOR << 16 | XEN_VERSION_MINOR;
		if (ioctl(vm_fd, KVM_XEN_HVM_SET_ATTR, &a) < 0)
			return -errno;
	}
	return 0;
}

int x86_xen_vcpu_config(int vcpu_fd, uint32_t caps, unsigned id)
{
	struct kvm_xen_vcpu_attr a;

	if (!(caps & KVM_XEN_HVM_CONFIG_EVTCHN_SEND))
		return 0;    /* the attribute comes with EVTCHN_SEND */
	memset(&a, 0, sizeof(a));
	a.type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID;
	a.u.vcpu_id = id;
	return ioctl(vcpu_fd, KVM_XEN_VCPU_SET_ATTR, &a) < 0 ? -errno : 0;
}

/* ---- struct x86_xen_host for a VM ---- */

static int vm_translate(void *opaque, unsigned vcpu, uint64_t gva, uint64_t *gpa)
{
	struct vm *vm = opaque;
	struct kvm_translation t = { .linear_address = gva };

	if (ioctl(vm->vcpus[vcpu]->fd, KVM_TRANSLATE, &t) < 0 || !t.valid)
		return -EFAULT;
	*gpa = t.physical_address;
	return 0;
}

static int vm_hvm_attr(void *opaque, const struct kvm_xen_hvm_attr *a)
{
	struct vm *vm = opaque;

	return ioctl(vm->vm_fd, KVM_XEN_HVM_SET_ATTR, a) < 0 ? -errno : 0;
}

static int vm_vcpu_attr(void *opaque, unsigned vcpu, const struct kvm_xen_vcpu_attr *a)
{
	struct vm *vm = opaque;

	return ioctl(vm->vcpus[vcpu]->fd, KVM_XEN_VCPU_SET_ATTR, a) < 0 ? -errno : 0;
}

static int vm_vcpu_attr_get(void *opaque, unsigned vcpu, struct kvm_xen_vcpu_attr *a)
{
	struct vm *vm = opaque;

	return ioctl(vm->vcpus[vcpu]->fd, KVM_XEN_VCPU_GET_ATTR, a) < 0 ? -errno : 0;
}

static int vm_evtchn_send(void *opaque, unsigned vcpu, uint32_t port)
{
	struct vm *vm = opaque;
	struct kvm_irq_routing_xen_evtchn e = {
		.port = port, .vcpu = vcpu, .priority = KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL,
	};

	return ioctl(vm->vm_fd, KVM_XEN_HVM_EVTCHN_SEND, &e) < 0 ? -errno : 0;
}

static void vm_kick(void *opaque, unsigned vcpu)
{
	struct vm *vm = opaque;

	if (vcpu < vm->nr_vcpus && vm->vcpus[vcpu])
		vcpu_kick(vm->vcpus[vcpu]);
}

static void vm_stop(void *opaque, int code)
{
	struct vm *vm = opaque;

	/* a crash ends the VM with status 2, as a triple fault does (vcpu.c) */
	vm_request_stop(vm, code == X86_XEN_STOP_RESET ? VM_STOP_RESET :
			    code == X86_XEN_STOP_CRASH ? 2 : code);
}

/* ---- host timers for the guest's Xen timers (a KVM without EVTCHN_SEND) ---- */

struct x86_xen_timers {
	struct vm *vm;
	unsigned n;
	struct xen_timer { struct x86_xen_timers *t; unsigned vcpu; int fd; } tm[XEN_MAX_VCPUS];
};

static int vm_clock_ns(void *opaque, uint64_t *ns)
{
	struct vm *vm = opaque;
	struct kvm_clock_data c;

	memset(&c, 0, sizeof(c));
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &c) < 0)
		return -errno;
	*ns = c.clock;
	return 0;
}

static void vm_timer_arm(void *opaque, unsigned vcpu, int64_t delta)
{
	struct vm *vm = opaque;
	struct itimerspec it;

	if (!vm->xen_timers || vcpu >= vm->xen_timers->n)
		return;
	memset(&it, 0, sizeof(it));
	if (delta != XEN_TIMER_OFF) {
		if (delta < 1)
			delta = 1;    /* 0 would disarm it */
		it.it_value.tv_sec = delta / 1000000000;
		it.it_value.tv_nsec = delta % 1000000000;
	}
	timerfd_settime(vm->xen_timers->tm[vcpu].fd, 0, &it, NULL);
}

/* On the loop's thread: a vCPU's timer fired. */
static void timer_fired(void *opaque, uint32_t events)
{
	struct xen_timer *tm = opaque;
	uint64_t n;

	(void)events;
	if (read(tm->fd, &n, sizeof(n)) == sizeof(n) && tm->t->vm->xen)
		x86_xen_timer_fire(tm->t->vm->xen, tm->vcpu);
}

static int timers_create(struct vm *vm)
{
	struct x86_xen_timers *t = calloc(1, sizeof(*t));
	unsigned i;
	int ret;

	if (!t)
		return -ENOMEM;
	t->vm = vm;
	vm->xen_timers = t;
	for (i = 0; i < vm->cfg->nr_cpus; i++) {
		t->tm[i] = (struct xen_timer){ .t = t, .vcpu = i };
		t->tm[i].fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (t->tm[i].fd < 0)
			return -errno;
		t->n = i + 1;
		if ((ret = evloop_add(vm->loop, t->tm[i].fd, EPOLLIN, timer_fired, &t->tm[i])) < 0) {
			close(t->tm[i].fd);
			t->n = i;
			return ret;
		}
	}
	return 0;
}

void x86_xen_vm_exit(struct vm *vm)
{
	struct x86_xen_timers *t = vm->xen_timers;

	for (unsigned i = 0; t && i < t->n; i++) {
		evloop_del(vm->loop, t->tm[i].fd);
		close(t->tm[i].fd);
	}
	free(t);
	vm->xen_timers = NULL;
	x86_xen_destroy(vm->xen);
	vm->xen = NULL;
}

int x86_xen_vm_init(struct vm *vm)
{
	struct x86_xen_host h = {
		.opaque = vm, .mem = vm->mem, .nr_vcpus = vm->cfg->nr_cpus,
		.translate = vm_translate, .vm_attr = vm_hvm_attr, .vcpu_attr = vm_vcpu_attr,
		.vcpu_attr_get = vm_vcpu_attr_get,
		.evtchn_send = vm_evtchn_send, .kick = vm_kick, .request_stop = vm_stop,
	};
	const char *why = "";
	int ret;

	if ((ret = x86_xen_probe(vm->kvm_fd, &h.caps, &why)) < 0) {
		vsrv_log("--enlightenments xen: %s", why);
		return ret;
	}
	if (vm->cfg->nr_cpus > XEN_MAX_VCPUS) {
		vsrv_log("--enlightenments xen: at most %d vCPUs", XEN_MAX_VCPUS);
		return -EINVAL;
	}
	if ((ret = x86_xen_vm_config(vm->vm_fd, h.caps)) < 0) {
		vsrv_log("--enlightenments xen: KVM_XEN_HVM_CONFIG: %s", strerror(-ret));
		return ret;
	}
	if (!(h.caps & KVM_XEN_HVM_CONFIG_EVTCHN_SEND)) {
		/* KVM runs no Xen timers: host timers of ours, on the control loop */
		if ((ret = timers_create(vm)) < 0) {
			vsrv_log("--enlightenments xen: cannot create the Xen timers: %s",
				 strerror(-ret));
			return ret;
		}
		h.clock_ns = vm_clock_ns;
		h.timer_arm = vm_timer_arm;
	}
	if ((ret = x86_xen_create(&h, &vm->xen)) < 0)
		vsrv_log("--enlightenments xen: %s", strerror(-ret));
	return ret;
}
