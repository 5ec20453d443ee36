/* A VM with the firmware layout built by hand without KVM (as test_firmware.c builds one),
 * booted or built for a restore, and a guest's port and MMIO accesses to it: for the tests
 * of a firmware VM's saved state. Everything here is static to the including test. */
#ifndef VSRV_TESTS_UNIT_FWVM_H
#define VSRV_TESTS_UNIT_FWVM_H

#include "check.h"

#include <stdlib.h>
#include <string.h>

#include "arch/x86/firmware.h"
#include "devices/acpi_pm.h"
#include "devices/rtc.h"
#include "vmm/vm.h"

#define MEM (64ULL << 20)

/* A VM with the firmware layout for spec. how: 0 booted (fw_cfg made), 1 built as `vsrv run
 * --restore` builds it (no shadow copy, nothing booted), 2 as `vsrv run --incoming` does
 * (the same, and the vars file not locked). */
static inline struct vm *mk(struct vm_config *c, const char *spec, const char *name,
			    unsigned cpus, int how)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	char *copy = NULL;

	memset(c, 0, sizeof(*c));
	c->nr_cpus = cpus;
	c->mem_size = MEM;
	c->serial = VM_SERIAL_STDIO;
	c->name = name;
	if (x86_firmware_parse(spec, c, &copy))
		abort();
	c->restore = how == 1 ? "vm.state" : NULL;
	c->incoming = how == 2 ? "unix:/nonexistent" : NULL;
	vm->cfg = c;
	vm->kvm_fd = vm->vm_fd = -1;
	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	vm_host_init(vm);
	if (guest_mem_create_hole(MEM, X86_FW_LOW_END, &vm->mem) ||
	    rtc_create(&vm->host, vm->mem->low_size, vm->mem->size - vm->mem->low_size, &vm->rtc) ||
	    acpi_pm_create(&vm->host, &vm->acpi_pm))
		abort();
	CHECK_EQ(x86_firmware_init(vm), 0);
	if (!how)
		CHECK_EQ(x86_firmware_boot(vm), 0);
	return vm; /* copy leaks with the config: one string per VM */
}

static inline void rm(struct vm *vm)
{
	x86_firmware_exit(vm);
	acpi_pm_destroy(vm->acpi_pm);
	rtc_destroy(vm->rtc);
	guest_mem_destroy(vm->mem);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	free(vm);
}

static inline void out(struct vm *vm, uint16_t port, uint32_t v, uint32_t len)
{
	uint8_t d[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	bus_dispatch(&vm->pio, port, d, len, true);
}

static inline uint32_t in(struct vm *vm, uint16_t port, uint32_t len)
{
	uint8_t d[4] = { 0 };
	bus_dispatch(&vm->pio, port, d, len, false);
	return d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24;
}

static inline uint32_t mmio32(struct vm *vm, uint64_t a)
{
	uint8_t d[4] = { 0 };
	bus_dispatch(&vm->mmio, a, d, 4, false);
	return d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24;
}

static inline void mmio8(struct vm *vm, uint64_t a, uint8_t v)
{
	bus_dispatch(&vm->mmio, a, &v, 1, true);
}

#endif
