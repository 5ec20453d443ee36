/* A VM built by hand without KVM, as vm_create builds one up to the device level: its port
 * and MMIO buses, guest memory, control loop, input router and device host; for unit tests
 * of what sits on a VM (the device table through vm_devices_init, the control socket, input
 * routing). Tests create devices themselves and end them (vm_devices_exit) before
 * handvm_free. */
#ifndef VSRV_TESTS_UNIT_HANDVM_H
#define VSRV_TESTS_UNIT_HANDVM_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/evloop.h"
#include "vmm/input_router.h"
#include "vmm/mem.h"
#include "vmm/vm.h"

/* A VM of mem_size bytes of RAM on cfg (which must outlive it), or NULL. */
static inline struct vm *handvm_new(const struct vm_config *cfg, uint64_t mem_size)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm)
		return NULL;
	vm->kvm_fd = vm->vm_fd = -1;
	vm->cfg = cfg;
	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	pthread_mutex_init(&vm->irq_lock, NULL);
	vm->cmdline = strdup("");
	if (!vm->cmdline || guest_mem_create(mem_size, &vm->mem) ||
	    evloop_create(&vm->loop) || input_router_create(&vm->input)) {
		free(vm->cmdline);
		if (vm->mem)
			guest_mem_destroy(vm->mem);
		if (vm->loop)
			evloop_destroy(vm->loop);
		free(vm);
		return NULL;
	}
	vm_host_init(vm);
	return vm;
}

/* End what handvm_new made (the devices must be gone already: handvm_free_devices ends
 * them too). NULL is allowed. */
static inline void handvm_free(struct vm *vm)
{
	if (!vm)
		return;
	input_router_destroy(vm->input);
	evloop_destroy(vm->loop);
	guest_mem_destroy(vm->mem);
	bus_destroy(&vm->mmio);
	bus_destroy(&vm->pio);
	pthread_mutex_destroy(&vm->irq_lock);
	free(vm->cmdline);
	free(vm);
}

/* handvm_new and the devices of cfg (vm_devices_init), or NULL (the failure CHECKed when
 * the includer uses check.h). */
static inline struct vm *handvm_new_devices(const struct vm_config *cfg, uint64_t mem_size)
{
	struct vm *vm = handvm_new(cfg, mem_size);

	if (vm && vm_devices_init(vm)) {
		handvm_free(vm);
		return NULL;
	}
	return vm;
}

/* vm_devices_exit, then handvm_free. */
static inline void handvm_free_devices(struct vm *vm)
{
	if (vm)
		vm_devices_exit(vm);
	handvm_free(vm);
}

/* A guest's port write (len bytes of v, little-endian) and read on vm's port bus. */
static inline void handvm_out(struct vm *vm, uint16_t port, uint32_t v, uint32_t len)
{
	uint8_t d[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	bus_dispatch(&vm->pio, port, d, len, true);
}

static inline uint32_t handvm_in(struct vm *vm, uint16_t port, uint32_t len)
{
	uint8_t d[4] = { 0 };
	bus_dispatch(&vm->pio, port, d, len, false);
	return d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24;
}

#endif
