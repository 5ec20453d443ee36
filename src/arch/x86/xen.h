/* The Xen HVM platform on KVM (`vsrv run --enlightenments xen`, KVM_CAP_XEN_HVM): a guest
 * built for Xen HVM (Linux with CONFIG_XEN_PVHVM) finds Xen in CPUID (enlight.c), makes its
 * hypercalls with VMCALL/VMMCALL (or through the hypercall page KVM writes when the guest
 * writes MSR 0x40000000), and KVM does in the kernel what it can: the pvclock in each
 * vCPU's vcpu_info, the upcall vector when an event is pending, the singleshot timers and
 * event delivery (with KVM_XEN_HVM_CONFIG_EVTCHN_SEND). What it leaves to us arrives as a
 * KVM_EXIT_XEN and is answered here (xen.c: the hypercalls; xen_evtchn.c: the event channel
 * table and delivery):
 *   xen_version     version, get_features (hvm_callback_vector, hvm_safe_pvclock when KVM
 *                   runs the timers, auto-translated physmap, writable page tables), the
 *                   strings (extraversion, capabilities, changeset, ...), pagesize
 *   memory_op       XENMEM_add_to_physmap of the shared info page (into guest RAM)
 *   hvm_op          set/get_param: HVM_PARAM_CALLBACK_IRQ of type vector (KVM's upcall
 *                   vector); every other parameter reads 0 (no xenstore, no console:
 *                   Linux then leaves xenbus alone)
 *   vcpu_op         register_vcpu_info, register_runstate_memory_area,
 *                   register_vcpu_time_memory_area, is_up, stop_periodic_timer; the
 *                   singleshot timer (and set_timer_op) is KVM's with EVTCHN_SEND (the
 *                   timer VIRQ's port given to it), else a host timer of the VMM on the
 *                   guest's clock (host.timer_arm) that raises the timer VIRQ
 *   event_channel   bind_virq, bind_ipi (with EVTCHN_SEND the port is given to KVM, whose
 *                   guest sends on it then stay in the kernel), alloc_unbound, send, close,
 *                   unmask, bind_vcpu, status, reset; init_control (FIFO) -ENOSYS: the
 *                   guest uses 2-level
 *   sched_op        yield, block, poll (return at once: a spurious wake-up, which Xen's ABI
 *                   allows), shutdown (poweroff, reboot, crash: like ACPI's)
 *   anything else   -ENOSYS (grant tables, physdev, platform, vm_assist, ...)
 * Every guest pointer is a guest virtual address, translated on the calling vCPU and then
 * bounds-checked against guest RAM; a bad one gets -EFAULT, a bad port -EINVAL, an unknown
 * vCPU -ENOENT, a hypercall from the guest's user space -EPERM, and the vCPU goes on.
 *
 * Threads: hypercalls arrive on any vCPU's thread. The state is one struct under one mutex
 * (x86_xen.lock): the calls are rare (boot, CPU bring-up, IPIs without EVTCHN_SEND) and a
 * lock keeps the port table consistent between vCPUs without reasoning about each field.
 * A vCPU's own KVM attributes (vcpu_info, runstate, timer port) may only be set on its own
 * thread (a vCPU ioctl waits for KVM_RUN to return, and another vCPU may sit in KVM_RUN
 * until this one lets it go): a hypercall about another vCPU records the attribute as
 * pending and kicks that vCPU, which applies it (x86_xen_vcpu_sync) before it runs again.
 *
 * Saved state (xen_state.c): the platform's state, with KVM's timers and runstate times,
 * is a section of a save and a migration of a VM with --enlightenments xen (struct
 * x86_xen_state), given back to KVM when the VM is restored, before its vCPUs run. */
#ifndef VSRV_ARCH_X86_XEN_H
#define VSRV_ARCH_X86_XEN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct guest_mem;
struct kvm_run;
struct kvm_xen_hvm_attr;
struct kvm_xen_vcpu_attr;

