/* vCPU threads: create and set up a vCPU, loop on KVM_RUN, dispatch exits to the buses,
 * end the VM on a triple fault or an unrecoverable KVM error. */
#include "vmm/vcpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/assist.h"
#include "arch/x86/boot.h"
#include "arch/x86/cpu_state.h"
#include "arch/x86/tables.h"
#include "arch/x86/xen.h"
#include "util/log.h"
#include "vmm/vm.h"

/* Exit status for a guest that crashed (triple fault, KVM error). */
#define VCPU_STOP_CRASH 2

static __thread struct kvm_run *tls_run;
static pthread_once_t kick_once = PTHREAD_ONCE_INIT;

static int kick_signal(void) { return SIGRTMIN + 1; }

/* Runs on the vCPU thread: make the current or next KVM_RUN return EINTR at once. */
static void kick_handler(int sig)
{
	(void)sig;
	if (tls_run)
		tls_run->immediate_exit = 1;
}

static void kick_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(kick_signal(), &sa, NULL);
}

static int setup_lapic(struct vcpu *v)
{
	struct kvm_lapic_state l;
	uint32_t *lint0, *lint1;

	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0)
		return -errno;
	lint0 = (uint32_t *)&l.regs[0x350];
	lint1 = (uint32_t *)&l.regs[0x360];
	*lint0 = (*lint0 & ~0x1ff00u) | (7u << 8);  /* ExtINT, unmasked: the PIC in virtual wire */
	*lint1 = (*lint1 & ~0x1ff00u) | (4u << 8);  /* NMI */
	return ioctl(v->fd, KVM_SET_LAPIC, &l) < 0 ? -errno : 0;
}

static int setup_boot_regs(struct vcpu *v)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	if (v->id != 0 || v->vm->cfg->restore || v->vm->cfg->incoming)
		return 0; /* APs wait for INIT/SIPI in the in-kernel LAPIC; a restore sets all */
	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	x86_boot_regs(v->vm, &regs, &sregs);
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

int vcpu_create(struct vm *vm, unsigned id, struct vcpu **out)
{
	struct vcpu *v;
	const char *what;
	int ret;

	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->id = id;
	v->run = MAP_FAILED;
	v->wake_fd = eventfd(0, EFD_CLOEXEC);
	v->parked_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->wake_fd < 0 || v->parked_fd < 0) {
		ret = -errno;
		what = "eventfd";
		v->fd = -1;
		goto err;
	}
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		ret = -errno;
		what = "KVM_CREATE_VCPU";
		goto err;
	}
	v->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		ret = -errno;
		what = "mmap of kvm_run";
		goto err;
	}
	what = "KVM_GET_SUPPORTED_CPUID";
	if (!vm->cpuid && (ret = x86_cpuid_get_supported(vm->kvm_fd, &vm->cpuid)) < 0)
		goto err;
	what = "KVM_GET_SUPPORTED_HV_CPUID (--enlightenments hyperv)";
	if (vm->cfg->enlightenments == X86_ENLIGHT_HYPERV && !vm->hv_cpuid &&
	    (ret = x86_hv_cpuid_get(vm->kvm_fd, v->fd, &vm->hv_cpuid)) < 0)
		goto err;
	what = "KVM_SET_CPUID2";
	if ((ret = x86_cpuid_set(v->fd, vm->cpuid, vm->hv_cpuid, vm->cfg->enlightenments, id,
				 vm->cfg->nr_cpus)) < 0)
		goto err;
	what = "KVM_XEN_VCPU_SET_ATTR (--enlightenments xen)";
	if (vm->xen && (ret = x86_xen_vcpu_config(v->fd, vm->xen->host.caps, id)) < 0)
		goto err;
	what = "LAPIC set-up";
	if ((ret = setup_lapic(v)) < 0)
		goto err;
	what = "boot registers";
	if ((ret = setup_boot_regs(v)) < 0)
		goto err;
	*out = v;
	return 0;
err:
	vsrv_log("vCPU %u: %s: %s", id, what, strerror(-ret));
	vcpu_destroy(v);
	return ret;
}

int vcpu_state_save(struct vcpu *v, struct x86_vcpu_state *st)
{
	int r, err;

	v->run->immediate_exit = 1;
	r = ioctl(v->fd, KVM_RUN, 0);
	err = r < 0 ? errno : 0;
	v->run->immediate_exit = 0;
	if (err != EINTR && err != EAGAIN) { /* it ran, or failed: the state is not settled */
		vsrv_log("vCPU %u: cannot complete its pending I/O before saving: %s", v->id,
			 err ? strerror(err) : "KVM_RUN returned an exit");
		return err ? -err : -EIO;
	}
	return x86_vcpu_save(v->vm->kvm_fd, v->fd, st);
}

