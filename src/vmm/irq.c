/* Interrupt plumbing of a VM: GSI allocation, KVM_IRQ_LINE, irqfd, ioeventfd and the GSI
 * routing table (the IOAPIC/PIC defaults plus MSI routes). See vm.h. */
#include "vmm/vm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define GSI_MAX 256

static bool gsi_test(struct vm *vm, uint32_t g) { return vm->gsi_used[g / 32] & (1u << (g % 32)); }
static void gsi_set(struct vm *vm, uint32_t g) { vm->gsi_used[g / 32] |= 1u << (g % 32); }
static void gsi_clear(struct vm *vm, uint32_t g) { vm->gsi_used[g / 32] &= ~(1u << (g % 32)); }

/* Called with irq_lock held. */
static int routes_commit(struct vm *vm)
{
	return ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, vm->routes) < 0 ? -errno : 0;
}

static struct kvm_irq_routing_entry *route_append(struct vm *vm)
{
	struct kvm_irq_routing *r = vm->routes;
	size_t n = r ? r->nr : 0;

	r = realloc(r, sizeof(*r) + (n + 1) * sizeof(r->entries[0]));
	if (!r)
		return NULL;
	r->nr = n + 1;
	r->flags = 0;
	vm->routes = r;
	memset(&r->entries[n], 0, sizeof(r->entries[n]));
	return &r->entries[n];
}

/* KVM's default routing, mirrored so that MSI routes can be added to it: GSI 0..15 to the
 * PIC (master 0..7, slave 8..15) and GSI 0..23 to the IOAPIC pin of the same number (the
 * PIT on pin 0; the MP table says so). It is not given to KVM here (KVM_SET_GSI_ROUTING
 * waits for an SRCU grace period, milliseconds on some hosts): only when the first MSI
 * route is added. Fixed ISA lines are marked used so vm_irq_alloc never hands them out.
 * Called once by the irqchip level. */
int vm_irq_routing_init(struct vm *vm)
{
	struct kvm_irq_routing_entry *e;
	uint32_t g;

	pthread_mutex_lock(&vm->irq_lock);
	for (g = 0; g < 16; g++) {
		if (!(e = route_append(vm)))
			goto err_nomem;
		e->gsi = g;
		e->type = KVM_IRQ_ROUTING_IRQCHIP;
		e->u.irqchip.irqchip = g < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
		e->u.irqchip.pin = g % 8;
	}
	for (g = 0; g < VM_NR_IOAPIC_PINS; g++) {
		if (!(e = route_append(vm)))
			goto err_nomem;
		e->gsi = g;
		e->type = KVM_IRQ_ROUTING_IRQCHIP;
		e->u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e->u.irqchip.pin = g;
	}
	for (g = 0; g < 5; g++)
		gsi_set(vm, g);
	gsi_set(vm, 6); /* floppy, by convention */
	gsi_set(vm, 7); /* parallel port */
	gsi_set(vm, VM_GSI_RTC);
	gsi_set(vm, 12); /* PS/2 mouse */
	gsi_set(vm, 13); /* FPU */
	gsi_set(vm, 14); /* IDE */
	gsi_set(vm, 15);
	pthread_mutex_unlock(&vm->irq_lock);
	return 0;
err_nomem:
	pthread_mutex_unlock(&vm->irq_lock);
	return -ENOMEM;
}

