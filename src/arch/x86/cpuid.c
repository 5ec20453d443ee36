/* CPUID for each vCPU: KVM's supported set, with a consistent topology (one package, one
 * core per vCPU, one thread per core, APIC id = vCPU index) and the KVM paravirtual leaves
 * (0x40000000: "KVMKVMKVM", 0x40000001: kvmclock and friends, as KVM offers them). */
#include "arch/x86/tables.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define MAX_ENTRIES 256

int x86_cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out)
{
	struct kvm_cpuid2 *c;

	c = calloc(1, sizeof(*c) + MAX_ENTRIES * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		int ret = -errno;
		free(c);
		return ret;
	}
	*out = c;
	return 0;
}

static unsigned order(unsigned n) /* ceil(log2(n)) */
{
	unsigned o = 0;

	while ((1u << o) < n)
		o++;
	return o;
}

int x86_cpuid_set(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned id,
		  unsigned nr_cpus)
{
	size_t sz = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	unsigned core_bits = order(nr_cpus), i;
	struct kvm_cpuid2 *c = malloc(sz);
	int ret = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, supported, sz);
	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			/* EBX: initial APIC id, logical processors per package, CLFLUSH size. */
			e->ebx = (id << 24) | ((nr_cpus > 1 ? (1u << core_bits) : 1) << 16) |
				 (e->ebx & 0xffff);
			if (nr_cpus > 1)
				e->edx |= 1u << 28;  /* HTT: the package has several logical CPUs */
			else
				e->edx &= ~(1u << 28);
			e->ecx |= 1u << 31;          /* running under a hypervisor */
			break;
		case 4:
			/* Deterministic cache parameters: cores per package, threads per cache. */
			if (e->eax & 0x1f) {
				unsigned level = (e->eax >> 5) & 7;
				e->eax &= 0x3ff;
				e->eax |= ((1u << core_bits) - 1) << 26;
				if (level == 3)
					e->eax |= ((1u << core_bits) - 1) << 14;
			}
			break;
		case 0xb:
		case 0x1f:
			/* Extended topology: level 0 SMT (1 thread), level 1 core (nr_cpus). */
			e->edx = id;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8) | 0;
			} else if (e->index == 1) {
				e->eax = core_bits;
				e->ebx = nr_cpus;
				e->ecx = (2u << 8) | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x80000008:
			/* AMD: number of cores - 1 and the APIC id size. */
			e->ecx = (e->ecx & ~0xf0ffu) | (core_bits << 12) | (nr_cpus - 1);
			break;
		case 0x40000000:
			/* KVM signature; the highest PV leaf as KVM reports it. */
			memcpy(&e->ebx, "KVMK", 4);
			memcpy(&e->ecx, "VMKV", 4);
			memcpy(&e->edx, "M\0\0\0", 4);
			if (e->eax < 0x40000001)
				e->eax = 0x40000001;
			break;
		default:
			break;
		}
	}
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		ret = -errno;
	free(c);
	return ret;
}