int vcpu_state_restore(struct vcpu *v, const struct x86_vcpu_state *st)
{
	return x86_vcpu_restore(v->fd, st);
}

void vcpu_destroy(struct vcpu *v)
{
	if (!v)
		return;
	if (v->run != MAP_FAILED)
		munmap(v->run, (size_t)v->vm->run_size);
	if (v->fd >= 0)
		close(v->fd);
	if (v->wake_fd >= 0)
		close(v->wake_fd);
	if (v->parked_fd >= 0)
		close(v->parked_fd);
	free(v);
}

static void crash(struct vcpu *v, const char *what)
{
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_REGS, &regs) == 0)
		vsrv_log("guest %s on vCPU %u at RIP %#llx", what, v->id,
			 (unsigned long long)regs.rip);
	else
		vsrv_log("guest %s on vCPU %u", what, v->id);
	vm_request_stop(v->vm, VCPU_STOP_CRASH);
}

/* Handle one exit. Returns true to keep running. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	struct vm *vm = v->vm;
	uint32_t i;

	switch (r->exit_reason) {
	case KVM_EXIT_IO: {
		uint8_t *data = (uint8_t *)r + r->io.data_offset;
		bool wr = r->io.direction == KVM_EXIT_IO_OUT;

		for (i = 0; i < r->io.count; i++, data += r->io.size)
			if (bus_dispatch(&vm->pio, r->io.port, data, r->io.size, wr) < 0 && !wr)
				memset(data, 0xff, r->io.size);
		return true;
	}
	case KVM_EXIT_MMIO:
		if (bus_dispatch(&vm->mmio, r->mmio.phys_addr, r->mmio.data, r->mmio.len,
				 r->mmio.is_write) < 0 && !r->mmio.is_write)
			memset(r->mmio.data, 0xff, sizeof(r->mmio.data));
		return true;
	case KVM_EXIT_INTR:
	case KVM_EXIT_HLT:
		return true;
	case KVM_EXIT_HYPERV:            /* --enlightenments hyperv: what KVM leaves to us */
		x86_hyperv_exit(r);
		return true;
	case KVM_EXIT_XEN:               /* --enlightenments xen: the hypercalls KVM leaves */
		if (!vm->xen)
			break;
		x86_xen_exit(vm->xen, v->id, r);
		return true;
	default:
		break;
	}
	/* The remaining exits may end the VM with a message: the guest's console output
	 * comes first. */
	vm_sync_output(vm);
	switch (r->exit_reason) {
	case KVM_EXIT_SHUTDOWN:
		crash(v, "triple fault (shutdown)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (r->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_request_stop(vm, 0);
			return false;
		case KVM_SYSTEM_EVENT_RESET:
			vm_request_stop(vm, VM_STOP_RESET);
			return false;
		default:
			crash(v, "system event (crash)");
			return false;
		}
	case KVM_EXIT_INTERNAL_ERROR:
		if (x86_assist(v) == 0)
			return true;
		vm_request_stop(vm, VCPU_STOP_CRASH);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		vsrv_log("vCPU %u: KVM entry failed (hardware reason %#llx)", v->id,
			 (unsigned long long)r->fail_entry.hardware_entry_failure_reason);
		vm_request_stop(vm, VCPU_STOP_CRASH);
		return false;
	default:
		vsrv_log("vCPU %u: unexpected KVM exit %u", v->id, r->exit_reason);
		vm_request_stop(vm, VCPU_STOP_CRASH);
		return false;
	}
}

/* Paused: tell the pauser, then wait until resumed or stopped. The kick signal (which
 * has no SA_RESTART) or a write to wake_fd ends the read. */
