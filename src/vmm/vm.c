/* A VM, built by one explicit init table: each level has an init and an exit function, run
 * in order by vm_create and in reverse by vm_destroy. Tests may build a VM by hand from the
 * same level functions. */
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86/boot.h"
#include "arch/x86/firmware.h"
#include "arch/x86/tables.h"
#include "arch/x86/xen.h"
#include "devices/acpi_pm.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/rtc.h"
#include "devices/serial.h"
#include "util/log.h"
#include "vmm/input_router.h"
#include "vmm/savestate.h"
#include "vmm/vcpu.h"

#define KVM_TSS_ADDR      0xfffbd000ULL
#define KVM_IDMAP_ADDR    0xfffbc000ULL
/* With --firmware the top of 4 GiB holds the ROM and the flash (up to 16 MiB): QEMU's. */
#define KVM_TSS_ADDR_FW   0xfeffd000ULL
#define KVM_IDMAP_ADDR_FW 0xfeffc000ULL

/* ---- level: kvm (the fds, the control loop, the buses) ---- */
static int level_kvm_init(struct vm *vm)
{
	int ret;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		ret = -errno;
		/* what a newcomer on a host without virtualization does about it */
		if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
			vsrv_log("cannot open /dev/kvm: %s: this host has no KVM: enable hardware "
				 "virtualization (Intel VT-x or AMD-V) in the firmware settings (in a "
				 "VM: nested virtualization), then load the KVM module (modprobe "
				 "kvm_intel, or kvm_amd)", strerror(errno));
		else if (errno == EACCES || errno == EPERM)
			vsrv_log("cannot open /dev/kvm: %s: add your user to the kvm group "
				 "(usermod -aG kvm $USER, then log in again)", strerror(errno));
		else
			vsrv_log("cannot open /dev/kvm: %s", strerror(errno));
		return ret;
	}
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		vsrv_log("/dev/kvm: unsupported KVM API version");
		return -ENOTSUP;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		ret = -errno;
		vsrv_log("KVM_CREATE_VM: %s", strerror(errno));
		return ret;
	}
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size <= 0) {
		vsrv_log("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -EIO;
	}
	ret = evloop_create(&vm->loop);
	if (ret < 0) {
		vsrv_log("cannot create the control loop: %s", strerror(-ret));
		return ret;
	}
	ret = input_router_create(&vm->input);
	if (ret < 0)
		vsrv_log("cannot create the input router: %s", strerror(-ret));
	return ret;
}

static void level_kvm_exit(struct vm *vm)
{
	input_router_destroy(vm->input);
	vm->input = NULL;
	evloop_destroy(vm->loop);
	vm->loop = NULL;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
}

/* ---- level: memory (guest RAM and its KVM memory slots) ---- */
static int set_slot(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uintptr_t)host,
	};

	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

int vm_mem_slot_set(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *host,
		    bool log_dirty)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .flags = log_dirty && size ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = gpa, .memory_size = size, .userspace_addr = (uintptr_t)host,
	};

	if (vm->vm_fd < 0)
		return -ENODEV;
	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

int vm_mem_slot_dirty(struct vm *vm, uint32_t slot, uint64_t *bitmap)
{
	struct kvm_dirty_log l = { .slot = slot, .dirty_bitmap = bitmap };

	if (vm->vm_fd < 0)
		return -ENODEV;
	return ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &l) < 0 ? -errno : 0;
}

void vm_display_set(struct vm *vm, const struct display *d)
{
	__atomic_store_n(&vm->display, d, __ATOMIC_RELEASE);
}

const struct display *vm_display_get(struct vm *vm)
{
	return __atomic_load_n(&vm->display, __ATOMIC_ACQUIRE);
}

