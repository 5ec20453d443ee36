/* What the VM hands to each base device it creates (as virtio_host is for the virtio
 * devices): the port I/O bus and callbacks into the VM, so a device depends on this
 * interface and not on the VM (vmm/vm.h). Filled by vm_host_init; owned by the VM, valid
 * until the VM is destroyed. */
#ifndef VSRV_DEVICES_HOST_H
#define VSRV_DEVICES_HOST_H

#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/evloop.h"

struct input_router;

#define DEVICE_HOST_MAX_SYNCS 4
#define DEVICE_STOP_RESET 0x100  /* request_stop: the guest reset the machine */

struct device_host {
	void *opaque;       /* the VM: passed back to the callbacks */
	struct bus *pio;    /* where the device registers its ports */
	struct evloop *loop; /* the VM's control loop: the device's host fds and deferred work */
	/* End the VM with code: an exit status 0..255, or DEVICE_STOP_RESET. Any
	 * thread; the first request wins. */
	void (*request_stop)(void *opaque, int code);
	/* Set the level of interrupt line gsi (raise then lower for an edge). 0 or -errno.
	 * Any thread. */
	int (*irq_line)(void *opaque, uint32_t gsi, int level);
	/* Have fn(dev) called before the VM reports why it ends (a guest's crash or
	 * power-off seen by a vCPU), so that output the device still holds comes first: a
	 * console's last lines before the message. fn runs on that vCPU's thread and must not
	 * block. At creation, main thread. 0 or -ENOSPC (more than DEVICE_HOST_MAX_SYNCS). */
	int (*add_sync)(void *opaque, void (*fn)(void *dev), void *dev);
	/* More guest writes to coalesced ports are expected soon (an echo after console
	 * input): deliver them at the fast rate again. Loop thread. */
	void (*writes_soon)(void *opaque);
	/* The VM's input router (vmm/input_router.h) for input devices' sinks, or NULL (a VM
	 * built by hand without one). */
	struct input_router *input;
};

#endif
