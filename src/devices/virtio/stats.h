/* Per-device I/O counters of the virtio disks and NICs. Each counter has one writer (the
 * device's I/O thread, or for a NIC's receive side the backend's delivering thread, which
 * is serialised by the backend) that bumps it with vstat_add, and any number of readers
 * (the control loop) that take it with vstat_get: relaxed atomics, plain moves on x86,
 * no locks, no syscalls. A reader may see one counter a request ahead of another. */
#ifndef VSRV_DEVICES_VIRTIO_STATS_H
#define VSRV_DEVICES_VIRTIO_STATS_H

#include <stdint.h>

struct vdisk_stats {
	uint64_t read_ops, write_ops, flush_ops, discard_ops; /* completed requests */
	uint64_t read_bytes, write_bytes;                     /* data of successful reads/writes */
	uint64_t errors;                                      /* requests ended with an error */
};

struct vnet_stats {
	uint64_t rx_packets, rx_bytes, rx_drops; /* to the guest (frame bytes, no virtio header) */
	uint64_t tx_packets, tx_bytes, tx_drops; /* from the guest */
};

/* Single writer: *p += v, seen whole by relaxed readers. */
static inline void vstat_add(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static inline uint64_t vstat_get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Copy every counter of s into out with vstat_get (any thread). */
static inline void vdisk_stats_read(const struct vdisk_stats *s, struct vdisk_stats *out)
{
	out->read_ops = vstat_get(&s->read_ops);
	out->write_ops = vstat_get(&s->write_ops);
	out->flush_ops = vstat_get(&s->flush_ops);
	out->discard_ops = vstat_get(&s->discard_ops);
	out->read_bytes = vstat_get(&s->read_bytes);
	out->write_bytes = vstat_get(&s->write_bytes);
	out->errors = vstat_get(&s->errors);
}

static inline void vnet_stats_read(const struct vnet_stats *s, struct vnet_stats *out)
{
	out->rx_packets = vstat_get(&s->rx_packets);
	out->rx_bytes = vstat_get(&s->rx_bytes);
	out->rx_drops = vstat_get(&s->rx_drops);
	out->tx_packets = vstat_get(&s->tx_packets);
	out->tx_bytes = vstat_get(&s->tx_bytes);
	out->tx_drops = vstat_get(&s->tx_drops);
}

#endif
