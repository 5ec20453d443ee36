/* The virtio-mmio transport, version 2 (virtio 1.2, 4.2.2): one 4 KiB register window on
 * the MMIO bus and one interrupt line, announced to Linux on its command line as
 * "virtio_mmio.device=4K@ADDR:IRQ" (as QEMU's microvm does). */
#ifndef VSRV_DEVICES_VIRTIO_MMIO_H
#define VSRV_DEVICES_VIRTIO_MMIO_H

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/virtio.h"

#define VIRTIO_MMIO_SIZE 0x1000

/* The transport's own registers (the rest is the device core's: virtio_dev_state). */
struct virtio_mmio_regs {
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel, shm_sel;
};

/* What virtio_mmio_save keeps: the select registers. The per-queue registers (size, ring
 * addresses, ready, also of queues not enabled yet), the interrupt status and the config
 * generation belong to the device core and are saved with the device (virtio_dev_state).
 * base, gsi and device_id are where and what the guest was told: checked on restore, not
 * changed. The eventfd, irqfd and ioeventfds are rebuilt by virtio_mmio_create; an
 * interrupt already raised is in the interrupt controller's saved state (edge). */
struct virtio_mmio_state {
	struct virtio_mmio_regs regs;
	uint64_t base;
	uint32_t gsi, device_id;
};

struct virtio_mmio {
	struct virtio_dev *dev; /* not owned */
	uint64_t base;
	uint32_t gsi;
	int irq_fd;             /* eventfd, owned; an irqfd on gsi when the host has KVM */
	bool ioeventfds;        /* queue notifications are caught by KVM ioeventfds */
	struct virtio_mmio_regs st;
};

/* Put device d at [base, base + 4 KiB) on the host's MMIO bus, interrupting on gsi.
 * Returns 0 and *out (free with virtio_mmio_destroy, before the device), or -errno. */
int virtio_mmio_create(struct virtio_dev *d, uint64_t base, uint32_t gsi,
		       struct virtio_mmio **out);

/* Unregister and free. NULL is allowed. */
void virtio_mmio_destroy(struct virtio_mmio *m);

/* Write the kernel command-line word announcing m into buf (size n). Returns the length
 * snprintf would have written. */
int virtio_mmio_cmdline(const struct virtio_mmio *m, char *buf, size_t n);

/* Copy m's transport state into *st (takes the device's lock). */
void virtio_mmio_save(struct virtio_mmio *m, struct virtio_mmio_state *st);
/* Load *st into m (created at the same base and gsi for the same kind of device).
 * Returns 0, or -EINVAL with m unchanged. Restore the device first. */
int virtio_mmio_restore(struct virtio_mmio *m, const struct virtio_mmio_state *st);

#endif