/* What vsrv tells the guest in CPUID (enlight.c) and xen_version. */
#define XEN_VERSION_MAJOR 4
#define XEN_VERSION_MINOR 16
#define XEN_HYPERCALL_MSR 0x40000000u
#define XEN_CPUID_BASE    0x40000000u
#define XEN_CPUID_LAST    0x40000004u  /* signature, version, hypercall MSR, time, HVM */
#define XEN_HVM_CPUID_VCPU_ID_PRESENT (1u << 3)  /* leaf 4 EAX: EBX is the vCPU id */

/* Xen's hypercall numbers (xen/include/public/xen.h) vsrv answers. */
#define XEN_HC_memory_op        12
#define XEN_HC_set_timer_op     15
#define XEN_HC_xen_version      17
#define XEN_HC_grant_table_op   20
#define XEN_HC_vcpu_op          24
#define XEN_HC_sched_op         29
#define XEN_HC_event_channel_op 32
#define XEN_HC_hvm_op           34

/* Xen's error numbers (xen/include/public/errno.h: the Linux x86 values). */
#define XEN_EPERM   1
#define XEN_ENOENT  2
#define XEN_ESRCH   3
#define XEN_EFAULT  14
#define XEN_EBUSY   16
#define XEN_EEXIST  17
#define XEN_EINVAL  22
#define XEN_ENOSPC  28
#define XEN_ENOSYS  38
#define XEN_ETIME   62

/* Event channels: 2-level, 64 bits a word in long mode (4096 ports), vsrv hands out up to
 * XEN_MAX_PORTS. VIRQs are bound per vCPU. */
#define XEN_MAX_PORTS 1024
#define XEN_NR_VIRQS  24
#define XEN_VIRQ_TIMER 0
#define XEN_MAX_VCPUS 64

/* The calling side: KVM in the VMM, a recorder in the unit tests. Every function but
 * translate may be NULL in a test (then it is not called). */
struct x86_xen_host {
	void *opaque;
	struct guest_mem *mem;   /* guest RAM (not owned) */
	unsigned nr_vcpus;       /* Xen vCPU id = KVM vCPU id = APIC id, 0..nr_vcpus-1 */
	uint32_t caps;           /* KVM_XEN_HVM_CONFIG_* the host's KVM has (KVM_CAP_XEN_HVM) */
	/* The guest-physical address of guest-virtual gva on vCPU vcpu's page tables
	 * (KVM_TRANSLATE). 0, or -EFAULT for an address that is not mapped. */
	int (*translate)(void *opaque, unsigned vcpu, uint64_t gva, uint64_t *gpa);
	/* KVM_XEN_HVM_SET_ATTR. Any thread. 0 or -errno. */
	int (*vm_attr)(void *opaque, const struct kvm_xen_hvm_attr *a);
	/* KVM_XEN_VCPU_SET_ATTR on vCPU vcpu: called on that vCPU's thread only (or with the
	 * vCPUs stopped: a save or a restore). */
	int (*vcpu_attr)(void *opaque, unsigned vcpu, const struct kvm_xen_vcpu_attr *a);
	/* KVM_XEN_VCPU_GET_ATTR on vCPU vcpu (a save: the vCPUs stopped). 0 or -errno. */
	int (*vcpu_attr_get)(void *opaque, unsigned vcpu, struct kvm_xen_vcpu_attr *a);
	/* KVM_XEN_HVM_EVTCHN_SEND (only when caps has EVTCHN_SEND). 0 or -errno. */
	int (*evtchn_send)(void *opaque, unsigned vcpu, uint32_t port);
	/* Make vCPU vcpu leave KVM_RUN (it calls x86_xen_vcpu_sync before it runs again, and
	 * KVM sees an upcall pending in its vcpu_info). Any thread. */
	void (*kick)(void *opaque, unsigned vcpu);
	/* The guest shut down: 0 power off, X86_XEN_STOP_RESET reboot, X86_XEN_STOP_CRASH. */
	void (*request_stop)(void *opaque, int code);
	/* Host timers for the guest's Xen timers, on a host whose KVM has no EVTCHN_SEND (NULL
	 * otherwise: KVM runs them): the guest's clock now (KVM_GET_CLOCK: the Xen system
	 * time of the vcpu_info pvclock), and arming vCPU vcpu's timer to fire in delta_ns
	 * (disarm: XEN_TIMER_OFF), which then calls x86_xen_timer_fire. Any thread. */
	int (*clock_ns)(void *opaque, uint64_t *ns);
	void (*timer_arm)(void *opaque, unsigned vcpu, int64_t delta_ns);
};
#define XEN_TIMER_OFF INT64_MIN
#define X86_XEN_STOP_RESET -1
#define X86_XEN_STOP_CRASH -2

