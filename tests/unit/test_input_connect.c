/* Unit tests of how a VM's input devices meet its console front-ends (vmm/input_sinks.c
 * vm_input_connect): a VM built without KVM with the i8042 and a virtio-input keyboard; a key
 * sent to the router arrives as a scancode at the i8042's data port while the virtio driver
 * is not ready, and the router holds every sink (the virtio keyboard first). */
#include "check.h"
#include "handvm.h"

#include <errno.h>
#include <linux/input-event-codes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "devices/i8042.h"
#include "vmm/evloop.h"
#include "vmm/input_router.h"
#include "vmm/input_sinks.h"
#include "vmm/mem.h"
#include "vmm/vm.h"

#define MEM (16 << 20)

static uint8_t inb(struct vm *vm, uint16_t port)
{
	uint8_t v = 0xff;

	bus_dispatch(&vm->pio, port, &v, 1, false);
	return v;
}

static void test_key_reaches_ps2(void)
{
	const char *devs[] = { "virtio-keyboard" };
	struct vm_config cfg = { .nr_cpus = 1, .mem_size = MEM, .devices = devs, .nr_devices = 1 };
	struct input_sink s[INPUT_ROUTER_MAX_SINKS];
	struct vm *vm = handvm_new(&cfg, MEM);
	uint8_t st, code = 0;

	CHECK(vm != NULL);
	if (!vm)
		return;
	CHECK_EQ(i8042_create(&vm->host, &vm->i8042), 0);
	CHECK_EQ(vm_devices_init(vm), 0);

	/* the virtio keyboard, then the PS/2 keyboard and mouse */
	CHECK_EQ(vm_input_sinks(vm, s, INPUT_ROUTER_MAX_SINKS), 3);
	CHECK_EQ(vm_input_connect(vm), 0);
	/* no virtio driver: the key goes to the PS/2 keyboard, which scans from power-on */
	CHECK_EQ(input_router_key(vm->input, KEY_A, true), 0);
	st = inb(vm, 0x64);
	CHECK(st & 0x01);                                   /* output buffer full */
	if (st & 0x01)
		code = inb(vm, 0x60);
	CHECK(code == 0x1e || code == 0x1c);                /* 'A' in set 1 or set 2 */
	CHECK_EQ(input_router_key(vm->input, KEY_A, false), 0);

	vm_devices_exit(vm);
	i8042_destroy(vm->i8042);
	handvm_free(vm);
}

int main(void)
{
	RUN(test_key_reaches_ps2);
	return check_done();
}
