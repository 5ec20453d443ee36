/* A vCPU: its KVM fd, its kvm_run page and its thread. The thread loops on KVM_RUN and
 * dispatches exits to the VM's buses; it leaves the loop when the main thread asks it to
 * stop (vcpu_stop: an atomic request plus a signal that kicks it out of KVM_RUN) or when
 * the guest ends the VM (it then calls vm_request_stop and waits to be stopped). */
#ifndef VSRV_VMM_VCPU_H
#define VSRV_VMM_VCPU_H

#include <pthread.h>
#include <stdbool.h>

struct vm;
struct kvm_run;

struct vcpu {
	struct vm *vm;        /* not owned */
	unsigned id;          /* also its APIC id */
	int fd;
	struct kvm_run *run;  /* mmap of vm->run_size bytes */
	pthread_t thread;
	bool started;         /* written by the main thread; vcpu_kick reads it atomically */
	int stop;             /* atomic: set by vcpu_stop */
	int pause;            /* atomic: set by vcpu_pause, cleared by vcpu_resume */
	unsigned resumes;     /* atomic: vcpu_resume calls; a parked thread leaves on a change */
	int wake_fd;          /* eventfd: the parked thread waits on it (resume, stop) */
	int parked_fd;        /* eventfd: the thread adds 1 each time it parks */
	unsigned long exits;  /* exit count: written by the thread, read atomically */
	/* Exit counts by KVM exit reason (the last slot: any reason >= 63), and port I/O
	 * exits by port, for VSRV_STATS; vCPU thread only until joined. */
	unsigned long exit_reasons[64];
	unsigned long pio_ports[0x10000 / 16]; /* by port / 16 */
};

/* Print v's exit statistics on stderr (after vcpu_join). */
void vcpu_print_stats(const struct vcpu *v);

/* Create vCPU id of vm (KVM_CREATE_VCPU, kvm_run mapping, CPUID, LAPIC, FPU; for vCPU 0
 * the boot registers from vm->boot). Returns 0 and *out (free with vcpu_destroy) or
 * -errno after logging one line. */
int vcpu_create(struct vm *vm, unsigned id, struct vcpu **out);

/* Start the vCPU's thread. 0 or -errno. */
int vcpu_start(struct vcpu *v);

/* Ask the thread to leave its loop and kick it out of KVM_RUN. Any thread but its own. */
void vcpu_stop(struct vcpu *v);

/* Make the thread leave KVM_RUN once and go on (it then does what was asked of it before it
 * runs the guest again: arch/x86/xen.h's pending attributes). Any thread; nothing before
 * vcpu_start. */
void vcpu_kick(struct vcpu *v);

/* Wait for the thread after vcpu_stop. */
void vcpu_join(struct vcpu *v);

/* Pausing (the control socket's pause/resume). vcpu_pause asks the thread to leave
 * KVM_RUN (kick) and park; once parked it adds 1 to parked_fd, which the caller may poll
 * (vcpu_wait_parked). vcpu_resume lets it run again. Any thread but its own. */
void vcpu_pause(struct vcpu *v);
void vcpu_resume(struct vcpu *v);

/* Wait up to timeout_ms for the thread to park after vcpu_pause. 0 or -ETIMEDOUT. */
int vcpu_wait_parked(struct vcpu *v, int timeout_ms);

/* CPU seconds used by the vCPU's thread so far (0 when not started). Any thread. */
double vcpu_cpu_seconds(struct vcpu *v);

/* Capture v's whole architectural state (arch/x86/cpu_state.h), after letting KVM complete
 * the I/O its last exit left pending (KVM_RUN with immediate_exit: no guest instruction
 * runs). The thread must be stopped (vcpu_join), parked (vcpu_wait_parked) or never
 * started. 0 or -errno (logged). */
struct x86_vcpu_state;
int vcpu_state_save(struct vcpu *v, struct x86_vcpu_state *st);

/* Load a state saved from a vCPU of a VM built the same way. Same conditions. 0 or -errno. */
int vcpu_state_restore(struct vcpu *v, const struct x86_vcpu_state *st);

/* Close and free (after vcpu_join if started). NULL is allowed. */
void vcpu_destroy(struct vcpu *v);

#endif