enum xen_port_type {
	XEN_PORT_FREE = 0,
	XEN_PORT_UNBOUND,        /* alloc_unbound: waits for a remote end that never comes */
	XEN_PORT_VIRQ,
	XEN_PORT_IPI,
};

struct xen_port {
	uint8_t type;            /* enum xen_port_type */
	uint8_t virq;            /* XEN_PORT_VIRQ */
	uint16_t remote_dom;     /* XEN_PORT_UNBOUND */
	uint32_t vcpu;           /* the vCPU it is delivered to */
};

/* Per-vCPU attributes given to KVM on the vCPU's own thread (pending bits). */
#define XEN_SYNC_VCPU_INFO  (1u << 0)
#define XEN_SYNC_RUNSTATE   (1u << 1)
#define XEN_SYNC_TIME_INFO  (1u << 2)
#define XEN_SYNC_TIMER      (1u << 3)

#define XEN_INVALID_GPA UINT64_MAX

struct xen_vcpu {
	uint64_t vcpu_info_gpa;  /* XEN_INVALID_GPA: none yet */
	bool vcpu_info_registered; /* by register_vcpu_info (once only), not the default */
	uint64_t runstate_gpa, time_info_gpa;
	uint32_t virq_port[XEN_NR_VIRQS]; /* 0: not bound */
	uint64_t timer_expires;  /* the host timer's deadline (guest clock ns), 0: not armed */
	unsigned pending;        /* XEN_SYNC_*: atomic read without the lock, changed under it */
};

struct x86_xen {
	struct x86_xen_host host;
	pthread_mutex_t lock;    /* everything below */
	bool long_mode;          /* the guest's last hypercall was in 64-bit mode */
	bool long_mode_set;      /* ... and KVM was told */
	uint64_t shinfo_gpa;     /* XEN_INVALID_GPA: no shared info page yet */
	uint64_t callback_param; /* HVM_PARAM_CALLBACK_IRQ as the guest set it */
	struct xen_vcpu vcpus[XEN_MAX_VCPUS];
	struct xen_port ports[XEN_MAX_PORTS]; /* port 0 is never handed out */
	unsigned long hypercalls, errors;     /* counters */
	bool no_kicks;           /* x86_xen_stop_kicks was called */
};

/* Which KVM_XEN_HVM_CONFIG_* flags vsrv needs (HYPERCALL_MSR, INTERCEPT_HCALL, SHARED_INFO). */
#define X86_XEN_CAPS_NEEDED 0x7u

/* The Xen capabilities of the host's KVM (KVM_CHECK_EXTENSION KVM_CAP_XEN_HVM) into *caps.
 * 0, or -ENOTSUP with a one-line reason in why (static) when it lacks what vsrv needs. */
int x86_xen_probe(int kvm_fd, uint32_t *caps, const char **why);

/* Turn the VM's Xen emulation on: KVM_XEN_HVM_CONFIG (hypercall MSR, hypercalls to user
 * space, EVTCHN_SEND when caps has it) and, with EVTCHN_SEND, the version KVM answers
 * itself. Before the vCPUs exist. 0 or -errno. */
