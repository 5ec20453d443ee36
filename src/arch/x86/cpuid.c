/* CPUID for each vCPU: KVM's supported set, and setting the table x86_cpuid_build
 * (enlight.c) makes of it, with the enlightenments' leaves. */
#include "arch/x86/tables.h"
#include "arch/x86/enlight.h"

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

int x86_cpuid_set(int vcpu_fd, const struct kvm_cpuid2 *supported, const struct kvm_cpuid2 *hv,
		  enum x86_enlight e, unsigned id, unsigned nr_cpus)
{
	struct kvm_cpuid2 *c;
	int ret;

	if ((ret = x86_cpuid_build(supported, hv, e, id, nr_cpus, &c)) < 0)
		return ret;
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		ret = -errno;
	else if (e == X86_ENLIGHT_HYPERV && x86_cpuid_has_synic(c)) {
		/* the SynIC's MSRs answer only once it is enabled on the vCPU */
		struct kvm_enable_cap cap = { .cap = KVM_CAP_HYPERV_SYNIC2 };

		if (ioctl(vcpu_fd, KVM_ENABLE_CAP, &cap) < 0)
			ret = -errno;
	}
	free(c);
	return ret;
}