static void park(struct vcpu *v)
{
	unsigned gen = __atomic_load_n(&v->resumes, __ATOMIC_ACQUIRE);
	uint64_t one = 1, b;

	if (write(v->parked_fd, &one, sizeof(one)) < 0) {
		/* an eventfd write only fails on overflow */
	}
	/* A resume always ends this park, even when a new pause follows at once: the thread
	 * then parks again and tells the new pauser (which waits for parked_fd). */
	while (__atomic_load_n(&v->pause, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&v->stop, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&v->resumes, __ATOMIC_ACQUIRE) == gen)
		if (read(v->wake_fd, &b, sizeof(b)) < 0 && errno != EINTR)
			break;
	v->run->immediate_exit = 0;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	sigset_t set;

	tls_run = v->run;
	sigemptyset(&set);
	sigaddset(&set, kick_signal());
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	while (!__atomic_load_n(&v->stop, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&v->vm->stopping, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&v->pause, __ATOMIC_ACQUIRE)) {
			park(v);
			continue;
		}
		/* Xen attributes another vCPU's hypercall asked for (it kicked us). */
		if (v->vm->xen)
			x86_xen_vcpu_sync(v->vm->xen, v->id);
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				continue;
			}
			vsrv_log("vCPU %u: KVM_RUN: %s", v->id, strerror(errno));
			vm_request_stop(v->vm, VCPU_STOP_CRASH);
			break;
		}
		/* Writes KVM queued (coalesced I/O) reach their devices before this exit. */
		vm_coalesced_flush(v->vm);
		__atomic_store_n(&v->exits, v->exits + 1, __ATOMIC_RELAXED);
		v->exit_reasons[v->run->exit_reason < 63 ? v->run->exit_reason : 63]++;
		if (v->run->exit_reason == KVM_EXIT_IO)
			v->pio_ports[v->run->io.port / 16]++;
		if (!handle_exit(v))
			break;
	}
	tls_run = NULL;
	return NULL;
}

void vcpu_print_stats(const struct vcpu *v)
{
	unsigned i;

	fprintf(stderr, "vsrv: vCPU %u: %lu exits:", v->id, v->exits);
	for (i = 0; i < 64; i++)
		if (v->exit_reasons[i])
			fprintf(stderr, " reason %u: %lu;", i, v->exit_reasons[i]);
	fprintf(stderr, " ports:");
	for (i = 0; i < 0x10000 / 16; i++)
		if (v->pio_ports[i])
			fprintf(stderr, " %#x-%#x: %lu;", i * 16, i * 16 + 15, v->pio_ports[i]);
	fprintf(stderr, "\n");
}

int vcpu_start(struct vcpu *v)
{
	sigset_t all, old;
	int ret;

	pthread_once(&kick_once, kick_install);
	/* The thread starts with every signal blocked and unblocks only the kick: process
	 * signals (SIGTERM, SIGINT, SIGCHLD) go to the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&v->thread, NULL, vcpu_thread, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!ret)
		__atomic_store_n(&v->started, true, __ATOMIC_RELEASE); /* vcpu_kick reads it */
	return ret;
}

void vcpu_stop(struct vcpu *v)
{
	uint64_t one = 1;

	__atomic_store_n(&v->stop, 1, __ATOMIC_RELEASE);
	if (v->started)
		pthread_kill(v->thread, kick_signal());
	if (write(v->wake_fd, &one, sizeof(one)) < 0) {
		/* a parked thread also wakes from the kick */
	}
}

void vcpu_pause(struct vcpu *v)
{
	__atomic_store_n(&v->pause, 1, __ATOMIC_RELEASE);
	if (v->started)
		pthread_kill(v->thread, kick_signal());
}

void vcpu_kick(struct vcpu *v)
{
	if (__atomic_load_n(&v->started, __ATOMIC_ACQUIRE))
		pthread_kill(v->thread, kick_signal());
	/* (a thread that has left is not kicked: vm_run calls x86_xen_stop_kicks first) */
}

void vcpu_resume(struct vcpu *v)
{
	uint64_t one = 1;

	__atomic_store_n(&v->pause, 0, __ATOMIC_RELEASE);
	__atomic_add_fetch(&v->resumes, 1, __ATOMIC_RELEASE);
	if (write(v->wake_fd, &one, sizeof(one)) < 0) {
		/* an eventfd write only fails on overflow */
	}
}

int vcpu_wait_parked(struct vcpu *v, int timeout_ms)
{
	struct pollfd p = { .fd = v->parked_fd, .events = POLLIN };
	uint64_t b;

	if (!v->started)
		return 0;
	if (poll(&p, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	if (read(v->parked_fd, &b, sizeof(b)) < 0) {
		/* counted already */
	}
	return 0;
}

double vcpu_cpu_seconds(struct vcpu *v)
{
	struct timespec ts;
	clockid_t cid;

	if (!v->started || pthread_getcpuclockid(v->thread, &cid) || clock_gettime(cid, &ts))
		return 0;
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void vcpu_join(struct vcpu *v)
{
	if (v->started) {
		pthread_join(v->thread, NULL);
		v->started = false;
	}
}
