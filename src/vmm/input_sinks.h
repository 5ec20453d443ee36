/* Where the input router (vmm/input.h) finds the VM's input devices. */
#ifndef VSRV_VMM_INPUT_SINKS_H
#define VSRV_VMM_INPUT_SINKS_H

#include "vmm/input.h"

struct vm;

/* The VM's input sinks, in the order the router should try them: the virtio-input devices
 * first, in device-table order (a keyboard's sink has key, a tablet's pointer_abs), then
 * the PS/2 keyboard (key) and the PS/2 mouse (pointer_rel) of the i8042. Ops a sink lacks
 * are NULL (the PS/2 mouse has no key, the keyboards no pointer). Writes up to max entries
 * to out and returns how many there are (which may be more than max). Call after
 * vm_create (the devices exist); the sinks stay valid until vm_destroy. */
unsigned vm_input_sinks(struct vm *vm, struct input_sink *out, unsigned max);

/* Hand the VM's sinks (vm_input_sinks) to its router (vm->input, vmm/input_router.h): the
 * virtio-input devices at INPUT_PRIO_VIRTIO, the PS/2 keyboard and mouse at INPUT_PRIO_PS2,
 * so the front-ends' keys and pointer reach the guest. Once per VM, after vm_create, on the
 * main thread. 0 or -ENOSPC (more sinks than the router holds: the first ones are kept). */
int vm_input_connect(struct vm *vm);

#endif