static int level_memory_init(struct vm *vm)
{
	struct guest_mem *m;
	int ret;

	/* The firmware layout ends low RAM where SeaBIOS and OVMF put ECAM. */
	if (vm->cfg->firmware)
		ret = guest_mem_create_hole(vm->cfg->mem_size, X86_FW_LOW_END, &vm->mem);
	else
		ret = guest_mem_create(vm->cfg->mem_size, &vm->mem);
	if (ret < 0) {
		vsrv_log("cannot map %llu MiB of guest memory: %s",
			 (unsigned long long)(vm->cfg->mem_size >> 20), strerror(-ret));
		return ret;
	}
	m = vm->mem;
	/* Same-page merging, when asked for (--mem-merge on) */
	if (vm->cfg->mem_merge == VM_MEM_MERGE_ON && (ret = guest_mem_merge(m, 1)) < 0) {
		vsrv_log("--mem-merge on: %s", ret == -EINVAL ?
			 "this host's kernel has no KSM (CONFIG_KSM)" : strerror(-ret));
		return ret;
	}
	ret = set_slot(vm, 0, 0, m->low_size, m->host);
	if (!ret && m->size > m->low_size)
		ret = set_slot(vm, 1, MEM_HIGH_START, m->size - m->low_size, m->host + m->low_size);
	if (ret < 0)
		vsrv_log("KVM_SET_USER_MEMORY_REGION: %s", strerror(-ret));
	return ret;
}

static void level_memory_exit(struct vm *vm)
{
	vm_memcheck_stop(vm->memcheck);
	vm->memcheck = NULL;
	guest_mem_destroy(vm->mem);
	vm->mem = NULL;
}

/* ---- level: irqchip (in-kernel PIC, IOAPIC, LAPICs and PIT) ---- */
static int level_irqchip_init(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = 0 };
	uint64_t idmap = vm->cfg->firmware ? KVM_IDMAP_ADDR_FW : KVM_IDMAP_ADDR;
	unsigned long tss = vm->cfg->firmware ? KVM_TSS_ADDR_FW : KVM_TSS_ADDR;
	int ret;

	/* Needed on VMX hosts; harmless (and possibly refused) elsewhere. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, tss) < 0 && errno != EINVAL)
		vsrv_log("KVM_SET_TSS_ADDR: %s (ignored)", strerror(errno));
	ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		ret = -errno;
		vsrv_log("KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return ret;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		ret = -errno;
		vsrv_log("KVM_CREATE_PIT2: %s", strerror(errno));
		return ret;
	}
	ret = vm_irq_routing_init(vm);
	if (ret < 0)
		vsrv_log("cannot set up interrupt routing: %s", strerror(-ret));
	return ret;
}

static void level_irqchip_exit(struct vm *vm)
{
	free(vm->routes);
	vm->routes = NULL;
}

/* ---- level: base devices (UART, i8042, RTC, debug exit, port 0x80) ---- */
static void port80_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque; (void)off;
	if (!is_write)
		memset(data, 0, len);
}

static int level_base_init(struct vm *vm)
{
	const struct vm_config *c = vm->cfg;
	int ret;

	vm_host_init(vm);
	ret = serial_create(&vm->host, (enum serial_backend)c->serial, c->serial_path, 0x3f8,
			    VM_GSI_SERIAL0, &vm->serial);
	if (ret < 0)
		return ret; /* logged with the backend's name */
	/* The transmit register: one exit per byte otherwise (the guest's line-status reads
	 * still exit, and see every byte written before them). */
	ret = vm_coalesced_pio_add(vm, 0x3f8, 1);
	if (ret < 0 && ret != -ENOTSUP)
		vsrv_log("serial: coalesced transmit writes unavailable: %s", strerror(-ret));
	ret = i8042_create(&vm->host, &vm->i8042);
	if (!ret)
		ret = rtc_create(&vm->host, vm->mem->low_size, vm->mem->size - vm->mem->low_size,
				 &vm->rtc);
	if (!ret)
		ret = debug_exit_create(&vm->host, 0xf4, &vm->debug_exit);
	if (!ret)
		ret = acpi_pm_create(&vm->host, &vm->acpi_pm);
	if (!ret)
		ret = bus_register(&vm->pio, 0x80, 1, port80_io, NULL, "post");
	if (ret < 0)
		vsrv_log("cannot set up the base devices: %s", strerror(-ret));
	return ret;
}

static void level_base_exit(struct vm *vm)
{
	vm_coalesced_exit(vm);
	acpi_pm_destroy(vm->acpi_pm);
	vm->acpi_pm = NULL;
	debug_exit_destroy(vm->debug_exit);
	rtc_destroy(vm->rtc);
	i8042_destroy(vm->i8042);
	serial_destroy(vm->serial);
	vm->debug_exit = NULL;
	vm->rtc = NULL;
	vm->i8042 = NULL;
	vm->serial = NULL;
	vm->nr_syncs = 0;
}

/* ---- level: devices: vm_devices_init/vm_devices_exit (src/devices/virtio/devices.c) ---- */