int x86_xen_vm_config(int vm_fd, uint32_t caps);

/* Tell KVM vCPU vcpu_fd's Xen vCPU id (with EVTCHN_SEND: its timer hypercalls then stay in
 * the kernel). On the thread that created it, before it runs. 0 or -errno. */
int x86_xen_vcpu_config(int vcpu_fd, uint32_t caps, unsigned id);

/* Set up a VM's Xen platform (vm->xen, vmm/vm.h) before its vCPUs: probe, KVM_XEN_HVM_CONFIG,
 * x86_xen_create with KVM behind the host calls. 0, or -errno after logging one line (a host
 * whose KVM cannot: -ENOTSUP, with the reason). vm_destroy frees it. */
struct vm;
int x86_xen_vm_init(struct vm *vm);

/* End what x86_xen_vm_init made (vm->xen, its host timers). On the loop's thread, the vCPU
 * threads joined. Nothing made: nothing done. */
void x86_xen_vm_exit(struct vm *vm);

/* Create the platform's state for host (copied; host->mem and opaque stay the caller's).
 * 0 and *out (free with x86_xen_destroy), -EINVAL (nr_vcpus 0 or above XEN_MAX_VCPUS) or
 * -ENOMEM. */
int x86_xen_create(const struct x86_xen_host *host, struct x86_xen **out);
void x86_xen_destroy(struct x86_xen *x);

/* A KVM_EXIT_XEN on vCPU vcpu: answers the hypercall in run->xen.u.hcall.result (a Xen
 * -errno for a refused one; -EPERM for any made outside ring 0, as Xen does). Always lets
 * the vCPU go on. vCPU vcpu's thread. */
void x86_xen_exit(struct x86_xen *x, unsigned vcpu, struct kvm_run *run);

/* The hypercall itself (what x86_xen_exit calls): nr and its arguments, made in 64-bit mode
 * or not, from vCPU vcpu. Returns the result for the guest (>= 0, or a Xen -errno). */
int64_t x86_xen_hypercall(struct x86_xen *x, unsigned vcpu, bool long_mode, uint64_t nr,
			  const uint64_t params[6]);

/* vCPU vcpu's host timer fired (host.timer_arm): its timer VIRQ is raised. Any thread. */
void x86_xen_timer_fire(struct x86_xen *x, unsigned vcpu);

/* From now on no vCPU is kicked (the vCPU threads are about to be joined). Main thread. */
void x86_xen_stop_kicks(struct x86_xen *x);

/* Give KVM vCPU vcpu's pending attributes (vcpu_info, runstate, timer port). vCPU vcpu's
 * thread, before KVM_RUN; cheap when nothing is pending. 0 or the first -errno (logged). */
int x86_xen_vcpu_sync(struct x86_xen *x, unsigned vcpu);

/* --- xen_state.c: saved state ------------------------------------------------------------
 * One plain struct (a save file's XEN section, a migration's XEN frame): what the guest set
 * up and KVM's part of it. Grows by new fields at the end: version and size say which. */
#define X86_XEN_STATE_VERSION 1
struct x86_xen_vcpu_state {
	uint64_t vcpu_info_gpa;      /* XEN_INVALID_GPA: none */
	uint64_t runstate_gpa;
	uint64_t time_info_gpa;
	uint64_t timer_expires_ns;   /* KVM's singleshot timer (KVM clock), 0: not armed */
	uint64_t runstate[6];        /* KVM's runstate data: state, entry time, running,
				      * runnable, blocked, offline (all 0: not kept) */
	uint32_t vcpu_info_registered;
	uint32_t virq_port[XEN_NR_VIRQS];
	uint32_t reserved;
};
struct x86_xen_state {          /* 20,000 bytes in version 1, no padding */
	uint32_t version;            /* X86_XEN_STATE_VERSION */
	uint32_t size;               /* sizeof(struct x86_xen_state) when written */
	uint32_t nr_vcpus;
	uint32_t long_mode;          /* 0, 1; 2: the guest made no hypercall yet */
	uint64_t shinfo_gpa;         /* XEN_INVALID_GPA: no shared info page */
	uint64_t callback_param;     /* HVM_PARAM_CALLBACK_IRQ */
	struct x86_xen_vcpu_state vcpus[XEN_MAX_VCPUS];
	struct xen_port ports[XEN_MAX_PORTS];
};