int vm_irq_alloc(struct vm *vm, uint32_t *gsi)
{
	uint32_t g;
	int ret = -ENOSPC;

	pthread_mutex_lock(&vm->irq_lock);
	for (g = 5; g < VM_NR_IOAPIC_PINS; g++) {
		if (!gsi_test(vm, g)) {
			gsi_set(vm, g);
			*gsi = g;
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&vm->irq_lock);
	return ret;
}

void vm_irq_free(struct vm *vm, uint32_t gsi)
{
	if (gsi < 5 || gsi >= VM_NR_IOAPIC_PINS)
		return;
	pthread_mutex_lock(&vm->irq_lock);
	gsi_clear(vm, gsi);
	pthread_mutex_unlock(&vm->irq_lock);
}

int vm_irq_line(struct vm *vm, uint32_t gsi, int level)
{
	struct kvm_irq_level l = { .irq = gsi, .level = level ? 1 : 0 };

	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0 ? -errno : 0;
}

int vm_irqfd_add(struct vm *vm, uint32_t gsi, int efd, int resample_fd)
{
	struct kvm_irqfd f = { .fd = (uint32_t)efd, .gsi = gsi };

	if (resample_fd >= 0) {
		f.flags = KVM_IRQFD_FLAG_RESAMPLE;
		f.resamplefd = (uint32_t)resample_fd;
	}
	return ioctl(vm->vm_fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}

int vm_irqfd_del(struct vm *vm, uint32_t gsi, int efd)
{
	struct kvm_irqfd f = { .fd = (uint32_t)efd, .gsi = gsi, .flags = KVM_IRQFD_FLAG_DEASSIGN };

	return ioctl(vm->vm_fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}

static int ioeventfd(struct vm *vm, uint64_t addr, uint32_t len, bool pio, bool match,
		     uint64_t datamatch, int efd, bool del)
{
	struct kvm_ioeventfd e = {
		.datamatch = datamatch, .addr = addr, .len = len, .fd = efd,
	};

	if (pio)
		e.flags |= KVM_IOEVENTFD_FLAG_PIO;
	if (match)
		e.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
	if (del)
		e.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &e) < 0 ? -errno : 0;
}

int vm_ioeventfd_add(struct vm *vm, uint64_t addr, uint32_t len, bool pio, bool match,
		     uint64_t datamatch, int efd)
{
	return ioeventfd(vm, addr, len, pio, match, datamatch, efd, false);
}

int vm_ioeventfd_del(struct vm *vm, uint64_t addr, uint32_t len, bool pio, bool match,
		     uint64_t datamatch, int efd)
{
	return ioeventfd(vm, addr, len, pio, match, datamatch, efd, true);
}

static struct kvm_irq_routing_entry *msi_find(struct vm *vm, uint32_t gsi)
{
	uint32_t i;

	if (!vm->routes)
		return NULL;
	for (i = 0; i < vm->routes->nr; i++)
		if (vm->routes->entries[i].gsi == gsi &&
		    vm->routes->entries[i].type == KVM_IRQ_ROUTING_MSI)
			return &vm->routes->entries[i];
	return NULL;
}

int vm_msi_route_add(struct vm *vm, uint64_t addr, uint32_t data, uint32_t *gsi)
{
	struct kvm_irq_routing_entry *e;
	uint32_t g;
	int ret;

	pthread_mutex_lock(&vm->irq_lock);
	for (g = VM_NR_IOAPIC_PINS; g < GSI_MAX && gsi_test(vm, g); g++)
		;
	if (g == GSI_MAX) {
		ret = -ENOSPC;
		goto out;
	}
	if (!(e = route_append(vm))) {
		ret = -ENOMEM;
		goto out;
	}
	e->gsi = g;
	e->type = KVM_IRQ_ROUTING_MSI;
	e->u.msi.address_lo = (uint32_t)addr;
	e->u.msi.address_hi = (uint32_t)(addr >> 32);
	e->u.msi.data = data;
	ret = routes_commit(vm);
	if (ret < 0) {
		vm->routes->nr--;
		goto out;
	}
	gsi_set(vm, g);
	*gsi = g;
out:
	pthread_mutex_unlock(&vm->irq_lock);
	return ret;
}

int vm_msi_route_update(struct vm *vm, uint32_t gsi, uint64_t addr, uint32_t data)
{
	struct kvm_irq_routing_entry *e;
	int ret = -ENOENT;

	pthread_mutex_lock(&vm->irq_lock);
	if ((e = msi_find(vm, gsi))) {
		e->u.msi.address_lo = (uint32_t)addr;
		e->u.msi.address_hi = (uint32_t)(addr >> 32);
		e->u.msi.data = data;
		ret = routes_commit(vm);
	}
	pthread_mutex_unlock(&vm->irq_lock);
	return ret;
}

int vm_msi_route_del(struct vm *vm, uint32_t gsi)
{
	struct kvm_irq_routing_entry *e;
	int ret = -ENOENT;

	pthread_mutex_lock(&vm->irq_lock);
	if ((e = msi_find(vm, gsi))) {
		*e = vm->routes->entries[vm->routes->nr - 1];
		vm->routes->nr--;
		gsi_clear(vm, gsi);
		ret = routes_commit(vm);
	}
	pthread_mutex_unlock(&vm->irq_lock);
	return ret;
}

int vm_msi_signal(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi m = {
		.address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data,
	};

	return ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &m) < 0 ? -errno : 0;
}