int vm_cmdline_append(struct vm *vm, const char *s)
{
	size_t a = strlen(vm->cmdline), b = strlen(s);
	char *n;

	if (a + b + 2 > BOOT_CMDLINE_MAX)
		return -E2BIG;
	n = realloc(vm->cmdline, a + b + 2);
	if (!n)
		return -ENOMEM;
	if (a)
		n[a++] = ' ';
	memcpy(n + a, s, b + 1);
	vm->cmdline = n;
	return 0;
}

/* ---- level: boot (kernel, initrd, command line, MP table) ---- */
static int level_boot_init(struct vm *vm)
{
	int ret;

	if (vm->cfg->restore || vm->cfg->incoming)
		return 0; /* memory and registers come from the saved or migrated state */
	if (vm->cfg->firmware)
		return x86_firmware_boot(vm); /* the firmware finds the rest itself */
	ret = x86_boot_load(vm);

	if (!ret)
		ret = x86_mptable_write(vm);
	if (!ret)
		ret = x86_acpi_write(vm);
	return ret;
}

/* ---- level: vCPUs ---- */
static int level_vcpus_init(struct vm *vm)
{
	unsigned i;
	int ret;

	if (vm->cfg->enlightenments == X86_ENLIGHT_XEN && (ret = x86_xen_vm_init(vm)) < 0)
		return ret;
	for (i = 0; i < vm->cfg->nr_cpus; i++) {
		ret = vcpu_create(vm, i, &vm->vcpus[i]);
		if (ret < 0)
			return ret;
		vm->nr_vcpus = i + 1;
	}
	/* Every vCPU's mapping holds the VM's coalesced-I/O ring at the same page offset. */
	if ((long)vm->run_size > KVM_COALESCED_MMIO_PAGE_OFFSET * getpagesize())
		vm->coalesced_ring = (void *)((char *)vm->vcpus[0]->run +
					      KVM_COALESCED_MMIO_PAGE_OFFSET * getpagesize());
	return 0;
}

static void level_vcpus_exit(struct vm *vm)
{
	unsigned i;

	vm_coalesced_exit(vm);
	for (i = 0; i < vm->nr_vcpus; i++) {
		vcpu_destroy(vm->vcpus[i]);
		vm->vcpus[i] = NULL;
	}
	vm->nr_vcpus = 0;
	free(vm->cpuid);
	vm->cpuid = NULL;
	free(vm->hv_cpuid);
	vm->hv_cpuid = NULL;
	x86_xen_vm_exit(vm);
}

/* The init levels, in order. */
static const struct vm_level {
	const char *name;
	int (*init)(struct vm *vm);
	void (*exit)(struct vm *vm);
} vm_levels[] = {
	{ "kvm",     level_kvm_init,     level_kvm_exit },
	{ "memory",  level_memory_init,  level_memory_exit },
	{ "irqchip", level_irqchip_init, level_irqchip_exit },
	{ "base",    level_base_init,    level_base_exit },
	{ "firmware", x86_firmware_init, x86_firmware_exit }, /* --firmware only */
	{ "devices", vm_devices_init,    vm_devices_exit },
	{ "boot",    level_boot_init,    NULL },
	{ "vcpus",   level_vcpus_init,   level_vcpus_exit },
};
#define NR_LEVELS (int)(sizeof(vm_levels) / sizeof(vm_levels[0]))

int vm_create(const struct vm_config *cfg, struct vm **out)
{
	struct vm *vm;
	int ret;

	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->kvm_fd = vm->vm_fd = -1;
	vm->cfg = cfg;
	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	pthread_mutex_init(&vm->irq_lock, NULL);
	pthread_mutex_init(&vm->coalesced_lock, NULL);
	vm->cmdline = strdup(cfg->cmdline ? cfg->cmdline : "");
	if (!vm->cmdline) {
		ret = -ENOMEM;
		goto err;
	}
	for (vm->init_done = 0; vm->init_done < NR_LEVELS; vm->init_done++) {
		ret = vm_levels[vm->init_done].init(vm);
		if (ret < 0) {
			/* The level cleans up after itself only partially: run its exit too. */
			if (vm_levels[vm->init_done].exit)
				vm_levels[vm->init_done].exit(vm);
			goto err;
		}
	}
	*out = vm;
	return 0;
err:
	vm_destroy(vm);
	return ret;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	while (vm->init_done > 0) {
		vm->init_done--;
		if (vm_levels[vm->init_done].exit)
			vm_levels[vm->init_done].exit(vm);
	}
	bus_destroy(&vm->mmio);
	bus_destroy(&vm->pio);
	pthread_mutex_destroy(&vm->irq_lock);
	pthread_mutex_destroy(&vm->coalesced_lock);
	free(vm->cmdline);
	free(vm);
}

