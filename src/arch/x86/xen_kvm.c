/* The Xen HVM platform's KVM side (xen.h): what the host's KVM offers, turning the VM's Xen
 * emulation on, and the calls the hypercalls make into KVM for a VM (struct x86_xen_host
 * of vmm/vm.h's VM). */
#include "arch/x86/xen.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

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
	if ((ret = x86_xen_create(&h, &vm->xen)) < 0)
		vsrv_log("--enlightenments xen: %s", strerror(-ret));
	else if (!(h.caps & KVM_XEN_HVM_CONFIG_EVTCHN_SEND))
		vsrv_log("--enlightenments xen: this host's KVM cannot run Xen timers "
			 "(KVM_XEN_HVM_CONFIG_EVTCHN_SEND): the guest keeps its own clock events");
	return ret;
}
