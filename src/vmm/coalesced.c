/* Coalesced I/O: guest writes to registered ports (the UART's transmit register) are
 * queued by KVM in a ring shared with user space instead of each exiting to the VMM (an
 * exit costs 10-100 us on some hosts, the in-kernel queueing about as much as an
 * ioeventfd). The queued writes are replayed in order on the buses before any other exit is
 * handled (vcpu.c calls vm_coalesced_flush after every KVM_RUN), so a guest that reads a
 * device register sees every write it made before; and from the control loop by a timer,
 * so output reaches the backend even while the guest makes no exits (halted with the
 * in-kernel irqchip, or computing). See vm.h. */
#include "vmm/vm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util/log.h"

/* Timer-driven flush: every COALESCED_FAST_NS while writes keep coming, backing off by
 * doubling to COALESCED_SLOW_NS when the ring stays empty. */
#define COALESCED_FAST_NS 5000000L    /* 5 ms */
#define COALESCED_SLOW_NS 100000000L  /* 100 ms */

/* KVM_COALESCED_MMIO_MAX, which needs the kernel's PAGE_SIZE (4 KiB on x86). */
#define RING_MAX ((4096 - sizeof(struct kvm_coalesced_mmio_ring)) / sizeof(struct kvm_coalesced_mmio))

static void timer_arm(struct vm *vm, long ns)
{
	struct itimerspec it = { .it_value = { ns / 1000000000L, ns % 1000000000L } };

	vm->coalesced_ns = ns;
	timerfd_settime(vm->coalesced_timer, 0, &it, NULL);
}

static void timer_fired(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint64_t n;
	long ns;

	(void)events;
	if (read(vm->coalesced_timer, &n, sizeof(n)) < 0 && errno == EAGAIN)
		return;
	if (vm_coalesced_flush(vm) > 0)
		ns = COALESCED_FAST_NS;
	else
		ns = vm->coalesced_ns * 2 > COALESCED_SLOW_NS ? COALESCED_SLOW_NS : vm->coalesced_ns * 2;
	timer_arm(vm, ns);
}

int vm_coalesced_pio_add(struct vm *vm, uint16_t port, uint32_t len)
{
	struct kvm_coalesced_mmio_zone z = { .addr = port, .size = len, .pio = 1 };
	int ret;

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) <= 0)
		return -ENOTSUP;
	if (!vm->coalesced_timer_on) {
		vm->coalesced_timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (vm->coalesced_timer < 0)
			return -errno;
		ret = evloop_add(vm->loop, vm->coalesced_timer, EPOLLIN, timer_fired, vm);
		if (ret < 0) {
			close(vm->coalesced_timer);
			return ret;
		}
		vm->coalesced_timer_on = true;
		timer_arm(vm, COALESCED_FAST_NS);
	}
	if (ioctl(vm->vm_fd, KVM_REGISTER_COALESCED_MMIO, &z) < 0)
		return -errno;
	return 0;
}

void vm_coalesced_kick(struct vm *vm)
{
	if (vm->coalesced_timer_on && vm->coalesced_ns != COALESCED_FAST_NS)
		timer_arm(vm, COALESCED_FAST_NS);
}

int vm_coalesced_flush(struct vm *vm)
{
	struct kvm_coalesced_mmio_ring *ring = vm->coalesced_ring;
	int n = 0;

	if (!ring || __atomic_load_n(&ring->first, __ATOMIC_RELAXED) ==
		     __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&vm->coalesced_lock);
	for (;;) {
		uint32_t first = ring->first;

		if (first == __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE))
			break;
		if (first >= RING_MAX) { /* not KVM's: never seen, but bound it */
			__atomic_store_n(&ring->first, 0, __ATOMIC_RELEASE);
			continue;
		}
		struct kvm_coalesced_mmio e = ring->coalesced_mmio[first];
		uint32_t len = e.len <= sizeof(e.data) ? e.len : sizeof(e.data);

		bus_dispatch(e.pio ? &vm->pio : &vm->mmio, e.phys_addr, e.data, len, true);
		/* Consumed only after dispatch: a flush that finds the ring empty knows every
		 * write has reached its device. */
		__atomic_store_n(&ring->first, (first + 1) % RING_MAX, __ATOMIC_RELEASE);
		n++;
	}
	pthread_mutex_unlock(&vm->coalesced_lock);
	return n;
}

void vm_coalesced_exit(struct vm *vm)
{
	vm_coalesced_flush(vm);
	if (vm->coalesced_timer_on) {
		evloop_del(vm->loop, vm->coalesced_timer);
		close(vm->coalesced_timer);
		vm->coalesced_timer_on = false;
	}
	vm->coalesced_ring = NULL;
}
