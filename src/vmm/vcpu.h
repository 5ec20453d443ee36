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
	bool started;         /* main thread only */
	int stop;             /* atomic: set by vcpu_stop */
	unsigned long exits;  /* exit count, read after join */
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

/* Wait for the thread after vcpu_stop. */
void vcpu_join(struct vcpu *v);

/* Close and free (after vcpu_join if started). NULL is allowed. */
void vcpu_destroy(struct vcpu *v);

#endif
