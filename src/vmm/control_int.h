/* The control socket's internals shared by its files (control.c, control_disk.c). */
#ifndef VSRV_VMM_CONTROL_INT_H
#define VSRV_VMM_CONTROL_INT_H

#include <jansson.h>
#include <stdbool.h>

struct vm;

/* Park every vCPU (bounded: CTL_PARK_MS each; on a timeout all run again). 0, -ESHUTDOWN
 * (the VM is ending) or -ETIMEDOUT. */
int control_vcpus_park(struct vm *vm);
void control_vcpus_unpark(struct vm *vm);

/* {"cmd":"disk-switch","disks":[{"drive":"diskN","path":NEWTOP},...]}: the reply (a new
 * reference). paused: the vCPUs are parked already (the pause command). */
json_t *control_disk_switch(struct vm *vm, json_t *msg, bool paused);

#endif