void vm_destroy_detached(struct vm *vm)
{
	int p[2] = { -1, -1 }, fd;
	char c;
	pid_t pid;

	if (!vm)
		return;
	if (vm->vm_fd < 0 || pipe2(p, O_CLOEXEC) < 0) {
		vm_destroy(vm);
		return;
	}
	/* Everything goes in order first (device I/O threads stop before guest RAM is
	 * unmapped: a TAP frame arriving during teardown must not read freed rings), keeping
	 * one more reference to the VM; the kernel's teardown of the VM then happens in a
	 * child that holds the last one, and fork copies next to nothing (RAM is gone). */
	fd = fcntl(vm->vm_fd, F_DUPFD_CLOEXEC, 5);
	vm_destroy(vm);
	if (fd < 0) {
		close(p[0]);
		close(p[1]);
		return;
	}
	pid = fork();
	if (pid == 0) {
		/* Keep only the VM fd and the pipe's read end; wait until the parent has
		 * closed its references (it then closes the write end); exiting then drops the
		 * last reference to the VM and the kernel tears it down here. */
		if (dup2(fd, 3) < 0 || dup2(p[0], 4) < 0)
			_exit(1);
		close_range(0, 2, 0);
		close_range(5, ~0U, 0);
		while (read(4, &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	/* pid < 0: no child, the teardown simply happens here. */
	close(p[0]);
	close(fd);
	close(p[1]); /* the child may go now */
}

static void host_request_stop(void *vm, int code)
{
	vm_request_stop(vm, code);
}

static int host_irq_line(void *vm, uint32_t gsi, int level)
{
	return vm_irq_line(vm, gsi, level);
}

static void host_writes_soon(void *vm)
{
	vm_coalesced_kick(vm);
}

static int host_add_sync(void *opaque, void (*fn)(void *dev), void *dev)
{
	struct vm *vm = opaque;

	if (vm->nr_syncs == DEVICE_HOST_MAX_SYNCS)
		return -ENOSPC;
	vm->syncs[vm->nr_syncs++] = (struct vm_sync){ fn, dev };
	return 0;
}

void vm_host_init(struct vm *vm)
{
	vm->host = (struct device_host){ .opaque = vm, .pio = &vm->pio, .loop = vm->loop,
					 .request_stop = host_request_stop,
					 .irq_line = host_irq_line, .add_sync = host_add_sync,
					 .writes_soon = host_writes_soon, .input = vm->input };
}


void vm_sync_output(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_syncs; i++)
		vm->syncs[i].fn(vm->syncs[i].dev);
}

void vm_request_stop(struct vm *vm, int code)
{
	/* vCPUs that see this leave their loop at their next exit instead of running on
	 * until the main thread kicks them: one thread hand-off less when the VM ends. */
	__atomic_store_n(&vm->stopping, 1, __ATOMIC_RELEASE);
	evloop_stop(vm->loop, code);
}

int vm_run(struct vm *vm)
{
	unsigned i, started = 0;
	int ret = 0, code;

	for (i = 0; i < vm->nr_vcpus; i++) {
		ret = vcpu_start(vm->vcpus[i]);
		if (ret < 0) {
			vsrv_log("cannot start vCPU %u: %s", i, strerror(-ret));
			break;
		}
		started++;
	}
	if (!ret && getenv("VSRV_STATS"))
		vsrv_log("the vCPUs run"); /* bench/savestate.sh: restore to running */
	code = ret < 0 ? ret : evloop_run(vm->loop);
	if (vm->xen)
		x86_xen_stop_kicks(vm->xen); /* no vCPU kicks another that is being joined */
	for (i = 0; i < started; i++)
		vcpu_stop(vm->vcpus[i]);
	for (i = 0; i < started; i++)
		vcpu_join(vm->vcpus[i]);
	vm_coalesced_flush(vm); /* what the guest wrote last */
	if (getenv("VSRV_STATS"))
		for (i = 0; i < started; i++)
			vcpu_print_stats(vm->vcpus[i]);
	return code;
}
