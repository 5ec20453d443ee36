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

#endif