/* Capture x's state into st, with KVM's timers and runstate times (vcpu_attr_get), and mark
 * the guest pages KVM writes behind its dirty log (shared info, vcpu_info, runstate and
 * time areas) as written, for a migration's last round (guest_mem_track). The vCPUs must
 * be stopped (parked, or their threads joined). 0 or -errno (logged). */
int x86_xen_save(struct x86_xen *x, struct x86_xen_state *st);

/* Check st as it came from a file or a stream for a platform of nr_vcpus vCPUs on guest
 * RAM mem: version, size, counts, every port and back-reference, every address in RAM (mem
 * NULL: every address but where it lies: a file is checked before its VM exists).
 * 0, or -EINVAL and *why (a static string). Reads st only. */
int x86_xen_state_check(const struct x86_xen_state *st, unsigned nr_vcpus,
			const struct guest_mem *mem, const char **why);

/* Load st (checked: x86_xen_state_check) into x, a platform nobody has used yet, and give
 * KVM what it keeps: long mode, shared info page, upcall vector, each vCPU's vcpu_info,
 * runstate area and times, time area and timer, the IPI ports. After the KVM clock is
 * restored, before the vCPUs run. 0 or -errno (logged). */
int x86_xen_restore(struct x86_xen *x, const struct x86_xen_state *st);

/* --- xen_evtchn.c: the port table (x->lock held by the caller) -------------------------- */

/* The size of EVTCHNOP_* cmd's argument struct (at most XEN_EVTCHN_ARG_MAX), 0 for an
 * operation vsrv does not offer. */
#define XEN_EVTCHN_ARG_MAX 24
unsigned xen_evtchn_arg_size(unsigned cmd);

/* EVTCHNOP_* cmd from vCPU vcpu on its argument struct arg (xen_evtchn_arg_size bytes,
 * copied in by the caller; results are written into it). The result for the guest (0 or a
 * Xen -errno); on success the caller copies arg back to the guest when *out is set. */
int64_t xen_evtchn_op(struct x86_xen *x, unsigned vcpu, unsigned cmd, uint8_t *arg, bool *out);

/* Raise port from vCPU self: pending in the shared info page and, unless masked, the upcall
 * on its vCPU (through KVM_XEN_HVM_EVTCHN_SEND when the host has it). 0, -XEN_EINVAL (no
 * such port or no shared info page yet). */
int xen_evtchn_raise(struct x86_xen *x, unsigned self, uint32_t port);

/* Mark attribute what (XEN_SYNC_*) of vCPU vcpu for KVM: on the caller's own vCPU (self) it
 * is given at once (0, or -XEN_EINVAL when KVM refuses), another vCPU is kicked to give it
 * before it runs again (0). */
int xen_vcpu_set(struct x86_xen *x, unsigned self, unsigned vcpu, unsigned what);

/* Give KVM attribute what (one XEN_SYNC_*) of vCPU vcpu now: its thread, or the vCPUs
 * stopped. 0 or -errno (logged); 0 for what this host's KVM does not keep. */
int xen_vcpu_apply(struct x86_xen *x, unsigned vcpu, unsigned what);

/* Tell KVM about IPI port (deassign: take it back), with EVTCHN_SEND; else nothing. */
void xen_evtchn_ipi_to_kvm(struct x86_xen *x, uint32_t port, bool deassign);

/* The host pointer to vCPU vcpu's vcpu_info (64 bytes in guest RAM), or NULL. */
uint8_t *xen_vcpu_info(struct x86_xen *x, unsigned vcpu);

#endif
